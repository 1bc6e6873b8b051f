"""Feedback themes on real labelled intents (banking77, clinc150) with the packaged embedder:
two levels, stability across seeds, an honest Other, re-run alignment with new and emerging
themes, and the sentiment column. Vectors are embedded once per session."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import shared_data
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from rag.analytics import clustering
from rag.analytics import feedback as fb
from rag.analytics.feedback import sentiment
from rag.analytics.feedback.store import AnalysisStore

pytestmark = pytest.mark.slow


def _banking(n_labels: int = 30, per_label: int = 30) -> tuple[list[str], list[str]]:
    return shared_data.banking77(n_labels, per_label)


def _clinc(n_labels: int = 40, per_label: int = 25) -> tuple[list[str], list[str]]:
    return shared_data.clinc150(n_labels, per_label, "test")


@pytest.fixture(scope="session")
def intent_sets(real_embedder):
    """banking77 (900 rows, 30 intents) and clinc150 (1,000 rows, 40 intents), embedded once."""
    out = {}
    for name, (texts, ys) in {"banking77": _banking(), "clinc150": _clinc()}.items():
        out[name] = (texts, ys, np.asarray(real_embedder.embed(texts), dtype=np.float32))
    return out


def items_of(texts: list[str], **fields) -> list[fb.Item]:
    return [fb.Item(row=i + 1, text=t, chunk_ids=(f"c{i}",),
                    fields={k: v[i] for k, v in fields.items()}) for i, t in enumerate(texts)]


# Measured with micro-clusters merged by weighted Ward (these subsets, the benchmark's vectors
# of the same model, seeds 0 and 1): banking77 NMI 0.842 / 0.830, k 41 / 46, seed ARI 0.884
# (headlines 0.918), Other 2.1% / 3.2%; clinc150 NMI 0.918 / 0.921, k 55 / 50, seed ARI 0.938
# (headlines 0.950), Other 3.5% / 4.4%. Each floor sits under its measurement and never under
# its earlier value (NMI 0.80 / 0.88, seed ARI 0.70).
FINE_NMI_FLOOR = {"banking77": 0.80, "clinc150": 0.89}
SEED_ARI_FLOOR = 0.80
OTHER_CEILING = 0.25  # the bar
OTHER_MEASURED = 0.10  # what these sets measure, with a margin


@pytest.mark.parametrize("name", ["banking77", "clinc150"])
def test_two_levels_recover_real_intents_stably(intent_sets, name):
    texts, ys, X = intent_sets[name]
    true_k = len(set(ys))
    runs = [fb.analyze(items_of(texts), X, fb.Roles(text="text"), seed=s) for s in (0, 1)]
    a = runs[0]
    fine_nmi = normalized_mutual_info_score(ys, a.labels)
    head_nmi = normalized_mutual_info_score(ys, a.head_labels)
    # The seed moves the micro-clusters' k-means++ start; the weighted Ward merge that
    # follows is deterministic, so the two runs' themes agree closely.
    seed_ari = adjusted_rand_score(runs[0].labels, runs[1].labels)
    head_ari = adjusted_rand_score(runs[0].head_labels, runs[1].head_labels)
    print(f"\n[{name}] fine k {a.k_auto} (true {true_k}) NMI {fine_nmi:.3f}; "
          f"{len(a.headlines)} headlines NMI {head_nmi:.3f}; seed ARI fine {seed_ari:.3f} "
          f"headline {head_ari:.3f}; Other {a.other_share:.1%}")
    assert fine_nmi >= FINE_NMI_FLOOR[name]
    assert 0.6 * true_k <= a.k_auto <= 1.6 * true_k
    assert seed_ari >= SEED_ARI_FLOOR and head_ari >= SEED_ARI_FLOOR - 0.2
    assert a.other_share < min(OTHER_CEILING, OTHER_MEASURED)
    # The headline level groups the fine one: at most 15, every fine theme has one parent,
    # and a headline holds exactly its children's comments.
    heads = [h for h in a.headlines if not h.is_other]
    assert 2 <= len(heads) <= 15 < sum(not t.is_other for t in a.themes)
    for h in heads:
        kids = a.children(h.id)
        assert kids and sum(k.size for k in kids) == h.size
    assert all(t.parent in {h.id for h in heads} for t in a.themes if not t.is_other)
    # Names are keyphrases of the theme's own comments (no model here), not word lists.
    regular = [t for t in a.themes if not t.is_other]
    assert sum(t.named_by == "keyphrase" for t in regular) >= 0.8 * len(regular)
    for t in regular:
        if t.named_by == "keyphrase":
            said = " ".join(a.items[i].text.lower() for i in a.members(t.id))
            assert all(w.strip("()") in said for w in t.name.lower().split()), t.name
            assert "," not in t.name
    # The CLI's JSON carries parent, sentiment and status for every cluster.
    out = fb.cluster_json(a, list(range(len(texts))))
    assert {c["parent"] for c in out["clusters"] if c["id"] >= 0} <= {h.id for h in heads}
    assert all(c["status"] == "steady" and isinstance(c["sentiment"], float)
               for c in out["clusters"])


def test_seeds_agree_on_all_of_clinc150_test_split(real_embedder):
    """4,500 rows, 150 intents: well past the 2,000 rows at which seed agreement used to be
    only determinism. Measured (the benchmark's vectors of the same model, clustering only):
    NMI 0.901 for both seeds, k 158, seed ARI 0.866, Other 3.1%."""
    texts, ys = shared_data.clinc150(150, 30, "test")  # the whole in-scope test split
    X = np.asarray(real_embedder.embed(texts), dtype=np.float32)
    runs = [clustering.cluster(X, seed=s) for s in (0, 1)]
    nmis = [normalized_mutual_info_score(ys, r.labels) for r in runs]
    ari = adjusted_rand_score(runs[0].labels, runs[1].labels)
    other = [float((r.labels == clustering.OTHER).mean()) for r in runs]
    print(f"\n[clinc150 test split] k {[r.k_auto for r in runs]} NMI {nmis} seed ARI {ari:.3f} "
          f"Other {other}")
    assert min(nmis) >= 0.88 and ari >= 0.80 and max(other) < OTHER_MEASURED


def test_rerun_keeps_ids_and_names_and_marks_new_and_emerging(intent_sets, tmp_path):
    texts, ys, X = intent_sets["clinc150"]
    labels = sorted(set(ys))
    late = set(labels[:2])  # two intents that only arrive in the new month
    grow = labels[2]  # one that grows sharply in the new month
    first = [i for i, y in enumerate(ys) if y not in late and (y != grow or i % 3 == 0)]
    dates = ["2026-01-15"] * len(first)
    items = [replace(it, date=d) for it, d in zip(items_of([texts[i] for i in first]), dates,
                                                    strict=True)]
    roles = fb.Roles(text="text", date="date")
    a = fb.analyze(items, X[first], roles, ingest_date_column="date",
                   source={"embed_model": "packaged"})
    store = AnalysisStore(tmp_path)
    store.save("ws", "doc1", a)
    assert store.runs("ws", "doc1")[0]["run_id"] == a.run_id
    prev = store.load_run("ws", "doc1", a.run_id)
    assert prev is not None and [t.name for t in prev.themes] == [t.name for t in a.themes]

    # The next export: the earlier rows (90% of them) plus a new month.
    keep = [i for n, i in enumerate(first) if n % 10]
    new_rows = [i for i, y in enumerate(ys) if y in late or (y == grow and i % 3)]
    rows = keep + new_rows
    dates = ["2026-01-15"] * len(keep) + ["2026-02-15"] * len(new_rows)
    items2 = [replace(it, date=d) for it, d in zip(items_of([texts[i] for i in rows]), dates,
                                                     strict=True)]
    b = fb.analyze(items2, X[rows], roles, ingest_date_column="date", previous=prev,
                   source={"embed_model": "packaged"})
    assert b.previous_run == a.run_id
    old = {t.id: t for t in a.themes if not t.is_other}
    kept = [t for t in b.themes if not t.is_other and t.status != "new"]
    assert len(kept) >= 0.8 * len(old)
    for t in kept:  # same id, same name
        assert t.id in old and t.name == old[t.id].name
    # The late intents' rows sit in themes marked new, with ids never used before.
    ylab = {i: ys[r] for i, r in enumerate(rows)}
    for intent in late:
        own = [b.labels[i] for i in range(len(rows)) if ylab[i] == intent]
        top = max(set(own), key=own.count)
        theme = b.theme(top)
        assert theme.status == "new" and theme.id not in old, (intent, theme)
    # The intent that grew is flagged emerging, with the counts that say so.
    own = [b.labels[i] for i in range(len(rows)) if ylab[i] == grow]
    grown = b.theme(max(set(own), key=own.count))
    assert grown.status == "emerging" and "2026-02" in grown.trend, grown
    out = fb.cluster_json(b, list(range(len(rows))))
    statuses = {c["status"] for c in out["clusters"]}
    assert {"new", "emerging"} <= statuses and out["previous_run"] == a.run_id


def test_sentiment_column_on_real_complaints_and_ratings(intent_sets):
    texts, ys, X = intent_sets["banking77"]
    complaint = {"card_not_working", "declined_card_payment", "compromised_card",
                 "lost_or_stolen_card", "card_swallowed", "failed_transfer",
                 "declined_transfer", "extra_charge_on_statement", "request_refund",
                 "wrong_amount_of_cash_received", "transaction_charged_twice",
                 "declined_cash_withdrawal", "cash_withdrawal_charge",
                 # 'I was charged a fee for ...': complaints too
                 "card_payment_fee_charged", "transfer_fee_charged"}
    scores = sentiment.text_scores(texts)
    neg = np.array([s <= -sentiment.TEXT_CUT for s in scores])
    is_complaint = np.array([y in complaint for y in ys])
    assert is_complaint.sum() >= 60 and (~is_complaint).sum() >= 60
    print(f"\nnegative share: complaint intents {neg[is_complaint].mean():.1%}, others "
          f"{neg[~is_complaint].mean():.1%}")
    assert neg[is_complaint].mean() >= neg[~is_complaint].mean() + 0.2

    a = fb.analyze(items_of(texts), X, fb.Roles(text="text"))
    assert a.sentiment_source == sentiment.SOURCE_TEXT
    df = fb.themes_frame(a)
    assert df["sentiment"].dtype.kind == "f" and df["negative_share"].dtype.kind == "f"
    worst = df.sort_values("negative_share", ascending=False).iloc[0]
    members = [i for i, lab in enumerate(a.labels) if lab == worst["theme_id"]]
    assert np.mean([ys[i] in complaint for i in members]) >= 0.5, worst["theme"]
    # A rating column, when there is one, is the sentiment's source.
    ratings = [str(1 + (i % 5)) for i in range(len(texts))]
    r = fb.analyze(items_of(texts, stars=ratings), X, fb.Roles(text="text", rating="stars"))
    assert r.sentiment_source == sentiment.SOURCE_RATING
    assert all(-1 <= t.sentiment <= 1 for t in r.themes if t.sentiment is not None)
    assert r.sentiments[0] == -1.0 and r.sentiments[4] == 1.0  # 1 and 5 of 5


def test_aggregate_questions_on_real_feedback(intent_sets):
    from rag.analytics.feedback import ask

    texts, _ys, X = intent_sets["banking77"]
    a = fb.analyze(items_of(texts), X, fb.Roles(text="text"))
    got = ask.answer("How many customers mention a refund?", a)
    want = sum(1 for t in texts if any(w.lower().startswith("refund") for w in t.split()))
    assert got is not None and f"**{want:,} of {len(texts):,} comments**" in got.text
    top = ask.answer("What do customers complain about most?", a)
    assert top is not None and top.kind == "complaints" and top.quotes
    # The theme named first has the most negative comments of all themes.
    worst = max((t for t in a.themes if not t.is_other),
                key=lambda t: (round(t.size * t.negative_share), t.size))
    assert f"about **{worst.name}**" in top.text
