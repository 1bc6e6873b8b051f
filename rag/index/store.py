"""Chroma-backed workspaces: one chunk collection each, plus a small manifest collection.

A document becomes visible only when its manifest record says `ready`, which is written after
all its chunks are stored; searches are restricted to ready documents. A crash mid-way leaves a
`pending` (or `deleting`) record that `Workspace.recover()` cleans up on the next write. Nothing
here assumes it is the only writer: several app replicas may share one Chroma server, so a
writer names itself (host, pid and the pid's start time) and keeps a heartbeat in its pending
record, and recovery only removes what a writer provably abandoned.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from rag.errors import ModelMismatch, NotFound, WorkspaceError
from rag.index.disk import StorageUnavailable, disk_error
from rag.types import Chunk, DocumentInfo, Hit

WORKSPACE_TAG = "ragdesk-workspace"
_CHUNK_FIELDS = ("page", "heading", "speaker", "speakers", "start", "end", "turn_start",
                 "turn_end", "row")
_HOST = socket.gethostname()
# A record of the manifest that is not a document: a token rewritten in the same call as every
# record whose change can alter the ready set, so a reader learns from one small read by id
# whether the ready documents changed since it last listed them (`Workspace.versions`).
REVISION_ID = "~revision"
# The ready records each manifest (by collection id) was last listed with, and its token.
_READY: dict[str, tuple[str, list[dict[str, Any]]]] = {}
_READY_LOCK = threading.Lock()


# Characters a workspace name may not hold: C0/C1 controls, and the invisible format
# characters (bidi embeddings, overrides and isolates, zero-width joiners and spaces, the BOM)
# that make two names look alike or reorder what is shown.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def normalize_name(name: str) -> str:
    """A workspace name as it is kept: NFC (so a composed and a decomposed "Café" are one
    name) and trimmed."""
    return unicodedata.normalize("NFC", name or "").strip()


def check_name(name: str) -> str:
    """`name` normalised, or WorkspaceError naming the first character it may not hold."""
    norm = normalize_name(name)
    if not norm or len(norm) > 100:
        raise WorkspaceError("a workspace name needs 1 to 100 characters")
    for ch in norm:
        cat = unicodedata.category(ch)
        if ch in _BIDI or cat in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            what = ("a text-direction control" if ch in _BIDI else "a control character"
                    if cat in ("Cc", "Zl", "Zp") else "an invisible or unassigned character")
            raise WorkspaceError(
                f"a workspace name cannot contain {what} (U+{ord(ch):04X}"
                f"{' ' + unicodedata.name(ch, '') if unicodedata.name(ch, '') else ''}): "
                "type the name again without it")
    return norm


def _slug(name: str, width: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:width].strip("-") or "ws"


def collection_name_for(display_name: str, attempt: int = 0) -> str:
    """The Chroma collection ([a-zA-Z0-9._-], 3-63 chars with its "--docs" twin) a workspace
    of this name is created as: a readable slug and 80 bits of SHA-256 of the NFC name. The
    store checks the collection's own display name before using it, and takes `attempt` 1, 2...
    in the (unseen) case another name already holds it, so ids never collide."""
    norm = normalize_name(display_name)
    digest = hashlib.sha256(norm.encode()).hexdigest()[:20]
    return f"rd-{_slug(norm, 24)}-{digest}" + (f"-{attempt}" if attempt else "")


def legacy_collection_name(display_name: str) -> str:
    """The id earlier releases gave a workspace (40-character slug, 32 bits of SHA-1 of the
    name as typed: two names could share it). Workspaces created then keep it."""
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:40] or "ws"
    digest = hashlib.sha1(display_name.encode()).hexdigest()[:8]
    return f"rd-{slug}-{digest}"


def make_client(settings) -> Any:
    """The process's Chroma client: an HTTP client when a server URL is set, else on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        u = urlparse(settings.chroma_url)
        token = (getattr(settings, "chroma_token", "") or "").strip()
        if token:
            # Chroma's token authentication: the token in its X-Chroma-Token header, which
            # Chroma's token auth and a proxy in front of `chroma run` read (README).
            chroma_settings = ChromaSettings(
                anonymized_telemetry=False, allow_reset=False,
                chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                chroma_client_auth_credentials=token,
                chroma_auth_token_transport_header="X-Chroma-Token")
        try:
            return chromadb.HttpClient(
                host=u.hostname or "localhost",
                port=u.port or (443 if u.scheme == "https" else 8000),
                ssl=u.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # noqa: BLE001 - every failure to reach it, said in one line
            refused = _auth_refusal(exc, bool(token))
            if refused:
                raise WorkspaceError(f"the Chroma server at {settings.chroma_url} {refused}"
                                     ) from None
            reason = str(exc).replace(token, "[redacted]") if token else str(exc)
            raise WorkspaceError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {reason}. "
                "Start it (`chroma run --path DIR`) or unset RAG_CHROMA_URL"
            ) from None
    path = settings.workspaces_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        err = disk_error(exc, settings.data_dir)
        if err is None:
            raise
        if not path.is_dir():
            raise err from None
    # Chroma writes as it opens, so a full or read-only data dir cannot be opened in place:
    # read a copy instead (writes are refused with the reason), when there is room for one.
    copy = _snapshot(path, err)
    client = chromadb.PersistentClient(path=str(copy), settings=chroma_settings)
    _READ_ONLY[id(client)] = (client, err)
    return client


