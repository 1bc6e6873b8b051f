"""A brief as Markdown (the whole brief) and its tables as spreadsheet-safe CSV."""

from __future__ import annotations

from typing import Any

from rag.analytics.summaries.brief import KIND_LABELS, Brief, Bullet

FIGURE_COLUMNS = ["metric", "period", "value", "unit", "change"]
GUIDANCE_COLUMNS = ["metric", "period", "value", "direction", "prior"]
ACTION_COLUMNS = ["task", "owner", "due"]
COMPARE_FIGURE_COLUMNS = ["metric", "value_a", "period_a", "value", "period", "unit", "change"]
COMPARE_GUIDANCE_COLUMNS = ["metric", "value_a", "period_a", "value", "period", "direction"]
CITE_COLUMNS = ["source", "location", "passage", "quote"]


def _cite_cells(c: dict[str, Any] | None, side: str = "") -> dict[str, Any]:
    c = c or {}
    return {f"source{side}": c.get("doc_name"), f"location{side}": c.get("location"),
            f"passage{side}": c.get("n"), f"quote{side}": c.get("quote")}


def table_frame(brief: Brief, table: str):
    """'figures', 'guidance' or 'action_items' as a DataFrame with their citations."""
    import pandas as pd

    rows = getattr(brief, table)
    if brief.kind == "compare" and table != "action_items":
        cols = COMPARE_FIGURE_COLUMNS if table == "figures" else COMPARE_GUIDANCE_COLUMNS
        out = [{**{k: r.get(k) for k in cols}, **_cite_cells(r.get("citation_a"), "_a"),
                **_cite_cells(r.get("citation"), "_b")} for r in rows]
        cite = [f"{k}{s}" for s in ("_a", "_b") for k in CITE_COLUMNS]
        return pd.DataFrame(out, columns=cols + cite)
    cols = {"figures": FIGURE_COLUMNS, "guidance": GUIDANCE_COLUMNS,
            "action_items": ACTION_COLUMNS}[table]
    if table == "action_items" and brief.kind == "compare":
        cols = ["side", *cols]
    out = [{**{k: r.get(k) for k in cols}, **_cite_cells(r.get("citation"))} for r in rows]
    return pd.DataFrame(out, columns=cols + CITE_COLUMNS)


def table_csv(brief: Brief, table: str) -> bytes:
    """A table as CSV bytes: cells a spreadsheet would run as a formula are defused."""
    from rag.analytics.export import safe_csv

    return safe_csv(table_frame(brief, table))


def _cell(v: Any) -> str:
    return "" if v is None else " ".join(str(v).split()).replace("|", "\\|")


def _table(rows: list[dict[str, Any]], cols: list[str]) -> list[str]:
    if not rows:
        return ["(none found)", ""]
    lines = ["| " + " | ".join([*cols, "source"]) + " |",
             "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        c = r.get("citation") or {}
        src = f"[{c['n']}]" if c.get("n") else ""
        if r.get("citation_a"):
            src = f"[A{r['citation_a']['n']}] " + (f"[B{c['n']}]" if c.get("n") else "")
        lines.append("| " + " | ".join(_cell(r.get(k)) for k in cols) + f" | {src} |")
    return [*lines, ""]


def _bullets(title: str, items: list[Bullet]) -> list[str]:
    if not items:
        return []
    out = [f"## {title}", ""]
    for b in items:
        mark = {"model": "", "read-back": " *(as read back)*"}.get(b.origin, " *(extract)*")
        flag = f" ⚠ {'; '.join(b.flags)}" if b.flags else ""
        out.append(f"- {_cell(b.text)}{mark}{flag}")
    return [*out, ""]


def to_markdown(brief: Brief) -> str:
    """The whole brief, with a numbered list of the quoted passages at the end."""
    lines = [f"# {KIND_LABELS.get(brief.kind, brief.kind)} brief: {_cell(brief.doc_name)}", ""]
    facts = [f"Made by: {brief.method}"]
    if brief.model:
        facts.append(f"Model: {brief.model}")
    if brief.period:
        facts.append(f"Period: {brief.period}")
    lines += [" · ".join(_cell(f) for f in facts), ""]
    for n in brief.notes:
        lines.append(f"> {_cell(n)}")
    if brief.notes:
        lines.append("")
    lines += _bullets("Summary", brief.summary)
    if brief.kind in ("earnings", "general") or brief.figures:
        cols = COMPARE_FIGURE_COLUMNS if brief.kind == "compare" else FIGURE_COLUMNS
        lines += ["## Figures" if brief.kind != "compare" else "## Figures: what changed", ""]
        lines += _table(brief.figures, cols)
    if brief.kind == "earnings" or brief.guidance:
        cols = COMPARE_GUIDANCE_COLUMNS if brief.kind == "compare" else GUIDANCE_COLUMNS
        lines += ["## Guidance", "", *_table(brief.guidance, cols)]
    lines += _bullets("Drivers", brief.drivers)
    lines += _bullets("Risks and concerns", brief.risks)
    lines += _bullets("Analyst questions", brief.questions)
    if brief.tone:
        lines += ["## Tone", "", f"- {_cell(brief.tone.get('text', ''))}", ""]
    lines += _bullets("Decisions", brief.decisions)
    if brief.kind == "meeting" or brief.action_items:
        cols = ["side", *ACTION_COLUMNS] if brief.kind == "compare" else ACTION_COLUMNS
        lines += ["## Action items", "", *_table(brief.action_items, cols)]
    lines += _bullets("Open questions", brief.open_questions)
    if brief.topics:
        lines += ["## Topics", ""]
        lines += [f"- {_cell(t['span'])}: {_cell(t['title'])}" for t in brief.topics]
        lines.append("")
    sources = _sources(brief)
    if sources:
        lines += ["## Sources", ""]
        for key, c in sources:
            lines.append(f"[{key}] {_cell(c.get('doc_name'))}, {_cell(c.get('location'))}: "
                         f"“{_cell(c.get('quote'))}”")
    return "\n".join(lines).rstrip() + "\n"


def citations(brief: Brief) -> list[dict[str, Any]]:
    """Every citation of a brief (bullets, tables, tone), in no particular order."""
    out = [c for b in brief.bullets for c in b.citations]
    for table in (brief.figures, brief.guidance, brief.action_items):
        for r in table:
            out += [c for c in (r.get("citation"), r.get("citation_a")) if c]
    if brief.kind != "compare":
        out += brief.tone.get("citations", []) + brief.tone.get("evidence", [])
    return out


def _sources(brief: Brief) -> list[tuple[str, dict[str, Any]]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for c in citations(brief):
        key = (c["chunk_id"], c.get("quote", ""))
        seen.setdefault(key, c)
    ordered = sorted(seen.values(), key=lambda c: (c.get("doc_name") or "", c["n"]))
    if brief.kind == "compare":
        a = brief.compare.get("a", {}).get("doc_id")
        return [((("A" if c["doc_id"] == a else "B") + str(c["n"])), c) for c in ordered]
    return [(str(c["n"]), c) for c in ordered]
