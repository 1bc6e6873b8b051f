"""The metric library, as data: line items (with the labels filings print for them) and metrics
(formulas over line items). The engine reads these; nothing here computes.

A formula is a small expression tree:
  ("item", NAME, OFFSET, AGG)  a line item in the period (OFFSET 0) or the one before (-1);
                               AGG is "" (the value), "avg" (mean of this and the prior period's
                               value) or "chg" (this minus the prior period's value)
  ("num", "365")               a constant
  (OP, LEFT, RIGHT)            OP in + - * /
  ("metric", NAME)             another metric's formula
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineItem:
    name: str
    label: str
    aliases: tuple[str, ...]
    statement: str = ""  # where it is read preferably: income, balance, cash_flow
    absolute: bool = False  # printed as an outflow '(1,577)' but meant as an amount
    expense: bool = False  # a tax or cost: printed negative in some filings, positive in others


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    triggers: tuple[str, ...]  # phrases (lower case, regex) that name it in a question
    formula: tuple
    unit: str  # "%", "x" (a ratio), "days", "money"
    definition: str
    places: int = 1


ITEMS: dict[str, LineItem] = {i.name: i for i in [
    LineItem("revenue", "revenue", (
        "total net sales", "total net revenue", "total net revenues", "total revenues",
        "total revenue", "net revenues", "net revenue", "net sales", "revenues", "revenue",
        "total sales", "sales", "sales to customers", "net operating revenues",
        "total operating revenues", "operating revenues"), "income"),
    LineItem("cogs", "cost of sales", (
        "cost of sales", "cost of revenue", "cost of revenues", "cost of goods sold",
        "cost of products sold", "total cost of revenues", "total cost of sales",
        "cost of net revenue", "cost of goods and services sold",
        # filings with no cost-of-sales line (an aerospace 10-K) print only this total
        "total costs and expenses"),
        "income", expense=True),
    LineItem("gross_profit", "gross profit", ("gross profit", "gross margin"), "income"),
    LineItem("operating_income", "operating income", (
        "operating income", "operating profit", "income from operations", "operating income (loss)",
        "earnings from operations", "(loss)/earnings from operations", "earnings (loss) from operations",
        "income (loss) from operations", "operating earnings", "total operating income"),
        "income"),
    LineItem("net_income", "net income", (
        "net income", "net earnings", "net income attributable to", "net earnings attributable to",
        "net income (loss)", "net (loss)/earnings", "net earnings (loss)",
        "net income including noncontrolling interest"), "income"),
    LineItem("pretax_income", "income before income taxes", (
        "income before income taxes", "earnings before income taxes",
        "income before provision for income taxes", "income (loss) before income taxes",
        "(loss)/earnings before income taxes", "earnings (loss) before income taxes",
        "income from continuing operations before income taxes", "loss before income taxes",
        "(loss) income before income taxes", "income (loss) before income taxes",
        "(loss) earnings before income taxes", "earnings (loss) before income taxes",
        "income before taxes", "earnings before taxes", "pretax income"), "income"),
    LineItem("income_tax", "income tax expense", (
        "provision for income taxes", "income tax expense", "income taxes",
        "provision for taxes on income", "income tax provision", "income tax (expense)/benefit",
        "income tax (expense) benefit", "(provision) benefit for income taxes",
        "provision (benefit) for income taxes", "(benefit) provision for income taxes",
        "provision/(benefit) for taxes on income", "income tax expense (benefit)"),
        "income", expense=True),
    LineItem("da", "depreciation and amortization", (
        "depreciation and amortization", "depreciation, amortization and other",
        "depreciation, depletion and amortization", "depreciation and amortization expense",
        "depreciation & amortization", "depreciation, amortization"), "cash_flow"),
    LineItem("capex", "capital expenditure", (
        "purchases of property, plant and equipment", "capital expenditures",
        "capital spending", "purchases of property and equipment",
        "additions to property, plant and equipment", "payments for property, plant and equipment",
        "property, plant and equipment additions", "capital expenditure",
        "purchases of property and equipment, net of proceeds from sales and incentives",
        "acquisitions of property, plant and equipment", "property and equipment additions"),
        "cash_flow", absolute=True),
    LineItem("cfo", "cash from operations", (
        "net cash provided by operating activities", "net cash provided by (used in) operating activities",
        "net cash (used in) provided by operating activities", "cash provided by operating activities",
        "net cash from operating activities", "net cash (used)/provided by operating activities",
        "net cash provided by operating activities from continuing operations",
        "cash flows from operating activities"), "cash_flow"),
    LineItem("total_assets", "total assets", ("total assets",), "balance"),
    LineItem("current_assets", "total current assets", ("total current assets",), "balance"),
    LineItem("current_liabilities", "total current liabilities", ("total current liabilities",),
             "balance"),
    LineItem("total_liabilities", "total liabilities", ("total liabilities",), "balance"),
    LineItem("cash", "cash and cash equivalents", (
        "cash and cash equivalents", "cash and equivalents", "cash"), "balance"),
    LineItem("securities", "short-term investments", (
        "marketable securities", "short-term investments", "short-term marketable securities",
        "short-term investments and marketable securities"), "balance"),
    LineItem("receivables", "accounts receivable", (
        "accounts receivable, net", "accounts receivable", "trade receivables",
        "accounts and notes receivable, net", "accounts receivable - net", "receivables, net",
        "accounts receivable, net and other", "trade accounts receivable, net",
        "accounts receivable — net", "trade receivables, net"), "balance"),
    LineItem("inventory", "inventories", ("inventories", "inventory", "total inventories",
                                          "merchandise inventories"), "balance"),
    LineItem("payables", "accounts payable", ("accounts payable", "trade accounts payable",
                                              "accounts payable and accrued liabilities"),
             "balance"),
    LineItem("equity", "total shareholders' equity", (
        "total stockholders' equity", "total shareholders' equity", "total equity",
        "total stockholders’ equity", "total shareholders’ equity", "total common stockholders' equity",
        "total pepsico shareholders' equity", "total 3m company shareholders' equity"), "balance"),
    LineItem("ppe_net", "net PP&E", (
        "property, plant and equipment, net", "property and equipment, net",
        "net property, plant and equipment", "property, plant and equipment — net",
        "property, plant and equipment - net", "property, plant and equipment, net of accumulated depreciation",
        "property, plant and equipment—net", "net property and equipment",
        # on a balance sheet the bare line is the net amount
        "property, plant and equipment", "property and equipment"), "balance"),
    LineItem("long_term_debt", "long-term debt", ("long-term debt", "long term debt",
                                                  "long-term debt, net", "long-term borrowings"),
             "balance"),
    LineItem("restructuring", "restructuring costs", (
        "restructuring charges", "restructuring costs", "restructuring and impairment charges",
        "restructuring and other charges", "restructuring"), "income"),
]}


def _i(name: str, offset: int = 0, agg: str = "") -> tuple:
    return ("item", name, offset, agg)


def _m(name: str) -> tuple:
    return ("metric", name)


def _div(a: tuple, b: tuple) -> tuple:
    return ("/", a, b)


_GROSS = ("-", _i("revenue"), _i("cogs"))

METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("gross_margin", "gross margin", (r"gross (?:profit )?margin",),
           _div(_i("gross_profit"), _i("revenue")), "%", "gross profit / revenue"),
    Metric("operating_margin", "operating margin", (r"operating (?:profit |income )?margin",),
           _div(_i("operating_income"), _i("revenue")), "%", "operating income / revenue"),
    Metric("net_margin", "net profit margin", (r"net (?:profit |income )?margin", r"profit margin"),
           _div(_i("net_income"), _i("revenue")), "%", "net income / revenue"),
    Metric("ebitda_margin", "EBITDA margin", (r"ebitda (?:%\s*)?margin",),
           _div(_m("ebitda"), _i("revenue")), "%",
           "(operating income + depreciation and amortization) / revenue"),
    Metric("ebitda_less_capex", "EBITDA less capex",
           (r"ebitda (?:less|minus) (?:capex|capital expenditures?)",),
           ("-", _m("ebitda"), _i("capex")), "money",
           "operating income + depreciation and amortization - capital expenditure", 0),
    Metric("ebitda", "EBITDA", (r"\bebitda\b",), ("+", _i("operating_income"), _i("da")), "money",
           "operating income + depreciation and amortization", 0),
    Metric("revenue_growth", "revenue growth", (
        r"(?:revenue|sales) growth", (r"(?:change|increase|decrease|growth) in (?:total )?(?:net )?"
        r"(?:revenue|sales)"), r"(?:revenue|sales) (?:grow|grew|change|increase)",
        r"(?:revenue|sales) .{0,20}(?:year[- ]over[- ]year|yoy)"),
           _div(_i("revenue", 0, "chg"), _i("revenue", -1)), "%",
           "(revenue - prior-period revenue) / prior-period revenue"),
    Metric("effective_tax_rate", "effective tax rate", (r"effective (?:income )?tax rate",),
           _div(_i("income_tax"), _i("pretax_income")), "%",
           "income tax expense / income before income taxes", 2),
    Metric("quick_ratio", "quick ratio", (r"quick ratio", r"acid[- ]test"),
           _div(("+", ("+", _i("cash"), _i("securities")), _i("receivables")),
                _i("current_liabilities")), "x",
           "(cash and equivalents + short-term investments + receivables) / current liabilities", 2),
    Metric("current_ratio", "current ratio", (r"current ratio", r"working capital ratio"),
           _div(_i("current_assets"), _i("current_liabilities")), "x",
           "total current assets / total current liabilities", 2),
    Metric("dpo", "days payable outstanding", (r"days payables? outstanding", r"\bdpo\b"),
           _div(("*", ("num", "365"), _i("payables", 0, "avg")),
                ("+", _i("cogs"), _i("inventory", 0, "chg"))), "days",
           "365 x average accounts payable / (cost of sales + change in inventory)", 2),
    Metric("dso", "days sales outstanding", (r"days sales outstanding", r"\bdso\b"),
           _div(("*", ("num", "365"), _i("receivables", 0, "avg")), _i("revenue")), "days",
           "365 x average accounts receivable / revenue", 2),
    Metric("dio", "days inventory outstanding", (r"days inventory outstanding", r"\bdio\b",
                                                 r"days (?:in|of) inventory"),
           _div(("*", ("num", "365"), _i("inventory", 0, "avg")), _i("cogs")), "days",
           "365 x average inventory / cost of sales", 2),
    Metric("inventory_turnover", "inventory turnover", (r"inventory turnover",),
           _div(_i("cogs"), _i("inventory", 0, "avg")), "x",
           "cost of sales / average inventory", 2),
    Metric("fixed_asset_turnover", "fixed asset turnover", (
        r"fixed asset turnover", r"(?:pp&e|ppne|property, plant and equipment) turnover"),
           _div(_i("revenue"), _i("ppe_net", 0, "avg")), "x",
           "revenue / average net PP&E", 2),
    Metric("asset_turnover", "asset turnover", (r"(?:total )?asset turnover",),
           _div(_i("revenue"), _i("total_assets", 0, "avg")), "x",
           "revenue / average total assets", 2),
    Metric("roa", "return on assets", (r"return on (?:total )?assets", r"\broa\b"),
           _div(_i("net_income"), _i("total_assets", 0, "avg")), "%",
           "net income / average total assets"),
    Metric("roe", "return on equity", (r"return on (?:shareholders'? |stockholders'? )?equity",
                                       r"\broe\b"),
           _div(_i("net_income"), _i("equity", 0, "avg")), "%",
           "net income / average shareholders' equity"),
    Metric("free_cash_flow", "free cash flow", (r"free cash flow", r"\bfcf\b"),
           ("-", _i("cfo"), _i("capex")), "money",
           "cash from operations - capital expenditure", 0),
    Metric("capex_intensity", "capex as % of revenue", (
        (r"(?:capex|capital expenditures?|capital spending) (?:as (?:a )?%|as (?:a )?percent(?:age)?"
        r"|to revenue|intensity|/ revenue)"), r"capex intensity"),
           _div(_i("capex"), _i("revenue")), "%", "capital expenditure / revenue"),
    Metric("fixed_asset_ratio", "net PP&E as % of total assets", (
        (r"(?:fixed assets?|pp&e|property, plant and equipment) (?:to|/|as (?:a )?% of|as (?:a )?"
        r"(?:share|percent(?:age)?) of) total assets"),),
           _div(_i("ppe_net"), _i("total_assets")), "%", "net PP&E / total assets"),
    Metric("gross_profit_calc", "gross profit", (r"gross profit(?! margin)",), _GROSS, "money",
           "revenue - cost of sales", 0),
]}



@dataclass(frozen=True)
class Bundle:
    """An assessment a question asks for ('Is X capital-intensive?', 'Does X have a healthy
    liquidity profile?'): the metrics analysts read it from. Code computes each; the judgement
    is left to the reader, with the note saying what the measures mean."""

    name: str
    label: str
    triggers: tuple[str, ...]
    metrics: tuple[str, ...]
    note: str


BUNDLES: dict[str, Bundle] = {b.name: b for b in [
    Bundle("capital_intensity", "capital intensity",
           (r"capital[- ]intensive", r"capital intensity", r"asset[- ](?:heavy|light)"),
           ("capex_intensity", "fixed_asset_ratio", "fixed_asset_turnover"),
           "A business is usually called capital-intensive when capital expenditure takes a large "
           "share of revenue and PP&E a large share of its assets; the figures are computed, the "
           "judgement is left to you."),
    Bundle("liquidity", "liquidity",
           (r"\bliquidity (?:profile|position|health|ratios?)\b", r"\bhealthy liquidity\b",
            r"\b(?:is|are) [^?]{0,60}\bliquid\b"),
           ("current_ratio", "quick_ratio"),
           "A current or quick ratio above 1 means current assets (or the most liquid of them) "
           "cover current liabilities; the figures are computed, the judgement is left to you."),
    Bundle("profitability", "profitability",
           (r"\bprofitability (?:profile|position|trend)?\b", (r"\b(?:is|are) [^?]{0,60}"
            r"\bprofitable\b")),
           ("gross_margin", "operating_margin", "net_margin"),
           "Margins are shares of revenue kept at each level of the income statement; the figures "
           "are computed, the judgement is left to you."),
]}

# Line items a question may ask for by name (a lookup answered from one cell).
LOOKUP_TRIGGERS: dict[str, tuple[str, ...]] = {
    "capex": (r"capital expenditures?", r"\bcapex\b", r"capital spending"),
    "revenue": (r"\b(?:total )?(?:net )?revenues?\b", r"\bnet sales\b", r"\btotal sales\b"),
    "net_income": (r"\bnet income\b", r"\bnet earnings\b"),
    "operating_income": (r"\boperating income\b", r"\boperating profit\b"),
    "ppe_net": (r"\bnet (?:pp&e|ppne|ppe|property, plant(?:,)? and equipment)\b",
                r"\bpp&e\b", r"\bppne\b", r"property, plant and equipment"),
    "total_assets": (r"\btotal assets\b",),
    "cfo": (r"cash (?:flow )?from operations", r"operating cash flow",
            r"cash provided by operating activities"),
    "da": (r"depreciation and amortization", r"\bd&a\b"),
    "cogs": (r"cost of (?:goods sold|sales|revenues?)", r"\bcogs\b"),
    "inventory": (r"\binventor(?:y|ies)\b",),
    "payables": (r"accounts payable",),
    "receivables": (r"accounts receivable",),
    "cash": (r"cash and cash equivalents",),
    "long_term_debt": (r"long[- ]term debt",),
    "equity": (r"shareholders'? equity", r"stockholders'? equity"),
    "income_tax": (r"income tax expense", r"provision for income taxes"),
    "restructuring": (r"restructuring (?:costs|charges)",),
    "gross_profit": (r"\bgross profit\b",),
    "pretax_income": (r"income before (?:income )?taxes", r"pre-?tax income"),
    "current_assets": (r"total current assets",),
    "current_liabilities": (r"total current liabilities",),
    "total_liabilities": (r"total liabilities",),
}


def definitions_table() -> list[dict[str, str]]:
    """The metric definitions, for the Figures page and its download."""
    rows = []
    for m in METRICS.values():
        rows.append({"metric": m.label, "definition": m.definition,
                     "unit": {"%": "percent", "x": "ratio", "days": "days",
                              "money": "currency"}[m.unit]})
    for it in ITEMS.values():
        rows.append({"metric": it.label, "definition": "line item: " + "; ".join(it.aliases[:6]),
                     "unit": "as reported"})
    return rows
