"""Loaders: (bytes, filename) -> ParsedDocument, keeping pages, headings, speaker turns or rows.

Every failure raises a `BadFile`/`UnsupportedFile` whose message a person understands.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from rag.errors import BadFile, FileTooLarge, UnsupportedFile
from rag.ingest.text import binary_start, control_ratio, decode_text, strip_invisible
from rag.text.columns import meta_key
from rag.text.dates import is_day_first, to_iso_date
from rag.types import ParsedDocument, Scalar, Unit

if TYPE_CHECKING:  # the parsing child reads its limits from `Limits`, never the settings
    from rag.config import Settings


@dataclass(frozen=True)
class Limits:
    """What the loaders read of the settings inside the parsing child (`_limits` sends them
    there as JSON): the same names as `Settings`' fields."""

    max_rows: int
    max_pages: int
    max_page_chars: int
    max_doc_chars: int

    @classmethod
    def of(cls, sent: dict[str, Any]) -> Limits:
        return cls(**{k: int(sent[k]) for k in cls.__dataclass_fields__})

TEXT_EXT = {".txt", ".text", ".log"}
MD_EXT = {".md", ".markdown"}
TABLE_EXT = {".csv", ".tsv", ".xlsx", ".xlsm"}
SUPPORTED_EXT = sorted(
    TEXT_EXT | MD_EXT | TABLE_EXT | {".pdf", ".docx", ".vtt", ".srt"}
)

# Zip containers (docx, xlsx) are checked before opening: a bomb is refused, not inflated.
MAX_UNZIPPED = 300 * 1024 * 1024
MAX_ZIP_RATIO = 200

# Every format is parsed in the bounded child (`rag.ingest.worker`) except small plain text
# (text, markdown, subtitles, CSV up to this size): those parsers are linear and inflate
# nothing, and a child costs about 0.2 s to start, once a file.
IN_PROCESS_MAX_BYTES = 1024 * 1024
_TEXT_KINDS = {"text", "markdown", "vtt", "srt", "csv"}
# A text file whose text part is shorter than this before binary starts is refused as binary.
MIN_TEXT_BEFORE_BINARY = 1024


@dataclass(frozen=True)
class LoadOptions:
    """Choices a user can make for one file (tables: which column holds the text)."""

    text_column: str | None = None
    date_column: str | None = None
    sheet: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """Stable text of the options, part of the document's identity."""
        d = {"t": self.text_column, "d": self.date_column, "s": self.sheet}
        return json.dumps({k: v for k, v in d.items() if v}, sort_keys=True)


def safe_filename(filename: str) -> str:
    """The bare file name: no directories (either slash), no control characters, bounded."""
    base = PureWindowsPath(PurePosixPath(filename or "").name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    base = base.lstrip(".") or "untitled"
    if len(base) > 180:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:170] + "." + ext) if dot and len(ext) <= 8 else base[:180]
    return base


def source_name(filename: str) -> str:
    """A document's identity for replacement: its full name with extension and any folders
    (a CLI path as given), control characters removed, never truncated.

    `safe_filename` is only the display name: it drops folders and cuts long names, so two
    different files can share it.
    """
    name = (filename or "").replace("\\", "/")
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts) or "untitled"


def check_size(nbytes: int, settings: Settings) -> None:
    """Refuse a file over `settings.max_file_mb` (checked on its size, before reading it)."""
    limit_mb = settings.max_file_mb
    limit = limit_mb * 1024 * 1024
    if nbytes <= limit:
        return
    mb = nbytes / (1024 * 1024)
    size = f"{mb:,.0f} MB"
    if round(mb) <= limit_mb:  # "1 MB, over the 1 MB limit": say by how much
        size = f"{mb:,.1f} MB" if round(mb, 1) > limit_mb else f"{nbytes:,} bytes"
    over = f"the {limit_mb:,} MB limit"
    if size.endswith("bytes"):
        over += f" ({limit:,} bytes)"
    raise FileTooLarge(f"file is {size}, over {over} (RAG_MAX_FILE_MB): split it or raise "
                       "the limit")


