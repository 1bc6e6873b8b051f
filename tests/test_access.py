"""Who may see which workspace, enforced in the services (not only the UI), the audit trail,
and the storage port underneath (SQLite in the data directory, migrated by Alembic).

Real parts: on-disk Chroma, the real SQLite side store, the real ingest pipeline; only the
embedder (HashEmbedder) and the chat model (a scripted reply) are stand-ins.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import close_client
from fakes import ScriptedChat

import rag.cli
from rag.auth import NotAMember, Principal, RoleTooLow, SignInRequired, oidc
from rag.auth.errors import AccessDenied, AuthNotConfigured
from rag.auth.guard import Access
from rag.config import Settings
from rag.errors import NotFound, RagError
from rag.storage import db
from rag.storage.side import AuditTrail, audit_csv, redact

CANARY = "zebracanary7731 quokka"  # words only workspace A's document holds
ALICE = Principal("alice@example.com")
BOB = Principal("bob@example.com")
CAROL = Principal("carol@example.com")
ROOT = Principal("root@example.com", is_admin=True)


def _chat(reply: str = "The plan is in the notes [1].") -> ScriptedChat:
    """A chat model that always says the same (citing passage 1), in one piece."""
    return ScriptedChat(reply, chunk=None)


@pytest.fixture
def multi(settings, fake_embedder):
    """Services with sign-in configured (an identity provider), on a fresh data dir."""
    from rag.services import build_services

    svc = build_services(settings, embedder=fake_embedder)
    svc._access = Access(settings, mode=oidc.OIDC)
    yield svc
    close_client(svc.client)
    db.dispose_all()


@pytest.fixture
def two(multi):
    """Workspace A (alice owns it, holds the canary) and B (bob owns it; carol views A)."""
    a = multi.workspace("Alpha", create=True, user=ALICE)
    reps = list(multi.ingestor(a).iter_ingest(_uploads(
        ("secret-plan.txt", f"Project {CANARY}. The battery swap plan ships in May."))))
    assert reps[0].ok, reps[0].message
    b = multi.workspace("Beta", create=True, user=BOB)
    reps = list(multi.ingestor(b).iter_ingest(_uploads(
        ("notes.txt", "The battery swap plan of Beta ships in June. Project notes."))))
    assert reps[0].ok, reps[0].message
    multi.access.set_member(a, CAROL.email, "viewer")
    return multi


def _uploads(*files):
    from rag.ingest.pipeline import Upload

    return [Upload(name, data=text.encode()) for name, text in files]


def _everything(obj) -> str:
    return json.dumps(obj, default=lambda o: getattr(o, "__dict__", repr(o)), ensure_ascii=False)


# -- single-user default -------------------------------------------------------------------------


def test_single_user_default_is_the_local_admin_and_asks_nothing(services):
    who = services.principal()
    assert who.local and who.is_admin and who.email.endswith("@localhost")
    assert services.access.mode == oidc.SINGLE
    ws = services.workspace("Mine", create=True)
    assert ws.role == "owner"
    assert [w["name"] for w in services.list_workspaces()] == ["Mine"]
    events = services.access.audit_events(who)
    assert [(e.action, e.user, e.target) for e in events] == [
        ("workspace.create", who.email, "Mine")]
    assert (services.settings.data_dir / db.SQLITE_NAME).is_file()


def test_reading_in_single_user_mode_never_opens_the_database(settings, fake_embedder, tmp_path):
    from rag.services import build_services

    svc = build_services(settings, embedder=fake_embedder)
    try:
        with pytest.raises(NotFound):
            svc.workspace("nothing here")
        assert svc.list_workspaces() == []
        assert not (settings.data_dir / db.SQLITE_NAME).exists()
    finally:
        close_client(svc.client)


# -- open / list ---------------------------------------------------------------------------------


def test_non_member_is_refused_with_a_clear_message(two):
    with pytest.raises(NotAMember, match="not a member of workspace 'Alpha': ask its owner"):
        two.workspace("Alpha", user=BOB)
    with pytest.raises(NotAMember):
        two.workspace("Alpha", create=True, recover=True, user=BOB)
    with pytest.raises(NotFound):
        two.workspace("Gamma", user=BOB)


def test_nobody_signed_in_is_refused_when_sign_in_is_configured(two):
    with pytest.raises(SignInRequired):
        two.workspace("Alpha")
    with pytest.raises(SignInRequired):
        two.list_workspaces()


def test_creator_owns_and_lists_show_only_ones_workspaces(two):
    assert [(w["name"], w["role"]) for w in two.list_workspaces(user=ALICE)] == [
        ("Alpha", "owner")]
    assert [(w["name"], w["role"]) for w in two.list_workspaces(user=BOB)] == [("Beta", "owner")]
    assert [(w["name"], w["role"]) for w in two.list_workspaces(user=CAROL)] == [
        ("Alpha", "viewer")]
    assert [w["name"] for w in two.list_workspaces(user=ROOT)] == ["Alpha", "Beta"]
    assert two.list_workspaces(user="nobody@example.com") == []


def test_as_user_shares_the_store_and_acts_for_that_user(two):
    bob = two.as_user(BOB.email)
    assert bob.store is two.store and bob.user == BOB
    assert [w["name"] for w in bob.list_workspaces()] == ["Beta"]
    with pytest.raises(NotAMember):
        bob.workspace("Alpha")


# -- reading: search, ask ------------------------------------------------------------------------


def test_viewer_searches_and_asks(two):
    ws = two.workspace("Alpha", user=CAROL)
    hits = two.searcher(ws).search("battery swap plan", k=3)
    assert hits and CANARY in hits[0].chunk.text
    ans = two.answerer(ws, model=_chat(), figures=False).ask("When does the plan ship?")
    two.log_answer(ws, ans, "app")
    ev = two.access.audit_events(ALICE, action="question")
    assert [(e.user, e.target) for e in ev] == [(CAROL.email, "When does the plan ship?")]


# -- writing: ingest, delete document, delete workspace ------------------------------------------


def test_viewer_cannot_ingest_through_any_path(two):
    ws = two.workspace("Alpha", user=CAROL)
    with pytest.raises(RoleTooLow, match="viewer of workspace 'Alpha'.*editor"):
        two.ingestor(ws)
    with pytest.raises(RoleTooLow):
        two.workspace("Alpha", recover=True, user=CAROL)
    with pytest.raises(RoleTooLow):
        two.as_user(CAROL).ingest_files("Alpha", [("x.txt", b"more text here")])
    from rag.types import DocumentInfo

    with pytest.raises(RoleTooLow):  # the handle itself refuses, whoever built the ingestor
        ws.begin(DocumentInfo(doc_id="x", name="x", filename="x.txt", kind="txt", units=1,
                              chunks=1, size=1, added_at=0.0))
    assert [d.name for d in two.workspace("Alpha", user=ALICE).documents()] == ["secret-plan"]


def test_editor_ingests_and_deletes_and_both_are_audited(two):
    owner_ws = two.workspace("Alpha", user=ALICE)
    two.access.set_member(owner_ws, CAROL.email, "editor")
    ws = two.workspace("Alpha", recover=True, user=CAROL)
    reps = list(two.ingestor(ws).iter_ingest(_uploads(("more.txt", "Another note on pricing."))))
    assert reps[0].ok
    doc = reps[0].doc
    ws.delete_document(doc.doc_id)
    assert doc.doc_id not in [d.doc_id for d in ws.documents()]
    ev = [(e.user, e.action, e.target) for e in two.access.audit_events(ALICE)]
    assert (CAROL.email, "document.ingest", "more.txt") in ev
    assert (CAROL.email, "document.delete", doc.doc_id) in ev


def test_viewer_cannot_delete_a_document(two):
    ws = two.workspace("Alpha", user=CAROL)
    doc = ws.documents()[0]
    with pytest.raises(RoleTooLow, match="deleting documents"):
        ws.delete_document(doc.doc_id)
    assert ws.documents()


def test_only_owners_delete_a_workspace(two):
    owner_ws = two.workspace("Alpha", user=ALICE)
    two.access.set_member(owner_ws, CAROL.email, "editor")
    with pytest.raises(RoleTooLow, match="deleting the workspace"):
        two.delete_workspace("Alpha", user=CAROL)
    with pytest.raises(NotAMember):
        two.delete_workspace("Alpha", user=BOB)
    two.delete_workspace("Alpha", user=ALICE)
    assert [w["name"] for w in two.list_workspaces(user=ROOT)] == ["Beta"]
    assert two.access.memberships.workspaces_of(CAROL.email) == {}
    actions = [e.action for e in two.access.audit_events(ROOT, action="workspace")]
    assert actions[0] == "workspace.delete"


def test_admin_sees_and_manages_everything(two):
    ws = two.workspace("Beta", recover=True, user=ROOT)
    assert ws.role == "owner"
    two.access.set_member(ws, ALICE.email, "viewer")
    assert {w["name"] for w in two.list_workspaces(user=ALICE)} == {"Alpha", "Beta"}


# -- members -------------------------------------------------------------------------------------


def test_members_add_role_remove_by_owners_only(two):
    ws = two.workspace("Alpha", user=ALICE)
    assert [(m["email"], m["role"]) for m in two.access.members(ws)] == [
        (ALICE.email, "owner"), (CAROL.email, "viewer")]
    viewer_ws = two.workspace("Alpha", user=CAROL)
    assert len(two.access.members(viewer_ws)) == 2  # members may see who else is in
    with pytest.raises(RoleTooLow, match="managing members"):
        two.access.set_member(viewer_ws, BOB.email, "viewer")
    with pytest.raises(RoleTooLow):
        two.access.remove_member(viewer_ws, ALICE.email)
    assert two.access.set_member(ws, BOB.email, "viewer") is None
    assert two.access.set_member(ws, BOB.email, "editor") == "viewer"
    two.access.remove_member(ws, BOB.email)
    with pytest.raises(NotAMember):
        two.workspace("Alpha", user=BOB)
    with pytest.raises(RagError, match="only owner"):
        two.access.set_member(ws, ALICE.email, "viewer")
    with pytest.raises(RagError, match="only owner"):
        two.access.remove_member(ws, ALICE.email)
    with pytest.raises(RagError, match="unknown role"):
        two.access.set_member(ws, BOB.email, "god")
    with pytest.raises(NotFound):
        two.access.remove_member(ws, "who@example.com")
    actions = [e.action for e in two.access.audit_events(ALICE, action="member")]
    assert actions == ["member.remove", "member.role", "member.add", "member.add"]


# -- the canary: nothing of A reaches a member of only B -----------------------------------------


def test_a_document_in_a_never_reaches_a_member_of_only_b(two):
    """Bob (only in B) asks with words A's canary document shares with B's, through every
    read path; the canary's own words never come back."""
    bob = two.as_user(BOB)
    received: list = [bob.list_workspaces()]
    ws = bob.workspace("Beta")
    received.append([d.to_dict() for d in ws.documents()])
    for q in ("battery swap plan", "Project ships in May", "secret plan"):
        received.append([h.to_dict() for h in bob.searcher(ws).search(q, k=10)])
        received.append([h.to_dict() for h in bob.searcher(ws).retrieve(q, k=10).hits])
        ans = bob.answerer(ws, model=_chat(), figures=False).ask(q)
        bob.log_answer(ws, ans, "app")
        received.append(ans.to_dict())
    received.append(list(ws.iter_chunks()))
    received.append([e.to_dict() for e in bob.access.audit_events(bob.principal())])
    received.append(bob.access.members(ws))
    received.append(bob.figure_store(ws).cells(doc_ids=ws.ready_ids()))
    for name in ("Alpha", " Alpha "):
        with pytest.raises(NotAMember):
            bob.workspace(name)
    with pytest.raises(AccessDenied):
        bob.access.audit_events(bob.principal(), workspaces=[
            two.workspace("Alpha", user=ALICE).collection_name])
    text = _everything(received)
    assert "battery swap" in text  # B's own content did arrive
    assert "zebracanary7731" not in text and "quokka" not in text
    assert "secret-plan.txt" not in text and ALICE.email not in text


