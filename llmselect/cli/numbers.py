"""The one check every numeric option goes through.

Python parses ``nan``, ``inf`` and ``1e999`` as floats, and a range check (``min=0``) lets NaN
through because every comparison with it is false: a filter given ``--max-params nan`` then
silently keeps everything. ``require_finite`` puts one check in front of every float option of
a command (the top-level group calls it on each command it builds), so no command can forget
it; ranges stay declared on the options themselves (``typer.Option(min=..., max=...)``).
``check_threads`` is the shared callback of the ``--threads`` options, ``check_above_zero`` that
of the options where 0 would mean nothing (a memory cap, a bandwidth).
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable
from typing import Any

import typer


def _mentions_float(annotation: Any) -> bool:
    """``float``, ``float | None``, ``list[float]``, ``Annotated[float, ...]``."""
    return annotation is float or any(_mentions_float(a) for a in typing.get_args(annotation))


def _not_finite(value: Any) -> bool:
    values = value if isinstance(value, list | tuple) else [value]
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


def _finite_first(callback: Callable[..., Any] | None) -> Callable[..., Any]:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        if _not_finite(value):
            raise typer.BadParameter(f"{value!r} is not a finite number.", ctx=ctx, param=param)
        return callback(ctx, param, value) if callback is not None else value

    check.finite = True  # type: ignore[attr-defined]
    return check


def require_finite(command: Any) -> None:
    """Make every float option of ``command`` (and of its subcommands) refuse NaN and ±inf."""
    for param in command.params:
        descriptor = getattr(param, "type_descriptor", None)
        annotation = getattr(descriptor, "annotation", None)
        if _mentions_float(annotation) and not getattr(param.callback, "finite", False):
            param.callback = _finite_first(param.callback)
    for sub in getattr(command, "commands", {}).values():
        require_finite(sub)


def check_threads(value: int | None) -> int | None:
    """``--threads``: at most the CPUs this process may use (more only oversubscribes them and
    would be recorded as if it had run that way)."""
    from llmselect.hardware import usable_cpus  # not at import: ``--help`` stays light

    if value is not None and value > (cpus := usable_cpus()):
        raise typer.BadParameter(f"{value} is more than the {cpus} CPUs this process may use.")
    return value


def check_above_zero(value: float | None) -> float | None:
    """An option that is a size or a rate: 0 is no such thing, so it is refused, never taken as
    "not given" (a 0 MiB cap would otherwise be no cap at all)."""
    if value is not None and value <= 0:
        raise typer.BadParameter(
            f"{value:g} is not above 0; give a positive value or leave it out."
        )
    return value
