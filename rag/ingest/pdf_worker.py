"""Extract page texts from one PDF, in the parsing child (`rag.ingest.worker`).

`extract(data, limits)` returns `{"pages": [...], "parser": "pypdfium2"}` or
`{"error": CODE, "detail": "...", ...}`. It runs in a child bounded in time and memory, so a
hostile file can at worst kill the child; on top of that it refuses, before any reader
inflates them, streams that inflate like a decompression bomb, stops as soon as a page or the
document has more text than the caps allow (one content stream drawn on every page), and drops
text a reader of the page cannot see (render mode 3, white on the white page).
"""

from __future__ import annotations

import ctypes
import io
import re
import zlib

# A stream is a decompression bomb when it inflates past both of these (real content streams
# and fonts stay far below; images, which text extraction never decodes, are not inflated).
BOMB_STREAM_BYTES = 64 * 1024 * 1024
BOMB_RATIO = 100
# ... or when all its streams together inflate past both of these.
BOMB_TOTAL_BYTES = 512 * 1024 * 1024

_STREAM_RE = re.compile(rb"(?<!end)stream\r?\n")
_INFLATE_STEP = 1 << 20

# Hidden text needs one of these in a stream: render mode 3 or 7, a white or near-white fill
# (gray, RGB or CMYK, as g/rg/k or sc/scn, or a one-component sc/scn, which is white at 0 in a
# Separation space), a fill alpha near 0, or a filter this scan does not undo. A stream without
# any is skipped at regex speed; one with some is read operator by operator (`_shows_unseen`).
_W = rb"(?:1(?:\.0*)?|0?\.9[5-9]\d*)\s+"
_Z = rb"(?:0(?:\.0\d*)?|\.0\d*)\s+"
_HIDING_RE = re.compile(
    rb"(?<![\w.])[37]\s+Tr\b"
    rb"|(?<![\w.])" + _W + rb"(?:g|sc|scn)\b"
    rb"|(?<![\w.])" + _W + _W + _W + rb"(?:rg|sc|scn)\b"
    rb"|(?<![\w.])" + _Z + _Z + _Z + _Z + rb"(?:k|sc|scn)\b"
    rb"|(?<![\w.\d])" + _Z + rb"(?:sc|scn)\b")
_ALPHA_OR_FILTER_RE = re.compile(
    rb"/ca\s*(?:0(?:\.0\d*)?|\.0\d*)(?![\d.])"
    rb"|/(?:LZW|ASCII85|ASCIIHex|RunLength)Decode|/(?:LZW|A85|AHx|RL)\b")
# A white fill matters only when text (or a form) is drawn before the next colour is set. A
# colour operator follows its numeric operands: a word of the text ending in "g" or "k"
# ("according", "bank") inside a string is not one, and must not end the look.
_SHOWN_AFTER_RE = re.compile(
    rb"(?:(?![\d.]\s+(?:rg|g|k|sc|scn)\b).){0,20000}?(?:\bBT\b|T[jJ]\b|\bDo\b)", re.DOTALL)
_MAX_TOKENISED = 16 * 1024 * 1024
# The page-by-page check costs 2-5x the text extraction of a long filing (17 us a text object):
# past this much CPU time in one document, the remaining pages are not checked (and counted).
HIDDEN_CHECK_BUDGET_S = 5.0


def _shows_unseen(content: bytes) -> bool:
    """Whether a content stream may draw text nobody sees: render mode 3 or 7 anywhere, or a
    white fill followed by text before any other colour is set (a `q`/`Q` pair restoring black
    is not followed: such a file is simply checked page by page)."""
    for m in _HIDING_RE.finditer(content):
        if m.group().rstrip().endswith(b"Tr"):
            return True
        if _SHOWN_AFTER_RE.match(content, m.end()):
            return True
    return False


def may_hide_text(data: bytes) -> bool:
    """Whether the PDF could draw text nobody sees (see `_HIDING_RE`); `scan` tells the same
    for the inflated streams."""
    return scan(data)[1]


def find_bomb(data: bytes) -> str | None:
    """Why `data` is a decompression bomb, or None."""
    return scan(data)[0]


