"""Local lm-evaluation-harness tasks (``tasks``) and the transformers adapter (``hf_lm``).

Nothing here imports lm_eval, torch or transformers at import time; ``hf_lm`` does, and is
imported only when a probe runs.
"""

from __future__ import annotations
