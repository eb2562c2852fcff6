"""Render a ``Document`` as one static HTML page: inline CSS and SVG, no scripts, no external
links, readable from 1280 px wide down; long tables fold into ``<details>``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from llmselect.report.document import Bullets, Document, Figure, Paragraph, Section, Table

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:20px 28px;
color:#1f1f1f;max-width:1180px;line-height:1.45}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;border-bottom:1px solid #ccc;
padding-bottom:4px;margin-top:36px}h3{font-size:16px;margin:22px 0 6px}h4{font-size:14px;
margin:14px 0 4px}
.note{font-size:13px;color:#555}nav{font-size:13px;margin:10px 0 4px;line-height:1.9}
nav a{margin-right:12px}.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border:1px solid #ddd;padding:4px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.flag td{color:#a00000;font-weight:bold}
figure{margin:16px 0 22px}figcaption{font-size:13px;color:#444;max-width:920px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600;font-size:14px}
ul.findings li{margin:4px 0}code{font-size:12px;background:#f3f3f3;padding:0 3px}
"""


def inline(text: str) -> str:
    """Escape, then ``**bold**`` and ```code``` as tags."""
    out = escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = []
    for i, row in enumerate(t.rows):
        cls = t.row_classes[i] if i < len(t.row_classes) and t.row_classes[i] else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if j in t.numeric else f"<td>{escape(c)}</td>"
            for j, c in enumerate(row)
        )
        body.append(f'<tr class="{cls}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    table = f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>'
    table += "".join(body) + "</tbody></table></div>"
    note = f'<p class="note">{inline(t.note)}</p>' if t.note else ""
    if t.collapsible:
        title = escape(t.title or "Table")
        return f"<details><summary>{title} ({len(t.rows)} rows)</summary>{table}{note}</details>"
    title = f"<h4>{escape(t.title)}</h4>" if t.title else ""
    return title + table + note


def _figure(f: Figure) -> str:
    return (
        f'<figure data-figure="{escape(f.id)}" data-x-label="{escape(f.x_label)}" '
        f'data-y-label="{escape(f.y_label)}">\n{f.svg}\n'
        f"<figcaption><b>{escape(f.title)}.</b> {escape(f.caption)}</figcaption>\n</figure>"
    )


def _block(block: object) -> str:
    if isinstance(block, Paragraph):
        cls = ' class="note"' if block.note else ""
        return f"<p{cls}>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return (
            '<ul class="findings">'
            + "".join(f"<li>{inline(i)}</li>" for i in block.items)
            + "</ul>"
        )
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return _figure(block)
    raise TypeError(f"unknown block {type(block).__name__}")


def _section(s: Section, level: int) -> str:
    parts = [f'<section id="{escape(s.id)}" data-section="{escape(s.id)}">',
             f"<h{level}>{escape(s.title)}</h{level}>"]  # fmt: skip
    parts += [_block(b) for b in s.blocks]
    parts += [_section(sub, level + 1) for sub in s.subsections]
    parts.append("</section>")
    return "\n".join(parts)


def _nav(sections: Sequence[Section]) -> str:
    links = "".join(f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in sections)
    return f"<nav>{links}</nav>"


def render_html_document(doc: Document) -> str:
    """The document as a self-contained HTML page."""
    intro = "\n".join(_block(p) for p in doc.intro)
    body = "\n".join(_section(s, 2) for s in doc.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(doc.title)}</h1>\n{intro}\n{_nav(doc.sections)}\n{body}\n</body>\n</html>\n"
    )
