"""Hard constraints, one small function each: ``check(candidate, query) -> reason | None``.

Each is a ``Constraint`` registry entry (``llmselect.registry.CONSTRAINTS``; plugins add theirs
through the ``llmselect.constraints`` entry-point group) that declares its name, the label of
its evidence and what it reads. A constraint may also fill the candidate (the memory constraint
chooses the precision) or add a caveat. They run in registry order; every reason found is kept,
so an excluded model shows all the rules it breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmselect.arch.params import ParamCount
from llmselect.catalog import ModelSpec
from llmselect.errors import LLMSelectError
from llmselect.recommend.fit import MemoryFit, as_stored, choose_precision, exact_count
from llmselect.recommend.licensing import LicenseCheck, check_license
from llmselect.recommend.settings import checkpoint_tuning

if TYPE_CHECKING:
    from llmselect.recommend.pipeline import Query

FINETUNE_TRAIN_SEQ = 2048  # tokens per training sample assumed for --finetune (typical SFT)


@dataclass
class Candidate:
    """One catalog model on its way through the constraints."""

    model: ModelSpec
    count: ParamCount | None = None
    count_problem: str | None = None
    license: LicenseCheck | None = None
    fit: MemoryFit | None = None
    tried: list[MemoryFit] = field(default_factory=list)
    finetune: Any = None
    speed: Any = None  # the speed term, computed once for the throughput floor and the score
    speed_floor: str = ""  # verified | not verified | not checked; "" without a floor
    kinds: dict[str, str] = field(default_factory=dict)  # constraint → label, where it varies
    caveats: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, model: ModelSpec) -> Candidate:
        count, problem = exact_count(model)
        return cls(model=model, count=count, count_problem=problem)

    @property
    def params_b(self) -> float | None:
        """Exact parameters, billions (None without an architecture)."""
        return self.count.total / 1e9 if self.count else None


@dataclass(frozen=True)
class Constraint:
    """A named hard rule, the label of the evidence it judges on, and what it reads."""

    name: str
    kind: str  # published | estimated | measured (a check may label its verdict: Candidate.kinds)
    check: Callable[[Candidate, Query], str | None]
    reads: tuple[str, ...] = ()


def constraints() -> tuple[Constraint, ...]:
    """The registered constraints in order (built-ins, then plugins)."""
    from llmselect.registry import CONSTRAINTS

    return tuple(CONSTRAINTS.load(name) for name in CONSTRAINTS.names())


def license_constraint(c: Candidate, q: Query) -> str | None:
    """The license must allow the purpose's use (conditional/unknown per the profile)."""
    check = check_license(c.model, q.profile.license_use, q.catalog)
    c.license = check
    name = check.license_name or check.license_id or "no license recorded"
    use = q.profile.license_use
    if check.allowed == "yes":
        return None
    if check.allowed == "conditional":
        if q.profile.conditional_license == "exclude":
            return f"license {name} allows {use} use only with conditions"
        n = len(check.conditions)
        c.caveats.append(
            f"license {check.license_id} is conditional ({n} condition{'s' * (n != 1)}"
            " listed under license.conditions)"
        )
        return None
    if check.allowed == "unknown":
        if q.profile.unknown_license == "allow":
            c.caveats.append("license not established: check it before use")
            return None
        return f"license {name}: {use} use not established (unknown never passes)"
    return f"license {name} does not allow {use} use"


def architecture_constraint(c: Candidate, q: Query) -> str | None:
    """Memory and size are only judged on exact numbers: no architecture, no recommendation."""
    return c.count_problem


def deployment_constraint(c: Candidate, q: Query) -> str | None:
    """What the purpose deploys: a base checkpoint is ranked only where the profile deploys base
    or any checkpoint, or with ``--finetune``; it is then labelled "for fine-tuning"."""
    if checkpoint_tuning(c.model) != "base":
        return None
    if q.profile.deploys == "instruct" and q.request.finetune == "none":
        return (
            f"base checkpoint (for fine-tuning): purpose '{q.profile.name}' deploys "
            "instruction-tuned models; --finetune lora|qlora|full ranks base checkpoints"
        )
    c.caveats.append("base checkpoint: for fine-tuning (not instruction-tuned)")
    return None


