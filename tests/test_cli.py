"""`ragdesk`: in-process with the fake embedder for the details, and the real installed entry
point in a subprocess (real model, real on-disk Chroma) for the whole path."""

from __future__ import annotations

import json
import subprocess

import badfiles
import pytest
from conftest import RAGDESK, cli_env, close_client

from rag.config import Settings
from rag.index.store import Store, make_client

HIT_KEYS = {"doc_id", "doc_name", "page", "text", "score"}


@pytest.fixture
def files(tmp_path):
    """Two loose files (one of them locked) and a folder of three."""
    src = tmp_path / "src"
    folder = src / "folder"
    (folder / "nested").mkdir(parents=True)
    (src / "report.pdf").write_bytes(badfiles.good_pdf()[1])
    (src / "locked.pdf").write_bytes(badfiles.password_pdf()[1])
    (folder / "pricing.txt").write_text(
        "Pricing review. Europe prices rise five percent in March for the Beacon arm.")
    (folder / "plan.md").write_text("# Battery swap\n\nThe battery swap scheduler ships in 4.2.")
    (folder / "nested" / "standup.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\n<v Ann>The lidar supplier is late again.\n\n"
        "00:00:06.000 --> 00:00:09.000\n<v Bob>Then we slip the pilot by a week.\n")
    (folder / ".hidden.txt").write_text("never ingested")
    return src




def test_ingest_prints_one_line_a_file_and_fails_after_the_rest(cli, files):
    rc, out, err = cli("ingest", str(files / "report.pdf"), str(files / "locked.pdf"),
                       str(files / "folder"), str(files / "missing.txt"))
    assert rc == 1
    lines = out.splitlines()
    assert [ln.split()[:2] for ln in lines] == [
        ["ADDED", "report.pdf:"], ["FAILED", "locked.pdf:"], ["ADDED", "standup.vtt:"],
        ["ADDED", "plan.md:"], ["ADDED", "pricing.txt:"]]
    assert "3 pages, 3 chunks" in lines[0] and "password" in lines[1]
    assert "missing.txt: no such file" in err

    rc, out, _ = cli("ingest", str(files / "folder"))
    assert rc == 0 and [ln.split()[0] for ln in out.splitlines()] == ["UNCHANGED"] * 3


def test_ingest_json_and_docs_json(cli, files):
    rc, out, _ = cli("ingest", str(files / "folder"), "--json", "-w", "Q3 / Ventas — España!!")
    assert rc == 0
    reports = json.loads(out)
    assert [(r["filename"], r["status"], r["kind"]) for r in reports] == [
        ("standup.vtt", "added", "transcript"), ("plan.md", "added", "markdown"),
        ("pricing.txt", "added", "text")]  # folders are walked in sorted path order
    assert reports[0]["unit_label"] == "turns" and reports[0]["units"] == 2

    rc, out, _ = cli("docs", "--json", "-w", "Q3 / Ventas — España!!")
    docs = json.loads(out)
    assert rc == 0 and {d["name"] for d in docs} == {"plan", "pricing", "standup"}
    assert {d["doc_id"] for d in docs} == {r["doc_id"] for r in reports}
    assert all(d["status"] == "ready" and d["chunks"] >= 1 for d in docs)

    rc, out, _ = cli("workspaces", "--json")
    assert [w["name"] for w in json.loads(out)] == ["Q3 / Ventas — España!!"]


def test_search_json_hits(cli, files):
    cli("ingest", str(files / "report.pdf"), str(files / "folder"))
    rc, out, _ = cli("search", "active customers churn", "--json", "-k", "4")
    hits = json.loads(out)
    assert rc == 0 and 1 <= len(hits) <= 4
    assert all(HIT_KEYS <= set(h) for h in hits)
    top = hits[0]
    assert top["doc_name"] == "report" and top["page"] == 2 and "Churn" in top["text"]
    for h in hits:
        assert isinstance(h["score"], float)
        if h["doc_name"] == "report":
            assert isinstance(h["page"], int) and 1 <= h["page"] <= 3
        else:
            assert h["page"] is None

    rc, out, _ = cli("search", "battery swap", "-k", "1")  # the human-readable form
    assert rc == 0 and out.startswith("[1] ") and "plan" in out


