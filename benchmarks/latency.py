"""Answer latency as an analyst feels it: time to evidence, to the first words, to the whole answer.

    .venv/bin/python benchmarks/latency.py --data-dir /tmp/bench/fb [--limit N] [--model KEY]
                                           [--variants full,compact] [--out rows.jsonl]

Each FinanceBench question (and each demo question, over the demo workspace in the same data
dir) goes through `services.answerer(ws)` exactly as the Ask page asks it, once per variant
on the same loaded model (all questions with one variant, then with the next):

  full     today's prompt on main: every retrieved passage at full focus length, up to 400
           generated tokens, no saved prefix states (llama.cpp still reuses the last prompt's
           evaluated prefix, as it did on main)
  compact  the product now: fewer, shorter passages for a narrow question, 220 tokens at
           most, the fixed prompt prefix kept evaluated across other prompts (saved states)

Times (seconds from pressing Enter): evidence = the `Evidence` yield (retrieval and
focusing done, before any model work); first = the first answer text on the page (a computed
figure or the model's first piece); full = the checked answer. p50/p95 over the questions.
Where the time goes, per answer-prompt model call (llama.cpp's own counters): prompt tokens,
tokens reused from the evaluated prefix, tokens evaluated, prefill tokens/s, tokens generated.
Quality on the same questions, so speed is not bought with wrong answers: the share of
answers whose every sentence passed the claim check (answered, none removed), the share
abstaining, and on FinanceBench the gold number in the answer and a cited evidence page.

The model is loaded and warmed (`Services.warm`) before the timings, as the app does at start;
the load and warm-up times are printed apart. Run under the CPU lock, in the background:
about a minute a question for both variants on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table
from answer import answer_has_gold_number
from retrieval import ensure_financebench, evidence_pages, load_questions, open_services

VARIANTS = {
    # prompt mode, max generated tokens, saved prefix states
    "full": ("full", 400, 0),
    "compact": ("compact", None, 3),
}


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; nan when empty."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class Recorder:
    """The chat model, passed through, keeping llama.cpp's figures of every call."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name = model.name
        self.calls: list[tuple[str, dict]] = []

    def stream(self, messages, max_tokens: int = 512, temperature: float = 0.0) -> Iterator[str]:
        yield from self.model.stream(messages, max_tokens=max_tokens, temperature=temperature)
        last = getattr(self.model, "last", None)
        kind = messages[0].content[:30] if messages and messages[0].role == "system" else ""
        self.calls.append((kind, last.to_dict() if last is not None else {}))


def ensure_demo(services, log) -> Any:
    from rag.ui.demo import DEMO_WORKSPACE, demo_uploads

    ws = services.workspace(DEMO_WORKSPACE, create=True)
    if not ws.documents():
        log("ingesting the demo documents...")
        for rep in services.ingestor(ws).iter_ingest(demo_uploads()):
            log(f"  {rep.filename}: {rep.status} {rep.message}")
    return ws


def ask(services, ws, model: Recorder, variant: str, question: str) -> dict:
    from rag.answer import Answer, Evidence

    mode, max_tokens, states = VARIANTS[variant]
    model.model.prefix_states = states
    kw = {"max_tokens": max_tokens} if max_tokens else {}
    answerer = services.answerer(ws, model=model, prompt=mode, **kw)
    model.calls.clear()
    t0 = time.perf_counter()
    evidence_s = first_s = None
    final = None
    for part in answerer.stream(question):
        now = time.perf_counter() - t0
        if isinstance(part, Evidence):
            evidence_s = now
        elif isinstance(part, str) and first_s is None and part.strip():
            first_s = now
        elif isinstance(part, Answer):
            final = part
    full_s = time.perf_counter() - t0
    assert final is not None
    called = answerer.last_prompt is not None
    answer_call = model.calls[-1][1] if called and model.calls else {}
    return {"variant": variant, "question": question, "evidence_s": evidence_s,
            "first_s": first_s, "full_s": full_s, "answer": final.text, "raw": final.raw,
            "abstained": final.abstained, "rejected": len(final.rejected),
            "computed": final.computation is not None and not called,
            "model_called": called, "shown": answerer.last_prompt.shown if called else [],
            "llm": answer_call, "other_calls": model.calls[:-1] if called else list(model.calls),
            "all_passed": (not final.abstained and not final.rejected),
            "cited": sorted({f"{c.chunk.doc_name} p{c.chunk.page}" for c in final.citations}),
            "hits": [f"{h.chunk.doc_name} p{h.chunk.page}" for h in final.hits]}


def summary(rows: list[dict], label: str) -> list[list[object]]:
    out = []
    for v in VARIANTS:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        called = [r for r in rs if r["model_called"]]
        out.append([f"{label} {v}", len(rs),
                    pct([r["evidence_s"] for r in rs], .5), pct([r["evidence_s"] for r in rs], .95),
                    pct([r["first_s"] for r in rs], .5), pct([r["first_s"] for r in rs], .95),
                    pct([r["full_s"] for r in rs], .5), pct([r["full_s"] for r in rs], .95),
                    len(called),
                    pct([r["first_s"] for r in called], .5),
                    pct([r["full_s"] for r in called], .5)])
    return out


