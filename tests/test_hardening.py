"""Hardening: hostile inputs that used to lose data or go silently wrong.

Each test builds its input here, small and fast (fake embedder, on-disk Chroma in tmp_path).
"""

from __future__ import annotations

import pytest

import rag.cli
from rag.errors import FileTooLarge
from rag.ingest.loaders import LoadOptions, check_size
from rag.ingest.pipeline import Upload
from rag.ingest.text import decode_text


@pytest.fixture
def cli(services, monkeypatch, capsys):
    """Run `ragdesk ARGS` in this process on the test's services; returns (rc, out, err)."""
    monkeypatch.setattr(rag.cli, "_services", lambda: services)

    def run(*args: str):
        rc = rag.cli.main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


# ---------------------------------------------------------------------------------------------
# 3. Western legacy text is read as cp1252


@pytest.mark.parametrize("text", [
    "naïve São déjà\nCafé €3\n", "naïve São déjà. Café €3", "Price: Café €3 per cup",
    "comment\nCafé €3\n", "Café €3.50", "São", "naïve São déjà", "Café €3",
    "Le café coûte €3", "L’été – c’était “génial”", "ÉTÉ À PARIS"])
def test_cp1252_text_is_decoded_as_cp1252(text):
    assert decode_text(text.encode("cp1252")) == text


def test_a_cp1252_csv_keeps_its_accents(ingestor, workspace):
    data = "id,comment\n1,naïve São déjà\n2,Café €3\n".encode("cp1252")
    rep = ingestor.ingest_bytes(data, "feedback.csv", LoadOptions(text_column="comment"))
    assert rep.status == "added", rep.message
    assert [c.text for c in workspace.chunks_of(rep.doc.doc_id)] == ["naïve São déjà",
                                                                     "Café €3"]


@pytest.mark.parametrize("enc, text", [
    ("cp1251", "Совет директоров утвердил бюджет на робототехнику и попросил обзор."),
    ("cp1250", "Zażółć gęślą jaźń. Rada nadzorcza zatwierdziła budżet."),
    ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy."),
    ("cp1253", "Καλημέρα κόσμε, αυτό είναι ένα δοκιμαστικό κείμενο."),
    ("cp1254", "Değişiklik yönetim kurulu tarafından onaylandı. Şirket büyüyor."),
])
def test_other_code_pages_still_decode(enc, text):
    assert decode_text(text.encode(enc)) == text


# ---------------------------------------------------------------------------------------------
# 4. the size limit is checked before reading


def test_a_huge_file_is_refused_before_it_is_read(ingestor, tmp_path, monkeypatch):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as f:  # sparse: 2 GiB on paper, nothing on disk
        f.truncate(2 * 1024**3)

    def no_read(self, *a, **kw):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Upload, "read", no_read)
    [rep] = ingestor.ingest_many([Upload("huge.txt", path=big)])
    assert rep.status == "failed"
    assert "file is 2,048 MB, over the 50 MB limit (RAG_MAX_FILE_MB)" in rep.message


def test_size_messages_never_say_the_size_equals_the_limit(settings):
    one = settings.model_copy(update={"max_file_mb": 1})
    mib = 1024 * 1024
    for size, want in [(mib + 1, ("file is 1,048,577 bytes, over the 1 MB limit (1,048,576 "
                                  "bytes)")),
                       (int(1.3 * mib), "file is 1.3 MB, over the 1 MB limit ("),
                       (3 * mib, "file is 3 MB, over the 1 MB limit (RAG_MAX_FILE_MB)")]:
        with pytest.raises(FileTooLarge) as err:
            check_size(size, one)
        assert str(err.value).startswith(want), str(err.value)
    check_size(mib, one)  # at the limit: allowed