# -- audit trail ---------------------------------------------------------------------------------


def test_audit_is_append_only_and_filtered_by_ownership(two):
    trail = two.access.trail
    assert isinstance(trail, AuditTrail)
    assert not [m for m in dir(trail) if any(w in m for w in ("update", "delete", "remove",
                                                                "clear", "purge"))]
    with pytest.raises(AccessDenied):
        two.access.audit_events(CAROL)  # a viewer only: no trail
    alice = {e.workspace for e in two.access.audit_events(ALICE)}
    coll_a = two.workspace("Alpha", user=ALICE).collection_name
    assert alice == {coll_a}
    everything = two.access.audit_events(ROOT)
    assert {e.action for e in everything} >= {"workspace.create", "document.ingest",
                                               "member.add"}
    assert two.access.audit_events(ROOT, user=BOB.email)
    assert all(e.user == BOB.email for e in two.access.audit_events(ROOT, user=BOB.email))
    csv_text = audit_csv(everything)
    assert csv_text.splitlines()[0] == "id,time,user,action,workspace,target,detail"
    assert len(csv_text.splitlines()) == len(everything) + 1


def test_csv_cells_cannot_be_formulas(two):
    two.audit("export.csv", two.workspace("Beta", user=BOB), target="=HYPERLINK(\"x\")")
    rows = audit_csv(two.access.audit_events(BOB, action="export")).splitlines()
    assert "'=HYPERLINK" in rows[1]


