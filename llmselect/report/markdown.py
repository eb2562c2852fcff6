"""Render a ``Document`` as Markdown: the summaries, with links to the HTML page for the charts
and the long tables (GitHub shows wide tables badly)."""

from __future__ import annotations

from collections.abc import Sequence

from llmselect.report.document import Bullets, Document, Figure, Paragraph, Section, Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _block(block: object, doc: Document, anchor: str, level: int = 2) -> list[str]:
    link = f"[{doc.html_name}]({doc.html_name}#{anchor})"
    if isinstance(block, Paragraph):
        return [f"*{block.text}*" if block.note else block.text, ""]
    if isinstance(block, Bullets):
        return [*(f"- {item}" for item in block.items), ""]
    if isinstance(block, Figure):
        return [f"Chart: **{block.title}**, in {link}. {block.caption}", ""]
    if isinstance(block, Table):
        title = [f"{'#' * min(level + 1, 6)} {block.title}", ""] if block.title else []
        if block.markdown == "link" or (block.markdown == "head" and not block.rows):
            return [f"**{block.title or 'Table'}**: {len(block.rows)} rows in {link}.", ""]
        rows = block.rows if block.markdown == "full" else block.rows[: block.head]
        out = [*title, *_table(block.header, rows), ""]
        if len(rows) < len(block.rows):
            out += [f"… {len(block.rows) - len(rows)} more rows in {link}.", ""]
        if block.note:
            out += [f"*{block.note}*", ""]
        return out
    raise TypeError(f"unknown block {type(block).__name__}")


def _section(section: Section, doc: Document, level: int) -> list[str]:
    out = [f"{'#' * level} {section.title}", ""]
    for block in section.blocks:
        out += _block(block, doc, section.id, level)
    for sub in section.subsections:
        out += _section(sub, doc, level + 1)
    return out


def render_markdown_document(doc: Document) -> str:
    """The document as Markdown text."""
    lines = [f"# {doc.title}", ""]
    for p in doc.intro:
        lines += _block(p, doc, "")
    lines += [f"Charts and every number: [{doc.html_name}]({doc.html_name}).", ""]
    for section in doc.sections:
        lines += _section(section, doc, 2)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
