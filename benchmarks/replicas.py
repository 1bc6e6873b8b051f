"""Two app replicas on one Chroma server and one PostgreSQL, against the single-process default.

    .venv/bin/python benchmarks/replicas.py [--rounds 5] [--repeats 20]

Starts, in a temporary folder, a throwaway PostgreSQL cluster (Debian's `postgresql`, as the
tests do) and `chroma run`; builds two `Services` with their own data directories on them (two
replicas: separate Chroma clients, separate keyword-index folders, one shared database) and one
single-process default (Chroma on disk, SQLite in its data dir), all with the app's default
embedder. The demo documents (`data/`) are ingested into each setup.

Measured, in the same run:
  propagation  `--rounds` times: a new document (its own rare words) is ingested through
               replica 1; from the moment that ingest returns, replica 2 searches until it finds
               the document, by keyword (BM25 only: its saved index must notice the change and
               rebuild) and by meaning (dense only). Also: a question logged on replica 2
               until replica 1's question log shows it.
  search       hybrid search (k=5, as Ask runs it, no focusing) over 12 questions, `--repeats`
               times each: p50/p95 per setup (default; replica 1; replica 2), the keyword
               index warm (as after the first question), in interleaved order.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the server starters the suites use

QUESTIONS = [
    "What was revenue in the second quarter?", "gross margin guidance for the year",
    "Which customers complained about battery life?", "action items from the planning meeting",
    "operating expenses compared with last year", "Who asked about pricing on the call?",
    "What did the CFO say about free cash flow?", "delivery delays in Europe",
    "decisions about the product roadmap", "churn among enterprise customers",
    "headcount plans for next quarter", "What risks were mentioned?",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = (len(xs) - 1) * q
    lo, hi = int(i), min(int(i) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def until(check, within: float = 60.0) -> float:
    """Seconds until `check()` is truthy (polled back to back, as a busy user would)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > within:
            return float("inf")
        time.sleep(0.02)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    import servers  # tests/servers.py (imports conftest: RAG_* variables are cleared)

    from rag.answer import Answer
    from rag.config import Settings
    from rag.ingest.pipeline import Upload
    from rag.services import build_embedder, build_services

    demo = [Upload(p.name, data=p.read_bytes()) for p in sorted((ROOT / "data").iterdir())
            if p.suffix in (".txt", ".vtt", ".csv")]
    tmp = Path(tempfile.mkdtemp(prefix="ragdesk-bench-replicas-"))
    embedder = build_embedder(Settings())
    embedder.embed(["warm up"])
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(servers.postgres_server())
        chroma = stack.enter_context(servers.chroma_server(tmp / "chroma"))
        single = build_services(Settings(data_dir=tmp / "single"), embedder=embedder)
        r1, r2 = (build_services(Settings(data_dir=tmp / f"replica{i}", chroma_url=chroma,
                                          database_url=pg), embedder=embedder) for i in (1, 2))
        name = "Bench replicas"
        t = time.perf_counter()
        single.ingest_files(name, demo)
        t_single = time.perf_counter() - t
        t = time.perf_counter()
        r1.ingest_files(name, demo)
        t_shared = time.perf_counter() - t
        ws_single, ws1, ws2 = single.workspace(name), r1.workspace(name), r2.workspace(name)
        s_single, s1, s2 = single.searcher(ws_single), r1.searcher(ws1), r2.searcher(ws2)
        print(f"demo documents ({len(demo)} files) ingested: single-process {t_single:.2f} s, "
              f"through replica 1 {t_shared:.2f} s")

        # -- propagation ----------------------------------------------------------------------
        lexical, dense, question = [], [], []
        for i in range(args.rounds):
            s2.search("warm", k=5, mode="lexical")  # replica 2's index is built, for the old set
            word = f"zircon{i}lisbon"
            text = (f"Memo {i}: the Beacon arm ships {word} batteries to the Porto warehouse "
                    f"in week {i + 20}; the {word} order is final.").encode()
            r1.ingestor(ws1).ingest_many([Upload(f"memo-{i}.txt", data=text)])
            doc, said = f"memo-{i}", text.decode()
            lexical.append(until(lambda w=word, d=doc: any(
                h.chunk.doc_name == d for h in s2.search(w, k=5, mode="lexical"))))
            dense.append(until(lambda t=said, d=doc: any(
                h.chunk.doc_name == d for h in s2.search(t, k=5, mode="dense"))))
            answer = Answer(question=f"Where do the {word} batteries go?", rewritten="",
                            text="Porto", citations=[], abstained=False, hits=[],
                            model="bench", seconds=0.1)
            log1 = r1.question_log(ws1)
            start = time.perf_counter()
            r2.log_answer(ws2, answer)
            question.append(time.perf_counter() - start + until(
                lambda q=answer.question, log=log1: any(r.question == q for r in log.records())))

        # -- search latency -------------------------------------------------------------------
        setups = {"single-process default": s_single, "replica 1 (shared)": s1,
                  "replica 2 (shared)": s2}
        times: dict[str, list[float]] = {k: [] for k in setups}
        for s in setups.values():
            s.search(QUESTIONS[0], k=5)  # warm: keyword index loaded, connections open
        for _ in range(args.repeats):
            for q in QUESTIONS:
                for label, s in setups.items():
                    t = time.perf_counter()
                    s.search(q, k=5)
                    times[label].append(time.perf_counter() - t)

        def fmt(xs: list[float]) -> str:
            return (f"median {statistics.median(xs):.3f} s, max {max(xs):.3f} s "
                    f"({', '.join(f'{x:.3f}' for x in xs)})")

        print(f"\npropagation, replica 1 -> replica 2 ({args.rounds} rounds, from the end of "
              "the ingest):")
        print(f"  keyword (BM25, index rebuilt): {fmt(lexical)}")
        print(f"  vector (dense):                {fmt(dense)}")
        print(f"  question logged on 2, seen in 1's log: {fmt(question)}")
        n = len(QUESTIONS) * args.repeats
        print(f"\nhybrid search k=5, {n} searches each (ms):")
        print(f"  {'setup':<24} {'p50':>8} {'p95':>8} {'mean':>8}")
        for label, xs in times.items():
            print(f"  {label:<24} {pct(xs, .5) * 1000:8.1f} {pct(xs, .95) * 1000:8.1f} "
                  f"{statistics.mean(xs) * 1000:8.1f}")
        for svc in (single, r1, r2):
            with contextlib.suppress(Exception):
                svc.client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
