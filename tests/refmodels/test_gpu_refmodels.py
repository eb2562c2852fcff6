"""GPU checks of the reference models (``pytest -m gpu``): CUDA kernels agree with the CPU
results, and a real-size model is built directly on the GPU in bf16."""

from __future__ import annotations

import time

import pytest
import torch

from llmselect.arch.count import count_params
from llmselect.arch.spec import ArchSpec
from llmselect.refmodels import build_model

pytestmark = pytest.mark.gpu

if not torch.cuda.is_available():  # pragma: no cover - CPU machines
    pytest.skip("needs CUDA", allow_module_level=True)


def tiny(family: str, **extra: object) -> ArchSpec:
    numbers: dict[str, object] = dict(
        family=family,
        hidden=64,
        layers=2,
        heads=4,
        kv_heads=4,
        intermediate=128,
        vocab=101,
        max_position=64,
        source="tiny test config",
    )
    numbers.update(extra)
    return ArchSpec(**numbers)  # type: ignore[arg-type]


CASES = {
    "gpt2": tiny("gpt2", tied_embeddings=True),
    "bloom": tiny("bloom", tied_embeddings=True),
    "llama-gqa": tiny("llama", kv_heads=2),
    "mistral-window": tiny("llama", kv_heads=2, sliding_window=4),
    "glm": tiny("glm", kv_heads=2, qkv_bias=True, rope_fraction=0.5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cuda_matches_cpu_with_padding_and_cache(name: str) -> None:
    arch = CASES[name]
    cpu = build_model(arch, seed=0)
    gpu = build_model(arch, seed=0, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    ids = torch.randint(0, 101, (3, 12))
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, :5] = 0
    mask[2, :9] = 0
    with torch.no_grad():
        want, _ = cpu(ids, attention_mask=mask)
        got, cache = gpu(ids.cuda(), attention_mask=mask.cuda(), cache=gpu.new_cache(3, 16))
        torch.testing.assert_close(
            got.cpu() * mask[..., None], want * mask[..., None], atol=2e-4, rtol=1e-4
        )
        step = torch.randint(0, 101, (3, 1))
        mask2 = torch.cat([mask, torch.ones(3, 1, dtype=torch.long)], 1)
        want2, _ = cpu(torch.cat([ids, step], 1), attention_mask=mask2)
        got2, _ = gpu(step.cuda(), attention_mask=mask2.cuda(), cache=cache)
        torch.testing.assert_close(got2[:, 0].cpu(), want2[:, -1], atol=2e-4, rtol=1e-4)


def test_real_size_bf16_build_on_gpu() -> None:
    # Llama-2-7B numbers (facts/models.yaml)
    arch = ArchSpec(
        family="llama", hidden=4096, layers=32, heads=32, kv_heads=32, intermediate=11008,
        vocab=32000, max_position=4096, source="Llama-2-7b-hf config.json",
    )  # fmt: skip
    torch.cuda.synchronize()
    start = time.perf_counter()
    model = build_model(arch, dtype=torch.bfloat16, device="cuda", seed=0)
    torch.cuda.synchronize()
    build_s = time.perf_counter() - start
    weights = torch.cuda.memory_allocated()
    assert weights == pytest.approx(2 * count_params(arch).total, rel=0.01)
    with torch.no_grad():
        cache = model.new_cache(1, 2048 + 32)
        ids = torch.randint(0, 32000, (1, 2048), device="cuda")
        logits, cache = model(ids, cache=cache)
        for _ in range(32):
            logits, cache = model(logits[:, -1:].argmax(-1), cache=cache)
    assert torch.isfinite(logits).all()
    peak = torch.cuda.max_memory_allocated()
    gib = 2**30
    print(f"7B bf16: build {build_s:.2f} s, weights {weights / gib:.2f} GiB,", end=" ")
    print(f"peak after 2048-token prefill + 32 decode steps {peak / gib:.2f} GiB")
    assert build_s < 60