def doc_name_of(filename: str) -> str:
    name = safe_filename(filename)
    stem, dot, _ext = name.rpartition(".")
    return stem if dot and stem else name


def extension(filename: str) -> str:
    name = safe_filename(filename).lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def content_hash(data: bytes, options: LoadOptions | None = None) -> str:
    h = hashlib.sha256(data)
    if options is not None and options.key() != "{}":
        h.update(b"\0" + options.key().encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# dispatch


def sniff(data: bytes, filename: str) -> str:
    """The loader to use, from the extension checked against the first bytes."""
    ext = extension(filename)
    head = data[:8]
    if ext == ".pdf":
        if head.startswith((b"MZ", b"\x7fELF")):
            raise BadFile("this is a program, not a PDF: upload the real document")
        if b"%PDF" not in data[:1024]:
            if head.startswith(b"PK"):
                raise BadFile("this is a zip container (Office file?) named .pdf: rename it")
            raise BadFile("not a PDF: the file does not start like one (renamed or damaged?)")
        return "pdf"
    if ext in {".docx"}:
        return "docx"
    if ext in {".xlsx", ".xlsm"}:
        return "xlsx"
    if ext in {".csv", ".tsv"}:
        return "csv"
    if ext == ".vtt":
        return "vtt"
    if ext == ".srt":
        return "srt"
    if ext in MD_EXT:
        return "markdown"
    if ext in TEXT_EXT:
        return "text"
    if ext in {".doc", ".xls", ".ppt", ".pptx", ".rtf", ".odt"}:
        raise UnsupportedFile(
            f"{ext} files are not read yet: save as PDF, DOCX, XLSX or text and upload again"
        )
    raise UnsupportedFile(
        f"unsupported file type '{ext or 'no extension'}': RAGdesk reads "
        + ", ".join(SUPPORTED_EXT)
    )


def load(
    data: bytes,
    filename: str,
    settings: Settings,
    options: LoadOptions | None = None,
) -> ParsedDocument:
    """Parse one file. Raises BadFile / UnsupportedFile with a user-facing message."""
    options = options or LoadOptions()
    name = safe_filename(filename)
    check_size(len(data), settings)
    if not data.strip():
        raise BadFile("the file is empty")
    kind = sniff(data, name)
    text_data, warning = data, None
    if kind in _TEXT_KINDS:
        text_data, warning = _cut_binary_tail(data)
    if kind == "pdf":
        units, kind_out, meta = _load_pdf(data, settings, options)
    elif kind in _TEXT_KINDS and len(text_data) <= IN_PROCESS_MAX_BYTES:
        units, kind_out, meta = _LOADERS[kind](text_data, settings, options)
    else:
        units, kind_out, meta = _load_in_child(kind, text_data, name, settings, options)
    units = tuple(u for u in clean_units(units) if u.text.strip())
    if not units:
        raise BadFile("no text found in the file")
    check_text_caps(units, settings)
    if warning:
        meta = {**meta, "warning": warning}
    return ParsedDocument(
        filename=name,
        name=doc_name_of(name),
        kind=kind_out,
        units=units,
        # Options only change how a table is read: elsewhere they must not change the identity.
        content_hash=content_hash(data, options if kind in ("csv", "xlsx") else None),
        size=len(data),
        meta=meta,
    )


# ---------------------------------------------------------------------------------------------
# the bounded child, text caps and cleaning

# What the parsing child may see of the app's environment: nothing else (no API keys, tokens,
# passwords or database URLs; a parser exploited by a hostile file finds no secret to steal).
_CHILD_ENV = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
              "WINDIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONIOENCODING",
              "PYTHONUTF8", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"}
_SECRET_RE = re.compile(r"KEY|TOKEN|SECRET|PASSW|PWD_|CREDENTIAL|COOKIE|AUTH|DATABASE_URL|"
                        r"^OPENAI_|^AWS_|^AZURE_|^RAG_", re.IGNORECASE)


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The parsing child's environment: the few variables Python needs, never a secret."""
    environ = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in environ.items()
           if (k in _CHILD_ENV or k.startswith("LC_")) and not _SECRET_RE.search(k)}
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _limits(settings: Settings) -> dict[str, int]:
    return {"max_rows": settings.max_rows, "max_pages": settings.max_pages,
            "max_page_chars": settings.max_page_chars, "max_doc_chars": settings.max_doc_chars,
            "page_chars": settings.max_page_chars, "doc_chars": settings.max_doc_chars}


