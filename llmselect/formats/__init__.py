"""Checkpoint file formats read without loading weights: GGUF (metadata, tensor infos) and
safetensors (headers). The lowest layer that knows about model files: the checkpoint readers,
the licence detector, the tokenizer loaders and the architecture translators all read through it.
"""
