"""A check never certifies a wrong answer: each sentence is judged against the text of the
passage it cites (rag.claims), and a failing one is removed and recorded.

The passages are real FinanceBench filing text (the lines copied from the pages named, as
`rag.ingest.loaders.load` reads them); the wrong answers are the kinds the issue reported.
"""

from __future__ import annotations

import pytest

from rag.answer import Answer, Answerer, check_claims
from rag.claims import direction_claimed, judge, strip_boilerplate
from rag.types import Chunk, Hit

# 3M_2022_10K p. 73 (income tax note) and p. 74.
MMM_TAX = (
    "Reserves for tax contingencies — 0.6 0.5\n"
    "Employee share-based payments (0.2) (0.6) (0.5)\n"
    "All other - net 0.2 0.2 0.7\n"
    "Effective worldwide tax rate 9.6 % 17.8 % 19.7 %\n"
    "The effective tax rate for 2022, 2021, and 2020 were9.6 percent, 17.8 percent, and 19.7 "
    "percent, respectively. These reflect a decrease of 8.2 percentage points from 2021 to\n"
    "2022 and a decrease of 1.9 percentage points from 2020 to 2021. The primary factor that "
    "decreased the effective tax rate for 2022 was the tax efficient structure associated with\n"
    "the gain on the split-off of the Food Safety business.\n"
    "The total amount of UTB, if recognized, would affect the effective tax rate by $965 "
    "million as of December 31, 2022, $1,112 million as of December 31, 2021, and $1,145\n"
    "million as of December 31, 2020.\n"
    "73"
)
# 3M_2022_10K p. 76 (long-term debt).
MMM_DEBT = (
    "Table of Contents\n"
    "Post-Swap Borrowing (Long-Term Debt, Including Current Portion)\n"
    "2022 2021\n"
    "Fixed-rate debt $ 14,738 2.93 % $ 16,053 2.80 %\n"
    "Floating-rate debt 1,201 5.70 % 1,294 1.43 %\n"
    "Total long-term debt, including current portion $ 15,939 $ 17,347\n"
    "76"
)
# 3M_2018_10K p. 85.
MMM_2018_TAX = (
    "The effective tax rate for 2018 was 23.4 percent, compared to 35.5 percent in 2017, a "
    "decrease of 12.1 percentage points, impacted by several factors.\n"
    "Primary factors that decreased the Company’s effective tax rate included favorable aspects "
    "of the Tax Cuts and Jobs Act (TCJA) including the decrease in\n"
    "the U.S. income tax rate and foreign-derived intangible income (FDII)."
)
# BOEING_2022_10K p. 94.
BOEING_DEBT = ("Debt at December 31 consisted of the following:\n2022 2021\nUnsecured debt\n"
               "Other debt and notes\nTotal debt $57,001 $58,102")
# PFIZER_2021_10K p. 31: a performance graph page whose only words of substance are the
# footer's.
PFIZER_31 = (
    "Five Year Performance\n2016 2017 2018 2019 2020 2021\n"
    "PFIZER $100.0 $115.8 $144.5 $134.5 $139.1 $232.0\n"
    "PEER GROUP $100.0 $117.3 $126.7 $154.0 $160.4 $186.9\n"
    "ITEM 6. [RESERVED]\n"
    "Pfizer Inc. 2021 Form 10-K 25"
)
# The demo earnings call's safe-harbour turn (data/northwind_q2_2026_earnings_call.txt).
SAFE_HARBOUR = (
    "Thank you, and good afternoon, everyone. Before we begin, please note that today's "
    "discussion contains forward-looking statements, including statements about our financial "
    "outlook, product roadmap, supply chain, and market conditions. These statements are "
    "subject to risks and uncertainties, and actual results may differ materially.")


def hit(text: str, doc: str, page: int | None = 1, speaker: str | None = None) -> Hit:
    c = Chunk(id=f"{doc}-{page}", doc_id=doc, doc_name=doc, ordinal=page or 0, text=text,
              kind="pdf" if page else "transcript", page=page, speaker=speaker)
    return Hit(c, 0.5, {"dense": 0.5})


TAX = [hit(MMM_TAX, "3M_2022_10K", 73)]
DEBT = [hit(MMM_DEBT, "3M_2022_10K", 76)]
TAX18 = [hit(MMM_2018_TAX, "3M_2018_10K", 85)]