# -- secrets never on disk -----------------------------------------------------------------------


SECRET = "sk-canary-5f1e9a2b7c4d"


def test_a_planted_secret_appears_in_no_file_of_the_data_dir(tmp_path, fake_embedder,
                                                             monkeypatch, capsys, caplog):
    from rag.services import build_services

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RAG_OIDC_CLIENT_SECRET", SECRET + "-oidc")
    monkeypatch.setenv("RAG_CHROMA_TOKEN", SECRET + "-chroma")
    settings = Settings(data_dir=tmp_path / "data", llm_api_key=SECRET,
                        llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1")
    svc = build_services(settings, embedder=fake_embedder)
    try:
        ws = svc.workspace("Keys", create=True, recover=True)
        reps = list(svc.ingestor(ws).iter_ingest(_uploads(("a.txt", "Pricing rises in March."),
                                                          ("b.txt", ""))))
        assert reps[0].ok and not reps[1].ok
        ans = svc.answerer(ws, model=_chat("Prices rise [1]."), figures=False).ask(
            "what about prices?")
        svc.log_answer(ws, ans, "app")
        svc.audit("settings.change", ws, target="llm",
                  detail={"llm_api_key": SECRET, "note": f"switched to key {SECRET}",
                          "database_url": "postgresql://u:hunter2pw@db/x"})
        svc.access.set_member(ws, "eve@example.com", "viewer")
        ws.delete_document(reps[0].doc.doc_id)
        svc.as_user("eve@example.com").list_workspaces()
        rc = _run_cli(svc, monkeypatch, "audit", "--json")
        assert rc == 0
    finally:
        close_client(svc.client)
        db.dispose_all()
    out, err = capsys.readouterr()
    found = []
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file() and (SECRET.encode() in path.read_bytes()
                               or b"hunter2pw" in path.read_bytes()):
            found.append(str(path))
    assert found == []
    assert SECRET not in out and SECRET not in err and "hunter2pw" not in out
    assert SECRET not in caplog.text
    assert '"llm_api_key": "[redacted]"' in out


OIDC_ENV = {"RAG_OIDC_CLIENT_ID": "ragdesk", "RAG_OIDC_CLIENT_SECRET": SECRET + "-oidc",
            "RAG_OIDC_ISSUER": "http://127.0.0.1:9400", "RAG_OIDC_COOKIE_SECRET": SECRET + "-ck",
            "RAG_OIDC_REDIRECT_URI": "https://rag.example.com/oauth2callback"}


def test_the_launchers_secrets_file_is_the_owners_alone_and_outside_the_data_dir(
        tmp_path, monkeypatch, capsys):
    """`python -m rag.ui.launch` hands RAG_OIDC_* to Streamlit in a file only its owner can
    read, in a folder of the temp dir (never the data dir, which exports and the canary test
    above read), and removes it when the server stops. Streamlit itself is replaced here by
    a recorder (tests/browser/test_replicas_browser.py starts it for real)."""
    import os
    import stat
    import tomllib

    from streamlit.web import cli as stcli

    from rag.ui import launch

    monkeypatch.chdir(tmp_path)  # no project secrets file
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STREAMLIT_SECRETS_FILES", raising=False)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    for k, v in OIDC_ENV.items():
        monkeypatch.setenv(k, v)
    seen: dict = {}

    def streamlit(args, prog_name):
        path = Path(args[args.index("--secrets.files") + 1])
        seen.update(args=args, path=path, mode=stat.S_IMODE(path.stat().st_mode),
                    folder=stat.S_IMODE(path.parent.stat().st_mode), owner=path.stat().st_uid,
                    auth=tomllib.loads(path.read_text())["auth"])
        raise SystemExit(0)

    monkeypatch.setattr(stcli, "main", streamlit)
    assert launch.main(["--server.port", "8599"]) == 0
    path = seen["path"]
    assert seen["mode"] == 0o600 and seen["folder"] == 0o700 and seen["owner"] == os.geteuid()
    assert not path.resolve().is_relative_to((tmp_path / "data").resolve())
    assert seen["auth"] == oidc.env_auth_section(OIDC_ENV)  # what st.login reads, exactly
    files = [seen["args"][i + 1] for i, a in enumerate(seen["args"]) if a == "--secrets.files"]
    assert files == [str(path), *map(str, oidc.secrets_files())]  # a project [auth] wins
    assert seen["args"][:2] == ["run", str(launch.APP)] and seen["args"][-2:] == [
        "--server.port", "8599"]
    assert not path.exists() and not path.parent.exists()  # removed when the server stopped
    out, err = capsys.readouterr()
    assert SECRET not in out + err and str(path) not in out + err


def test_the_launcher_without_sign_in_is_plain_streamlit_run(tmp_path, monkeypatch):
    import tempfile

    from rag.ui import launch

    monkeypatch.chdir(tmp_path)
    for k in OIDC_ENV:
        monkeypatch.delenv(k, raising=False)
    before = set(Path(tempfile.gettempdir()).glob("ragdesk-auth-*"))
    assert launch.write_auth_secrets() is None
    assert launch.streamlit_argv(["--server.headless", "true"], None) == [
        "run", str(launch.APP), "--server.headless", "true"]
    assert set(Path(tempfile.gettempdir()).glob("ragdesk-auth-*")) == before
    # An incomplete provider refuses to start, naming what is missing and no secret.
    monkeypatch.setenv("RAG_OIDC_CLIENT_ID", "ragdesk")
    monkeypatch.setenv("RAG_OIDC_CLIENT_SECRET", SECRET)
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "rag.ui.launch"], capture_output=True,
                         text=True, timeout=60, check=False,
                         cwd=Path(launch.__file__).resolve().parents[2])
    assert out.returncode == 2 and "RAG_OIDC_COOKIE_SECRET" in out.stderr, out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_redaction_of_keys_urls_and_known_values():
    got = redact({"api_key": "abc", "nested": [{"token": "t0k"}], "url":
                  "postgresql://me:pw123@h/db", "text": "key XYZW9 here", "n": 3},
                 secrets=["XYZW9"])
    assert got == {"api_key": "[redacted]", "nested": [{"token": "[redacted]"}],
                   "url": "postgresql://me:[redacted]@h/db", "text": "key [redacted] here",
                   "n": 3}


