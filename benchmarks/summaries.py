"""Summaries: quality and speed of RAGdesk briefs against main's briefs and a one-prompt
baseline, same model, same run.

    .venv/bin/python benchmarks/summaries.py [--part ect|qmsum|both] [--limit-ect 30]
        [--limit-qmsum 35] [--longest-ect] [--baseline-ref main|none] [--no-baseline]
        [--out rows.jsonl] [--no-model] [--budget S]

Data: ECTSum validation calls (`../shared/data/ectsum/val`: transcript, reference bullets) and
QMSum validation meetings (`../shared/data/qmsum/val`: turns, the general query's answer), the
first N of each in file-name order (`--longest-ect` adds the longest call, about 9,000 words).
Each document is loaded and chunked exactly as ingestion does (no embedding is needed to
summarise). Systems per document:

  ours       `summarize(chunks, kind, model)` of this checkout: pattern-extracted tables +
             map-reduce cited prose by the embedded model ("earnings" for calls, "meeting")
  main       the same call on the code of `--baseline-ref` (default: the main branch, exported
             with `git archive` and run in a child process before ours, same data, same model)
  extractive the same with no model (tables + central sentences), for reference
  baseline   the tutorial summary: the first N tokens of the text stuffed into one prompt
             ("Summarize ... in bullet points"), N filling the model's context, same model
             (skipped with --no-baseline)

Figures:
  R1/R2/RL        ROUGE-1/2/L F1 (our implementation: rag/analytics/summaries/rouge.py; no
                  stemming) of the system's text against the reference. For ours, "bullets" is
                  the summary bullets alone, "brief" adds one line per figure and guidance row
  numbers present share of the reference's numbers (2+ digits or a decimal; years included)
                  that appear in the system's text
  numbers correct share that appear in a line (bullet or table row) naming the same metric as
                  the reference line (revenue, EPS, margin...; a reference line that names no
                  metric: presence counts)
  s/doc           seconds per document (mean); per brief: seconds and model calls of each

Rows are appended to --out as they finish, so a long run can be polled.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `--code DIR`: import `rag` from DIR (the child process that runs the baseline ref's code).
_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(ROOT)
sys.path.insert(0, _CODE)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from rag.analytics.summaries import extract as ex
from rag.analytics.summaries import summarize
from rag.analytics.summaries.rouge import rouge
from rag.answer import numbers_in, sanitize_passage
from rag.config import Settings
from rag.ingest.chunking import chunk_document
from rag.ingest.loaders import load
from rag.llm.base import Message

DATA = ROOT.parent / "shared" / "data"
ECT = DATA / "ectsum" / "val"
QMSUM = DATA / "qmsum" / "val"
BASELINE_TOKENS = 300
BASELINE_PROMPT = {
    "earnings": "Summarize the following earnings call transcript in bullet points.",
    "meeting": "Summarize the following meeting transcript.",
}
_CITE = re.compile(r"\s*\[\d{1,4}\]")


def ect_docs(limit: int, longest: bool = False):
    files = sorted((ECT / "ects").glob("*.txt"))
    picked = files[:limit]
    if longest:
        top = max(files, key=lambda f: f.stat().st_size)
        if top not in picked:
            picked.append(top)
    for f in picked:
        ref = (ECT / "gt_summaries" / f.name).read_text(encoding="utf-8")
        yield f.stem, f.read_bytes(), f.name, ref


def qmsum_docs(limit: int):
    for f in sorted(QMSUM.glob("*.json"))[:limit]:
        d = json.loads(f.read_text(encoding="utf-8"))
        lines = [f"{t['speaker']}: {' '.join(t['content'].split())}"
                 for t in d["meeting_transcripts"] if t["content"].strip()]
        ref = d["general_query_list"][0]["answer"]
        yield f.stem, "\n".join(lines).encode("utf-8"), f.stem + ".txt", ref


def chunks_of(data: bytes, filename: str, settings: Settings):
    doc = load(data, filename, settings)
    return chunk_document(doc, "bench", settings.chunk_chars), doc


def baseline(model, chunks, kind: str) -> str:
    """The tutorial: the first tokens that fit the context, one prompt, no citations."""
    ctx = int(getattr(model, "n_ctx", 4096) or 4096)
    room = ctx - BASELINE_TOKENS - 120
    count = getattr(model, "count_tokens", None)
    text = "\n".join(c.text for c in chunks)
    if count is not None:
        if count(text) > room:  # cut on characters, then trim to the token budget
            text = text[: room * 4]
            while count(text) > room:
                text = text[: int(len(text) * 0.95)]
    else:
        text = text[: room * 4]
    msgs = [Message("system", "You are a helpful assistant."),
            Message("user", f"{BASELINE_PROMPT[kind]}\n\n{sanitize_passage(text)}")]
    return "".join(model.stream(msgs, max_tokens=BASELINE_TOKENS, temperature=0.0))


def brief_lines(b, with_tables: bool) -> list[str]:
    lines = [_CITE.sub("", x.text) for x in b.summary]
    if with_tables:
        lines += [" ".join(str(v) for v in (r["metric"], r["period"], r["value"], r["change"])
                           if v) for r in b.figures]
        lines += [" ".join(str(v) for v in (r["metric"], r["period"], "guidance", r["value"],
                                            r["direction"]) if v) for r in b.guidance]
        lines += [" ".join(str(v) for v in (r["owner"], r["task"], r["due"]) if v)
                  for r in b.action_items]
    return lines


try:  # the metrics a brief names: the finance lexicon's (data since issue 11)
    from rag.text.lexicon import FINANCE

    _METRIC_ANY, _METRIC_ONE = FINANCE.metrics_re, FINANCE.metric_patterns
except (ImportError, AttributeError):  # a baseline ref (--code) from before they were data
    _METRIC_ANY, _METRIC_ONE = ex._METRIC_RE, ex._METRIC_ONE  # type: ignore[attr-defined]


def _metrics_of(text: str) -> set[str]:
    out = set()
    for m in _METRIC_ANY.finditer(text):
        out.add(next(name for rx, name in _METRIC_ONE if rx.fullmatch(m.group(0))))
    return out


def _ref_numbers(line: str) -> set[str]:
    return {n for n in numbers_in(line) if len(n.replace(".", "")) >= 2 or "." in n}


def number_scores(lines: list[str], reference: str) -> tuple[int, int, int]:
    """(reference numbers, present in our text, present in a line naming the same metric)."""
    total = present = correct = 0
    ours = [(numbers_in(x), _metrics_of(x)) for x in lines]
    every = set().union(*(n for n, _ in ours)) if ours else set()
    for ref_line in reference.splitlines():
        want = _metrics_of(ref_line)
        for n in _ref_numbers(ref_line):
            total += 1
            if n in every:
                present += 1
                if not want or any(n in nums and (mets & want) for nums, mets in ours):
                    correct += 1
    return total, present, correct


def scores(lines: list[str], reference: str) -> dict[str, float]:
    text = "\n".join(lines)
    r = rouge(text, reference)
    total, present, correct = number_scores(lines, reference)
    return {**r, "num_total": total, "num_present": present, "num_correct": correct,
            "words": len(text.split())}


def run(part: str, docs, kind: str, model, args, out, variant: str = "ours") -> list[dict]:
    """Brief every document; `variant` names the fields ('main': the baseline ref's code,
    model briefs only)."""
    settings = Settings()
    rows = []
    for name, data, filename, ref in docs:
        chunks, _doc = chunks_of(data, filename, settings)
        words = sum(len(c.text.split()) for c in chunks)
        row: dict = {"part": part, "doc": name, "words": words, "chunks": len(chunks)}
        if variant == "ours":
            t = time.perf_counter()
            ext = summarize(chunks, kind, None)
            row["extractive_s"] = time.perf_counter() - t
            row["extractive"] = scores(brief_lines(ext, False), ref)
            row["extractive_brief"] = scores(brief_lines(ext, True), ref)
        if model is not None:
            kw = {"budget_s": args.budget} if args.budget else {}
            t = time.perf_counter()
            b = summarize(chunks, kind, model, **kw)
            row[f"{variant}_s"] = time.perf_counter() - t
            row[f"{variant}_calls"] = b.calls
            row[f"{variant}_method"] = b.method
            row[f"{variant}_model_bullets"] = sum(x.origin == "model" for x in b.bullets)
            row[f"{variant}_flagged"] = sum(bool(x.flags) for x in b.bullets)
            row[variant] = scores(brief_lines(b, False), ref)
            row[f"{variant}_brief"] = scores(brief_lines(b, True), ref)
            if variant == "ours" and not args.no_baseline:
                t = time.perf_counter()
                base = baseline(model, chunks, kind)
                row["baseline_s"] = time.perf_counter() - t
                row["baseline"] = scores([ln for ln in base.splitlines() if ln.strip()], ref)
        rows.append(row)
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"{variant} {part} {name}: {words} words, {row.get(f'{variant}_s', 0):.0f} s, "
              f"{row.get(f'{variant}_calls', 0)} model calls, R1 "
              f"{row.get(variant, row.get('extractive', {})).get('rouge1', 0):.3f}",
              file=sys.stderr, flush=True)
    return rows


def run_ref(ref: str, args) -> list[dict]:
    """The baseline: this script on `ref`'s code (git archive), in a child process."""
    tmp = Path(tempfile.mkdtemp(prefix="ragdesk-bench-"))
    code = tmp / "code"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "rag"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    out = tmp / "rows.jsonl"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--code", str(code), "--variant",
           "main", "--out", str(out), "--part", args.part, "--limit-ect", str(args.limit_ect),
           "--limit-qmsum", str(args.limit_qmsum), "--no-baseline"]
    if args.longest_ect:
        cmd.append("--longest-ect")
    if args.budget:
        cmd += ["--budget", str(args.budget)]
    print(f"baseline: {ref} ({code}), in a child process", file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    rows = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def merge(rows: list[dict], base: list[dict]) -> list[dict]:
    by = {(r["part"], r["doc"]): r for r in base}
    for r in rows:
        b = by.get((r["part"], r["doc"]))
        if b:
            r.update({k: v for k, v in b.items() if k.startswith("main")})
    return rows


def report(rows: list[dict], part: str, ref: str = "main") -> None:
    rows = [r for r in rows if r["part"] == part]
    if not rows:
        return
    systems = [("ours (bullets)", "ours", "ours_s"), ("ours (whole brief)", "ours_brief", "ours_s"),
               (f"{ref} (bullets)", "main", "main_s"),
               (f"{ref} (whole brief)", "main_brief", "main_s"),
               ("extractive (bullets)", "extractive", "extractive_s"),
               ("extractive (whole brief)", "extractive_brief", "extractive_s"),
               ("baseline (first N tokens)", "baseline", "baseline_s")]
    out = []
    for label, key, tkey in systems:
        have = [r for r in rows if key in r]
        if not have:
            continue
        tot = sum(r[key]["num_total"] for r in have) or 1
        out.append([label, len(have),
                    statistics.mean(r[key]["rouge1"] for r in have),
                    statistics.mean(r[key]["rouge2"] for r in have),
                    statistics.mean(r[key]["rougeL"] for r in have),
                    sum(r[key]["num_present"] for r in have) / tot,
                    sum(r[key]["num_correct"] for r in have) / tot,
                    statistics.mean(r[key]["words"] for r in have),
                    statistics.mean(r[tkey] for r in have)])
    title = {"ect": "ECTSum val calls vs reference bullets",
             "qmsum": "QMSum val meetings vs the general query's answer"}[part]
    print(f"\n{title} ({len(rows)} documents, {statistics.mean(r['words'] for r in rows):,.0f} "
          f"words on average, max {max(r['words'] for r in rows):,})")
    print(table(out, ["system", "docs", "R1", "R2", "RL", "numbers present",
                      "numbers correct", "words out", "s/doc"]))
    if any("ours_s" in r or "main_s" in r for r in rows):
        per = [[r["doc"], r["words"], r.get("main_s", float("nan")), r.get("main_calls", "-"),
                r.get("ours_s", float("nan")), r.get("ours_calls", "-"),
                r.get("main", {}).get("rouge1", float("nan")),
                r.get("ours", {}).get("rouge1", float("nan"))] for r in rows]
        print("\nper brief:")
        print(table(per, ["document", "words", f"{ref} s", f"{ref} calls", "ours s",
                          "ours calls", f"{ref} R1", "ours R1"]))
        for key, label in (("main_s", ref), ("ours_s", "ours")):
            xs = [r[key] for r in rows if key in r]
            if xs:
                print(f"{label}: median {statistics.median(xs):.0f} s, max {max(xs):.0f} s per "
                      "brief")
        longest = max(rows, key=lambda r: r["words"])
        print(f"longest document: {longest['doc']}, {longest['words']:,} words: ours "
              f"{longest.get('ours_s', float('nan')):.0f} s ({longest.get('ours_calls')} model "
              f"calls), {ref} {longest.get('main_s', float('nan')):.0f} s "
              f"({longest.get('main_calls')} model calls)")
        for v in ("ours", "main"):
            mb = sum(r.get(f"{v}_model_bullets", 0) for r in rows)
            fl = sum(r.get(f"{v}_flagged", 0) for r in rows)
            if any(f"{v}_s" in r for r in rows):
                print(f"{ref if v == 'main' else v}: model-written bullets kept: {mb} "
                      f"({mb / len(rows):.1f} per document), flagged by the citation check: {fl}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", choices=["ect", "qmsum", "both"], default="both")
    p.add_argument("--limit-ect", type=int, default=30)
    p.add_argument("--limit-qmsum", type=int, default=35)
    p.add_argument("--longest-ect", action="store_true", help="add the longest ECTSum call")
    p.add_argument("--no-model", action="store_true", help="extractive only (seconds in all)")
    p.add_argument("--no-baseline", action="store_true", help="skip the first-N-tokens prompt")
    p.add_argument("--baseline-ref", default="main",
                   help="git ref whose briefs are the baseline ('none' to skip)")
    p.add_argument("--budget", type=float, default=0.0,
                   help="the model's time budget (default: each version's own)")
    p.add_argument("--out", default="/tmp/summaries-bench.jsonl")
    p.add_argument("--report", help="only print the figures of an existing --out file")
    p.add_argument("--code", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="ours", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.report:
        rows = [json.loads(x) for x in Path(args.report).read_text().splitlines() if x.strip()]
        for part in ("ect", "qmsum"):
            report(rows, part, args.baseline_ref)
        return
    base: list[dict] = []
    if args.variant == "ours" and not args.no_model and args.baseline_ref != "none":
        base = run_ref(args.baseline_ref, args)
    model = None
    if not args.no_model:
        from rag.llm.providers import config_from_settings, make_chat_model

        s = Settings()
        model = make_chat_model(config_from_settings(s), s)
        print(f"model: {model.name}, context {getattr(model, 'n_ctx', '?')}, threads "
              f"{s.threads}", file=sys.stderr)
    rows: list[dict] = []
    with open(args.out, "a", encoding="utf-8") as out:
        if args.part in ("ect", "both"):
            rows += run("ect", ect_docs(args.limit_ect, args.longest_ect), "earnings", model,
                        args, out, args.variant)
        if args.part in ("qmsum", "both"):
            rows += run("qmsum", qmsum_docs(args.limit_qmsum), "meeting", model, args, out,
                        args.variant)
    if args.variant != "ours":
        return
    rows = merge(rows, base)
    for part in ("ect", "qmsum"):
        report(rows, part, args.baseline_ref)


if __name__ == "__main__":
    main()