def _auth_refusal(exc: BaseException, sent_token: bool) -> str | None:
    """What to say when the Chroma server (or the proxy in front of it) refused the client's
    credentials; None when `exc` is something else."""
    text = f"{type(exc).__name__} {exc}".lower()
    if not any(w in text for w in ("401", "403", "unauthorized", "forbidden", "authenticat",
                                   "permission")):
        return None
    if sent_token:
        return ("refused the token in RAG_CHROMA_TOKEN (401/403): set it to the server's "
                "token (CHROMA_TOKEN of the proxy in front of `chroma run`)")
    return ("asks for a token (401/403): set RAG_CHROMA_TOKEN to the server's token")


# Clients reading a copy of a data dir that could not be opened for writing, by id().
_READ_ONLY: dict[int, tuple[Any, Any]] = {}


def read_only_reason(client: Any):
    """The StorageUnavailable that made `client` a read-only copy, or None."""
    entry = _READ_ONLY.get(id(client))
    return entry[1] if entry and entry[0] is client else None


def _snapshot(path, err) -> str:
    """A private copy of the Chroma folder at `path` in the temporary dir (removed at exit);
    `err` is raised when there is no room for it."""
    import atexit
    import shutil
    import tempfile

    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    tmp = tempfile.gettempdir()
    if shutil.disk_usage(tmp).free < size * 1.2 + 50 * 1024**2:
        raise err from None
    copy = tempfile.mkdtemp(prefix="ragdesk-readonly-")
    atexit.register(shutil.rmtree, copy, True)
    try:
        shutil.copytree(path, copy, dirs_exist_ok=True)
    except OSError:
        shutil.rmtree(copy, True)
        raise err from None
    return copy


def _chunk_metadata(c: Chunk) -> dict[str, Any]:
    md: dict[str, Any] = {"doc_id": c.doc_id, "doc_name": c.doc_name, "ordinal": c.ordinal,
                          "kind": c.kind}
    for f in _CHUNK_FIELDS:
        v = getattr(c, f)
        if v is not None:
            md[f] = v
    for k, v in c.meta.items():
        if v is not None and k not in md:
            md[k] = v
    return md


def chunk_from_record(cid: str, text: str, md: dict[str, Any]) -> Chunk:
    md = dict(md or {})
    fields = {f: md.pop(f, None) for f in _CHUNK_FIELDS}
    return Chunk(
        id=cid,
        doc_id=md.pop("doc_id", ""),
        doc_name=md.pop("doc_name", ""),
        ordinal=int(md.pop("ordinal", 0)),
        kind=md.pop("kind", "text"),
        text=text or "",
        meta=md,
        **fields,
    )


