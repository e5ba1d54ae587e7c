"""omnicx: the glue on top — composed settings, the `omnicx` CLI and the local stack."""

__version__ = "0.1.0"
