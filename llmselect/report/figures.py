"""The report's charts, drawn with matplotlib and inlined as SVG.

Each function takes the ``Report`` and returns a ``Figure`` block, or None when the data for it
is missing. The SVG keeps its text as text (``svg.fonttype = none``: axis labels stay readable
and searchable), carries no date and uses a fixed id salt, so the same report draws the same
bytes. Every axis label names its unit and whether the numbers are measured, estimated or
published. matplotlib is imported only here, only when a page is drawn.
"""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from llmselect.errors import LLMSelectError
from llmselect.report.document import Figure
from llmselect.report.model import Report, ValueRow

# Okabe-Ito, colour-blind safe; the first colour is what the page checker looks for.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
WIDTH_IN = 9.6  # at 96 px/in: 920 px, fits a 1280 px window with the page's margins
BASELINE_TOKENIZER = "llama2"  # Llama-2's 32k SentencePiece vocabulary: the common yardstick
GPU_SIZES_GB = (8, 16, 24, 80)  # decimal GB as sold; drawn in GiB
GIB_PER_GB = 1e9 / 1024**3
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "llmselect-report",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
}


def _svg(fig: Any, chart_id: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, scales to its container)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)  # RDF boilerplate
    text = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", text, count=1)
    attrs = (
        f' class="chart" data-chart="{chart_id}" role="img" aria-label="{_attr(title)}"'
        ' style="width:100%;height:auto;max-width:920px"'
    )
    return text.replace("<svg", "<svg" + attrs, 1).strip()


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(height_in: float, cols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(WIDTH_IN, height_in))
    axes = fig.subplots(1, cols, squeeze=False)[0]
    return fig, axes


def _draw(
    chart_id: str, title: str, caption: str, x_label: str, y_label: str,
    draw: Callable[[], Any],
) -> Figure:  # fmt: skip
    try:
        import matplotlib
    except ImportError as exc:  # the light core install has no plotting library
        raise LLMSelectError(
            "the report's charts need matplotlib: pip install 'llmselect[report]'"
        ) from exc

    with matplotlib.rc_context(RC):
        fig = draw()
        svg = _svg(fig, chart_id, title)
    return Figure(
        id=chart_id, title=title, svg=svg, caption=caption, x_label=x_label, y_label=y_label
    )


def _corpus_rows(values: Sequence[ValueRow], metric: str) -> tuple[str, list[ValueRow]]:
    """Rows of ``metric`` on the preferred corpus (FLORES-200 when measured, else the first)."""
    rows = [v for v in values if v.metric == metric]
    corpora = sorted({v.subset.rsplit("/", 1)[0] for v in rows if "/" in v.subset})
    if not corpora:
        return "", []
    corpus = next((c for c in corpora if c.startswith("flores200")), corpora[0])
    return corpus, [v for v in rows if v.subset.rsplit("/", 1)[0] == corpus]


CORPUS_NAMES = {"flores200": "FLORES-200", "default": "the project's zh/en corpus"}


def _corpus_name(corpus: str) -> str:
    base = corpus.split(":", 1)[0]
    return CORPUS_NAMES.get(base, corpus) + (
        f" ({corpus.split(':', 1)[1]})" if ":" in corpus else ""
    )


def tokens_per_char(report: Report) -> Figure | None:
    """Chinese vs English tokens per character for every tokenizer family, sorted by Chinese."""
    corpus, rows = _corpus_rows(report.values, "tokens_per_char")
    zh = {v.model_id: v.value for v in rows if v.subset.endswith("/zh")}
    en = {v.model_id: v.value for v in rows if v.subset.endswith("/en")}
    families = sorted(zh, key=lambda f: (zh[f], f))
    if not families:
        return None
    title = f"Tokens per character on {_corpus_name(corpus)}: Chinese vs English"
    x_label = "tokens per character (tok/char, measured; fewer = more text per token)"
    base = zh.get(BASELINE_TOKENIZER)

    def draw() -> Any:
        fig, (ax,) = _figure(0.28 * len(families) + 1.4)
        ys = range(len(families))
        ax.barh([y + 0.2 for y in ys], [zh[f] for f in families], 0.4, label="Chinese (zh)",
                color=PALETTE[0])  # fmt: skip
        ax.barh([y - 0.2 for y in ys], [en.get(f, 0.0) for f in families], 0.4,
                label="English (en)", color=PALETTE[1])  # fmt: skip
        ax.set_yticks(list(ys), families)
        ax.invert_yaxis()
        if base is not None:
            ax.axvline(base, color="#444444", linestyle="--", linewidth=1)
            ax.text(base, -0.9, f" Llama-2 32k baseline, zh {base:.2f}", fontsize=9,
                    color="#444444", va="bottom")  # fmt: skip
        ax.set_xlabel(x_label)
        ax.set_ylabel("tokenizer family")
        ax.legend(loc="lower right")
        ax.grid(axis="y", visible=False)
        return fig

    ratio = ""
    if base is not None:
        best = families[0]
        ratio = (
            f" The most efficient for Chinese, {best}, spends {zh[best] / base:.0%} of "
            f"Llama-2's tokens on the same Chinese text."
        )
    caption = (
        f"Content tokens (no BOS/EOS) per Unicode character, {len(families)} tokenizer families, "
        f"measured on {_corpus_name(corpus)}; sorted by Chinese. Dashed: Llama-2's 32k "
        f"vocabulary on Chinese.{ratio}"
    )
    return _draw("tokens-per-char", title, caption, x_label, "tokenizer family", draw)


