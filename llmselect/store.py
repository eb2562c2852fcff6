"""JSONL result store: ``<results>/<run_id>/measurements.jsonl`` plus ``run.json``.

One writer per run, many readers, and no byte that can make either lose or misread a record:

- The writer holds a per-run lock (``.lock``, an advisory ``flock`` the kernel drops when the
  process dies, even by ``kill -9``); a second writer of the same run gets a one-line error.
- A unit's records go out as one ``O_APPEND`` write and an ``fsync``; a write that fails part
  way (full or read-only disk) is cut back, so the shard only ever grows by whole units.
- Each record of a unit carries ``params._unit`` (the unit key) and ``params._part`` (``i/n``),
  so a unit is complete only when all its parts are there. On open, a torn last line or an
  incomplete last unit (a kill during a write) is set aside to ``measurements.torn.<offset>``
  with a warning naming that byte offset; ``--resume`` then runs that unit again, once.
- Readers decode line by line and survive any bytes: invalid UTF-8, junk, ``[]``, ``null``,
  mistyped fields and repeated parts are skipped, counted, and reported with line and offset.
- ``run.json`` is replaced atomically and says the run's state; a ``running`` run whose lock
  is free was killed, and readers report it as ``interrupted``.

Shards from other machines merge by copying run folders side by side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llmselect.config import results_dir
from llmselect.errors import LLMSelectError
from llmselect.records import (
    BestKey,
    LatestKey,
    Measurement,
    RunInfo,
    RunState,
    best_key,
    is_sampled,
    latest_key,
    latest_order,
    more_informative,
    utcnow,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

MEASUREMENTS = "measurements.jsonl"
RUN_INFO = "run.json"
LOCK = ".lock"
TORN_PREFIX = "measurements.torn."
UNIT_PARAM = "_unit"
PART_PARAM = "_part"
# A unit run again by --resume (its stored outcome was an error) is stored as attempt 2, 3, ...;
# readers keep only a unit's newest attempt. The first attempt carries no such param.
ATTEMPT_PARAM = "_attempt"


class RunLockedError(LLMSelectError):
    """Another process is writing this run."""


# --- locking ---------------------------------------------------------------------------------


def _try_lock(fd: int, exclusive: bool) -> bool:
    """Take an advisory whole-file lock without waiting; False when another holder has it."""
    try:
        import fcntl
    except ImportError:  # Windows: a byte-range lock on the first byte
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_locked(run_dir: Path) -> bool:
    """True while some process holds the run's writer lock."""
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd, exclusive=False)
    finally:
        os.close(fd)  # closing drops the probe lock


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedLine:
    """A line of a shard that is not a record, and why."""

    line: int  # 1-based
    offset: int  # byte offset of the line's start
    reason: str


@dataclass
class ShardScan:
    """What reading one shard found: the records, and everything skipped on the way."""

    path: Path
    records: list[Measurement] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # byte offset of each record's line
    skipped: list[SkippedLine] = field(default_factory=list)
    size: int = 0

    def describe_skipped(self, most: int = 3) -> str:
        """One line: how many lines were skipped, the first few with line, offset and reason."""
        shown = "; ".join(
            f"line {s.line} at byte {s.offset}: {s.reason}" for s in self.skipped[:most]
        )
        more = f"; and {len(self.skipped) - most} more" if len(self.skipped) > most else ""
        return f"{len(self.skipped)} unreadable line(s) skipped in {self.path} ({shown}{more})"


def _unit_part(rec: Measurement) -> tuple[str, int, int] | None:
    """``(unit key, i, n)`` of a record written by this store, None for unit-less records."""
    unit, part = rec.params.get(UNIT_PARAM), rec.params.get(PART_PARAM)
    if not isinstance(unit, str) or not isinstance(part, str):
        return None
    i, _, n = part.partition("/")
    if not (i.isdigit() and n.isdigit()):
        return None
    return unit, int(i), int(n)


