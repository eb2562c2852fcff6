"""Allow ``python -m llmselect``."""

from __future__ import annotations

from llmselect.cli import main

main()