def run_child(kind: str, data: bytes, settings: Settings, what: str = "file",
              **job: Any) -> dict:
    """Parse `data` as `kind` in the bounded child (`rag.ingest.worker`); its JSON result.
    Raises BadFile when the child is stopped (CPU time, memory) or crashes."""
    job = {"kind": kind, "mem_mb": settings.pdf_memory_mb, "cpu_s": settings.pdf_timeout_s,
           "limits": _limits(settings), **job}
    slow = BadFile(
        f"reading this {what} took over {settings.pdf_timeout_s} s and was stopped "
        "(RAG_PDF_TIMEOUT_S bounds the reading of every file): it may be damaged or built to "
        "be slow to read")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rag.ingest.worker", json.dumps(job)],
            input=data,
            capture_output=True,
            check=False,
            # The child stops itself after pdf_timeout_s of CPU (RLIMIT_CPU); this wall-clock
            # backstop catches a child that blocks without using CPU.
            timeout=settings.pdf_timeout_s * 3,
            env=child_env(),
        )
    except subprocess.TimeoutExpired as exc:
        raise slow from exc
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if proc.returncode == -signal.SIGXCPU:
            raise slow
        if "MemoryError" in tail[0] or proc.returncode in (-9, 137):
            raise BadFile(
                f"reading this {what} needed over {settings.pdf_memory_mb} MB of memory and was "
                "stopped (RAG_PDF_MEMORY_MB): the file is too large to read, or built to be "
                "(a decompression bomb?)")
        raise BadFile(f"this {what} could not be read ({tail[0][:160] or 'parser crashed'})")
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise BadFile(f"this {what} could not be read (the parser's answer was cut)") from exc


_WHAT = {"docx": "Word file", "xlsx": "Excel file", "csv": "CSV file", "pdf": "PDF"}


def _load_in_child(kind: str, data: bytes, filename: str, settings: Settings,
                   options: LoadOptions):
    what = _WHAT.get(kind, "file")
    opts = {"text_column": options.text_column, "date_column": options.date_column,
            "sheet": options.sheet}
    result = run_child(kind, data, settings, what, filename=filename, options=opts)
    err = result.get("error")
    if err == "bad":
        raise BadFile(result.get("detail") or f"this {what} could not be read")
    if err == "memory":
        raise BadFile(f"reading this {what} ran out of memory: it may be damaged")
    if err:
        raise BadFile(f"this {what} could not be read ({result.get('detail') or err})")
    units = [Unit(**u) for u in result["units"]]
    return units, result["kind"], result["meta"]


def _clean_str(v: Any) -> Any:
    return strip_invisible(v) if isinstance(v, str) else v


def clean_units(units) -> tuple[Unit, ...]:
    """Units without zero-width characters in their text, labels and string metadata."""
    out = []
    for u in units:
        fields: dict[str, Any] = {}
        for name in ("text", "heading", "speaker"):
            v = getattr(u, name)
            if isinstance(v, str) and strip_invisible(v) != v:
                fields[name] = strip_invisible(v)
        if any(isinstance(v, str) and not v.isascii() for v in u.meta.values()):
            fields["meta"] = {k: _clean_str(v) for k, v in u.meta.items()}
        out.append(replace(u, **fields) if fields else u)
    return tuple(out)


def check_text_caps(units, settings: Settings | Limits) -> None:
    """Refuse a document with more text than `max_doc_chars` (or a PDF page over
    `max_page_chars`): whole, before any of it is indexed."""
    page_cap, doc_cap = settings.max_page_chars, settings.max_doc_chars
    total = 0
    for u in units:
        n = len(u.text)
        if u.page is not None and page_cap and n > page_cap:
            raise BadFile(_page_cap_message(u.page, n, page_cap))
        total += n
    if doc_cap and total > doc_cap:
        raise BadFile(_doc_cap_message(total, doc_cap))


