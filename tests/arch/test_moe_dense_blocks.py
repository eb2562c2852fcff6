"""Which blocks of a mixture-of-experts config are dense, as transformers builds them: DeepSeek's
``first_k_dense_replace``, Qwen-MoE's ``decoder_sparse_step`` and ``mlp_only_layers``; and the
decoder's block list of classes that keep it outside ``model.layers`` (BLOOM, GPT-2, GPT-NeoX,
Falcon, OPT). Counts are transformers' own modules on the meta device."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from llmselect.arch.family import NO_REFERENCE_TRAITS  # noqa: E402
from llmselect.arch.hf_sizing import sizing_from_config  # noqa: E402
from llmselect.arch.params import count_from_traits, moe_layers  # noqa: E402
from llmselect.catalog import load_catalog  # noqa: E402
from llmselect.errors import LLMSelectError  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "data" / "configs"
TINY = dict(hidden_size=64, num_attention_heads=4, vocab_size=128)


def _meta(config: object) -> object:
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(config)


def _sum(model: object, pattern: str) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if re.search(pattern, n))


def _sparse_blocks(model: object) -> list[int]:
    names = (n for n, _ in model.named_parameters() if ".experts." in n)
    return sorted({int(re.search(r"layers\.(\d+)\.", n).group(1)) for n in names})


def _deepseek_v3(dense: int) -> object:
    return transformers.DeepseekV3Config(
        **TINY, num_hidden_layers=5, intermediate_size=96, moe_intermediate_size=16,
        n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, n_group=1, topk_group=1,
        first_k_dense_replace=dense, kv_lora_rank=16, q_lora_rank=24, qk_nope_head_dim=8,
        qk_rope_head_dim=8, v_head_dim=8, num_key_value_heads=4,
    )  # fmt: skip


@pytest.mark.parametrize("dense", [0, 1, 3])
def test_deepseek_v3_leading_dense_blocks_and_counts(dense: int) -> None:
    config = _deepseek_v3(dense)
    model = _meta(config)
    arch, sizing = sizing_from_config(config.to_dict(), "small deepseek_v3")
    assert arch.moe.dense_layers == dense == 5 - len(_sparse_blocks(model))
    assert arch.moe.layer_step == 1
    count = count_from_traits(arch, NO_REFERENCE_TRAITS)
    assert count.routed_experts == _sum(model, r"\.experts\.") == sizing.params_routed_experts
    # router bias (e_score_correction_bias, one per expert) is the only MLP tensor not counted
    router_bias = _sum(model, r"e_score_correction_bias")
    assert count.mlp == _sum(model, r"\.mlp\.") - router_bias
    assert count.active == sizing.params_active - router_bias


@pytest.mark.parametrize(
    ("step", "mlp_only", "dense", "layer_step"),
    [(1, [], 0, 1), (1, [0, 1], 2, 1), (2, [], 0, 2), (2, [0], 0, 2)],
)
def test_qwen2_moe_sparse_step_and_mlp_only_layers(
    step: int, mlp_only: list[int], dense: int, layer_step: int
) -> None:
    config = transformers.Qwen2MoeConfig(
        **TINY, num_hidden_layers=6, intermediate_size=96, moe_intermediate_size=16,
        shared_expert_intermediate_size=32, num_experts=8, num_experts_per_tok=2,
        decoder_sparse_step=step, mlp_only_layers=mlp_only, num_key_value_heads=2,
    )  # fmt: skip
    model = _meta(config)
    arch, sizing = sizing_from_config(config.to_dict(), "small qwen2_moe")
    assert (arch.moe.dense_layers, arch.moe.layer_step) == (dense, layer_step)
    sparse = _sparse_blocks(model)
    count = count_from_traits(arch, NO_REFERENCE_TRAITS)
    assert count.routed_experts == _sum(model, r"\.experts\.") == sizing.params_routed_experts
    dense = "|".join(str(i) for i in range(6) if i not in sparse)
    dense_mlp = _sum(model, rf"layers\.({dense})\.mlp\.") if dense else 0
    assert dense_mlp == (arch.layers - moe_layers(arch)) * 3 * arch.hidden * arch.intermediate


def test_mlp_only_layers_off_the_grid_is_one_error() -> None:
    config = transformers.Qwen2MoeConfig(
        **TINY, num_hidden_layers=6, intermediate_size=96, moe_intermediate_size=16,
        num_experts=8, num_experts_per_tok=2, mlp_only_layers=[2],
    )  # fmt: skip
    with pytest.raises(LLMSelectError, match=r"blocks \[0, 1, 3, 4, 5\] are not leading"):
        sizing_from_config(config.to_dict(), "small qwen2_moe")


@pytest.mark.parametrize(("name", "dense"), [("deepseek-v3", 3), ("kimi-k2-instruct", 1)])
def test_real_configs_keep_their_dense_blocks(name: str, dense: int) -> None:
    cfg = json.loads((CONFIGS / f"{name}.json").read_text(encoding="utf-8"))
    assert cfg["first_k_dense_replace"] == dense
    arch, sizing = sizing_from_config(cfg, name)
    assert arch.moe.dense_layers == dense
    count = count_from_traits(arch, NO_REFERENCE_TRAITS)
    assert count.routed_experts == sizing.params_routed_experts


@pytest.mark.parametrize(
    ("model_id", "dense"),
    [("kimi-k2-instruct", 1), ("kimi-k2.5", 1), ("deepseek-v3.1-nvfp4", 3), ("glm-5", 3)],
)
def test_catalog_additions_state_the_dense_blocks(model_id: str, dense: int) -> None:
    entry = load_catalog().get(model_id)
    assert entry.arch.moe.dense_layers == dense
    count = count_from_traits(entry.arch, NO_REFERENCE_TRAITS)
    assert count.routed_experts == entry.sizing.params_routed_experts


# (config, the MLP's up-projection in transformers' first block, its inner side)
DECODERS = [
    (transformers.BloomConfig(hidden_size=64, n_layer=3, n_head=4, vocab_size=128),
     "transformer.h.0.mlp.dense_h_to_4h.weight", 0),
    (transformers.GPT2Config(n_embd=64, n_layer=3, n_head=4, vocab_size=128),
     "transformer.h.0.mlp.c_fc.weight", 1),
    (transformers.GPTNeoXConfig(**TINY, num_hidden_layers=3, intermediate_size=96),
     "gpt_neox.layers.0.mlp.dense_h_to_4h.weight", 0),
    (transformers.FalconConfig(**TINY, num_hidden_layers=3),
     "transformer.h.0.mlp.dense_h_to_4h.weight", 0),
    (transformers.OPTConfig(**TINY, num_hidden_layers=3, ffn_dim=96, word_embed_proj_dim=64),
     "model.decoder.layers.0.fc1.weight", 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "up", "side"), DECODERS, ids=[d[0].model_type for d in DECODERS]
)
def test_decoders_outside_model_layers_are_counted(config: object, up: str, side: int) -> None:
    """BLOOM, GPT-2, GPT-NeoX, Falcon and OPT keep their blocks outside ``model.layers``."""
    model = _meta(config)
    cfg = {**config.to_dict(), "model_type": config.model_type}
    arch, sizing = sizing_from_config(cfg, f"small {config.model_type}")
    assert sizing.params_total == sum(p.numel() for p in model.parameters())
    assert arch.layers == 3 and arch.moe is None
    assert arch.intermediate == dict(model.named_parameters())[up].shape[side]
