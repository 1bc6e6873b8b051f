"""Hardening, storage and exposure side: workspace names, a full or read-only data dir,
endpoints only an admin may change, and the keyword index kept on disk.

Fast: the hashing embedder and on-disk Chroma in tmp_path. The real full/read-only filesystem
tests mount a small tmpfs (they skip, saying why, where mounting is not permitted).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import subprocess
import unicodedata
from pathlib import Path

import pytest
from conftest import close_client

import rag.cli
import rag.index.store as store_mod
from rag.config import Settings
from rag.errors import NotFound, WorkspaceError
from rag.index.disk import StorageUnavailable, disk_error
from rag.index.store import collection_name_for, legacy_collection_name
from rag.services import build_services

# Two names an earlier release gave one id (same 40-character slug, same 32-bit SHA-1 prefix).
TWIN_A = "Quarterly board minutes and financial reports archive 10949"
TWIN_B = "Quarterly board minutes and financial reports archive 54290"
CAFE_NFC = unicodedata.normalize("NFC", "Café")
CAFE_NFD = unicodedata.normalize("NFD", "Café")


def _add(svc, ws_name: str, filename: str, text: str):
    [rep] = svc.ingest_files(ws_name, [(filename, text.encode())])
    assert rep.ok, rep.message
    return rep.doc


def _legacy_workspace(svc, raw_name: str):
    """A workspace as an earlier release created it: the old id, the name as typed."""
    import time

    svc.client.get_or_create_collection(
        legacy_collection_name(raw_name), embedding_function=None,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={"kind": store_mod.WORKSPACE_TAG, "display_name": raw_name,
                  "embed_model": svc.embedder.name, "embed_dim": svc.embedder.dim,
                  "created_at": time.time()})


# ---------------------------------------------------------------------------------------------
# 1. workspace names


def test_two_names_sharing_the_old_id_are_two_workspaces(services):
    assert legacy_collection_name(TWIN_A) == legacy_collection_name(TWIN_B)  # the old bug
    _add(services, TWIN_A, "a.txt", "Alpha's confidential plan: zebracanary ships in May.")
    b = services.workspace(TWIN_B, create=True)
    a = services.workspace(TWIN_A)
    assert a.collection_name != b.collection_name
    assert b.documents() == [] and [d.name for d in a.documents()] == ["a"]
    assert services.searcher(b).search("zebracanary plan") == []
    assert sorted(w["name"] for w in services.list_workspaces()) == [TWIN_A, TWIN_B]


def test_a_new_id_taken_by_another_name_is_never_shared(services, monkeypatch):
    # Force every name onto one digest: the store must still keep names apart.
    monkeypatch.setattr(store_mod, "collection_name_for",
                        lambda n, attempt=0: "rd-same-0000" + (f"-{attempt}" if attempt else ""))
    one = services.workspace("Sales", create=True)
    two = services.workspace("Marketing", create=True)
    assert (one.collection_name, two.collection_name) == ("rd-same-0000", "rd-same-0000-1")
    assert services.workspace("Marketing").collection_name == "rd-same-0000-1"
    assert services.workspace("Sales").name == "Sales"


def test_nfc_and_nfd_names_are_one_workspace(services):
    assert CAFE_NFC != CAFE_NFD
    _add(services, CAFE_NFC, "menu.txt", "The espresso costs three euros.")
    ws = services.workspace(CAFE_NFD)  # typed decomposed: the same workspace
    assert [d.name for d in ws.documents()] == ["menu"]
    assert ws.name == CAFE_NFC
    services.workspace("  " + CAFE_NFD + " ", create=True)
    assert [w["name"] for w in services.list_workspaces()] == [CAFE_NFC]


@pytest.mark.parametrize("bad, what", [
    ("invoices\u202egpj.exe", "text-direction control (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ("a\u2066b", "text-direction control (U+2066"),
    ("bell\x07", "control character (U+0007"),
    ("two\nlines", "control character (U+000A"),
    ("zero\u200bwidth", "invisible or unassigned character (U+200B ZERO WIDTH SPACE)"),
])
def test_control_and_bidi_characters_are_refused(services, bad, what):
    with pytest.raises(WorkspaceError, match="cannot contain") as info:
        services.workspace(bad, create=True)
    assert what in str(info.value) and "type the name again without it" in str(info.value)
    assert services.list_workspaces() == []


def test_new_ids_are_valid_chroma_names_with_80_bit_digests():
    import re

    valid = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")
    for name in ["x" * 100, "日本語", "a", "-x-", CAFE_NFD]:
        for attempt in (0, 7):
            coll = collection_name_for(name, attempt)
            assert valid.match(coll) and valid.match(coll + "--docs"), coll
    assert collection_name_for(CAFE_NFD) == collection_name_for(CAFE_NFC)
    assert len(collection_name_for("Sales").rsplit("-", 1)[1]) == 20


def test_workspaces_of_earlier_releases_open_with_all_their_documents(settings, fake_embedder):
    svc = build_services(settings, embedder=fake_embedder)
    for raw in ("Board minutes", CAFE_NFD, TWIN_A):
        _legacy_workspace(svc, raw)
        _add(svc, raw, "notes.txt", f"Notes of {raw}: the budget was approved.")
    close_client(svc.client)

    svc = build_services(settings, embedder=fake_embedder)  # a later process, the new code
    for raw, typed in (("Board minutes", "Board minutes"), (CAFE_NFD, CAFE_NFD),
                       (CAFE_NFD, CAFE_NFC), (TWIN_A, TWIN_A)):
        ws = svc.workspace(typed)
        assert ws.collection_name == legacy_collection_name(raw), typed
        assert [d.name for d in ws.documents()] == ["notes"]
        assert svc.searcher(ws).search("budget approved")
    # Its twin (which an earlier release would have opened as the same) is another workspace.
    with pytest.raises(NotFound):
        svc.workspace(TWIN_B)
    assert svc.workspace(TWIN_B, create=True).collection_name != legacy_collection_name(TWIN_A)
    # Adding to and deleting an old workspace works in place.
    _add(svc, CAFE_NFC, "more.txt", "More notes.")
    assert len(svc.workspace(CAFE_NFD).documents()) == 2
    svc.delete_workspace(CAFE_NFC)
    assert CAFE_NFD not in [w["name"] for w in svc.list_workspaces()]
    close_client(svc.client)


def test_members_of_an_old_workspace_keep_their_role(settings, fake_embedder):
    from rag.auth import NotAMember, Principal, oidc
    from rag.auth.guard import Access
    from rag.storage import db

    svc = build_services(settings, embedder=fake_embedder)
    svc._access = Access(settings, mode=oidc.OIDC)
    alice, bob = Principal("alice@example.com"), Principal("bob@example.com")
    _legacy_workspace(svc, "Board minutes")
    svc.access.memberships.set(legacy_collection_name("Board minutes"), alice.email, "owner",
                               by="migration")
    assert svc.workspace("Board minutes", user=alice).role == "owner"
    with pytest.raises(NotAMember):
        svc.workspace("Board minutes", user=bob)
    close_client(svc.client)
    db.dispose_all()


# ---------------------------------------------------------------------------------------------
# 2. a full disk, a read-only data dir


@pytest.mark.parametrize("exc, reason", [
    (OSError(errno.ENOSPC, "No space left on device"), "full"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    (PermissionError(errno.EACCES, "Permission denied"), "denied"),
    (sqlite3.OperationalError("database or disk is full"), "full"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (sqlite3.OperationalError("disk I/O error"), "io"),
    (RuntimeError("error returned from database: (code: 8) attempt to write a readonly "
                  "database"), "read-only"),
    (RuntimeError("error returned from database: (code: 13) database or disk is full"), "full"),
])
def test_storage_failures_are_named(exc, reason):
    err = disk_error(exc, "/srv/ragdesk")
    assert isinstance(err, StorageUnavailable) and err.reason == reason
    said = {"full": "the disk is full at /srv/ragdesk", "read-only": "/srv/ragdesk is read-only",
            "denied": "/srv/ragdesk cannot be written", "io": "I/O error"}[reason]
    assert said in str(err)
    wrapped = RuntimeError("compaction failed")
    wrapped.__cause__ = exc
    assert disk_error(wrapped, "/srv/ragdesk").reason == reason
    assert disk_error(ValueError("bad argument"), "/srv/ragdesk") is None


def _fail_to_open(monkeypatch, path: Path, message: str):
    """Chroma failing to open `path` as it does on a read-only or full disk (copies open)."""
    import chromadb
    from chromadb.errors import InternalError

    real = chromadb.PersistentClient

    def client(path_arg=None, *a, **kw):
        if Path(kw.get("path", path_arg)) == path:
            raise InternalError(message)
        return real(*a, path=kw.pop("path", path_arg), **kw)

    monkeypatch.setattr(chromadb, "PersistentClient", client)


def _cli_on(svc, monkeypatch, capsys):
    monkeypatch.setattr(rag.cli, "_services", lambda: rag.cli._acting(svc))

    def run(*args: str):
        rc = rag.cli.main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def test_a_data_dir_chroma_cannot_open_still_reads_and_refuses_writes(
        settings, fake_embedder, monkeypatch, capsys, tmp_path):
    svc = build_services(settings, embedder=fake_embedder)
    doc = _add(svc, "default", "notes.txt", "The battery swap plan ships in May.")
    close_client(svc.client)
    _fail_to_open(monkeypatch, settings.workspaces_dir,
                  "error returned from database: (code: 8) attempt to write a readonly database")
    ro = build_services(settings, embedder=fake_embedder)
    assert ro.store.read_only is not None
    cli = _cli_on(ro, monkeypatch, capsys)
    rc, out, err = cli("docs")
    assert rc == 0 and doc.doc_id in out
    assert f"note: {settings.data_dir} is read-only" in err
    rc, out, err = cli("search", "battery swap")
    assert rc == 0 and "battery swap plan" in out
    new = tmp_path / "new.txt"
    new.write_text("Another note.")
    for args in (("ingest", str(new)), ("delete", doc.doc_id), ("workspaces", "--create", "x")):
        rc, out, err = cli(*args)
        assert rc == 2, args
        assert f"error: {settings.data_dir} is read-only" in err and "Traceback" not in err
    close_client(ro.client)
    # Nothing changed in the real data dir.
    monkeypatch.undo()
    again = build_services(settings, embedder=fake_embedder)
    assert [d.doc_id for d in again.workspace("default").documents()] == [doc.doc_id]
    close_client(again.client)


def test_a_full_disk_chroma_cannot_open_is_one_line(settings, fake_embedder, monkeypatch,
                                                     capsys):
    svc = build_services(settings, embedder=fake_embedder)
    _add(svc, "default", "notes.txt", "The battery swap plan ships in May.")
    close_client(svc.client)
    _fail_to_open(monkeypatch, settings.workspaces_dir,
                  "error returned from database: (code: 13) database or disk is full")
    monkeypatch.setattr(store_mod, "_snapshot", lambda path, err: (_ for _ in ()).throw(err))
    monkeypatch.setattr(rag.cli, "_services",
                        lambda: rag.cli._acting(build_services(settings, embedder=fake_embedder)))
    for args in (("docs",), ("search", "battery"), ("workspaces",)):
        rc = rag.cli.main(list(args))
        out, err = capsys.readouterr()
        assert rc == 2 and out == ""
        assert err.strip() == (f"error: the disk is full at {settings.data_dir}: free some space "
                               "(or move RAG_DATA_DIR to a larger disk) and try again; nothing "
                               "was changed")


def test_a_store_write_that_fails_on_a_full_disk_says_so(services, monkeypatch):
    from chromadb.errors import InternalError

    ws = services.workspace("default", create=True)
    monkeypatch.setattr(type(ws._chunks), "upsert", lambda *a, **k: (_ for _ in ()).throw(
        InternalError("Error in compaction: Failed to apply logs to the metadata segment")))
    monkeypatch.setattr("rag.index.disk.probe", lambda path: "full")
    reps = services.ingest_files("default", [("notes.txt", b"Some notes.")])
    assert not reps[0].ok and "the disk is full at" in reps[0].message
    assert services.workspace("default").documents() == []


# -- the same on a real small filesystem (a tmpfs; needs permission to mount) -------------------


@pytest.fixture
def tiny_fs(tmp_path):
    """A 4 MB tmpfs, and a read-only view of it (a read-only bind mount)."""
    mnt, view = tmp_path / "mnt", tmp_path / "readonly"
    mnt.mkdir()
    view.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the real full/read-only filesystem test needs one")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       check=False, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): the "
                    "injected-error tests above cover the messages")
    try:
        subprocess.run(["mount", "--bind", str(mnt), str(view)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield mnt, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False, capture_output=True)
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def test_a_real_read_only_and_full_filesystem(tiny_fs, fake_embedder, monkeypatch, capsys,
                                              tmp_path):
    mnt, view = tiny_fs
    settings = Settings(data_dir=mnt / "data")
    svc = build_services(settings, embedder=fake_embedder)
    doc = _add(svc, "default", "notes.txt", "The battery swap plan ships in May.")
    close_client(svc.client)
    new = tmp_path / "new.txt"
    new.write_text("Another note about the battery. " * 2000)

    ro = build_services(Settings(data_dir=view / "data"), embedder=fake_embedder)
    cli = _cli_on(ro, monkeypatch, capsys)
    rc, out, err = cli("docs")
    assert rc == 0 and doc.doc_id in out and f"{view / 'data'} is read-only" in err
    rc, out, _ = cli("search", "battery swap")
    assert rc == 0 and "battery swap plan" in out
    rc, out, err = cli("ingest", str(new))
    assert rc == 2 and f"error: {view / 'data'} is read-only" in err
    close_client(ro.client)

    with open(mnt / "filler", "wb") as f:  # leave about 100 KB
        f.write(b"\0" * max(0, shutil.disk_usage(mnt).free - 100 * 1024))
    full = build_services(settings, embedder=fake_embedder)
    cli = _cli_on(full, monkeypatch, capsys)
    rc, out, _ = cli("docs")
    assert rc == 0 and doc.doc_id in out
    rc, out, err = cli("search", "battery swap")
    assert rc == 0 and "battery swap plan" in out
    rc, out, err = cli("ingest", str(new))
    assert rc != 0 and "Traceback" not in err, (out, err)
    assert f"the disk is full at {settings.data_dir}" in out + err, (out, err)
    close_client(full.client)


# ---------------------------------------------------------------------------------------------
# 4. the keyword index is kept on disk


def _rebuilds(monkeypatch) -> list[int]:
    """Count LexicalIndex builds from chunks (loading a saved one does not build)."""
    from rag import retrieve

    calls: list[int] = []
    real = retrieve.LexicalIndex.__init__

    def counting(self, chunks):
        calls.append(len(chunks))
        real(self, chunks)

    monkeypatch.setattr(retrieve.LexicalIndex, "__init__", counting)
    return calls


def _fresh_process() -> None:
    """What a new process starts with: no index in memory."""
    from rag import retrieve

    retrieve.flush_lexical_saves()  # the saved file is written in the background
    retrieve._LEX_CACHE.clear()


def _results(svc, query: str, mode: str = "hybrid"):
    ws = svc.workspace("default")
    hits = svc.searcher(ws).retrieve(query, k=8, mode=mode).hits
    return [(h.chunk, round(h.score, 6), {k: round(v, 6) for k, v in h.scores.items()})
            for h in hits]


PAGES = [
    ("minutes.txt", ("The board approved the robotics budget of 4.2 million for FY2024. "
                    "Revenue grew 12 percent. The battery swap plan ships in May.")),
    ("notes.md", ("# Plan\n\nThe battery supplier changed. Capital expenditures rose.\n\n"
                 "# Risks\n\nLitigation about the robotics patent continues.")),
    ("feedback.csv", ("id,comment\n1,The battery lasts long\n2,Robotics arm is noisy\n"
                     "3,Support answered quickly\n")),
]


def test_a_new_process_loads_the_keyword_index_instead_of_rebuilding(
        settings, fake_embedder, monkeypatch):
    from rag.ingest.loaders import LoadOptions

    svc = build_services(settings, embedder=fake_embedder)
    ws = svc.workspace("default", create=True)
    ing = svc.ingestor(ws)
    for name, text in PAGES:
        opts = LoadOptions(text_column="comment") if name.endswith(".csv") else None
        assert ing.ingest_bytes(text.encode(), name, opts).ok
    _fresh_process()
    built = _rebuilds(monkeypatch)
    queries = ["robotics budget FY2024", "battery", "capex litigation", "support"]
    first = {(q, m): _results(svc, q, m) for q in queries for m in ("hybrid", "lexical")}
    assert built == [ws.count_chunks()]  # built once, and saved
    _fresh_process()
    assert (settings.data_dir / "lexical" / f"{ws.collection_name}.npz").exists()
    close_client(svc.client)

    _fresh_process()
    again = build_services(settings, embedder=fake_embedder)
    second = {(q, m): _results(again, q, m) for q in queries for m in ("hybrid", "lexical")}
    assert len(built) == 1  # loaded, not rebuilt
    assert second == first and all(first.values())
    # The same as an index built from the chunks (memory only).
    _fresh_process()
    plain = again.searcher(again.workspace("default"))
    plain.lexical_dir = None
    ref = [(h.chunk, round(h.score, 6)) for h in plain.retrieve("battery", k=8).hits]
    assert ref == [(c, s) for c, s, _ in first[("battery", "hybrid")]]
    close_client(again.client)


def test_adding_or_deleting_a_document_updates_the_saved_index(settings, fake_embedder,
                                                              monkeypatch):
    from rag.retrieve import LEXICAL_STATS

    svc = build_services(settings, embedder=fake_embedder)
    a = _add(svc, "default", "a.txt", "The battery swap plan ships in May.")
    built = _rebuilds(monkeypatch)
    assert [c.doc_id for c, *_ in _results(svc, "battery")] == [a.doc_id]
    b = _add(svc, "default", "b.txt", "A second battery note from the supplier.")
    _fresh_process()
    updates = LEXICAL_STATS["updates"]
    assert {c.doc_id for c, *_ in _results(svc, "battery")} == {a.doc_id, b.doc_id}
    # The saved index lacked b: loaded and updated with b's chunks only, never rebuilt.
    assert len(built) == 1 and LEXICAL_STATS["updates"] == updates + 1
    svc.workspace("default", recover=True).delete_document(a.doc_id)
    _fresh_process()
    other = build_services(settings, embedder=fake_embedder)  # another process deleted it
    assert [c.doc_id for c, *_ in _results(other, "battery")] == [b.doc_id]
    assert len(built) == 1 and LEXICAL_STATS["updates"] == updates + 2
    _fresh_process()
    assert [c.doc_id for c, *_ in _results(other, "battery")] == [b.doc_id]
    assert len(built) == 1 and LEXICAL_STATS["updates"] == updates + 2  # loaded as saved
    other.delete_workspace("default")
    assert not list((settings.data_dir / "lexical").glob("*.npz"))
    close_client(svc.client)
    close_client(other.client)


def test_a_damaged_or_foreign_index_file_is_rebuilt(services, monkeypatch):
    from rag.retrieve import lexical_path

    _add(services, "default", "a.txt", "The battery swap plan ships in May.")
    ws = services.workspace("default")
    path = lexical_path(services.lexical_dir, ws.collection_name)
    for junk in (b"not a zip", b"PK\x03\x04garbage"):
        _fresh_process()  # no save of the last search still under way
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(junk)
        _fresh_process()
        built = _rebuilds(monkeypatch)
        assert _results(services, "battery")
        assert len(built) == 1
        monkeypatch.undo()


# ---------------------------------------------------------------------------------------------
# 3. endpoints: http(s) only, no link-local or metadata address, only admins change them

METADATA_URLS = ["http://169.254.169.254/latest/meta-data/", "http://169.254.170.2/v1",
                 "http://[fd00:ec2::254]/v1", "http://[::ffff:169.254.169.254]/v1",
                 "http://[fe80::1]:8000/v1", "http://2852039166/v1"]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_link_local_and_metadata_endpoints_are_refused(url, monkeypatch):
    from rag.llm.providers import ModelConfig, ProviderError, make_chat_model

    monkeypatch.delenv("RAG_LLM_ALLOW_HOSTS", raising=False)
    for provider in ("openai", "ollama"):
        with pytest.raises(ProviderError, match="link-local or cloud-metadata"):
            make_chat_model(ModelConfig(provider, model="m", base_url=url), Settings())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
                                 "ftp://example.com/v1", "http:///v1"])
def test_only_http_and_https_endpoints(url):
    from rag.llm.providers import ModelConfig, ProviderError, make_chat_model

    with pytest.raises(ProviderError, match="http:// or https://|names no host"):
        make_chat_model(ModelConfig("openai", model="m", base_url=url), Settings())


def test_allowed_hosts_and_the_operators_endpoint_pass(monkeypatch):
    from rag.llm.providers import ModelConfig, check_endpoint, endpoint_origin, make_chat_model

    for url in ("https://localhost/v1", "http://127.0.0.1:8000/v1", "http://[::1]:8080"):
        assert check_endpoint(url) == url
    meta = "http://169.254.169.254/v1"
    operator = Settings(llm_base_url=meta)  # the operator's own choice is trusted
    assert make_chat_model(ModelConfig("openai", model="m", base_url=meta), operator)
    monkeypatch.setenv("RAG_LLM_ALLOW_HOSTS", "169.254.169.254, other")
    assert make_chat_model(ModelConfig("openai", model="m", base_url=meta), Settings())
    assert endpoint_origin("https://host/v1") == "https://host:443"
    assert endpoint_origin("http://[fd00::1]:81/x") == "http://[fd00::1]:81"


def _settings_page():
    from rag.ui.pages import settings

    settings.render()


@pytest.fixture
def settings_app(tmp_path, monkeypatch):
    from apptools import app_environment

    class Quiet:
        name = "quiet"

        def stream(self, messages, max_tokens=512, temperature=0.0):
            yield "OK"

    yield from app_environment(tmp_path, monkeypatch, {"quiet": lambda cfg, s: Quiet()})


def _page_text(at) -> str:
    from apptools import walk

    out = []
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        for name in ("body", "label"):
            if proto is not None and isinstance(getattr(proto, name, None), str):
                out.append(getattr(proto, name))
    return "\n".join(out)


def _choose_openai(at):
    at.radio(key="settings_primary_provider").set_value("openai").run()
    return at


def test_a_visitor_cannot_point_the_server_at_another_host(settings_app, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from rag.auth import Principal
    from rag.llm.providers import ModelConfig
    from rag.services import Services

    sent: list[str] = []
    monkeypatch.setattr("rag.ui.pages.settings.test_connection",
                        lambda svc, cfg: (sent.append(cfg.base_url), (True, "ok"))[1])
    monkeypatch.setattr(Services, "principal",
                        lambda self, user=None: Principal("visitor@example.com"))
    at = _choose_openai(AppTest.from_function(_settings_page, default_timeout=60).run())
    assert not at.exception, [e.value for e in at.exception]
    box = at.text_input(key="settings_primary_openai_base_url")
    assert box.disabled
    # A forged widget value (a browser cannot edit a disabled box; a crafted client might).
    at.session_state["settings_primary_openai_base_url"] = "http://169.254.169.254/latest/"
    at.run()
    at.text_input(key="settings_primary_openai_model").set_value("gpt-x").run()
    at.button(key="settings_primary_test").click().run()
    cfg = at.session_state["settings_model_primary"]
    assert isinstance(cfg, ModelConfig) and cfg.base_url == ""  # the operator's (none: OpenAI)
    assert sent == [""]
    text = _page_text(at)
    assert "Endpoints are set by an admin" in text
    assert "Requests go to https://api.openai.com:443" in text.replace("\\", "")


def test_the_admin_changes_endpoints_and_sees_where_requests_go(settings_app):
    from streamlit.testing.v1 import AppTest

    at = _choose_openai(AppTest.from_function(_settings_page, default_timeout=60).run())
    box = at.text_input(key="settings_primary_openai_base_url")
    assert not box.disabled  # single-user mode: the local user is the admin
    box.set_value("http://169.254.169.254/latest/").run()
    at.text_input(key="settings_primary_openai_model").set_value("gpt-x").run()
    at.button(key="settings_primary_test").click().run()
    text = _page_text(at).replace("\\", "")
    assert "Requests go to http://169.254.169.254:80" in text
    assert "is a link-local or cloud-metadata address (169.254.169.254): requests there are " \
           "refused" in text
    at.text_input(key="settings_primary_openai_base_url").set_value("http://gpu-box:8000/v1").run()
    assert "Requests go to http://gpu-box:8000" in _page_text(at).replace("\\", "")