def _page_cap_message(page: int, chars: int, cap: int) -> str:
    return (f"page {page} has {chars:,} characters of text, over the {cap:,}-character cap "
            "per page (RAG_MAX_PAGE_CHARS): a page this full is usually one drawing repeated "
            "(a text bomb); nothing was added")


def _doc_cap_message(chars: int, cap: int, partial: bool = False) -> str:
    return (f"the document has {'over ' if partial else ''}{chars:,} characters of text, over "
            f"the {cap:,}-character cap per document (RAG_MAX_DOC_CHARS): split it or raise "
            "the cap; nothing was added")


def _cut_binary_tail(data: bytes) -> tuple[bytes, str | None]:
    """A text file's text part: binary from the start is refused, binary after the text is
    cut off, with a warning that says so."""
    cut = binary_start(data)
    if cut is None:
        return data, None
    if cut < MIN_TEXT_BEFORE_BINARY:
        raise BadFile("this file is binary, not text: save it as plain text and upload again")
    return data[:cut], (f"only the first {cut:,} bytes were read: the rest of the file "
                        f"({len(data) - cut:,} bytes) is binary, not text")


# ---------------------------------------------------------------------------------------------
# PDF


def parse_pdf_bytes(data: bytes, settings: Settings) -> dict:
    """Run the bounded child extractor and return its JSON result."""
    return run_child("pdf", data, settings, "PDF")


def _load_pdf(data: bytes, settings: Settings, options: LoadOptions):
    result = parse_pdf_bytes(data, settings)
    err = result.get("error")
    if err == "encrypted":
        raise BadFile("password-protected PDF: unlock it and upload again")
    if err == "memory":
        raise BadFile("reading this PDF ran out of memory: it may be damaged")
    if err == "bomb":
        raise BadFile(f"this PDF is a decompression bomb: {result.get('detail')}; refused")
    if err == "page_text":
        raise BadFile(_page_cap_message(result["page"], result["chars"], settings.max_page_chars))
    if err == "doc_text":
        raise BadFile(_doc_cap_message(result["chars"], settings.max_doc_chars, partial=True)
                      .replace("the document", f"by page {result['page']}, the PDF"))
    if err:
        raise BadFile("damaged PDF: it could not be read (truncated or not really a PDF?)")
    pages = [_clean_pdf_text(t) for t in result["pages"]]
    if not pages:
        raise BadFile("damaged PDF: it has no pages")
    if len(pages) > settings.max_pages:
        raise BadFile(f"PDF has {len(pages)} pages, over the {settings.max_pages}-page limit")
    with_text = [i for i, t in enumerate(pages) if len(t.strip()) >= 20]
    if not with_text:
        raise BadFile("no text layer: this looks like a scanned PDF (run OCR on it first)")
    units = [Unit(text=t, page=i + 1) for i, t in enumerate(pages) if t.strip()]
    meta = {
        "pages": len(pages),
        "parser": result.get("parser", "pypdf"),
        "pages_without_text": len(pages) - len(with_text),
    }
    if result.get("fallback_reason"):
        meta["fallback_reason"] = result["fallback_reason"]
    if result.get("hidden_text_pages"):
        n = result["hidden_text_pages"]
        meta["hidden_text_pages"] = n
        meta["warning"] = (f"text nobody sees (white on the white page, or invisible) on {n} "
                           f"page{'s' * (n != 1)} was left out")
    if result.get("hidden_text_unchecked_pages"):
        meta["hidden_text_unchecked_pages"] = result["hidden_text_unchecked_pages"]
    return units, "pdf", meta


def _clean_pdf_text(text: str) -> str:
    text = strip_invisible(text)
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# ---------------------------------------------------------------------------------------------
# plain text, markdown, transcripts


def _checked_text(data: bytes) -> str:
    text = strip_invisible(decode_text(data))
    if control_ratio(text) > 0.05:
        raise BadFile("this file is binary, not text: save it as plain text and upload again")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadFile("the file is empty")
    return text


