"""Extract page texts from one PDF in a child process, bounded in time and memory.

Run as `python -m rag.ingest.pdf_worker MEM_MB < file.pdf`; prints one JSON object:
`{"pages": [...], "parser": "pypdfium2"}` or `{"error": CODE, "detail": "..."}`. Keeping the
parsers in a child means a hostile file can at worst kill the child, never hang or bloat the app.
"""

from __future__ import annotations

import io
import json
import sys


def _limit_memory(mb: int) -> None:
    try:
        import resource

        cap = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass


def _with_pypdf(data: bytes) -> dict:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except Exception as exc:  # noqa: BLE001 - any failure here means "cannot open"
            return {"error": "encrypted", "detail": f"{type(exc).__name__}: {exc}"}
        if not ok:
            return {"error": "encrypted", "detail": "user password required"}
    pages = []
    try:
        for page in reader.pages:
            pages.append(page.extract_text() or "")
    except FileNotDecryptedError:
        return {"error": "encrypted", "detail": "user password required"}
    return {"pages": pages, "parser": "pypdf"}


def _with_pdfium(data: bytes) -> dict:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        pages = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            # pdfium marks hyphens it thinks are soft as U+FFFE; in filings they are real ones
            pages.append((textpage.get_text_range() or "").replace("\ufffe", "-"))
            textpage.close()
            page.close()
    finally:
        doc.close()
    return {"pages": pages, "parser": "pypdfium2"}


def extract(data: bytes) -> dict:
    """Try pdfium, then pypdf for files pdfium refuses or finds no text in.

    pdfium (C++) is 10-20x faster than pypdf on long filings: pypdf needs 80-150 s for a
    160-250 page 10-K on a busy 2-core machine, over the default timeout, where pdfium takes
    under 10 s. pdfium also keeps a table row on one line. pypdf stays as the second reader,
    and it is the one that tells a password-protected file from a damaged one.
    """
    try:
        result = _with_pdfium(data)
        if any(p.strip() for p in result["pages"]):
            return result
        first = "no text found"
    except MemoryError:
        return {"error": "memory", "detail": "pdfium ran out of memory"}
    except Exception as exc:  # noqa: BLE001 - pdfium raises PdfiumError and friends
        first = f"{type(exc).__name__}: {exc}"
    try:
        result = _with_pypdf(data)
        if "error" not in result:
            result["fallback_reason"] = f"pdfium: {first}"[:300]
        return result
    except MemoryError:
        return {"error": "memory", "detail": "pypdf ran out of memory"}
    except Exception as second:  # noqa: BLE001 - pypdf raises many types on real files
        msg = f"pdfium: {first}; pypdf: {type(second).__name__}: {second}"
        code = "encrypted" if "password" in msg.lower() else "corrupt"
        return {"error": code, "detail": msg[:500]}


def _limit_cpu(seconds: int) -> None:
    """CPU time, not wall time: a busy machine slows parsing down but never fails it; a parser
    stuck in a loop gets SIGXCPU once it has really used `seconds` of CPU."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass


def main() -> None:
    mem_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    cpu_s = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    data = sys.stdin.buffer.read()
    if mem_mb:
        _limit_memory(mem_mb)
    if cpu_s:
        _limit_cpu(cpu_s)
    result = extract(data)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
