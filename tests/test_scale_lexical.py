"""The keyword index at scale: loaded (never rebuilt) by a new process, kept current document
by document on ingest and delete, and scoring exactly as a full build (and as bm25s) does."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT, TESTS, close_client

from rag import retrieve
from rag.retrieve import (
    LEXICAL_STATS,
    LexicalIndex,
    _top,
    flush_lexical_saves,
    lexical_index,
    lexical_path,
    tokenize,
)
from rag.services import build_services
from rag.types import Chunk

DOCS = {
    "robotics.txt": "The board approved the robotics budget of 4.2 million for FY2024. "
                    "Revenue grew 12 percent in the robotics segment.",
    "battery.md": "# Plan\n\nThe battery supplier changed. Capital expenditures rose.\n\n"
                  "# Risks\n\nLitigation about the battery patent continues.",
    "support.txt": "Support answered quickly. The warehouse in Lyon ships batteries weekly.",
}


def _ingest(svc, name: str, text: str):
    [rep] = svc.ingest_files("default", [(name, text.encode())])
    assert rep.ok, rep.message
    return rep.doc


def _lexical_docs(svc, query: str) -> list[str]:
    ws = svc.workspace("default")
    return [h.chunk.doc_id for h in svc.searcher(ws).retrieve(query, k=8, mode="lexical").hits]


# A second process: the same data dir, a fresh interpreter (nothing in memory).
_CHILD = textwrap.dedent("""
    import json, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from fakes import HashEmbedder
    from rag import retrieve
    from rag.config import Settings
    from rag.services import build_services
    svc = build_services(Settings(data_dir={data!r}), embedder=HashEmbedder())
    ws = svc.workspace("default")
    hits = svc.searcher(ws).retrieve({query!r}, k=8, mode="lexical").hits
    print("RESULT " + json.dumps({{"stats": retrieve.LEXICAL_STATS,
                                   "docs": [h.chunk.doc_id for h in hits]}}))
