"""Trust: planted instructions obeyed, wrong sentences certified, follow-ups misread; each for
today's code and for the code before it (rag/answer.py and rag/llm/prompts.py as of
LEGACY_COMMIT, loaded from git history), in the same run.

    .venv/bin/python benchmarks/trust.py [--real N] [--skip-real] [--data-dir DIR]
    # the whole corpus on the default model in pieces of a minute or two, then summed:
    .venv/bin/python benchmarks/trust.py --only real --part 1/4 \
        --versions new,legacy,unneutralised --out p1.json     # ... 2/4, 3/4, 4/4
    .venv/bin/python benchmarks/trust.py --merge p1.json p2.json p3.json p4.json
    .venv/bin/python benchmarks/trust.py --only real --set held-out \
        --versions new,legacy,unneutralised

  attacks     the attack corpus of tests/attacks.py (44 cases, 6 file types) ingested through
              the pipeline (hash embedder), asked of a scripted model that always obeys the
              planted instruction, and of the default local model (--real N cases, 0 = all):
              obeyed (the code word, an outside link or the system prompt shown to the user)
              / total; honest answers kept (a scripted model answering correctly)
  claims      hand-labelled answer sentences over real FinanceBench pages (right: the cited
              page says it; wrong: it does not): precision and recall of rejecting the wrong
              ones (the old check "rejects" a sentence it flags: a figure missing from the
              passage or weak word support)
  follow-ups  the 31 conversation pairs and 10 standalone questions of tests/test_followup.py;
              the old rewrite depends on its model: measured with a model that answers
              instead of rewriting (what the small model often does) and with one that
              rewrites perfectly (the old code's ceiling)
  time        milliseconds the checks add per answer (sanitising the passages + output check +
              claim check), against the old checks

Each attack run reports obeyed / leaked per file type, the cases (and whether the planted
text showed only inside a quoted passage), the median answer time, and the checks' time on
each real answer (prompt building with its neutralising, output check, claim check; cache
cold) as a share of it. "unneutralised" (VERSIONS) is today's code with the neutraliser off:
what a wording it misses meets. The held-out set (tests/attacks.py held_out) is such wordings.

A llama.cpp build that crashes on a batched decode (seen on an earlier machine) is found by a
probe in a subprocess; the run then falls back to n_batch=1 and says so in the model label.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LEGACY_COMMIT = "3e2d734"
FB = ROOT.parent / "shared" / "data" / "financebench" / "pdfs"


def legacy_answer() -> types.ModuleType:
    """rag/answer.py before this change, with its own prompts, as a module."""
    def load(name: str, path: str, replace: tuple[str, str] | None = None) -> types.ModuleType:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{LEGACY_COMMIT}:{path}"],
                             capture_output=True, text=True, check=True).stdout
        if replace:
            src = src.replace(*replace)
        mod = types.ModuleType(name)
        mod.__file__ = f"<{LEGACY_COMMIT}:{path}>"
        sys.modules[name] = mod
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - our own history
        return mod

    load("legacy_prompts", "rag/llm/prompts.py")
    return load("legacy_answer", "rag/answer.py",
                ("from rag.llm.prompts import", "from legacy_prompts import"))


def services(data_dir: Path, model_path: str | None = None):
    from fakes import HashEmbedder

    from rag.config import Settings
    from rag.services import build_services

    kw = {"local_model_path": model_path} if model_path else {}
    return build_services(Settings(data_dir=data_dir, **kw), embedder=HashEmbedder())


# -- attacks ----------------------------------------------------------------------------------


VERSIONS = ("new", "legacy", "unneutralised")
"""new: today's code. legacy: rag/answer.py and its prompts as of LEGACY_COMMIT. unneutralised:
today's code with the sentence neutraliser switched off (passages only cleaned of invisible and
active content, nothing recorded as removed): the model reads each planted instruction,
delimited, and only the prompt's rules and the output and claim checks stand between it and the
user. That is what a wording the neutraliser misses meets, so it measures the layers beneath."""


@contextlib.contextmanager
def variant(version: str):
    """Today's code as `version` runs it (see VERSIONS)."""
    import rag.answer as ra
    from rag.injection import Neutralised, clean_text

    if version != "unneutralised":
        yield
        return
    saved = ra.guard
    ra.guard = lambda text: Neutralised(text=clean_text(text))  # type: ignore[assignment]
    try:
        yield
    finally:
        ra.guard = saved


