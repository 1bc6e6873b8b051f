"""The Chroma-backed store: workspaces, model guard, pending/ready visibility, delete, recover."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from conftest import close_client
from fakes import HashEmbedder

from rag.errors import ModelMismatch, NotFound, WorkspaceError
from rag.index.store import _HOST, Store, collection_name_for, make_client
from rag.services import Services
from rag.types import Chunk, DocumentInfo

VALID_COLLECTION = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")


@pytest.fixture
def store(services):
    return services.store


def _doc(doc_id: str, name: str = "report", n: int = 3, **meta) -> tuple[DocumentInfo, list[Chunk]]:
    chunks = [
        Chunk(id=f"{doc_id}-{i:05d}", doc_id=doc_id, doc_name=name, ordinal=i, kind="pdf",
              text=f"{name} {doc_id} passage {i} about topic{i} and word{doc_id}", page=i + 1,
              heading="Results" if i == 0 else None, meta={"c_region": "Europe", "c_n": i})
        for i in range(n)
    ]
    info = DocumentInfo(doc_id=doc_id, name=name, filename=f"{name}.pdf", kind="pdf", units=n,
                        chunks=n, size=100, added_at=time.time(), meta=meta)
    return info, chunks


def _write(ws, emb, doc_id: str, name: str = "report", commit: bool = True, **meta):
    info, chunks = _doc(doc_id, name, **meta)
    ws.begin(info)
    ws.add_chunks(chunks, emb.embed([c.text for c in chunks]))
    if commit:
        ws.commit(info)
    return info, chunks


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set_writer(ws, doc_id: str, writer: str, age_s: float = 0.0) -> None:
    md = ws._manifest.get(ids=[doc_id], include=["metadatas"])["metadatas"][0]
    ws._manifest.update(ids=[doc_id], metadatas=[{**md, "writer": writer,
                                                  "updated_at": time.time() - age_s}])


# ---------------------------------------------------------------------------------------------
# workspaces


def test_create_open_list_and_persist(settings, store, fake_embedder):
    ws = store.workspace("Board papers", create=True)
    _write(ws, fake_embedder, "d1")
    again = store.workspace("Board papers")
    assert again.collection_name == ws.collection_name
    assert [d.doc_id for d in again.documents()] == ["d1"]
    [info] = store.list_workspaces()
    assert info["name"] == "Board papers" and info["embed_model"] == fake_embedder.name
    assert info["embed_dim"] == fake_embedder.dim

    # on disk: a brand-new client on the same folder sees the workspace and its chunks
    close_client(store.client)
    client = make_client(settings)
    try:
        reopened = Store(client, fake_embedder.name, fake_embedder.dim).workspace("Board papers")
        assert reopened.count_chunks() == 3
        assert [d.name for d in reopened.documents()] == ["report"]
    finally:
        close_client(client)


def test_missing_workspace_and_bad_names(store):
    with pytest.raises(NotFound, match="create it first"):
        store.workspace("nope")
    for bad in ["", "   ", "x" * 101]:
        with pytest.raises(WorkspaceError, match="1 to 100 characters"):
            store.workspace(bad, create=True)
    with pytest.raises(NotFound):
        store.delete_workspace("nope")


ODD_NAMES = ["Q3 / Ventas — España!!", "日本語のワークスペース", "a", "..", "  spaced   out ",
             "x" * 100, "1.2.3.4", "Sales", "sales", "-x-", "a" * 39 + " b", "🚀 launch"]


def test_odd_display_names_get_valid_distinct_collections(store):
    names = [n.strip() for n in ODD_NAMES]
    cols = set()
    for name in names:
        ws = store.workspace(name, create=True)
        assert VALID_COLLECTION.match(ws.collection_name), ws.collection_name
        assert VALID_COLLECTION.match(ws.collection_name + "--docs")
        assert ".." not in ws.collection_name
        assert ws.name == name
        cols.add(ws.collection_name)
    assert len(cols) == len(names)  # "Sales" and "sales" are two workspaces
    assert sorted(w["name"] for w in store.list_workspaces()) == sorted(names)
    assert collection_name_for("Q3 / Ventas — España!!") == collection_name_for(
        "Q3 / Ventas — España!!")


def test_delete_workspace(store, fake_embedder):
    ws = store.workspace("Temp", create=True)
    _write(ws, fake_embedder, "d1")
    store.delete_workspace("Temp")
    assert store.list_workspaces() == []
    with pytest.raises(NotFound):
        store.workspace("Temp")


# ---------------------------------------------------------------------------------------------
# the model guard


def test_model_mismatch_is_refused_with_a_clear_message(services, store, fake_embedder):
    store.workspace("Contracts", create=True)
    other_name = Store(store.client, "other-model", fake_embedder.dim)
    with pytest.raises(ModelMismatch) as err:
        other_name.workspace("Contracts")
    msg = str(err.value)
    assert "Contracts" in msg and fake_embedder.name in msg and "other-model" in msg
    assert "RAG_EMBED_MODEL" in msg and "new workspace" in msg

    other_dim = Store(store.client, fake_embedder.name, 32)
    with pytest.raises(ModelMismatch, match=r"\(64 dimensions\).*\(32\)"):
        other_dim.workspace("Contracts")

    # through the composition root too: a different embedder cannot open it
    svc = Services(settings=services.settings, client=store.client,
                   embedder=HashEmbedder(name="another-hash", dim=64))
    with pytest.raises(ModelMismatch):
        svc.workspace("Contracts")
    # and the refusal changed nothing
    assert store.workspace("Contracts").embed_model == fake_embedder.name


def test_wrong_dimension_embeddings_are_refused(store, fake_embedder):
    ws = store.workspace("W", create=True)
    info, chunks = _doc("d1")
    ws.begin(info)
    with pytest.raises(ModelMismatch, match="dimensions"):
        ws.add_chunks(chunks, HashEmbedder(dim=16).embed([c.text for c in chunks]))


# ---------------------------------------------------------------------------------------------
# visibility, delete


def test_pending_documents_are_invisible(store, fake_embedder):
    ws = store.workspace("W", create=True)
    info, chunks = _write(ws, fake_embedder, "p1", name="draft", commit=False)
    probe = fake_embedder.embed([chunks[0].text])[0]

    assert ws.count_chunks() == 3  # written ...
    assert ws.query(probe, k=5) == []  # ... but not searchable
    assert ws.documents() == [] and ws.ready_ids() == []
    assert [d.status for d in ws.documents(include_pending=True)] == ["pending"]
    assert list(ws.iter_chunks()) == [] and ws.find_by_name("draft") == []
    with pytest.raises(NotFound):
        ws.get_document("p1")

    ws.commit(info)
    hits = ws.query(probe, k=5)
    assert hits[0].chunk.id == chunks[0].id and hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert ws.get_document("p1").status == "ready"
    assert len(list(ws.iter_chunks())) == 3


def test_chunks_round_trip_with_their_location_and_metadata(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _, chunks = _write(ws, fake_embedder, "d1")
    assert ws.chunks_of("d1") == chunks
    got, emb = ws.embeddings_of("d1")
    assert got == chunks and emb.shape == (3, fake_embedder.dim)


def test_query_filters(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _write(ws, fake_embedder, "d1", name="alpha")
    _write(ws, fake_embedder, "d2", name="beta")
    probe = fake_embedder.embed(["passage about topic1"])[0]
    assert {h.chunk.doc_id for h in ws.query(probe, k=10)} == {"d1", "d2"}
    assert {h.chunk.doc_id for h in ws.query(probe, k=10, doc_ids=["d2"])} == {"d2"}
    assert [h.chunk.page for h in ws.query(probe, k=10, where={"page": 2})] == [2, 2]
    assert ws.query(probe, k=10, doc_ids=[]) == []
    hits = ws.query(probe, k=10)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_delete_removes_every_chunk(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _write(ws, fake_embedder, "d1", name="alpha")
    _write(ws, fake_embedder, "d2", name="beta")
    assert ws.count_chunks() == 6
    ws.delete_document("d1")
    assert ws.count_chunks() == 3
    assert ws.chunks_of("d1") == []
    assert [d.doc_id for d in ws.documents(include_pending=True)] == ["d2"]
    probe = fake_embedder.embed(["alpha d1 passage 0 about topic0 and wordd1"])[0]
    assert {h.chunk.doc_id for h in ws.query(probe, k=10)} == {"d2"}
    with pytest.raises(NotFound):
        ws.delete_document("d1")


# ---------------------------------------------------------------------------------------------
# recover()


def test_recover_purges_a_pending_doc_whose_writer_died(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _write(ws, fake_embedder, "ok")
    _write(ws, fake_embedder, "dead", commit=False)
    _set_writer(ws, "dead", f"{_HOST}:{_dead_pid()}")
    assert ws.count_chunks() == 6

    assert ws.recover(grace_s=3600) == ["dead"]
    assert ws.count_chunks() == 3 and ws.chunks_of("dead") == []
    assert [d.doc_id for d in ws.documents(include_pending=True)] == ["ok"]
    assert ws.recover(grace_s=3600) == []  # idempotent


def test_recover_spares_writers_that_may_still_be_writing(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _write(ws, fake_embedder, "mine", commit=False)  # this process: maybe mid-write
    _write(ws, fake_embedder, "alive", commit=False)
    _set_writer(ws, "alive", f"{_HOST}:{os.getppid()}")  # another live process on this host
    _write(ws, fake_embedder, "replica", commit=False)
    _set_writer(ws, "replica", "other-host:12345")  # another machine: we cannot tell
    assert ws.recover(grace_s=3600) == []
    assert ws.count_chunks() == 9

    # ... unless they have been silent for longer than the grace period
    _set_writer(ws, "replica", "other-host:12345", age_s=7200)
    _set_writer(ws, "alive", f"{_HOST}:{os.getppid()}", age_s=7200)
    assert sorted(ws.recover(grace_s=3600)) == ["alive", "replica"]
    assert ws.count_chunks() == 3


def test_recover_finishes_interrupted_deletes_and_replacements(store, fake_embedder):
    ws = store.workspace("W", create=True)
    _write(ws, fake_embedder, "del")
    md = ws._manifest.get(ids=["del"], include=["metadatas"])["metadatas"][0]
    ws._manifest.update(ids=["del"], metadatas=[{**md, "status": "deleting"}])  # crash mid-delete
    assert ws.documents() == []

    _write(ws, fake_embedder, "v1", name="plan")
    time.sleep(0.01)
    _write(ws, fake_embedder, "v2", name="plan", replaces=["v1"])  # crash before v1 was deleted
    assert sorted(ws.recover()) == ["del", "v1"]
    assert [d.doc_id for d in ws.documents(include_pending=True)] == ["v2"]
    assert ws.count_chunks() == 3


def test_services_recover_once_per_workspace_on_open(services, fake_embedder):
    ws = services.workspace("W", create=True, recover=True)
    _write(ws, fake_embedder, "dead", commit=False)
    _set_writer(ws, "dead", f"{_HOST}:{_dead_pid()}")
    # already recovered in this process
    assert services.workspace("W", recover=True).count_chunks() == 3
    fresh = Services(settings=services.settings, client=services.client, embedder=fake_embedder)
    assert fresh.workspace("W").count_chunks() == 3  # reading never cleans up
    # a new process cleans up on its first write-path open
    assert fresh.workspace("W", recover=True).count_chunks() == 0


def test_pending_chunks_crowding_the_nearest_places_are_still_skipped(store, fake_embedder):
    """The unfiltered nearest-neighbour query keeps only ready documents' chunks, and falls
    back to the filtered query when pending ones took too many places."""
    ws = store.workspace("W", create=True)
    ready, _ = _write(ws, fake_embedder, "ok", name="final")
    text = "identical pending passage about the merger"
    crowd = [Chunk(id=f"p-{i:05d}", doc_id="p", doc_name="draft", ordinal=i, kind="pdf",
                   text=text, page=1) for i in range(40)]
    info = DocumentInfo(doc_id="p", name="draft", filename="draft.pdf", kind="pdf", units=1,
                        chunks=40, size=10, added_at=time.time())
    ws.begin(info)
    ws.add_chunks(crowd, fake_embedder.embed([c.text for c in crowd]))
    hits = ws.query(fake_embedder.embed([text])[0], k=3)
    assert len(hits) == 3 and {h.chunk.doc_id for h in hits} == {"ok"}
    assert ws.versions() == {"ok": f"3:{ready.added_at:.6f}"}
    ws.commit(info)
    assert set(ws.versions()) == {"ok", "p"}
    assert {h.chunk.doc_id for h in ws.query(fake_embedder.embed([text])[0], k=3)} == {"p"}


def test_embed_max_tokens_bounds_what_the_default_embedder_reads():
    """RAG_EMBED_MAX_TOKENS reaches the real embedder: a passage is read up to that many word
    pieces (what follows changes nothing), and a shorter passage is read whole."""
    import numpy as np

    from rag.config import Settings
    from rag.services import build_embedder

    short = build_embedder(Settings(embed_max_tokens=32))
    assert short.max_length == 32
    head = "Net revenue rose in fiscal 2022 on higher volumes in every segment. " * 3
    a, b = short.embed([head + "Cash flow fell sharply.", head + "Litigation costs soared."])
    assert float(np.dot(a, b)) > 0.9999  # both cut before their different endings
    full = build_embedder(Settings())
    c, d = full.embed([head + "Cash flow fell sharply.", head + "Litigation costs soared."])
    assert float(np.dot(c, d)) < 0.999  # the model's own limit reads the endings
    assert full.max_length > 32
