"""Turn unknown bytes into text: BOMs, UTF-8, UTF-16 and legacy code pages, or a clear refusal."""

from __future__ import annotations

import codecs

from rag.errors import BadFile

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _looks_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: every other byte of ASCII-heavy text is NUL."""
    sample = data[:4000]
    if len(sample) < 4:
        return None
    even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
    odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def decode_text(data: bytes, what: str = "file") -> str:
    """Decode text bytes, guessing the encoding; raise BadFile if it is not text at all."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise BadFile(f"the {what} says it is {enc} but is not: {exc.reason}") from exc
    enc16 = _looks_utf16(data)
    if enc16:
        try:
            return data.decode(enc16)
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:65536]:
        raise BadFile(f"this {what} is binary, not text: save it as plain text and upload again")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Legacy single-byte encodings: let charset-normalizer choose, cp1252 being the usual answer.
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(data[:200_000])
        best = results.best()
        if best is not None and best.encoding:
            # Short Western text often scores a hair better as a Baltic/DOS code page (cp775,
            # cp1257) and comes out as "cafķ": when cp1252 is a near-tie, it is the right answer.
            for match in results:
                if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + 0.02:
                    return data.decode("cp1252", errors="replace")
            return data.decode(best.encoding, errors="replace")
    except Exception:  # noqa: BLE001 - detection is best effort
        pass
    return data.decode("cp1252", errors="replace")


def control_ratio(text: str) -> float:
    """Share of characters that are control characters other than whitespace."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / min(len(text), 20000)
