"""The packaged sentence-transformers model run by onnxruntime, optionally int8-quantised.

The ONNX file is exported locally from the packaged weights once (torch is imported only for
that), quantised with onnxruntime's dynamic quantisation, and cached under
`data_dir/models/`; later starts load the cached file without torch. Vectors are close to but not
identical with the torch model's, so the embedder has its own `name` and a workspace built with
one refuses the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.index.embedder import PACKAGED, packaged_model_dir

OPSET = 17
# Bump when the exported graph changes (inputs, pooling, optimisation), to re-export caches.
EXPORT_VERSION = 1
QUANT = {"fp32": None, "int8": "QInt8", "uint8": "QUInt8"}


def _fingerprint(model_dir: Path) -> str:
    """A short hash of the model files the export depends on."""
    h = hashlib.sha256(f"v{EXPORT_VERSION}-opset{OPSET}".encode())
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "modules.json",
                 "1_Pooling/config.json"):
        p = model_dir / name
        if p.exists():
            h.update(name.encode() + b"\0" + p.read_bytes())
    for p in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        with p.open("rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:12]


def _tmp_path(final: Path) -> Path:
    return final.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{final.name}")


def _pooling_mode(model_dir: Path) -> str:
    cfg = model_dir / "1_Pooling" / "config.json"
    if not cfg.exists():
        return "mean"
    d = json.loads(cfg.read_text())
    if d.get("pooling_mode_mean_tokens"):
        return "mean"
    if d.get("pooling_mode_cls_token"):
        return "cls"
    raise RagError(f"unsupported pooling in {cfg}: only mean or CLS pooling can be exported")


def export_onnx(model_dir: Path, out: Path) -> None:
    """Export transformer + pooling + L2 normalisation to ONNX (needs torch), atomically."""
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise RagError(
            f"exporting the embedding model to ONNX needs torch and transformers ({exc}): "
            "install the full requirements once, or copy an exported model-*.onnx into "
            f"{out.parent}"
        ) from exc

    mode = _pooling_mode(model_dir)
    base = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base

        def forward(self, input_ids, attention_mask):
            hidden = self.base(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            if mode == "cls":
                pooled = hidden[:, 0]
            else:
                m = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    ids = torch.ones((2, 16), dtype=torch.int64)
    mask = torch.ones((2, 16), dtype=torch.int64)
    tmp = _tmp_path(out)
    try:
        # Tracing warns about shape-dependent branches of the attention mask code; the export
        # is checked against torch on padded batches of real text (benchmarks/embedders.py).
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder().eval(), (ids, mask), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                              "attention_mask": {0: "batch", 1: "seq"},
                              "embedding": {0: "batch"}},
                do_constant_folding=True,
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def quantize_onnx(src: Path, out: Path, weight_type: str = "QInt8") -> None:
    """Dynamic (weights int8, activations quantised on the fly) quantisation, atomically."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise RagError(f"quantising the ONNX model needs the 'onnx' package ({exc}): "
                       "pip install onnx==1.23.2") from exc

    tmp = _tmp_path(out)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quiet its "consider pre-processing" advice
    try:
        quantize_dynamic(str(src), str(tmp), per_channel=True,
                         weight_type=getattr(QuantType, weight_type))
        os.replace(tmp, out)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)


def ensure_onnx_model(model_dir: Path, cache_dir: Path, quant: str = "int8",
                      label: str | None = None) -> Path:
    """The cached ONNX file for `model_dir`, exporting and quantising it on first use."""
    if quant not in QUANT:
        raise RagError(f"unknown ONNX quantisation '{quant}': choose one of {', '.join(QUANT)}")
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", label or model_dir.name)
    folder = cache_dir / f"{label}-onnx-{_fingerprint(model_dir)}"
    final = folder / f"model-{quant}.onnx"
    if final.exists():
        return final
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model-fp32.onnx"
    if not fp32.exists():
        export_onnx(model_dir, fp32)
    weight_type = QUANT[quant]
    if weight_type is not None:
        quantize_onnx(fp32, final, weight_type)
    return final


class OnnxEmbedder:
    """The packaged model through onnxruntime on the CPU; thread-safe, torch-free once cached."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", cache_dir: Path | str | None = None,
                 quant: str = "int8", batch_size: int = 32, threads: int | None = None,
                 max_length: int | None = None, model_path: Path | str | None = None,
                 max_batch_tokens: int = 2048) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = packaged_model_dir(name) if name in PACKAGED else Path(name)
        if not (model_dir / "tokenizer.json").exists():
            raise RagError(f"no tokenizer.json in the embedding model folder '{model_dir}'")
        if model_path is None:
            if cache_dir is None:
                raise RagError("OnnxEmbedder needs a cache_dir (settings.data_dir / 'models')")
            model_path = ensure_onnx_model(model_dir, Path(cache_dir), quant,
                                           label=name if name in PACKAGED else None)
        self.model_path = Path(model_path)
        base = name if name in PACKAGED else model_dir.name
        self.name = f"{base}-onnx-{quant}"
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        if max_length is None:
            cfg = model_dir / "sentence_bert_config.json"
            max_length = int(json.loads(cfg.read_text()).get("max_seq_length", 256)
                             if cfg.exists() else 256)
        self.max_length = max_length

        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.no_padding()
        tok.enable_truncation(max_length=max_length)
        self._tok = tok

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or 0
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between ops: the machine is shared with the PDF parser and the app.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(self.model_path), sess_options=so,
                                             providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        shape = self._session.get_outputs()[0].shape
        self.dim = shape[-1] if isinstance(shape[-1], int) else 0
        if not self.dim:
            self.dim = int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            encs = self._tok.encode_batch(list(texts), add_special_tokens=True)
            out: np.ndarray | None = None
            # Longest first, batched among similar lengths: little padding. A batch holds at
            # most `batch_size` texts and `max_batch_tokens` tokens, which bounds the memory
            # onnxruntime's arena keeps (attention is batch x 12 x width^2 floats per layer).
            order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
            s = 0
            while s < len(order):
                width = len(encs[order[s]].ids)
                rows = max(1, min(self.batch_size, self.max_batch_tokens // max(1, width)))
                idx = order[s : s + rows]
                s += rows
                ids = np.zeros((len(idx), width), dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for r, i in enumerate(idx):
                    n = len(encs[i].ids)
                    ids[r, :n] = encs[i].ids
                    mask[r, :n] = 1
                (vecs,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
                if out is None:
                    out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
                out[idx] = vecs
        assert out is not None
        # Re-normalise in float32: quantised graphs drift a little from unit length.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
