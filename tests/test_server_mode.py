"""Server mode: a real `chroma run` shared by two app "replicas" (two Services, two clients)."""

from __future__ import annotations

import subprocess
import time

import badfiles
import pytest
from conftest import CHROMA, close_client, free_port

from rag.config import Settings
from rag.errors import NotFound
from rag.services import build_services

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    import chromadb

    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    with open(path.parent / f"chroma-{port}.log", "wb") as log:
        proc = subprocess.Popen([str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, f"chroma run exited: see {log.name}"
                try:
                    chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    assert time.monotonic() < deadline, "chroma server did not answer in 60 s"
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}", path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def replicas(chroma_url, tmp_path, fake_embedder):
    """Two independent Services on the same server, as two app processes would have."""
    url, _ = chroma_url
    made = [build_services(Settings(data_dir=tmp_path / f"replica{i}", chroma_url=url),
                           embedder=fake_embedder) for i in (1, 2)]
    yield made
    for svc in made:
        close_client(svc.client)


def test_ingest_docs_search_delete_on_the_server(replicas, request, tmp_path):
    svc, _ = replicas
    name = f"Server {request.node.name}"
    ws = svc.workspace(name, create=True)
    reports = svc.ingestor(ws).ingest_many([
        _upload("notes.txt", b"Europe prices rise five percent in March for the Beacon arm."),
        _upload(*badfiles.good_pdf()),
        _upload(*badfiles.password_pdf()),
    ])
    assert [r.status for r in reports] == ["added", "added", "failed"]
    assert {d.name for d in ws.documents()} == {"notes", "report"}

    hits = svc.searcher(ws).search("active customers churn", k=3)
    assert hits[0].chunk.doc_name == "report" and hits[0].chunk.page == 2

    report = ws.find_by_name("report")[0]
    ws.delete_document(report.doc_id)
    assert {d.name for d in ws.documents()} == {"notes"}
    assert ws.chunks_of(report.doc_id) == []
    assert ws.count_chunks() == reports[0].doc.chunks
    assert name in [w["name"] for w in svc.store.list_workspaces()]
    # everything lives on the server: nothing was written to the local data dir
    assert not (tmp_path / "replica1" / "chroma").exists()


def test_two_replicas_see_each_other(replicas, request):
    a, b = replicas
    name = f"Shared {request.node.name}"
    ws_a = a.workspace(name, create=True)
    ws_b = b.workspace(name)  # created by the other replica

    added = a.ingestor(ws_a).ingest_bytes(b"Lidar supply is tight until June.", "supply.txt")
    assert [d.doc_id for d in ws_b.documents()] == [added.doc.doc_id]
    hits = b.searcher(ws_b).search("lidar supply", k=1)
    assert hits and hits[0].chunk.doc_id == added.doc.doc_id

    # B re-ingesting the same bytes changes nothing; a new version replaces A's
    assert b.ingestor(ws_b).ingest_bytes(b"Lidar supply is tight until June.",
                                         "supply.txt").status == "unchanged"
    rep = b.ingestor(ws_b).ingest_bytes(b"Lidar supply is fine again from May.", "supply.txt")
    assert rep.status == "replaced"
    assert [d.doc_id for d in ws_a.documents()] == [rep.doc.doc_id]
    assert ws_a.chunks_of(added.doc.doc_id) == []

    # a document B is still writing stays invisible to A, and A's recover() leaves it alone
    from rag.types import DocumentInfo

    draft = DocumentInfo(doc_id="draft", name="draft", filename="draft.txt", kind="text",
                         units=1, chunks=1, size=1, added_at=time.time())
    ws_b.begin(draft)
    assert "draft" not in [d.doc_id for d in ws_a.documents()]
    assert ws_a.recover(grace_s=3600) == []
    ws_b._purge("draft")

    ws_a.delete_document(rep.doc.doc_id)
    assert ws_b.documents() == []
    with pytest.raises(NotFound):
        ws_b.get_document(rep.doc.doc_id)


def _upload(name: str, data: bytes):
    from rag.ingest.pipeline import Upload

    return Upload(name, data=data)
