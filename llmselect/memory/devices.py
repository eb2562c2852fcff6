"""Memory bandwidth of known accelerators, for the decode roofline (datasheet numbers).

Used only when ``llmselect.hardware`` (the recommender's GPU table) has no entry for a device.
Bandwidths are bytes/s as printed on the vendor's datasheet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceBandwidth:
    """Peak memory bandwidth of one device model, with its source."""

    name: str
    match: tuple[str, ...]  # all of these substrings (lower case) must be in the device name
    bandwidth_bytes_per_s: float
    memory_gib: float
    source: str


_H100_DS = "NVIDIA H100 Tensor Core GPU datasheet"
_H200_DS = "NVIDIA H200 Tensor Core GPU datasheet"
_A100_DS = "NVIDIA A100 Tensor Core GPU datasheet"

KNOWN_DEVICES: tuple[DeviceBandwidth, ...] = (
    # "NVIDIA H100 80GB HBM3" is the SXM5 board; the PCIe board uses HBM2e.
    DeviceBandwidth("H100 SXM5 80GB", ("h100", "hbm3"), 3.35e12, 80, _H100_DS),
    DeviceBandwidth("H100 PCIe 80GB", ("h100", "pcie"), 2.0e12, 80, _H100_DS),
    DeviceBandwidth("H100 NVL 94GB", ("h100", "nvl"), 3.9e12, 94, _H100_DS),
    DeviceBandwidth("H200 141GB", ("h200",), 4.8e12, 141, _H200_DS),
    DeviceBandwidth("A100 SXM4 80GB", ("a100", "80gb"), 2.039e12, 80, _A100_DS),
    DeviceBandwidth("A100 40GB", ("a100", "40gb"), 1.555e12, 40, _A100_DS),
    DeviceBandwidth(
        "GeForce RTX 4090", ("4090",), 1.008e12, 24, "NVIDIA Ada Lovelace architecture whitepaper"
    ),
)


def lookup_bandwidth(device_name: str) -> DeviceBandwidth | None:
    """The bandwidth entry for a device name as the driver reports it, or None when unknown."""
    hw = _from_hardware_table(device_name)
    if hw is not None:
        return hw
    low = device_name.lower()
    for dev in KNOWN_DEVICES:
        if all(m in low for m in dev.match):
            return dev
    return None


def driver_name_candidates(device_name: str) -> list[str]:
    """Names to look up in ``data/gpus.yaml`` for a name as the driver reports it:
    "NVIDIA H100 80GB HBM3" → "h100 80gb hbm3", "h100-80gb", ..., "h100"; a PCIe or NVL board
    is tried by that name before the bare model (whose entry is the SXM board)."""
    low = device_name.lower()
    for vendor in ("nvidia", "tesla", "geforce"):
        low = low.replace(vendor, " ")
    words = low.split()
    out = [device_name, " ".join(words)]
    if words:
        first = words[0]
        variants = [w for w in ("pcie", "nvl") if w in low]
        out += [f"{first}-{w}" for w in variants]
        out += [f"{first}-{w}" for w in words[1:]]
        if not variants:
            out.append(first)
    return list(dict.fromkeys(out))


def _from_hardware_table(device_name: str) -> DeviceBandwidth | None:
    """Ask the recommender's GPU table (``data/gpus.yaml``, every entry sourced) first."""
    try:
        from llmselect import hardware  # type: ignore[attr-defined]
    except ImportError:
        return None
    finder = getattr(hardware, "find_gpu", None) or getattr(hardware, "lookup_gpu", None)
    if finder is None:
        return None
    gpu = None
    for name in driver_name_candidates(device_name):
        try:
            gpu = finder(name)
        except Exception:  # noqa: BLE001 - an unknown name in another table is not our error
            gpu = None
        if gpu is not None:
            break
    bw = getattr(gpu, "bandwidth_bytes_per_s", None)
    if bw is None:
        gbs = getattr(gpu, "bandwidth_gbs", None) or getattr(gpu, "bandwidth_gb_s", None)
        bw = gbs * 1e9 if gbs else None
    if not bw:
        return None
    return DeviceBandwidth(
        name=str(getattr(gpu, "name", device_name)),
        match=(),
        bandwidth_bytes_per_s=float(bw),
        memory_gib=float(getattr(gpu, "memory_gib", 0) or 0),
        source=f"llmselect/data/gpus.yaml: {getattr(gpu, 'source', '')}",
    )