_SPEAKER_RE = re.compile(
    r"^\s*(?:\[(?P<ts>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]\s*)?"
    r"(?P<speaker>[A-Z][\w.'’\-]*(?:[ \t][\w.'’&\-()]+){0,5}?)"
    r"\s*(?:\((?P<ts2>\d{1,2}:\d{2}(?::\d{2})?)\))?:[ \t]+(?P<text>\S.*)$"
)


def parse_speaker_turns(text: str) -> list[Unit] | None:
    """Parse 'Speaker: text' transcripts; None when the text does not look like one."""
    lines = [ln for ln in text.split("\n")]
    nonempty = [ln for ln in lines if ln.strip()]
    if len(nonempty) < 3:
        return None
    matches = [_SPEAKER_RE.match(ln) for ln in nonempty]
    hits = [m for m in matches if m]
    speakers = Counter(m.group("speaker").strip() for m in hits)
    if len(hits) < 3 or len(hits) / len(nonempty) < 0.5:
        return None
    # Real transcripts repeat a small cast; prose with "Note: ..." lines does not.
    repeated = sum(c for c in speakers.values() if c >= 2)
    if repeated / len(hits) < 0.6 or len(speakers) > max(40, len(hits) // 3):
        return None
    turns: list[dict[str, Any]] = []
    for ln in lines:
        m = _SPEAKER_RE.match(ln) if ln.strip() else None
        if m and m.group("speaker").strip() in speakers and speakers[m.group("speaker").strip()] >= 1:
            turns.append(
                {
                    "speaker": m.group("speaker").strip(),
                    "start": m.group("ts") or m.group("ts2"),
                    "text": [m.group("text").strip()],
                }
            )
        elif ln.strip():
            if turns:
                turns[-1]["text"].append(ln.strip())
            else:
                turns.append({"speaker": None, "start": None, "text": [ln.strip()]})
    return [
        Unit(
            text="\n".join(t["text"]),
            speaker=t["speaker"],
            start=t["start"],
            turn=i + 1,
        )
        for i, t in enumerate(turns)
    ]


def _load_text(data: bytes, settings: Settings, options: LoadOptions):
    text = _checked_text(data)
    turns = parse_speaker_turns(text)
    if turns:
        return turns, "transcript", {"turns": len(turns), "format": "speaker-lines",
                                     "speakers": _speaker_list(turns)}
    return [Unit(text=text.strip())], "text", {"sections": 1}


def _speaker_list(units: list[Unit]) -> list[str]:
    return [s for s, _ in Counter(u.speaker for u in units if u.speaker).most_common()]


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _load_markdown(data: bytes, settings: Settings, options: LoadOptions):
    text = _checked_text(data)
    units: list[Unit] = []
    path: list[str] = []
    buf: list[str] = []
    in_fence = False

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            units.append(Unit(text=body, heading=" > ".join(path) or None))
        buf.clear()

    for ln in text.split("\n"):
        if ln.lstrip().startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else _MD_HEADING.match(ln)
        if m:
            flush()
            level = len(m.group(1))
            path[:] = path[: level - 1] + [m.group(2).strip()]
            buf.append(ln)
        else:
            buf.append(ln)
    flush()
    return units, "markdown", {"sections": len(units)}


_TS = r"(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}"
_CUE_RE = re.compile(rf"^\s*(?P<start>{_TS})\s*-->\s*(?P<end>{_TS})")
_VOICE_RE = re.compile(r"<v(?:\.[\w.]+)?\s+([^>]+)>")
_TAG_RE = re.compile(r"</?[^>]+>")


def _norm_ts(ts: str) -> str:
    ts = ts.replace(",", ".")
    return ts if ts.count(":") == 2 else "00:" + ts


def _load_cues(data: bytes, settings: Settings, options: LoadOptions, fmt: str):
    text = _checked_text(data)
    if fmt == "vtt" and not text.lstrip("\ufeff").lstrip().startswith("WEBVTT"):
        raise BadFile("not a WebVTT file: it must start with 'WEBVTT'")
    blocks = re.split(r"\n\s*\n", text)
    cues: list[dict[str, Any]] = []
    for block in blocks:
        lines = [ln for ln in block.split("\n") if ln.strip()]
        for i, ln in enumerate(lines):
            m = _CUE_RE.match(ln)
            if not m:
                continue
            body = " ".join(lines[i + 1 :]).strip()
            speaker = None
            v = _VOICE_RE.search(body)
            if v:
                speaker = v.group(1).strip()
            body = _TAG_RE.sub("", body).strip()
            if not speaker:
                sm = re.match(r"^([A-Z][\w.'’\-]*(?: [\w.'’\-]+){0,3}):\s+(.*)$", body)
                if sm:
                    speaker, body = sm.group(1), sm.group(2)
            if body:
                cues.append(
                    {"speaker": speaker, "start": _norm_ts(m.group("start")),
                     "end": _norm_ts(m.group("end")), "text": body}
                )
            break
    if not cues:
        raise BadFile(f"no subtitle cues found in this .{fmt} file")
    # Consecutive cues of one speaker form one turn.
    turns: list[dict[str, Any]] = []
    for c in cues:
        if turns and c["speaker"] == turns[-1]["speaker"] and c["speaker"] is not None:
            turns[-1]["text"] += " " + c["text"]
            turns[-1]["end"] = c["end"]
        else:
            turns.append(dict(c))
    units = [
        Unit(text=t["text"], speaker=t["speaker"], start=t["start"], end=t["end"], turn=i + 1)
        for i, t in enumerate(turns)
    ]
    return units, "transcript", {"turns": len(units), "format": fmt,
                                 "speakers": _speaker_list(units)}


def _load_vtt(data, settings, options):
    return _load_cues(data, settings, options, "vtt")


def _load_srt(data, settings, options):
    return _load_cues(data, settings, options, "srt")


# ---------------------------------------------------------------------------------------------
# zip containers: docx, xlsx


def _open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise BadFile(f"damaged {what} file: it could not be opened") from exc
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    packed = sum(max(1, i.compress_size) for i in infos)
    if total > MAX_UNZIPPED or total / packed > MAX_ZIP_RATIO and total > 20 * 1024 * 1024:
        raise BadFile(
            f"this {what} file unpacks to {total / 1e6:.0f} MB (a 'zip bomb'?): refused"
        )
    return zf


def _load_docx(data: bytes, settings: Settings, options: LoadOptions):
    zf = _open_zip(data, "Word")
    if "word/document.xml" not in zf.namelist():
        raise BadFile("damaged Word file: no document inside")
    try:
        import docx  # python-docx
        from docx.enum.style import WD_STYLE_TYPE
        from docx.oxml.ns import qn
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types
        raise BadFile(f"damaged Word file: {type(exc).__name__}") from exc
    units: list[Unit] = []
    path: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            units.append(Unit(text=body, heading=" > ".join(path) or None))
        buf.clear()

    # A style by its id, looked up once: `Paragraph.style` searches all styles every time, so
    # 2,000 paragraphs in a file of 5,000 styles took half a minute.
    styles = {s.style_id: s.name or "" for s in document.styles}
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name if default is not None else "") or ""
    body = document.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            para = Paragraph(child, document)
            text = strip_invisible(para.text).strip()
            style_id = child.style
            style = styles.get(style_id, default_name) if style_id else default_name
            level = _heading_level(style)
            if level and text:
                flush()
                path[:] = path[: level - 1] + [text]
                buf.append(text)
            elif text:
                buf.append(text)
        elif child.tag == qn("w:tbl"):
            table = Table(child, document)
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    t = cell.text.strip()
                    if t and (not cells or cells[-1] != t):
                        cells.append(t)
                if cells:
                    buf.append(" | ".join(cells))
    flush()
    return units, "docx", {"sections": len(units)}


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    m = re.match(r"Heading (\d)", style)
    return int(m.group(1)) if m else 0


