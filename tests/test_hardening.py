"""Hardening: hostile inputs that used to lose data or go silently wrong.

Each test builds its input here, small and fast (fake embedder, on-disk Chroma in tmp_path).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT
from fakes import HashEmbedder

import rag.cli
import rag.index.store as store_mod
from rag.errors import FileTooLarge, ModelMismatch
from rag.index.store import _HOST, Store, process_start
from rag.ingest.loaders import LoadOptions, check_size
from rag.ingest.pipeline import Ingestor, Upload
from rag.ingest.text import decode_text
from rag.services import Services
from rag.types import Chunk, DocumentInfo

# ---------------------------------------------------------------------------------------------
# 3. Western legacy text is read as cp1252


@pytest.mark.parametrize("text", [
    "naïve São déjà\nCafé €3\n", "naïve São déjà. Café €3", "Price: Café €3 per cup",
    "comment\nCafé €3\n", "Café €3.50", "São", "naïve São déjà", "Café €3",
    "Le café coûte €3", "L’été – c’était “génial”", "ÉTÉ À PARIS"])
def test_cp1252_text_is_decoded_as_cp1252(text):
    assert decode_text(text.encode("cp1252")) == text


def test_a_cp1252_csv_keeps_its_accents(ingestor, workspace):
    data = "id,comment\n1,naïve São déjà\n2,Café €3\n".encode("cp1252")
    rep = ingestor.ingest_bytes(data, "feedback.csv", LoadOptions(text_column="comment"))
    assert rep.status == "added", rep.message
    assert [c.text for c in workspace.chunks_of(rep.doc.doc_id)] == ["naïve São déjà",
                                                                     "Café €3"]


@pytest.mark.parametrize("enc, text", [
    ("cp1251", "Совет директоров утвердил бюджет на робототехнику и попросил обзор."),
    ("cp1250", "Zażółć gęślą jaźń. Rada nadzorcza zatwierdziła budżet."),
    ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy."),
    ("cp1253", "Καλημέρα κόσμε, αυτό είναι ένα δοκιμαστικό κείμενο."),
    ("cp1254", "Değişiklik yönetim kurulu tarafından onaylandı. Şirket büyüyor."),
])
def test_other_code_pages_still_decode(enc, text):
    assert decode_text(text.encode(enc)) == text


# ---------------------------------------------------------------------------------------------
# 4. the size limit is checked before reading


def test_a_huge_file_is_refused_before_it_is_read(ingestor, tmp_path, monkeypatch):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as f:  # sparse: 2 GiB on paper, nothing on disk
        f.truncate(2 * 1024**3)

    def no_read(self, *a, **kw):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Upload, "read", no_read)
    [rep] = ingestor.ingest_many([Upload("huge.txt", path=big)])
    assert rep.status == "failed"
    assert "file is 2,048 MB, over the 50 MB limit (RAG_MAX_FILE_MB)" in rep.message


def test_size_messages_never_say_the_size_equals_the_limit(settings):
    one = settings.model_copy(update={"max_file_mb": 1})
    mib = 1024 * 1024
    for size, want in [(mib + 1, ("file is 1,048,577 bytes, over the 1 MB limit (1,048,576 "
                                  "bytes)")),
                       (int(1.3 * mib), "file is 1.3 MB, over the 1 MB limit ("),
                       (3 * mib, "file is 3 MB, over the 1 MB limit (RAG_MAX_FILE_MB)")]:
        with pytest.raises(FileTooLarge) as err:
            check_size(size, one)
        assert str(err.value).startswith(want), str(err.value)
    check_size(mib, one)  # at the limit: allowed


# ---------------------------------------------------------------------------------------------
# 5. the terminal: broken pipes, escape sequences; the model-mismatch advice


class BrokenStdout(io.StringIO):
    def write(self, s):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_in_process_is_quiet(cli, services, monkeypatch, tmp_path, capsys):
    (tmp_path / "a.txt").write_text("Robots and batteries in the warehouse.")
    cli("ingest", str(tmp_path / "a.txt"))
    monkeypatch.setattr(sys, "stdout", BrokenStdout())
    assert rag.cli.main(["search", "robots"]) == 141
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_broken_pipe_through_a_real_pipe_is_quiet():
    code = ("import sys, rag.cli as c\n"
            "c.cmd_docs = lambda a: [print('line', i) for i in range(200000)] and 0\n"
            "sys.exit(c.main(['docs']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


HOSTILE = ("Budget note \x1b]0;pwned title\x07 the robots budget is approved "
           "\x1b[31mRED\x1b[0m \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\ "
           "bell\x07 back\x08space \x9b31m end. " + "The robots budget covers the warehouse "
           "fleet, its batteries and the service contracts for the next two years. " * 3)


def test_search_and_ask_plain_output_carry_no_terminal_controls(cli, services, tmp_path,
                                                                monkeypatch):
    (tmp_path / "note.txt").write_text(HOSTILE)
    assert cli("ingest", str(tmp_path / "note.txt"))[0] == 0

    rc, out, _ = cli("search", "robots budget approved")
    assert rc == 0 and "robots budget is approved" in out
    for bad in ("\x1b", "\x07", "\x08", "\x9b", "pwned"):
        assert bad not in out
    assert "RED" in out and "link" in out and "end" in out

    rc, out, _ = cli("search", "robots budget approved", "--json")  # JSON escapes it itself
    assert rc == 0 and "\x1b" in json.loads(out)[0]["text"]

    class Chat:
        name = "scripted"

        def stream(self, messages, max_tokens=512, temperature=0.0):
            yield "The robots budget is approved \x1b]52;c;ZXZpbA==\x07[1]."

    from rag.answer import Answerer

    monkeypatch.setattr(services, "answerer",
                        lambda ws, k=5, **kw: Answerer(services.searcher(ws), Chat(), k=k))
    rc, out, _ = cli("ask", "Is the robots budget approved?")
    assert rc == 0 and "robots budget is approved" in out
    assert "\x1b" not in out and "\x07" not in out and "ZXZpbA" not in out


def test_model_mismatch_names_the_backend_setting(services):
    client = services.client
    Store(client, "all-MiniLM-L6-v2-onnx-int8", 64).workspace("Built with onnx", create=True)
    with pytest.raises(ModelMismatch) as err:
        Store(client, "all-MiniLM-L6-v2", 64).workspace("Built with onnx")
    msg = str(err.value)
    assert "RAG_EMBED_BACKEND=onnx-int8" in msg and "RAG_EMBED_MODEL=all-MiniLM-L6-v2" in msg

    Store(client, "all-MiniLM-L6-v2", 64).workspace("Built with torch", create=True)
    with pytest.raises(ModelMismatch) as err:
        Store(client, "all-MiniLM-L6-v2-onnx-fp32", 64).workspace("Built with torch")
    assert "RAG_EMBED_BACKEND=torch" in str(err.value)


# ---------------------------------------------------------------------------------------------
# 1. a document is replaced only by a new version of the same file


def _docs(ws):
    return sorted((d.filename, d.meta.get("source"), d.kind)
                  for d in ws.documents(include_pending=True))


def test_same_stem_other_extension_are_two_documents(ingestor, workspace):
    md = ingestor.ingest_bytes(b"# Report\n\nThe markdown report about the robots.", "report.md")
    txt = ingestor.ingest_bytes(b"The plain text report about the batteries.", "report.txt")
    assert (md.status, txt.status) == ("added", "added")
    assert _docs(workspace) == [("report.md", "report.md", "markdown"),
                                ("report.txt", "report.txt", "text")]
    assert workspace.count_chunks() == md.doc.chunks + txt.doc.chunks


def test_docx_and_xlsx_of_one_name_are_two_documents(ingestor, workspace):
    import docx
    import openpyxl

    d = docx.Document()
    d.add_paragraph("The Word file: the budget is five million euros.")
    buf = io.BytesIO()
    d.save(buf)
    wb = openpyxl.Workbook()
    wb.active.append(["id", "comment"])
    wb.active.append([1, "The Excel file: support answered within a day, great service."])
    wb.active.append([2, "The Excel file: the dashboard is slow on Mondays for everyone."])
    xbuf = io.BytesIO()
    wb.save(xbuf)

    assert ingestor.ingest_bytes(buf.getvalue(), "valid.docx").status == "added"
    assert ingestor.ingest_bytes(xbuf.getvalue(), "valid.xlsx").status == "added"
    assert _docs(workspace) == [("valid.docx", "valid.docx", "docx"),
                                ("valid.xlsx", "valid.xlsx", "table")]


def test_cli_same_file_name_in_two_folders(cli, services, tmp_path, monkeypatch):
    for q in ("q1", "q2"):
        (tmp_path / q).mkdir()
        (tmp_path / q / "minutes.txt").write_text(f"Board minutes of {q}: the budget was "
                                                  f"approved for {q} robots.")
    monkeypatch.chdir(tmp_path)
    rc, out, _ = cli("ingest", "q1/minutes.txt", "q2/minutes.txt")
    assert rc == 0 and [ln.split()[0] for ln in out.splitlines()] == ["ADDED", "ADDED"]
    ws = services.workspace("default")
    assert _docs(ws) == [("minutes.txt", "q1/minutes.txt", "text"),
                         ("minutes.txt", "q2/minutes.txt", "text")]
    old_q1 = next(d for d in ws.documents() if d.meta["source"] == "q1/minutes.txt")

    # a new version of Q1 replaces Q1 only, and says what it replaced
    (tmp_path / "q1" / "minutes.txt").write_text("Board minutes of q1, corrected: the budget "
                                                 "was postponed.")
    rc, out, _ = cli("ingest", "./q1/minutes.txt")
    assert rc == 0 and out.startswith("REPLACED")
    assert f"'q1/minutes.txt' (doc {old_q1.doc_id})" in out
    assert _docs(ws) == [("minutes.txt", "q1/minutes.txt", "text"),
                         ("minutes.txt", "q2/minutes.txt", "text")]
    texts = " ".join(c.text for c in ws.iter_chunks())
    assert "postponed" in texts and "q2 robots" in texts and "q1 robots" not in texts

    # a folder argument gives the same identity as naming the file inside it
    (tmp_path / "q2" / "minutes.txt").write_text("Board minutes of q2, corrected.")
    rc, out, _ = cli("ingest", "q2")
    assert rc == 0 and out.startswith("REPLACED") and "'q2/minutes.txt'" in out
    assert len(ws.documents()) == 2


def test_long_names_sharing_their_start_are_two_documents(ingestor, workspace):
    stem = "quarterly_board_pack_" * 9  # 189 characters: the display name is cut at 170
    a = ingestor.ingest_bytes(b"Version for Europe: prices rise.", stem + "europe.txt")
    b = ingestor.ingest_bytes(b"Version for Asia: prices fall.", stem + "asia.txt")
    assert (a.status, b.status) == ("added", "added")
    assert a.doc.filename == b.doc.filename  # the same shortened display name ...
    assert {d.meta["source"] for d in workspace.documents()} == {stem + "europe.txt",
                                                                 stem + "asia.txt"}


def test_replacing_needs_the_same_kind(ingestor, workspace):
    prose = ingestor.ingest_bytes(b"Plain notes about the pricing review in March.", "notes.txt")
    turns = ingestor.ingest_bytes(b"Ann: The pricing review is in March.\n"
                                  b"Bob: Then we tell the sales team.\n"
                                  b"Ann: Next week, then.\nBob: Agreed.\n", "notes.txt")
    assert prose.doc.kind == "text" and turns.doc.kind == "transcript"
    assert turns.status == "added"
    assert len(workspace.documents()) == 2


def test_a_record_written_before_sources_is_replaced_by_its_file_name(ingestor, workspace,
                                                                     fake_embedder):
    info = DocumentInfo(doc_id="legacy0000000000", name="notes", filename="notes.txt",
                        kind="text", units=1, chunks=1, size=10, added_at=time.time())
    chunk = Chunk(id="legacy-0", doc_id=info.doc_id, doc_name="notes", ordinal=0,
                  text="old notes")
    workspace.begin(info)
    workspace.add_chunks([chunk], fake_embedder.embed(["old notes"]))
    workspace.commit(info)
    assert "source" not in workspace.documents()[0].meta
    rep = ingestor.ingest_bytes(b"New notes about the pricing review.", "notes.txt")
    assert rep.status == "replaced" and "(doc legacy0000000000)" in rep.message
    assert [d.doc_id for d in workspace.documents()] == [rep.doc.doc_id]


def test_recover_finishes_an_interrupted_replacement_by_source(workspace, fake_embedder):
    def write(doc_id, filename, kind, **meta):
        info = DocumentInfo(doc_id=doc_id, name="a", filename=filename, kind=kind, units=1,
                            chunks=1, size=1, added_at=time.time(),
                            meta={"source": filename, **meta})
        workspace.begin(info)
        workspace.add_chunks([Chunk(id=doc_id + "-0", doc_id=doc_id, doc_name="a", ordinal=0,
                                    text=doc_id)], fake_embedder.embed([doc_id]))
        workspace.commit(info)
        time.sleep(0.01)

    write("v1", "a.txt", "text")
    write("v2", "a.txt", "text", replaces=["v1"])  # crashed before v1 was deleted
    write("md", "a.md", "markdown")  # another file of the same display name, added later
    assert workspace.recover() == ["v1"]
    assert sorted(d.doc_id for d in workspace.documents()) == ["md", "v2"]


# ---------------------------------------------------------------------------------------------
# 2. a live writer is never cleaned up; reading never cleans up; chunk counts are verified


def _long_text(paragraphs: int = 100) -> bytes:
    """About three chunks a paragraph: several batches of 64 chunks."""
    para = "A sentence about warehouse robots and their batteries. " * 40
    return "\n\n".join(f"Section {i}. {para}" for i in range(paragraphs)).encode()


def _doc_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class HookEmbedder(HashEmbedder):
    """Calls `hook(batch_index)` before embedding each batch: another process acting meanwhile."""

    def __init__(self, hook) -> None:
        super().__init__()
        self.hook = hook

    def embed(self, texts):
        self.hook(self.calls)
        return super().embed(texts)


def _pending(ws, emb, doc_id: str, writer: str | None = None, age_s: float = 0.0) -> None:
    """A pending document of 3 chunks, as a writer that stopped mid-way leaves it."""
    chunks = [Chunk(id=f"{doc_id}-{i:05d}", doc_id=doc_id, doc_name="draft", ordinal=i,
                    text=f"draft passage {i}") for i in range(3)]
    info = DocumentInfo(doc_id=doc_id, name="draft", filename="draft.txt", kind="text",
                        units=1, chunks=3, size=10, added_at=time.time())
    ws.begin(info)
    ws.add_chunks(chunks, emb.embed([c.text for c in chunks]))
    md = ws._manifest.get(ids=[doc_id], include=["metadatas"])["metadatas"][0]
    ws._manifest.update(ids=[doc_id], metadatas=[{
        **md, "writer": writer or md["writer"],
        "updated_at": store_mod.time.time() - age_s}])  # the store's clock (a test may fake it)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class FakeClock:
    """`time` for the store module: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def test_a_live_ingest_older_than_the_grace_period_is_left_alone(services, workspace,
                                                                monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(store_mod, "time", clock)
    other = services.store.workspace(workspace.name)  # another replica, on another host
    cleaned = []

    def replica_recovers(batch: int) -> None:
        if batch == 0:
            return
        clock.offset += 40 * 60  # each batch takes 40 minutes
        monkeypatch.setattr(store_mod, "_HOST", "other-host")
        try:
            cleaned.extend(other.recover(grace_s=3600))
        finally:
            monkeypatch.setattr(store_mod, "_HOST", _HOST)

    data = _long_text()
    rep = Ingestor(workspace, HookEmbedder(replica_recovers), services.settings).ingest_bytes(
        data, "long.txt")
    assert clock.offset >= 2 * 3600  # the ingest ran past the grace period ...
    assert cleaned == []  # ... but kept its heartbeat fresh, so nothing was removed
    assert rep.status == "added"
    assert workspace.count_chunks() == rep.doc.chunks == len(workspace.chunks_of(rep.doc.doc_id))

    # a writer that stopped beating is cleaned up once the grace period has passed
    _pending(workspace, services.embedder, "silent", writer="other-host:1")
    assert other.recover(grace_s=3600) == []
    clock.offset += 3601
    assert other.recover(grace_s=3600) == ["silent"]


def test_the_writer_records_host_pid_and_start_time(workspace, services):
    _pending(workspace, services.embedder, "p1")
    md = workspace._manifest.get(ids=["p1"], include=["metadatas"])["metadatas"][0]
    start = process_start(os.getpid())
    assert md["writer"] == f"{_HOST}:{os.getpid()}" + (f":{start}" if start else "")


def test_a_reused_pid_counts_as_a_dead_writer(workspace, services):
    start = process_start(os.getpid())
    if start is None:
        pytest.skip("no /proc: process start times are unknown here")
    emb = services.embedder
    # this pid, but a process that started at another time: the writer is gone
    _pending(workspace, emb, "reused", writer=f"{_HOST}:{os.getpid()}:{start}0")
    _pending(workspace, emb, "dead", writer=f"{_HOST}:{_dead_pid()}:{start}")
    _pending(workspace, emb, "me", writer=f"{_HOST}:{os.getpid()}:{start}")  # alive: spared
    assert sorted(workspace.recover(grace_s=3600)) == ["dead", "reused"]
    assert [d.doc_id for d in workspace.documents(include_pending=True)] == ["me"]


def test_reading_never_recovers_writing_does(cli, services, tmp_path, fake_embedder):
    ws = services.store.workspace("default", create=True)
    _pending(ws, fake_embedder, "dead", writer=f"{_HOST}:{_dead_pid()}")

    def pending():
        return [d.doc_id for d in ws.documents(include_pending=True) if d.status == "pending"]

    services.workspace("default")
    Services(settings=services.settings, client=services.client,
             embedder=fake_embedder).workspace("default")
    assert cli("docs")[0] == 0 and cli("search", "draft passage")[0] == 0
    assert pending() == ["dead"]  # read-only opens left it alone

    (tmp_path / "new.txt").write_text("A new document about the robots.")
    rc, _, _ = cli("ingest", str(tmp_path / "new.txt"))
    assert rc == 0 and pending() == []  # a write path cleans up
    assert ws.chunks_of("dead") == []

    # the app's ingest path (Services.ingestor) cleans up too
    _pending(ws, fake_embedder, "dead2", writer=f"{_HOST}:{_dead_pid()}")
    fresh = Services(settings=services.settings, client=services.client, embedder=fake_embedder)
    fresh.ingestor(fresh.workspace("default"))
    assert pending() == []


def test_chunks_lost_while_writing_fail_the_document(services, workspace):
    data = _long_text(60)
    doc_id = _doc_id(data)

    def lose_some(batch: int) -> None:
        if batch == 1:  # another process removes what was written so far, not the record
            workspace._chunks.delete(where={"doc_id": doc_id})

    rep = Ingestor(workspace, HookEmbedder(lose_some), services.settings).ingest_bytes(
        data, "long.txt")
    assert rep.status == "failed"
    assert "chunks are in the index" in rep.message and "rolled back" in rep.message
    assert workspace.documents(include_pending=True) == [] and workspace.count_chunks() == 0


def test_a_record_removed_while_writing_fails_the_document(services, workspace):
    data = _long_text(60)
    doc_id = _doc_id(data)
    other = services.store.workspace(workspace.name)

    def purge(batch: int) -> None:
        if batch == 1:
            other._purge(doc_id)

    rep = Ingestor(workspace, HookEmbedder(purge), services.settings).ingest_bytes(
        data, "long.txt")
    assert rep.status == "failed" and "removed by another process" in rep.message
    assert workspace.documents(include_pending=True) == [] and workspace.count_chunks() == 0
