"""Lucid's built-in ops, one module per family. Each module is a plugin: it returns its ops from
the same `lucid_ops()` hook a third-party package implements (see `lucid.hookspecs`)."""
