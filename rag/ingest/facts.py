"""What a document is, read from its content: issuer, form, fiscal period, report date, speakers.

File names are whatever an analyst saved ("Q3 final v2.pdf"), so the facts come from the text:

- SEC filings have a fixed cover page: "FORM 10-Q", "For the quarterly period ended July 2,
  2023", "PFIZER INC. (Exact name of registrant as specified in its charter)", the trading
  symbol in the 12(b) table, "Date of Report (Date of earliest event reported)" on an 8-K.
- Earnings releases open with a headline and a dateline: "PepsiCo Reports First-Quarter 2023
  Results ... PURCHASE, N.Y. - April 25, 2023 - PepsiCo, Inc. (NASDAQ: PEP) today reported".
- Calls and meetings name their participants: "welcome to the Northwind Robotics second quarter
  2026 earnings conference call", "With me today are Dana Whitfield, our Chief Executive
  Officer", "Attendees: Priya Raman (Product Lead, FleetOS)", and speaker turns.

Each fact is read by code with its evidence; nothing is guessed when the text does not say.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DATE = r"([A-Z][a-z]{2,8})\.?\s+(\d{1,2}),?\s+((?:19|20)\d\d)"
_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}

FORMS = ("10-K", "10-Q", "8-K", "20-F", "6-K", "earnings release", "earnings call", "meeting",
         "feedback", "other")

_ROLE_WORDS = (
    r"Chief Executive Officer|Chief Financial Officer|Chief Operating Officer|Chief Technology "
    r"Officer|Chief Accounting Officer|Chief Revenue Officer|Chairman(?: and (?:Chief Executive "
    r"Officer|CEO))?|President(?: and (?:Chief Executive Officer|CEO))?|CEO|CFO|COO|CTO|"
    r"(?:Senior |Executive )?Vice President[^,.;)]{0,40}|Head of [A-Z][\w ]{2,30}|Treasurer|"
    r"Controller|Director of [A-Z][\w ]{2,30}|(?:Product|Engineering|Support|Sales|Finance)"
    r"[\w ,&]{0,30}?(?:Lead|Manager|Director)")
_ROLE_ABBR = {"chief executive officer": "CEO", "chief financial officer": "CFO",
              "chief operating officer": "COO", "chief technology officer": "CTO"}
_NAME = r"[A-Z][a-zA-Z'’\-]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-zA-Z'’\-]+){1,2}"


@dataclass
class Speaker:
    name: str
    role: str = ""
    firm: str = ""


@dataclass
class DocFacts:
    """The facts read from a document; empty strings where the text does not say."""

    issuer: str = ""
    ticker: str = ""
    form: str = ""
    fiscal_year: int | None = None
    fiscal_quarter: int | None = None  # None for an annual report or an undated document
    period_end: str = ""  # ISO date the period ends
    report_date: str = ""  # ISO date of the report, release, call or meeting
    speakers: list[Speaker] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)  # fact -> the text it was read from

    @property
    def period(self) -> str:
        if self.fiscal_year is None:
            return ""
        if self.fiscal_quarter:
            return f"Q{self.fiscal_quarter} FY{self.fiscal_year}"
        return f"FY{self.fiscal_year}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["period"] = self.period
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> DocFacts:
        d = dict(d or {})
        d.pop("period", None)
        speakers = [Speaker(**s) if isinstance(s, dict) else Speaker(str(s))
                    for s in d.pop("speakers", []) or []]
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known, speakers=speakers)


def _iso(month: str, day: str, year: str) -> str:
    m = _MONTHS.get(month.lower().rstrip("."))
    if not m:
        return ""
    try:
        return date(int(year), m, int(day)).isoformat()
    except ValueError:
        return ""


def _quarter_of(iso: str) -> int:
    """The calendar quarter a period end falls in (a 52/53-week end early in a month, such as
    July 2, closes the month before)."""
    _, m, d = (int(x) for x in iso.split("-"))
    if d <= 10:
        m = 12 if m == 1 else m - 1
    return (m - 1) // 3 + 1


_KEEP_UPPER = re.compile(r"^(?:\d\w*|[A-Z]{1,3}|[A-Z]&[A-Z])$")  # 3M, IBM, AT&T, PLC kept


def _clean_name(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip(" _,;:-—")
    if s.isupper() and len(s) > 4:  # 'PFIZER INC.' -> 'Pfizer Inc.'
        words = []
        for w in s.split():
            core = w.strip(".,")
            keep = _KEEP_UPPER.match(core) and core not in {"INC", "THE", "CO", "AND", "OF"}
            words.append(w if keep else w.capitalize())
        s = " ".join(words)
    return s


# -- SEC filings --------------------------------------------------------------------------------

_FORM_RE = re.compile(r"SECURITIES\s+AND\s+EXCHANGE\s+COMMISSION[\s\S]{0,300}?\bFORM\s+"
                      r"(10-K|10-Q|8-K|20-F|6-K)\b(?:/A)?", re.IGNORECASE)
_FILE_NO_RE = re.compile(r"Commission\s+File\s+(?:Number|No\.?)\s*:?\s*[\d-]+\s*\n+"
                         r"[_\s]*(?P<name>[^\n]{2,80})\n", re.IGNORECASE)
_COMPANYISH = re.compile(r"\b(?:inc|corp|corporation|company|co|ltd|limited|plc|group|holdings|"
                         r"n\.v|s\.a|ag|se|llc|lp)\b\.?", re.IGNORECASE)
_REGISTRANT_RE = re.compile(
    r"(?:^|\n)[_\s]*([^\n(]{2,90}?)\s*\n?\s*\((?:Exact\s+name\s+of\s+(?:the\s+)?registrant|"
    r"Exact\s+Name\s+of\s+Registrant)", re.IGNORECASE)
_FY_END_RE = re.compile(r"for\s+the\s+fiscal\s+year\s+ended\s*:?\s*" + _DATE, re.IGNORECASE)
_Q_END_RE = re.compile(r"for\s+the\s+quarterly\s+period\s+ended\s*:?\s*" + _DATE, re.IGNORECASE)
_REPORT_DATE_RE = re.compile(r"Date\s+of\s+Report\s*\(Date\s+of\s+earliest\s+event\s+"
                             r"reported\)\s*:?\s*" + _DATE, re.IGNORECASE)
_SYMBOL_RE = re.compile(r"Trading\s+Symbols?(?:\(s\))?")
_TICKER_RE = re.compile(r"(?:(?i:par value)[^\n]{0,40}?|Common Stock[^\n]{0,40}?)\s([A-Z]{1,5})\s+"
                        r"(?:The\s+)?(?:New York Stock Exchange|Nasdaq|NYSE|NASDAQ)")
_FQ_MENTION_RE = re.compile(r"\b(first|second|third|fourth)\s+quarter\s+of\s+(?:fiscal\s+"
                            r"(?:year\s+)?)?((?:19|20)\d\d)\b", re.IGNORECASE)


def _sec_cover(head: str, body: str, f: DocFacts) -> None:
    form = _FORM_RE.search(head)
    if not form:
        return
    f.form = form.group(1).upper()
    f.evidence["form"] = "FORM " + f.form
    reg = _REGISTRANT_RE.search(head)
    if reg:
        name = reg.group(1).strip()
        name = re.split(r"\s{2,}|Commission [Ff]ile|_{3,}", name)[-1].strip()
        if name and not re.search(r"\d{3}", name):
            f.issuer = _clean_name(name)
            f.evidence["issuer"] = reg.group(0).strip()[:160]
    if not f.issuer:  # covers without the '(Exact name of registrant' line: the name follows
        after = _FILE_NO_RE.search(head)  # the commission file number
        if after and _COMPANYISH.search(after.group("name")) and not re.search(
                r"\b(?:incorporation|jurisdiction|address|telephone)\b", after.group("name"),
                re.IGNORECASE):
            f.issuer = _clean_name(after.group("name"))
            f.evidence["issuer"] = after.group(0).strip()[:160]
    sym = _SYMBOL_RE.search(head)
    tick = (_TICKER_RE.search(head[sym.start():]) if sym else None) or _TICKER_RE.search(head)
    if tick:
        f.ticker = tick.group(1)
        f.evidence["ticker"] = tick.group(0).strip()[:120]
    if f.form in ("10-K", "20-F"):
        m = _FY_END_RE.search(head)
        if m:
            f.period_end = _iso(*m.groups())
            if f.period_end:
                y, mo, _ = (int(x) for x in f.period_end.split("-"))
                # a year ending in early January (a 52/53-week retail year) is the prior year's
                f.fiscal_year = y - 1 if mo == 1 and int(m.group(2)) <= 10 else y
                f.evidence["period"] = m.group(0)
                named = _fiscal_year_named(body, y)  # 'fiscal 2022' as the filing calls it
                if named is not None:
                    f.fiscal_year = named
    elif f.form == "10-Q":
        m = _Q_END_RE.search(head)
        if m:
            f.period_end = _iso(*m.groups())
            f.evidence["period"] = m.group(0)
            if f.period_end:
                f.fiscal_year, f.fiscal_quarter = _fiscal_quarter(body, f.period_end)
    elif f.form in ("8-K", "6-K"):
        m = _REPORT_DATE_RE.search(head)
        if m:
            f.report_date = _iso(*m.groups())
            f.evidence["report_date"] = m.group(0)


_FY_MENTION_RE = re.compile(r"\bfiscal\s+(?:year\s+)?((?:19|20)\d\d)\b", re.IGNORECASE)


def _fiscal_year_named(body: str, end_year: int) -> int | None:
    """The fiscal year a filing names itself by, when its text says so often ('fiscal 2022'
    for a year ended January 28, 2023): the most mentioned of the end year and the one before."""
    said = Counter(int(m.group(1)) for m in _FY_MENTION_RE.finditer(body)
                   if int(m.group(1)) in (end_year, end_year - 1))
    if not said:
        return None
    year, n = said.most_common(1)[0]
    return year if n >= 3 else None


def _fiscal_quarter(body: str, period_end: str) -> tuple[int, int]:
    """The fiscal quarter a 10-Q covers: the one its own text names most ('the third quarter
    of fiscal 2023'), else the calendar quarter its period ends in."""
    y = int(period_end[:4])
    said = Counter((_ORD[m.group(1).lower()], int(m.group(2)))
                   for m in _FQ_MENTION_RE.finditer(body) if abs(int(m.group(2)) - y) <= 1)
    if said:
        (q, fy), n = said.most_common(1)[0]
        if n >= 2:
            return fy, q
    return y, _quarter_of(period_end)


# -- earnings releases --------------------------------------------------------------------------

_RELEASE_RE = re.compile(
    r"(?P<issuer>[A-Z][\w.&,' -]{1,60}?)\s+(?:Reports?|Announces?|Posts?|Delivers?)\s+"
    r"(?:(?P<ord>First|Second|Third|Fourth)[- ]Quarter|(?P<qn>Q[1-4])|(?P<fy>Full[- ]Year|"
    r"Fourth[- ]Quarter and Full[- ]Year))\s*(?:(?:Fiscal\s+)?(?P<year>(?:19|20)\d\d))?\s+"
    r"(?:Financial\s+)?(?:Results|Earnings)", re.IGNORECASE)
_DATELINE_RE = re.compile(r"[A-Z][A-Za-z .,]{2,40}[-–—]+\s*" + _DATE + r"\s*[-–—]+\s*"
                          r"(?P<issuer>[A-Z][\w.&,' -]{1,60}?)\s*\((?:NYSE|NASDAQ|Nasdaq|"
                          r"NYSE American)\s*:\s*(?P<ticker>[A-Z.]{1,6})\)")


def _release(head: str, f: DocFacts) -> None:
    m = _RELEASE_RE.search(head[:600])
    if not m:
        return
    f.form = "earnings release"
    f.evidence["form"] = m.group(0)
    f.issuer = _clean_name(m.group("issuer"))
    year = m.group("year")
    if year:
        f.fiscal_year = int(year)
        q = m.group("ord") or m.group("qn")
        if q and not m.group("fy"):
            f.fiscal_quarter = _ORD.get(q.lower(), 0) or int(q[1])
        f.evidence["period"] = m.group(0)
    d = _DATELINE_RE.search(head)
    if d:
        f.report_date = _iso(d.group(1), d.group(2), d.group(3))
        f.issuer = _clean_name(d.group("issuer"))
        f.ticker = d.group("ticker")
        f.evidence["issuer"] = d.group(0)[:160]


# -- calls and meetings -------------------------------------------------------------------------

_CALL_RE = re.compile(
    r"(?:welcome\s+to|joining\s+us\s+(?:today\s+)?(?:for|on))\s+(?:the\s+)?(?P<issuer>[A-Z][\w.&'’ -]"
    r"{1,50}?)(?:'s|’s)?\s+(?:(?P<ord>first|second|third|fourth)[- ]quarter|(?P<qn>Q[1-4]))?\s*"
    r"(?:(?:fiscal\s+(?:year\s+)?)?(?P<year>(?:19|20)\d\d)\s+)?(?:financial\s+results\s+|"
    r"results\s+|earnings\s+)+(?:conference\s+)?call", re.IGNORECASE)
_TITLE_CALL_RE = re.compile(r"^\s*(?P<issuer>[A-Z][\w.&' -]{1,50}?)\s+(?:Q(?P<qn>[1-4])|"
                            r"(?P<ord>First|Second|Third|Fourth)[- ]Quarter)\s+(?:FY\s?)?"
                            r"(?P<year>(?:19|20)\d\d)\s+Earnings\s+(?:Conference\s+)?Call",
                            re.IGNORECASE | re.MULTILINE)
_WITH_ROLE_RE = re.compile(rf"(?P<name>{_NAME}),\s+(?:our\s+|the\s+company'?s\s+)?"
                           rf"(?P<role>{_ROLE_WORDS})")
_PAREN_ROLE_RE = re.compile(rf"(?P<name>{_NAME})\s+\((?P<role>[^()]{{2,60}})\)")
_ANALYST_RE = re.compile(rf"(?P<name>{_NAME})\s+(?:from|with|of)\s+(?P<firm>[A-Z][\w&.' -]{{1,40}}?)"
                         r"\s*(?:\.|,|\bplease\b|\byour line\b)")
_DATE_ANY_RE = re.compile(_DATE)
_NOT_A_NAME = re.compile(r"\b(?:President|Officer|Vice|Chief|Director|Relations|Operator|"
                         r"Investor|Thank|Good|Next|Our)\b")
_ISO_RE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")


def _speech(head: str, turns: list[str], kind: str, f: DocFacts) -> None:
    call = _TITLE_CALL_RE.search(head[:400]) or _CALL_RE.search(head[:4000])
    meeting = re.search(r"\b(?:meeting|sync|stand-?up|minutes|attendees)\b", head[:1500],
                        re.IGNORECASE)
    if call:
        f.form = "earnings call"
        f.evidence["form"] = call.group(0)[:160]
        f.issuer = f.issuer or _clean_name(call.group("issuer"))
        if call.group("year"):
            f.fiscal_year = int(call.group("year"))
            q = call.group("ord") or call.group("qn")
            if q:
                f.fiscal_quarter = _ORD.get(q.lower()) or int(q.strip("Qq"))
            f.evidence["period"] = call.group(0)[:160]
    elif kind == "transcript" and meeting:
        f.form = "meeting"
        f.evidence["form"] = meeting.group(0)
    elif kind == "transcript":
        f.form = "earnings call" if re.search(r"\b(?:earnings|quarter|guidance|EPS)\b",
                                              head[:6000]) else "meeting"
    iso = _ISO_RE.search(head[:600])
    d = _DATE_ANY_RE.search(head[:600])
    if iso:
        f.report_date = iso.group(0)
    elif d:
        f.report_date = _iso(*d.groups())
    people: dict[str, Speaker] = {}
    flat = " ".join(head[:20000].split())
    for m in _WITH_ROLE_RE.finditer(flat[:8000]):
        people.setdefault(m.group("name"), Speaker(m.group("name"), _role(m.group("role"))))
    for m in _PAREN_ROLE_RE.finditer(flat[:3000]):
        role = m.group("role").strip()
        if re.search(r"\b(?:lead|manager|director|officer|head|ceo|cfo|president|analyst|"
                     r"engineer|finance|sales|support|product|vp)\b", role, re.IGNORECASE):
            people.setdefault(m.group("name"), Speaker(m.group("name"), _role(role)))
    for m in _ANALYST_RE.finditer(flat):
        if m.group("name") not in people and not _NOT_A_NAME.search(m.group("name")) and \
                re.search(r"question|line", flat[max(0, m.start() - 120): m.start()], re.IGNORECASE):
            people[m.group("name")] = Speaker(m.group("name"), "analyst",
                                              m.group("firm").strip())
    for name in turns:
        if name and name.lower() != "operator" and name not in people:
            people[name] = Speaker(name)
    f.speakers = list(people.values())[:40]


def _role(text: str) -> str:
    t = re.sub(r"\s+", " ", text).strip(" ,.")
    return _ROLE_ABBR.get(t.lower(), t)


# -- the whole document -------------------------------------------------------------------------

def read_facts(text: str, kind: str = "", turns: list[str] | None = None,
               rows: int = 0) -> DocFacts:
    """The facts of a document from its text (the first pages carry most of them), its kind
    as the loader read it, its speaker turns' names, and its row count for exports."""
    f = DocFacts()
    head = text[:12000]
    _sec_cover(head, text[:200000], f)
    if not f.form:
        _release(head, f)
    if (not f.form or f.form == "earnings release") and (
            kind == "transcript" or turns or _CALL_RE.search(head[:4000])):
        _speech(head, turns or [], kind, f)
    if not f.form and kind in ("csv", "xlsx", "table") and rows >= 20:
        f.form = "feedback" if re.search(r"\b(?:feedback|comment|review|rating|nps|ticket|"
                                         r"message|complaint)\b", head[:2000], re.IGNORECASE) else "other"
    if not f.form:
        f.form = "other"
    if f.issuer:
        f.issuer = re.sub(r"^(?:the\s+)(?=[A-Z])", "", f.issuer, flags=re.IGNORECASE) \
            if f.issuer.lower().startswith("the ") and len(f.issuer.split()) > 2 else f.issuer
    return f


def facts_of_document(doc: Any) -> DocFacts:
    """The facts of a parsed document (rag.types.ParsedDocument)."""
    units = list(getattr(doc, "units", ()) or ())
    text = "\n".join(u.text for u in units[:40])
    turns = list(dict.fromkeys(u.speaker for u in units if getattr(u, "speaker", None)))
    return read_facts(text, getattr(doc, "kind", ""), turns, rows=len(units))


def facts_of_chunks(chunks: list[Any], kind: str = "") -> DocFacts:
    """The same facts from a stored document's chunks (for documents stored before facts were
    read): the first chunks hold the cover page, the dateline or the call's opening."""
    text = "\n".join(c.text for c in chunks[:30])
    turns = list(dict.fromkeys(c.speaker for c in chunks if getattr(c, "speaker", None)))
    return read_facts(text, kind, turns, rows=len(chunks))


# -- a workspace's documents ----------------------------------------------------------------------

FACT_FIELDS = ("issuer", "ticker", "form", "fiscal_year", "fiscal_quarter", "period_end",
               "report_date")


def facts_for(doc: Any) -> DocFacts:
    """A stored document's facts (rag.types.DocumentInfo): as read from its content, with the
    user's corrections on top."""
    meta = getattr(doc, "meta", {}) or {}
    f = DocFacts.from_dict(meta.get("facts"))
    for k, v in (meta.get("facts_user") or {}).items():
        if k in FACT_FIELDS:
            setattr(f, k, v)
            f.evidence[k] = "corrected by a user"
    return f


def ensure_facts(ws: Any, docs: list[Any] | None = None) -> list[Any]:
    """The workspace's documents, each with its facts: read from the stored chunks of any
    document stored before facts were read, and kept with it (a read-only workspace keeps
    them for this call only)."""
    docs = list(ws.documents() if docs is None else docs)
    out = []
    writable = getattr(ws, "read_only", None) in (None, False)
    for d in docs:
        if (d.meta or {}).get("facts"):
            out.append(d)
            continue
        try:
            facts = facts_of_chunks(ws.chunks_of(d.doc_id), d.kind).to_dict()
        except Exception:  # noqa: BLE001 - facts are an aid to focus; the document still counts
            out.append(d)
            continue
        kept = dataclasses.replace(d, meta={**(d.meta or {}), "facts": facts})
        if writable:
            try:
                kept = ws.update_meta(d.doc_id, {"facts": facts})
            except Exception:  # noqa: BLE001 - read-only, full or gone: used now, kept later
                writable = False
        out.append(kept)
    return out


def set_user_facts(ws: Any, doc_id: str, changes: dict[str, Any]) -> Any:
    """A user's correction of a document's facts; it sticks (re-reading never overwrites it).
    An empty value removes that correction."""
    doc = ws.get_document(doc_id)
    if "facts" not in (doc.meta or {}):  # read what the content says first, then correct it
        doc = ensure_facts(ws, [doc])[0]
    user = dict((doc.meta or {}).get("facts_user") or {})
    for k, v in changes.items():
        if k not in FACT_FIELDS:
            raise ValueError(f"'{k}' is not a document fact ({', '.join(FACT_FIELDS)})")
        if v in ("", None):
            user.pop(k, None)
        elif k in ("fiscal_year", "fiscal_quarter"):
            user[k] = int(v)
        elif k in ("period_end", "report_date"):
            try:
                user[k] = date.fromisoformat(str(v).strip()).isoformat()
            except ValueError:
                raise ValueError(f"{k.replace('_', ' ')} is a date as YYYY-MM-DD, not '{v}'"
                                 ) from None
        elif k == "form" and v not in FORMS:
            raise ValueError(f"form must be one of: {', '.join(FORMS)}")
        else:
            user[k] = str(v).strip()
    return ws.update_meta(doc_id, {"facts_user": user})


def matches(f: DocFacts, key: str, value: str) -> bool:
    """Whether a document's facts match one filter ('issuer=pepsico', 'period=Q2 FY2023',
    'form=10-Q', 'year=2023', 'ticker=PEP', 'speaker=CFO'), case and spacing aside."""
    want = " ".join(value.lower().split())
    if key == "issuer":
        return bool(want) and want in f.issuer.lower()
    if key == "ticker":
        return want == f.ticker.lower()
    if key == "form":
        return want.replace(" ", "") == f.form.lower().replace(" ", "")
    if key == "period":
        return want.replace(" ", "") == f.period.lower().replace(" ", "")
    if key == "year":
        return want in {str(f.fiscal_year or ""), f.period_end[:4], f.report_date[:4]} - {""}
    if key == "speaker":
        return any(want in s.name.lower() or want == s.role.lower() for s in f.speakers)
    raise ValueError(f"unknown filter '{key}': use issuer, ticker, form, period, year or speaker")


def filter_documents(docs: list[Any], filters: list[str]) -> list[Any]:
    """The documents whose facts match every 'key=value' filter."""
    pairs = []
    for raw in filters:
        key, sep, value = raw.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"a filter is key=value (e.g. issuer=PepsiCo), not '{raw}'")
        pairs.append((key.strip().lower(), value.strip()))
    return [d for d in docs if all(matches(facts_for(d), k, v) for k, v in pairs)]