# -- the storage port: SQLite by default, Alembic migrations -------------------------------------


def test_head_revision_matches_the_migrations():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.HERE / "alembic"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == db.HEAD_REVISION


def test_an_existing_data_dir_upgrades_in_place(services, tmp_path):
    """A data dir of an older release (workspaces, no side database) gains it on first use;
    reopening does not migrate again, and the schema equals the code's tables."""
    from sqlalchemy import inspect

    services.store.workspace("Old one", create=True)  # made before memberships existed
    assert not (services.settings.data_dir / db.SQLITE_NAME).exists()
    assert [w["name"] for w in services.list_workspaces()] == ["Old one"]  # admin: all
    services.workspace("New one", create=True)
    engine = db.engine_for(services.settings)
    assert db.current_revision(engine) == db.HEAD_REVISION
    names = set(inspect(engine).get_table_names())
    assert {"memberships", "audit", "alembic_version"} <= names
    db.dispose_all()
    db.migrate(db.engine_for(services.settings))  # idempotent
    db.dispose_all()


def test_database_url_default_and_postgres_driver(tmp_path):
    s = Settings(data_dir=tmp_path)
    assert db.database_url(s) == f"sqlite:///{tmp_path / 'ragdesk.sqlite3'}"
    s = Settings(data_dir=tmp_path, database_url="postgresql://u:secretpw@h:5432/rag")
    assert db.database_url(s).startswith("postgresql+psycopg://")
    assert "secretpw" not in db.describe_url(db.database_url(s))