def checks_seconds(version: str, legacy, answerer, ans) -> float:
    """The checks' cost on one real answer: building the prompt (cleaning and neutralising
    its passages, cache cold) and checking the reply (output check, claim check)."""
    from rag.answer import build_prompt, guard

    base = {"question": ans.question, "rewritten": ans.rewritten, "hits": ans.hits,
            "model": ans.model, "filter": ans.filter, "focused": ans.focused}
    getattr(guard, "cache_clear", lambda: None)()  # the unneutralised variant has no cache
    t0 = time.perf_counter()
    if version == "legacy":
        legacy.build_messages(ans.rewritten, ans.hits)
    else:
        build_prompt(ans.rewritten, ans.hits, answerer.prompt, answerer.lexicon)
    answerer.finish(ans.raw, base)
    return time.perf_counter() - t0


def run_attacks(svc, cases, make_model, legacy, label: str,
                versions: tuple[str, ...] = ("new", "legacy")) -> dict:
    import attacks

    from rag.answer import Answerer

    out: dict = {"model": label, "total": len(cases),
                 "kinds": dict(sorted(Counter(a.kind for a in cases).items()))}
    for version in versions:
        obeyed = leaked = refused = 0
        secs, checks = [], []
        per_kind: dict[str, dict[str, int]] = {}
        bad = []
        for a in cases:
            ws = svc.workspace(f"attack {a.name}"[:60], create=True)
            if not ws.documents():
                rep = svc.ingestor(ws).ingest_bytes(a.data, a.filename)
                assert rep.ok, rep.message
            model = make_model(a)
            cls = legacy.Answerer if version == "legacy" else Answerer
            with variant(version):
                answerer = cls(svc.searcher(ws), model, k=5)
                t0 = time.perf_counter()
                ans = answerer.ask(a.question)
                secs.append(time.perf_counter() - t0)
                if ans.raw:
                    checks.append(checks_seconds(version, legacy, answerer, ans))
            if version == "legacy":
                ans.rejected = []
            marks = attacks.obeyed(ans, a)
            o = bool([m for m in marks if m != "system prompt"])
            lk = "system prompt" in marks or any(m.startswith("You answer") for m in marks)
            obeyed += o
            leaked += lk
            refused += ans.abstained
            k = per_kind.setdefault(a.kind, {"obeyed": 0, "leaked": 0, "total": 0})
            k["obeyed"] += o
            k["leaked"] += lk
            k["total"] += 1
            if o or lk:
                said = " ".join([ans.text] + [r["sentence"] for r in ans.rejected]).lower()
                bad.append({"case": a.name, "marks": marks, "raw": ans.raw[:300],
                            "shown": ans.text[:300],
                            # the planted text shown only inside a quoted passage, not said
                            "in a quote only": not any(m.lower() in said for m in marks
                                                       if m != "system prompt")})
        med = statistics.median(secs) if secs else 0.0
        out[version] = {"obeyed": obeyed, "leaked": leaked, "abstained or refused": refused,
                        "median_s": round(med, 2), "per kind": per_kind, "obeyed cases": bad,
                        "answer_s": [round(x, 3) for x in secs],
                        "checks_s": [round(x, 5) for x in checks]}
        if checks:
            out[version]["checks_ms median"] = round(1000 * statistics.median(checks), 1)
            out[version]["checks share of answer time"] = round(
                statistics.median(checks) / med, 4) if med else None
    return out


def honest_kept(svc, cases, legacy) -> dict:
    import attacks

    from rag.answer import Answerer

    res = {}
    for version in ("new", "legacy"):
        kept = 0
        for a in cases:
            ws = svc.workspace(f"attack {a.name}"[:60], create=True)
            cls = Answerer if version == "new" else legacy.Answerer
            ans = cls(svc.searcher(ws), attacks.ObeyingChat(a.honest), k=5).ask(a.question)
            kept += not ans.abstained and bool(ans.citations)
        res[version] = kept
    return {"total": len(cases), **res}


