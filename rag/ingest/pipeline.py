"""The ingestion pipeline: parse -> chunk -> embed -> write, one document at a time, atomically.

Parsing of the next file runs in a background thread (PDFs in a bounded child process) while
the current one is embedded, so the two cores are both busy on a batch upload.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import Settings
from rag.errors import RagError, WorkspaceError
from rag.index.embedder import Embedder
from rag.index.store import Workspace
from rag.ingest.chunking import chunk_document
from rag.ingest.loaders import (
    SUPPORTED_EXT,
    LoadOptions,
    check_size,
    extension,
    load,
    safe_filename,
    source_name,
)
from rag.types import Chunk, DocumentInfo, IngestReport, IngestStatus, ParsedDocument

Progress = Callable[[float, str], None]


class FigureSink(Protocol):
    """What ingestion needs of a figure store: replace and remove a document's cells."""

    def put(self, doc_id: str, cells: Any) -> None: ...

    def delete(self, doc_id: str) -> None: ...

    def has(self, doc_id: str) -> bool: ...


@dataclass(frozen=True)
class Upload:
    """One file to ingest: its name, its bytes (or a path to read them from) and options.

    `source` is the document's identity for replacement (default: the full `filename`): a new
    version replaces the document of the same source and kind, nothing else.
    """

    filename: str
    data: bytes | None = None
    path: Path | None = None
    options: LoadOptions | None = None
    source: str | None = None

    def read(self, limit: int | None = None) -> bytes:
        """The bytes; from a path, at most `limit` + 1 of them (enough to refuse the file)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as f:
            return f.read() if limit is None else f.read(limit + 1)

    @property
    def source_name(self) -> str:
        return source_name(self.source or self.filename)


def embed_input(chunk: Chunk) -> str:
    """What the embedder sees: the passage, with its document title for context.

    Feedback rows are embedded alone: a shared title would pull every row together.
    """
    if chunk.kind == "table":
        return chunk.text
    title = chunk.doc_name.replace("_", " ")
    head = f"{title} | {chunk.heading}" if chunk.heading else title
    return f"{head}\n{chunk.text}"


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files and folders -> the supported files inside them, sorted, hidden files skipped."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                f for f in sorted(p.rglob("*"))
                if f.is_file() and not f.name.startswith(".") and extension(f.name) in SUPPORTED_EXT
            )
        else:
            out.append(p)
    return out


class Ingestor:
    """Ingest files into one workspace with one embedder."""

    def __init__(self, workspace: Workspace, embedder: Embedder, settings: Settings,
                 figures: FigureSink | None = None,
                 on_report: Callable[[IngestReport], None] | None = None) -> None:
        self.workspace = workspace
        self.embedder = embedder
        self.settings = settings
        # Told of every file's report, failed or not (the composition root records failures
        # in the workspace's question log, where they wait on the dashboard). Never raises.
        self.on_report = on_report
        # Where a document's table cells go (rag.figures.store); written before the document
        # is committed and read only for ready documents, so cells appear with the chunks.
        self.figures = figures
        # A document's cells go with it (roll-back, replacement, deletion, recovery): the
        # workspace calls its purge hooks; register ours unless the services already did.
        if figures is not None and figures.delete not in workspace.purge_hooks:
            workspace.purge_hooks.append(figures.delete)

    def _write_figures(self, doc: ParsedDocument, doc_id: str, timings: dict) -> None:
        if self.figures is None:
            return
        from rag.figures.extract import extract_cells

        t = time.perf_counter()
        self.figures.put(doc_id, extract_cells(doc, doc_id))
        timings["figures"] = time.perf_counter() - t

    def _parse(self, up: Upload) -> tuple[ParsedDocument | None, str | None, float]:
        t0 = time.perf_counter()
        try:
            if up.data is None and up.path is not None:
                check_size(os.stat(up.path).st_size, self.settings)  # before reading it
            data = up.read(limit=self.settings.max_file_mb * 1024 * 1024)
        except OSError as exc:
            return None, f"cannot read the file: {exc.strerror or exc}", 0.0
        except RagError as exc:
            return None, str(exc), 0.0
        try:
            doc = load(data, up.filename, self.settings, up.options)
            return doc, None, time.perf_counter() - t0
        except RagError as exc:
            return None, str(exc), time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - a loader bug must fail one file, not the batch
            return None, f"could not read this file ({type(exc).__name__}: {exc})"[:300], 0.0

    def ingest_many(self, uploads: list[Upload], progress: Progress | None = None
                    ) -> list[IngestReport]:
        """Ingest every upload; a failure stops only its own file."""
        return list(self.iter_ingest(uploads, progress))

    def iter_ingest(self, uploads: list[Upload], progress: Progress | None = None
                    ) -> Iterator[IngestReport]:
        n = len(uploads)
        if not n:
            return
        started = time.perf_counter()
        pages_done = 0  # pages (rows, sections) of the files finished so far
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse") as pool:
            futures: list[Future] = [pool.submit(self._parse, uploads[0])]
            for i, up in enumerate(uploads):
                if i + 1 < n:
                    futures.append(pool.submit(self._parse, uploads[i + 1]))
                name = safe_filename(up.filename)
                current = [0]  # this file's pages, once parsed

                def sub(frac: float, msg: str, i=i, name=name, current=current,
                        done=pages_done) -> None:
                    if progress:
                        progress((i + frac) / n,
                                 f"{name}: {msg}" + _rate(done + frac * current[0],
                                                          time.perf_counter() - started))

                sub(0.0, "reading")
                t0 = time.perf_counter()
                doc, err, parse_s = futures[i].result()
                futures[i] = None  # type: ignore[call-overload]  # free the parsed text early
                if doc is not None:
                    current[0] = _pages_of(doc)
                if doc is None:
                    report = IngestReport(name, "failed", err or "unknown error",
                                          seconds=time.perf_counter() - t0)
                else:
                    report = self._index(doc, sub, parse_s, t0, up.source_name)
                pages_done += current[0]
                sub(1.0, report.status)
                if self.on_report is not None:
                    with contextlib.suppress(Exception):  # bookkeeping must not break an ingest
                        self.on_report(report)
                yield report

    def index_parsed(self, doc: ParsedDocument, progress: Progress | None = None
                     ) -> IngestReport:
        """Chunk, embed and write a document already parsed (by a loader, or generated by a
        benchmark), exactly as `iter_ingest` does after parsing."""
        def sub(frac: float, msg: str) -> None:
            if progress:
                progress(frac, msg)

        report = self._index(doc, sub, 0.0, time.perf_counter())
        if self.on_report is not None:
            with contextlib.suppress(Exception):
                self.on_report(report)
        return report

    def ingest_bytes(self, data: bytes, filename: str, options: LoadOptions | None = None,
                     progress: Progress | None = None) -> IngestReport:
        return self.ingest_many([Upload(filename, data=data, options=options)], progress)[0]

    def _index(self, doc: ParsedDocument, sub: Progress, parse_s: float, t0: float,
               source: str | None = None) -> IngestReport:
        ws = self.workspace
        doc_id = doc.content_hash[:16]
        source = source or source_name(doc.filename)
        timings = {"parse": parse_s}
        try:
            existing = ws.get_document(doc_id)
            if self.figures is not None and not self.figures.has(doc_id):
                self._write_figures(doc, doc_id, timings)  # added before figures were read
            return IngestReport(doc.filename, "unchanged",
                                f"already in this workspace (as '{existing.name}')",
                                doc=existing, seconds=time.perf_counter() - t0, timings=timings)
        except RagError:
            pass
        # Only an earlier version of this very file is replaced: same full source name (with
        # extension and folders, never the shortened display name) and same kind.
        same_source = [d for d in ws.find_by_source(source, doc.kind) if d.doc_id != doc_id]

        t = time.perf_counter()
        chunks = chunk_document(doc, doc_id, self.settings.chunk_chars)
        timings["chunk"] = time.perf_counter() - t
        cap = self.settings.max_chunks
        if cap and len(chunks) > cap:  # refused whole: nothing of it is written
            return IngestReport(
                doc.filename, "failed",
                f"the document makes {len(chunks):,} chunks, over the {cap:,}-chunk cap per "
                "document (RAG_MAX_CHUNKS): split it or raise the cap; nothing was added",
                seconds=time.perf_counter() - t0, timings=timings)
        t = time.perf_counter()
        facts = _facts(doc)
        timings["facts"] = time.perf_counter() - t
        info = DocumentInfo(
            doc_id=doc_id, name=doc.name, filename=doc.filename, kind=doc.kind,
            units=_pages_of(doc),
            chunks=len(chunks), size=doc.size, added_at=time.time(), status="pending",
            meta={**doc.meta, "source": source, "facts": facts,
                  **({"replaces": [d.doc_id for d in same_source]} if same_source else {})},
        )
        try:
            ws.begin(info)
            timings["embed"] = timings["write"] = 0.0
            step = 64
            for s in range(0, len(chunks), step):
                part = chunks[s : s + step]
                t = time.perf_counter()
                vecs = np.asarray(self.embedder.embed([embed_input(c) for c in part]))
                timings["embed"] += time.perf_counter() - t
                t = time.perf_counter()
                ws.add_chunks(part, vecs)
                ws.heartbeat(info)  # still writing: recovery elsewhere must leave it alone
                timings["write"] += time.perf_counter() - t
                sub(min(0.99, (s + len(part)) / max(1, len(chunks))),
                    f"embedded {s + len(part)}/{len(chunks)} chunks")
            stored = ws.count_doc_chunks(doc_id)
            if stored != len(chunks):
                raise WorkspaceError(
                    f"{stored} of its {len(chunks)} chunks are in the index (another process "
                    "removed or added some while it was written): it was rolled back, add it "
                    "again")
            self._write_figures(doc, doc_id, timings)
            ws.commit(info)
        except BaseException as exc:
            # Roll back what this document wrote; the workspace stays as it was before it.
            with contextlib.suppress(Exception):  # recover() finishes the job on next start
                ws._purge(doc_id)
            if isinstance(exc, Exception):
                return IngestReport(doc.filename, "failed",
                                    f"could not store the document: {exc}"[:300],
                                    seconds=time.perf_counter() - t0, timings=timings)
            raise
        status: IngestStatus = "added"
        message = f"{info.units} {info.unit_label}, {info.chunks} chunks"
        if doc.meta.get("warning"):  # e.g. a text file cut where binary junk begins
            message += f"; {doc.meta['warning']}"
        if same_source:
            for old in same_source:
                try:
                    ws.delete_document(old.doc_id)
                except RagError:
                    pass
            status = "replaced"
            message += " (replaced the earlier version: " + ", ".join(
                f"'{old.meta.get('source') or old.filename}' (doc {old.doc_id})"
                for old in same_source
            ) + ")"
        ready = ws.get_document(doc_id)
        return IngestReport(doc.filename, status, message, doc=ready,
                            seconds=time.perf_counter() - t0, timings=timings)


def _pages_of(doc: ParsedDocument) -> int:
    """The document's pages (rows, sections): what the progress bar counts per second."""
    return int(doc.meta.get("pages") or doc.meta.get("rows_with_text") or len(doc.units))


def _rate(pages: float, seconds: float) -> str:
    """' · 12.3 pages/s' once there is something to measure, else ''."""
    if pages <= 0 or seconds < 0.5:
        return ""
    return f" · {pages / seconds:.1f} pages/s"


def _facts(doc: ParsedDocument) -> dict:
    """What the document is, read from its content (rag.ingest.facts); never fails an ingest."""
    from rag.ingest.facts import facts_of_document

    try:
        return facts_of_document(doc).to_dict()
    except Exception:  # noqa: BLE001 - facts are an aid; read later from the chunks if need be
        return {}
