"""A real `ragdesk ingest` killed with SIGKILL mid-write leaves nothing visible, and the next
open cleans up what it half wrote."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time

import pytest
from conftest import RAGDESK, cli_env, close_client

from rag.config import Settings
from rag.index.store import Store, make_client
from rag.retrieve import Retriever
from rag.services import Services, build_services

pytestmark = pytest.mark.slow

SMALL_DOC = (b"Board minutes, March. The board approved the robotics budget and asked for a "
             b"quarterly review of the warehouse automation programme.")


def _rows_written(db, collection: str) -> int:
    """Chunks of `collection` in Chroma's SQLite, read without opening Chroma (read-only)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute(
                "SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ?", (collection,)
            ).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # busy or mid-migration: ask again
        return 0


def test_kill_9_mid_ingest(tmp_path, copy_pdf, real_embedder):
    settings = Settings(data_dir=tmp_path / "ragdata")
    pdf = copy_pdf("PFIZER_2021_10K.pdf")

    # 1. a workspace that already holds one small document
    svc = build_services(settings, embedder=real_embedder)
    ws = svc.workspace("default", create=True)
    small = svc.ingestor(ws).ingest_bytes(SMALL_DOC, "minutes.txt").doc
    collection = ws.collection_name
    assert ws.count_chunks() == small.chunks == 1
    close_client(svc.client)  # nothing of this process stays attached to the folder

    # 2. a real ingest in another process, killed once some of its chunks are on disk
    db = settings.workspaces_dir / "chroma.sqlite3"
    proc = subprocess.Popen([str(RAGDESK), "ingest", str(pdf)], env=cli_env(settings.data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while _rows_written(db, collection) <= small.chunks:
            assert proc.poll() is None, f"ingest ended first: {proc.communicate()}"
            assert time.monotonic() < deadline, "no chunk was written in time"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "ADDED" not in out  # it really died before finishing the document

    # 3. a fresh client: the half-written document is there on disk but invisible
    client = make_client(settings)
    try:
        raw = Store(client, real_embedder.name, real_embedder.dim).workspace("default")
        assert [d.doc_id for d in raw.documents()] == [small.doc_id]
        pending = [d for d in raw.documents(include_pending=True) if d.status != "ready"]
        assert [(d.name, d.status) for d in pending] == [("PFIZER_2021_10K", "pending")]
        half = raw.count_chunks()
        assert small.chunks < half < small.chunks + pending[0].chunks  # killed mid-way
        hits = Retriever(raw, real_embedder).search(
            "Pfizer Comirnaty COVID-19 vaccine revenues 2021", k=10)
        assert hits and {h.chunk.doc_id for h in hits} == {small.doc_id}

        # 4. opening through the services for writing (what ingest and delete do) runs
        # recover()
        ws = Services(settings=settings, client=client, embedder=real_embedder).workspace(
            "default", recover=True)
        assert ws.count_chunks() == small.chunks
        assert [d.doc_id for d in ws.documents(include_pending=True)] == [small.doc_id]
        assert [c.text for c in ws.chunks_of(small.doc_id)] == [SMALL_DOC.decode()]
        hits = Retriever(ws, real_embedder).search("robotics budget approved by the board", k=3)
        assert hits[0].chunk.doc_id == small.doc_id
    finally:
        close_client(client)
