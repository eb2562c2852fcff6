"""CLI command: ``inspect MODEL`` (a GGUF file, a checkpoint folder or file, a catalog id, a hub
id): architecture, exact parameters, bytes per storage type, KV cache, license, tokenizer."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from llmselect.cli.common import emit, print_text
from llmselect.cli.options import JsonOpt


def _stated(value: float | None, spec: str = "") -> str:
    return "not stated" if value is None else format(value, spec)


def _heads(a: dict[str, Any]) -> str:
    """Attention heads and their widths; latent attention (MLA) by its own numbers."""
    m = a.get("mla")
    if m:
        qk = m["qk_nope_head_dim"] + m["qk_rope_head_dim"]
        return (f"{a['heads']} heads of latent attention (kv_lora_rank {m['kv_lora_rank']}, "
                f"q/k head {qk} = {m['qk_nope_head_dim']} + {m['qk_rope_head_dim']} RoPE, "
                f"v head {m['v_head_dim']})")  # fmt: skip
    hd = a.get("head_dim") or a["hidden"] // a["heads"]
    return f"{a['heads']} heads / {a['kv_heads']} KV heads (head_dim {hd})"


def _render_file(r: dict[str, Any]) -> None:
    print_text(f"{r['model']}  ({r['input']})")
    ck = r.get("checkpoint") or {}
    if ck and not r.get("weights", True):
        print_text(f"  file: {ck['checkpoint']}  no weights (config.json only)")
    elif ck:
        print_text(f"  file: {ck['checkpoint']}  sha256 {ck['checkpoint_sha256'][:16]}")
        print_text(
            f"  size: {r['file_bytes']:,} bytes on disk, {r['tensor_bytes']:,} bytes of tensors"
        )
    a = r.get("architecture")
    if a:
        print_text(
            f"  architecture: {a['family']}, {a['layers']} layers, hidden {a['hidden']}, "
            f"{_heads(a)}, MLP "
            f"{a['intermediate']}, vocab {a['vocab']}, tied embeddings "
            f"{'yes' if a.get('tied_embeddings') else 'no'}, rope theta "
            f"{_stated(a.get('rope_theta'))}, norm eps {_stated(a.get('norm_eps'), '.3g')}"
        )
        print_text(f"    from: {a['source']}")
    if r.get("rope_scaling"):
        print_text(f"  rope scaling: {r['rope_scaling']}")
    c = r["context_length"]
    tokens = f"{c['tokens']} tokens" if c["tokens"] else "unknown"
    where = f" ({c['source']})" if c["source"] != "unknown" else ""
    print_text(f"  context length: {tokens}{where}")


def _render_params(p: dict[str, Any]) -> None:
    if p.get("total") is None:
        return
    check = ""
    if p.get("from_architecture") is not None and p["kind"] == "exact":
        same = p["from_architecture"] == p["total"]
        check = f"; architecture formula gives {p['from_architecture']:,}" + (
            " (same)" if same else ""
        )
    print_text(f"  parameters: {p['total']:,} ({p['kind']}, {p['source']}{check})")
    if p.get("active") is not None and p["active"] != p["total"]:
        print_text(f"    active per token: {p['active']:,} ({p['active_no_input_embedding']:,} "
              f"without the input embedding; {p['active_convention']})")  # fmt: skip
    for part in p.get("other_parts", []):
        note = f"; {part['note']}" if part.get("note") else ""
        if part.get("params") is None:
            print_text(f"    not in the text decoder: {part['name']} not counted ({note[2:]})")
            continue
        print_text(f"    not in the text decoder: {part['name']} {part['params']:,} "
              f"({part['kind']}{note})")  # fmt: skip


def _render_bytes(r: dict[str, Any]) -> None:
    if r["storage"]:
        print_text("  storage:")
        for s in r["storage"]:
            bpw = f"{s['bits_per_weight']:.2f}" if s["bits_per_weight"] else "?"
            print_text(
                f"    {s['type']:<6} {s['tensors']:>4} tensors {s['params']:>14,} params "
                f"{s['bytes']:>14,} bytes  {bpw} bits/weight"
            )
    kv = r.get("kv_cache_per_token")
    if kv:
        print_text(f"  KV cache: {kv['bytes']:,} bytes/token in {kv['kv_dtype']} (estimated: "
              f"{kv['formula']})")  # fmt: skip
        for g in kv.get("by_layer_type", []):
            extra = f", window {g['window_tokens']} tokens" if g.get("window_tokens") else ""
            if g.get("compress_ratio"):
                extra += (f", + {g['compressed_values_per_entry']} values per "
                          f"{g['compress_ratio']} tokens")  # fmt: skip
            if g.get("state_bytes_per_layer"):
                extra += f", constant state {g['state_bytes_per_layer']:,} bytes"
            print_text(f"    {g['layers']} x {g['kind']}: {g['bytes_per_token_per_layer']:,} "
                  f"bytes/token/layer{extra}")  # fmt: skip
    sw = r.get("stored_weights")
    if sw and sw.get("bytes") is not None:
        print_text(f"  weights as stored (config): {sw['bytes']:,} bytes ({sw['summary']})")


def _render_license_tokenizer(r: dict[str, Any]) -> None:
    lic = r["license"]
    print_text(f"  license: {lic['license_id'] or 'unknown'}; commercial use: {lic['commercial']}")
    for e in lic["evidence"]:
        print_text(f"    evidence: {e}")
    for cond in lic["conditions"]:
        print_text(f"    - {cond}")
    tok = r.get("tokenizer")
    if tok:
        tpc = tok.get("tokens_per_char")
        name = f"{tok['tokenizer'] or 'unknown'}" + (
            f", vocab {tok['vocab_size']:,}" if "vocab_size" in tok else ""
        )
        if tpc:
            print_text(
                f"  tokenizer: {name}; tokens per char (measured, {tok['corpus']}): "
                f"zh {tpc['zh']:.3f}, en {tpc['en']:.3f}"
            )
        else:
            print_text(f"  tokenizer: {name}" + (f" ({tok['note']})" if tok.get("note") else ""))


def _render(r: dict[str, Any]) -> None:
    _render_file(r)
    _render_params(r["params"])
    _render_bytes(r)
    _render_license_tokenizer(r)


ModelArg = Annotated[
    str, typer.Argument(help="GGUF file, checkpoint folder or .safetensors, catalog id, hub id")
]
TokenizerOpt = Annotated[
    bool, typer.Option(help="Load the checkpoint's tokenizer and measure FLORES-200.")
]


def inspect_cmd(model: ModelArg, tokenizer: TokenizerOpt = True, as_json: JsonOpt = False) -> None:
    """What a model is, read from its own files without loading the weights."""
    from llmselect.checkpoint.inspect import inspect_model
    from llmselect.targets import resolve_model

    emit(inspect_model(resolve_model(model), tokenizer=tokenizer), as_json, _render)


def register(app: typer.Typer) -> None:
    """Attach ``inspect``."""
    app.command("inspect")(inspect_cmd)