def scan(data: bytes) -> tuple[str | None, bool]:
    """(why `data` is a decompression bomb or None, whether it may hide text).

    Inflates each stream in 1 MB steps and keeps nothing but a look at each step, so the check
    itself needs no memory and stops at the bomb threshold (pdfium has no limit of its own)."""
    total = 0
    # An encrypted file's streams cannot be read here: its pages are all checked.
    # Streams stored uncompressed are read in the file itself.
    hiding = (bool(_ALPHA_OR_FILTER_RE.search(data)) or b"/Encrypt" in data
              or _shows_unseen(data))
    view = memoryview(data)
    for m in _STREAM_RE.finditer(data):
        start = m.end()
        head = data[max(0, m.start() - 2048) : m.start()]
        head = head[head.rfind(b" obj") + 1 :] if b" obj" in head else head
        if b"/Image" in head or b"Flate" not in head:
            continue  # images are never inflated for text; other filters are not zlib
        # Font programs and object streams draw nothing: only their size is checked.
        drawn = not any(k in head for k in (b"/Length1", b"/Length2", b"/FontFile",
                                            b"Type1C", b"CIDFontType0C", b"OpenType",
                                            b"/ObjStm", b"/XRef", b"/Metadata"))
        inflater = zlib.decompressobj()
        out, pos = 0, start
        pending: bytes | memoryview = b""  # a slice of the file, then zlib's unconsumed tail
        kept: list[bytes] = []  # the stream, while it is small enough to read for hidden text
        while True:
            if not pending:
                pending = view[pos : pos + 65536]
                pos += len(pending)
                if not pending:
                    break
            try:
                piece = inflater.decompress(pending, _INFLATE_STEP)
            except zlib.error:
                break
            out += len(piece)
            if not hiding and piece and not drawn:
                hiding = bool(_ALPHA_OR_FILTER_RE.search(piece))
            elif not hiding and piece:
                if out <= _MAX_TOKENISED:
                    kept.append(piece)
                else:
                    hiding = True  # too long to read here: the page check decides
            pending = inflater.unconsumed_tail
            used = pos - start - len(pending)
            if out > BOMB_STREAM_BYTES and out > BOMB_RATIO * max(1, used):
                return (f"a stream of {used:,} bytes inflates to over {out // 2**20:,} MB "
                        f"(over {out // max(1, used):,} times its size)"), hiding
            if total + out > BOMB_TOTAL_BYTES and total + out > BOMB_RATIO * len(data):
                return (f"its streams inflate to over {(total + out) // 2**20:,} MB from a "
                        f"{len(data):,}-byte file"), hiding
            if inflater.eof:
                break
        total += out
        if not hiding and kept:
            content = b"".join(kept)
            if b"\x00" not in content[:1024] and _HIDING_RE.search(content):
                hiding = _shows_unseen(content)
    return None, hiding


def _too_much(page: int, chars: int, total: int, limits: dict) -> dict | None:
    if chars > limits.get("page_chars", 0) > 0:
        return {"error": "page_text", "page": page, "chars": chars}
    if total > limits.get("doc_chars", 0) > 0:
        return {"error": "doc_text", "page": page, "chars": total}
    return None


def _with_pypdf(data: bytes, limits: dict) -> dict:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except Exception as exc:  # noqa: BLE001 - any failure here means "cannot open"
            return {"error": "encrypted", "detail": f"{type(exc).__name__}: {exc}"}
        if not ok:
            return {"error": "encrypted", "detail": "user password required"}
    pages: list[str] = []
    total = 0
    try:
        for i, page in enumerate(reader.pages):
            text = page.extract_text() or ""
            total += len(text)
            over = _too_much(i + 1, len(text), total, limits)
            if over:
                return over
            pages.append(text)
    except FileNotDecryptedError:
        return {"error": "encrypted", "detail": "user password required"}
    return {"pages": pages, "parser": "pypdf"}


