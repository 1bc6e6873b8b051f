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
    # Legacy single-byte text: Western (cp1252) is by far the most common, and short Western
    # text is where detectors go wrong ("Café" read as Baltic cp1257 comes out "Cafķ"). Take
    # cp1252 when it decodes cleanly and reads like Western text; else ask charset-normalizer,
    # and judge its guesses by what they decode to.
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and looks_western(western):
        return western
    guess = _detected(data)
    if guess is not None:
        return guess
    return western if western is not None else data.decode("cp1252", errors="replace")


# Characters cp1252 text has beyond ASCII: Latin-1 letters and signs, and cp1252's own
# punctuation and letters (0x80-0x9F).
_LATIN1_LETTERS = {chr(c) for c in range(0xC0, 0x100)} - {"\u00d7", "\u00f7"}
_WESTERN_SIGNS = set("\u00a0¡¢£¤¥¦§¨©ª«¬\u00ad®¯°±²³´µ¶·¸¹º»¼½¾¿×÷") | set(
    "€‚ƒ„…†‡ˆ‰‹‘’“”•–—˜™›") | set("ŠŒŽšœžŸ")
_WESTERN = _LATIN1_LETTERS | set("ŠŒŽšœžŸƒ")
# Turkish ğ ş ı İ read as cp1252 are ð þ ý Ý: Icelandic letters, which Icelandic writes
# among accented vowels that Turkish never uses.
_TURKISH_AS_1252 = set("ðþýÐÞÝ")
_ICELANDIC_VOWELS = set("áéíóúæÁÉÍÓÚÆ")
_IN_WORD_OK = set("’‘'-·")


def looks_western(text: str) -> bool:
    """Whether text decoded as cp1252 reads like a Western European language.

    Cyrillic, Greek, Hebrew... read as cp1252 make words of accented letters only ("Ïðèâåò");
    Central European text makes signs inside words ("Za¿ó³æ"). Western words carry a few
    accents among plain letters.
    """
    high_letters = {ch for ch in text if ch.isalpha() and not ch.isascii()}
    if high_letters & _TURKISH_AS_1252 and not high_letters & _ICELANDIC_VOWELS:
        return False
    words = odd = 0
    for token in text.split():
        if token.isascii():
            continue
        core = token.strip(".,;:!?()[]{}\"'«»“”„‘’‚‹›¡¿*…–—-/\\")
        letters = [ch for ch in core if ch.isalpha()]
        if not letters:
            continue
        words += 1
        high = [ch for ch in letters if not ch.isascii()]
        if any(not ch.isascii() and ch not in _WESTERN and ch not in _WESTERN_SIGNS
               for ch in core):
            return False  # not a cp1252 character at all
        signs_inside = any(
            core[i - 1].isalpha() and core[i + 1].isalpha() and not ch.isalpha()
            and not ch.isascii() and ch not in _IN_WORD_OK
            for i, ch in enumerate(core[1:-1], 1))
        all_high = len(letters) >= 3 and len(high) == len(letters)
        if signs_inside or all_high or (len(letters) >= 4 and len(high) * 2 > len(letters)):
            odd += 1
    return words == 0 or odd * 5 <= words


def _detected(data: bytes) -> str | None:
    """charset-normalizer's reading of `data`, or None when it has none worth taking."""
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(data[:200_000])
        best = results.best()
        if best is None or not best.encoding:
            return None
        # A near-tie with cp1252 is decided by the result: cp1252 wins if it reads as Western.
        for match in results:
            if "cp1252" in match.could_be_from_charset and match.chaos <= best.chaos + 0.02:
                text = data.decode("cp1252", errors="replace")
                if looks_western(text):
                    return text
        return data.decode(best.encoding, errors="replace")
    except Exception:  # noqa: BLE001 - detection is best effort
        return None


def control_ratio(text: str) -> float:
    """Share of characters that are control characters other than whitespace."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / min(len(text), 20000)


# Characters that draw nothing: zero-width spaces and joiners, the word joiner, invisible
# operators, the BOM and the soft hyphen. Text split by them ("ig\u200bnore previous...") reads
# as one word to a person and as noise to every check, so they go before anything else.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064"
                                    "\ufeff\u00ad\u180e"))


def strip_invisible(text: str) -> str:
    """`text` without zero-width and other characters that draw nothing."""
    return text.translate(_INVISIBLE) if text and not text.isascii() else text


# Bytes plain text never has (NUL, and control bytes other than tab, newline, form feed, CR).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
_BLOCK = 4096


def binary_start(data: bytes) -> int | None:
    """Where text bytes turn into binary (a program or an archive appended to a text file), at
    the start of its line; None when the file is text throughout.

    A block of 4 KB is binary when it has a NUL byte or over 5% control bytes, the threshold
    `control_ratio` applies to decoded text. UTF-16/32 text (full of NULs) is not judged here.
    """
    if any(data.startswith(bom) for bom, enc in _BOMS if enc != "utf-8-sig") or _looks_utf16(data):
        return None
    for off in range(0, len(data), _BLOCK):
        block = data[off : off + _BLOCK]
        bad = len(block) - len(block.translate(None, _CONTROL_BYTES))
        if b"\x00" in block or bad > max(2, len(block) // 20):
            first = min(i for i in (block.find(bytes([b])) for b in _CONTROL_BYTES) if i >= 0)
            cut = off + first
            line = data.rfind(b"\n", max(0, cut - 512), cut)
            return line + 1 if line >= 0 else cut
    return None