def _version_of(md: dict[str, Any]) -> str:
    """What tells a document's versions apart: its chunk count and when it was added, to the
    microsecond. Written as a string with the record: a store may hand a float back a last
    digit off (Chroma's local log does), which must not read as a new version."""
    return f"{int(md.get('chunks', 0))}:{float(md.get('added_at', 0.0)):.6f}"


def _doc_from_record(md: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo(
        doc_id=md["doc_id"],
        name=md.get("name", ""),
        filename=md.get("filename", ""),
        kind=md.get("kind", "text"),
        units=int(md.get("units", 0)),
        chunks=int(md.get("chunks", 0)),
        size=int(md.get("size", 0)),
        added_at=float(md.get("added_at", 0.0)),
        status=md.get("status", "ready"),
        meta=json.loads(md.get("meta_json") or "{}"),
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip().replace("-", "")[:12]
    except OSError:
        return ""


_BOOT = _boot_id()


def process_start(pid: int) -> str | None:
    """A token of when process `pid` started (boot id + start tick), None when unknown.

    A pid can be reused by a later process; a different token says the writer is gone.
    """
    if not _BOOT:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
        ticks = stat.rpartition(")")[2].split()[19]  # field 22, starttime
    except (OSError, IndexError):
        return None
    return f"{_BOOT}.{ticks}" if ticks.isdigit() else None


_OWN_PID = os.getpid()
_START = process_start(_OWN_PID)


def _writer_tag() -> str:
    """`host:pid:start` of this process (`host:pid` where the start time is unknown)."""
    pid = os.getpid()
    start = _START if pid == _OWN_PID else process_start(pid)  # after a fork: the child's
    return f"{_HOST}:{pid}" + (f":{start}" if start else "")


def parse_writer(tag: str) -> tuple[str, int, str | None] | None:
    """`host:pid[:start]` -> (host, pid, start); None for a tag that is not one."""
    head, _, last = str(tag or "").rpartition(":")
    if last.isdigit():
        return (head, int(last), None) if head else None
    host, _, pid = head.rpartition(":")
    return (host, int(pid), last or None) if host and pid.isdigit() else None


def writer_gone(tag: str) -> bool:
    """True only when the writer ran on this host and is provably not running any more: its
    pid is dead, or now belongs to a process that started at another time."""
    parsed = parse_writer(tag)
    if parsed is None:
        return False
    host, pid, start = parsed
    if host != _HOST:
        return False  # another machine: only its heartbeat can tell
    if not _pid_alive(pid):
        return True
    if start is None:
        return False
    now_start = process_start(pid)
    return now_start is not None and now_start != start


def doc_identity(doc: DocumentInfo) -> tuple[str, str]:
    """What a new version must share with a document to replace it: source name and kind.
    (Records written before sources were kept fall back to their file name.)"""
    return str(doc.meta.get("source") or doc.filename), doc.kind


def _setting_of(embedder_name: str) -> str:
    """The settings giving an embedder of this name (the model, suffixed with its backend
    unless torch): `RAG_EMBED_BACKEND=... RAG_EMBED_MODEL=...`."""
    from rag.index.embedder import PACKAGED

    model, backend = embedder_name, "torch"
    for b in ("onnx-int8", "onnx-fp32"):
        if embedder_name.endswith("-" + b):
            model, backend = embedder_name[: -len(b) - 1], b
    if model not in PACKAGED:
        model = f"<the folder of the model '{model}'>" if "/" not in model else model
    return f"RAG_EMBED_BACKEND={backend} RAG_EMBED_MODEL={model}"


def _where(client: Any) -> str | None:
    """The folder (or server) a client stores in, for messages."""
    ro = read_only_reason(client)
    if ro is not None:
        return ro.path
    try:
        cs = client.get_settings()
    except Exception:  # noqa: BLE001 - a stand-in client
        return None
    if getattr(cs, "is_persistent", False) and getattr(cs, "persist_directory", None):
        return str(cs.persist_directory)
    host = getattr(cs, "chroma_server_host", None)
    return f"the Chroma server {host}" if host else None


def _is_store_error(exc: BaseException) -> bool:
    """An error of Chroma's own (not a caller's mistake such as a bad argument)."""
    return type(exc).__module__.startswith("chromadb") and type(exc).__name__ in (
        "InternalError", "ChromaError")


def _storage_errors(method):
    """Turn a full, read-only or failing disk met by `method` into StorageUnavailable."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except StorageUnavailable:
            raise
        except Exception as exc:
            err = disk_error(exc, _where(self.client), store_error=_is_store_error(exc))
            if err is None:
                raise
            raise err from exc

    return wrapper


def _writes(method):
    """A write: refused at once on a read-only copy, and with storage errors mapped."""
    import functools

    inner = _storage_errors(method)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        ro = read_only_reason(self.client)
        if ro is not None:
            raise ro
        return inner(self, *args, **kwargs)

    return wrapper


class Workspace:
    """One workspace: its chunks (with embeddings) and its document manifest."""

    def __init__(self, client: Any, chunks: Any, manifest: Any, display_name: str,
                 embed_model: str, embed_dim: int) -> None:
        self.client = client
        self._chunks = chunks
        self._manifest = manifest
        self.name = display_name
        self.collection_name = chunks.name
        self.embed_model = embed_model
        self.embed_dim = embed_dim
        # Side stores keyed by document (the figure cells) register here: a document's
        # removal, by deletion, roll-back or recovery, removes its rows there too.
        self.purge_hooks: list = []

    # -- manifest ---------------------------------------------------------------------------

    def _records(self, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        res = self._manifest.get(where=where, include=["metadatas"])
        return [m for m in (res.get("metadatas") or []) if m and "doc_id" in m]

    def _revision(self) -> str | None:
        """The manifest's change token (None in a workspace no writer has touched since
        tokens were introduced: its readers list the records every time)."""
        res = self._manifest.get(ids=[REVISION_ID], include=["metadatas"])
        mds = res.get("metadatas") or []
        return str(mds[0].get("rev")) if mds and mds[0] else None

    def _write_records(self, ids: list[str], metadatas: list[dict[str, Any]],
                       documents: list[str]) -> None:
        """Upsert manifest records and a new change token in one call (one transaction on
        disk, one request to a server): no reader can see the records without the token."""
        self._manifest.upsert(ids=[*ids, REVISION_ID], embeddings=[[1.0]] * (len(ids) + 1),
                              metadatas=[*metadatas, {"rev": uuid.uuid4().hex}],
                              documents=[*documents, ""])

    def _record(self, doc_id: str) -> tuple[dict[str, Any] | None, str]:
        """One document's manifest record (None when there is none) and its stored text."""
        res = self._manifest.get(ids=[doc_id], include=["metadatas", "documents"])
        mds = res.get("metadatas") or []
        md = mds[0] if mds and mds[0] and "doc_id" in mds[0] else None
        return md, (res.get("documents") or [""])[0] or ""

    def _ready_records(self) -> list[dict[str, Any]]:
        """The ready documents' manifest records, listed again only when the change token
        moved (callers get copies: the cached records are never handed out)."""
        key = str(self._manifest.id)
        # The token is read before the records: a write between the two leaves a newer
        # token, so the next call lists again rather than trusting a stale set.
        token = self._revision()
        if token is not None:
            with _READY_LOCK:
                seen = _READY.get(key)
            if seen is not None and seen[0] == token:
                return [dict(m) for m in seen[1]]
        records = self._records({"status": "ready"})
        if token is not None:
            with _READY_LOCK:
                _READY[key] = (token, [dict(m) for m in records])
        return records

    @_storage_errors
    def documents(self, include_pending: bool = False) -> list[DocumentInfo]:
        """Documents of the workspace, newest first; only ready ones unless asked."""
        records = self._records() if include_pending else self._ready_records()
        docs = [_doc_from_record(m) for m in records]
        return sorted(docs, key=lambda d: (-d.added_at, d.name))

    @_storage_errors
    def ready_ids(self) -> list[str]:
        return list(self.versions())

    @_storage_errors
    def versions(self) -> dict[str, str]:
        """Each ready document's id and what tells its version apart (chunk count and when it
        was added): what an index kept beside the store compares against, read without
        decoding the documents' metadata."""
        return {m["doc_id"]: str(m.get("version") or _version_of(m))
                for m in self._ready_records()}

    @_storage_errors
    def get_document(self, doc_id: str) -> DocumentInfo:
        res = self._manifest.get(ids=[doc_id], include=["metadatas"])
        mds = res.get("metadatas") or []
        if not mds or not mds[0] or mds[0].get("status") != "ready":
            raise NotFound(f"no document '{doc_id}' in workspace '{self.name}'")
        return _doc_from_record(mds[0])

    @_storage_errors
    def find_by_name(self, name: str) -> list[DocumentInfo]:
        """Ready documents of this display name (the stem: several files can share it)."""
        return [_doc_from_record(m) for m in self._records({"name": name})
                if m.get("status") == "ready"]

    @_storage_errors
    def find_by_source(self, source: str, kind: str) -> list[DocumentInfo]:
        """Ready documents that a new version of `source` (of this kind) replaces."""
        recs = self._records({"source": source})
        recs += [m for m in self._records({"filename": source}) if not m.get("source")]
        docs = [_doc_from_record(m) for m in recs if m.get("status") == "ready"]
        return [d for d in docs if doc_identity(d) == (source, kind)]

    def _put_record(self, doc: DocumentInfo, status: str) -> None:
        md = {
            "doc_id": doc.doc_id, "name": doc.name, "filename": doc.filename, "kind": doc.kind,
            "units": doc.units, "chunks": doc.chunks, "size": doc.size,
            "added_at": doc.added_at, "status": status, "writer": _writer_tag(),
            "updated_at": time.time(), "meta_json": json.dumps(doc.meta, default=str),
        }
        md["version"] = _version_of(md)
        if doc.meta.get("source"):
            md["source"] = str(doc.meta["source"])
        self._write_records([doc.doc_id], [md], [doc.name])

    # -- writing ----------------------------------------------------------------------------

    @_writes
    def begin(self, doc: DocumentInfo) -> None:
        """Announce a document being written: invisible to search until `commit`."""
        self._put_record(doc, "pending")

    @_writes
    def heartbeat(self, doc: DocumentInfo) -> None:
        """Say the pending document is still being written (call it between batches).

        Raises WorkspaceError when its record is gone: another process cleaned it up.
        """
        res = self._manifest.get(ids=[doc.doc_id], include=["metadatas"])
        mds = res.get("metadatas") or []
        status = mds[0].get("status") if mds and mds[0] else None
        if status == "ready":  # the same bytes, committed by another writer: leave it visible
            return
        if status != "pending":
            raise WorkspaceError(
                f"'{doc.filename}' was removed by another process while it was being written")
        self._put_record(doc, "pending")

    @_storage_errors
    def count_doc_chunks(self, doc_id: str) -> int:
        """How many chunks of this document are stored (ids only, no text or vectors)."""
        return len(self._chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    @_writes
    def add_chunks(self, chunks: list[Chunk], embeddings: np.ndarray) -> None:
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        if len(embeddings) and embeddings.shape[1] != self.embed_dim:
            raise ModelMismatch(
                f"embeddings have {embeddings.shape[1]} dimensions, workspace expects "
                f"{self.embed_dim}"
            )
        step = max(1, min(1000, self._max_batch()))
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            self._chunks.upsert(
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + step].tolist(),
                documents=[c.text for c in part],
                metadatas=[_chunk_metadata(c) for c in part],
            )

    def _max_batch(self) -> int:
        try:
            return int(self.client.get_max_batch_size())
        except Exception:  # noqa: BLE001 - older servers
            return 500

    @_writes
    def commit(self, doc: DocumentInfo) -> None:
        """Make a fully written document visible."""
        self._put_record(doc, "ready")

    @_writes
    def update_meta(self, doc_id: str, changes: dict[str, Any]) -> DocumentInfo:
        """Merge `changes` into a ready document's meta (the facts read from its content, a
        user's correction of them); its chunks and status are untouched."""
        md, text = self._record(doc_id)
        if md is None or md.get("status") != "ready":
            raise NotFound(f"no document '{doc_id}' in workspace '{self.name}'")
        meta = {**json.loads(md.get("meta_json") or "{}"), **changes}
        self._write_records([doc_id], [{
            **md, "meta_json": json.dumps(meta, default=str), "updated_at": time.time()}], [text])
        return _doc_from_record({**md, "meta_json": json.dumps(meta, default=str)})

    @_writes
    def delete_document(self, doc_id: str) -> None:
        """Hide the document at once, then remove its chunks and its record."""
        if self._record(doc_id)[0] is None:
            raise NotFound(f"no document '{doc_id}' in workspace '{self.name}'")
        self._purge(doc_id)

    def _purge(self, doc_id: str) -> None:
        md, text = self._record(doc_id)
        if md is not None and md.get("status") == "ready":
            # Out of the ready set first, with a new token: readers drop it before its chunks
            # go, and a crash from here on leaves a delete that recover() finishes (a record
            # not ready is not in the ready set: deleting it changes nothing a reader holds).
            self._write_records([doc_id], [{**md, "status": "deleting",
                                            "updated_at": time.time()}], [text])
        self._chunks.delete(where={"doc_id": doc_id})
        for hook in self.purge_hooks:
            hook(doc_id)
        self._manifest.delete(ids=[doc_id])

    @_writes
    def recover(self, grace_s: float = 3600.0) -> list[str]:
        """Clean up what a crashed writer left: pending/deleting records and their chunks.

        Destructive: call it only on write paths. A pending record is stale when its writer ran
        on this host and is provably gone (pid dead, or reused by a process started later), or
        when its heartbeat is older than `grace_s` (a live writer refreshes it every batch;
        another replica's liveness can only be told this way). Returns the cleaned ids.
        """
        cleaned = []
        now = time.time()
        for m in self._records():
            status = m.get("status")
            if status == "ready":
                continue
            stale = status == "deleting"
            if status == "pending":
                silent_s = now - float(m.get("updated_at", 0))
                stale = writer_gone(str(m.get("writer", ""))) or silent_s > grace_s
            if stale:
                self._purge(m["doc_id"])
                cleaned.append(m["doc_id"])
        # A replacement interrupted between commit and delete leaves two ready copies.
        by_source: dict[tuple[str, str], list[DocumentInfo]] = {}
        for d in self.documents():
            by_source.setdefault(doc_identity(d), []).append(d)
        for same in by_source.values():
            newest = max(same, key=lambda d: d.added_at)
            for old in same:
                if old.doc_id in (newest.meta.get("replaces") or []):
                    self._purge(old.doc_id)
                    cleaned.append(old.doc_id)
        # A workspace from before change tokens gets one; best effort: a full or read-only
        # store keeps working, its readers list the manifest every time.
        with contextlib.suppress(Exception):
            if self._revision() is None:
                self._write_records([], [], [])
        return cleaned

    # -- reading ----------------------------------------------------------------------------

    @_storage_errors
    def count_chunks(self) -> int:
        return int(self._chunks.count())

    @_storage_errors
    def chunks_of(self, doc_id: str) -> list[Chunk]:
        res = self._chunks.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        chunks = [chunk_from_record(i, t, m) for i, t, m in
                  zip(res["ids"], res["documents"], res["metadatas"], strict=True)]
        return sorted(chunks, key=lambda c: c.ordinal)

    def iter_chunks(self, batch: int = 2000, where: dict | None = None) -> Iterator[Chunk]:
        """Every stored chunk of ready documents (for the lexical index and analytics)."""
        ready = set(self.ready_ids())
        offset = 0
        while True:
            res = self._chunks.get(limit=batch, offset=offset, where=where,
                                   include=["documents", "metadatas"])
            ids = res["ids"]
            if not ids:
                return
            for i, t, m in zip(ids, res["documents"], res["metadatas"], strict=True):
                if m and m.get("doc_id") in ready:
                    yield chunk_from_record(i, t, m)
            offset += len(ids)

    @_storage_errors
    def embeddings_of(self, doc_id: str) -> tuple[list[Chunk], np.ndarray]:
        res = self._chunks.get(where={"doc_id": doc_id},
                               include=["documents", "metadatas", "embeddings"])
        rows = sorted(zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"],
                          strict=True), key=lambda r: r[2].get("ordinal", 0))
        chunks = [chunk_from_record(i, t, m) for i, t, m, _ in rows]
        emb = np.asarray([e for *_, e in rows], dtype=np.float32).reshape(-1, self.embed_dim)
        return chunks, emb

    @_storage_errors
    def query(self, embedding: np.ndarray, k: int = 5, where: dict | None = None,
              doc_ids: Iterable[str] | None = None, ids: list[str] | None = None) -> list[Hit]:
        """Nearest chunks among ready documents (optionally only `doc_ids` / chunk `ids`)."""
        if ids is not None and not ids:
            return []
        if ids is None and doc_ids is None and where is None and k > 0:
            # Most searches: nearest neighbours over the whole collection, then only the
            # chunks of ready documents (read after the query, so a document still being
            # written is never returned). A metadata filter over every chunk costs more
            # than the search itself on a large workspace; it is used only when documents
            # not ready took too many of the places.
            extra = 16
            res = self._chunks.query(
                query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
                n_results=k + extra, include=["documents", "metadatas", "distances"])
            ready_set = set(self.ready_ids())
            rows = list(zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                            res["distances"][0], strict=True))
            kept = [r for r in rows if r[2] and r[2].get("doc_id") in ready_set]
            if len(kept) >= k or len(rows) < k + extra:
                return [self._hit(*r) for r in kept[:k]]
        ready = self.ready_ids()
        if doc_ids is not None:
            allowed = set(doc_ids)
            ready = [d for d in ready if d in allowed]
        if not ready or k <= 0:
            return []
        clause: dict[str, Any] = {"doc_id": {"$in": ready}}
        if where:
            clause = {"$and": [clause, where]}
        res = self._chunks.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=k,
            where=clause,
            ids=ids,
            include=["documents", "metadatas", "distances"],
        )
        return [self._hit(*r) for r in zip(res["ids"][0], res["documents"][0],
                                           res["metadatas"][0], res["distances"][0],
                                           strict=True)]

    @staticmethod
    def _hit(cid: str, text: str, md: dict[str, Any], dist: float) -> Hit:
        sim = 1.0 - float(dist)
        return Hit(chunk=chunk_from_record(cid, text, md), score=sim, scores={"dense": sim})