def context_windows(report: Report) -> Figure | None:
    """Usable Chinese characters per context window of the leading candidates."""
    rows = sorted(report.context_windows, key=lambda w: (-w.zh_chars, w.model_id))
    if not rows:
        return None
    title = "How much Chinese text fits one context window"
    x_label = (
        "Chinese characters per context window (thousands; context published ÷ tok/char measured)"
    )

    def draw() -> Any:
        fig, (ax,) = _figure(0.34 * len(rows) + 1.2)
        ys = range(len(rows))
        ax.barh(list(ys), [w.zh_chars / 1000 for w in rows], 0.6, color=PALETTE[0])
        for y, w in zip(ys, rows, strict=True):
            ax.text(w.zh_chars / 1000, y, f" {w.zh_chars / 1000:,.0f}k chars "
                    f"({w.context_tokens // 1024}k tokens × 1/{w.zh_tokens_per_char:.2f})",
                    va="center", fontsize=8.5)  # fmt: skip
        ax.set_yticks(list(ys), [w.model_id for w in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, max(w.zh_chars for w in rows) / 1000 * 1.45)
        ax.set_xlabel(x_label)
        ax.set_ylabel("model")
        ax.grid(axis="y", visible=False)
        return fig

    caption = (
        "Native context length (published, tokens) divided by the model's tokenizer's Chinese "
        "tokens per character (measured): the Chinese characters one window holds. Models: the "
        "leading candidates of the recommendations above."
    )
    return _draw("zh-chars-per-context", title, caption, x_label, "model", draw)


def _quality(published: Sequence[ValueRow], benchmarks: Sequence[str]) -> dict[str, float]:
    """Model → mean published accuracy (%) over ``benchmarks``, first source per benchmark;
    only models with all of them."""
    first: dict[tuple[str, str], float] = {}
    for v in published:
        if v.metric == "acc" and v.subset in benchmarks:
            first.setdefault((v.model_id, v.subset), v.value)
    models = {m for m, _ in first}
    return {
        m: statistics.fmean(first[(m, b)] for b in benchmarks)
        for m in sorted(models)
        if all((m, b) in first for b in benchmarks)
    }


def _memory_at(report: Report, dtype: str) -> tuple[dict[str, float], str]:
    """Model → estimated peak memory (GiB) at ``dtype`` from the memory_estimate values."""
    out, subset = {}, ""
    for v in report.values:
        wanted = v.metric == "est_peak_memory_mib" and v.probe == "memory_estimate"
        if wanted and f"dtype={dtype}" in v.subset and v.model_id not in out:
            out[v.model_id] = v.value / 1024
            subset = v.subset
    return out, subset


def _log_axis(ax: Any, values: Sequence[float]) -> None:
    """A log x axis with plain 1-2-5 tick labels (no 3×10¹ clutter)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log")
    lo, hi = min(values), max(values)
    ticks = [
        m * 10.0**e for e in range(-2, 5) for m in (1, 2, 5) if lo / 2 <= m * 10.0**e <= hi * 2
    ]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _context_axis(ax: Any, contexts: Sequence[int]) -> None:
    """A log2 x axis labelled 1k, 4k, 16k, ... tokens."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log", base=2)
    ticks = [c for c in (1024, 4096, 16384, 65536, 262144) if c <= max(contexts) * 1.01]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x / 1024:g}k"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Models no other model beats on both less memory (x) and more quality (y), by memory."""
    front, best = [], float("-inf")
    for model, (_x, y) in sorted(points.items(), key=lambda kv: (kv[1][0], -kv[1][1], kv[0])):
        if y > best:
            front.append(model)
            best = y
    return front


