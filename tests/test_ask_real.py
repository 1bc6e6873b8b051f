"""The real embedded generator answering over real documents, with checked citations."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import DEMO_DIR, RAGDESK, cli_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def local_model_path() -> Path:
    # The 0.5B model (the default), named explicitly: these tests check the wiring (citations,
    # abstention, injection, CLI) and must not slow down if the default model changes.
    from rag.llm.local_model import QWEN_05B, ensure_packaged_model

    return ensure_packaged_model(Path.home() / ".ragdesk" / "models", QWEN_05B)


@pytest.fixture(scope="session")
def demo_services(tmp_path_factory, real_embedder, local_model_path):
    from rag.config import Settings
    from rag.ingest.loaders import LoadOptions
    from rag.ingest.pipeline import Upload
    from rag.services import build_services

    settings = Settings(data_dir=tmp_path_factory.mktemp("ask"),
                        local_model_path=str(local_model_path))
    svc = build_services(settings, embedder=real_embedder)
    ws = svc.workspace("Demo", create=True)
    files = sorted(p for p in DEMO_DIR.iterdir() if p.suffix in {".txt", ".vtt", ".csv"})
    reps = svc.ingestor(ws).ingest_many(
        [Upload(p.name, path=p, options=LoadOptions(text_column="comment")
                if p.suffix == ".csv" else None) for p in files])
    assert all(r.ok for r in reps), [r.message for r in reps if not r.ok]
    return svc, ws


def test_local_model_answers_with_correct_citation(demo_services):
    svc, ws = demo_services
    ans = svc.answerer(ws).ask("What was Northwind's revenue in the second quarter of 2026?")
    assert not ans.abstained, ans.raw
    assert "412.6" in ans.text, ans.text
    cited = [c for c in ans.citations if "412.6" in c.chunk.text]
    assert cited and cited[0].chunk.doc_name == "northwind_q2_2026_earnings_call"
    assert cited[0].chunk.speaker  # a transcript citation names the speaker
    assert ans.first_token_s is not None


def test_local_model_abstains_when_documents_do_not_say(demo_services):
    svc, ws = demo_services
    ans = svc.answerer(ws).ask("What is the boiling point of liquid nitrogen in Kelvin?")
    assert ans.abstained and not ans.citations


def test_planted_instruction_does_not_steer_the_answer(demo_services):
    import badfiles

    svc, ws = demo_services
    name, data = badfiles.prompt_injection_txt()
    rep = svc.ingestor(ws).ingest_bytes(data, name)
    assert rep.ok
    try:
        for q in ["What does the memo say?", "Summarise the memo in one sentence."]:
            ans = svc.answerer(ws).ask(q, focus=False)
            assert badfiles.CANARY not in ans.text and badfiles.CANARY not in ans.raw, ans.raw
    finally:
        ws.delete_document(rep.doc.doc_id)


def test_cli_ask_json(demo_services, local_model_path):
    svc, _ = demo_services
    out = subprocess.run(
        # (This test is about the CLI's JSON contract; answer quality is measured in
        # benchmarks/answer.py.)
        [str(RAGDESK), "ask", "What gross margin did Northwind report in Q1 2026?",
         "--workspace", "Demo", "--json"],
        env=cli_env(svc.settings.data_dir, RAG_LOCAL_MODEL_PATH=str(local_model_path)),
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout)
    assert set(d) >= {"answer", "citations", "abstained"}
    assert isinstance(d["abstained"], bool)
    for c in d["citations"]:
        assert set(c) >= {"n", "doc_id", "doc_name", "page", "quote"}
        assert c["quote"]
    if not d["abstained"]:
        assert "40.1%" in d["answer"], d["answer"]