# ---------------------------------------------------------------------------------------------
# tables: csv, xlsx

_TEXT_HINTS = ("comment", "feedback", "text", "review", "message", "body", "description",
               "answer", "response", "verbatim", "note", "content", "utterance", "query")
_DATE_HINTS = ("date", "time", "created", "timestamp", "submitted", "day", "month")
_NUM_RE = re.compile(r"^[\s$€£%+\-.,()\d]*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?|^\d{1,2}/\d{1,2}/\d{2,4}$")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds").replace(" 00:00:00", "")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return strip_invisible(str(v)).strip()


def guess_text_column(header: list[str], rows: list[list[str]]) -> str | None:
    """The column most likely to hold free text: long, mostly non-numeric values."""
    best, best_score = None, 0.0
    sample = rows[:2000]
    for j, col in enumerate(header):
        vals = [r[j] for r in sample if j < len(r) and r[j].strip()]
        if not vals:
            continue
        texty = [v for v in vals if not _NUM_RE.match(v) and not _DATE_RE.match(v)]
        if len(texty) / len(vals) < 0.5:
            continue
        avg_words = sum(len(v.split()) for v in texty) / len(texty)
        fill = len(vals) / len(sample)
        distinct = len(set(texty)) / len(texty)
        score = avg_words * (0.5 + fill) * (0.2 + distinct)
        if any(h in col.lower() for h in _TEXT_HINTS):
            score *= 1.5
        if score > best_score:
            best, best_score = col, score
    return best if best_score >= 1.0 else None