def test_delete_and_errors(cli, files, services):
    cli("ingest", str(files / "report.pdf"), str(files / "folder"))
    docs = json.loads(cli("docs", "--json")[1])
    report = next(d for d in docs if d["name"] == "report")

    rc, out, _ = cli("delete", report["doc_id"])
    assert rc == 0 and out.startswith(f"deleted {report['doc_id']} (report, 3 chunks)")
    left = json.loads(cli("docs", "--json")[1])
    assert {d["name"] for d in left} == {"plan", "pricing", "standup"}
    ws = services.workspace("default")
    assert ws.chunks_of(report["doc_id"]) == []
    assert ws.count_chunks() == sum(d["chunks"] for d in left)

    rc, _, err = cli("delete", report["doc_id"])
    assert rc == 2 and err.startswith("error: no document")
    rc, _, err = cli("docs", "-w", "nowhere")
    assert rc == 2 and "no workspace named 'nowhere'" in err


def test_no_supported_files(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    rc, _, err = cli("ingest", str(tmp_path / "empty"))
    assert rc == 1 and "no supported files" in err


# ---------------------------------------------------------------------------------------------
# the installed entry point, real model, real Chroma on disk


def _ragdesk(data_dir, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(RAGDESK), *args], capture_output=True, text=True,
                          env=cli_env(data_dir), timeout=timeout, check=False)


@pytest.mark.slow
def test_real_cli_ingest_docs_search_delete(tmp_path, files):
    data = tmp_path / "ragdata"

    ing = _ragdesk(data, "ingest", str(files / "report.pdf"), str(files / "locked.pdf"),
                   str(files / "folder"))
    assert ing.returncode == 1, ing.stderr
    lines = ing.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines] == [
        ["ADDED", "report.pdf:"], ["FAILED", "locked.pdf:"], ["ADDED", "standup.vtt:"],
        ["ADDED", "plan.md:"], ["ADDED", "pricing.txt:"]]
    assert "password" in lines[1]

    docs = _ragdesk(data, "docs", "--json")
    assert docs.returncode == 0, docs.stderr
    by_name = {d["name"]: d for d in json.loads(docs.stdout)}
    assert set(by_name) == {"report", "plan", "pricing", "standup"}
    assert by_name["report"]["kind"] == "pdf" and by_name["report"]["units"] == 3

    found = _ragdesk(data, "search", "How many active customers, and how did churn change?",
                     "--json", "-k", "5")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)  # stdout is pure JSON: progress bars go to stderr
    assert isinstance(hits, list) and 1 <= len(hits) <= 5
    assert all(HIT_KEYS <= set(h) for h in hits)
    top = hits[0]
    assert top["doc_name"] == "report" and top["page"] == 2
    assert top["doc_id"] == by_name["report"]["doc_id"] and "Churn fell" in top["text"]
    assert all(h["page"] is None for h in hits if h["doc_name"] != "report")
    assert all(isinstance(h["score"], float) for h in hits)

    gone = _ragdesk(data, "delete", by_name["report"]["doc_id"])
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.startswith(f"deleted {by_name['report']['doc_id']}")

    # every process has exited: open the folder afresh and check what the CLI left there
    client = make_client(Settings(data_dir=data))
    try:
        ws = Store(client, "all-MiniLM-L6-v2-onnx-int8", 384).workspace("default")
        assert {d.name for d in ws.documents(include_pending=True)} == {"plan", "pricing",
                                                                         "standup"}
        assert ws.chunks_of(by_name["report"]["doc_id"]) == []
        assert ws.count_chunks() == sum(by_name[n]["chunks"] for n in ("plan", "pricing",
                                                                         "standup"))
    finally:
        close_client(client)
