"""CLI commands: ``probes list`` shows the registered probes without importing them."""

from __future__ import annotations

import typer

from llmselect.cli.common import out, print_json
from llmselect.cli.options import JsonOpt

probes_app = typer.Typer(help="Registered probes (built-in and plugins).", no_args_is_help=True)


@probes_app.command("list")
def list_probes(as_json: JsonOpt = False) -> None:
    """List probe names and where they load from."""
    from llmselect.registry import probe_paths

    paths = probe_paths()
    if as_json:
        print_json(paths)
        return
    for name, path in sorted(paths.items()):
        out.print(f"{name}\t{path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``probes``."""
    app.add_typer(probes_app, name="probes")
