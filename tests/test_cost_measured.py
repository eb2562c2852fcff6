"""Fine-tuning memory estimate vs torch's allocator peak of real training steps on CPU.

A random-weight LLaMA (transformers ``LlamaForCausalLM``, SDPA attention, fp32) takes two AdamW
steps — full fine-tuning, and LoRA through PEFT — with and without gradient checkpointing. The
measured peak is the maximum of the bytes live in torch's CPU allocator, summed from the
allocation and free events the profiler records (``profile_memory=True``) over the whole run,
model construction included. The estimate is ``finetune_memory`` for the same setup, less its
CUDA runtime constant (a CPU allocator has none).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from llmselect.arch.spec import ArchSpec  # noqa: E402
from llmselect.cost.finetune import FinetuneSetup, finetune_memory  # noqa: E402

HIDDEN, LAYERS, HEADS, KV_HEADS, INTER, VOCAB = 256, 4, 4, 2, 688, 4096
BATCH, SEQ = 4, 128
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def allocator_peak_bytes(prof) -> int:  # type: ignore[no-untyped-def]
    """Highest sum of live bytes over the profiler's ``[memory]`` (alloc > 0, free < 0) events."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def measured_peak(method: str, checkpointing: bool) -> int:
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    ids = torch.randint(0, VOCAB, (BATCH, SEQ))
    config = transformers.LlamaConfig(
        hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS, intermediate_size=INTER, vocab_size=VOCAB,
        tie_word_embeddings=False, attn_implementation="sdpa", use_cache=False,
    )  # fmt: skip
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model = transformers.LlamaForCausalLM(config)
        if checkpointing:  # per-layer checkpointing, as the HF Trainer's flag turns on
            enable = getattr(model, "activation_checkpointing_enable", None)
            enable = enable or model.gradient_checkpointing_enable  # transformers < 5
            enable({"use_reentrant": False})
        if method == "lora":
            lora = peft.LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS)
            model = peft.get_peft_model(model, lora)
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-4, foreach=False)
        for _ in range(2):  # the second step runs with the AdamW states allocated
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return allocator_peak_bytes(prof)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["no-ckpt", "ckpt"])
@pytest.mark.parametrize("method", ["full", "lora"])
def test_estimate_is_within_15_percent_of_the_measured_allocator_peak(
    method: str, checkpointing: bool
) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread's buffers, on any machine
    try:
        measured = measured_peak(method, checkpointing)
    finally:
        torch.set_num_threads(before)  # the tests after this one keep their thread count
    arch = ArchSpec(
        family="llama", hidden=HIDDEN, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
        intermediate=INTER, vocab=VOCAB, source="test config",
    )  # fmt: skip
    setup = FinetuneSetup(
        method, seq=SEQ, batch=BATCH, precision="fp32", checkpointing=checkpointing
    )
    est = finetune_memory(SimpleNamespace(id="test", arch=arch, params_exact=None), setup)
    estimated = (est.per_gpu_gib - est.parts_gib["runtime"]) * 1024**3
    assert measured > 30 * 1024**2  # the run really allocated weights, states and activations
    assert abs(estimated / measured - 1) < 0.15, (method, checkpointing, estimated, measured)