def test_an_unreachable_database_is_a_clear_error_without_its_password(tmp_path):
    s = Settings(data_dir=tmp_path, database_url="postgresql://u:pw-canary-77@127.0.0.1:9/x")
    with pytest.raises(db.DatabaseError) as err:
        db.engine_for(s)
    assert "pw-canary-77" not in str(err.value) and "RAG_DATABASE_URL" in str(err.value)


# -- identity provider configuration -------------------------------------------------------------


def test_no_provider_is_single_user_and_required_refuses(tmp_path):
    assert oidc.auth_mode(Settings(), environ={}, paths=[]) == oidc.SINGLE
    with pytest.raises(AuthNotConfigured, match="RAG_AUTH=required"):
        oidc.auth_mode(Settings(auth="required"), environ={}, paths=[])


def test_oidc_env_variables_become_streamlits_auth_section():
    env = {"RAG_OIDC_CLIENT_ID": "ragdesk", "RAG_OIDC_CLIENT_SECRET": "s3",
           "RAG_OIDC_ISSUER": "http://127.0.0.1:9400/", "RAG_OIDC_COOKIE_SECRET": "c00kie"}
    section = oidc.env_auth_section(env)
    assert section["server_metadata_url"] == (
        "http://127.0.0.1:9400/.well-known/openid-configuration")
    assert section["redirect_uri"] == "http://localhost:8501/oauth2callback"
    assert oidc.auth_mode(Settings(auth="required"), environ=env, paths=[]) == oidc.OIDC
    with pytest.raises(AuthNotConfigured, match="RAG_OIDC_COOKIE_SECRET"):
        oidc.env_auth_section({k: v for k, v in env.items() if k != "RAG_OIDC_COOKIE_SECRET"})


