"""The shared evaluation data (`../shared/data`, read-only) as the tests read it: one loader per
set, each skipping the test when the set is not beside the checkout.

FinanceBench questions, TAT-QA's dev set, ECTSum call transcripts and the banking77 and
clinc150 intent sets; results are cached per process (the files never change under a run), so
callers must not mutate what they get.
"""

from __future__ import annotations

import csv
import json
import os
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import SHARED_DATA

FINANCEBENCH = SHARED_DATA / "financebench"
FINANCEBENCH_QUESTIONS = FINANCEBENCH / "questions.jsonl"
TATQA_DEV = SHARED_DATA / "tatqa" / "tatqa_dataset_dev.json"
ECTSUM_VAL = SHARED_DATA / "ectsum" / "val"
BANKING77_TRAIN = SHARED_DATA / "banking77" / "train.csv"
CLINC150 = SHARED_DATA / "clinc150" / "data_full.json"


def need(path: Path) -> Path:
    """`path`, or skip the test when the shared data is not there (fail under CI=true, where
    `../shared` is always beside the checkout: a missing set must not pass as a skip)."""
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"shared data not found at {path} (CI=true)")
        pytest.skip(f"shared data not found at {path}")
    return path


@lru_cache(maxsize=1)
def _financebench() -> tuple[dict, ...]:
    with FINANCEBENCH_QUESTIONS.open(encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())


def financebench_questions() -> list[dict]:
    """FinanceBench's questions (each with its doc_name, answer and evidence pages, 0-based)."""
    need(FINANCEBENCH_QUESTIONS)
    return list(_financebench())


@lru_cache(maxsize=1)
def _tatqa() -> list[dict]:
    return json.loads(TATQA_DEV.read_text(encoding="utf-8"))


def tatqa_dev() -> list[dict]:
    """TAT-QA's dev set: documents with a table, paragraphs and questions."""
    need(TATQA_DEV)
    return _tatqa()


def ectsum_transcript(name: str) -> str:
    """One ECTSum validation call transcript by its file stem ('ACM_q4_2021')."""
    return need(ECTSUM_VAL / "ects" / f"{name}.txt").read_text(encoding="utf-8")


def ectsum_transcripts(limit: int | None = None) -> list[str]:
    """ECTSum validation call transcripts, in file-name order (the first `limit`)."""
    folder = need(ECTSUM_VAL / "ects")
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))[:limit]]


def _spread(pairs, n_labels: int, per_label: int, step_at_least_one: bool
            ) -> tuple[list[str], list[str]]:
    """`per_label` texts of each of `n_labels` labels taken evenly from the sorted labels."""
    labels = sorted({lab for _, lab in pairs})
    step = len(labels) // n_labels
    keep = set(labels[:: max(1, step) if step_at_least_one else step][:n_labels])
    texts, ys, seen = [], [], {}
    for t, lab in pairs:
        if lab in keep and seen.get(lab, 0) < per_label:
            seen[lab] = seen.get(lab, 0) + 1
            texts.append(t)
            ys.append(lab)
    return texts, ys


def banking77(n_labels: int, per_label: int) -> tuple[list[str], list[str]]:
    """Texts and intents of banking77's training set: `per_label` rows of `n_labels` intents."""
    with need(BANKING77_TRAIN).open(newline="", encoding="utf-8") as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    return _spread(rows, n_labels, per_label, True)


def clinc150(n_labels: int, per_label: int, split: str = "train"
             ) -> tuple[list[str], list[str]]:
    """Texts and intents of one clinc150 split: `per_label` rows of `n_labels` intents."""
    data = json.loads(need(CLINC150).read_text(encoding="utf-8"))
    return _spread([(t, lab) for t, lab in data[split]], n_labels, per_label, False)