def where(rows: list[dict], label: str) -> list[list[object]]:
    out = []
    for v in VARIANTS:
        calls = [r["llm"] for r in rows if r["variant"] == v and r["llm"]]
        if not calls:
            continue
        pre = sum(c["evaluated_tokens"] for c in calls) / max(1e-9, sum(c["prefill_s"] for c in calls))
        gen = sum(c["generated_tokens"] for c in calls) / max(1e-9, sum(c["generate_s"] for c in calls))
        med = {k: statistics.median(c[k] for c in calls) for k in calls[0]
               if k != "restored"}
        out.append([f"{label} {v}", len(calls), med["prompt_tokens"], med["reused_tokens"],
                    med["evaluated_tokens"], med["prefill_s"], pre, med["generated_tokens"],
                    med["generate_s"], gen,
                    sum(c["restored"] for c in calls)])
    return out


def quality(rows: list[dict], label: str, gold: bool) -> list[list[object]]:
    out = []
    for v in VARIANTS:
        rs = [r for r in rows if r["variant"] == v]
        if not rs:
            continue
        n = len(rs)
        numeric = [r for r in rs if r.get("gold_number") is not None]
        row: list[object] = [f"{label} {v}", n, sum(r["all_passed"] for r in rs) / n,
                             sum(r["abstained"] for r in rs) / n]
        if gold:
            row += [sum(bool(r["gold_number"]) for r in numeric) / len(numeric) if numeric
                    else float("nan"), sum(r["cited_evidence"] for r in rs) / n]
        else:
            row += [float("nan"), float("nan")]
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True,
                    help="the FinanceBench workspace's data dir (built once, then reused)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N FinanceBench questions")
    ap.add_argument("--model", default=None,
                    help="a packaged model key or GGUF path (default: the embedded default)")
    ap.add_argument("--variants", default="full,compact")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo questions")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON row per answer")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            sys.exit(f"unknown variant '{v}': {', '.join(VARIANTS)}")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    from rag.llm.providers import ModelConfig
    from rag.ui.demo import DEMO_QUESTIONS

    services = open_services(args.data_dir)
    fb = ensure_financebench(services, log)
    demo = None if args.no_demo else ensure_demo(services, log)
    cfg = ModelConfig(provider="local", model=args.model) if args.model else None
    t = time.perf_counter()
    inner = services.chat_model(cfg)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    services.warm(cfg)
    warm_s = time.perf_counter() - t
    warm_stats = inner.last.to_dict() if getattr(inner, "last", None) else {}
    model = Recorder(inner)
    for ws in filter(None, (fb, demo)):  # keyword indexes loaded outside the timings
        services.searcher(ws).retrieve("warm up", k=5)
    log(f"model {inner.name}: loaded in {load_s:.1f} s, warmed in {warm_s:.1f} s {warm_stats}")

    work: list[tuple[str, Any, dict]] = [("financebench", fb, q)
                                         for q in load_questions()[: args.limit]]
    if demo is not None:
        work += [("demo", demo, {"question": q}) for q in DEMO_QUESTIONS]
    rows: list[dict] = []
    # One variant after the other over all questions, as an analyst asks them: interleaving
    # them would let the second variant reuse the first's evaluated prompt of the same question.
    for v in variants:
        for i, (label, ws, q) in enumerate(work, 1):
            row = ask(services, ws, model, v, q["question"])
            row["set"] = label
            if label == "financebench":
                gold = evidence_pages(q)
                row["id"] = q["financebench_id"]
                row["gold_number"] = answer_has_gold_number(q["answer"], q["question"],
                                                            row["raw"] or row["answer"])
                row["cited_evidence"] = bool({tuple(c.rsplit(" p", 1)) for c in row["cited"]}
                                             & {(d, str(p)) for d, p in gold})
            rows.append(row)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
            llm = row["llm"]
            log(f"[{i}/{len(work)}] {label} {v}: evidence {row['evidence_s']:.2f} s, first "
                f"{row['first_s'] or float('nan'):.2f} s, full {row['full_s']:.2f} s"
                + (f"; prompt {llm['prompt_tokens']} tok, reused {llm['reused_tokens']}, "
                   f"evaluated {llm['evaluated_tokens']} in {llm['prefill_s']:.2f} s, "
                   f"generated {llm['generated_tokens']} in {llm['generate_s']:.2f} s"
                   if llm else " (no answer prompt)")
                + f"; passed all: {row['all_passed']}")

    print(f"Answer latency, model {inner.name} (loaded {load_s:.1f} s, warmed {warm_s:.1f} s), "
          f"{sum(1 for w in work if w[0] == 'financebench')} FinanceBench + "
          f"{sum(1 for w in work if w[0] == 'demo')} demo questions, seconds")
    head = ["set variant", "n", "evid p50", "evid p95", "first p50", "first p95", "full p50",
            "full p95", "model n", "model first p50", "model full p50"]
    body = []
    for label in ("financebench", "demo"):
        body += summary([r for r in rows if r["set"] == label], label)
    body += summary(rows, "all")
    print(table(body, head))
    print("\nWhere the time goes (answer-prompt calls; medians, rates over all calls):")
    wbody = []
    for label in ("financebench", "demo"):
        wbody += where([r for r in rows if r["set"] == label], label)
    print(table(wbody, ["set variant", "calls", "prompt tok", "reused tok", "evaluated tok",
                        "prefill s", "prefill tok/s", "generated tok", "generate s",
                        "gen tok/s", "restored"]))
    print("\nQuality on the same questions (shares):")
    qbody = quality([r for r in rows if r["set"] == "financebench"], "financebench", True)
    qbody += quality([r for r in rows if r["set"] == "demo"], "demo", False)
    print(table(qbody, ["set variant", "n", "every sentence passed", "abstained",
                        "gold number", "cited evidence page"]))


if __name__ == "__main__":
    main()
