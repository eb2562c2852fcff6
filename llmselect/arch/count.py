"""Exact parameter counts of a model: its family's counter, or the common layout where the
family is ``other`` and the catalog records a total that confirms it."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from llmselect.arch.family import NO_REFERENCE, NO_REFERENCE_TRAITS, family
from llmselect.arch.params import ParamCount, count_from_traits
from llmselect.errors import LLMSelectError

if TYPE_CHECKING:
    from llmselect.arch.sizing import Sizing
    from llmselect.arch.spec import ArchSpec


def count_params(arch: ArchSpec) -> ParamCount:
    """Exact parameter count of ``arch`` as built by ``llmselect.refmodels``."""
    if arch.family == NO_REFERENCE:
        raise LLMSelectError(f"cannot count parameters of family {arch.family!r}")
    return family(arch.family).count_params(arch)


# A layout with no registered family is counted as the common modern decoder (SwiGLU, RoPE,
# RMSNorm, plus the ArchSpec fields); that count is used only where it reproduces the total the
# catalog records for the checkpoint, within this share.
UNREGISTERED_TOLERANCE = 0.005


def count_model(target: Any) -> ParamCount:
    """Exact count of a catalog model (or any object with ``arch``, ``id``, ``params_exact``).

    A stored ``sizing`` (transformers' own count of the config): its numbers. Registered
    families: their counter. ``other``: the common layout's count when it lands
    within 0.5 % of ``params_exact`` (GPT-J or ChatGLM-6B, whose blocks differ, do not);
    otherwise a one-line error saying the architecture is unknown.
    """
    sizing = getattr(target, "sizing", None)
    if sizing is not None:
        return count_from_sizing(sizing)
    arch = target.arch
    if arch is None:
        raise LLMSelectError(f"{target.id}: no architecture numbers in the catalog")
    if arch.family != NO_REFERENCE:
        return count_params(arch)
    count = count_from_traits(arch, NO_REFERENCE_TRAITS)
    published = getattr(target, "params_exact", None)
    if not published:
        raise LLMSelectError(
            f"{target.id}: family 'other' (no known block layout) and no recorded total to "
            "confirm a count"
        )
    if abs(count.total - published) > UNREGISTERED_TOLERANCE * published:
        raise LLMSelectError(
            f"{target.id}: family 'other' and the common decoder layout gives "
            f"{count.total / 1e9:.3f}B, not the recorded {published / 1e9:.3f}B"
        )
    return count


def count_from_sizing(sizing: Sizing) -> ParamCount:
    """A ``Sizing``'s counts as a ``ParamCount`` (same total and active count): each part is
    the sizing's ``params_<part>``, the embeddings its ``params_input_embedding``."""
    names = [f.name for f in fields(ParamCount) if f.name != "embeddings"]
    parts = {name: getattr(sizing, f"params_{name}") for name in names}
    return ParamCount(embeddings=sizing.params_input_embedding, **parts)
