"""The page as a document: sections of paragraphs, lists, tables and figures.

``build_document(report)`` decides what the reader sees and in which order (the answer first,
then findings, pictures, and the details folded away); the Markdown and HTML renderers only
walk this structure, so both show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MdMode = Literal["full", "head", "link"]


@dataclass
class Paragraph:
    """A sentence or two; ``note`` renders small and grey."""

    text: str
    note: bool = False


@dataclass
class Bullets:
    """A list of short findings."""

    items: list[str]


@dataclass
class Table:
    """A table; ``numeric`` columns align right. ``collapsible`` folds it in HTML; ``markdown``
    says what Markdown shows: everything, the first ``head`` rows, or only a link to the page."""

    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)
    collapsible: bool = False
    markdown: MdMode = "full"
    head: int = 10
    note: str = ""
    row_classes: list[str] = field(default_factory=list)  # HTML class per row ("flag")


@dataclass
class Figure:
    """A chart as inline SVG, with the axis labels it must show."""

    id: str
    title: str
    svg: str
    caption: str
    x_label: str = ""
    y_label: str = ""


Block = Paragraph | Bullets | Table | Figure


@dataclass
class Section:
    """A titled part of the page; ``id`` is its anchor."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)


@dataclass
class Document:
    """The whole page."""

    title: str
    intro: list[Paragraph]
    sections: list[Section]
    html_name: str = "report.html"

    def figures(self) -> list[Figure]:
        """Every figure, in page order."""
        out: list[Figure] = []

        def walk(section: Section) -> None:
            out.extend(b for b in section.blocks if isinstance(b, Figure))
            for sub in section.subsections:
                walk(sub)

        for s in self.sections:
            walk(s)
        return out