QUALITY_SETS = (("zh", "Chinese: mean of C-Eval and CMMLU", ("ceval", "cmmlu")),
                ("en", "English: MMLU", ("mmlu",)))  # fmt: skip


def quality_vs_memory(report: Report) -> Figure | None:
    """Published quality (zh, en) against estimated int4 memory, Pareto front labelled."""
    memory, subset = _memory_at(report, "int4")
    panels = []
    for lang, label, benches in QUALITY_SETS:
        quality = _quality(report.published, benches)
        pts = {m: (memory[m], q) for m, q in quality.items() if m in memory}
        if len(pts) >= 2:
            panels.append((lang, label, pts, pareto_front(pts)))
    if not panels:
        return None
    title = "Quality against memory: published scores vs estimated int4 memory"
    x_label = "memory at int4 (GiB, estimated; log scale)"
    y_label = "accuracy (%, published)"

    def draw() -> Any:
        fig, axes = _figure(4.4, cols=len(panels))
        for ax, (_lang, label, pts, front) in zip(axes, panels, strict=True):
            others = [m for m in pts if m not in front]
            ax.scatter([pts[m][0] for m in others], [pts[m][1] for m in others], s=14,
                       color="#9a9a9a", label="other models")  # fmt: skip
            ax.plot([pts[m][0] for m in front], [pts[m][1] for m in front], "-o",
                    color=PALETTE[0], markersize=5, label="Pareto front")  # fmt: skip
            for m in front:
                ax.annotate(m, pts[m], textcoords="offset points", xytext=(4, -10), fontsize=7.5)
            _log_axis(ax, [p[0] for p in pts.values()])
            ax.set_title(label)
            ax.set_xlabel(x_label)
            ax.set_ylabel(y_label)
            ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return fig

    counts = ", ".join(f"{lang} {len(p)} models" for lang, _l, p, _f in panels)
    caption = (
        "Each point is a catalog model with published scores (first source listed; settings "
        f"differ between publishers) and an estimated peak memory at int4 ({subset}). The "
        f"Pareto front joins the models no other beats on both memory and score ({counts})."
    )
    return _draw("quality-vs-memory", title, caption, x_label, y_label, draw)


def memory_vs_context(report: Report) -> Figure | None:
    """Estimated memory against context length at fp16/int8/int4, GPU sizes as lines."""
    curves = report.memory_curves
    dtypes = [d for d in ("fp16", "int8", "int4") if any(p.dtype == d for p in curves)]
    if not dtypes:
        return None
    models = list(dict.fromkeys(p.model_id for p in curves))
    title = "Memory against context length for the leading candidates"
    x_label = "context length (tokens, log scale)"
    y_label = "peak memory (GiB, estimated)"

    def draw() -> Any:
        fig, axes = _figure(4.2, cols=len(dtypes))
        top = max(p.gib for p in curves)
        for ax, dtype in zip(axes, dtypes, strict=True):
            for i, model in enumerate(models):
                pts = [p for p in curves if p.model_id == model and p.dtype == dtype]
                ax.plot([p.context for p in pts], [p.gib for p in pts], "-",
                        color=PALETTE[i % len(PALETTE)], linewidth=1.4, label=model)  # fmt: skip
            for gb in GPU_SIZES_GB:
                gib = gb * GIB_PER_GB
                if gib <= top * 1.1:
                    ax.axhline(gib, color="#777777", linestyle=":", linewidth=0.9)
                    ax.text(1024, gib, f"{gb} GB", fontsize=7.5, va="bottom", color="#555555")
            _context_axis(ax, [p.context for p in curves])
            ax.set_title(dtype)
            ax.set_ylim(0, top * 1.1)
        axes[0].set_ylabel(y_label)
        axes[-1].legend(loc="upper left", fontsize=7, bbox_to_anchor=(1.0, 1.0))
        fig.supxlabel(x_label, fontsize=10)
        fig.tight_layout()
        return fig

    caption = (
        "Analytic estimate (weights by dtype with group scales, KV cache, prefill activations, "
        "runtime; last-position logits as in serving), batch 1, up to each model's native "
        "context. Dotted: GPU memory sizes as sold (decimal GB)."
    )
    return _draw("memory-vs-context", title, caption, x_label, y_label, draw)


