"""The ``ray`` executor on a real local Ray cluster (``ray.init`` with 2 CPUs).

One end-to-end test runs in the default tier (the same records as the local executor, a
worker killed mid-unit, a fresh process per unit); the smoke suite and a driver killed
mid-run are ``slow``. Without Ray installed, ``--executor ray`` is one clear line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from _fault_driver import SUITE as FAULT_SUITE
from _fault_driver import FaultRowsProbe, targets

from llmselect import registry, suite
from llmselect.executors.ray import RayExecutor, unit_resources
from llmselect.probes.base import RunContext
from llmselect.records import Measurement
from llmselect.registry import PROBES
from llmselect.report import build_report, render_markdown
from llmselect.store import MEASUREMENTS, iter_records, read_run_info, scan_shard
from llmselect.suite import load_suite, parse_suite, run_suite
from llmselect.units import Unit

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def test_resources_a_gpu_for_cuda_device_units_only() -> None:
    ctx = RunContext(run_id="r")
    latency = PROBES.load("reference_latency")
    estimate = PROBES.load("memory_estimate")
    target = targets(1)[0]
    cuda = latency(latency.Config(device="cuda"))
    assert unit_resources(Unit(target, cuda), ctx) == {"num_cpus": 1, "num_gpus": 1}
    assert unit_resources(Unit(target, latency(latency.Config(device="cpu"))), ctx) == {
        "num_cpus": 1
    }
    # An estimate "for cuda" is arithmetic: it needs no GPU to run.
    on_paper = estimate(estimate.Config(device="cuda"))
    assert unit_resources(Unit(target, on_paper), ctx) == {"num_cpus": 1}


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--suite", "smoke"],
        ["perf", "sweep", "-m", "gpt2:124m", "--points", "1x16"],
        ["eval", "--model", "foo/bar", "--tasks", "gsm8k"],
    ],
    ids=["run", "perf-sweep", "eval"],
)
def test_ray_less_install_says_so_in_one_line(tmp_path: Path, command: list[str]) -> None:
    argv = ["llmselect", *command, "--executor", "ray"]
    script = (
        "import sys; sys.modules['ray'] = None\n"  # what `import ray` sees without the package
        "from llmselect.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "Error: --executor ray needs Ray: pip install 'llmselect[ray]'"
    assert not list((Path(os.environ["LLMSELECT_HOME"]) / "results").glob("*"))


def test_report_groups_measurements_by_host_and_device() -> None:
    def rec(target: str, host: str, device: str) -> Measurement:
        return Measurement(run_id="r", model_id=target, probe="reference_latency",
                           metric="decode_ms_per_token", value=1.0, unit="ms", host=host,
                           device=device, params={"_unit": target})  # fmt: skip

    records = [rec("a", "node1", "cuda:0 (NVIDIA A100)"), rec("b", "node2", "cuda:0 (NVIDIA L4)"),
               rec("c", "node2", "cuda:0 (NVIDIA L4)")]  # fmt: skip
    md = render_markdown(build_report(records, None, None, datetime.now(timezone.utc)))
    assert "Where the units ran" in md
    assert "| node1 | cuda:0 (NVIDIA A100) | 1 | 1 | reference_latency |" in md
    assert "| node2 | cuda:0 (NVIDIA L4) | 2 | 2 | reference_latency |" in md


@contextlib.contextmanager
def local_ray(**env: str) -> Iterator[object]:
    """A 2-CPU local Ray cluster whose workers can import the test probes."""
    ray = pytest.importorskip("ray")
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    passed = {
        "PYTHONPATH": path,
        "LLMSELECT_PLUGINS": "none",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **{k: os.environ[k] for k in ("LLMSELECT_DATA_ROOT",) if k in os.environ},
        **env,
    }
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": passed})  # fmt: skip
    try:
        yield ray
    finally:
        ray.shutdown()


def _fault_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_PROBES, "die_once", "_ray_probes:DieOnceProbe")
    monkeypatch.setitem(
        suite.DEFAULT_RESOLVERS,
        "fault",
        lambda names: [t for t in targets(4) if names is None or t.id in names],
    )


MINI_SMOKE = {
    "name": "mini-smoke",
    "tokenizers": ["llama2", "chatglm3", "qwen2"],
    "models": ["qwen2.5-7b-instruct", "llama-2-7b"],
    "corpora": ["default"],
    "limits": {"limit": 20},
    "probes": [
        {"probe": "tokenizer_efficiency"},
        {"probe": "memory_estimate", "config": {"dtype": ["bf16", "int4"], "seq": [2048]}},
        {"probe": "license"},
    ],
}


def _comparable(run_dir: Path) -> list[tuple[object, ...]]:
    return sorted(
        (r.model_id, r.probe, r.metric, r.subset, r.unit, r.kind, r.status, r.value, r.n)
        for r in iter_records(run_dir)
    )


def test_ray_cluster_gives_the_local_records_and_survives_a_killed_worker(
    with_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fault_kinds(monkeypatch)
    spec = parse_suite(MINI_SMOKE, "test")
    local = run_suite(spec, results_root=tmp_path / "local")
    markers = tmp_path / "markers"
    markers.mkdir()
    dying = parse_suite(
        {"name": "die", "probes": [{"probe": "die_once", "config": {"marker_dir": str(markers)}}]},
        "test",
    )
    with local_ray():
        on_ray = run_suite(spec, results_root=tmp_path / "ray", executor=RayExecutor())
        died = run_suite(dying, results_root=tmp_path / "die", executor=RayExecutor())

    # The same records as in process, value for value, each written once by the driver.
    assert (on_ray.ok, on_ray.errors) == (local.ok, local.errors) and on_ray.errors == 0
    assert _comparable(on_ray.run_dir) == _comparable(local.run_dir)
    assert scan_shard(on_ray.run_dir / MEASUREMENTS).skipped == []
    assert read_run_info(on_ray.run_dir).state == "finished"
    hosts = {(r.host, r.device) for r in iter_records(on_ray.run_dir)}
    assert hosts == {(socket.gethostname(), "cpu")}
    rep = build_report(list(iter_records(on_ray.run_dir)), None, None, datetime.now(timezone.utc))
    ((group),) = rep.devices or []
    assert (group.host, group.device, group.units) == (socket.gethostname(), "cpu", on_ray.ok)

    # t001's first worker was killed mid-unit; Ray ran the unit again in a new process.
    killed_pid = int((markers / "t001.killed").read_text())
    records = list(iter_records(died.run_dir))
    pids = {r.model_id: int(r.value) for r in records if r.metric == "pid"}
    assert (died.ok, died.errors) == (4, 0) and sorted(pids) == ["t000", "t001", "t002", "t003"]
    assert len(records) == 8 and scan_shard(died.run_dir / MEASUREMENTS).skipped == []
    assert pids["t001"] != killed_pid
    assert len(set(pids.values())) == 4 and os.getpid() not in pids.values()  # fresh workers


@pytest.mark.slow
def test_smoke_suite_on_ray_matches_local(with_data_root: Path, tmp_path: Path) -> None:
    spec = load_suite(str(ROOT / "benchmarks" / "smoke.yaml"))
    local = run_suite(spec, results_root=tmp_path / "local")
    with local_ray():
        on_ray = run_suite(spec, results_root=tmp_path / "ray", executor=RayExecutor())
    assert (on_ray.ok, on_ray.errors, on_ray.skipped) == (local.ok, local.errors, local.skipped)

    def keys(run_dir: Path) -> list[tuple[object, ...]]:
        return sorted(
            (r.model_id, r.probe, r.metric, r.subset, r.unit, r.kind, r.status)
            for r in iter_records(run_dir)
        )

    assert keys(on_ray.run_dir) == keys(local.run_dir)
    timed = {"tokenizer_throughput", "reference_latency"}  # measured times differ per run
    same = [k for k in _comparable(local.run_dir) if k[1] not in timed]
    assert [k for k in _comparable(on_ray.run_dir) if k[1] not in timed] == same


@pytest.mark.slow
def test_driver_killed_mid_run_resumes_on_ray(tmp_path: Path) -> None:
    """kill -9 of the driver during a Ray run; --resume on Ray stores each record once."""
    suite_file = tmp_path / "faults.yaml"
    suite_file.write_text(yaml.safe_dump(FAULT_SUITE))
    store = tmp_path / "store"
    env = {**os.environ, "LLMSELECT_RESULTS": str(store), "FAULT_UNITS": "12",
           "FAULT_SLEEP_S": "0.5", "PYTHONPATH": str(TESTS)}  # fmt: skip
    args = [sys.executable, str(TESTS / "_fault_driver.py"), "run", "--suite", str(suite_file),
            "--executor", "ray"]  # fmt: skip
    # Its own process group: the kill takes the driver and the local cluster it started.
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        shards = [p for p in store.glob(f"*/{MEASUREMENTS}") if p.read_bytes().count(b"\n")]
        if shards:
            break
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    run_dir = shards[0].parent
    env["FAULT_SLEEP_S"] = "0"
    done = subprocess.run([*args, "--resume", run_dir.name], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    scan = scan_shard(run_dir / MEASUREMENTS)
    assert scan.skipped == []
    assert sorted((r.model_id, r.metric) for r in scan.records) == sorted(
        (t.id, f"power_{k}") for t in targets(12) for k in (1, 2, 3)
    )


def test_worker_without_the_drivers_data_fails_the_unit_with_the_reason(
    with_data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker checks its data root against the driver's manifests before each unit: a
    missing folder or other data is that unit's recorded error; the same data runs it."""
    from llmselect.executors.remote import driver_data
    from llmselect.executors.remote import run_remote as _run_remote

    ctx = RunContext(run_id="r")
    unit = Unit(targets(1)[0], FaultRowsProbe())
    expected = driver_data(ctx)  # the driver: LLMSELECT_DATA_ROOT = the real data bundle
    manifest = with_data_root / "tokenizers" / "MANIFEST.json"
    real_sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert expected is not None and expected["tokenizers/MANIFEST.json"] == real_sha

    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(tmp_path / "not-mounted"))
    (missing,) = _run_remote(unit, ctx, expected)
    assert (missing.status, missing.model_id, missing.probe) == ("error", "t000", "fault_rows")
    assert f"data root {tmp_path / 'not-mounted'} does not exist" in (missing.error or "")
    assert missing.host == socket.gethostname()

    other = tmp_path / "other-copy"
    (other / "tokenizers").mkdir(parents=True)
    (other / "tokenizers" / "MANIFEST.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(other))
    (stale,) = _run_remote(unit, ctx, expected)
    assert stale.status == "error" and "holds other data" in (stale.error or "")
    empty_sha = hashlib.sha256(b"{}").hexdigest()
    named = f"tokenizers/MANIFEST.json sha256 {empty_sha[:12]} (expected sha256 {real_sha[:12]})"
    assert named in (stale.error or "")

    monkeypatch.setenv("LLMSELECT_DATA_ROOT", str(with_data_root))
    ran = _run_remote(unit, ctx, expected)
    assert [r.value for r in ran] == [0.0, 0.0, 0.0] and {r.status for r in ran} == {"ok"}


def test_ray_start_asks_no_hub_and_passes_the_data_root(
    with_data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with the local executor, nothing asks the hub before a unit needs it; the workers
    get the driver's data root, as an absolute path (their working folder is not ours)."""
    from llmselect import hub

    monkeypatch.chdir(with_data_root.parent)
    monkeypatch.setenv("LLMSELECT_DATA_ROOT", with_data_root.name)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    asked: list[str] = []
    monkeypatch.setattr(hub, "_answers", lambda url: asked.append(url))
    monkeypatch.setattr(hub, "_reachable", {})

    class Cluster:  # what RayExecutor._connect calls on the ray module
        started: dict[str, object] = {}

        def is_initialized(self) -> bool:
            return False

        def init(self, **kwargs: object) -> None:
            self.started.update(kwargs)

    cluster = Cluster()
    assert RayExecutor()._connect(cluster) is True
    assert asked == []
    env = cluster.started["runtime_env"]["env_vars"]  # type: ignore[index]
    assert env["LLMSELECT_DATA_ROOT"] == str(with_data_root) and "HF_HUB_OFFLINE" not in env
