"""Hardware budgets: ``--gpu`` specs such as ``24GB``, ``16GiB``, ``2x80GB``, ``4090`` or ``cpu``.

Units: GPU memory is sold in binary units (a "24 GB" RTX 4090 has 24 GiB), so a ``--gpu`` size
in ``GB`` names the card it describes: ``24GB`` = 24 GiB, as ``24GiB`` and ``24G``. Elsewhere
(``--ram``, ``cpu:16GB``, ``parse_size_gib``) ``GB``/``MB``/``TB`` are decimal (10⁹ bytes).

Usable memory, one rule for every GPU: what the driver lets processes allocate (``visible_gib``
in ``data/gpus.yaml``: the total ``nvidia-smi`` and ``torch.cuda.mem_get_info`` report, after
the ECC and driver reserve; a T4 shows 15 GiB of its 16), with the CUDA context counted inside
the memory estimate (``memory.estimate.CUDA_OVERHEAD_MIB``). A card without a recorded visible
figure, or a bare size, uses its full size and says so.

``cpu`` means "no GPU: weights in system RAM, quantized (int8/int4) as llama.cpp-style runtimes
do". Its budget is ``--ram`` when given (``cpu:32GB`` works too), else the machine's physical RAM.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from llmselect.config import PACKAGE_DATA
from llmselect.errors import LLMSelectError
from llmselect.names import normalize

GPUS_FILE = PACKAGE_DATA / "gpus.yaml"
BYTES_PER_GIB = 1024**3

# unit → bytes; "G" alone is read as GiB (how nvidia-smi and most people mean it)
_UNITS = {
    "gb": 10**9,
    "mb": 10**6,
    "tb": 10**12,
    "gib": 1024**3,
    "mib": 1024**2,
    "tib": 1024**4,
    "g": 1024**3,
}
_SIZE = re.compile(r"^(?:(\d+)\s*[x×*]\s*)?(\d+(?:\.\d+)?)\s*([a-z]+)$")
_COUNT_PREFIX = re.compile(r"^(\d+)\s*[x×*]\s*(.+)$")


@dataclass(frozen=True)
class GpuSpec:
    """One accelerator model from ``data/gpus.yaml``."""

    name: str
    memory_gib: float
    bandwidth_gbs: float | None
    bf16_tflops: float | None
    fp16_tflops: float | None
    source: str
    note: str | None = None
    fp8_tflops: float | None = None  # dense FP8 tensor peak; None where the part has no FP8
    power_w: float | None = None  # board power (TDP/TGP) from the same datasheet
    visible_gib: float | None = None  # what the driver reports as total (after its reserve)
    visible_source: str | None = None


@dataclass(frozen=True)
class GpuBudget:
    """What the user has: ``count`` devices of ``memory_gib_each`` GiB (count 0 = CPU only)."""

    count: int
    memory_gib_each: float
    name: str  # "RTX-4090", "24GB", "cpu"
    bandwidth_gbs: float | None = None  # per device, decimal GB/s; None when unknown
    bf16_tflops: float | None = None
    source: str | None = None  # datasheet, or how the size was read
    note: str | None = None  # unit conversion or assumption, shown to the user
    usable_gib: float | None = None  # per device, what a process can allocate; None: the size
    usable_note: str | None = None

    @property
    def usable_gib_each(self) -> float:
        """Memory a process can use per device (GiB): the driver's visible total, else the size."""
        return self.usable_gib if self.usable_gib is not None else self.memory_gib_each

    @property
    def total_gib(self) -> float:
        """All memory the budget offers, GiB (weights may be split across devices)."""
        return self.memory_gib_each * max(self.count, 1)

    @property
    def is_cpu(self) -> bool:
        return self.count == 0

    @property
    def bandwidth(self) -> float | None:
        """Alias of ``bandwidth_gbs`` (GB/s per device)."""
        return self.bandwidth_gbs

    @property
    def total(self) -> float:
        """Alias of ``total_gib``."""
        return self.total_gib

    def describe(self) -> str:
        """``2× A100-80G (80.0 GiB each, 160.0 GiB total)``."""
        if self.is_cpu:
            return f"CPU only ({self.memory_gib_each:.1f} GiB RAM)"
        each = f"{self.memory_gib_each:.2f}".rstrip("0").rstrip(".")
        if self.count == 1:
            return f"{self.name} ({each} GiB)"
        return f"{self.count}× {self.name} ({each} GiB each, {self.total_gib:g} GiB total)"