""")


def _second_process(settings, query: str) -> dict:
    flush_lexical_saves()
    code = _CHILD.format(root=str(ROOT), tests=str(TESTS), data=str(settings.data_dir),
                         query=query)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_a_second_process_loads_the_index_and_never_rebuilds_it(settings, fake_embedder):
    svc = build_services(settings, embedder=fake_embedder)
    docs = {name: _ingest(svc, name, text) for name, text in DOCS.items()}
    assert _lexical_docs(svc, "robotics budget") == [docs["robotics.txt"].doc_id]
    ws = svc.workspace("default")
    path = lexical_path(svc.lexical_dir, ws.collection_name)
    flush_lexical_saves()
    assert path.exists()
    mtime = path.stat().st_mtime_ns
    close_client(svc.client)

    first = _second_process(settings, "robotics budget")
    assert first["docs"] == [docs["robotics.txt"].doc_id]
    assert first["stats"] == {"builds": 0, "loads": 1, "updates": 0}
    again = _second_process(settings, "battery patent")
    assert again["docs"][0] == docs["battery.md"].doc_id
    assert again["stats"] == {"builds": 0, "loads": 1, "updates": 0}
    assert path.stat().st_mtime_ns == mtime  # read, not written


def test_the_index_follows_an_ingest_and_a_delete_without_a_rebuild(settings, fake_embedder):
    svc = build_services(settings, embedder=fake_embedder)
    for name, text in DOCS.items():
        _ingest(svc, name, text)
    assert _lexical_docs(svc, "zeppelin hangar") == []
    builds, updates = LEXICAL_STATS["builds"], LEXICAL_STATS["updates"]
    ws = svc.workspace("default")
    path = lexical_path(svc.lexical_dir, ws.collection_name)
    flush_lexical_saves()
    before = path.stat().st_mtime_ns

    new = _ingest(svc, "hangar.txt", "The zeppelin hangar in Friedrichshafen was leased.")
    assert _lexical_docs(svc, "zeppelin hangar") == [new.doc_id]
    assert LEXICAL_STATS["builds"] == builds and LEXICAL_STATS["updates"] == updates + 1
    flush_lexical_saves()
    assert path.stat().st_mtime_ns != before  # saved again, with the new document

    svc.workspace("default", recover=True).delete_document(new.doc_id)
    assert _lexical_docs(svc, "zeppelin hangar") == []
    assert LEXICAL_STATS["builds"] == builds and LEXICAL_STATS["updates"] == updates + 2
    # A new process reads the saved state: the deletion is in it.
    child = _second_process(settings, "zeppelin hangar")
    assert child["docs"] == [] and child["stats"]["builds"] == 0
    assert child["stats"]["updates"] == 0
    close_client(svc.client)


def test_another_writer_on_the_same_store_is_seen(settings, fake_embedder):
    """Two service objects on one data dir (two replicas): the reader's index catches up with
    what the other wrote, by reading only the new document."""
    writer = build_services(settings, embedder=fake_embedder)
    _ingest(writer, "robotics.txt", DOCS["robotics.txt"])
    reader = build_services(settings, embedder=fake_embedder)
    assert _lexical_docs(reader, "warehouse Lyon") == []
    other = _ingest(writer, "support.txt", DOCS["support.txt"])
    builds = LEXICAL_STATS["builds"]
    assert _lexical_docs(reader, "warehouse Lyon") == [other.doc_id]
    assert LEXICAL_STATS["builds"] == builds
    close_client(writer.client)


def _chunks(n_docs: int, per_doc: int, seed: int = 3) -> list[list[Chunk]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(400)] + ["revenue", "cash", "flows", "2023", "1577.0"]
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    docs = []
    for d in range(n_docs):
        doc = []
        for i in range(per_doc):
            text = " ".join(rng.choice(words, size=int(rng.integers(5, 60)), p=p))
            doc.append(Chunk(id=f"d{d}-{i:05d}", doc_id=f"d{d}", doc_name=f"doc_{d}", ordinal=i,
                             text=text, page=1 + i // 3))
        docs.append(doc)
    return docs


QUERIES = ["revenue cash flows 2023", "w1 w2 w3", "w399 w17 1,577.0", "nothing matches here",
           "w0"]


def test_an_updated_index_scores_exactly_as_a_full_build():
    docs = _chunks(6, 40)
    base = LexicalIndex([c for d in docs[:4] for c in d])
    # Add two documents, delete one of the first ones.
    inc = base.updated(set(), docs[4:]).updated({"d1"}, [])
    full = LexicalIndex([c for d in (docs[0], docs[2], docs[3], docs[4], docs[5]) for c in d])
    assert [c.id for c in inc.chunks] == [c.id for c in full.chunks]
    assert inc.units == full.units
    for q in QUERIES:
        np.testing.assert_allclose(inc.scores(q), full.scores(q), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(inc.unit_scores(q), full.unit_scores(q), rtol=1e-5,
                                   atol=1e-6)
    # The original is untouched (a search running on it in another thread sees no change).
    assert len(base.chunks) == 160 and base.scores("w1").shape == (160,)


def test_scores_are_bm25s_scores():
    """The same BM25 (Lucene variant, k1 1.5, b 0.75) as the bm25s index it replaces, so
    rankings measured with bm25s (benchmarks/retrieval.py) hold."""
    import bm25s

    chunks = [c for d in _chunks(3, 50, seed=5) for c in d]
    lex = LexicalIndex(chunks)
    ref = bm25s.BM25()
    ref.index([tokenize(retrieve._lexical_text(c)) for c in chunks], show_progress=False)
    for q in QUERIES:
        toks = tokenize(q)
        known = [t for t in toks if t in ref.vocab_dict]
        want = ref.get_scores(known) if known else np.zeros(len(chunks))
        np.testing.assert_allclose(lex.scores(q), want, rtol=1e-4, atol=1e-5)


def test_saved_and_loaded_index_is_the_same(tmp_path):
    chunks = [c for d in _chunks(2, 30) for c in d]
    lex = LexicalIndex(chunks)
    path = tmp_path / "x.npz"
    lex.save(path, {"d0": "30:1.0", "d1": "30:2.0"})
    keys, back = LexicalIndex.load(path)
    assert keys == {"d0": "30:1.0", "d1": "30:2.0"}
    assert back.chunks == lex.chunks
    for q in QUERIES:
        np.testing.assert_array_equal(back.scores(q), lex.scores(q))
        np.testing.assert_array_equal(back.unit_scores(q), lex.unit_scores(q))


def test_top_is_the_sorted_prefix():
    rng = np.random.default_rng(0)
    for n in (1, 5, 40):
        s = rng.random(1000).astype(np.float32)
        s[rng.random(1000) < 0.5] = 0.0
        s[10:20] = s[5]  # ties
        want = sorted(range(1000), key=lambda i: (-s[i], i))[:n]
        assert list(_top(s, n)) == want
    assert list(_top(np.array([0.5, 2.0], dtype=np.float32), 40)) == [1, 0]


def test_document_filter_mask_matches_accepts():
    chunks = [c for d in _chunks(4, 10) for c in d]
    lex = LexicalIndex(chunks)
    filt = retrieve.SearchFilter(doc_ids=("d1", "d3", "missing"))
    want = np.array([filt.accepts(c) for c in chunks])
    np.testing.assert_array_equal(lex.doc_mask(filt.doc_ids), want)


@pytest.mark.parametrize("junk", [b"not a zip", b"PK\x03\x04garbage"])
def test_a_damaged_file_is_rebuilt_once(settings, fake_embedder, junk):
    svc = build_services(settings, embedder=fake_embedder)
    doc = _ingest(svc, "robotics.txt", DOCS["robotics.txt"])
    ws = svc.workspace("default")
    path = lexical_path(svc.lexical_dir, ws.collection_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junk)
    retrieve._LEX_CACHE.clear()
    builds = LEXICAL_STATS["builds"]
    assert [c.doc_id for c in lexical_index(ws, svc.lexical_dir).chunks] == [doc.doc_id]
    assert LEXICAL_STATS["builds"] == builds + 1
    flush_lexical_saves()
    assert LexicalIndex.load(path) is not None  # saved whole again
    close_client(svc.client)