class _Pdfium:
    """The few pdfium calls the hidden-text check makes, declared with plain integer handles.

    pypdfium2's own prototypes return typed pointers (a Python object built per call) and take
    typed out-parameters: about 17 us a text object, 2-5x the text extraction of a long filing.
    The same functions of the same library declared with `c_void_p` handles and preallocated
    out-buffers cost a few ctypes calls a text object."""

    def __init__(self) -> None:
        import pypdfium2.raw as pdfium_c

        vp, i32, u32, f32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_float

        def fn(name: str, restype, *argtypes):
            addr = ctypes.cast(getattr(pdfium_c, name), ctypes.c_void_p).value
            if addr is None:  # a library without the function: no fast path for it
                raise OSError(f"pdfium has no {name}")
            # PYFUNCTYPE: the GIL is kept over these sub-microsecond calls (the parsing child
            # runs one thread), which halves their cost.
            return ctypes.PYFUNCTYPE(restype, *argtypes)(addr)

        pu, pf, pi = ctypes.POINTER(u32), ctypes.POINTER(f32), ctypes.POINTER(i32)
        self.page_count = fn("FPDFPage_CountObjects", i32, vp)
        self.page_object = fn("FPDFPage_GetObject", vp, vp, i32)
        self.form_count = fn("FPDFFormObj_CountObjects", i32, vp)
        self.form_object = fn("FPDFFormObj_GetObject", vp, vp, ctypes.c_ulong)
        self.kind = fn("FPDFPageObj_GetType", i32, vp)
        self.render_mode = fn("FPDFTextObj_GetTextRenderMode", i32, vp)
        self.fill = fn("FPDFPageObj_GetFillColor", i32, vp, pu, pu, pu, pu)
        self.stroke = fn("FPDFPageObj_GetStrokeColor", i32, vp, pu, pu, pu, pu)
        self.bounds = fn("FPDFPageObj_GetBounds", i32, vp, pf, pf, pf, pf)
        self.draw_mode = fn("FPDFPath_GetDrawMode", i32, vp, pi, pi)
        self.TEXT, self.FORM = pdfium_c.FPDF_PAGEOBJ_TEXT, pdfium_c.FPDF_PAGEOBJ_FORM
        self.IMAGE, self.PATH = pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH
        self.SHADING = pdfium_c.FPDF_PAGEOBJ_SHADING
        self._rgba = (u32 * 4)()
        self._rgba_ptrs = tuple(ctypes.cast(ctypes.addressof(self._rgba) + 4 * k, pu)
                                for k in range(4))
        self._box = (f32 * 4)()
        self._box_ptrs = tuple(ctypes.cast(ctypes.addressof(self._box) + 4 * k, pf)
                               for k in range(4))
        self._modes = (i32 * 2)()
        self._mode_ptrs = tuple(ctypes.cast(ctypes.addressof(self._modes) + 4 * k, pi)
                                for k in range(2))

    def color(self, get, obj: int) -> tuple[int, int, int, int]:
        if not get(obj, *self._rgba_ptrs):
            return 0, 0, 0, 255
        c = self._rgba
        return c[0], c[1], c[2], c[3]

    def box(self, obj: int) -> tuple[float, float, float, float]:
        if not self.bounds(obj, *self._box_ptrs):
            return 0.0, 0.0, 0.0, 0.0
        b = self._box
        return b[0], b[1], b[2], b[3]

    def fills(self, obj: int) -> bool:
        self.draw_mode(obj, *self._mode_ptrs)
        return bool(self._modes[0])

    def objects(self, page: int, form: int = 0, depth: int = 0):
        """(handle, type) of every object of a page, Form XObjects opened."""
        count = self.form_count(form) if form else self.page_count(page)
        get = self.form_object if form else self.page_object
        parent = form or page
        kind_of = self.kind
        for i in range(max(0, count)):
            obj = get(parent, i)
            if not obj:
                continue
            kind = kind_of(obj)
            yield obj, kind
            if kind == self.FORM and depth < 12:
                yield from self.objects(page, obj, depth + 1)


_PDFIUM: _Pdfium | None = None


def _pdfium() -> _Pdfium:
    global _PDFIUM
    if _PDFIUM is None:
        _PDFIUM = _Pdfium()
    return _PDFIUM


def _unseen(rgba: tuple[int, int, int, int]) -> bool:
    """Fully transparent, or white enough to vanish on a white page."""
    r, g, b, a = rgba
    return a == 0 or min(r, g, b) >= 242


def hidden_text_objects(page) -> set[int]:
    """Addresses of the page's text objects nobody sees: render mode 3 (invisible) or 7
    (clip only) where no image lies behind (over an image it is a scan's OCR layer, kept), or
    painted white / transparent where no dark shape or image lies behind."""
    pf = _pdfium()
    hidden: set[int] = set()
    invisible: set[int] = set()
    white: list[tuple[int, tuple[float, float, float, float]]] = []
    raw = ctypes.cast(page.raw, ctypes.c_void_p).value or 0
    render_mode, fill, stroke, color = pf.render_mode, pf.fill, pf.stroke, pf.color
    box, form_count, form_object = pf.box, pf.form_count, pf.form_object
    rgba, (p0, p1, p2, p3) = pf._rgba, pf._rgba_ptrs
    # One pass over the page's objects and those of its forms. The render mode is read from
    # every object: pdfium answers -1 for one that is not text (its type is asked only then).
    stack = [(pf.page_object, raw, pf.page_count(raw), 0)]
    while stack:
        get, parent, count, depth = stack.pop()
        for i in range(max(0, count)):
            obj = get(parent, i)
            if not obj:
                continue
            mode = render_mode(obj)
            if mode < 0:
                if depth < 12 and pf.kind(obj) == pf.FORM:
                    stack.append((form_object, obj, form_count(obj), depth + 1))
                continue
            if mode in (3, 7):  # invisible: hidden, unless over an image (a scan's OCR layer)
                white.append((obj, box(obj)))
                invisible.add(obj)
                continue
            # Modes 0, 2, 4, 6 fill the glyphs, 1, 2, 5, 6 stroke them: seen if a paint shows.
            # (The fill is read inline: it is asked of every text object of the page.)
            if mode in (0, 2, 4, 6) and (
                    not fill(obj, p0, p1, p2, p3)
                    or (rgba[3] and (rgba[0] < 242 or rgba[1] < 242 or rgba[2] < 242))):
                continue
            if mode in (1, 2, 5, 6) and not _unseen(color(stroke, obj)):
                continue
            if mode in (0, 1, 2, 4, 5, 6):
                white.append((obj, box(obj)))
    if white:
        backdrops = []
        images = []
        for obj, kind in pf.objects(raw):
            if kind == pf.IMAGE:
                images.append(pf.box(obj))
                backdrops.append(images[-1])
            elif kind == pf.SHADING or (
                    kind == pf.PATH and pf.fills(obj) and not _unseen(color(fill, obj))):
                backdrops.append(pf.box(obj))
        for addr, (left, bottom, right, top) in white:
            behind = images if addr in invisible else backdrops
            if not any(left < r and l < right and bottom < t and b < top
                       for l, b, r, t in behind):
                hidden.add(addr)
    return hidden


