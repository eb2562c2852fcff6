"""The user's own checkpoint as a model input: GGUF files, safetensors folders or files, hub ids.

* ``source``: ``resolve_model(text)``, the one way in (path, catalog id, preset, hub id);
* ``gguf_file`` / ``safetensors_file``: headers only (metadata, tensor list, exact sizes);
* ``arch``: ``ArchSpec`` from ``config.json`` or GGUF metadata;
* ``inspect``: what ``llmselect inspect`` shows;
* ``gguf_weights`` / ``runtime``: real weights in the reference decoders (torch), with the
  logits check against transformers;
* ``candidate``: a checkpoint as a recommender candidate.
"""
