"""Search at scale: a workspace of 100,000 chunks (and one of 10,000), search p50/p95, the
keyword index's build and load time, RSS, and where one query's time goes.

    .venv/bin/python benchmarks/scale.py build   [--root /tmp/scale] [--chunks 100000]
    .venv/bin/python benchmarks/scale.py measure [--root /tmp/scale] [--queries 200]

`build` writes generated filings (paged documents of realistic length and vocabulary: a Zipf
law over finance words and a long tail of rarer terms, numbers, years, table-like pages) through
the product's own pipeline (`Ingestor.index_parsed`: chunking, the default embedder, Chroma,
facts) into ROOT/data, once: it stops at the chunk count asked for and is reused when present
(run it under the CPU lock; embedding 100k chunks takes a while). The 10k workspace is the first
documents of the 100k one, copied with their embeddings (no second embedding run).

`measure` runs each measurement in a fresh child process (so RSS is that process's):
- the keyword index built from scratch (the index file removed first) and loaded by a new
  process (the file kept), seconds and RSS;
- `Retriever.search` (dense + keyword + page keyword + fusion, the product's path) and
  `Retriever.retrieve(focus=True)` (what Ask calls) over the FinanceBench question texts, p50
  and p95 after a warm-up, and the split of one query (embed, dense, keyword, fusion);
- the incremental path: one document added and one deleted, then the next query's time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import QUESTIONS, median, table

WS_BIG = "scale-100k"
WS_SMALL = "scale-10k"

# Common words of filings, roughly by frequency; the generator draws them by a Zipf law and
# mixes in a long tail of rarer (generated) terms, as real filings name products and places.
_COMMON_TEXT = """
the of and to in a for on as our by is we or are with be that from this at which net its
an total million were other not was have has these income year results operations financial
company may including such revenue sales cash tax assets based costs value products business
period related certain fiscal share shares increase decrease due compared primarily expenses
segment interest stock debt million billion percent liabilities equity statements consolidated
operating market customers rate investment capital fair management credit risk foreign currency
exchange benefit plan pension employees growth margin gross profit loss losses impairment
goodwill intangible acquisition acquisitions agreement agreements contract contracts lease
leases inventory inventories receivable receivables payable accounts reporting standards
accounting notes note securities common dividends dividend repurchase program outstanding
quarter quarterly annual report form commission exchange act under item part future new
continue continued expect expected believe significant material adverse changes change
factors uncertain conditions economic environment regulatory government legal proceedings
litigation matters claims provision provisions reserves estimates estimated judgments
accrued deferred revenue recognition performance obligations services service product
manufacturing supply chain raw materials energy prices pricing volume mix organic
international domestic united states europe asia latin america region regions geographic
research development innovation technology software systems data security cyber
properties facilities plant equipment depreciation amortization useful lives buildings
machinery borrowings notes senior unsecured revolving facility commercial paper maturity
maturities derivative instruments hedge hedging swaps contracts notional amounts
comprehensive accumulated translation adjustments retained earnings treasury additional
paid-in preferred basic diluted per earnings weighted average number outstanding options
restricted units compensation expense vesting grant granted exercised forfeited
operating activities investing activities financing activities purchases proceeds payments
"""
_COMMON = _COMMON_TEXT.split()
_SYLL_TEXT = ("al an ar bel cor den fin gar hal ion jet kor lum mar nor ol par quin ros sel tor ul "
         "ven wes xan yor zel tri pro tec dyn gen med lab chem pharm agri aero mot elec")
_SYLL = _SYLL_TEXT.split()
_COMPANIES_TEXT = ("Arbor Beacon Cobalt Delta Ember Falcon Granite Harbor Indigo Juniper Keystone "
              "Lumen Meridian Northwind Orion Pinnacle Quarry Redwood Summit Tundra Umbra Vertex "
              "Willow Xenon Yardley Zephyr Atlas Boreal Cascade Dune")
_COMPANIES = _COMPANIES_TEXT.split()
_FORMS = ("10K", "10Q", "8K", "EARNINGS")


def _tail_words(rng, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(_SYLL, size=int(rng.integers(1, 4)))))
    return sorted(out)


class Generator:
    """Deterministic filings: pages of prose and table-like lines from a Zipf vocabulary.

    Pages are drawn from a pool of sentences and table lines (filings repeat a lot of their
    wording), so each chunk's vector can be made from the real model's vectors of its pieces
    (`PooledEmbedder`) instead of running the model over 100k whole chunks."""

    def __init__(self, seed: int = 7, tail: int = 30_000, sentences: int = 30_000,
                 lines: int = 10_000) -> None:
        import numpy as np

        self.np = np
        self.rng = np.random.default_rng(seed)
        self.words = _COMMON + _tail_words(self.rng, tail)
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        p = ranks ** -1.07
        self.cdf = np.cumsum(p / p.sum())
        self.sentences = list(dict.fromkeys(self._sentence() for _ in range(sentences)))
        self.lines = list(dict.fromkeys(self._line() for _ in range(lines)))

    def _words(self, n: int) -> list[str]:
        idx = self.np.searchsorted(self.cdf, self.rng.random(n))
        return [self.words[min(i, len(self.words) - 1)] for i in idx]

    def _number(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return str(int(self.rng.integers(2015, 2025)))
        if r < 0.6:
            return f"{self.rng.integers(1, 99_999):,}"
        if r < 0.85:
            return f"{self.rng.random() * 1000:.1f}"
        return f"{self.rng.random() * 40:.1f}%"

    def _sentence(self) -> str:
        words = self._words(int(self.rng.integers(8, 28)))
        for i in range(len(words)):
            if self.rng.random() < 0.07:
                words[i] = self._number()
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    def _line(self) -> str:
        label = " ".join(self._words(int(self.rng.integers(2, 6)))).capitalize()
        return label + " " + " ".join(f"{self.rng.integers(1, 50_000):,}" for _ in range(3))

    def pieces(self) -> list[str]:
        return self.sentences + self.lines

    def prose_page(self) -> str:
        paras = []
        target = int(self.rng.lognormal(7.85, 0.35))  # about 2,600 characters a page
        size = 0
        while size < target:
            idx = self.rng.integers(0, len(self.sentences), size=int(self.rng.integers(2, 7)))
            para = " ".join(self.sentences[i] for i in idx)
            paras.append(para)
            size += len(para)
        return "\n\n".join(paras)

    def table_page(self) -> str:
        idx = self.rng.integers(0, len(self.lines), size=int(self.rng.integers(15, 40)))
        return "\n".join(["Amounts (in millions) 2023 2022 2021", *(self.lines[i] for i in idx)])

    def document(self, i: int, pages: int):
        import hashlib

        from rag.types import ParsedDocument, Unit

        company = f"{_COMPANIES[i % len(_COMPANIES)]} {_COMPANIES[(i // 7) % len(_COMPANIES)]}"
        form = _FORMS[i % len(_FORMS)]
        year = 2015 + i % 10
        name = f"{company.replace(' ', '_')}_{year}_{form}_{i:04d}"
        cover = (f"{company} Inc.\nForm {form}\nFor the fiscal year ended December 31, {year}"
                 "\n\n" + self.prose_page())
        units = [Unit(text=cover, page=1)]
        for p in range(2, pages + 1):
            text = self.table_page() if self.rng.random() < 0.25 else self.prose_page()
            units.append(Unit(text=text, page=p))
        body = "\n".join(u.text for u in units)
        digest = hashlib.sha256(body.encode()).hexdigest()
        return ParsedDocument(filename=name + ".pdf", name=name, kind="pdf", units=tuple(units),
                              content_hash=digest, size=len(body),
                              meta={"pages": pages, "parser": "generated"})


class PooledEmbedder:
    """The default embedder's vectors of the generator's pieces; a chunk's vector is the
    normalised mean of its pieces' vectors (the same model, the same space and distribution,
    without running it over 100k whole chunks: about 25 tokens a piece instead of 250)."""

    def __init__(self, real, pieces: list[str], cache: Path) -> None:
        import numpy as np

        self.name, self.dim = real.name, real.dim
        if cache.exists():
            vecs = np.load(cache)
        else:
            t = time.perf_counter()
            vecs = np.concatenate([real.embed(pieces[i : i + 512])
                                   for i in range(0, len(pieces), 512)]).astype(np.float32)
            np.save(cache, vecs)
            print(f"embedded {len(pieces):,} pieces in {time.perf_counter() - t:.0f} s",
                  flush=True)
        self.vecs = vecs
        self.index = {p: i for i, p in enumerate(pieces)}
        self.real = real

    def embed(self, texts: list[str]):
        import re

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            body = text.partition("\n")[2] or text
            ids = [self.index[p] for p in re.split(r"(?<=\.) +|\n+", body) if p in self.index]
            v = self.vecs[ids].mean(axis=0) if ids else self.real.embed([body])[0]
            out[row] = v / (np.linalg.norm(v) or 1.0)
        return out


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _services(root: Path):
    from rag.config import Settings
    from rag.services import build_services

    settings = Settings(data_dir=root / "data")
    return build_services(settings), settings


# --------------------------------------------------------------------------------------------
# build


def build(args: argparse.Namespace) -> None:
    from rag.config import Settings
    from rag.services import build_embedder, build_services

    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=root / "data")
    gen = Generator(sentences=args.sentences, lines=args.lines)
    pooled = PooledEmbedder(build_embedder(settings), gen.pieces(),
                            root / f"pieces-{args.sentences}-{args.lines}.npy")
    services = build_services(settings, embedder=pooled)
    ws = services.workspace(WS_BIG, create=True)
    have = ws.count_chunks()
    docs = ws.documents()
    print(f"{WS_BIG}: {len(docs)} documents, {have:,} chunks already", flush=True)
    ingestor = services.ingestor(ws)
    t0 = time.perf_counter()
    i = 0
    made = have
    known = {d.doc_id for d in docs}
    while made < args.chunks:
        if args.until and time.strftime("%H:%M", time.gmtime()) >= args.until:
            print(f"stopped at {args.until} UTC with {made:,} chunks (run build again to go on)",
                  flush=True)
            break
        doc = gen.document(i, pages=int(gen.rng.integers(60, 160)))
        i += 1
        if doc.content_hash[:16] in known:
            continue  # built by an earlier, interrupted run
        report = ingestor.index_parsed(doc)
        if report.doc is None:
            raise SystemExit(f"{doc.name}: {report.status} {report.message}")
        made += report.doc.chunks
        el = time.perf_counter() - t0
        print(f"  {doc.name}: {report.doc.chunks} chunks; {made:,} in all, "
              f"{(made - have) / el:.1f} chunks/s", flush=True)
    # The small workspace: the first documents of the big one, with their embeddings.
    small = services.workspace(WS_SMALL, create=True)
    if small.count_chunks() < args.small:
        in_small = {d.doc_id for d in small.documents()}
        count = small.count_chunks()
        for d in sorted(ws.documents(), key=lambda d: d.added_at):
            if count >= args.small:
                break
            if d.doc_id in in_small:
                count += d.chunks
                continue
            chunks, emb = ws.embeddings_of(d.doc_id)
            small.begin(d)
            small.add_chunks(chunks, emb)
            small.commit(d)
            count += len(chunks)
        print(f"{WS_SMALL}: {small.count_chunks():,} chunks", flush=True)
    print(f"{WS_BIG}: {ws.count_chunks():,} chunks in {len(ws.documents())} documents")


# --------------------------------------------------------------------------------------------
# measure (each part in its own child process)


def _questions(n: int) -> list[str]:
    qs = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()
          if line.strip()]
    gen = Generator(seed=11, sentences=1, lines=1)
    while len(qs) < n:  # generated analyst-style questions past the real ones
        qs.append("What was the " + " ".join(gen._words(4)) + " in " + gen._number() + "?")
    return qs[:n]


def child_index(root: Path, ws_name: str, fresh: bool) -> dict:
    """Keyword index: built from scratch (fresh) or loaded from its file; seconds and RSS."""
    from rag import retrieve

    services, _ = _services(root)
    ws = services.workspace(ws_name)
    services.embedder.embed(["warm-up"])
    rss0 = _rss_mb()
    path = retrieve.lexical_path(services.lexical_dir, ws.collection_name)
    if fresh:
        retrieve.forget_lexical(services.lexical_dir, ws.collection_name)
    builds = retrieve.LEXICAL_STATS["builds"]
    t = time.perf_counter()
    lex = retrieve.lexical_index(ws, services.lexical_dir)
    took = time.perf_counter() - t
    t = time.perf_counter()
    retrieve.flush_lexical_saves(None)  # written in the background: how long that takes
    save_s = time.perf_counter() - t
    return {"workspace": ws_name, "chunks": len(lex.chunks), "fresh": fresh, "seconds": took,
            "save_s": save_s,
            "built": retrieve.LEXICAL_STATS["builds"] - builds,
            "rss_before_mb": rss0, "rss_after_mb": _rss_mb(), "peak_mb": _peak_mb(),
            "file_mb": path.stat().st_size / 2**20 if path.exists() else 0.0}


def child_search(root: Path, ws_name: str, n: int) -> dict:
    import numpy as np

    from rag import retrieve

    services, _ = _services(root)
    ws = services.workspace(ws_name)
    r = services.searcher(ws)
    qs = _questions(n)
    services.embedder.embed(["warm-up"])
    rss_loaded = _rss_mb()
    t = time.perf_counter()
    r.search(qs[0], k=5)  # loads the keyword index (from its file)
    first = time.perf_counter() - t
    for q in qs[:5]:
        r.search(q, k=5)
    out: dict = {"workspace": ws_name, "chunks": ws.count_chunks(), "queries": n,
                 "first_query_s": first, "rss_models_mb": rss_loaded}
    for label, call in (("search", lambda q: r.search(q, k=5)),
                        ("retrieve_focus", lambda q: r.retrieve(q, k=5, focus=True))):
        times = []
        for q in qs:
            t = time.perf_counter()
            call(q)
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        out[label] = {"p50_ms": float(np.percentile(ms, 50)),
                      "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max())}
    # One query's split, median over the questions.
    parts: dict[str, list[float]] = {}
    for q in qs[:60]:
        prof = retrieve.profile_search(r, q, k=5)
        for key, v in prof.items():
            parts.setdefault(key, []).append(v * 1000)
    out["split_ms"] = {k: median(v) for k, v in parts.items()}
    out["rss_after_mb"] = _rss_mb()
    out["peak_mb"] = _peak_mb()
    return out


def child_update(root: Path, ws_name: str) -> dict:
    """Add one generated document and delete it again; the keyword index follows both."""
    from rag import retrieve

    services, _ = _services(root)
    ws = services.workspace(ws_name, recover=True)
    r = services.searcher(ws)
    r.search("warm up the index", k=5)
    builds = retrieve.LEXICAL_STATS["builds"]
    doc = Generator(seed=99, sentences=2000, lines=500).document(90_000 + int(time.time()) % 1000, pages=80)
    t = time.perf_counter()
    report = services.ingestor(ws).index_parsed(doc)
    ingest_s = time.perf_counter() - t
    t = time.perf_counter()
    hits = r.search(doc.units[3].text[:200], k=5)
    after_add = time.perf_counter() - t
    found = any(h.chunk.doc_id == report.doc.doc_id for h in hits) if report.doc else False
    t = time.perf_counter()
    ws.delete_document(report.doc.doc_id)
    t = time.perf_counter()
    hits = r.search(doc.units[3].text[:200], k=5)
    after_delete = time.perf_counter() - t
    gone = not any(h.chunk.doc_id == report.doc.doc_id for h in hits)
    return {"workspace": ws_name, "added_chunks": report.doc.chunks, "ingest_s": ingest_s,
            "query_after_add_s": after_add, "found_after_add": found,
            "query_after_delete_s": after_delete, "gone_after_delete": gone,
            "full_rebuilds": retrieve.LEXICAL_STATS["builds"] - builds}


def spawn(kind: str, args: argparse.Namespace, *extra: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", "--root", args.root,
           "--child", kind, *extra]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"the {kind} child failed (exit {proc.returncode})")
    return json.loads(lines[-1][len("RESULT "):])


def measure(args: argparse.Namespace) -> None:
    results: dict = {"index": [], "search": [], "update": []}
    for ws in (WS_SMALL, WS_BIG):
        results["index"].append(spawn("index", args, "--ws", ws, "--fresh"))
        results["index"].append(spawn("index", args, "--ws", ws))
        results["search"].append(spawn("search", args, "--ws", ws, "--queries",
                                       str(args.queries)))
    if not args.no_update:
        results["update"].append(spawn("update", args, "--ws", WS_BIG))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    print("Keyword index (one child process each):")
    print(table([[r["workspace"], r["chunks"], "build from scratch" if r["fresh"] else
                  "load from file", r["built"], r["seconds"], r["save_s"], r["file_mb"],
                  r["rss_before_mb"],
                  r["rss_after_mb"], r["peak_mb"]] for r in results["index"]],
                ["workspace", "chunks", "what", "full builds", "seconds", "save s (background)",
                 "file MB",
                 "RSS before MB", "RSS after MB", "peak MB"]))
    print(f"\nSearch, k=5, {args.queries} questions (FinanceBench texts, then generated), "
          "after 5 warm-up queries:")
    rows = []
    for r in results["search"]:
        for label in ("search", "retrieve_focus"):
            rows.append([r["workspace"], r["chunks"], label, r[label]["p50_ms"],
                         r[label]["p95_ms"], r[label]["max_ms"]])
    print(table(rows, ["workspace", "chunks", "call", "p50 ms", "p95 ms", "max ms"]))
    print("\nRSS of the search process, MB (models loaded / after the queries / peak):")
    print(table([[r["workspace"], r["chunks"], r["rss_models_mb"], r["rss_after_mb"],
                  r["peak_mb"], r["first_query_s"]] for r in results["search"]],
                ["workspace", "chunks", "models loaded", "after queries", "peak",
                 "first query s"]))
    print("\nOne query's split, median ms:")
    keys = list(results["search"][0]["split_ms"])
    print(table([[r["workspace"], *(r["split_ms"][k] for k in keys)]
                 for r in results["search"]], ["workspace", *keys]))
    for u in results["update"]:
        print(f"\nIncremental: one {u['added_chunks']}-chunk document added to {u['workspace']} "
              f"in {u['ingest_s']:.1f} s; next query {u['query_after_add_s'] * 1000:.0f} ms "
              f"(found: {u['found_after_add']}); deleted, next query "
              f"{u['query_after_delete_s'] * 1000:.0f} ms (gone: {u['gone_after_delete']}); "
              f"full keyword-index rebuilds: {u['full_rebuilds']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["build", "measure", "child"])
    ap.add_argument("--root", default="/tmp/scale")
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--sentences", type=int, default=30_000, help="build: the sentence pool")
    ap.add_argument("--lines", type=int, default=10_000, help="build: the table-line pool")
    ap.add_argument("--no-update", action="store_true")
    ap.add_argument("--until", default=None, help="build: stop adding documents at HH:MM UTC")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--ws", help=argparse.SUPPRESS)
    ap.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.what == "build":
        build(args)
    elif args.what == "measure":
        measure(args)
    else:
        root = Path(args.root)
        real_stdout = sys.stdout
        sys.stdout = sys.stderr  # keep stdout for the result
        try:
            if args.child == "index":
                res = child_index(root, args.ws, args.fresh)
            elif args.child == "search":
                res = child_search(root, args.ws, args.queries)
            else:
                res = child_update(root, args.ws)
        finally:
            sys.stdout = real_stdout
        print("RESULT " + json.dumps(res))


if __name__ == "__main__":
    main()
