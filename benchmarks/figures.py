"""Numeric answers on real filings: computed from cited cells vs the model reading passages.

    .venv/bin/python benchmarks/figures.py [--data-dir DIR] [--limit N] [--model-path X.gguf]
                                           [--skip-model] [--compare-pdfplumber]

On the FinanceBench questions whose gold answer states a quantity (`answer.gold_quantities`),
each question is asked twice in the same run, through `services.answerer(ws)` exactly as the
app asks it: with computation (the product's default) and with computation switched off
(`figures=False`, the model-only path of earlier releases), same model, same workspace.

  gold figure    share whose answer contains the gold quantity (within 1%, any scale)
  wrong figure   share that states a figure but not the gold one (abstentions excluded)
  says missing   share that names the operand it could not find instead of answering
  computed       share answered by computation (no model call)
  s/answer       median seconds to the full answer

Then table extraction on the 10 dev PDFs: tables (pages with cells under one header), cells,
seconds per page (extraction only, the page text being read once by the bounded child).
With --compare-pdfplumber (pdfplumber installed), the same line reader over pdfplumber's
layout text instead of pdfium's, for the cells recovered and the seconds per page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, pdf_paths, table
from answer import answer_has_gold_number, gold_quantities, quantities
from retrieval import ensure_financebench, load_questions, open_services

_MARKER_RE = re.compile(r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]")


def stated_wrong(ans, gold: str, question: str) -> bool:
    """A figure is stated (beyond those in the question; citation markers such as [1] are not
    figures) and none is the gold one."""
    if ans.abstained:
        return False
    asked = {(q.value, q.pct) for q in quantities(question)}
    stated = [q for q in quantities(_MARKER_RE.sub(" ", ans.text))
              if (q.value, q.pct) not in asked
              and not (q.value.is_integer() and 1900 <= q.value <= 2099)]
    if not stated:
        return False
    comp = ans.computation or {}
    if comp.get("result"):
        # a computed answer is judged by what it concludes (each result it computes, and the
        # change it states), not by the operands it lists
        results = [comp["result"], comp.get("judgement") or ""]
        results += [p.get("result") or "" for p in comp.get("periods", [])]
        return not answer_has_gold_number(gold, question, " ".join(results))
    return not answer_has_gold_number(gold, question, ans.text)


def run_answers(svc, ws, questions, figures: bool, model, log) -> dict:
    answerer = svc.answerer(ws, model=model, figures=figures)
    gold_hit = wrong = missing = computed = 0
    secs = []
    rows = []
    for i, q in enumerate(questions, 1):
        t = time.perf_counter()
        ans = answerer.ask(q["question"])
        secs.append(time.perf_counter() - t)
        hit = bool(answer_has_gold_number(q["answer"], q["question"], ans.text))
        bad = stated_wrong(ans, q["answer"], q["question"])
        miss = bool(ans.computation and ans.computation.get("missing"))
        comp = bool(ans.computation and ans.computation.get("result"))
        gold_hit += hit
        wrong += bad
        missing += miss
        computed += comp
        rows.append({"question": q["question"], "gold": q["answer"], "answer": ans.text,
                     "hit": hit, "wrong": bad, "missing": miss, "computed": comp})
        log(f"  [{'on' if figures else 'off'} {i}/{len(questions)}] "
            f"{'OK ' if hit else 'BAD' if bad else '-- '} {secs[-1]:5.1f}s "
            f"{q['question'][:70]!r} -> {' '.join(ans.text.split())[:90]!r}")
    n = len(questions)
    return {"n": n, "gold": gold_hit, "wrong": wrong, "missing": missing,
            "computed": computed, "median_s": median(secs), "rows": rows}


def refresh_cells(svc, ws, log) -> None:
    """Read every filing's cells again with this checkout's extractor (a kept workspace may
    hold cells from an older one), exactly as ingestion does."""
    from rag.figures.extract import extract_cells
    from rag.ingest.loaders import load

    store = svc.figure_store(ws)
    by_name = {p.stem: p for p in pdf_paths()}
    t = time.perf_counter()
    for d in ws.documents():
        p = by_name.get(d.name)
        if p is not None:
            store.put(d.doc_id, extract_cells(load(p.read_bytes(), p.name, svc.settings),
                                              d.doc_id))
    log(f"cells read again in {time.perf_counter() - t:.0f} s")


def extraction_figures(pdfs: list[Path], settings, plumber: bool = False) -> dict:
    from rag.figures.extract import extract_cells
    from rag.ingest.loaders import load

    pages = cells = tables = 0
    secs = 0.0
    for p in pdfs:
        doc = load(p.read_bytes(), p.name, settings)
        if plumber:
            doc = _plumber_doc(p, doc)
        t = time.perf_counter()
        cs = [c for c in extract_cells(doc, p.stem) if c.source == "table"]
        secs += time.perf_counter() - t + doc.meta.get("_plumber_s", 0.0)
        pages += int(doc.meta.get("pages") or len(doc.units))
        cells += len(cs)
        tables += len({(c.page, c.table, c.column.split()[0] if c.column else "") for c in cs})
    return {"pdfs": len(pdfs), "pages": pages, "tables": tables, "cells": cells,
            "ms_per_page": 1000 * secs / max(1, pages)}


def _plumber_doc(path: Path, doc):
    """The same document with each page's text from pdfplumber (layout-preserving text)."""
    import dataclasses

    import pdfplumber

    from rag.types import Unit

    t = time.perf_counter()
    units = []
    with pdfplumber.open(str(path)) as pdf:
        for i, page in enumerate(pdf.pages):
            units.append(Unit(text=page.extract_text() or "", page=i + 1))
    meta = {**doc.meta, "_plumber_s": time.perf_counter() - t}
    return dataclasses.replace(doc, units=tuple(units), meta=meta)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model-path", default=None, help="GGUF file or packaged model key")
    ap.add_argument("--skip-model", action="store_true",
                    help="computation only (no model-only baseline): seconds, not minutes")
    ap.add_argument("--compare-pdfplumber", action="store_true")
    ap.add_argument("--extraction-only", action="store_true",
                    help="only the table-extraction figures (no workspace, no answers)")
    ap.add_argument("--out", type=Path, default=None, help="write every answer as JSONL")
    args = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)

    if args.model_path:
        os.environ["RAG_LOCAL_MODEL_PATH"] = args.model_path
    if args.extraction_only:
        from rag.config import Settings

        print_extraction(Settings(pdf_timeout_s=1800), args.compare_pdfplumber)
        return
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="ragdesk-figures-"))
    svc = open_services(data_dir)
    ws = ensure_financebench(svc, log)
    refresh_cells(svc, ws, log)
    questions = [q for q in load_questions() if gold_quantities(q["answer"], q["question"])]
    questions = questions[: args.limit] if args.limit else questions
    model = None
    runs = {"computed from cells (default)": run_answers(svc, ws, questions, True, model, log)}
    if not args.skip_model:
        runs["model only (computation off)"] = run_answers(svc, ws, questions, False, model,
                                                           log)
    n = len(questions)
    print(f"\nFinanceBench questions with a numeric gold answer: {n} (same workspace, same run)")
    print(table([[name, f"{r['gold']}/{n}", f"{r['wrong']}/{n}", f"{r['missing']}/{n}",
                  f"{r['computed']}/{n}", f"{r['median_s']:.2f}"] for name, r in runs.items()],
                ["path", "gold figure", "wrong figure", "says missing", "computed",
                 "s/answer (median)"]))
    if args.out:
        with args.out.open("w") as f:
            for name, r in runs.items():
                for row in r["rows"]:
                    f.write(json.dumps({"path": name, **row}) + "\n")

    print_extraction(svc.settings, args.compare_pdfplumber)


def print_extraction(settings, plumber: bool) -> None:
    ex = {"pdfium page text (default)": extraction_figures(pdf_paths(), settings)}
    if plumber:
        ex["pdfplumber text"] = extraction_figures(pdf_paths(), settings, plumber=True)
    print("\nTable extraction on the dev PDFs")
    print(table([[k, v["pdfs"], v["pages"], v["tables"], v["cells"], f"{v['ms_per_page']:.1f}"]
                 for k, v in ex.items()],
                ["reader", "PDFs", "pages", "tables", "cells", "ms/page"]))


if __name__ == "__main__":
    main()