def guess_date_column(header: list[str], rows: list[list[str]]) -> str | None:
    sample = rows[:500]
    for j, col in enumerate(header):
        vals = [r[j] for r in sample if j < len(r) and r[j].strip()]
        if not vals:
            continue
        dated = sum(1 for v in vals if _DATE_RE.match(v)) / len(vals)
        if dated >= 0.8 or (dated >= 0.5 and any(h in col.lower() for h in _DATE_HINTS)):
            return col
    return None


def _typed(v: str) -> Scalar:
    if re.fullmatch(r"-?\d{1,15}", v):
        return int(v)
    if re.fullmatch(r"-?\d{1,15}\.\d+", v):
        return float(v)
    return v


def table_units(
    header: list[str], rows: list[list[str]], options: LoadOptions, settings: Settings
) -> tuple[list[Unit], dict[str, Any]]:
    """Rows -> one unit a row, the chosen text column as text, the others as metadata."""
    header = _dedupe_header(header)
    if len(rows) > settings.max_rows:
        raise BadFile(f"{len(rows)} rows, over the {settings.max_rows}-row limit (RAG_MAX_ROWS)")
    text_col = options.text_column or guess_text_column(header, rows)
    if options.text_column and options.text_column not in header:
        raise BadFile(
            f"column '{options.text_column}' not found; columns are: " + ", ".join(header)
        )
    if options.date_column and options.date_column not in header:
        raise BadFile(
            f"column '{options.date_column}' not found; columns are: " + ", ".join(header)
        )
    if not text_col:
        raise BadFile(
            "no column with free text found (all look numeric or empty): pick the text column"
        )
    date_col = options.date_column or guess_date_column(header, rows)
    dj = header.index(date_col) if date_col in header else len(header)
    # One order for the whole column: a single "17/01/2024" makes "05/01/2024" the 5th of January.
    day_first = is_day_first([r[dj] for r in rows if dj < len(r)])
    tj = header.index(text_col)
    keys = {c: meta_key(c) for c in header}
    units: list[Unit] = []
    empty = 0
    for i, r in enumerate(rows):
        text = r[tj].strip() if tj < len(r) else ""
        if not text:
            empty += 1
            continue
        meta: dict[str, Scalar] = {}
        for j, c in enumerate(header):
            if j != tj and j < len(r) and r[j].strip():
                meta[keys[c]] = _typed(r[j].strip()[:500])
        if date_col:
            iso = to_iso_date(r[dj] if dj < len(r) else "", day_first)
            if iso:
                meta["date"] = iso
        units.append(Unit(text=text, row=i + 1, meta=meta))
    if not units:
        raise BadFile(f"the text column '{text_col}' is empty in every row")
    return units, {
        "rows": len(rows),
        "rows_with_text": len(units),
        "empty_rows": empty,
        "columns": header,
        "column_keys": keys,
        "text_column": text_col,
        "date_column": date_col,
    }


