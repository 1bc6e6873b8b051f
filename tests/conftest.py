"""Shared fixtures: settings in a temporary data dir, the fake and the real embedder, services
on real on-disk Chroma, and one real-PDF workspace shared by every slow test of a session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))  # `import badfiles`, `import fakes`

# Hermetic: a developer's RAG_* variables (a Chroma server URL, a data dir...) must not leak in.
for _k in [k for k in os.environ if k.startswith("RAG_")]:
    del os.environ[_k]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from fakes import HashEmbedder

from rag.config import Settings

DEMO_DIR = ROOT / "data"
# The shared evaluation data lies beside the checkout (`../shared/data`), read-only in CI.
SHARED_DATA = Path(os.environ.get("RAGDESK_SHARED_DATA", ROOT.parent / "shared" / "data"))
FINANCEBENCH_PDFS = SHARED_DATA / "financebench" / "pdfs"
VENV_BIN = Path(sys.executable).parent
RAGDESK = VENV_BIN / "ragdesk"
CHROMA = VENV_BIN / "chroma"

# Page counts of the FinanceBench filings (pypdf, after decrypting the 4 AES files with "").
FINANCEBENCH_PAGES = {
    "3M_2018_10K": 160,
    "3M_2022_10K": 252,
    "AMAZON_2017_10K": 85,
    "BOEING_2022_10K": 190,
    "PEPSICO_2022_10K": 503,
    "PEPSICO_2023Q1_EARNINGS": 16,
    "PEPSICO_2023_8K_dated-2023-05-05": 5,
    "PEPSICO_2023_8K_dated-2023-05-30": 172,
    "PFIZER_2021_10K": 143,
    "Pfizer_2023Q2_10Q": 72,
}
FINANCEBENCH_ENCRYPTED = {"AMAZON_2017_10K", "BOEING_2022_10K", "PFIZER_2021_10K",
                          "Pfizer_2023Q2_10Q"}


def close_client(client) -> None:
    """Release a Chroma client's system so the next client on that path starts fresh."""
    close = getattr(client, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # HTTP clients of a stopped server, etc.
            close()


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `ragdesk` subprocess working in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# fast: fake embedder, real on-disk Chroma in tmp_path


@pytest.fixture(scope="session")
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "ragdata")


@pytest.fixture
def services(settings, fake_embedder):
    from rag.services import build_services

    svc = build_services(settings, embedder=fake_embedder)
    yield svc
    close_client(svc.client)


@pytest.fixture
def cli(services, monkeypatch, capsys):
    """Run `ragdesk ARGS` in this process on the test's services; returns (rc, out, err)."""
    import rag.cli

    monkeypatch.setattr(rag.cli, "_services", lambda: services)

    def run(*args: str):
        rc = rag.cli.main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture
def workspace(services):
    return services.workspace("Test workspace", create=True)


@pytest.fixture
def ingestor(services, workspace):
    return services.ingestor(workspace)


# ---------------------------------------------------------------------------------------------
# slow: the real packaged model, loaded once a session


@pytest.fixture(scope="session")
def real_embedder():
    """The app's default embedder (int8 ONNX of the packaged model, prepared by setup_models)."""
    from rag.services import build_embedder

    return build_embedder(Settings())


@pytest.fixture(scope="session")
def real_pdf_workspace(tmp_path_factory, fake_embedder):
    """All 10 FinanceBench PDFs ingested once into on-disk Chroma, through the real pipeline
    (the parsing child, pdfium, decryption, chunking, facts, figure cells) with the hash
    embedder: what these tests check is what the PDFs became, and the real model over
    thousands of filing pages cost four minutes of the suite. The real model over real
    filings is tested where its ranking is what is asserted (test_eval, test_retrieve,
    test_figures).

    Returns (services, workspace, reports by document name, seconds taken). The source folder
    is read-only: the files are read as bytes, nothing is written next to them.
    """
    from rag.ingest.pipeline import Upload
    from rag.services import build_services

    pdfs = sorted(FINANCEBENCH_PDFS.glob("*.pdf"))
    if len(pdfs) != 10:
        pytest.fail(f"expected the 10 FinanceBench PDFs in {FINANCEBENCH_PDFS}, found {len(pdfs)}")
    settings = Settings(data_dir=tmp_path_factory.mktemp("realpdf"))
    svc = build_services(settings, embedder=fake_embedder)
    ws = svc.workspace("FinanceBench", create=True)
    t0 = time.perf_counter()
    reports = svc.ingestor(ws).ingest_many([Upload(p.name, path=p) for p in pdfs])
    seconds = time.perf_counter() - t0
    print(f"\n[real_pdf_workspace] 10 PDFs ingested in {seconds:.0f} s, "
          f"{ws.count_chunks()} chunks", file=sys.stderr)
    yield svc, ws, {r.filename.rsplit(".", 1)[0]: r for r in reports}, seconds
    close_client(svc.client)


@pytest.fixture
def copy_pdf(tmp_path):
    """Copy a FinanceBench PDF into tmp_path (the source dir is read-only)."""

    def _copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copyfile(FINANCEBENCH_PDFS / name, dst)
        return dst

    return _copy
