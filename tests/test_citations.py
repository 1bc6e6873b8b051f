"""One citation type (rag.types.Citation) for answers, briefs and theme drill-downs, and one
name for a document in every CLI command's JSON (doc_id, doc_name)."""

from __future__ import annotations

import json

from rag.analytics.summaries.brief import Sources
from rag.answer import Answer
from rag.types import MIN_SUPPORT, Chunk, Citation

# The JSON fields of a citation, as the README lists them.
CITATION_FIELDS = ["n", "doc_id", "doc_name", "page", "location", "speaker", "start",
                   "turn_start", "quote", "chunk_id", "support", "numbers_missing", "checked",
                   "inferred"]

PDF = Chunk(id="c1", doc_id="d1", doc_name="ACME_10K.pdf", ordinal=11, page=33,
            text="Net sales were $412.6 million in 2024, up 8%.")
CALL = Chunk(id="c2", doc_id="d2", doc_name="call.vtt", ordinal=4, kind="transcript",
             speaker="Ana", speakers="|Ana|Ben|", turn_start=7,
             text="Ana: Welcome everyone.\nBen: Bookings rose 12% in the quarter.")


def test_one_citation_shape_for_answers_and_briefs():
    answer = Citation(1, PDF, "Net sales were $412.6 million in 2024", 0.9).to_dict()
    brief = Sources().cite(PDF, "Net sales were $412.6 million in 2024", 0.9)
    assert list(answer) == list(brief) == CITATION_FIELDS
    assert brief == {**answer, "n": PDF.ordinal + 1}  # a brief numbers passages by position
    assert answer["doc_name"] == "ACME_10K.pdf" and answer["location"] == "p. 33"
    assert answer["checked"] and not Citation(1, PDF, "x", MIN_SUPPORT - 0.01).to_dict()[
        "checked"]
    missing = Sources().cite(PDF, "Net sales", 1.0, ["9.9"])
    assert missing["numbers_missing"] == ["9.9"] and missing["checked"] is False
    # a transcript quote names the speaker of the quoted turn, not the chunk's first speaker
    turn = Sources().cite(CALL, "Bookings rose 12% in the quarter.")
    assert turn["speaker"] == "Ben" and turn["turn_start"] == 7
    assert Citation(1, CALL, "Bookings rose 12%", 1.0).to_dict()["speaker"] == "Ana"


def test_an_answer_serialises_its_citations_in_that_shape():
    cite = Citation(1, PDF, "Net sales were $412.6 million", 1.0, (), False, True)
    ans = Answer(question="q", rewritten="q", text="Net sales were $412.6 million [1].",
                 citations=[cite], abstained=False, hits=[], model="m")
    out = json.loads(json.dumps(ans.to_dict()))
    assert out["citations"] == [cite.to_dict()]
    assert list(out["citations"][0]) == CITATION_FIELDS


def test_every_command_names_the_document_doc_id_and_doc_name(cli, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("Battery swaps take four minutes at the Lyon depot.")
    rc, out, _ = cli("ingest", str(folder), "--json", "-w", "Team")
    assert rc == 0
    ingest = json.loads(out)
    rc, out, _ = cli("docs", "--json", "-w", "Team")
    docs = json.loads(out)
    rc, out, _ = cli("search", "battery swaps", "--json", "-k", "1", "-w", "Team")
    hits = json.loads(out)
    for rows in (ingest, docs, hits):
        assert rows and all(r["doc_name"] == "notes" and r["doc_id"] for r in rows)
    assert ingest[0]["doc_id"] == docs[0]["doc_id"] == hits[0]["doc_id"]
    assert ingest[0]["name"] == docs[0]["name"] == "notes"  # kept for older scripts