@pytest.mark.parametrize("hits,question,sentence,why", [
    # The examples.
    (TAX, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate has changed by $965 million [1].", "rate is said to change"),
    (DEBT, "Did 3M's debt go up in 2022?", "The company increased its debt [1].", "opposite"),
    ([hit(BOEING_DEBT, "BOEING_2022_10K", 94)], "How did Boeing's total debt move in 2022?",
     "Boeing's total debt rose to $57,001 million [1].", "opposite"),
    ([hit(PFIZER_31, "PFIZER_2021_10K", 31)], "What did Pfizer file for 2021?",
     "Pfizer Inc. filed its 2021 Form 10-K [1].", "header, footer"),
    # Direction against prose: stated ("a decrease of"), listed ("respectively").
    (TAX18, "What was 3M's effective tax rate in 2018?",
     "The effective tax rate for 2018 was 23.4 percent, an increase from 2017 [1].", "opposite"),
    (TAX, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate increased to 9.6 percent in 2022 [1].", "opposite"),
    # A figure not in the span, in another unit, or for another year.
    (TAX, "What was the effective tax rate in 2022?",
     "The effective tax rate was 21.5 percent in 2022 [1].", "does not contain 21.5"),
    (TAX, "How much UTB would affect the rate?",
     "Unrecognized tax benefits of 965% would affect the rate [1].", "is an amount"),
    (DEBT, "What was 3M's total long-term debt in 2022?",
     "Total long-term debt was $17,347 million in 2022 [1].", "2021 figure"),
    # Another company than the cited document's.
    (TAX18 + [hit(BOEING_DEBT, "BOEING_2022_10K", 94)], "What was the effective tax rate?",
     "Boeing's effective tax rate for 2018 was 23.4 percent [1].", "names Boeing"),
    # Supported only by safe-harbour text.
    ([hit(SAFE_HARBOUR, "northwind_q2_2026_earnings_call", None, "Elena Sorensen")],
     "What did Northwind say about its product roadmap?",
     "Northwind expects its financial outlook and product roadmap to differ materially [1].",
     "few of its words"),
    # Off-topic, from the model's own knowledge.
    (TAX, "What is the capital of France?", "The capital of France is Paris [1].",
     "names France"),
])
def test_wrong_sentence_is_removed_with_its_reason(hits, question, sentence, why):
    chk = check_claims(sentence, hits, question)
    assert chk.claims == 0 and not chk.citations, chk.text
    assert sentence.split(" [")[0] not in chk.text
    assert len(chk.rejected) == 1 and why in chk.rejected[0]["reason"], chk.rejected


@pytest.mark.parametrize("hits,question,sentence", [
    (TAX, "How did 3M's effective tax rate change in 2022?",
     "The effective tax rate decreased from 17.8 percent in 2021 to 9.6 percent in 2022 [1]."),
    (TAX, "What was 3M's effective tax rate in 2022?",
     "3M's effective tax rate for 2022 was 9.6 percent [1]."),
    (TAX, "How did the tax rate change?",
     "The effective tax rate fell by 8.2 percentage points from 2021 to 2022 [1]."),
    (TAX, "How much UTB would affect the rate?",
     "If recognized, UTB of $965 million would affect the effective tax rate [1]."),
    (DEBT, "Did 3M's debt go up in 2022?", "The company decreased its debt [1]."),
    (DEBT, "What was 3M's total long-term debt in 2022?",
     ("3M's total long-term debt decreased to $15,939 million in 2022 from $17,347 million in "
     "2021 [1].")),
    (TAX18, "What was 3M's effective tax rate in 2018?",
     "The effective tax rate for 2018 was 23.4 percent, compared to 35.5 percent in 2017 [1]."),
    (TAX18, "Why did the tax rate fall in 2018?",
     "The decrease was driven by favorable aspects of the Tax Cuts and Jobs Act [1]."),
    ([hit(BOEING_DEBT, "BOEING_2022_10K", 94)], "What was Boeing's total debt in 2022?",
     "Boeing's total debt was $57,001 million in 2022, down from $58,102 million [1]."),
])
def test_correct_sentence_is_kept(hits, question, sentence):
    chk = check_claims(sentence, hits, question)
    assert chk.claims == 1 and not chk.rejected, chk.rejected
    assert chk.citations[0].ok and chk.citations[0].checked


def test_only_the_failing_sentence_goes():
    text = ("The effective tax rate for 2022 was 9.6 percent [1]. It increased from 17.8 "
            "percent in 2021 [1]. The company increased its debt [2].")
    chk = check_claims(text, TAX + DEBT, "What happened to 3M's tax rate and debt in 2022?")
    assert chk.text == "The effective tax rate for 2022 was 9.6 percent. [1]"
    assert [r["sentence"] for r in chk.rejected] == [
        "It increased from 17.8 percent in 2021.", "The company increased its debt."]
    assert all(r["passages"] for r in chk.rejected)
    assert len(chk.citations) == 1 and chk.citations[0].chunk.page == 73


def test_boilerplate_is_not_support():
    kept = strip_boilerplate(MMM_DEBT + "\n" + SAFE_HARBOUR)
    assert "Table of Contents" not in kept and "\n76" not in kept
    assert "forward-looking" not in kept and "Total long-term debt" in kept
    # A footer repeated on two pages of the same document is furniture as well.
    a = hit("Revenue grew.\nAcme Corp | Annual Review 2024 | 12", "acme", 12).chunk
    b = hit("Costs fell.\nAcme Corp | Annual Review 2024 | 13", "acme", 13).chunk
    v = judge("Acme Corp published its Annual Review 2024 [1].", [a], [a, b],
              repeated=frozenset({"Acme Corp | Annual Review 2024 | #"}))
    assert not v.ok


@pytest.mark.parametrize("sentence,sign", [
    ("Net sales increased 6%.", 1), ("Revenue fell to $3 billion.", -1),
    ("Gross margin improved to 41.3%.", 1), ("Costs improved by $2 million.", 0),
    ("Debt declined.", -1), ("Sales were $4 billion.", 0), ("Margins rose but costs fell.", 0),
])
def test_direction_words(sentence, sign):
    assert direction_claimed(sentence) == sign


class _Retr:
    def __init__(self, hits):
        self.hits = hits

    def retrieve(self, query, k=5, filter=None, mode="hybrid", focus=False):
        from rag.retrieve import SearchFilter, SearchResult

        return SearchResult(self.hits[:k], filter or SearchFilter())


class _Chat:
    name = "scripted"

    def __init__(self, reply):
        self.reply = reply

    def stream(self, messages, max_tokens=512, temperature=0.0):
        yield self.reply


def test_answer_keeps_supported_sentences_and_records_the_rest():
    ans = Answerer(_Retr(TAX), _Chat(
        "3M's effective tax rate for 2022 was 9.6 percent [1]. The effective tax rate has "
        "changed by $965 million [1].")).ask("What was 3M's effective tax rate in 2022?")
    assert not ans.abstained and "965" not in ans.text and "9.6 percent" in ans.text
    d = ans.to_dict()
    assert d["rejected"][0]["sentence"] == "The effective tax rate has changed by $965 million."
    assert all(c["checked"] for c in d["citations"])
    assert "~~The effective tax rate has changed by $965 million.~~" in ans.to_markdown()


def test_nothing_survives_gives_the_evidence():
    ans = Answerer(_Retr(DEBT), _Chat("The company increased its debt [1].")).ask(
        "Did 3M's total long-term debt increase in 2022?")
    assert isinstance(ans, Answer) and ans.abstained
    assert ans.text.startswith("The documents do not state this directly.")
    assert "Total long-term debt" in ans.text and ans.citations[0].chunk.page == 76
    assert ans.rejected and "opposite" in ans.rejected[0]["reason"]


@pytest.mark.parametrize("reply", [
    "The capital of France is Paris.",
    "The capital of France is Paris [1].",
    "Paris is the capital of France [2]. It has been since the 10th century.",
])
def test_off_topic_answer_from_own_knowledge_says_the_documents_do_not_say(reply):
    """The relevance gate let the question through (a passage shares 'capital'); the model
    answered from its own knowledge; no passage supports a word of it."""
    capex = hit("Capital expenditures\n2022 2021\nPurchases of property, plant and equipment "
                "(1,749) (1,603)", "3M_2022_10K", 55)
    ans = Answerer(_Retr([capex, *TAX]), _Chat(reply)).ask("What is the capital of France?")
    assert ans.abstained and ans.text.startswith("The documents do not say")
    assert "Paris" not in ans.text and ans.hits  # the closest passages are still shown
    assert ans.rejected