def measured_vs_estimated(report: Report) -> Figure | None:
    """The estimator's error: measured peak memory next to the estimate of the same point."""
    lat = {(v.model_id, v.subset, v.metric): v for v in report.values
           if v.probe == "reference_latency"}  # fmt: skip
    points = sorted(
        (m, s)
        for m, s, metric in lat
        if metric == "peak_memory_mib" and (m, s, "est_peak_memory_mib") in lat
    )
    if not points:
        return None
    title = "Measured against estimated peak memory (reference models on this machine)"
    x_label = "peak memory over the loaded runtime (MiB)"

    def draw() -> Any:
        fig, (ax,) = _figure(0.55 * len(points) + 1.3)
        ys = range(len(points))
        measured = [lat[(m, s, "peak_memory_mib")].value for m, s in points]
        estimated = [lat[(m, s, "est_peak_memory_mib")].value for m, s in points]
        ax.barh([y - 0.2 for y in ys], measured, 0.4, color=PALETTE[0], label="measured")
        ax.barh([y + 0.2 for y in ys], estimated, 0.4, color=PALETTE[1], label="estimated")
        for y, meas, est in zip(ys, measured, estimated, strict=True):
            ax.text(max(meas, est), y, f"  error {(est - meas) / meas:+.0%}", va="center",
                    fontsize=8.5)  # fmt: skip
        ax.set_yticks(list(ys), [f"{m}\n{s}" for m, s in points], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(measured + estimated) * 1.25)
        ax.set_xlabel(x_label)
        ax.set_ylabel("model and point")
        ax.legend(loc="lower right")
        ax.grid(axis="y", visible=False)
        return fig

    caption = (
        "Measured: peak RSS during prefill and decode minus the RSS of the loaded runtime "
        "(random-weight reference model, own process). Estimated: the analytic estimator for "
        "the same point. Error = (estimated − measured) / measured."
    )
    return _draw("measured-vs-estimated", title, caption, x_label, "model and point", draw)


def throughput(report: Report) -> Figure | None:
    """Tokenizer encoding speed with its spread across repeats (one panel per mode)."""
    rows = [v for v in report.values if v.probe == "tokenizer_throughput"
            and v.metric in ("single_chars_per_s", "batch_chars_per_s")]  # fmt: skip
    if not rows:
        return None
    families = sorted({v.model_id for v in rows})
    langs = [lang for lang in ("zh", "en") if any(v.subset.endswith(f"/{lang}") for v in rows)]
    modes = [m for m in ("single", "batch") if any(v.metric.startswith(m) for v in rows)]
    threads = sorted({str(v.params.get("threads")) for v in rows if v.metric.startswith("batch")})
    title = "Tokenizer throughput, median and spread of the repeats"
    x_label = "characters per second (thousands, measured; whiskers: fastest–slowest pass)"

    def draw() -> Any:
        fig, axes = _figure(0.42 * len(families) * len(langs) / 2 + 1.6, cols=len(modes))
        for ax, mode in zip(axes, modes, strict=True):
            for j, lang in enumerate(langs):
                metric = f"{mode}_chars_per_s"
                got = {v.model_id: v for v in rows
                       if v.metric == metric and v.subset.endswith(f"/{lang}")}  # fmt: skip
                ys = [i + (j - 0.5) * 0.4 for i in range(len(families))]
                vals = [got[f].value / 1000 if f in got else 0.0 for f in families]
                lo = [(got[f].value - min(got[f].samples or [got[f].value])) / 1000
                      if f in got else 0.0 for f in families]  # fmt: skip
                hi = [(max(got[f].samples or [got[f].value]) - got[f].value) / 1000
                      if f in got else 0.0 for f in families]  # fmt: skip
                ax.barh(ys, vals, 0.4, xerr=[lo, hi], color=PALETTE[j], label=lang,
                        error_kw={"elinewidth": 1, "capsize": 2})  # fmt: skip
            ax.set_yticks(range(len(families)), families)
            ax.invert_yaxis()
            ax.set_title("one text per call" if mode == "single" else
                         f"batched ({', '.join(threads)} threads)")  # fmt: skip
            ax.grid(axis="y", visible=False)
        axes[0].set_ylabel("tokenizer family")
        axes[-1].legend(loc="lower right")
        fig.supxlabel(x_label, fontsize=10)  # one label under both panels: no overlap
        fig.tight_layout()
        return fig

    repeats = sorted({str(len(v.samples)) for v in rows if v.samples})
    processes = sorted({str(v.params["processes"]) for v in rows if v.params.get("processes")})
    where = (
        f"of {'/'.join(processes)} fresh process{'' if processes == ['1'] else 'es'}"
        if processes
        else "in a fresh process"
    )  # runs before several processes name none
    # Quick timing passes last 0.1 s; reports made before pass lengths were kept show 0.25 s,
    # the only length their (precise) timings used.
    lengths = sorted({float(v.params["min_pass_s"]) for v in rows if "min_pass_s" in v.params})
    caption = (
        f"Median pass of {'/'.join(repeats) or '?'} timed passes {where}, each pass at "
        f"least {'/'.join(f'{s:g}' for s in lengths) or '0.25'} s; whiskers span the fastest "
        "and the slowest pass. Wall-clock rates on this machine, which other processes share."
    )
    return _draw("throughput", title, caption, x_label, "tokenizer family", draw)


