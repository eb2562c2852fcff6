"""``--gpu`` parsing: sizes with their units, GPU names from the datasheet table, cpu budgets."""

from __future__ import annotations

import pytest
import yaml

from llmselect.errors import LLMSelectError
from llmselect.hardware import GPUS_FILE, load_gpus, parse_gpu, parse_size_gib, system_ram_gib

GIB = 1024**3


def test_a_gpu_size_in_gb_names_the_card() -> None:
    """GPU memory is sold in binary units: a "24 GB" RTX 4090 has 24 GiB (datasheet)."""
    budget = parse_gpu("24GB")
    assert budget.count == 1
    assert budget.memory_gib_each == 24 == load_gpus()["rtx-4090"].memory_gib
    assert "read as the card it names" in (budget.note or "")
    assert budget.bandwidth_gbs is None  # a bare size says nothing about speed
    assert parse_size_gib("24GB") == pytest.approx(24 * 10**9 / GIB)  # decimal elsewhere


@pytest.mark.parametrize(
    ("spec", "gib"),
    [("16GiB", 16.0), ("16 GiB", 16.0), ("80G", 80.0), ("512MiB", 0.5), ("1TB", 10**12 / GIB)],
)
def test_sizes_and_units(spec: str, gib: float) -> None:
    assert parse_size_gib(spec) == pytest.approx(gib)
    card = {"1TB": 1024.0}.get(spec, gib)  # --gpu reads a decimal unit as the card it names
    assert parse_gpu(spec).memory_gib_each == pytest.approx(card)


def test_count_times_size() -> None:
    budget = parse_gpu("2x80GB")
    assert budget.count == 2
    assert budget.memory_gib_each == 80
    assert budget.total_gib == 160
    assert budget.total == budget.total_gib
    assert budget.name == "80GB"


# Datasheet memory (GiB) and bandwidth (GB/s), from NVIDIA's product datasheets.
@pytest.mark.parametrize(
    ("spec", "name", "gib", "bandwidth"),
    [
        ("4090", "RTX-4090", 24, 1008),
        ("RTX-4090", "RTX-4090", 24, 1008),
        ("rtx4090", "RTX-4090", 24, 1008),
        ("3090", "RTX-3090", 24, 936),
        ("A100-80G", "A100-80G", 80, 2039),
        ("A100", "A100-40G", 40, 1555),
        ("H100", "H100", 80, 3350),
        ("T4", "T4", 16, 320),
        ("V100", "V100", 16, 900),
        ("L4", "L4", 24, 300),
        ("A10", "A10", 24, 600),
    ],
)
def test_named_gpus(spec: str, name: str, gib: float, bandwidth: float) -> None:
    budget = parse_gpu(spec)
    assert (budget.name, budget.count) == (name, 1)
    assert budget.memory_gib_each == gib
    assert budget.bandwidth_gbs == budget.bandwidth == bandwidth
    source = (budget.source or "").lower()
    assert "datasheet" in source or "whitepaper" in source


def test_count_times_named_gpu() -> None:
    budget = parse_gpu("2xA100-80G")
    assert (budget.count, budget.memory_gib_each, budget.total_gib) == (2, 80, 160)
    assert "2× A100-80G" in budget.describe()


def test_gpu_table_entries_cite_a_source() -> None:
    raw = yaml.safe_load(GPUS_FILE.read_text(encoding="utf-8"))
    assert len(raw) >= 12
    for entry in raw:
        assert entry["source"].strip(), entry["name"]
        assert entry["memory_gib"] > 0
        # unknown stays null, and the entry says so
        assert (entry["bandwidth_gbs"] or 0) > 0 or "bandwidth" in entry.get("note", ""), entry[
            "name"
        ]
    # aliases resolve without dashes too
    assert load_gpus()["a10080g"].name == "A100-80G"


def test_cpu_with_ram_option_and_inline_size() -> None:
    budget = parse_gpu("cpu", ram="16GB")
    assert budget.is_cpu and budget.count == 0
    assert budget.memory_gib_each == pytest.approx(16e9 / GIB)
    assert budget.total_gib == budget.memory_gib_each
    assert parse_gpu("cpu:32GiB").memory_gib_each == 32
    assert "no GPU" in (parse_gpu("cpu:8GiB").note or "")


def test_cpu_without_ram_uses_physical_memory() -> None:
    psutil = pytest.importorskip("psutil")
    budget = parse_gpu("CPU")
    assert budget.memory_gib_each == pytest.approx(psutil.virtual_memory().total / GIB, rel=0.02)
    assert system_ram_gib() == pytest.approx(budget.memory_gib_each)


@pytest.mark.parametrize(
    "spec",
    ["24XB", "", "  ", "abc", "0GB", "-4GB", "24", "0x80GB", "100x80GB", "x80GB", "RTX-9999"],
)
def test_bad_specs_raise_one_line_errors(spec: str) -> None:
    with pytest.raises(LLMSelectError) as info:
        parse_gpu(spec)
    assert "\n" not in str(info.value)


def test_bad_spec_message_names_the_input_and_the_remedy() -> None:
    with pytest.raises(LLMSelectError, match=r"24XB.*24GB"):
        parse_gpu("24XB")
    with pytest.raises(LLMSelectError, match="cannot read --gpu 'RTX-9999'.*RTX-4090"):
        parse_gpu("RTX-9999")


def test_ram_only_with_cpu() -> None:
    with pytest.raises(LLMSelectError, match="--ram applies only"):
        parse_gpu("24GB", ram="16GB")
    with pytest.raises(LLMSelectError, match="once"):
        parse_gpu("cpu:16GB", ram="16GB")
