"""``Family`` and ``Traits``: what code outside a family may know about it.

A family is registered in ``llmselect.registry.FAMILIES`` as ``"module:FAMILY"``. The object is
torch-free, so the memory estimator, ``perf estimate`` and ``recommend`` can read its traits and
count its parameters without importing torch; the model class and the weight converter are
``"module:attr"`` strings, imported only when a model is built or loaded.

Memory and latency code reason about ``Traits`` (the MLP kind, the position scheme, the
attention kind, the norm), never about family names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from llmselect.arch.params import ParamCount, count_from_traits
from llmselect.errors import LLMSelectError
from llmselect.registry import FAMILIES, import_path

if TYPE_CHECKING:
    from pydantic import BaseModel

    from llmselect.arch.spec import ArchSpec

# ArchSpec.family value of models with no reference implementation (published numbers only).
NO_REFERENCE = "other"


@dataclass(frozen=True)
class Traits:
    """The layout choices that change parameter counts, memory and what a model can run."""

    mlp: Literal["gelu", "swiglu"]  # gelu: up/down with biases; swiglu: gate, up, down
    position: Literal["learned", "rope", "alibi"]  # learned: a table capped at max_position
    # biased: biases on q, k, v and output (GPT-2, BLOOM); plain: q, k, v biases only when
    # arch.qkv_bias. ALiBi (position) is an additive float bias the kernel materialises.
    attention: Literal["biased", "plain"]
    norm: Literal["layernorm", "rmsnorm"]  # LayerNorm: gain + bias; RMSNorm: gain only
    embedding_norm: bool = False  # a norm right after the token embedding (BLOOM)
    # Checkpoint layout: q, k and v stored as one fused tensor even where attention is "plain"
    # (ChatGLM's query_key_value); llama.cpp keeps that fusion in its GGUF files.
    fused_qkv: bool = False


# Families without a reference implementation: the estimator sizes their MLP and activations
# as the common modern decoder (SwiGLU, RoPE, RMSNorm); weights come from the published count.
NO_REFERENCE_TRAITS = Traits(mlp="swiglu", position="rope", attention="plain", norm="rmsnorm")


@dataclass(frozen=True)
class Family:
    """One reference-model family: traits, config builder, model class, weight converter."""

    name: str
    description: str
    traits: Traits
    # ArchSpec → the model's config dataclass (raises LLMSelectError when the numbers do not fit)
    build_config: Callable[[ArchSpec], Any]
    # "module:Class" of the DecoderLM subclass (imports torch when resolved); None: the family
    # is counted and sized by the estimator but has no reference model to build or load yet
    model: str | None
    # "module:function": (HF state dict, config) → (ours, unknown names); None: the
    # ``convert_hf_state_dict`` of the model class's module
    converter: str | None = None
    hf_model_type: str | None = None  # transformers model_type with the same tensors
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # size → arch + source
    param_counter: Callable[[ArchSpec], ParamCount] | None = None  # default: from the traits
    # Checkpoint readers: the config.json ``model_type`` values this family reads, with its
    # reader (config, where) → ArchSpec, and the GGUF ``general.architecture`` values whose
    # metadata ``llmselect.arch.readers`` turns into this family's ArchSpec (None: the
    # ``hf_config_types`` names themselves, as llama.cpp names bloom, gpt2 and chatglm files; a
    # family whose files llama.cpp names otherwise, or that reads none, states them).
    hf_config_types: frozenset[str] = frozenset()
    from_hf_config: Callable[[Mapping[str, Any], str], ArchSpec] | None = None
    gguf_architectures: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.converter is None and self.model is not None:
            module = self.model.partition(":")[0]
            object.__setattr__(self, "converter", f"{module}:convert_hf_state_dict")
        if self.gguf_architectures is None:
            object.__setattr__(self, "gguf_architectures", self.hf_config_types)

    def model_class(self) -> type:
        """The family's ``DecoderLM`` subclass."""
        if self.model is None:
            raise LLMSelectError(_no_model(self.name))
        return import_path(self.model)  # type: ignore[no-any-return]

    def convert(self, hf_state_dict: dict[str, Any], cfg: Any) -> tuple[dict[str, Any], list[str]]:
        """Rename a transformers state dict to this family's parameter names."""
        if self.converter is None:
            raise LLMSelectError(_no_model(self.name))
        return import_path(self.converter)(hf_state_dict, cfg)  # type: ignore[no-any-return]

    def count_params(self, arch: ArchSpec) -> ParamCount:
        """Exact parameter count of ``arch`` as this family builds it."""
        if self.param_counter is not None:
            return self.param_counter(arch)
        return count_from_traits(arch, self.traits)


def _no_model(name: str) -> str:
    return (
        f"family {name!r} has no reference model yet: `perf estimate` and `recommend` size it, "
        "`perf measure` cannot run it"
    )


def require_reference_model(family_name: str, what: str, engine: str = "transformers") -> None:
    """One error line when ``family_name`` has no reference decoder to run: ``other`` (a layout
    transformers sizes, no family written for it) or a family that is counted only; ``engine``:
    the engine that can run it instead."""
    if family_name != NO_REFERENCE and family(family_name).model is not None:
        return
    raise LLMSelectError(
        f"{what}: no reference decoder for family {family_name!r} (`perf estimate` sizes it); "
        f"measure a checkpoint of it with --engine {engine}"
    )


def estimator_only(name: str) -> Callable[[ArchSpec], Any]:
    """The ``build_config`` of a family without a reference model: a one-line error."""

    def build_config(arch: ArchSpec) -> Any:
        raise LLMSelectError(_no_model(name))

    return build_config


C = TypeVar("C")


def config_from_arch(config: type[C], *sources: BaseModel, **computed: Any) -> C:
    """A reference model's config dataclass built from architecture numbers.

    The configs name their fields as ``ArchSpec`` (and ``MoESpec``) do, so each field is taken
    from ``computed`` when given there, else from the first of ``sources`` that declares it;
    a field none of them has keeps the dataclass default.
    """
    values = dict(computed)
    for f in fields(config):  # type: ignore[arg-type]
        if f.name not in values:
            holder = next((s for s in sources if f.name in type(s).model_fields), None)
            if holder is not None:
                values[f.name] = getattr(holder, f.name)
    return config(**values)


def family(name: str) -> Family:
    """The registered family ``name`` (``other`` has none: a clear error)."""
    if name == NO_REFERENCE:
        raise LLMSelectError(
            f"no reference implementation for family {name!r} (have: {', '.join(FAMILIES.names())})"
        )
    return FAMILIES.load(name)  # type: ignore[no-any-return]


def traits_of(family_name: str) -> Traits:
    """Traits of a family; models without a reference implementation get the common layout."""
    if family_name == NO_REFERENCE:
        return NO_REFERENCE_TRAITS
    return family(family_name).traits