def _visible_text(textpage, hidden: set[int]) -> str:
    """The page's text without the characters of hidden text objects: the runs of visible
    characters, each read as `get_text_range` reads a whole page (only for pages with some)."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    out = []
    start = 0
    n = textpage.count_chars()
    for i in range(n + 1):
        obj = pdfium_c.FPDFText_GetTextObject(raw, i) if i < n else None
        if i == n or (obj and (ctypes.cast(obj, ctypes.c_void_p).value or 0) in hidden):
            if i > start:
                out.append(textpage.get_text_range(start, i - start) or "")
            start = i + 1
    return "".join(out)


def _with_pdfium(data: bytes, limits: dict, check_hidden: bool = True) -> dict:
    import time

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    spent = 0.0
    unchecked = 0
    try:
        pages: list[str] = []
        total = hidden_pages = 0
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            chars = textpage.count_chars()
            over = _too_much(i + 1, chars, total + chars, limits)
            if over:
                return over
            hidden: set[int] = set()
            if check_hidden and spent < HIDDEN_CHECK_BUDGET_S:
                t = time.process_time()
                hidden = hidden_text_objects(page)
                spent += time.process_time() - t
            elif check_hidden:
                unchecked += 1
            if hidden:
                hidden_pages += 1
                text = _visible_text(textpage, hidden)
            else:
                text = textpage.get_text_range() or ""
            total += len(text)
            # pdfium marks hyphens it thinks are soft as U+FFFE; in filings they are real ones
            pages.append(text.replace("\ufffe", "-"))
            textpage.close()
            page.close()
    finally:
        doc.close()
    result: dict = {"pages": pages, "parser": "pypdfium2"}
    if hidden_pages:
        result["hidden_text_pages"] = hidden_pages
    if unchecked:
        result["hidden_text_unchecked_pages"] = unchecked
    return result


def extract(data: bytes, limits: dict | None = None) -> dict:
    """Try pdfium, then pypdf for files pdfium refuses or finds no text in.

    pdfium (C++) is 10-20x faster than pypdf on long filings: pypdf needs 80-150 s for a
    160-250 page 10-K on a busy 2-core machine, over the default timeout, where pdfium takes
    under 10 s. pdfium also keeps a table row on one line. pypdf stays as the second reader,
    and it is the one that tells a password-protected file from a damaged one.

    `limits`: `page_chars`, `doc_chars` (0: no cap). pdfium inflates streams with no bound of
    its own, so every stream is checked by `find_bomb` first; pypdf has its own limits.
    """
    limits = limits or {}
    bomb, may_hide = scan(data)
    if bomb:
        return {"error": "bomb", "detail": bomb}
    try:
        result = _with_pdfium(data, limits, check_hidden=may_hide)
        if "error" in result or any(p.strip() for p in result["pages"]):
            return result
        first = "no text found"
    except MemoryError:
        return {"error": "memory", "detail": "pdfium ran out of memory"}
    except Exception as exc:  # noqa: BLE001 - pdfium raises PdfiumError and friends
        first = f"{type(exc).__name__}: {exc}"
    from pypdf.errors import LimitReachedError

    try:
        result = _with_pypdf(data, limits)
        if "error" not in result:
            result["fallback_reason"] = f"pdfium: {first}"[:300]
        return result
    except MemoryError:
        return {"error": "memory", "detail": "pypdf ran out of memory"}
    except LimitReachedError as exc:  # pypdf's own decompression limits (75 MB a stream)
        return {"error": "bomb", "detail": f"pypdf: {exc}"[:300]}
    except Exception as second:  # noqa: BLE001 - pypdf raises many types on real files
        msg = f"pdfium: {first}; pypdf: {type(second).__name__}: {second}"
        code = "encrypted" if "password" in msg.lower() else "corrupt"
        return {"error": code, "detail": msg[:500]}