@lru_cache(maxsize=2)
def load_gpus(path: Path = GPUS_FILE) -> dict[str, GpuSpec]:
    """Known GPUs by normalized name and alias (also without dashes: ``rtx4090``)."""
    from llmselect.datafiles import read_yaml_cached

    try:
        raw = read_yaml_cached(Path(path)) or []
    except LLMSelectError as exc:
        raise LLMSelectError(f"GPU table: {exc}") from exc
    table: dict[str, GpuSpec] = {}
    for entry in raw:
        spec = GpuSpec(
            name=entry["name"],
            memory_gib=float(entry["memory_gib"]),
            bandwidth_gbs=entry.get("bandwidth_gbs"),
            bf16_tflops=entry.get("bf16_tflops"),
            fp16_tflops=entry.get("fp16_tflops"),
            source=entry["source"],
            note=entry.get("note"),
            fp8_tflops=entry.get("fp8_tflops"),
            power_w=entry.get("power_w"),
            visible_gib=entry.get("visible_gib"),
            visible_source=entry.get("visible_source"),
        )
        for alias in (spec.name, *entry.get("aliases", [])):
            key = normalize(alias)
            table[key] = spec
            table[key.replace("-", "")] = spec
    return table


def parse_size_gib(text: str) -> float:
    """``24GB`` → 22.35 (GiB), ``16GiB`` → 16.0; raises ``LLMSelectError`` on anything else."""
    match = _SIZE.match(text.strip().lower())
    if not match or match.group(1) or match.group(3) not in _UNITS:
        raise LLMSelectError(
            f"cannot read memory size {text!r}: use e.g. 24GB (decimal), 16GiB (binary) or 80G"
        )
    value = float(match.group(2))
    if value <= 0:
        raise LLMSelectError(f"memory size must be positive, got {text!r}")
    return value * _UNITS[match.group(3)] / BYTES_PER_GIB