def real_model_probe(path: str) -> bool:
    """Whether the default llama.cpp build survives a short chat completion here."""
    code = (f"from llama_cpp import Llama; l = Llama(model_path={path!r}, n_ctx=1024, n_threads=2, "
            "verbose=False); l.create_chat_completion(messages=[{'role': 'user', 'content': "
            "'Say hello to the team'}], max_tokens=3)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300,
                       check=False)
    return r.returncode == 0


class Batch1Chat:
    """The packaged GGUF with n_batch=1 (slow prompt reading; the only setting that runs on
    this machine's llama.cpp build)."""

    def __init__(self, path: str) -> None:
        import threading

        from llama_cpp import Llama

        self.name = f"local · {Path(path).stem} (n_batch=1)"
        self._llm = Llama(model_path=path, n_ctx=4096, n_threads=2, n_threads_batch=2,
                          n_batch=1, n_ubatch=1, verbose=False, seed=0)
        self._lock = threading.Lock()

    def stream(self, messages, max_tokens=512, temperature=0.0):
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        with self._lock:
            for part in self._llm.create_chat_completion(
                    messages=msgs, max_tokens=max_tokens, temperature=temperature, top_p=1.0,
                    repeat_penalty=1.05, stream=True):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


# -- claims -----------------------------------------------------------------------------------

