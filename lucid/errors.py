"""The errors Lucid raises. Each one names the op, the argument and the shapes involved."""


class LucidError(Exception):
    """Base class of every error Lucid raises on purpose."""


class OpError(LucidError, ValueError):
    """An op was called with inputs it cannot take, or its rule broke its contract."""


class GraphError(LucidError, RuntimeError):
    """backward() was asked for something the graph cannot give."""


class PluginError(LucidError):
    """A plugin could not be imported, validated or registered."""

    def __init__(self, plugin: str, reason: str):
        reason = "; ".join(line.strip() for line in reason.splitlines() if line.strip())  # one line in reports
        super().__init__(f"plugin {plugin!r}: {reason}")
        self.plugin = plugin
        self.reason = reason
