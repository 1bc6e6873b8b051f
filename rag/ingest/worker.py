"""The parsing child: one file's bytes in, its text out, bounded in CPU time and memory.

Run as `python -m rag.ingest.worker JOB < file`, where JOB is a JSON object: `kind` (a loader
of `rag.ingest.loaders`, or "pdf", or "preview" for a table's first rows), `mem_mb`, `cpu_s`,
`limits` (the settings the loaders read) and `options`. It prints one JSON object: for a PDF
what `pdf_worker.extract` returns, else `{"units": [...], "kind": ..., "meta": {...}}`, or
`{"error": CODE, "detail": "..."}`. A hostile file can at worst kill the child (SIGXCPU past
`cpu_s`, MemoryError past `mem_mb`), never hang or bloat the app. The parent starts it with an
environment holding no secrets.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict


def _limit(mem_mb: int, cpu_s: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - non-POSIX
        return
    try:
        if mem_mb:
            cap = mem_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        if cpu_s:
            # CPU time, not wall time: a busy machine slows parsing down but never fails it; a
            # parser stuck in a loop gets SIGXCPU once it has really used `cpu_s` of CPU.
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    except (ValueError, OSError):  # pragma: no cover - a platform refusing the limit
        pass


def run(job: dict, data: bytes) -> dict:
    kind = job["kind"]
    limits = job.get("limits") or {}
    if kind == "pdf":
        from rag.ingest.pdf_worker import extract

        return extract(data, limits)
    from rag.errors import RagError
    from rag.ingest import loaders

    settings = loaders.Limits.of(limits)
    options = loaders.LoadOptions(**(job.get("options") or {}))
    try:
        if kind == "preview":
            return {"preview": loaders.local_table_preview(data, job.get("filename", ""),
                                                           int(job.get("rows", 200)))}
        units, kind_out, meta = loaders.LOADERS[kind](data, settings, options)
        units = loaders.clean_units(units)
        loaders.check_text_caps(units, settings)
    except RagError as exc:
        return {"error": "bad", "detail": str(exc)}
    except MemoryError:
        return {"error": "memory", "detail": "ran out of memory"}
    except Exception as exc:  # noqa: BLE001 - a parser failing on a damaged file
        return {"error": "crash", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return {"units": [asdict(u) for u in units], "kind": kind_out, "meta": meta}


def main() -> None:
    job = json.loads(sys.argv[1])
    data = sys.stdin.buffer.read()
    _limit(int(job.get("mem_mb") or 0), int(job.get("cpu_s") or 0))
    result = run(job, data)
    sys.stdout.write(json.dumps(result, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