def size_constraint(c: Candidate, q: Query) -> str | None:
    """The exact parameter count under the purpose's cap and ``--max-params``."""
    if c.count is None:
        return None  # architecture_constraint has said why
    caps = [(q.profile.max_params_b, f"cap of purpose '{q.profile.name}'")]
    caps.append((q.request.max_params_b, "--max-params"))
    for cap, what in caps:
        if cap is not None and c.count.total > cap * 1e9:
            return f"{c.count.total / 1e9:.2f}B parameters (exact) > {cap:g}B {what}"
    return None


def context_constraint(c: Candidate, q: Query) -> str | None:
    """The native context window must hold the requested tokens."""
    window = c.model.context_length
    if window is None:
        return f"context window not recorded; cannot confirm {q.context} tokens"
    if window < q.context:
        return f"context window {window} tokens < {q.context} needed"
    return None


def memory_constraint(c: Candidate, q: Query) -> str | None:
    """Some allowed precision fits the usable memory per device less the headroom (exact
    estimator, requested context, the same convention as ``perf estimate``)."""
    if c.count is None:
        return None
    budget, req = q.budget_gib, q.request
    try:
        c.fit, c.tried = choose_precision(
            c.model, c.count, q.precisions, q.context, req.gpu, budget, req.logits, req.engine
        )
    except LLMSelectError as exc:  # a layout the engine's memory model does not cover
        return f"{req.engine} memory not modelled for this architecture: {exc}"
    if c.fit is not None:
        if c.fit.precision == "int4":
            published = as_stored(c.model, req.engine, c.fit.device)
            c.caveats.append(
                "int4: expect some quality loss against the published "
                + (f"scores, measured at {published[0]}" if published else "fp16 scores")
            )
        usable = q.request.gpu.usable_gib_each
        if c.fit.per_device_gib > TIGHT_FIT * usable:
            c.caveats.append(
                f"tight fit: {c.fit.per_device_gib:.1f} GiB of {usable:.1f} GiB usable "
                f"({c.fit.per_device_gib / usable:.0%}); a longer prompt or batch may not fit"
            )
        return None
    smallest = min(c.tried, key=lambda f: f.per_device_gib)
    return (
        f"needs {smallest.per_device_gib:.1f} GiB per device even at {smallest.precision} "
        f"({q.context} tokens) > {budget:.1f} GiB ({q.request.gpu.usable_gib_each:.1f} GiB "
        f"usable less {q.request.headroom:.0%} headroom)"
    )


def finetune_constraint(c: Candidate, q: Query) -> str | None:
    """With ``--finetune``, training memory per GPU (``llmselect.cost``, the same model as
    ``llmselect cost finetune``: ZeRO-3/FSDP over several GPUs) must fit each GPU."""
    mode = q.request.finetune
    if mode == "none" or c.model.arch is None:
        return None
    from llmselect.cost.finetune import FinetuneSetup, finetune_memory

    setup = FinetuneSetup(
        mode, seq=min(q.context, FINETUNE_TRAIN_SEQ), gpus=max(q.request.gpu.count, 1)
    )
    try:
        c.finetune = finetune_memory(c.model, setup)
    except LLMSelectError as exc:  # an architecture the cost model does not cover
        return str(exc)
    budget = q.budget_gib
    if c.finetune.per_gpu_gib > budget:
        return (
            f"{mode} fine-tuning needs {c.finetune.per_gpu_gib:.1f} GiB per GPU > "
            f"{budget:.1f} GiB ({c.finetune.rule})"
        )
    return None


