#!/usr/bin/env python3
"""Open a report's page in headless Chromium, offline, at 1280 px; check what a reader sees.

Checks:

1. Structure of the page as Chromium parsed it (``--dump-dom``): the first section is the
   recommendations; every ``<figure>`` holds an inline ``<svg>``; no ``<script>``, no
   ``src``/``href`` other than same-page anchors, no ``url(`` or ``@import`` (works offline).
2. Layout, measured in a copy of the page with a measuring script added (the page itself has
   none) and read back with ``--dump-dom``: at a 1280 px window nothing overflows sideways; each
   chart is drawn wider than 300 px and inside the window; each chart's axis labels (the
   figure's ``data-x-label`` / ``data-y-label``) exist as SVG text with a non-empty box.
3. Pixels: each chart alone is screenshot and must show the palette's first colour (drawn, not
   blank); a screenshot of the page's top at 1280 px is saved (``--screenshot``), the image the
   nightly workflow keeps as an artifact.

Chromium runs with the network blocked (``--host-resolver-rules``), so an external asset
would be missing. Usage::

    python benchmarks/check_report_html.py reports/latest.html [--screenshot page.png]

Exit 0 when every check passes, 1 otherwise; prints the findings as JSON. Chromium is found
as ``$CHROMIUM`` or ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH
(Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

WIDTH = 1280
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no name resolves
)
FIRST_PALETTE_RGB = (0x00, 0x72, 0xB2)  # llmselect.report.figures.PALETTE[0]

MEASURE_JS = """
<script>
window.addEventListener('load', () => {
  const figs = [...document.querySelectorAll('figure')].map(f => {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : {width: 0, left: 0, right: 0};
    const texts = svg ? [...svg.querySelectorAll('text')] : [];
    const drawn = label => texts.some(t => {
      const b = t.getBBox();
      return t.textContent.replace(/\\s+/g, ' ').trim() === label && b.width > 0 && b.height > 0;
    });
    return {id: f.dataset.figure, width: r.width, left: r.left, right: r.right,
            x: drawn(f.dataset.xLabel), y: drawn(f.dataset.yLabel)};
  });
  const out = document.createElement('pre');
  out.id = 'llmselect-measure';
  out.textContent = JSON.stringify({
    scroll_width: document.documentElement.scrollWidth,
    first_section: (document.querySelector('section') || {}).id || null,
    figures: figs});
  document.body.appendChild(out);
});
</script>
"""


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


def _chromium(binary: str, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="llmselect-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(binary: str, html: Path, width: int = WIDTH) -> str:
    """The DOM as Chromium serialises it after loading the page (scripts run)."""
    proc = _chromium(
        binary,
        [f"--window-size={width},1000", "--virtual-time-budget=10000", "--dump-dom",
         html.resolve().as_uri()],
    )  # fmt: skip
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


def pixel_stats(png: Path) -> tuple[int, int, float, bool]:
    """(width, height, share of non-white pixels, whether the first palette colour shows)."""
    w, h, bpp, pixels = read_png(png)
    non_white = sum(
        1 for i in range(0, len(pixels), bpp) if pixels[i] + pixels[i + 1] + pixels[i + 2] < 720
    )
    palette = bytes(FIRST_PALETTE_RGB)
    has = any(pixels[i : i + 3] == palette for i in range(0, len(pixels), bpp))
    return w, h, non_white / (w * h), has


class _Dom(HTMLParser):
    """Sections, figures (with their svg markup) and anything that would need the network."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.figures: list[str] = []
        self.svgs_in_figures = 0
        self.scripts = 0
        self.external: list[str] = []
        self.measure = ""
        self._in_figure = False
        self._in_measure = False

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
        elif tag == "pre" and a.get("id") == "llmselect-measure":
            self._in_measure = True
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value and not value.startswith("#"):  # same-page anchors are fine
                self.external.append(value)
        style = a.get("style") or ""
        if "url(" in style:
            self.external.append(style)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_figure = False
        elif tag == "pre":
            self._in_measure = False

    def handle_data(self, data: str) -> None:
        if self._in_measure:
            self.measure += data


