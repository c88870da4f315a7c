"""The plugin manager for gradcheck's hooks, fed with the plugins Lucid already loaded."""
from __future__ import annotations

from typing import Any

import pluggy

import lucid

from . import hookspecs

manager = pluggy.PluginManager(hookspecs.PROJECT)
manager.add_hookspecs(hookspecs)


def register_plugin(plugin: Any, name: str | None = None) -> None:
    """Register an object or module implementing gradcheck hooks (and nothing for Lucid)."""
    if not manager.is_registered(plugin):
        manager.register(plugin, name=name)


def hook() -> Any:
    """The hook caller, after registering any Lucid plugin loaded since the last call (a module
    may implement gradcheck's hooks beside its `lucid_ops`)."""
    for plugin in lucid.registry.manager.get_plugins():
        name = lucid.registry.manager.get_name(plugin)
        if name is not None and not manager.is_registered(plugin) and manager.get_plugin(name) is None:
            manager.register(plugin, name=name)
    return manager.hook