def _lang_of(subset: str) -> str | None:
    if re.search(r"(zho|cmn|zh|chinese|yue)", subset, re.I):
        return "zh"
    if re.search(r"(eng|\ben\b|english)", subset, re.I):
        return "en"
    return None


def _series_of(series: str) -> Callable[[ValueRow], str | None]:
    if series == "lang_subset":
        return lambda r: r.subset if _lang_of(r.subset) else None
    if series == "subset_or_metric":
        return lambda r: r.subset or r.metric
    return lambda r: r.subset


def declared_chart(chart: Any, rows: Sequence[ValueRow]) -> Figure | None:
    """A chart a probe declares (``metrics.ChartSpec``): grouped bars per target, or values
    against parameter count for ``params_scatter``."""
    if chart.group_rows_only:
        rows = [r for r in rows if "/" not in r.subset]
    if chart.series == "params_scatter":
        return _params_scatter(chart, rows)
    pick = _series_of(chart.series)
    picked = [(r, s) for r in rows if (s := pick(r)) is not None]
    if not picked:
        return None
    series = sorted({s for _r, s in picked})
    targets = sorted({r.model_id for r, _s in picked})
    lookup = {(r.model_id, s): r.value for r, s in picked}
    metrics = sorted({r.metric for r, _s in picked})
    units = sorted({r.unit for r, _s in picked})
    kinds = sorted({r.kind for r, _s in picked})
    x_label = f"{', '.join(metrics)} ({', '.join(units)}, {', '.join(kinds)})"

    def draw() -> Any:
        fig, (ax,) = _figure(0.22 * len(targets) * max(len(series), 1) + 1.4)
        height = 0.8 / max(len(series), 1)
        for j, name in enumerate(series):
            ys = [i - 0.4 + height * (j + 0.5) for i in range(len(targets))]
            vals = [lookup.get((t, name), 0.0) for t in targets]
            ax.barh(ys, vals, height, color=PALETTE[j % len(PALETTE)], label=name)
        ax.set_yticks(range(len(targets)), targets)
        ax.invert_yaxis()
        ax.set_xlabel(x_label)
        ax.set_ylabel("target")
        if len(series) > 1:
            ax.legend(loc="lower right", fontsize=8)
        ax.grid(axis="y", visible=False)
        return fig

    caption = f"{chart.caption} Kind: {', '.join(kinds)}."
    return _draw(chart.id, chart.title, caption, x_label, "target", draw)


def _params_scatter(chart: Any, rows: Sequence[ValueRow]) -> Figure | None:
    rows = [r for r in rows if isinstance(r.params.get("params_total"), int | float)]
    if not rows:
        return None
    x_label = "parameters (billions, log scale)"
    y_label = f"{chart.axis or rows[0].metric} ({rows[0].unit}, {rows[0].kind}; log scale)"

    def draw() -> Any:
        fig, (ax,) = _figure(4.2)
        ax.scatter([float(r.params["params_total"]) / 1e9 for r in rows],
                   [r.value for r in rows], s=12, color=PALETTE[0])  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        return fig

    return _draw(chart.id, chart.title, chart.caption, x_label, y_label, draw)


# Declared charts that a figure above draws better (the declared id is kept as the anchor).
REPLACED = {"tokens-per-char", "tokenizer-throughput", "memory-vs-params"}


FIGURES: tuple[tuple[str, Callable[[Report], Figure | None]], ...] = (
    ("tokenizers", tokens_per_char),
    ("tokenizers", throughput),
    ("tokenizers", context_windows),
    ("quality", quality_vs_memory),
    ("memory", memory_vs_context),
    ("memory", measured_vs_estimated),
)


def figures(report: Report) -> list[tuple[str, Figure]]:
    """(section id, figure) for every chart the data allows: the figures above, then every
    chart a probe declares that none of them replaces."""
    from llmselect.metrics import declared_metrics

    out = []
    for section, draw in FIGURES:
        fig = draw(report)
        if fig is not None:
            out.append((section, fig))
    for chart, declared in declared_metrics().charts():
        if chart.id in REPLACED:
            continue
        keys = {(d.probe, d.spec.name) for d in declared}
        rows = [r for r in report.values if (r.probe, r.metric) in keys]
        fig = declared_chart(chart, rows)
        if fig is not None:
            out.append((declared[0].spec.section, fig))
    return out