def system_ram_gib() -> float | None:
    """Physical RAM of this machine in GiB (POSIX), or None when it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / BYTES_PER_GIB
    except (ValueError, OSError, AttributeError):
        return None


_CARD_UNITS = {"gb": "gib", "mb": "mib", "tb": "tib"}  # GPU memory is sold in binary units


def _size_budget(count: int, text: str, shown: str) -> GpuBudget:
    match = _SIZE.match(text.strip().lower())
    unit = match.group(3) if match else ""
    binary = _CARD_UNITS.get(unit)
    parse_size_gib(shown)  # the size as written: its errors quote the user's spelling
    gib = parse_size_gib(text[: match.start(3)] + binary if match and binary else text)
    note = (
        f"{shown} read as the card it names: {gib:g} GiB per device (GPU memory is sold in "
        "binary units; a '24 GB' card has 24 GiB)"
        if binary
        else f"{shown} = {gib:.2f} GiB per device"
    )
    return GpuBudget(
        count=count,
        memory_gib_each=gib,
        name=shown,
        source="memory size given on the command line",
        note=note + "; the driver's reserve of an unnamed card is unknown: the full size is "
        "used (name the GPU, e.g. T4, for its visible memory); bandwidth unknown (name a GPU "
        "for speed estimates)",
    )


def _cpu_budget(rest: str | None, ram: str | None) -> GpuBudget:
    """``rest``: the size after ``cpu:`` (None for a bare ``cpu``); ``ram``: ``--ram``."""
    if rest is not None and not rest.strip():
        raise LLMSelectError("--gpu cpu: needs a RAM size after the colon, e.g. cpu:32GB")
    if ram is not None and not ram.strip():
        raise LLMSelectError("--ram is empty: give a RAM size, e.g. --ram 32GB")
    if rest and ram:
        raise LLMSelectError("give the CPU RAM budget once: either cpu:32GB or --ram 32GB")
    if rest or ram:
        gib = parse_size_gib(rest or ram or "")
        how = "RAM budget given on the command line"
    else:
        detected = system_ram_gib()
        if detected is None:
            raise LLMSelectError("cannot read this machine's RAM; pass --ram 32GB")
        gib = detected
        how = "physical RAM of this machine"
    return GpuBudget(
        count=0,
        memory_gib_each=gib,
        name="cpu",
        source=how,
        note=f"no GPU: quantized weights in {gib:.1f} GiB of system RAM ({how})",
    )


def parse_gpu(spec: str, ram: str | None = None) -> GpuBudget:
    """Read a ``--gpu`` value: a size, ``NxSIZE``, a GPU name, ``NxNAME``, or ``cpu[:SIZE]``.

    ``ram`` is the ``--ram`` option, used only with ``cpu``.
    """
    text = spec.strip().lower()
    if not text:
        raise LLMSelectError("--gpu is empty: give e.g. 24GB, 2x80GB, 4090, A100-80G, T4 or cpu")
    if text == "cpu" or text.startswith("cpu:"):
        return _cpu_budget(spec.strip()[4:] if text != "cpu" else None, ram)
    if ram is not None:
        raise LLMSelectError("--ram applies only to --gpu cpu")
    count = 1
    prefix = _COUNT_PREFIX.match(text)
    if prefix:
        count, text = int(prefix.group(1)), prefix.group(2).strip()
        if count < 1 or count > 64:
            raise LLMSelectError(f"GPU count must be between 1 and 64, got {count} in {spec!r}")
    if re.match(r"^\d+(\.\d+)?\s*[a-z]+$", text) and not _known_gpu(text):
        try:
            shown = re.sub(r"^\s*\d+\s*[x×*]\s*", "", spec.strip(), flags=re.IGNORECASE)
            return _size_budget(count, text, shown)
        except LLMSelectError as exc:
            raise LLMSelectError(
                f"cannot read --gpu {spec!r}: {exc}; or name a GPU such as 4090, A100-80G, T4"
            ) from None
    gpu = _known_gpu(text)
    if gpu is None:
        known = sorted({g.name for g in load_gpus().values()})
        raise LLMSelectError(
            f"cannot read --gpu {spec.strip()!r}: give a size (24GB decimal, 16GiB binary, "
            f"2x80GB), a GPU name ({', '.join(known)}) or cpu"
        )
    return GpuBudget(
        count=count,
        memory_gib_each=gpu.memory_gib,
        name=gpu.name,
        bandwidth_gbs=gpu.bandwidth_gbs,
        bf16_tflops=gpu.bf16_tflops or gpu.fp16_tflops,
        source=gpu.source,
        note=gpu.note,
        usable_gib=gpu.visible_gib,
        usable_note=(
            f"{gpu.name}: {gpu.visible_gib:g} GiB visible of {gpu.memory_gib:g} GiB "
            f"({gpu.visible_source})"
            if gpu.visible_gib is not None
            else f"{gpu.name}: visible memory not recorded; the card's {gpu.memory_gib:g} GiB used"
        ),
    )


def find_gpu(text: str) -> GpuSpec | None:
    """The GPU named ``text`` (name or alias, any case, dashes optional), or None."""
    return _known_gpu(text.strip().lower())


def _known_gpu(text: str) -> GpuSpec | None:
    table = load_gpus()
    key = normalize(text)
    return table.get(key) or table.get(key.replace("-", ""))


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one (``taskset``, a
    container's cpuset), else every logical CPU."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