def test_secrets_toml_auth_section_is_a_provider(tmp_path):
    f = tmp_path / "secrets.toml"
    f.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n'
                 'cookie_secret = "x"\nclient_id = "id"\nclient_secret = "s"\n'
                 'server_metadata_url = "http://127.0.0.1:1/.well-known/openid-configuration"\n')
    assert oidc.auth_mode(Settings(), environ={}, paths=[f]) == oidc.OIDC
    f.write_text("[other]\nx = 1\n")
    assert oidc.auth_mode(Settings(), environ={}, paths=[f]) == oidc.SINGLE


def test_admin_list_from_settings():
    from rag.auth import principal_for

    s = Settings(admins="Root@Example.com, ops@example.com")
    assert principal_for("root@example.com", s).is_admin
    assert principal_for("OPS@example.com", s).is_admin
    assert not principal_for("alice@example.com", s).is_admin


# -- the CLI -------------------------------------------------------------------------------------


def _run_cli(svc, monkeypatch, *args) -> int:
    monkeypatch.setattr(rag.cli, "_services", lambda: rag.cli._acting(svc))
    return rag.cli.main(list(args))


def test_cli_user_members_and_audit(two, monkeypatch, capsys):
    assert _run_cli(two, monkeypatch, "workspaces") == 2
    assert "--user EMAIL" in capsys.readouterr().err
    assert _run_cli(two, monkeypatch, "--user", BOB.email, "workspaces", "--json") == 0
    assert [w["name"] for w in json.loads(capsys.readouterr().out)] == ["Beta"]
    assert _run_cli(two, monkeypatch, "--user", BOB.email, "docs", "-w", "Alpha") == 2
    assert "not a member of workspace 'Alpha'" in capsys.readouterr().err
    assert _run_cli(two, monkeypatch, "--user", BOB.email, "search", CANARY, "-w", "Beta",
                    "--json") == 0
    assert "quokka" not in capsys.readouterr().out
    assert _run_cli(two, monkeypatch, "--user", ALICE.email, "members", "add", BOB.email,
                    "editor", "-w", "Alpha") == 0
    capsys.readouterr()
    assert _run_cli(two, monkeypatch, "--user", ALICE.email, "members", "role", BOB.email,
                    "viewer", "-w", "Alpha") == 0
    capsys.readouterr()
    assert _run_cli(two, monkeypatch, "--user", ALICE.email, "members", "list", "-w", "Alpha",
                    "--json") == 0
    assert {m["email"]: m["role"] for m in json.loads(capsys.readouterr().out)} == {
        ALICE.email: "owner", BOB.email: "viewer", CAROL.email: "viewer"}
    assert _run_cli(two, monkeypatch, "--user", BOB.email, "members", "remove", CAROL.email,
                    "-w", "Alpha") == 2
    assert "managing members needs the owner role" in capsys.readouterr().err
    assert _run_cli(two, monkeypatch, "--user", ALICE.email, "members", "remove", BOB.email,
                    "-w", "Alpha") == 0
    capsys.readouterr()
    assert _run_cli(two, monkeypatch, "--user", ALICE.email, "audit", "--json") == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in events[:3]] == ["member.remove", "member.role", "member.add"]
    assert {e["workspace"] for e in events} == {
        two.workspace("Alpha", user=ALICE).collection_name}
    assert _run_cli(two, monkeypatch, "--user", CAROL.email, "audit", "--json") == 2
    assert "owners and admins" in capsys.readouterr().err
    assert _run_cli(two, monkeypatch, "--user", BOB.email, "delete", "x", "-w", "Alpha") == 2
    capsys.readouterr()


def test_cli_without_auth_is_the_local_admin(services, monkeypatch, capsys):
    assert _run_cli(services, monkeypatch, "workspaces", "--create", "Mine", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["role"] == "owner"
    assert _run_cli(services, monkeypatch, "members", "list", "-w", "Mine") == 0
    assert "@localhost" in capsys.readouterr().out
    assert _run_cli(services, monkeypatch, "audit", "--csv") == 0
    assert "workspace.create" in capsys.readouterr().out
    assert _run_cli(services, monkeypatch, "workspaces", "--delete", "Mine", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_data_dir_files_are_the_expected_ones(services):
    services.workspace("W", create=True)
    assert (Path(services.settings.data_dir) / "ragdesk.sqlite3").is_file()
