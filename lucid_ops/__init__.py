"""Lucid's built-in ops, one module per family. Each module is a plugin: it returns its ops from
the same `lucid_ops()` hook a third-party package implements (see `lucid.hookspecs`)."""
# Importing lucid first loads the registry, which imports each module here completely; an op module
# imported on its own first would otherwise be registered half-initialised.
import lucid  # noqa: F401
