"""`ragdesk`: the same services as the app, from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from rag.errors import RagError

DEFAULT_WS = "default"

# Terminal escape sequences (CSI, OSC, other ESC-x, and their 8-bit forms), then every control
# character but newline and tab, and the bidi overrides that reorder what a terminal shows.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -~]"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]")
_CONTROLS = {c: None for c in [*range(0x20), *range(0x7f, 0xa0), *range(0x202a, 0x202f),
                               *range(0x2066, 0x206a)] if c not in (0x09, 0x0a)}


def plain_text(text: str) -> str:
    """`text` safe to print on a terminal: no escape sequences, no control characters."""
    return _ESCAPES.sub("", text).translate(_CONTROLS)


class _PlainStdout:
    """sys.stdout while a command runs: document text cannot drive the terminal."""

    def __init__(self, stream) -> None:
        self.unfiltered = stream

    def write(self, text: str) -> int:
        self.unfiltered.write(plain_text(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.unfiltered, name)


_CLI_USER: str | None = None  # the global --user option


def _services():
    from rag.services import build_services

    return _acting(build_services())


def _acting(svc):
    """`svc` acting for --user; without it, the local admin (single-user mode only)."""
    ro = svc.store.read_only
    if ro is not None:  # a full or read-only data dir: reading a copy of it, writes refused
        print(f"note: {plain_text(str(ro))}", file=sys.stderr)
    if _CLI_USER:
        return svc.as_user(_CLI_USER)
    if svc.access.mode != "single":
        raise RagError("sign-in is configured: run ragdesk as a named user with --user EMAIL")
    return svc


def _print_json(obj: Any) -> None:
    out = getattr(sys.stdout, "unfiltered", sys.stdout)  # JSON escapes what it must itself
    json.dump(obj, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")


def _source_of(path: Path) -> str:
    """A file's identity in the workspace: the path as given (normalised; relative to the
    current folder when inside it), so q1/minutes.txt and q2/minutes.txt are two documents."""
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            pass
    return Path(os.path.normpath(path)).as_posix()


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest.loaders import LoadOptions
    from rag.ingest.pipeline import Upload, expand_paths

    files = expand_paths(args.paths)
    missing = [p for p in files if not p.exists()]
    for p in missing:
        print(f"FAILED  {p}: no such file", file=sys.stderr)
    files = [p for p in files if p.exists()]
    if not files and not missing:
        print("no supported files found", file=sys.stderr)
        return 1
    svc = _services()
    ws = svc.workspace(args.workspace, create=True, recover=True)
    options = LoadOptions(text_column=args.text_column, date_column=args.date_column)
    uploads = [Upload(p.name, path=p, options=options, source=_source_of(p)) for p in files]
    failed = len(missing)
    reports = []
    for rep in svc.ingestor(ws).iter_ingest(uploads):
        reports.append(rep.to_dict())
        if not rep.ok:
            failed += 1
        if not args.json:
            print(f"{rep.status.upper():9} {rep.filename}: {rep.message}", flush=True)
    if args.json:
        _print_json(reports)
    return 1 if failed else 0


def cmd_docs(args: argparse.Namespace) -> int:
    from rag.ingest.facts import ensure_facts, facts_for

    ws = _services().workspace(args.workspace)
    docs = ensure_facts(ws)
    if args.filter:
        docs = _filtered(docs, args.filter)
    if args.json:
        # 'doc_name' as search/ask/figures call it; 'name' kept for older scripts
        _print_json([{**d.to_dict(), "doc_name": d.name, "facts": facts_for(d).to_dict()}
                     for d in docs])
        return 0
    if not docs:
        print(f"workspace '{ws.name}' has no documents" + (" matching" if args.filter else ""))
    for d in docs:
        f = facts_for(d)
        what = " · ".join(x for x in (f.issuer, f.form if f.form != "other" else "", f.period)
                          if x)
        print(f"{d.doc_id}  {d.kind:10} {d.units:6} {d.unit_label:8} {d.chunks:6} chunks  "
              f"{d.name}" + (f"  [{what}]" if what else ""))
    return 0


def _filtered(docs: list, filters: list[str]) -> list:
    from rag.ingest.facts import filter_documents

    try:
        return filter_documents(docs, filters)
    except ValueError as exc:
        raise RagError(str(exc)) from None


def cmd_delete(args: argparse.Namespace) -> int:
    ws = _services().workspace(args.workspace, recover=True)
    doc = ws.get_document(args.doc_id)
    ws.delete_document(args.doc_id)
    print(f"deleted {doc.doc_id} ({doc.name}, {doc.chunks} chunks)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    svc = _services()
    ws = svc.workspace(args.workspace)
    hits = svc.searcher(ws).search(args.query, k=args.k, focus=not args.no_focus,
                                   filter=_filter_from(args, ws))
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for i, h in enumerate(hits, 1):
        text = " ".join(h.chunk.text.split())
        print(f"[{i}] {h.score:.3f}  {h.chunk.doc_name}  {h.chunk.location()}\n    {text[:300]}")
    return 0


def _filter_from(args: argparse.Namespace, ws):
    from rag.retrieve import SearchFilter

    doc_ids = []
    for ref in args.doc or []:
        match = [d.doc_id for d in ws.documents() if ref in (d.doc_id, d.name, d.filename)]
        if not match:
            raise RagError(f"no document '{ref}' in workspace '{ws.name}'")
        doc_ids.extend(match)
    if getattr(args, "filter", None):
        from rag.ingest.facts import ensure_facts

        picked = [d.doc_id for d in _filtered(ensure_facts(ws), args.filter)]
        if not picked:
            raise RagError(f"no document in workspace '{ws.name}' matches "
                           f"{' and '.join(args.filter)}")
        doc_ids = [d for d in doc_ids if d in picked] if doc_ids else picked
        if not doc_ids:
            raise RagError("no document matches both --doc and --filter")
    return SearchFilter(doc_ids=tuple(doc_ids), kinds=tuple(args.type or ()),
                        speakers=tuple(args.speaker or ()), date_from=args.date_from,
                        date_to=args.date_to)


def _log_question(svc, ws, answer) -> None:
    """Keep the question in the workspace's log (the Dashboard's questions and gaps)."""
    from rag.analytics.questions import SOURCE_CLI

    svc.log_answer(ws, answer, SOURCE_CLI)


def cmd_ask(args: argparse.Namespace) -> int:
    svc = _services()
    ws = svc.workspace(args.workspace)
    answerer = svc.answerer(ws, k=args.k)
    filt = _filter_from(args, ws)
    if args.json:
        ans = answerer.ask(args.question, filter=filt, focus=not args.no_focus)
        _log_question(svc, ws, ans)
        _print_json(ans.to_dict())
        return 0
    final = None
    from rag.answer import Answer

    for part in answerer.stream(args.question, filter=filt, focus=not args.no_focus):
        if isinstance(part, Answer):
            final = part
        elif isinstance(part, str) and final is None:
            print(part, end="", flush=True)
    print("\n")
    _log_question(svc, ws, final)
    if final is not None:
        if final.rewritten != final.question:
            print(f"(searched for: {final.rewritten})")
        for c in final.citations:
            mark = "" if c.ok else "  [check: " + ("; ".join(c.numbers_missing) or "weak support") + "]"
            print(f"[{c.n}] {c.chunk.doc_name}, {c.chunk.location()}: \"{c.quote}\"{mark}")
        print(f"\nchecked answer: {final.text}" if final.citations else "")
    return 0


def cmd_workspaces(args: argparse.Namespace) -> int:
    svc = _services()
    if args.create:
        svc.workspace(args.create, create=True)
    if args.delete:
        svc.delete_workspace(args.delete)
        print(f"deleted workspace '{args.delete}'", file=sys.stderr)
    items = svc.list_workspaces()
    if args.json:
        _print_json(items)
    else:
        for w in items:
            print(f"{w['name']}  ({w['collection']}, {w['embed_model']}, {w['role']})")
    return 0


def cmd_lexicon(args: argparse.Namespace) -> int:
    """Show or set the vocabulary a workspace is read with (finance, none or a lexicon file)."""
    svc = _services()
    ws = svc.workspace(args.workspace, recover=args.set is not None)
    choice = svc.set_lexicon(ws, args.set) if args.set is not None else svc.lexicon_choice(ws)
    lex = svc.lexicon(ws)
    out = {"workspace": ws.name, "lexicon": choice, "name": lex.name,
           "glossary_terms": len(lex.glossary), "metrics": len(lex.metrics)}
    if args.json:
        _print_json(out)
    else:
        print(f"{ws.name}: lexicon {choice} ({lex.name}: {out['glossary_terms']} glossary "
              f"terms, {out['metrics']} metrics)")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """Feedback themes of a CSV/XLSX file (embedded here) or of an ingested table document."""
    from rag.analytics import feedback as fb

    if bool(args.file) == bool(args.doc):
        raise RagError("give a FILE, or --doc DOC_ID (with --workspace) for an ingested table")
    if args.k is not None and args.k < 1:
        raise RagError("--k must be at least 1")
    svc = None  # built once, and only when needed: a FILE alone needs just the embedder
    if args.file:
        from pathlib import Path

        from rag.config import get_settings
        from rag.ingest.loaders import read_table_preview
        from rag.services import build_embedder

        path = Path(args.file)
        if not path.is_file():
            raise RagError(f"no such file: {path}")
        if not args.text_column:
            raise RagError("--text-column is required with a FILE")
        data = path.read_bytes()
        table = read_table_preview(data, path.name, limit=get_settings().max_rows)
        items, positions = fb.items_from_rows(table["columns"], table["rows"], args.text_column)
        fb.check_texts([it.text for it in items], args.text_column)
        roles = fb.guess_roles(items, table["columns"], args.text_column, args.date_column)
        if args.name_with_model:
            svc = _services()
            embedder = svc.embedder
        else:
            embedder = build_embedder()
        vectors = embedder.embed([it.text for it in items])
        source = {"file": str(path), "embed_model": embedder.name}
        # A FILE's runs are kept too (keyed by its absolute path), so --previous works.
        import hashlib

        collection = "cli-files"
        doc_key = "f" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20]
    else:
        svc = _services()
        ws = svc.workspace(args.workspace)
        match = [d for d in ws.documents() if args.doc in (d.doc_id, d.name, d.filename)]
        if not match:
            raise RagError(f"no document '{args.doc}' in workspace '{ws.name}'")
        doc = match[0]
        items, vectors = fb.load_document(ws, doc)
        positions = list(range(len(items)))
        roles = fb.guess_roles(items, list(doc.meta.get("columns") or []),
                               doc.meta.get("text_column") or "",
                               args.date_column or doc.meta.get("date_column"))
        source = fb.source_of(ws, doc)
        collection, doc_key = ws.collection_name, doc.doc_id
    if svc is None:
        svc = _services()
    store = svc.analysis_store()
    previous = None
    if args.previous:
        previous = store.load_run(collection, doc_key, args.previous)
        if previous is None:
            runs = ", ".join(r["run_id"] for r in store.runs(collection, doc_key)[:5])
            raise RagError(f"no stored run '{args.previous}' of this feedback"
                           + (f" (stored runs: {runs})" if runs else " (no run stored yet)"))
    namer = None
    if args.name_with_model:
        assert svc is not None
        namer = fb.ModelNamer(svc.chat_model())
    a = fb.analyze(items, vectors, roles, k=args.k, namer=namer, source=source,
                   previous=previous)
    store.save(collection, doc_key, a)
    out = fb.cluster_json(a, positions)
    if args.json:
        _print_json(out)
        return 0
    print(fb.summary_text(a))
    print(f"run {a.run_id}" + (f" (aligned with run {a.previous_run})" if a.previous_run
                                 else ""))
    for h in out["headlines"]:
        print(f"\n[{h['id']}] {h['name']}  ({h['size']} comments, {h['status']})")
        for c in [c for c in out["clusters"] if c["parent"] == h["id"]]:
            senti = "" if c["sentiment"] is None else f"  sentiment {c['sentiment']:+.2f}"
            print(f"  {c['id']:>3}  {c['size']:6}  {c['name']}  [{c['status']}]{senti}\n"
                  f"         terms: {', '.join(c['terms'])}")
            for ex in c["examples"]:
                print(f"         - {' '.join(ex.split())[:160]}")
    return 0



def cmd_summarize(args: argparse.Namespace) -> int:
    """A cited brief of one document (stored with the workspace, reused while unchanged)."""
    from rag.analytics.summaries.brief import summarize_document
    from rag.analytics.summaries.export import to_markdown

    svc = _services()
    ws = svc.workspace(args.workspace)
    match = [d for d in ws.documents() if args.doc_id in (d.doc_id, d.name, d.filename)]
    if not match:
        raise RagError(f"no document '{args.doc_id}' in workspace '{ws.name}': "
                       "see `ragdesk docs`")
    model = None if args.no_model else svc.chat_model()

    def progress(frac: float, msg: str) -> None:
        if not args.json:
            print(f"[{frac:4.0%}] {msg}", file=sys.stderr, flush=True)

    brief, cached = summarize_document(ws, match[0], args.kind, model,
                                       store=svc.summary_store(),
                                       refresh=args.refresh, progress=progress,
                                       budget_s=args.budget, lexicon=svc.lexicon(ws))
    if args.json:
        _print_json({**brief.to_dict(), "cached": cached})
    else:
        print(to_markdown(brief))
    return 0


def _summarize_parser(sub) -> None:
    sp = sub.add_parser("summarize", help="a cited brief of one document (earnings call, "
                                          "meeting or general)")
    sp.add_argument("doc_id", help="the document (id, name or file name)")
    sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name")
    sp.add_argument("--kind", choices=["auto", "earnings", "meeting", "general"], default="auto",
                    help="what to write (default: guessed from the content)")
    sp.add_argument("--no-model", action="store_true",
                    help="extractive brief only, without the chat model")
    sp.add_argument("--refresh", action="store_true", help="make it again even if stored")
    sp.add_argument("--budget", type=float, default=420.0,
                    help="seconds the model may use; the rest is written extractively")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_summarize)


def _cluster_parser(sub) -> None:
    sp = sub.add_parser("cluster", help="group feedback rows into named themes")
    sp.add_argument("file", nargs="?", help="a CSV/XLSX file (or use --doc for an ingested one)")
    sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name (with --doc)")
    sp.add_argument("--doc", help="an ingested table document (id, name or file name)")
    sp.add_argument("--text-column", help="the column holding the comments (with a FILE)")
    sp.add_argument("--date-column", help="the date column (optional)")
    sp.add_argument("--k", type=int, help="number of themes (default: chosen automatically)")
    sp.add_argument("--name-with-model", action="store_true",
                    help="name themes with the chat model (default: a keyphrase of each "
                         "theme's comments)")
    sp.add_argument("--previous", metavar="RUN_ID",
                    help="align with an earlier run of the same feedback (same themes keep "
                         "their ids and names; the others are marked new)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_cluster)


def cmd_eval(args: argparse.Namespace) -> int:
    """Retrieval quality of an evaluation set over a workspace: recall@k and MRR."""
    from pathlib import Path

    from rag.eval.dataset import load_eval_set
    from rag.eval.retrieval import evaluate

    if args.k < 1:
        raise RagError("-k must be at least 1")
    questions = load_eval_set(args.file)  # a bad file fails before the model loads
    svc = _services()
    ws = svc.workspace(args.workspace)
    s = svc.settings
    run = evaluate(svc.searcher(ws), questions, k=args.k, focus=not args.no_focus,
                   set_name=Path(args.file).name,
                   settings={"chunk_chars": s.chunk_chars, "embed_backend": s.embed_backend})
    if not args.no_save:
        svc.eval_history(ws).add(run)
    if run.missing_docs:
        print(f"warning: {len(run.missing_docs)} document(s) of the set are not in workspace "
              f"'{ws.name}' (their questions count as misses): "
              + ", ".join(run.missing_docs[:10]), file=sys.stderr)
    if args.json:
        _print_json(run.to_dict())
        return 0
    for r in run.results:
        mark = f"hit at {r.rank}" if r.hit else "miss"
        print(f"{mark:10} {r.question.doc_name} p.{','.join(map(str, r.question.pages)) or '-'}"
              f"  {r.question.question[:90]}")
    print(f"\n{run.questions} questions  recall@{run.k} {run.recall:.3f}  MRR {run.mrr:.3f}  "
          f"({run.seconds:.1f} s)")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Cells read from the workspace's tables and sentences (ready documents only)."""
    svc = _services()
    ws = svc.workspace(args.workspace)
    ready = ws.ready_ids()
    doc_ids = ready
    if args.doc:
        doc_ids = [d.doc_id for d in ws.documents() if args.doc in (d.doc_id, d.name, d.filename)]
        if not doc_ids:
            raise RagError(f"no document '{args.doc}' in workspace '{ws.name}'")
    cells = svc.figure_store(ws).cells(doc_ids=doc_ids, item=args.item, period=args.period,
                                       limit=args.limit)
    if args.json:
        _print_json([{"doc_id": c.doc_id, "doc_name": c.doc_name, "page": c.page,
                      "row": c.row, "table": c.table, "statement": c.statement,
                      "row_label": c.row_label, "period": c.period, "column": c.column,
                      "value": c.value, "unit": c.unit, "text": c.text, "span": c.span,
                      "source": c.source} for c in cells])
        return 0
    if not cells:
        print("no figures found" + (f" for '{args.item}'" if args.item else ""))
    for c in cells:
        print(f"{c.doc_name}  {c.location():8} {c.row_label[:60]:60} {c.period:8} "
              f"{c.text:>12} {c.unit}")
    return 0


