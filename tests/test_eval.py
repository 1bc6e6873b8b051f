"""Evaluation sets and retrieval metrics: the loader's errors, recall@k and MRR on hand-made
cases, `ragdesk eval`, the history of runs, and a real run on FinanceBench questions."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import FINANCEBENCH_PDFS, RAGDESK, cli_env
from shared_data import financebench_questions

from rag.errors import RagError
from rag.eval.dataset import EvalQuestion, EvalSetError, load_eval_set, parse_eval_set
from rag.eval.history import EvalHistory, runs_frame
from rag.eval.retrieval import evaluate, is_hit, match_documents, metrics, norm_name, results_frame
from rag.types import Chunk, DocumentInfo, Hit

# -- the loader ------------------------------------------------------------------------------------


def test_jsonl_and_csv_sets_are_read():
    data = (b'{"question": "What was capex?", "doc_name": "3M_2018_10K", "page": 60,'
            b' "answer": "$1577"}\n\n'
            b'{"question": "  Who spoke   first? ", "doc_name": "call.vtt", "page": null}\n'
            b'{"question": "Margins?", "doc_name": "X.pdf", "page": [62, 64], "extra": 1}\n')
    qs = parse_eval_set(data, "set.jsonl")
    assert [q.pages for q in qs] == [(60,), (), (62, 64)]
    assert qs[0].answer == "$1577" and qs[1].answer is None
    assert qs[1].question == "Who spoke first?" and qs[1].line == 3
    csv_data = ("\ufeffQuestion;Doc_Name;Page;Answer\n"
                "\"Revenue, in Q2?\";northwind_q2;;412.6\n"
                "Capex?;3M_2018_10K;60|61;\n").encode()
    qs = parse_eval_set(csv_data, "SET.CSV")
    assert [(q.question, q.doc_name, q.pages, q.answer) for q in qs] == [
        ("Revenue, in Q2?", "northwind_q2", (), "412.6"), ("Capex?", "3M_2018_10K", (60, 61),
                                                          None)]
    assert qs[0].to_dict()["page"] is None and qs[1].to_dict()["page"] == [60, 61]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("set.txt", b"question,doc_name\nq,d\n", "use a .jsonl or .csv file"),
    ("set.jsonl", b"  \n\n", "is empty"),
    ("set.jsonl", b'{"question": "a", "doc_name": "d"}\n{"question": "b", doc_name: 1}\n',
     "line 2 is not valid JSON"),
    ("set.jsonl", b'["a", "b"]\n', "line 1 is not a JSON object"),
    ("set.jsonl", b'{"doc_name": "d", "page": 1}\n', "line 1 has no question"),
    ("set.jsonl", b'{"question": "q", "page": 1}\n', "line 1 has no doc_name"),
    ("set.jsonl", b'{"question": "q", "doc_name": "d", "page": 0}\n', "pages count from 1"),
    ("set.jsonl", b'{"question": "q", "doc_name": "d", "page": "iv"}\n',
     "page 'iv' is not a page number"),
    ("set.jsonl", b'{"question": "q", "doc_name": "d", "page": 2.5}\n', "whole page number"),
    ("set.jsonl", b'{"question": "q", "doc_name": "d", "page": true}\n', "not a page number"),
    ("set.csv", b"query,document,page\nq,d,1\n", "has no 'question' and no 'doc_name' column"),
    ("set.csv", b"question,doc_name,page\nq,d,1\n,d,2\n", "line 3 has no question"),
    ("set.csv", b"question,doc_name\n", "has no questions"),
    ("set.csv", b"\x00\x01\x02binary\x00", "is not a text file"),
])
def test_bad_sets_are_refused_with_one_clear_sentence(name, data, expected):
    with pytest.raises(EvalSetError) as err:
        parse_eval_set(data, name)
    msg = str(err.value)
    assert expected in msg, msg
    assert "\n" not in msg and "Traceback" not in msg
    assert isinstance(err.value, RagError)


def test_load_eval_set_from_disk(tmp_path):
    with pytest.raises(EvalSetError, match="no such file"):
        load_eval_set(tmp_path / "missing.jsonl")
    p = tmp_path / "s.jsonl"
    p.write_text('{"question": "q", "doc_name": "d", "page": "3"}\n')
    assert load_eval_set(p)[0].pages == (3,)


# -- metrics ------------------------------------------------------------------------------------------


def test_recall_and_mrr_on_a_hand_made_case():
    recall, mrr = metrics([1, None, 3, 2], k=3)
    assert recall == pytest.approx(3 / 4)
    assert mrr == pytest.approx((1 + 0 + 1 / 3 + 1 / 2) / 4)
    recall, mrr = metrics([1, None, 3, 2], k=2)  # rank 3 is outside the top 2
    assert recall == pytest.approx(2 / 4) and mrr == pytest.approx((1 + 1 / 2) / 4)
    assert metrics([], 5) == (0.0, 0.0)


def _chunk(doc_id: str, page: int | None, i: int = 0) -> Chunk:
    return Chunk(id=f"{doc_id}-{page}-{i}", doc_id=doc_id, doc_name=doc_id.upper(), ordinal=i,
                 text="t", page=page)


def test_hit_rules_pages_and_unpaged_documents():
    assert is_hit(_chunk("a", 5), ["a"], (5,))
    assert not is_hit(_chunk("a", 4), ["a"], (5,))
    assert is_hit(_chunk("a", 4), ["a"], (3, 4))
    assert not is_hit(_chunk("b", 5), ["a"], (5,))
    assert is_hit(_chunk("a", 9), ["a"], ())  # no page given: any passage of the document
    assert is_hit(_chunk("a", None), ["a"], (5,))  # an unpaged document: the document counts


def test_documents_match_by_name_or_file_name():
    docs = [DocumentInfo("id1", "3M_2018_10K", "3M_2018_10K.pdf", "pdf", 160, 900, 1, 0.0),
            DocumentInfo("id2", "call", "Call.VTT", "transcript", 30, 12, 1, 0.0)]
    assert match_documents("3m_2018_10k", docs) == ["id1"]
    assert match_documents("3M_2018_10K.pdf", docs) == ["id1"]
    assert match_documents(" call.vtt ", docs) == ["id2"]
    assert match_documents("other", docs) == []
    assert norm_name("Report.v2.PDF") == "report.v2"


class FakeRetriever:
    """Returns scripted rankings, one per question, in order."""

    def __init__(self, docs, rankings):
        self.workspace = type("WS", (), {"documents": lambda self: docs, "name": "W",
                                         "embed_model": "fake"})()
        self.rankings = list(rankings)
        self.calls = []

    def search(self, query, k=5, focus=False):
        self.calls.append((query, k, focus))
        return [Hit(c, 1.0 / (i + 1)) for i, c in enumerate(self.rankings.pop(0)[:k])]


def test_evaluate_ranks_each_question():
    docs = [DocumentInfo("a", "Alpha", "Alpha.pdf", "pdf", 10, 10, 1, 0.0),
            DocumentInfo("t", "talk", "talk.vtt", "transcript", 10, 10, 1, 0.0)]
    qs = [EvalQuestion("q1", "Alpha", (5,)), EvalQuestion("q2", "Alpha.pdf", (5,)),
          EvalQuestion("q3", "talk", ()), EvalQuestion("q4", "Missing", (1,))]
    rankings = [
        [_chunk("a", 4), _chunk("a", 5), _chunk("t", None)],  # q1: hit at 2
        [_chunk("t", None), _chunk("a", 1), _chunk("a", 2)],  # q2: no hit
        [_chunk("a", 5), _chunk("a", 6), _chunk("t", None)],  # q3: hit at 3 (unpaged doc)
        [_chunk("a", 1)],  # q4: its document is not in the workspace
    ]
    r = FakeRetriever(docs, rankings)
    run = evaluate(r, qs, k=3, focus=False, set_name="hand.jsonl")
    assert [x.rank for x in run.results] == [2, None, 3, None]
    assert run.recall == pytest.approx(2 / 4)
    assert run.mrr == pytest.approx((1 / 2 + 1 / 3) / 4)
    assert r.calls[0] == ("q1", 3, False)
    assert run.missing_docs == ["Missing"]
    d = run.to_dict()
    assert d["questions"] == 4 and d["recall@k"] == 0.5 and d["recall@3"] == 0.5
    assert d["mrr"] == pytest.approx(0.2083, abs=1e-4) and d["k"] == 3
    assert [p["hit"] for p in d["per_question"]] == [True, False, True, False]
    assert d["per_question"][0]["retrieved"][1]["hit"] is True
    assert d["per_question"][3]["doc_found"] is False
    df = results_frame(run)
    assert list(df["rank"].astype("object").where(df["rank"].notna(), None)) == \
        [2, None, 3, None]
    with pytest.raises(EvalSetError):
        evaluate(FakeRetriever(docs, []), qs, k=0)


def test_history_keeps_runs_in_order(tmp_path):
    docs = [DocumentInfo("a", "Alpha", "Alpha.pdf", "pdf", 10, 10, 1, 0.0)]
    hist = EvalHistory(tmp_path, "rd-x-1")
    assert hist.runs() == [] and hist.result(1) is None
    for ranks in ([[_chunk("a", 5)]], [[_chunk("a", 4)]]):
        run = evaluate(FakeRetriever(docs, ranks), [EvalQuestion("q", "Alpha", (5,))], k=5,
                       settings={"chunk_chars": 1100})
        hist.add(run)
    runs = hist.runs()
    assert [r["recall"] for r in runs] == [1.0, 0.0] and runs[0]["settings"]["chunk_chars"] == 1100
    assert hist.result(runs[1]["id"])["per_question"][0]["hit"] is False
    df = runs_frame(runs)
    assert list(df["recall@k"]) == [1.0, 0.0] and list(df["chunk chars"]) == [1100, 1100]


# -- `ragdesk eval` (in-process, hashing embedder) ----------------------------------------------------------


def test_cli_eval_json_and_history(services, workspace, ingestor, monkeypatch, capsys, tmp_path):
    from rag import cli

    assert ingestor.ingest_bytes(b"The gripper dropped parcels twice during the night shift.",
                                 "warehouse.txt").ok
    assert ingestor.ingest_bytes(b"Revenue in the second quarter was $412.6 million.",
                                 "call.txt").ok
    monkeypatch.setattr(cli, "_services", lambda: services)
    eval_file = tmp_path / "set.jsonl"
    eval_file.write_text(
        json.dumps({"question": "gripper dropped parcels night shift", "doc_name": "warehouse",
                    "page": None}) + "\n"
        + json.dumps({"question": "revenue second quarter", "doc_name": "call.txt"}) + "\n"
        + json.dumps({"question": "anything", "doc_name": "not_here", "page": 2}) + "\n")
    code = cli.main(["eval", str(eval_file), "--workspace", workspace.name, "-k", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    d = json.loads(captured.out)
    assert d["questions"] == 3 and d["k"] == 1
    assert [p["hit"] for p in d["per_question"]] == [True, True, False]
    assert d["recall@k"] == pytest.approx(2 / 3, abs=1e-4) and d["mrr"] == d["recall@k"]
    assert "not_here" in captured.err  # the missing document is named
    hist = EvalHistory(services.settings.data_dir, workspace.collection_name)
    assert len(hist.runs()) == 1 and hist.runs()[0]["set"] == "set.jsonl"
    # A bad file: one line on stderr, exit code 2, nothing stored.
    bad = tmp_path / "bad.csv"
    bad.write_text("query,page\nq,1\n")
    assert cli.main(["eval", str(bad), "--workspace", workspace.name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the CSV has no 'question'") and err.count("\n") == 1
    assert cli.main(["eval", str(eval_file), "--workspace", workspace.name, "--no-save"]) == 0
    assert "recall@5" in capsys.readouterr().out and len(hist.runs()) == 1


# -- FinanceBench: the real embedder over two of its filings -------------------------------------------------

SMALL_FILINGS = ["PEPSICO_2023_8K_dated-2023-05-05", "PEPSICO_2023Q1_EARNINGS"]


def financebench_set(docs: list[str]) -> list[dict]:
    """FinanceBench questions about `docs`, pages made 1-based (the set's are 0-based)."""
    out = []
    for q in financebench_questions():
        if q["doc_name"] in docs:
            pages = sorted({e["evidence_page_num"] + 1 for e in q["evidence"]})
            out.append({"question": q["question"], "doc_name": q["doc_name"],
                        "page": pages if len(pages) > 1 else pages[0],
                        "answer": q["answer"]})
    return out


@pytest.mark.slow
def test_real_run_on_financebench_filings(tmp_path, real_embedder):
    from rag.config import Settings
    from rag.ingest.pipeline import Upload
    from rag.services import build_services

    rows = financebench_set(SMALL_FILINGS)
    assert len(rows) == 3
    settings = Settings(data_dir=tmp_path / "data")
    svc = build_services(settings, embedder=real_embedder)
    ws = svc.workspace("FinanceBench small", create=True)
    reports = svc.ingestor(ws).ingest_many(
        [Upload(f"{n}.pdf", path=FINANCEBENCH_PDFS / f"{n}.pdf") for n in SMALL_FILINGS])
    assert all(r.ok for r in reports), [r.message for r in reports]
    eval_file = tmp_path / "financebench_small.jsonl"
    eval_file.write_text("".join(json.dumps(r) + "\n" for r in rows))

    # In process: the runner itself, each question's evidence page looked for in the top 5.
    from rag.eval.dataset import load_eval_set as load

    run = evaluate(svc.searcher(ws), load(eval_file), k=5)
    assert run.questions == 3 and not run.missing_docs
    ranks = [r.rank for r in run.results]
    print(f"\n[financebench small] ranks {ranks} recall@5 {run.recall:.3f} MRR {run.mrr:.3f}")
    assert run.recall >= 2 / 3, ranks  # the evidence page is found for most questions
    for r in run.results:
        if r.hit:
            top = r.retrieved[r.rank - 1]
            assert top["doc_name"] == r.question.doc_name and top["page"] in r.question.pages
    # The command line gives the same figures (a fresh process, same workspace on disk).
    from conftest import close_client

    close_client(svc.client)
    out = subprocess.run([str(RAGDESK), "eval", str(eval_file), "--workspace",
                          "FinanceBench small", "-k", "5", "--json"],
                         env=cli_env(settings.data_dir), capture_output=True, text=True,
                         timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout)
    assert d["questions"] == 3
    assert d["recall@k"] == pytest.approx(run.recall, abs=1e-4)
    assert d["mrr"] == pytest.approx(run.mrr, abs=1e-4)
    assert [p["rank"] for p in d["per_question"]] == ranks
    assert len(EvalHistory(settings.data_dir, ws.collection_name).runs()) == 1
