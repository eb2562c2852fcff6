#!/usr/bin/env python3
"""Open a report's HTML page in headless Chromium and check its structure, not its pixels.

Checks: (1) the DOM Chromium built (``--dump-dom``) has every report section, one ``<figure>``
per chart the report's JSON allows, each with an inline ``<svg>``, no ``<script>`` and no
``src``/``href`` other than same-page anchors; (2) a ``--screenshot`` has the requested size,
is not blank, and shows the chart palette's first colour when there are charts.

Usage::

    python benchmarks/check_report_html.py reports/latest.html [--json reports/latest.json]

Exit 0 when every check passes, 1 otherwise; prints the findings as JSON. Chromium is found
as ``$CHROMIUM`` or ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH
(Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

ALWAYS_SECTIONS = ("run", "coverage", "recommendations", "deltas", "problems")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
FIRST_PALETTE_RGB = (0x00, 0x72, 0xB2)  # llmselect.charts.PALETTE[0]


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or None."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(binary: str, args: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="llmselect-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(binary: str, html: Path) -> str:
    """The DOM as Chromium serialises it after parsing the page."""
    proc = _chromium(binary, ["--dump-dom", html.resolve().as_uri()])
    if proc.returncode != 0 or "<html" not in proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def screenshot(binary: str, html: Path, png: Path, width: int, height: int) -> None:
    """A PNG of the top ``width`` x ``height`` pixels of the page."""
    proc = _chromium(
        binary,
        [f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri()],
    )
    if proc.returncode != 0 or not png.is_file():
        raise RuntimeError(
            f"chromium --screenshot failed ({proc.returncode}): {proc.stderr[-500:]}"
        )


def read_png(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit RGB/RGBA non-interlaced PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
    if header is None:
        raise ValueError(f"{path}: no IHDR")
    width, height, depth, colour, _comp, _filt, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour {colour})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[str] = []
        self.svgs_in_figures = 0
        self.scripts = 0
        self.external: list[str] = []
        self._in_figure = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.sections.append(a["id"] or "")
        elif tag == "figure":
            self.figures.append(a.get("data-figure") or "")
            self._in_figure = True
        elif tag == "svg" and self._in_figure:
            self.svgs_in_figures += 1
        elif tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value and not value.startswith("#"):  # same-page anchors are fine
                self.external.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_figure = False


def expected_structure(report_json: Path | None) -> tuple[list[str], list[str]]:
    """Sections and figures the page must have, from the report's JSON when given."""
    if report_json is None:
        return list(ALWAYS_SECTIONS), []
    from llmselect.metrics import declared_metrics
    from llmselect.report import Report, charts

    report = Report.model_validate(json.loads(report_json.read_text(encoding="utf-8")))
    figures = [chart_id for _section, chart_id, _svg, _cap in charts(report)]
    index = declared_metrics()
    present = {index.section(v.probe, v.metric) for v in report.values}
    sections = [sid for sid, _t in index.sections() if sid in present]
    if report.published:
        sections.append("published")
    return [*ALWAYS_SECTIONS, *sections], figures


def check(
    html: Path, report_json: Path | None = None, width: int = 1200, height: int = 1600
) -> dict:
    """Run every check; ``ok`` is True when all pass."""
    binary = find_chromium()
    if binary is None:
        return {"ok": False, "problems": ["no chromium binary found"]}
    problems: list[str] = []
    dom = _Dom()
    dom.feed(dump_dom(binary, html))
    want_sections, want_figures = expected_structure(report_json)
    missing = [s for s in want_sections if s not in dom.sections]
    if missing:
        problems.append(f"missing sections: {missing}")
    if want_figures and dom.figures != want_figures:
        problems.append(f"figures {dom.figures} != expected {want_figures}")
    if dom.svgs_in_figures != len(dom.figures):
        problems.append(f"{len(dom.figures)} figures but {dom.svgs_in_figures} inline svgs")
    if dom.scripts:
        problems.append(f"{dom.scripts} <script> elements")
    if dom.external:
        problems.append(f"external references: {dom.external[:5]}")

    with tempfile.TemporaryDirectory(prefix="llmselect-shot-") as tmp:
        png = Path(tmp) / "page.png"
        screenshot(binary, html, png, width, height)
        w, h, bpp, pixels = read_png(png)
    if (w, h) != (width, height):
        problems.append(f"screenshot is {w}x{h}, expected {width}x{height}")
    total = w * h
    non_white = sum(
        1 for i in range(0, len(pixels), bpp) if pixels[i] + pixels[i + 1] + pixels[i + 2] < 720
    )
    palette = bytes(FIRST_PALETTE_RGB)
    has_palette = any(pixels[i : i + 3] == palette for i in range(0, len(pixels), bpp))
    if non_white / total < 0.01:
        problems.append(f"screenshot looks blank ({non_white} non-white pixels)")
    if dom.figures and not has_palette:
        problems.append("no chart colour in the screenshot")
    return {
        "ok": not problems,
        "problems": problems,
        "sections": dom.sections,
        "figures": dom.figures,
        "screenshot": {"width": w, "height": h, "non_white_fraction": round(non_white / total, 4)},
        "chart_colour_visible": has_palette,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report HTML file")
    parser.add_argument(
        "--json", type=Path, default=None, help="the report's JSON (default: beside)"
    )
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1600)
    args = parser.parse_args(argv)
    report_json = args.json
    if report_json is None:
        sibling = args.html.with_suffix(".json")
        report_json = sibling if sibling.is_file() else None
    result = check(args.html, report_json, args.width, args.height)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