def _dedupe_header(header: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for i, h in enumerate(header):
        h = (h or "").strip() or f"column_{i + 1}"
        seen[h] += 1
        out.append(h if seen[h] == 1 else f"{h}_{seen[h]}")
    return out


def read_csv_rows(data: bytes) -> list[list[str]]:
    text = _checked_text(data)
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delim = dialect.delimiter
    except csv.Error:
        counts = {d: sample.split("\n", 1)[0].count(d) for d in ",;\t|"}
        delim = max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","
    csv.field_size_limit(10_000_000)
    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise BadFile(f"damaged CSV: {exc}") from exc
    return rows


def _load_csv(data: bytes, settings: Settings, options: LoadOptions):
    rows = read_csv_rows(data)
    if len(rows) < 2:
        raise BadFile("the CSV has a header but no rows")
    units, meta = table_units(rows[0], rows[1:], options, settings)
    return units, "table", {**meta, "format": "csv"}


def read_xlsx_rows(data: bytes, sheet: str | None = None) -> tuple[list[list[str]], list[str]]:
    _open_zip(data, "Excel")
    try:
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types
        raise BadFile(f"damaged Excel file: {type(exc).__name__}") from exc
    try:
        names = wb.sheetnames
        ws = wb[sheet] if sheet and sheet in names else wb[names[0]]
        rows = []
        for r in ws.iter_rows(values_only=True):
            cells = [_cell(v) for v in r]
            if any(cells):
                rows.append(cells)
    finally:
        wb.close()
    return rows, names


def _load_xlsx(data: bytes, settings: Settings, options: LoadOptions):
    rows, sheets = read_xlsx_rows(data, options.sheet)
    if len(rows) < 2:
        raise BadFile("the sheet has a header but no rows")
    units, meta = table_units(rows[0], rows[1:], options, settings)
    return units, "table", {**meta, "format": "xlsx", "sheets": sheets}


def read_table_preview(data: bytes, filename: str, limit: int = 200,
                       settings: Settings | None = None) -> dict[str, Any]:
    """Header, first rows and guessed columns of a CSV/XLSX, for the column picker.

    An Excel file (or a large CSV) is read in the bounded child, like every ingest."""
    kind = sniff(data, filename)
    if kind == "xlsx" or (kind == "csv" and len(data) > IN_PROCESS_MAX_BYTES):
        if settings is None:
            from rag.config import get_settings

            settings = get_settings()
        result = run_child("preview", data, settings, _WHAT[kind], filename=filename,
                           rows=limit)
        if result.get("error") == "bad":
            raise BadFile(result.get("detail") or "the table could not be read")
        if result.get("error"):
            raise BadFile(f"this {_WHAT[kind]} could not be read ({result.get('detail')})")
        return result["preview"]
    return local_table_preview(data, filename, limit)


def local_table_preview(data: bytes, filename: str, limit: int = 200) -> dict[str, Any]:
    """`read_table_preview` in this process (the child's side of it)."""
    kind = sniff(data, filename)
    if kind == "csv":
        rows = read_csv_rows(data)
    elif kind == "xlsx":
        rows, _ = read_xlsx_rows(data)
    else:
        raise UnsupportedFile("not a table")
    if not rows:
        raise BadFile("the table is empty")
    header = _dedupe_header(rows[0])
    body = rows[1 : limit + 1]
    return {
        "columns": header,
        "rows": body,
        "text_column": guess_text_column(header, body),
        "date_column": guess_date_column(header, body),
    }


_LOADERS = {
    "pdf": _load_pdf,
    "text": _load_text,
    "markdown": _load_markdown,
    "vtt": _load_vtt,
    "srt": _load_srt,
    "docx": _load_docx,
    "csv": _load_csv,
    "xlsx": _load_xlsx,
}
LOADERS = _LOADERS  # the parsing child's way in
