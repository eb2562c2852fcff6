"""The real SmolLM2 GGUF: header, exact parameters, llama.cpp's quantization recipe, estimates,
``inspect``, and one-line errors for bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _cli import invoke_json, run_main

from llmselect.catalog import load_catalog
from llmselect.memory.ggml_quant import bits_per_weight, gguf_weight_bytes, tensor_types

SMOLLM2_PARAMS = 134_515_008  # the count, from the file's tensor infos


def test_header_matches_gguf_reader(smollm2_source: Any, smollm2_gguf: Path) -> None:
    from gguf import GGUFReader

    ours = smollm2_source.gguf
    ref = GGUFReader(str(smollm2_gguf))
    assert ours.n_params == SMOLLM2_PARAMS
    assert [(t.name, t.ggml_type, int(t.n_bytes)) for t in ours.tensors] == [
        (t.name, t.tensor_type.name, int(t.n_bytes)) for t in ref.tensors
    ]
    assert ours.data_offset == ref.data_offset
    assert ours.metadata["general.license"] == ref.fields["general.license"].contents()


def test_llama_cpp_recipe_reproduces_the_file(smollm2_source: Any) -> None:
    """Q4_1's recipe gives every tensor of the real file its type (the tied embedding falls
    back from Q6_K to Q8_0 because 576 is not whole 256-element super-blocks)."""
    planned = {t.name: t for t in tensor_types(smollm2_source.arch, "q4_1")}
    actual = {t.name: t for t in smollm2_source.gguf.tensors}
    assert set(planned) == set(actual)
    assert {n: t.ggml_type for n, t in planned.items()} == {
        n: t.ggml_type for n, t in actual.items()
    }
    assert sum(t.n_bytes for t in planned.values()) == smollm2_source.gguf.tensor_bytes


# Published GGUF file sizes (bytes, the files as served by the hub).
PUBLISHED = [
    ("llama-2-7b", "q4_k_m", 4_081_004_224,
     "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/blob/main/llama-2-7b.Q4_K_M.gguf"),
    ("llama-2-7b", "q5_k_m", 4_783_156_928,
     "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/blob/main/llama-2-7b.Q5_K_M.gguf"),
    ("llama-2-7b", "q8_0", 7_161_089_728,
     "https://huggingface.co/TheBloke/Llama-2-7B-GGUF/blob/main/llama-2-7b.Q8_0.gguf"),
    ("mistral-7b-v0.1", "q4_k_m", 4_368_438_944,
     "https://huggingface.co/TheBloke/Mistral-7B-Instruct-v0.1-GGUF/blob/main/"
     "mistral-7b-instruct-v0.1.Q4_K_M.gguf"),
    ("mistral-7b-v0.1", "q5_k_m", 5_131_409_056,
     "https://huggingface.co/TheBloke/Mistral-7B-Instruct-v0.1-GGUF/blob/main/"
     "mistral-7b-instruct-v0.1.Q5_K_M.gguf"),
]  # fmt: skip


@pytest.mark.parametrize(("model", "ftype", "published", "source"), PUBLISHED)
def test_recipe_within_3pct_of_published_files(
    model: str, ftype: str, published: int, source: str
) -> None:
    arch = load_catalog().get(model).arch
    est = gguf_weight_bytes(arch, ftype)
    assert abs(est - published) / published < 0.03, source
    assert est < published  # the file adds its metadata (vocabulary) to the tensors


def test_bits_per_weight() -> None:
    # llama.cpp k-quants (ggml PR #1684): Q4_K 4.5, Q5_K 5.5, Q6_K 6.5625 bits per weight.
    assert [bits_per_weight(t) for t in ("Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_1", "Q4_0")] == [
        4.5, 5.5, 6.5625, 8.5, 5.0, 4.5
    ]  # fmt: skip


def test_estimate_of_the_file_is_its_tensor_bytes(smollm2_gguf: Path) -> None:
    (row,) = invoke_json(["perf", "estimate", "-m", str(smollm2_gguf), "--seq", "128", "--json"])
    assert row["weights_bytes"] == 96_576_768 and row["dtype"] == "q4_1"
    assert row["weights_source"] == "tensor bytes of the GGUF file"
    (q4km,) = invoke_json(["perf", "estimate", "-m", "llama-2-7b", "--dtype", "q4_k_m", "--json"])
    assert q4km["weights_bytes"] == gguf_weight_bytes(
        load_catalog().get("llama-2-7b").arch, "q4_k_m"
    )


def test_inspect_gguf(smollm2_gguf: Path) -> None:
    r = invoke_json(["inspect", str(smollm2_gguf), "--no-tokenizer", "--json"])
    a = r["architecture"]
    assert (a["family"], a["layers"], a["hidden"], a["heads"], a["kv_heads"]) == (
        "llama", 30, 576, 9, 3
    )  # fmt: skip
    assert (a["intermediate"], a["vocab"], a["tied_embeddings"], a["rope_theta"]) == (
        1536, 49152, True, 100000.0
    )  # fmt: skip
    assert r["params"] == {
        "total": SMOLLM2_PARAMS,
        "kind": "exact",
        "source": "GGUF tensor infos",
        "from_architecture": SMOLLM2_PARAMS,
    }
    types = {s["type"]: s for s in r["storage"]}
    assert set(types) == {"Q4_1", "Q8_0", "F32"}
    assert types["Q4_1"]["tensors"] == 210 and types["Q8_0"]["tensors"] == 1
    assert r["context_length"]["tokens"] == 8192
    assert r["kv_cache_per_token"]["bytes"] == 2 * 30 * 3 * 64 * 2
    assert r["license"]["license_id"] == "apache-2.0" and r["license"]["commercial"] == "yes"
    assert r["checkpoint"]["gguf_file_type"] == "q4_1"
    assert r["model"].startswith("SmolLM2-135M-Instruct.Q4_1@")


def test_inspect_folder(smollm2_folder: Path) -> None:
    r = invoke_json(["inspect", str(smollm2_folder), "--no-tokenizer", "--json"])
    assert r["input"] == "folder"
    assert r["params"]["total"] == SMOLLM2_PARAMS
    assert r["params"]["source"] == "safetensors headers"
    assert [s["type"] for s in r["storage"]] == ["BF16"]
    assert r["storage"][0]["bytes"] == 2 * SMOLLM2_PARAMS
    assert r["architecture"]["source"].endswith("config.json (model_type llama)")
    assert r["context_length"] == {"tokens": 8192, "source": "config.json max_position_embeddings"}
    assert r["license"]["license_id"] == "apache-2.0"


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def _unsupported_gguf(path: Path) -> Path:
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "rwkv6")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _truncated_safetensors(path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"model.embed_tokens.weight": torch.zeros(64, 64)}, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def test_bad_inputs_are_one_line_exit_2(
    smollm2_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    truncated = tmp_path / "cut.gguf"
    with smollm2_gguf.open("rb") as src, truncated.open("wb") as dst:
        dst.write(src.read(20_000_000))
    cut_header = tmp_path / "head.gguf"
    cut_header.write_bytes(smollm2_gguf.read_bytes()[:4096])
    no_config = tmp_path / "empty-folder"
    no_config.mkdir()
    (no_config / "README.md").write_text("no weights here\n")
    cut_st = tmp_path / "cut-safetensors"
    cut_st.mkdir()
    config = {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30,
              "num_attention_heads": 9, "num_key_value_heads": 3, "intermediate_size": 1536,
              "vocab_size": 49152}  # fmt: skip
    (cut_st / "config.json").write_text(json.dumps(config))
    _truncated_safetensors(cut_st / "model.safetensors")
    cases = {
        str(tmp_path / "missing.gguf"): "no such file or folder",
        str(cut_st): "truncated safetensors file",
        "someorg/not-cached-model": "not in the local cache, and the hub is not used",
        str(truncated): "truncated GGUF file",
        str(cut_header): "cannot read GGUF file",
        str(no_config): "no config.json",
        str(
            _unsupported_gguf(tmp_path / "rwkv.gguf")
        ): "GGUF architecture 'rwkv6' is not supported",
    }
    for path, message in cases.items():
        for args in (["inspect", path], ["perf", "estimate", "-m", path]):
            assert run_main(args, monkeypatch) == 2
            assert message in _error_line(capsys), (args, message)
    shutil.rmtree(no_config)


@pytest.mark.parametrize("model", ["llama-2-7b", "chatglm3-6b", "bloom-7b1", "qwen2.5-7b", "gpt2"])
def test_gguf_tensor_list_holds_every_parameter(model: str) -> None:
    from llmselect.arch.count import count_params

    arch = load_catalog().get(model).arch
    planned = tensor_types(arch, "f16")
    assert sum(t.n_elements for t in planned) == count_params(arch).total