class Store:
    """All workspaces on one Chroma client, for one embedding model."""

    def __init__(self, client: Any, embed_model: str, embed_dim: int) -> None:
        self.client = client
        self.embed_model = embed_model
        self.embed_dim = embed_dim

    @property
    def read_only(self):
        """Why this store reads a copy and refuses writes (a StorageUnavailable), or None."""
        return read_only_reason(self.client)

    @_storage_errors
    def list_workspaces(self) -> list[dict[str, Any]]:
        out = []
        for col in self.client.list_collections():
            md = col.metadata or {}
            if md.get("kind") == WORKSPACE_TAG:
                out.append({"name": md.get("display_name", col.name), "collection": col.name,
                            "embed_model": md.get("embed_model"), "embed_dim": md.get("embed_dim"),
                            "created_at": md.get("created_at")})
        return sorted(out, key=lambda w: w["name"].lower())

    def _collection(self, coll: str) -> Any | None:
        try:
            return self.client.get_collection(coll, embedding_function=None)
        except Exception as exc:
            disk = disk_error(exc, _where(self.client))
            if disk is not None:
                raise disk from exc
            return None

    def _get(self, name: str) -> Any | None:
        """The chunk collection of the workspace called `name`, whichever id scheme named it:
        each candidate counts only when its own display name is this name (exactly, or once
        normalised), so two names never share a workspace."""
        raw = (name or "").strip()
        norm = normalize_name(raw)

        def named(col: Any, exact_only: bool = False) -> bool:
            stored = (col.metadata or {}).get("display_name")
            if stored is None:  # very old records kept no display name: trust the id
                return exact_only
            return stored == raw or (not exact_only and normalize_name(stored) == norm)

        # An exact legacy match first: "Café" typed NFD and NFC made two old workspaces.
        col = self._collection(legacy_collection_name(raw))
        if col is not None and named(col, exact_only=True):
            return col
        for attempt in range(100):
            col = self._collection(collection_name_for(norm, attempt))
            if col is None:
                break
            if named(col):
                return col
        for coll in dict.fromkeys([legacy_collection_name(norm), legacy_collection_name(raw)]):
            col = self._collection(coll)
            if col is not None and named(col):
                return col
        # A legacy workspace whose name was typed in another normal form: look it up by name.
        for w in self.list_workspaces():
            if normalize_name(w["name"]) == norm:
                return self._collection(w["collection"])
        return None

    def collection_for(self, name: str) -> str:
        """The collection the workspace `name` has, or would be created with."""
        col = self._get(name)
        return col.name if col is not None else self._free_id(normalize_name(name))

    def _free_id(self, norm: str) -> str:
        for attempt in range(100):
            coll = collection_name_for(norm, attempt)
            col = self._collection(coll)
            if col is None or normalize_name((col.metadata or {}).get("display_name", "")) == norm:
                return coll
        raise WorkspaceError(f"no free id for workspace '{norm}'")  # pragma: no cover

    @_storage_errors
    def workspace(self, name: str, create: bool = False) -> Workspace:
        """Open a workspace (creating it if asked); refuse one built with another model.

        Names are NFC-normalised and trimmed; a new name may not hold control, bidi or other
        invisible characters (an existing workspace keeps opening under its old name)."""
        raw = (name or "").strip()
        if not normalize_name(raw) or len(normalize_name(raw)) > 100:
            raise WorkspaceError("a workspace name needs 1 to 100 characters")
        chunks = self._get(raw)
        if chunks is None:
            if not create:
                raise NotFound(f"no workspace named '{normalize_name(raw)}': create it first")
            norm = check_name(raw)
            if read_only_reason(self.client) is not None:
                raise read_only_reason(self.client)
            chunks = self.client.get_or_create_collection(
                self._free_id(norm),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"kind": WORKSPACE_TAG, "display_name": norm,
                          "embed_model": self.embed_model, "embed_dim": self.embed_dim,
                          "created_at": time.time()},
            )
        name = (chunks.metadata or {}).get("display_name") or normalize_name(raw)
        md = chunks.metadata or {}
        if md.get("embed_model") != self.embed_model or int(md.get("embed_dim", 0)) != self.embed_dim:
            raise ModelMismatch(
                f"workspace '{name}' was built with the embedding model "
                f"'{md.get('embed_model')}' ({md.get('embed_dim')} dimensions), but this app "
                f"uses '{self.embed_model}' ({self.embed_dim}): open it with the settings "
                f"it was built with ({_setting_of(str(md.get('embed_model')))}), or create a "
                "new workspace"
            )
        manifest = self.client.get_or_create_collection(
            chunks.name + "--docs", embedding_function=None,
            metadata={"kind": "ragdesk-manifest", "workspace": chunks.name},
        )
        return Workspace(self.client, chunks, manifest, name, self.embed_model, self.embed_dim)

    @_writes
    def delete_workspace(self, name: str) -> None:
        chunks = self._get(name)
        if chunks is None:
            raise NotFound(f"no workspace named '{normalize_name(name)}'")
        col = chunks.name
        self.client.delete_collection(col)
        with contextlib.suppress(Exception):  # an older workspace may have no manifest
            self.client.delete_collection(col + "--docs")