def _attempt(rec: Measurement) -> int:
    value = rec.params.get(ATTEMPT_PARAM, 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _unit_id(rec: Measurement) -> tuple[str, str, str, str] | None:
    """``(run id, target, probe, unit key)`` of a record written by this store."""
    unit = rec.params.get(UNIT_PARAM)
    return (rec.run_id, rec.model_id, rec.probe, unit) if isinstance(unit, str) else None


def _drop_superseded(scan: ShardScan) -> None:
    """Keep only each unit's newest attempt (a failed unit run again replaces its error)."""
    newest: dict[tuple[str, str, str, str], int] = {}
    for rec in scan.records:
        if (uid := _unit_id(rec)) is not None:
            newest[uid] = max(newest.get(uid, 1), _attempt(rec))
    if all(n == 1 for n in newest.values()):
        return
    kept = [
        (o, r)
        for o, r in zip(scan.offsets, scan.records, strict=True)
        if (uid := _unit_id(r)) is None or _attempt(r) == newest[uid]
    ]
    scan.offsets, scan.records = [o for o, _ in kept], [r for _, r in kept]


def _parse_line(raw: bytes) -> Measurement | str:
    """A record, or the reason the line is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start} of the line"
    try:
        data = json.loads(text)
    except ValueError:
        return "not JSON"
    if not isinstance(data, dict):
        return f"not a JSON object ({type(data).__name__})"
    try:
        return Measurement.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(record)"
        return f"not a record: {loc}: {first['msg']}"


def scan_shard(path: Path) -> ShardScan:
    """Read a shard as bytes, line by line; nothing in it can raise, everything odd is counted.

    A last line without its newline is a write in progress or a torn one: skipped and counted.
    A part of a unit seen before (same run, target, probe, unit key, attempt and part) is a
    duplicate. Of a unit stored more than once (a failed unit run again), only the newest attempt
    is kept.
    """
    scan = ShardScan(path=path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return scan
    except OSError as exc:
        scan.skipped.append(SkippedLine(0, 0, f"cannot read the file: {exc.strerror}"))
        return scan
    scan.size = len(data)
    seen: dict[tuple[str, str, str, str, int, int], int] = {}
    offset, line_no = 0, 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        line_no += 1
        if end < 0:
            scan.skipped.append(
                SkippedLine(line_no, offset, "incomplete last line (torn or still being written)")
            )
            break
        raw = data[offset:end].strip()
        if raw:
            parsed = _parse_line(raw)
            if isinstance(parsed, str):
                scan.skipped.append(SkippedLine(line_no, offset, parsed))
            else:
                up = _unit_part(parsed)
                key = (
                    (parsed.run_id, parsed.model_id, parsed.probe, up[0], _attempt(parsed), up[1])
                    if up
                    else None
                )
                if key is not None and key in seen:
                    scan.skipped.append(
                        SkippedLine(line_no, offset, f"duplicate of line {seen[key]}")
                    )
                else:
                    if key is not None:
                        seen[key] = line_no
                    scan.records.append(parsed)
                    scan.offsets.append(offset)
        offset = end + 1
    _drop_superseded(scan)
    return scan


_warned: set[tuple[str, int]] = set()


def _warn_skipped(scan: ShardScan) -> None:
    """Log the skipped lines of a shard once per process and file size."""
    if not scan.skipped:
        return
    token = (str(scan.path), scan.size)
    if token not in _warned:
        _warned.add(token)
        log.warning("%s", scan.describe_skipped())


def checked_run_id(run_id: str, option: str) -> str:
    """``run_id`` as given to ``option`` (``--resume``, ``--run``), stripped; one error when it
    is empty (an unset shell variable) or not a plain run folder name (a path would reach
    outside the result store)."""
    name = run_id.strip()
    if not name:
        raise LLMSelectError(f"{option} needs a run id; `llmselect results list` shows them")
    if name in {".", ".."} or "/" in name or os.sep in name:
        raise LLMSelectError(
            f"{option} takes a run id from `llmselect results list`, not a path: {run_id!r}"
        )
    return name


def iter_run_dirs(root: Path | None = None) -> list[Path]:
    """Run folders, oldest first (run ids sort by time)."""
    base = Path(root) if root else results_dir()
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if (p / MEASUREMENTS).is_file())


def iter_records(run_dir: Path) -> Iterator[Measurement]:
    """Records of one run; unreadable lines are skipped and reported as a warning."""
    scan = scan_shard(run_dir / MEASUREMENTS)
    _warn_skipped(scan)
    yield from scan.records


def read_run_info(run_dir: Path) -> RunInfo | None:
    """The run's ``run.json``, or None if missing/corrupt."""
    path = run_dir / RUN_INFO
    try:
        return RunInfo.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def run_state(run_dir: Path, info: RunInfo | None = None) -> str:
    """The run's true state: a ``running`` run that no process holds was killed."""
    info = info if info is not None else read_run_info(run_dir)
    if info is None:
        return "unknown"
    state = info.state or ("finished" if info.finished_at else "running")
    if state == "running" and not is_locked(run_dir):
        return "interrupted"
    return state


def load_records(
    root: Path | None = None, run_ids: Iterable[str] | None = None
) -> list[Measurement]:
    """All records of the selected runs (all runs when ``run_ids`` is None)."""
    wanted = set(run_ids) if run_ids is not None else None
    out: list[Measurement] = []
    for run_dir in iter_run_dirs(root):
        if wanted is None or run_dir.name in wanted:
            out.extend(iter_records(run_dir))
    return out


def records_frame(records: Iterable[Measurement]) -> pd.DataFrame:
    """Records as a flat DataFrame (params stay a dict column)."""
    import pandas as pd

    rows = [json.loads(r.model_dump_json()) for r in records]
    columns = list(Measurement.model_fields)
    return pd.DataFrame(rows, columns=columns)


def latest(records: Iterable[Measurement]) -> list[Measurement]:
    """The newest ``ok`` record with a finite value per key (``records.latest_key``), in key order.

    The one definition of "current value" that the report, the recommender and ``results``
    read (``store_index`` keeps the same on disk): records sort by ``records.latest_order``
    (run id, then the start instant), and the last one wins.
    """
    newest: dict[LatestKey, Measurement] = {}
    for rec in sorted(records, key=latest_order):
        if _current(rec):
            newest[latest_key(rec)] = rec
    return [newest[k] for k in sorted(newest)]


def most_informative(records: Iterable[Measurement]) -> list[Measurement]:
    """Per key and setting (``records.best_key``), the ``ok`` record with a sampling error and
    a finite value that holds the most evidence (``records.more_informative``: a known sampling
    error, then the most documents, then the newest). ``latest`` says what was measured last;
    this is what the recommender weighs, so a quick ``eval --limit 2`` never hides a full run
    (``store_index`` keeps the same on disk)."""
    best: dict[BestKey, Measurement] = {}
    for rec in sorted(records, key=latest_order):
        if _current(rec) and is_sampled(rec) and more_informative(rec, best.get(best_key(rec))):
            best[best_key(rec)] = rec
    return list(best.values())


def _current(rec: Measurement) -> bool:
    """An ``ok`` record with a finite value: one that can be a current value."""
    return rec.status == "ok" and rec.value is not None and math.isfinite(rec.value)


def load(
    root: Path | None = None, latest_only: bool = True, run_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """The store as a DataFrame; with ``latest_only`` the newest ok row per key (``latest``)."""
    records = load_records(root, run_ids)
    return records_frame(latest(records) if latest_only else records)


def _complete_units(records: Iterable[Measurement]) -> set[tuple[str, str, str]]:
    parts: dict[tuple[str, str, str], set[int]] = {}
    total: dict[tuple[str, str, str], int] = {}
    done: set[tuple[str, str, str]] = set()
    for rec in records:
        unit = rec.params.get(UNIT_PARAM)
        if not isinstance(unit, str):
            continue
        key = (rec.model_id, rec.probe, unit)
        up = _unit_part(rec)
        if up is None:  # stored before parts were numbered: one line means done
            done.add(key)
            continue
        parts.setdefault(key, set()).add(up[1])
        total[key] = up[2]
    done.update(k for k, seen in parts.items() if len(seen) >= total[k])
    return done


def completed_keys(run_dir: Path) -> set[tuple[str, str, str]]:
    """(model_id, probe, unit key) of units whose records are all in the run, for resuming."""
    return _complete_units(scan_shard(run_dir / MEASUREMENTS).records)


@dataclass(frozen=True)
class ResumeState:
    """What a resumed run finds stored: whole units, those among them whose outcome is an
    error (``--resume`` runs them again unless told to keep them), and each unit's attempt."""

    done: set[tuple[str, str, str]]
    failed: set[tuple[str, str, str]]
    attempts: dict[tuple[str, str, str], int]


def resume_state(run_dir: Path) -> ResumeState:
    """The stored outcome of every unit of a run (its newest attempt only)."""
    records = scan_shard(run_dir / MEASUREMENTS).records
    failed: set[tuple[str, str, str]] = set()
    attempts: dict[tuple[str, str, str], int] = {}
    for rec in records:
        if (uid := _unit_id(rec)) is None:
            continue
        key = uid[1:]
        attempts[key] = max(attempts.get(key, 1), _attempt(rec))
        if rec.status == "error":
            failed.add(key)
    done = _complete_units(records)
    return ResumeState(done=done, failed=failed & done, attempts=attempts)


def stamp_unit(
    records: Iterable[Measurement], unit_key: str, attempt: int = 1
) -> list[Measurement]:
    """Mark a unit's records with its key and ``i/n`` part, so readers can tell a whole unit,
    and, from the second attempt on, with the attempt (readers keep the newest)."""
    recs = list(records)
    n = len(recs)
    extra = {ATTEMPT_PARAM: attempt} if attempt > 1 else {}
    return [
        r.model_copy(
            update={"params": {**r.params, UNIT_PARAM: unit_key, PART_PARAM: f"{i}/{n}", **extra}}
        )
        for i, r in enumerate(recs, start=1)
    ]


# --- writing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (main thread, POSIX) until the block is done."""
    import signal
    import threading

    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so a reader sees the old or the new file, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _io_error(action: str, path: Path, exc: OSError) -> LLMSelectError:
    return LLMSelectError(f"cannot {action} {path}: {exc.strerror or exc}")


class RunWriter:
    """The single writer of one run: holds its lock, appends whole units, keeps its state true.

    Use it as a context manager (or call ``close``): leaving by Ctrl-C marks the run
    ``interrupted``, by another exception ``failed``, normally ``finished`` unless the caller
    already set a state.
    """

    def __init__(
        self, run_info: RunInfo, root: Path | None = None, folder: Path | None = None
    ) -> None:
        self.root = Path(root) if root else results_dir()
        self.run_info = run_info
        # ``folder``: the run's own folder elsewhere (a sweep's output folder), same layout
        self.dir = Path(folder) if folder else self.root / run_info.run_id
        self.path = self.dir / MEASUREMENTS
        self.set_aside: list[Path] = []
        self._lock_fd: int | None = None
        self._fd: int | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _io_error("create results folder", self.dir, exc) from exc
        self._acquire_lock()
        try:
            self._repair_tail()
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise _io_error("write to", self.path, exc) from exc
            self._set_state("running", reason=None, finished=False)
        except BaseException:
            self.close()
            raise

    # -- lock and repair --

    def _acquire_lock(self) -> None:
        lock_path = self.dir / LOCK
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _io_error("write to", lock_path, exc) from exc
        if not _try_lock(fd, exclusive=True):
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(fd)
            raise RunLockedError(
                f"run {self.run_info.run_id} is being written by another process"
                f"{f' ({holder})' if holder else ''}; wait for it to end or start a new run"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd

    def _repair_tail(self) -> None:
        """Set aside a torn last line and an incomplete last unit left by a killed writer."""
        scan = scan_shard(self.path)
        if scan.size == 0:
            return
        cut = scan.size
        torn = [s for s in scan.skipped if s.reason.startswith("incomplete last line")]
        if torn:
            cut = torn[0].offset
        # The last unit is incomplete when its parts are not all there; only the tail can be,
        # since the writer appends whole units one after another.
        kept = [(o, r) for o, r in zip(scan.offsets, scan.records, strict=True) if o < cut]
        if kept:
            last = _unit_part(kept[-1][1])
            if last is not None:
                unit = (kept[-1][1].model_id, kept[-1][1].probe, last[0])
                if unit not in _complete_units(r for _o, r in kept):
                    first = min(
                        o for o, r in kept
                        if (up := _unit_part(r)) and (r.model_id, r.probe, up[0]) == unit
                    )  # fmt: skip
                    if all(
                        (up := _unit_part(r)) and (r.model_id, r.probe, up[0]) == unit
                        for o, r in kept
                        if o >= first
                    ):
                        cut = first
        if cut >= scan.size:
            return
        aside = self.dir / f"{TORN_PREFIX}{cut}"
        try:
            with self.path.open("rb") as fh:
                fh.seek(cut)
                tail = fh.read()
            _write_atomic(aside, tail)
            with self.path.open("r+b") as fh:
                fh.truncate(cut)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise _io_error("repair the torn end of", self.path, exc) from exc
        self.set_aside.append(aside)
        log.warning(
            "%s: torn write at byte %d (%d bytes, an unfinished unit) set aside in %s; "
            "that unit runs again on resume",
            self.path,
            cut,
            len(tail),
            aside.name,
        )

    # -- state --

    def _set_state(self, state: RunState, reason: str | None, finished: bool) -> None:
        update: dict[str, Any] = {"state": state, "stop_reason": reason}
        update["finished_at"] = utcnow() if finished else None
        self.run_info = self.run_info.model_copy(update=update)
        self.write_run_info()

    def write_run_info(self) -> None:
        """(Re)write ``run.json`` atomically."""
        path = self.dir / RUN_INFO
        try:
            _write_atomic(path, self.run_info.model_dump_json(indent=2).encode())
        except OSError as exc:
            raise _io_error("write", path, exc) from exc

    def finish(self, state: RunState = "finished", reason: str | None = None) -> None:
        """Record how the run ended (``run.json``); appending stays possible until ``close``.

        On a broken disk the state cannot be written: that is logged, and since the lock
        drops with the process, readers still report the run as interrupted.
        """
        try:
            self._set_state(state, reason, finished=True)
        except LLMSelectError as exc:
            log.warning("run %s ended %s, but %s", self.run_info.run_id, state, exc)

    def close(self) -> None:
        """Release the shard and the lock (a ``running`` run becomes ``finished``)."""
        if self._fd is not None and self.run_info.state == "running":
            self.finish("finished")
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        if exc_type is not None and self.run_info.state == "running":
            if issubclass(exc_type, KeyboardInterrupt):
                self.finish("interrupted", "interrupted (Ctrl-C or SIGTERM)")
            else:
                self.finish("failed", f"{exc_type.__name__}: {exc}"[:300])
        self.close()

    def __del__(self) -> None:
        # A writer dropped without close still releases its descriptors (no state change).
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- appending --

    def append(self, records: Iterable[Measurement]) -> int:
        """Append records as one write; a failed write leaves the shard as it was.

        Ctrl-C and SIGTERM wait until the write and its fsync are done, so a stop lands
        between units, never inside one.
        """
        if self._fd is None:
            raise LLMSelectError(f"run {self.run_info.run_id} is closed")
        data = b"".join((r.model_dump_json() + "\n").encode("utf-8") for r in records)
        if not data:
            return 0
        fd = self._fd
        start = os.fstat(fd).st_size
        with _signals_held():
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError as exc:  # full or read-only disk, file-size limit
                with contextlib.suppress(OSError):  # else the next open sets the tail aside
                    os.ftruncate(fd, start)  # no half unit left behind
                raise _io_error("append records to", self.path, exc) from exc
        return data.count(b"\n")
