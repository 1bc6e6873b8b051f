"""The finance vocabulary as data: the packaged lexicon holds what the code held, retrieval and
claim checking behave exactly as before with it (1,698 real FinanceBench and TAT-QA questions),
and another lexicon (or none) really changes what they do."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT
from shared_data import financebench_questions, tatqa_dev

from rag import claims
from rag.errors import RagError
from rag.retrieve import dense_expansion, expand_query, glossary_terms, plan_query, tokenize
from rag.text.lexicon import FINANCE, Lexicon, finance

# sha256 of json.dumps([GLOSSARY, STATEMENTS, sorted(_LOWER_IS_BETTER)]) as rag/retrieve.py and
# rag/claims.py held them in code (main at 5708b8c), and of the outputs below computed there.
VOCAB_SHA = "c8d262b581defa64cb8a9398b1d05af8a500536ccb6efbe20bcf090927dbbbda"
OUTPUTS_SHA = "cc93f775d3fe9b0a9a6414c355a5eece24ba4f7bafcaa0f98bfbac0708cc25eb"


def test_the_packaged_lexicon_is_the_vocabulary_the_code_held():
    raw = json.dumps([dict(FINANCE.glossary), FINANCE.statements,
                      sorted(FINANCE.lower_is_better)])
    assert hashlib.sha256(raw.encode()).hexdigest() == VOCAB_SHA
    assert finance() is FINANCE and FINANCE.name == "finance"
    assert FINANCE.glossary["capex"][0] == "purchases of property, plant and equipment"


# sha256 of json.dumps([METRICS, sorted(_GROWTH_OF), PRIORITY, sorted(POSITIVE),
# sorted(NEGATIVE)]) as rag/analytics/summaries/extract.py held them in code (main at c511670).
EXTRACT_SHA = "a53b494b334fdafc45a78c85557cec5296ae6e1fc3d5f2a2ac5a79a3eb02aa1d"


def test_the_packaged_lexicon_holds_the_extraction_vocabulary_the_code_held():
    raw = json.dumps([[list(m) for m in FINANCE.metrics], sorted(FINANCE.growth_metrics),
                      {m: FINANCE.metric_rank(m) for m in FINANCE.metric_order},
                      sorted(FINANCE.tone_positive), sorted(FINANCE.tone_negative)])
    assert hashlib.sha256(raw.encode()).hexdigest() == EXTRACT_SHA
    assert FINANCE.metric_rank("revenue") == 0 and FINANCE.metric_rank("backlog growth") == 50
    assert [n for rx, n in FINANCE.metric_patterns if rx.fullmatch("adjusted EBITDA margin")] \
        == ["EBITDA margin"]
    none = Lexicon.empty()
    assert none.metrics_re.search("revenue") is None and none.metric_patterns == []
    with pytest.raises(RagError, match="not a valid pattern"):
        Lexicon.from_dict({"metrics": [["revenue(", "revenue"]]}, "x")
    with pytest.raises(RagError, match="as a list"):
        Lexicon.from_dict({"metrics": ["revenue"]}, "x")
    with pytest.raises(RagError, match="malformed"):
        Lexicon.from_dict({"metrics": [["revenue", "revenue", "extra"]]}, "x")


def test_the_lexicon_file_is_package_data():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = meta["tool"]["setuptools"]["package-data"]["rag.text"]
    here = ROOT / "rag" / "text"
    assert any(list(here.glob(g)) == [here / "lexicons" / "finance.toml"] for g in globs)


def _outputs(questions: list[str], paragraphs: list[str]) -> list:
    out: list = [[expand_query(q), glossary_terms(q), dense_expansion(q), plan_query(q).dense,
                  plan_query(q).lexical, list(plan_query(q).hints)] for q in questions]
    out.append([round(claims.support_of(q, p, glossary=True), 6)
                for q, p in zip(questions, paragraphs)])
    out.append([claims.direction_claimed(p) for p in paragraphs])
    return out


def test_retrieval_and_claims_give_what_they_gave_on_real_questions():
    qs = [q["question"] for q in financebench_questions()]
    data = tatqa_dev()
    qs += [q["question"] for d in data for q in d["questions"]]
    paras = [p["text"] for d in data for p in d["paragraphs"]]
    assert len(qs) == 1698
    out = _outputs(qs, paras)
    assert sum(o[0] != q for o, q in zip(out, qs)) == 374  # the glossary expands these
    assert hashlib.sha256(json.dumps(out).encode()).hexdigest() == OUTPUTS_SHA


def test_no_lexicon_means_no_finance_shaping():
    q = "What was 3M's capex in the cash flow statement?"
    none = Lexicon.empty()
    assert expand_query(q, none) == q and dense_expansion(q, none) == q
    assert glossary_terms(q, none) == []
    assert expand_query(q) != q and glossary_terms(q) == [
        ("capex", "purchases of property, plant and equipment")]
    plan = plan_query("Using the balance sheet, answer: what was capex?", none)
    assert plan.lexical == plan.core == plan.dense
    # "improved" of a cost says nothing about the sign in finance; with no lexicon it is up
    assert claims.direction_claimed("Costs improved by 5% compared to 2021.") == 0
    assert claims.direction_claimed("Costs improved by 5% compared to 2021.", none) == 1
    passage = "Purchases of property, plant and equipment were $1,577 million."
    assert claims.support_of("capex was high", passage, glossary=True) > \
        claims.support_of("capex was high", passage, glossary=True, lexicon=none)


def test_another_workspace_brings_its_own_vocabulary(tmp_path: Path):
    path = tmp_path / "clinical.toml"
    path.write_text('name = "clinical"\nlower_is_better = ["mortality"]\n'
                    'statements = [["adverse events table", "safety summary"]]\n'
                    '[glossary]\n"side effects" = ["adverse events", "adverse reactions"]\n')
    lex = Lexicon.load(path)
    assert lex.name == "clinical"
    q = "Which side effects were reported in the trial?"
    assert {"adverse", "event", "reaction"} <= set(tokenize(expand_query(q, lex)))
    assert glossary_terms(q, lex) == [("side effects", "adverse events")]
    assert dense_expansion(q, lex) == q + " (adverse events)"
    assert expand_query(q) == q  # the finance lexicon knows nothing of it
    assert "summary" in tokenize(plan_query("Where is the adverse events table?", lex).lexical)
    assert claims.direction_claimed("Mortality improved versus 2021 placebo.", lex) == 0
    js = tmp_path / "same.json"
    js.write_text(json.dumps({"glossary": {"side effects": ["adverse events"]}}))
    assert Lexicon.load(js).glossary == {"side effects": ("adverse events",)}


def test_a_broken_lexicon_gets_a_clear_message(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[glossary\n")
    with pytest.raises(RagError, match="cannot read the lexicon"):
        Lexicon.load(bad)
    with pytest.raises(RagError, match="at least one phrasing"):
        Lexicon.from_dict({"glossary": {"capex": []}}, "x")
    with pytest.raises(RagError, match="as a list"):
        Lexicon.from_dict({"glossary": {"capex": "capital expenditures"}}, "x")
    with pytest.raises(RagError, match="malformed"):
        Lexicon.from_dict({"glossary": ["capex"]}, "x")
    with pytest.raises(RagError, match="cannot read"):
        Lexicon.load(tmp_path / "missing.toml")


OLD_METRIC_HINT = (  # rag/followup.py _METRIC_HINT, as it was in code
    r"\b(?:revenue|sales|margin|income|profit|earnings|eps|ebitda|cash|capex|capital|debt|"
    r"expenses?|costs?|tax|rate|dividends?|assets?|liabilit\w+|equity|guidance|growth|"
    r"bookings|backlog|headcount|employees|price|shares?|ratio|return|inventory|payables?|"
    r"receivables?|spend\w*|investment|amortization|depreciation|r&d|research|opex|arr|"
    r"segment|customers?|orders?|units?|volume|outlook|forecast|accuracy|rating|complaints?|"
    r"feedback|risk\w*|lawsuits?|acquisitions?|strategy|plan\w*|roadmap|tariffs?|supply|"
    r"production|deliveries|margin)\b")


def test_follow_up_detection_reads_metric_words_from_the_lexicon(tmp_path: Path):
    from rag.followup import is_followup, resolved_history

    assert FINANCE.metric_re.pattern == OLD_METRIC_HINT
    companies = ["PepsiCo", "3M"]
    # with the finance words a short metric question stands alone; with none it follows up
    assert not is_followup("PepsiCo revenue?", companies)
    assert is_followup("PepsiCo revenue?", companies, Lexicon.empty())
    path = tmp_path / "clinical.toml"
    path.write_text('metric_words = ["dosage", "adverse events?"]\n')
    clinical = Lexicon.load(path)
    assert not is_followup("Trial dosage?", lexicon=clinical)
    assert is_followup("Trial dosage?")
    assert resolved_history(["PepsiCo revenue in 2022?", "3M revenue?"], companies) == \
        "3M revenue?"
    with pytest.raises(RagError, match="not a valid pattern"):
        Lexicon.from_dict({"metric_words": ["costs?("]}, "x")


# -- the lexicon is chosen per workspace, kept with its side state (rag.services) -------------

CAPEX_DOCS = {
    "cashflow.txt": b"Purchases of property, plant and equipment were $1,577 million in 2022.",
    "plan.txt": b"Our capex plan for 2022 was approved by the board in March.",
}


def _services_with(services, lexicon: str):
    """Services over the same store and data dir, with `settings.lexicon` set."""
    from rag.services import Services

    return Services(settings=services.settings.model_copy(update={"lexicon": lexicon}),
                    client=services.client, embedder=services.embedder)


def test_a_workspace_with_no_lexicon_is_not_shaped_by_finance(services):
    from fakes import ScriptedChat

    services.ingest_files("Capex", list(CAPEX_DOCS.items()))
    q = "What was capex?"
    note = "'capex' is written 'purchases of property, plant and equipment' in filings"
    for choice, finance_on in ((None, True), ("finance", True), ("none", False)):
        svc = services
        if choice is not None:
            svc.set_lexicon(svc.workspace("Capex", recover=True), choice)
        ws = svc.workspace("Capex")
        assert (svc.lexicon(ws).name == "finance") is finance_on
        # keyword search: 'capex' finds the cash-flow line only through the finance glossary
        found = {h.chunk.doc_name for h in svc.searcher(ws).search(q, k=5, mode="lexical")}
        assert found == ({"cashflow", "plan"} if finance_on else {"plan"})
        # the answer prompt tells the model the filing phrasing only with the finance lexicon
        chat = ScriptedChat("The capex plan for 2022 was approved in March [1].")
        svc.answerer(ws, model=chat, figures=False).ask(q)
        assert chat.calls and (note in chat.calls[-1]) is finance_on


def test_the_lexicon_setting_names_finance_none_or_a_file(tmp_path: Path):
    from rag.text.lexicon import lexicon_named

    assert lexicon_named("finance") is FINANCE and lexicon_named("") is FINANCE
    assert lexicon_named("none").glossary == {} and lexicon_named("none").name == "none"
    path = tmp_path / "clinical.toml"
    path.write_text('[glossary]\n"side effects" = ["adverse events"]\n')
    assert lexicon_named(str(path)).glossary == {"side effects": ("adverse events",)}
    with pytest.raises(RagError, match="RAG_LEXICON"):
        lexicon_named(str(tmp_path / "missing.toml"))


def test_each_workspace_keeps_its_own_lexicon_and_the_setting_is_the_default(services, cli):
    """RAG_LEXICON is what a new workspace starts with; from then on the workspace keeps its
    own choice, so a finance workspace and one of other documents share one process."""
    from rag.analytics.summaries.brief import summarize_document
    from rag.auth.errors import RoleTooLow
    from rag.storage.side import WorkspaceSettings
    from rag.storage.tables import workspace_settings

    services.ingest_files("Filings", list(CAPEX_DOCS.items()))
    plain = _services_with(services, "none")
    plain.ingest_files("Plain", list(CAPEX_DOCS.items()))
    for svc in (services, plain):  # either process: each workspace reads with its own
        assert svc.lexicon(svc.workspace("Filings")) is FINANCE
        assert svc.lexicon(svc.workspace("Plain")).name == "none"
        found = {h.chunk.doc_name
                 for h in svc.searcher(svc.workspace("Plain")).search("capex?", mode="lexical")}
        assert found == {"plan"}
    # a workspace made before workspaces kept a choice follows the process's setting, as before
    ws = services.workspace("Filings")
    with services.side_engine.begin() as con:
        con.execute(workspace_settings.delete().where(
            workspace_settings.c.workspace == ws.collection_name))
    assert services.lexicon_choice(ws) == "finance" and plain.lexicon_choice(ws) == "none"

    # choosing another drops the briefs made with the old one, and is audited
    w = services.workspace("Filings", recover=True)
    doc = w.documents()[0]
    store = services.summary_store()
    summarize_document(w, doc, "general", None, store=store, lexicon=services.lexicon(w))
    assert store.list(w.collection_name)
    assert services.set_lexicon(w, " NONE ") == "none"
    assert WorkspaceSettings(services.side_engine).get(w.collection_name, "lexicon") == "none"
    assert store.list(w.collection_name) == []
    assert services.lexicon(services.workspace("Filings")).name == "none"
    (rec,) = [e for e in services.access.trail.query(workspaces=[w.collection_name])
              if e.action == "workspace.lexicon"]
    assert rec.detail == {"before": "finance", "after": "none"}
    with pytest.raises(RagError, match="no lexicon named"):
        services.set_lexicon(w, "/nonexistent/lexicon.toml")
    services.access.memberships.set(w.collection_name, "viewer@x.io", "viewer")
    with pytest.raises(RoleTooLow):
        viewer = services.as_user("viewer@x.io")
        viewer.set_lexicon(viewer.workspace("Filings"), "finance")

    # the CLI shows and sets it
    rc, out, _ = cli("lexicon", "Filings", "--json")
    assert rc == 0 and json.loads(out)["lexicon"] == "none"
    rc, out, _ = cli("lexicon", "Filings", "--set", "finance", "--json")
    shown = json.loads(out)
    assert rc == 0 and shown["lexicon"] == "finance" and shown["metrics"] == 40
    assert services.lexicon(services.workspace("Filings")) is FINANCE