def _figure_svgs(html: str) -> list[tuple[str, str]]:
    """(figure id, svg markup) of every figure, read from the page's source."""
    out = []
    for m in re.finditer(r'<figure data-figure="([^"]+)"[^>]*>\s*(<svg.*?</svg>)', html, re.S):
        out.append((unescape(m.group(1)), m.group(2)))
    return out


def check(html: Path, shot: Path | None = None, width: int = WIDTH, height: int = 2400) -> dict:
    """Run every check; ``ok`` is True when all pass."""
    binary = find_chromium()
    if binary is None:
        return {"ok": False, "problems": ["no chromium binary found"]}
    problems: list[str] = []
    source = html.read_text(encoding="utf-8")
    if re.search(r"url\(|@import", source.split("<body", 1)[0]):
        problems.append("the page's CSS loads something (url( or @import)")

    dom = _Dom()
    dom.feed(dump_dom(binary, html, width))
    if not dom.sections or dom.sections[0] != "recommendations":
        problems.append(f"first section is {dom.sections[:1]}, not recommendations")
    if not dom.figures:
        problems.append("no charts on the page")
    if dom.svgs_in_figures != len(dom.figures):
        problems.append(f"{len(dom.figures)} figures but {dom.svgs_in_figures} inline svgs")
    if dom.scripts:
        problems.append(f"{dom.scripts} <script> elements")
    if dom.external:
        problems.append(f"external references: {dom.external[:5]}")

    measured: dict = {}
    with tempfile.TemporaryDirectory(prefix="llmselect-check-") as tmp:
        probe_page = Path(tmp) / "measure.html"
        probe_page.write_text(source.replace("</body>", MEASURE_JS + "</body>"), encoding="utf-8")
        mdom = _Dom()
        mdom.feed(dump_dom(binary, probe_page, width))
        try:
            measured = json.loads(mdom.measure)
        except ValueError:
            problems.append("the layout measurement did not run")
        if measured:
            if measured["scroll_width"] > width:
                problems.append(
                    f"page is {measured['scroll_width']} px wide at a {width} px window"
                )
            for fig in measured["figures"]:
                if fig["width"] < 300 or fig["right"] > width or fig["left"] < 0:
                    problems.append(f"chart {fig['id']} is drawn {fig['width']:.0f} px wide "
                                    f"at x {fig['left']:.0f}-{fig['right']:.0f}")  # fmt: skip
                if not (fig["x"] and fig["y"]):
                    problems.append(f"chart {fig['id']}: axis labels not drawn (x {fig['x']}, "
                                    f"y {fig['y']})")  # fmt: skip

        charts = {}
        for chart_id, svg in _figure_svgs(source):
            page = Path(tmp) / f"{chart_id}.html"
            page.write_text(f'<!DOCTYPE html><html><body style="margin:0">{svg}</body></html>',
                            encoding="utf-8")  # fmt: skip
            png = Path(tmp) / f"{chart_id}.png"
            screenshot(binary, page, png, width, 1000)
            _w, _h, ink, colour = pixel_stats(png)
            charts[chart_id] = {"ink": round(ink, 4), "palette_colour": colour}
            if ink < 0.01 or not colour:
                problems.append(
                    f"chart {chart_id} does not render (ink {ink:.3f}, colour {colour})"
                )
        page_png = shot or Path(tmp) / "page.png"
        screenshot(binary, html, page_png, width, height)
        w, h, ink, _colour = pixel_stats(page_png)
    if (w, h) != (width, height):
        problems.append(f"screenshot is {w}x{h}, expected {width}x{height}")
    if ink < 0.01:
        problems.append(f"page screenshot looks blank ({ink:.4f} non-white)")
    return {
        "ok": not problems,
        "problems": problems,
        "sections": dom.sections,
        "figures": dom.figures,
        "layout": measured,
        "charts": charts,
        "screenshot": {
            "width": w,
            "height": h,
            "non_white_fraction": round(ink, 4),
            "path": str(shot) if shot else None,
        },  # fmt: skip
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report HTML file")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page's PNG here")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    result = check(args.html, args.screenshot, args.width, args.height)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
