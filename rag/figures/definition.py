"""Read a formula a question defines ('DPO is defined as 365 * average accounts payable / cost of
sales', 'define it as revenue / average PP&E') into the metric library's expression tree.

Operands are named line items ('accounts payable', 'COGS', 'D&A'), optionally 'average X'
(this and the prior period) or 'change in X'; operators are + - * / and their words (plus,
minus, less, times, divided by, over); parentheses group. Only a definition whose every
operand maps to a known line item is taken: otherwise the library's formula stands.
"""

from __future__ import annotations

import re

from rag.figures.metrics import ITEMS, METRICS

_DEF_RE = re.compile(
    r"\b(?:is |are |be )?(?:defined|calculated|computed|measured) (?:as|by)\s*:?\s*(?P<a>[^.?;]+)"
    r"|\bdefine (?P<term>[^.?;]{1,60}?) as\s*:?\s*(?P<b>[^.?;]+)"
    r"|\busing (?:the )?formula\s*:?\s*(?P<c>[^.?;]+)", re.IGNORECASE)

_WORD_OPS = [(r"\bdivided by\b", "/"), (r"\bover\b", "/"), (r"\btimes\b", "*"),
             (r"\bmultiplied by\b", "*"), (r"\bplus\b", "+"), (r"\bminus\b", "-"),
             (r"\bless\b", "-"), (r"\bsubtract(?:ing)?\b", "-"), (r"\badd(?:ing)?\b", "+")]

# Short names analysts use for line items (in addition to each item's printed labels).
_SHORT = {
    "cogs": "cogs", "cost of goods sold": "cogs", "d&a": "da", "capex": "capex",
    "capital expenditure": "capex", "capital expenditures": "capex", "pp&e": "ppe_net",
    "ppne": "ppe_net", "net ppne": "ppe_net", "net pp&e": "ppe_net", "ppe": "ppe_net",
    "operating income": "operating_income", "unadjusted operating income": "operating_income",
    "revenue": "revenue", "revenues": "revenue", "sales": "revenue", "net income": "net_income",
    "total assets": "total_assets", "inventory": "inventory", "inventories": "inventory",
    "accounts payable": "payables", "payables": "payables", "accounts receivable": "receivables",
    "receivables": "receivables", "cash from operations": "cfo", "operating cash flow": "cfo",
    "cash flow from operations": "cfo", "total current assets": "current_assets",
    "current assets": "current_assets", "total current liabilities": "current_liabilities",
    "current liabilities": "current_liabilities", "shareholders' equity": "equity",
    "total equity": "equity", "pretax income": "pretax_income", "income tax": "income_tax",
    "tax expense": "income_tax", "gross profit": "gross_profit",
    "depreciation and amortization": "da", "depreciation & amortization": "da",
    "cash and cash equivalents": "cash", "cash": "cash",
}
_FILLER = re.compile(r"\b(?:the|fy\s*'?\d{2,4}|fiscal(?: year)? \d{4}|\d{4}|year[- ]end|"
                     r"between (?:fy)?\s*'?\d{2,4} and (?:fy)?\s*'?\d{2,4}|for|of|in|at|"
                     r"from (?:the )?(?:cash flow statement|income statement|balance sheet|"
                     r"statement of income|p&l)|\[[^\]]*\]|\(from [^)]*\)|amount|total|value|"
                     r"reported|unadjusted|usd|millions?|billions?)\b", re.IGNORECASE)


def _item_of(phrase: str) -> str | None:
    p = " ".join(_FILLER.sub(" ", phrase.lower().replace("’", "'")).split()).strip(" ,:")
    if not p:
        return None
    if p in _SHORT:
        return _SHORT[p]
    for it in ITEMS.values():
        if p in it.aliases or p == it.label.lower():
            return it.name
    for key in sorted(_SHORT, key=len, reverse=True):  # 'fy2017 cogs' -> 'cogs'
        if re.search(rf"(?<![\w&]){re.escape(key)}(?![\w&])", p):
            return _SHORT[key]
    return None


def _tokens(expr: str) -> list[str]:
    s = expr
    for pat, op in _WORD_OPS:
        s = re.sub(pat, f" {op} ", s, flags=re.IGNORECASE)
    return [t.strip() for t in re.split(r"(\s[+\-*/x×]\s|[()*/+×]|\s-\s)", s) if t and t.strip()]


def defined_term(question: str) -> str:
    """The words the definition defines: 'unadjusted EBITDA' in 'Define unadjusted EBITDA
    as ...', or the words just before 'is defined as'."""
    m = _DEF_RE.search(question)
    if not m:
        return ""
    if m.group("term"):
        return m.group("term")
    before = question[: m.start()]
    return " ".join(re.split(r"[.?;:]", before)[-1].split()[-6:])


def parse_definition(question: str) -> tuple | None:
    """The expression tree of a formula the question itself defines, or None."""
    m = _DEF_RE.search(question)
    if not m:
        return None
    expr = next(m.group(g) for g in ("a", "b", "c") if m.group(g))
    toks = _tokens(expr)
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def atom() -> tuple:
        t = peek()
        if t is None:
            raise ValueError("end")
        if t == "(":
            take()
            node = expr_()
            if peek() == ")":
                take()
            return node
        t = take()
        if re.fullmatch(r"\d+(?:\.\d+)?", t):
            return ("num", t)
        agg = ""
        low = t.lower()
        if re.match(r"^(?:the )?average\b", low):
            agg, t = "avg", re.sub(r"^(?:the )?average\s*(?:of\s*)?", "", t, flags=re.IGNORECASE)
        elif re.match(r"^(?:the )?(?:change|increase|decrease) in\b", low):
            agg, t = "chg", re.sub(r"^(?:the )?(?:change|increase|decrease) in\s*", "", t,
                                   flags=re.IGNORECASE)
        if not t.strip() and peek() == "(":  # 'average (accounts payable ...)'
            inner = atom()
            if inner[0] == "item":
                return ("item", inner[1], 0, agg)
            raise ValueError("aggregate of an expression")
        name = _item_of(t)
        if name is None:
            mt = next((k for k, v in METRICS.items() if v.label.lower() == t.strip().lower()),
                      None)
            if mt:
                return ("metric", mt)
            raise ValueError(f"unknown operand {t!r}")
        return ("item", name, 0, agg)

    def term() -> tuple:
        node = atom()
        while peek() in ("*", "/", "x", "×"):
            op = take()
            node = ("*" if op in ("x", "×") else op, node, atom())
        return node

    def expr_() -> tuple:
        node = term()
        while peek() in ("+", "-"):
            op = take()
            node = (op, node, term())
        return node

    try:
        tree = expr_()
    except ValueError:
        return None
    if pos < len(toks) and any(t not in (")",) for t in toks[pos:]):
        return None
    if tree[0] in ("num",):
        return None
    return tree
