"""Architecture: what a decoder is, independent of any framework (no torch).

* ``spec``: ``ArchSpec`` (with ``MoESpec``, ``MLASpec``), the numbers of a config.json;
* ``family``: ``Traits`` and the ``Family`` descriptor a reference family registers;
* ``params``: the exact parameter count from the numbers and the traits;
* ``count``: a model's count through its family (or the common layout, confirmed by a total);
* ``presets``: named architectures (``family:size``) copied from real configs;
* ``readers``: ``ArchSpec`` from a config.json or GGUF metadata, through the family that reads
  that ``model_type`` or GGUF architecture.

Everything above (catalog, memory, refmodels, checkpoint, probes, recommend) reads these; this
package imports only the bottom layer (errors, registry, names, formats).
"""