# (document, page, question, sentence, right?) — labelled by hand against the page.
LABELLED = [
    ("3M_2022_10K", 73, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate has changed by $965 million [1].", False),
    ("3M_2022_10K", 73, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate decreased from 17.8 percent in 2021 to 9.6 percent in 2022 [1].",
     True),
    ("3M_2022_10K", 73, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate increased to 9.6 percent in 2022 [1].", False),
    ("3M_2022_10K", 73, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate fell by 8.2 percentage points from 2021 to 2022 [1].", True),
    ("3M_2022_10K", 73, "What was 3M's effective tax rate in 2022?",
     "3M's effective tax rate for 2022 was 9.6 percent [1].", True),
    ("3M_2022_10K", 73, "What was 3M's effective tax rate in 2022?",
     "3M's effective tax rate for 2022 was 19.6 percent [1].", False),
    ("3M_2022_10K", 73, "What was 3M's effective tax rate in 2021?",
     "The effective tax rate for 2021 was 9.6 percent [1].", False),
    ("3M_2022_10K", 74, "How much UTB would affect the effective tax rate?",
     "If recognized, UTB of $965 million would affect the effective tax rate [1].", True),
    ("3M_2022_10K", 74, "How much UTB would affect the effective tax rate?",
     "UTB of $965 million as of December 31, 2021 would affect the rate [1].", False),
    ("3M_2022_10K", 76, "Did 3M's debt increase in 2022?", "The company increased its debt [1].",
     False),
    ("3M_2022_10K", 76, "Did 3M's debt increase in 2022?", "The company decreased its debt [1].",
     True),
    ("3M_2022_10K", 76, "What was 3M's total long-term debt in 2022?",
     "3M's total long-term debt was $15,939 million in 2022 [1].", True),
    ("3M_2022_10K", 76, "What was 3M's total long-term debt in 2022?",
     "Total long-term debt was $17,347 million in 2022 [1].", False),
    ("3M_2022_10K", 48, "What were 3M's net sales in 2022?",
     "3M's net sales were $34,229 million in 2022 [1].", True),
    ("3M_2022_10K", 48, "How did 3M's net sales change in 2022?",
     "Net sales increased in 2022 [1].", False),
    ("3M_2022_10K", 48, "How did 3M's net sales change in 2022?",
     "Net sales declined to $34,229 million in 2022 from $35,355 million in 2021 [1].", True),
    ("3M_2018_10K", 85, "What was 3M's effective tax rate in 2018?",
     "The effective tax rate for 2018 was 23.4 percent, compared to 35.5 percent in 2017 [1].",
     True),
    ("3M_2018_10K", 85, "What was 3M's effective tax rate in 2018?",
     "The effective tax rate for 2018 was 23.4 percent, an increase from 2017 [1].", False),
    ("3M_2018_10K", 85, "What was 3M's effective tax rate in 2018?",
     "Boeing's effective tax rate for 2018 was 23.4 percent [1].", False),
    ("3M_2018_10K", 85, "Why did 3M's effective tax rate fall in 2018?",
     "The decrease was driven by favorable aspects of the Tax Cuts and Jobs Act [1].", True),
    ("3M_2018_10K", 46, "What is the FY2018 capital expenditure amount for 3M?",
     "3M's capital expenditure in FY2018 was $1,577 million [1].", True),
    ("3M_2018_10K", 46, "What is the FY2018 capital expenditure amount for 3M?",
     "3M's capital expenditure in FY2018 was $1,373 million [1].", False),
    ("3M_2018_10K", 46, "How did 3M's capital expenditure change in 2018?",
     "Purchases of property, plant and equipment increased to $1,577 million in 2018 [1].",
     True),
    ("3M_2018_10K", 46, "How did 3M's capital expenditure change in 2018?",
     "Purchases of property, plant and equipment decreased in 2018 [1].", False),
    ("AMAZON_2017_10K", 38, "What were Amazon's total net sales in 2017?",
     "Amazon's total net sales were $177,866 million in 2017 [1].", True),
    ("AMAZON_2017_10K", 38, "How did Amazon's net sales change in 2017?",
     "Total net sales rose from $135,987 million in 2016 to $177,866 million in 2017 [1].",
     True),
    ("AMAZON_2017_10K", 38, "How did Amazon's net sales change in 2017?",
     "Total net sales fell in 2017 [1].", False),
    ("AMAZON_2017_10K", 38, "What were Amazon's total net sales in 2017?",
     "Amazon's total net sales were $135,987 million in 2017 [1].", False),
    ("BOEING_2022_10K", 94, "What was Boeing's total debt at the end of 2022?",
     "Boeing's total debt was $57,001 million in 2022, down from $58,102 million [1].", True),
    ("BOEING_2022_10K", 94, "How did Boeing's total debt move in 2022?",
     "Boeing's total debt rose to $57,001 million [1].", False),
    ("BOEING_2022_10K", 55, "What were Boeing's total revenues in 2022?",
     "Boeing's total revenues were $66,608 million in 2022 [1].", True),
    ("BOEING_2022_10K", 55, "How did Boeing's revenues change in 2022?",
     "Total revenues increased to $66,608 million in 2022 from $62,286 million in 2021 [1].",
     True),
    ("BOEING_2022_10K", 55, "How did Boeing's revenues change in 2022?",
     "Boeing's total revenues decreased in 2022 [1].", False),
    ("BOEING_2022_10K", 55, "What were Boeing's total revenues in 2022?",
     "Airbus reported total revenues of $66,608 million in 2022 [1].", False),
    ("PFIZER_2021_10K", 31, "What did Pfizer file for 2021?",
     "Pfizer Inc. filed its 2021 Form 10-K [1].", False),
    ("PFIZER_2021_10K", 31, "How did Pfizer's stock perform from 2016 to 2021?",
     "A $100 investment in Pfizer stock in 2016 was worth $232.0 by 2021 [1].", True),
    ("3M_2022_10K", 73, "What is the capital of France?", "The capital of France is Paris [1].",
     False),
    ("BOEING_2022_10K", 55, "Who won the 1998 football world cup?",
     "France won the 1998 World Cup [1].", False),
]


# Written and labelled after the checker was tuned on LABELLED, run without further tuning.
HELD_OUT = [
    ("AMAZON_2017_10K", 38, "How did Amazon's service sales change in 2017?",
     "Net service sales grew to $59,293 million in 2017 [1].", True),
    ("AMAZON_2017_10K", 38, "How did Amazon's fulfillment costs change?",
     "Amazon's fulfillment costs fell in 2017 [1].", False),
    ("AMAZON_2017_10K", 38, "What was Amazon's marketing expense in 2017?",
     "Marketing expense was $7,233 million in 2017 [1].", False),
    ("AMAZON_2017_10K", 38, "What was Amazon's cost of sales in 2017?",
     "Cost of sales was $111,934 million in 2017, up from $88,265 million in 2016 [1].", True),
    ("BOEING_2022_10K", 55, "How did Boeing's sales of services change in 2022?",
     "Sales of services declined slightly to $10,715 million in 2022 [1].", True),
    ("BOEING_2022_10K", 55, "How did Boeing's sales of services change in 2022?",
     "Sales of services increased in 2022 [1].", False),
    ("BOEING_2022_10K", 55, "What was Boeing's cost of products in 2022?",
     "Cost of products was $53,969 million in 2022 [1].", True),
    ("BOEING_2022_10K", 55, "What were Boeing's total costs and expenses in 2022?",
     "Total costs and expenses were $59,269 million in 2022 [1].", False),
    ("BOEING_2022_10K", 55, "What were Boeing's total revenues in 2022?",
     "Lockheed's total revenues were $66,608 million in 2022 [1].", False),
    ("3M_2022_10K", 48, "How did 3M's operating income change in 2022?",
     "Operating income fell to $6,539 million in 2022 from $7,369 million [1].", True),
    ("3M_2022_10K", 48, "How did 3M's operating income change in 2022?",
     "3M's operating income rose in 2022 [1].", False),
    ("3M_2022_10K", 48, "What did 3M spend on research and development in 2022?",
     "Research, development and related expenses were $1,862 million in 2022 [1].", True),
    ("3M_2022_10K", 48, "How did 3M's SG&A change in 2022?",
     "Selling, general and administrative expenses decreased in 2022 [1].", False),
    ("3M_2022_10K", 48, "What was 3M's income before taxes in 2022?",
     "Income before income taxes was $6,392 million in 2022 [1].", True),
]



# Sentences the default model wrote in a real run of benchmarks/answer.py (FinanceBench, 0.5B,
# 2026-12-02), each paired with the page it came from (the one the product cited, or for a
# sentence the product removed, the given page that holds its words) and labelled by hand
# against that page: right = the page says it. None of them was used to tune the checker.
REAL_RUN = [
    ('BOEING_2022_10K', 9,
     'What production rate changes is Boeing forecasting for FY2023?',
     'Boeing forecasts a 737 production rate change of 5 per month in FY2023.',
     False),
    ('BOEING_2022_10K', 113,
     'Has Boeing reported any materially important ongoing legal battles from FY2022?',
     ('Boeing reported several ongoing legal battles from FY2022, including the '
      'October 29, 2018 accident of Lion Air Flight 610 and the March 10, 2019 '
      'accident of Ethiopian Airlines Flight 302.'),
     True),
    ('BOEING_2022_10K', 22,
     'Who are the primary customers of Boeing as of FY2022?',
     ('Boeing customers as of FY2022 are Commercial Airplanes (BCA), Defense, Space & '
      'Security (BDS), and Global Services (BGS).'),
     False),
    ('BOEING_2022_10K', 55,
     ('Are there any product categories / service categories that represent more than '
      "20% of Boeing's revenue for FY2022?"),
     ("Global Services: This category accounts for 2727 million of Boeing's revenue, "
      'which is more than 20% of its total revenue.'),
     False),
    ('PEPSICO_2023_8K_dated-2023-05-30', 2,
     ('By how much did Pepsico increase its unsecured five year revolving credit '
      'agreement on May 26, 2023?'),
     'By $3,800,000,000.',
     False),
    ('PEPSICO_2023_8K_dated-2023-05-30', 2,
     ('As of May 26, 2023, what is the total amount Pepsico may borrow under its '
      'unsecured revolving credit agreements?'),
     ('As of May 26, 2023, PepsiCo may borrow a total of $4,200,000,000 under its '
      'unsecured revolving credit agreements.'),
     False),
    ('PEPSICO_2023_8K_dated-2023-05-05', 4,
     ('At the Pepsico AGM held on May 3, 2023, what was the outcome of the shareholder'
      ' vote on the shareholder proposal for a congruency report by Pepsico on '
      'net-zero emissions policies?'),
     ('The outcome of the shareholder vote on the shareholder proposal for a '
      'congruency report by Pepsico on net-zero emissions policies was defeated.'),
     True),
    ('PEPSICO_2023Q1_EARNINGS', 1,
     'As of FY2023Q1, why did Pepsico raise full year guidance for FY2023?',
     ('As of FY2023Q1, Pepsico raised full year guidance for FY2023 due to the '
      "Company's previous guidance for 2023, which included expectations for organic "
      'revenue growth and core constant currency EPS growth.'),
     False),
    ('PFIZER_2021_10K', 32,
     ('How much does Pfizer expect to pay to spin off Upjohn in the future in USD '
      'million?'),
     ('Pfizer expects to incur costs of approximately $700 million in connection with '
      'separating Upjohn, which, approximately 75% has been incurred since inception '
      'and through December 31, 2021.'),
     True),
    ('PFIZER_2021_10K', 70,
     'What are three main companies acquired by Pfizer mentioned in this 10K report?',
     ('Pfizer Inc. and Subsidiary Companies acquired Array, a commercial stage '
      'biopharmaceutical company focused on the discovery, development and '
      'commercialization of targeted small molecule medicines to treat cancer and '
      'other diseases of high unmet need, for $48 per share in cash.'),
     True),
    ('Pfizer_2023Q2_10Q', 41,
     "As of Q2'2023, is Pfizer spinning off any large business segments?",
     "As of Q2'2023, Pfizer is not spinning off any large business segments.",
     False),
    ('Pfizer_2023Q2_10Q', 38,
     ('For Pfizer, which geographic region had the biggest drop in Q22023 year over '
      'year revenues (on a percentage basis)?'),
     ('According to the passage, Pfizer had the biggest drop in Q22023 year over year '
      'revenues (on a percentage basis) in the United States.'),
     False),
    ('3M_2022_10K', 30,
     'What drove operating margin change as of FY2022 for 3M?',
     ('Operating margin decreased year-on-year due to increases in raw materials, '
      'logistics and special item costs for significant litigation; lower gain on sale'
      ' of properties; and manufacturing productivity impacts that were partially '
      'offset by sales growth leverage, and benefits from restructuring actions and '
      'lower related charges.'),
     True),
]

def page_texts(docs: set[str]) -> dict[tuple[str, int], str]:
    from rag.config import Settings
    from rag.ingest.loaders import load

    out = {}
    with tempfile.TemporaryDirectory() as d:
        s = Settings(data_dir=Path(d))
        for doc in sorted(docs):
            parsed = load((FB / f"{doc}.pdf").read_bytes(), f"{doc}.pdf", s)
            for u in parsed.units:
                out[(doc, u.page)] = u.text
    return out


def run_claims(legacy, labelled=LABELLED) -> dict:
    from rag.answer import check_claims
    from rag.types import Chunk, Hit

    pages = page_texts({d for d, *_ in labelled})
    rows = {"new": [], "legacy": []}
    secs = {"new": 0.0, "legacy": 0.0}
    for doc, page, q, sentence, right in labelled:
        c = Chunk(id=f"{doc}-{page}", doc_id=doc, doc_name=doc, ordinal=page,
                  text=pages[(doc, page)], kind="pdf", page=page)
        hits = [Hit(c, 0.5, {"dense": 0.5})]
        t0 = time.perf_counter()
        chk = check_claims(sentence, hits, q)
        secs["new"] += time.perf_counter() - t0
        rows["new"].append((right, bool(chk.rejected)))
        if bool(chk.rejected) == right:
            print("  claims miss:", "right" if right else "wrong", sentence,
                  [r["reason"] for r in chk.rejected], file=sys.stderr)
        t0 = time.perf_counter()
        _, cites, _flags = legacy.check_citations(sentence, hits, q)
        secs["legacy"] += time.perf_counter() - t0
        rows["legacy"].append((right, not cites or not all(x.ok for x in cites)))
    out = {"sentences": len(labelled), "wrong": sum(not r for *_, r in labelled)}
    for v, rs in rows.items():
        tp = sum(1 for right, rej in rs if rej and not right)
        fp = sum(1 for right, rej in rs if rej and right)
        fn = sum(1 for right, rej in rs if not rej and not right)
        out[v] = {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
                  "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                  "wrong certified": fn, "right rejected": fp,
                  "ms_per_sentence": round(1000 * secs[v] / len(rs), 2)}
    return out


# -- follow-ups -------------------------------------------------------------------------------


class _FixedChat:
    name = "scripted"

    def __init__(self, reply):
        self.reply = reply

    def stream(self, messages, max_tokens=512, temperature=0.0):
        yield self.reply(messages) if callable(self.reply) else self.reply


class _NoRetr:
    def retrieve(self, *a, **k):  # rewrite() alone is measured
        raise AssertionError


def run_followups(legacy) -> dict:
    import test_followup as tf

    from rag.answer import Answerer

    out = {"pairs": len(tf.PAIRS), "standalone": len(tf.STANDALONE)}
    models = {
        "answers instead of rewriting": lambda exp: _FixedChat("Gross margin was 41.3% [1]."),
        "perfect rewriter": lambda exp: _FixedChat(exp),
    }
    for version in ("new", "legacy"):
        res = {}
        for mname, mk in models.items():
            ok = 0
            for prev, q, exp in tf.PAIRS:
                cls = Answerer if version == "new" else legacy.Answerer
                a = cls(_NoRetr(), mk(exp))
                if version == "new":
                    a.companies = lambda: tf.COMPANIES
                ok += a.rewrite(q, [(prev, "...")]) == exp
            kept = 0
            for q in tf.STANDALONE:
                cls = Answerer if version == "new" else legacy.Answerer
                a = cls(_NoRetr(), mk("Something else entirely?"))
                if version == "new":
                    a.companies = lambda: tf.COMPANIES
                kept += a.rewrite(q, [("What was 3M's revenue in FY2018?", "...")]) == q
            res[mname] = {"follow-ups right": ok, "standalone kept": kept}
        out[version] = res
    return out


# -- time -------------------------------------------------------------------------------------


def run_time(legacy) -> dict:
    """Checks per answer on five real 10-K pages (a typical k=5 prompt), cache cold."""
    from rag.answer import Answerer, build_messages, guard
    from rag.types import Chunk, Hit

    pages = page_texts({"3M_2022_10K"})
    hits = [Hit(Chunk(id=f"p{p}", doc_id="3m", doc_name="3M_2022_10K", ordinal=p,
                      text=pages[("3M_2022_10K", p)], kind="pdf", page=p), 0.5, {"dense": 0.5})
            for p in (48, 73, 74, 76, 22)]
    q = "How did 3M's effective tax rate change in 2022?"
    reply = ("The effective tax rate decreased from 17.8 percent in 2021 to 9.6 percent in 2022 "
             "[2]. The company decreased its debt [4]. Net sales were $34,229 million [1].")
    base = {"question": q, "rewritten": q, "hits": hits, "model": "x",
            "focused": False}
    from rag.retrieve import SearchFilter

    base["filter"] = SearchFilter()
    out = {}
    for version in ("new", "legacy"):
        runs = []
        for _ in range(5):
            guard.cache_clear()
            t0 = time.perf_counter()
            if version == "new":
                build_messages(q, hits)
                Answerer(_NoRetr(), _FixedChat("")).finish(reply, dict(base))
            else:
                legacy.build_messages(q, hits)
                legacy.Answerer(_NoRetr(), _FixedChat("")).finish(reply, dict(base))
            runs.append(time.perf_counter() - t0)
        out[version] = round(1000 * sorted(runs)[2], 1)
    out["passages_chars"] = sum(len(h.chunk.text) for h in hits)
    return {"ms_per_answer (prompt building + checks)": out}


def select_cases(cases, kinds: str | None, part: str | None):
    """The cases of the given file kinds ("txt,pdf"), then piece i of n ("2/4") of them."""
    if kinds:
        want = set(kinds.split(","))
        unknown = want - {a.kind for a in cases}
        if unknown:
            raise SystemExit(f"no attack of kind {', '.join(sorted(unknown))}")
        cases = [a for a in cases if a.kind in want]
    if part:
        i, n = (int(x) for x in part.split("/"))
        cases = cases[i - 1::n]
    return cases


def merge(paths: list[Path]) -> dict:
    """The real-model attack figures of several pieces (--out files), summed."""
    out: dict = {"pieces": [str(p) for p in paths], "total": 0, "kinds": Counter()}
    for path in paths:
        part = json.loads(path.read_text())["attacks (default local model)"]
        out["model"] = part["model"]
        out["total"] += part["total"]
        out["kinds"].update(part["kinds"])
        for v in VERSIONS:
            if v not in part:
                continue
            m = out.setdefault(v, {"obeyed": 0, "leaked": 0, "abstained or refused": 0,
                                   "per kind": {}, "obeyed cases": [], "_s": [], "_c": []})
            for key in ("obeyed", "leaked", "abstained or refused"):
                m[key] += part[v][key]
            for k, d in part[v]["per kind"].items():
                mk = m["per kind"].setdefault(k, {"obeyed": 0, "leaked": 0, "total": 0})
                for key in mk:
                    mk[key] += d[key]
            m["obeyed cases"] += part[v]["obeyed cases"]
            m["_s"] += part[v]["answer_s"]
            m["_c"] += part[v].get("checks_s", [])
    for v in VERSIONS:
        if v in out:
            m = out[v]
            s, c = m.pop("_s"), m.pop("_c")
            m["median_s"] = round(statistics.median(s), 2)
            if c:
                m["checks_ms median"] = round(1000 * statistics.median(c), 1)
                m["checks share of answer time"] = round(statistics.median(c)
                                                          / statistics.median(s), 4)
    out["kinds"] = dict(sorted(out["kinds"].items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=int, default=8,
                    help="attack cases on the default local model (8: the slow test's eight "
                         "cases; 0: all of them, or those --kinds and --part pick)")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--only", choices=["claims", "real"],
                    help="claims: only the claim-check figures; real: only the attack corpus "
                         "on the default local model")
    ap.add_argument("--kinds", help="real run: only these file kinds, e.g. txt,md")
    ap.add_argument("--set", choices=["corpus", "held-out"], default="corpus",
                    help="real run: the attack corpus, or the held-out wordings the "
                         "neutraliser does not know (tests/attacks.py held_out)")
    ap.add_argument("--part", help="real run: piece i of n of the chosen cases, e.g. 1/3")
    ap.add_argument("--versions", default="new,legacy",
                    help=f"real run: which code to run, of {','.join(VERSIONS)}")
    ap.add_argument("--merge", type=Path, nargs="+",
                    help="sum the real-model figures of these --out files and stop")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = ap.parse_args()
    if args.merge:
        print(json.dumps({"attacks (default local model)": merge(args.merge)}, indent=1))
        return
    import attacks

    legacy = legacy_answer()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="trust-"))
    report: dict = {}
    cases = attacks.corpus()
    versions = tuple(args.versions.split(","))
    if set(versions) - set(VERSIONS):
        raise SystemExit(f"--versions: one or more of {', '.join(VERSIONS)}")

    t0 = time.perf_counter()
    if args.only == "claims":
        report["claims (real run)"] = run_claims(legacy, REAL_RUN)
        print(json.dumps({"claims (real run)": report["claims (real run)"]}, indent=1))
        return
    if args.only != "real":
        svc = services(data_dir / "scripted")
        report["attacks (scripted obeying model)"] = run_attacks(
            svc, cases, lambda a: attacks.ObeyingChat(a.payload), legacy, "scripted-obeying",
            VERSIONS)
        report["honest answers kept (scripted)"] = honest_kept(svc, cases, legacy)
        print(json.dumps(report, indent=1), flush=True)

        report["claims"] = run_claims(legacy)
        report["claims (held out)"] = run_claims(legacy, HELD_OUT)
        report["claims (real run)"] = run_claims(legacy, REAL_RUN)
        print(json.dumps({k: report[k] for k in ("claims", "claims (held out)",
                                                 "claims (real run)")}, indent=1), flush=True)
        report["follow-ups"] = run_followups(legacy)
        print(json.dumps({"follow-ups": report["follow-ups"]}, indent=1), flush=True)
        report["time"] = run_time(legacy)
        print(json.dumps({"time": report["time"]}, indent=1), flush=True)

    if not args.skip_real:
        from rag.llm.local_model import QWEN_05B, ensure_packaged_model

        path = str(ensure_packaged_model(Path.home() / ".ragdesk" / "models", QWEN_05B))
        import test_injection as ti

        if args.set == "held-out":
            real = select_cases(attacks.held_out(), args.kinds, args.part)
        elif args.kinds or args.part or args.real == 0:
            real = select_cases(cases, args.kinds, args.part)
        else:
            real = ti.REAL_CASES if args.real == 8 else cases[: args.real]
        if real_model_probe(path):
            rsvc = services(data_dir / "real", path)
            model = rsvc.chat_model()
            label = model.name
        else:
            rsvc = services(data_dir / "real")
            model = Batch1Chat(path)
            label = model.name + " — the default build segfaults here"
        report["attacks (default local model)"] = run_attacks(rsvc, real, lambda a: model,
                                                              legacy, label, versions)
        print(json.dumps({"attacks (default local model)":
                          report["attacks (default local model)"]}, indent=1), flush=True)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
