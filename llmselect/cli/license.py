"""CLI command: ``license MODEL...`` (verdicts by purpose and date) and ``license detect PATH``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from llmselect.cli.common import parse_date, print_json, print_text
from llmselect.cli.options import MachineJsonOpt
from llmselect.errors import LLMSelectError


def _render(v: Any, header: str) -> None:
    when = f" as of {v.as_of}" if v.as_of else ""
    print_text(f"{header}: {v.purpose}{when}: {v.allowed}")
    license_line = v.license_name or v.license_id or "unknown license"
    version = f", version {v.version}" if v.version else ""
    since = f", in effect since {v.effective_date}" if v.effective_date else ""
    print_text(f"  license: {license_line}{version}{since}")
    if v.resolved_via:
        print_text(f"  via base model: {v.resolved_via}")
    for c in v.conditions:
        print_text(f"  - {c}")
    for n in v.notes:
        print_text(f"  note: {n}")
    print_text(f"  source: {v.source or 'none recorded for this model'}")
    if v.url or v.terms_source:  # the license's own text, not a note about another model
        print_text(f"  license text: {v.url or v.terms_source}")


def _detect(path: str, purpose: str, on: date | None, as_json: bool) -> None:
    from llmselect.licenses.detect import detect

    result = detect(path, purpose, on)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    for e in result.evidence:
        found = e.license_id or "unknown"
        version = f" ({e.version})" if e.version else ""
        print_text(f"{e.file}: {found}{version} by {e.method}: {e.detail}")
    _render(result.verdict, result.path)


ModelsArg = Annotated[
    list[str] | None,
    typer.Argument(help="model ids or aliases; or `detect PATH` for a local checkpoint"),
]
PurposeOpt = Annotated[str, typer.Option(help="commercial | research | learning | edge")]
DateOpt = Annotated[str | None, typer.Option("--date", help="evaluate the terms as of YYYY-MM-DD")]
PathOpt = Annotated[
    str | None, typer.Option("--path", help="local checkpoint folder or license file")
]


def license_cmd(
    models: ModelsArg = None,
    purpose: PurposeOpt = "commercial",
    on: DateOpt = None,
    path: PathOpt = None,
    as_json: MachineJsonOpt = False,
) -> None:
    """May a model be used for a purpose? Verdict, conditions, version and source."""
    from llmselect.licenses import verdict

    day = parse_date(on)
    names = list(models or [])
    if names and names[0] == "detect":
        if len(names) != 2:
            raise LLMSelectError("usage: llmselect license detect PATH")
        path = names[1]
        names = []
    if path is not None and not path.strip():
        raise LLMSelectError("license detect: the path is empty; give a checkpoint folder, "
                             ".gguf file or license file")  # fmt: skip
    if path:
        if names:
            raise LLMSelectError("give model names or --path, not both")
        _detect(path, purpose, day, as_json)
        return
    if not names:
        raise LLMSelectError("name at least one model (see `llmselect catalog list`)")
    verdicts = [verdict(name, purpose, day) for name in names]
    if as_json:
        print_json([v.model_dump(mode="json") for v in verdicts])
        return
    for v in verdicts:
        _render(v, v.model_id)


def register(app: typer.Typer) -> None:
    """Attach ``license``."""
    app.command("license")(license_cmd)