def throughput_constraint(c: Candidate, q: Query) -> str | None:
    """With ``--min-tokens-per-s`` or the purpose's floor: a decode timing measured on the
    requested GPU in the setting the model is ranked at (dtype, engine, context) decides (below
    the floor excludes, at or above it verifies); one in another setting decides only the way
    the mismatch bounds the speed (``timings.py``: a lower bound can verify, an upper bound
    exclude), else it is shown and decides nothing. Without a deciding timing the bandwidth
    roofline, an upper bound, can exclude (below the floor) but never pass as checked: above
    the floor it leaves the floor "not verified", a caveat that names any timing that did not
    decide and why. Unchecked where the bandwidth is unknown."""
    floor = q.request.min_tokens_per_s or q.profile.min_tokens_per_s
    if floor is None or c.fit is None:
        return None
    from llmselect.recommend.terms import floor_timings, speed_term, timings_on

    c.speed = speed_term(c, q)
    floor_from = "--min-tokens-per-s" if q.request.min_tokens_per_s else "the purpose's floor"
    if c.speed.unit != "tok/s" or c.speed.raw is None:
        c.speed_floor = "not checked"
        if q.request.min_tokens_per_s:  # the purpose's floor is noted once, in the result
            c.caveats.append("throughput floor not checked: GPU bandwidth unknown (name the GPU)")
        return None
    gpu = q.request.gpu.name
    uses = floor_timings(c, q)
    # timings of one model disagreeing across settings: the floor must hold, so under it wins
    if under := [u for u in uses if u.excludes and u.tok_s < floor]:
        use = min(under, key=lambda u: u.tok_s)
        c.kinds["throughput"] = "measured"  # the exclusion's label: a timing, not a bound
        return (
            f"{use.tok_s:.1f} tok/s (measured on {gpu}: {use.setting.describe()}) < "
            f"{floor:g} tok/s ({floor_from})"
        )
    if any(u.verifies and u.tok_s >= floor for u in uses):
        c.speed_floor = "verified"
        return None
    bound = c.speed.raw
    if bound < floor:
        return (
            f"≤{bound:.1f} tok/s (estimated upper bound: the bandwidth roofline) < "
            f"{floor:g} tok/s ({floor_from})"
        )
    c.speed_floor = "not verified"
    timed = "; ".join(_undecided(u, floor) for u in uses) or f"no decode timing on {gpu}"
    if not uses and c.fit.gpus > 1 and timings_on(q.evidence.decode_on(c.model.id), q.request.gpu):
        timed = f"a decode timing of one {gpu} says nothing of this {c.fit.gpus}-GPU split"
    c.caveats.append(
        f"speed floor {floor:g} tok/s not verified: {timed}, and the "
        f"bandwidth roofline (≤{bound:.0f} tok/s estimated) is only an upper bound"
    )
    return None


def _undecided(use: Any, floor: float) -> str:
    """A timing that left the floor open, with its setting and why."""
    why = "; ".join(use.why) or "it decides only the other way"
    return (
        f"the decode timing on {use.timing.device} ({use.tok_s:.1f} tok/s at "
        f"{use.setting.describe()}) decides {use.decides} of it ({why})"
    )


TIGHT_FIT = 0.90  # within 10 % of the usable memory: shown as a caveat

LICENSE = Constraint("license", "published", license_constraint, ("license",))
ARCHITECTURE = Constraint("architecture", "published", architecture_constraint, ("architecture",))
DEPLOYMENT = Constraint("deployment", "published", deployment_constraint, ("tags", "base_model"))
SIZE = Constraint("size", "published", size_constraint, ("architecture",))
CONTEXT = Constraint("context", "published", context_constraint, ("context_length",))
MEMORY = Constraint("memory", "estimated", memory_constraint, ("architecture", "gpu"))
FINETUNE = Constraint("finetune", "estimated", finetune_constraint, ("architecture", "gpu"))
THROUGHPUT = Constraint("throughput", "estimated", throughput_constraint, ("decode_ms", "gpu"))
