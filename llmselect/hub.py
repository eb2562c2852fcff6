"""Whether the Hugging Face hub may be contacted: asked once per process, then remembered.

Without this, every unit that misses a local file lets ``huggingface_hub`` retry the network
with back-off (about 24 s per file on a machine with no network). Here the first caller makes
one short request to ``$HF_ENDPOINT``; when nothing answers, the process continues offline
(``HF_HUB_OFFLINE=1`` is set, so child processes and workers inherit it) with one warning.
"""

from __future__ import annotations

import logging
import os

from llmselect.config import hf_offline

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
CHECK_TIMEOUT_S = 3.0

_reachable: dict[str, bool] = {}  # endpoint → answer, for this process


def endpoint() -> str:
    """The hub's base URL (``HF_ENDPOINT`` for mirrors)."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def _answers(url: str) -> str | None:
    """None when the hub answers over HTTP (any status), else why not."""
    import urllib.error  # here, not at import: commands that never reach the hub skip it
    import urllib.request

    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S):  # noqa: S310 - https/http
            return None
    except urllib.error.HTTPError:
        return None  # an HTTP status is an answer: the hub is there
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return str(reason) or type(exc).__name__


def hub_available() -> bool:
    """True when the hub may be used: not offline by setting, and it answered this process."""
    if hf_offline():
        return False
    url = endpoint()
    if url not in _reachable:
        why = _answers(url)
        _reachable[url] = why is None
        if why is not None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            log.warning(
                "the Hugging Face hub at %s does not answer (%s): continuing offline, with "
                "local folders and the hub cache only (set HF_HUB_OFFLINE=1 to skip this check)",
                url,
                why,
            )
    return _reachable[url]


def offline_reason() -> str:
    """Why the hub is not used, for error messages."""
    if _reachable.get(endpoint()) is False:
        return f"the hub at {endpoint()} does not answer"
    return "offline (HF_HUB_OFFLINE)"
