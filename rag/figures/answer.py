"""Turn a `NumericAnswer` into answer text and citations: every figure in the text is either
verbatim in its cited cell's span or the declared result of the formula shown."""

from __future__ import annotations

from rag.figures.engine import NumericAnswer, Operand, cell_chunk

__all__ = ["cell_chunk", "missing_text", "render"]


def _operand_line(o: Operand, n: int) -> str:
    c = o.cell
    where = f"{c.doc_name}, {c.location()}".rstrip(", ")
    return f"- {o.name}, {o.period}: {c.text} (“{c.row_label}”, {where}) [{n}]"


def render(num: NumericAnswer) -> tuple[str, list[Operand]]:
    """Markdown answer text and the operands in citation order ([1] is operands[0])."""
    ops = num.operands()
    index = {id(o.cell): i + 1 for i, o in enumerate(ops)}

    def marks(comp) -> str:
        ns = sorted({index[id(o.cell)] for o in comp.operands if id(o.cell) in index})
        return "".join(f"[{n}]" for n in ns)

    lines: list[str] = []
    ok = [c for c in num.computations if c.ok]
    for c in ok:
        what = f"{c.label[:1].upper()}{c.label[1:]}, {c.period}"
        src = f" ({c.doc_name})" if c.doc_name else ""
        lines.append(f"**{what}: {c.result_text}**{src} {marks(c)}".rstrip())
        if c.formula:
            lines.append(f"Computed: {c.formula}.")
    if num.judgement:
        lines.append(num.judgement)
    missing = [c for c in num.computations if not c.ok]
    for c in missing:
        lines.append(f"Not computed for {c.period or 'the period asked'}: no figure found for "
                     f"{', '.join(c.missing)} in the tables of the documents searched.")
    if ops:
        lines.append("")
        lines.append("Figures used:")
        lines.extend(_operand_line(o, index[id(o.cell)]) for o in ops)
    defs = list(dict.fromkeys((c.label, c.definition) for c in ok if c.definition))
    if defs:
        lines.append("")
        lines.extend(f"Definition used: {label} = {d}." for label, d in defs)
    return "\n".join(lines), ops


def missing_text(num: NumericAnswer, searched: list[str]) -> str:
    what = sorted({m for m in num.missing})
    where = ", ".join(searched[:5]) + (" and others" if len(searched) > 5 else "")
    label = num.computations[0].label if num.computations else "the figure"
    return (f"The documents do not give what is needed to compute {label}: no table row or "
            f"stated figure was found for {', '.join(what)} (searched the figures of {where}). "
            "The closest passages are shown below.")