def _figures_parser(sub) -> None:
    sp = sub.add_parser("figures", help="figures read from the documents' tables, as cells")
    sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name")
    sp.add_argument("--doc", help="only this document (id or name)")
    sp.add_argument("--item", help="only line items whose label contains this text")
    sp.add_argument("--period", help="only this period (FY2022, Q2 2023)")
    sp.add_argument("--limit", type=int, default=None)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_figures)


def _eval_parser(sub) -> None:
    sp = sub.add_parser("eval", help="retrieval quality of an evaluation set (recall@k, MRR)")
    sp.add_argument("file", help="JSONL or CSV: question, doc_name, page (1-based), answer")
    sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name")
    sp.add_argument("-k", type=int, default=5, help="passages looked at per question")
    sp.add_argument("--no-focus", action="store_true",
                    help="do not narrow each search to documents the question names")
    sp.add_argument("--no-save", action="store_true",
                    help="do not add this run to the workspace's history")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_eval)


def _filter_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--doc", action="append", help="only this document (id or name); repeatable")
    sp.add_argument("--type", action="append", help="only this document type (pdf, transcript...)")
    sp.add_argument("--speaker", action="append", help="only turns of this speaker")
    sp.add_argument("--date-from", help="rows dated on or after (YYYY-MM-DD)")
    sp.add_argument("--date-to", help="rows dated on or before (YYYY-MM-DD)")
    sp.add_argument("--filter", action="append", metavar="KEY=VALUE",
                    help="only documents whose facts match: issuer, ticker, form, period "
                         "(FY2023, Q2 FY2023), year or speaker; repeatable")
    sp.add_argument("--no-focus", action="store_true",
                    help="do not narrow to documents the question names")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ragdesk", description=__doc__)
    p.add_argument("--user", metavar="EMAIL",
                   help="act as this user (needed when sign-in is configured; default: the "
                        "local admin)")
    sub = p.add_subparsers(dest="command", required=True)

    def ws_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--workspace", "-w", default=DEFAULT_WS, help="workspace name")

    sp = sub.add_parser("ingest", help="add files or folders to a workspace")
    sp.add_argument("paths", nargs="+")
    ws_arg(sp)
    sp.add_argument("--text-column", help="CSV/XLSX: the column holding the text")
    sp.add_argument("--date-column", help="CSV/XLSX: the date column")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("docs", help="list the documents of a workspace, with what each is "
                                     "(issuer, form, period: read from its content)")
    ws_arg(sp)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--filter", action="append", metavar="KEY=VALUE",
                    help="only documents whose facts match (issuer, ticker, form, period, year, "
                         "speaker); repeatable")
    sp.set_defaults(func=cmd_docs)

    sp = sub.add_parser("delete", help="delete a document and all its chunks")
    sp.add_argument("doc_id")
    ws_arg(sp)
    sp.set_defaults(func=cmd_delete)

    sp = sub.add_parser("search", help="show the passages that best match a query")
    sp.add_argument("query")
    ws_arg(sp)
    sp.add_argument("-k", type=int, default=5)
    _filter_args(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("ask", help="answer a question from the documents, with citations")
    sp.add_argument("question")
    ws_arg(sp)
    sp.add_argument("-k", type=int, default=5, help="passages given to the model")
    _filter_args(sp)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_ask)

    sp = sub.add_parser("workspaces", help="list (or --create) workspaces")
    sp.add_argument("--create", metavar="NAME")
    sp.add_argument("--delete", metavar="NAME", help="delete a workspace (owners only)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_workspaces)

    sp = sub.add_parser("lexicon", help="show or set the vocabulary a workspace is read with "
                        "(finance, none, or a .toml/.json lexicon file)")
    sp.add_argument("workspace")
    sp.add_argument("--set", metavar="LEXICON",
                    help="finance, none, or the path of a lexicon file (editors and owners)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_lexicon)
    from rag.auth.cli import add_parsers

    add_parsers(sub, lambda: _services(), _print_json)
    _cluster_parser(sub)
    _summarize_parser(sub)
    _eval_parser(sub)
    _figures_parser(sub)
    return p


def _silence_stdout(stream) -> None:
    """After a broken pipe: send what is still buffered to /dev/null, so that exiting does
    not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests): nothing to do
        pass


def main(argv: list[str] | None = None) -> int:
    global _CLI_USER
    args = build_parser().parse_args(argv)
    _CLI_USER = args.user
    stdout = sys.stdout
    sys.stdout = _PlainStdout(stdout)
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away fails here, not at exit
        return rc
    except BrokenPipeError:  # `ragdesk search ... | head`: the reader has what it wanted
        _silence_stdout(stdout)
        return 141  # 128 + SIGPIPE, like other command-line tools
    except RagError as exc:
        print(f"error: {plain_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A full, read-only or failing disk met outside the store (side files, a log): say so
        # in one line; anything else is a bug and keeps its traceback.
        from rag.config import get_settings
        from rag.index.disk import disk_error

        err = disk_error(exc, get_settings().data_dir)
        if err is None:
            raise
        print(f"error: {plain_text(str(err))}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
