"""Answer quality and speed of the embedded local model on the 30 FinanceBench questions.

    .venv/bin/python benchmarks/answer.py [--limit N] [--data-dir DIR] [--model-path X.gguf]
                                          [--out answers.jsonl] [--verbose]

Each question goes through `services.answerer(ws)` exactly as the app asks it (hybrid retrieval
with question focusing, k=5, the local model at temperature 0). Figures:

  cited evidence   share of questions where ANY citation of the answer points at an evidence
                   page (document and page; `evidence_page_num` is 0-indexed, pages are 1-based)
  evidence given   share where an evidence page is among the 5 passages the model was given
                   (the retrieval ceiling for the two figures above and below)
  gold number      among questions whose gold answer states a quantity (see `gold_quantities`),
                   share whose answer contains one of those quantities (`numbers_match`)
  abstained        share of answers that say the documents do not hold the answer
  first token / full   median seconds from the question to the first streamed piece / to the
                   checked answer (retrieval included; abstentions by the relevance gate never
                   call the model and have no first token)

Each question is classified for the failure list: ok, retrieval miss (no evidence page among
the passages), abstained despite evidence, model error (evidence given, but the number or the
cited page is wrong). Rows are appended to `--out` as they finish, so a long run can be polled.
The workspace is the one `benchmarks/retrieval.py` builds: pass the same `--data-dir` to reuse
it. A 2-core machine takes ~10-60 s a question: run in the background.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, table
from retrieval import ensure_financebench, evidence_pages, load_questions, open_services

# --- numbers --------------------------------------------------------------------------------

_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "mm": 1e6, "m": 1e6,
           "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12}
_CITE_RE = re.compile(r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]")
_GLUED_SCALES = {"m", "mn", "mm", "b", "bn", "tn"}  # "1.6B"; but "10K" is a filing
_QTY_RE = re.compile(
    r"(?<![\w.])(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<x>[a-z]\w*)?"  # glued letters: "777X", "10K", "2Q" are names, "1.6B" a scale
    r"\s?(?P<pct>%|percent\b|percentage points?\b|pp\b)?"
    r"\s?(?P<scale>thousand|million|billion|trillion|mn|mm|bn|tn|k|m|b)?(?![a-z])",
    re.IGNORECASE,
)


class Qty:
    """A number as written: its value (sign dropped), scale word, and whether it is a percent."""

    __slots__ = ("cur", "pct", "scale", "text", "value")

    def __init__(self, value: float, scale: float, pct: bool, cur: bool, text: str) -> None:
        self.value, self.scale, self.pct, self.cur, self.text = value, scale, pct, cur, text

    def __repr__(self) -> str:
        return f"Qty({self.text!r})"


def quantities(text: str) -> list[Qty]:
    """Every number in `text`: '$1,577.00' -> 1577, '1.6B' -> 1.6 x 1e9, '-14.76%' -> 14.76 %."""
    out = []
    for m in _QTY_RE.finditer(text):
        glued = (m.group("x") or "").lower()
        scale_word = (m.group("scale") or "").lower()
        if glued:
            if glued in _GLUED_SCALES and not scale_word:
                scale_word = glued
            else:
                continue  # a name like "777X" or "10K", not a quantity
        value = abs(float(m.group("num").replace(",", "")))
        out.append(Qty(value, _SCALES.get(scale_word, 1.0), bool(m.group("pct")),
                       bool(m.group("cur")), m.group(0).strip()))
    return out


def _is_year(q: Qty) -> bool:
    return (q.value.is_integer() and 1900 <= q.value <= 2099 and q.scale == 1.0
            and not q.pct and not q.cur)


def gold_quantities(gold: str, question: str = "") -> list[Qty]:
    """The quantities a gold answer states: numbers with a currency sign, a percent, a scale
    word, a decimal point or at least four digits; years and numbers already in the question
    (e.g. 'more than 20%') left out, and so are bare small integers ('737 and 787')."""
    asked = {(q.value, q.pct) for q in quantities(question)}
    out = []
    for q in quantities(gold):
        has_decimal = "." in q.text
        big = q.value >= 1000
        if _is_year(q) or (q.value, q.pct) in asked:
            continue
        if q.cur or q.pct or q.scale != 1.0 or has_decimal or big:
            out.append(q)
    return out


def _close(a: float, b: float, rel: float = 0.01) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) or a == b


def numbers_match(gold: Qty, got: Qty) -> bool:
    """Same quantity within 1%, as written or in another scale unit.

    '1577' (USD millions implied) matches '1,577', '$1,577 million', '$1.577 billion' and
    '1,577,000,000'; '8,400,000,000' matches '8.4 billion'; '30.8%' matches '30.8' and 0.308.
    A shift by a power of 1000 is accepted only when one side writes a scale word, or when
    the gold has none and the other side is a full written-out figure.
    """
    if gold.pct and not got.pct:
        # "30.8" for 30.8% is fine, but a bare "1" (a list number) is no "1 percentage point".
        return (gold.value >= 10 and _close(gold.value, got.value)) or (
            got.value < 1 and _close(gold.value, 100 * got.value))
    if _close(gold.value, got.value):
        return True
    if _close(gold.value * gold.scale, got.value * got.scale):
        return True
    # Implied units ("in USD millions" in the question): the same digits in another scale.
    if got.scale != 1.0 or gold.scale != 1.0 or max(got.value, gold.value) >= 1e6:
        for k in (-3, -2, -1, 1, 2, 3):
            if _close(gold.value, got.value * 1000.0 ** k):
                return True
    return False


def answer_has_gold_number(gold: str, question: str, answer: str) -> bool | None:
    """True/False when the gold states a quantity; None when it states none."""
    wanted = gold_quantities(gold, question)
    if not wanted:
        return None
    got = quantities(_CITE_RE.sub(" ", answer))  # "[1]" is a citation, not a number
    return any(numbers_match(g, a) for g in wanted for a in got)


def _self_test() -> None:
    q = lambda s: quantities(s)[0]
    assert q("$1,577.00").value == 1577 and q("$1,577.00").cur
    assert q("1.6B").scale == 1e9 and q("-14.76%").value == 14.76 and q("-14.76%").pct
    assert q("(370)").value == 370
    assert [x.text for x in quantities("the 737, 777X and 787 in 10K filings")] == ["737", "787"]
    assert [x.value for x in gold_quantities("$1577.00")] == [1577]
    assert [x.value for x in gold_quantities("Yes. 39% of revenue", "more than 20%?")] == [39]
    assert not gold_quantities("a 2018 Lion Air crash and a 2019 crash")
    assert not gold_quantities("rates for the 737, 777X and 787 aircrafts in 2023.")
    assert [x.value for x in gold_quantities("Raised EPS growth by 1 percentage point.")] == [1]
    assert [x.value for x in gold_quantities("93.86")] == [93.86]
    yes = [("$1577.00", "Capital expenditure was $1,577 million [1]."),
           ("$1577.00", "3M spent $1.577 billion on PP&E [2]."),
           ("$1577.00", "Purchases of PP&E were 1,577,000,000 dollars."),
           ("$1577.00", "about $1,580 million"),                 # within 1%
           ("$8,400,000,000.", "They may borrow $8.4 billion in total."),
           ("$400,000,000 increase.", "increased by $400 million [1]"),
           ("30.8%", "Revenue grew 30.8 percent."),
           ("16.5%", "The EBITDA margin is 0.165."),
           ("0.62%, compared to -14.76% in FY2021", "the rate was (14.8)%"),
           ("93.86", "DPO is 93.9 days"),
           ("by 1 percentage point", "raised it by 1 percentage point to 9% [1]")]
    no = [("$1577.00", "Capital expenditure was $1,488 million [1]."),
          ("$1577.00", "in 2018 the company [1]"),
          ("$8.70", "The ratio is 0.87."),                   # 10x off is not a scale unit
          ("$1577.00", "It spent 1.577 dollars."),           # no scale anywhere: no shift
          ("16.5%", "The margin was 15.5%."),
          ("93.86", "In Q2 2023 (FY2023Q2) DPO was 86.93"),
          ("$411 million", "Restructuring charges were $4.11 per share"),
          ("by 1 percentage point", "1. Guidance was raised to 9% [1]."),
          ("0.9%", "The consumer segment [1] fell 2.9% (0.9 of it FX)")]
    for gold, ans in yes:
        assert answer_has_gold_number(gold, "", ans), (gold, ans)
    for gold, ans in no:
        assert not answer_has_gold_number(gold, "", ans), (gold, ans)
    assert answer_has_gold_number("Yes, it's spinning off Upjohn.", "", "Yes.") is None


_self_test()


# --- the run ----------------------------------------------------------------------------------


def classify(row: dict) -> str:
    if not row["evidence_given"]:
        return "retrieval miss" + (" (abstained)" if row["abstained"] else "")
    if row["abstained"]:
        return "abstained despite evidence (" + ("relevance gate" if row["gate"] else "model") + ")"
    wrong = []
    if row["gold_number"] is False:
        wrong.append("number")
    if not row["cited_evidence"]:
        wrong.append("cited page")
    return "model error (" + ", ".join(wrong) + ")" if wrong else "ok"


def prompt_tokens(model, question: str, ans) -> int | None:
    """Tokens of the prompt the model was given (local models only; None when not called)."""
    from rag.answer import build_messages

    if ans.first_token_s is None or not hasattr(model, "count_tokens"):
        return None
    return sum(model.count_tokens(m.content) for m in build_messages(ans.rewritten, ans.hits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="reuse the workspace benchmarks/retrieval.py ingested (default: temp)")
    ap.add_argument("--model-path", default=None, help="a GGUF to use instead of the default")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON row per question")
    ap.add_argument("--verbose", action="store_true", help="print each answer as it finishes")
    args = ap.parse_args()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ragdesk-answerbench-")
        args.data_dir = Path(tmp.name)
    services = open_services(args.data_dir)
    ws = ensure_financebench(services, log)
    from rag.llm.providers import ModelConfig

    cfg = ModelConfig(provider="local", model=args.model_path) if args.model_path else None
    t = time.perf_counter()
    model = services.chat_model(cfg)
    load_s = time.perf_counter() - t
    answerer = services.answerer(ws, model=model)
    answerer.retriever.retrieve("warm up", k=5)  # BM25 index built outside the timings
    log(f"model {model.name} loaded in {load_s:.1f} s")

    questions = load_questions()[: args.limit]
    rows = []
    for i, q in enumerate(questions, 1):
        gold_pages = evidence_pages(q)
        ans = answerer.ask(q["question"])
        cited = {(c.chunk.doc_name, c.chunk.page) for c in ans.citations}
        given = {(h.chunk.doc_name, h.chunk.page) for h in ans.hits}
        row = {
            "id": q["financebench_id"], "question": q["question"], "gold": q["answer"],
            "answer": ans.text, "raw": ans.raw, "abstained": ans.abstained,
            "cited": sorted(f"{d} p{p}" for d, p in cited),
            # the passages in the order the model saw them: marker [n] is given[n-1]
            "given": [f"{h.chunk.doc_name} p{h.chunk.page}" for h in ans.hits],
            "gold_pages": sorted(f"{d} p{p}" for d, p in gold_pages),
            "cited_evidence": bool(cited & gold_pages),
            "evidence_given": bool(given & gold_pages),
            "gold_number": answer_has_gold_number(q["answer"], q["question"], ans.raw or ans.text),
            "first_token_s": ans.first_token_s, "seconds": ans.seconds, "flags": ans.flags,
            # abstained before the model was called (the relevance gate)
            "gate": ans.abstained and ans.first_token_s is None,
            "prompt_tokens": prompt_tokens(model, q["question"], ans),
        }
        row["verdict"] = classify(row)
        rows.append(row)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
        log(f"[{i}/{len(questions)}] {row['id']} {row['verdict']} "
            f"({ans.seconds:.1f} s, first token {ans.first_token_s or float('nan'):.1f} s)")
        if args.verbose:
            log(f"    Q: {q['question'][:120]}\n    gold: {q['answer'][:120]!r}\n"
                f"    answer: {ans.text[:300]!r}\n    raw: {ans.raw[:300]!r}\n"
                f"    cited: {row['cited']}")

    n = len(rows)
    numeric = [r for r in rows if r["gold_number"] is not None]
    answered = [r for r in rows if not r["abstained"]]
    firsts = [r["first_token_s"] for r in rows if r["first_token_s"] is not None]
    print(f"FinanceBench answers: {n} questions, model {model.name} "
          f"(loaded in {load_s:.1f} s), hybrid+focus retrieval, k=5")
    figures = [
        ["cited page is an evidence page", sum(r["cited_evidence"] for r in rows) / n, n],
        ["evidence page among the 5 passages", sum(r["evidence_given"] for r in rows) / n, n],
        ["gold number in the answer (numeric golds)",
         (sum(bool(r["gold_number"]) for r in numeric) / len(numeric)) if numeric
         else float("nan"), len(numeric)],
        ["abstained", sum(r["abstained"] for r in rows) / n, n],
        ["median s to first token (model called)", median(firsts), len(firsts)],
        ["median prompt tokens (model called)",
         median([r["prompt_tokens"] for r in rows if r["prompt_tokens"]]),
         sum(1 for r in rows if r["prompt_tokens"])],
        ["median s to full answer (all)", median([r["seconds"] for r in rows]), n],
        ["median s to full answer (answered)", median([r["seconds"] for r in answered]),
         len(answered)],
    ]
    print(table(figures, ["figure", "value", "n"]))
    verdicts: dict[str, list[str]] = {}
    for r in rows:
        verdicts.setdefault(r["verdict"], []).append(r["id"].rsplit("_", 1)[-1])
    print("\nverdicts:")
    for v, ids in sorted(verdicts.items(), key=lambda kv: -len(kv[1])):
        print(f"  {v}: {len(ids)}  ({', '.join(ids)})")


if __name__ == "__main__":
    main()
