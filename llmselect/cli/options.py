"""Typer options that several commands share, as ``Annotated`` aliases: one flag, one default
and one help text wherever the option recurs, and a command signature of one line per option.

Only options whose flag, help and checks are the same everywhere are here; a command whose
``--json`` says something else keeps its own.
"""

from __future__ import annotations

from typing import Annotated

import typer

from llmselect.cli.numbers import check_threads

JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs on stderr.")]
ModelOpt = Annotated[
    str,
    typer.Option(
        "-m",
        "--model",
        help="Catalog id, family:size preset, or a local checkpoint (folder, .safetensors, .gguf).",
    ),
]
MfuOpt = Annotated[
    float,
    typer.Option(
        min=0, max=1, help="Model-FLOPs utilisation, share of peak (default 0.40; see README)."
    ),
]
DtypeFlopsOpt = Annotated[
    str,
    typer.Option(
        help="Dtype whose peak FLOPs apply: auto (bf16, or fp16 without it), bf16, fp16, fp8."
    ),
]


def threads_option(help_text: str) -> typer.models.OptionInfo:
    """``--threads`` (at least 1, at most the usable CPUs); the help says what is threaded."""
    return typer.Option("--threads", min=1, callback=check_threads, help=help_text)
