"""Find op plugins, check them, and keep the ops they provide.

The registry is filled once, when `lucid` is imported: the built-in modules of `lucid_ops`, then
every plugin of the `lucid` entry-point group (unless LUCID_DISABLE_PLUGIN_AUTOLOAD is set).
A plugin that fails to import or to register is recorded in `registry.errors` and reported;
the other plugins' ops still load.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .op import Op
from .tensor import OPERATORS, Tensor

ENTRY_POINT_GROUP = "lucid"
AUTOLOAD_OFF = "LUCID_DISABLE_PLUGIN_AUTOLOAD"


class Registry(Mapping[str, Op]):
    """A read-only mapping from op name to `Op`, iterated in name order."""

    def __init__(self) -> None:
        self._ops: dict[str, Op] = {}
        self._owner: dict[str, str] = {}  # op name -> plugin name
        self.errors: list[PluginError] = []  # plugins that could not be loaded, and why
        self.manager = pluggy.PluginManager("lucid")
        self.manager.add_hookspecs(hookspecs)

    def __getitem__(self, name: str) -> Op:
        try:
            return self._ops[name]
        except KeyError:
            raise KeyError(f"no op named {name!r} is registered ({len(self._ops)} ops are)") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ops))

    def __len__(self) -> int:
        return len(self._ops)

    def __repr__(self) -> str:
        return f"<lucid.registry: {len(self)} ops from {len(self.manager.get_plugins())} plugins>"

    def plugin_of(self, name: str) -> str:
        """The name of the plugin that registered op `name`."""
        return self._owner[name]

    def register_plugin(self, plugin: Any, name: str | None = None) -> list[Op]:
        """Register a plugin (a module or object with hookimpls) and its ops; raise PluginError if
        it is invalid, leaving the registry as it was."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if self.manager.get_plugin(name) is not None:
            raise PluginError(name, "a plugin of this name is already registered "
                                    f"({describe_plugin(self.manager.get_plugin(name))})")
        try:
            self.manager.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as error:
            raise PluginError(name, str(error)) from error
        try:
            self.manager.check_pending()
            ops = self._ops_of(plugin, name)
        except KeyboardInterrupt:
            self.manager.unregister(plugin)
            raise
        except BaseException as error:  # its lucid_ops() may even sys.exit(): the plugin's failure
            self.manager.unregister(plugin)
            if isinstance(error, PluginError):
                raise
            raise PluginError(name, f"{type(error).__name__}: {error}") from error
        for op in ops:
            self._ops[op.name] = op
            self._owner[op.name] = name
        return ops

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin and the ops it registered."""
        plugin = self.manager.get_plugin(name)
        if plugin is None:
            raise PluginError(name, "is not registered")
        self.manager.unregister(plugin)
        for op_name in [n for n, owner in self._owner.items() if owner == name]:
            del self._ops[op_name], self._owner[op_name]

    def _ops_of(self, plugin: Any, name: str) -> list[Op]:
        """Call this plugin's own lucid_ops hookimpl and check what it returns."""
        impls = [impl for impl in self.manager.hook.lucid_ops.get_hookimpls() if impl.plugin is plugin]
        returned: list[Any] = [impl.function() for impl in impls]  # anything: checked below
        ops = [op for value in returned for op in value]
        seen: dict[str, str] = {}  # op name -> this plugin's name, as in self._owner
        for op in ops:
            if not isinstance(op, Op):
                raise PluginError(name, f"lucid_ops() returned {op!r}, which is not a lucid.Op")
            if op.name in self._ops:
                raise PluginError(name, f"op {op.name!r} is already registered by plugin {self._owner[op.name]!r}")
            if op.name in seen:
                raise PluginError(name, f"op {op.name!r} is returned twice")
            seen[op.name] = name
        self._check_namespaces(name, seen)
        return ops

    def _check_namespaces(self, plugin: str, new: Mapping[str, str]) -> None:
        """Refuse an op whose name is a namespace of other ops ("linalg" beside "linalg.inv"), or
        lies inside another op's name ("exp.fast" beside "exp"): `lucid.ops.linalg` would reach
        one of them only. `ops` itself is the namespace of every op."""
        owners = {**self._owner, **new}
        namespaces = {prefix: name for name in owners for prefix in _namespaces_of(name)}  # -> an op inside
        for op_name in new:
            if op_name.split(".")[0] == "ops":
                raise PluginError(plugin, f"op {op_name!r}: 'ops' is the namespace of every op (lucid.ops)")
            for prefix in _namespaces_of(op_name):
                if prefix in owners:
                    raise PluginError(plugin, f"op {op_name!r} would live in the namespace {prefix!r}, which is "
                                              f"an op of plugin {owners[prefix]!r}")
            if op_name in namespaces:
                inside = namespaces[op_name]
                raise PluginError(plugin, f"op {op_name!r} is the name of a namespace: plugin {owners[inside]!r} "
                                          f"has op {inside!r}")

    def load_entry_points(self) -> None:
        """Register every plugin of the `lucid` entry-point group, recording the ones that fail.
        One whose name is taken (a built-in module's, say) fails too: it is not silently skipped."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            self.load_plugin(entry_point.name, entry_point.load, f"failed to import {entry_point.value!r}: ")

    def load_plugin(self, name: str, load: Callable[[], Any], context: str = "") -> PluginError | None:
        """Import a plugin with `load()` and register it. A failure, whatever the import raises short
        of Ctrl-C (an ImportError, even a SystemExit), is recorded in `errors`, warned about and
        returned: one broken plugin must not take `import lucid` down. Loading a plugin that is
        already registered (under this name, or under its entry point's) does nothing."""
        try:
            try:
                plugin = load()
            except KeyboardInterrupt:
                raise
            except BaseException as error:
                raise PluginError(name, f"{context}{type(error).__name__}: {error}") from error
            if not self.manager.is_registered(plugin):
                self.register_plugin(plugin, name=name)
        except PluginError as failure:
            self.errors.append(failure)
            warnings.warn(str(failure), RuntimeWarning, stacklevel=3)
            return failure
        return None


registry = Registry()


class Namespace:
    """Attribute access to registered ops: `lucid.ops.exp`, `lucid.ops.linalg.inv`."""

    def __init__(self, prefix: str = ""):
        self._prefix = prefix

    def __getattr__(self, attr: str) -> Any:
        name = self._prefix + attr
        if name in registry._ops:
            return registry._ops[name]
        if any(key.startswith(name + ".") for key in registry._ops):
            return Namespace(name + ".")
        raise AttributeError(f"no op named {name!r} is registered")

    def __dir__(self) -> list[str]:
        n = len(self._prefix)
        return sorted({key[n:].split(".")[0] for key in registry._ops if key.startswith(self._prefix)})


ops = Namespace()

BUILTIN_PLUGINS = (
    "lucid_ops.arithmetic",
    "lucid_ops.exponential",
    "lucid_ops.trigonometric",
    "lucid_ops.special",
    "lucid_ops.activations",
    "lucid_ops.reductions",
    "lucid_ops.sorting",
    "lucid_ops.shape",
    "lucid_ops.linalg",
    "lucid_ops.nn",
    "lucid_ops.losses",
    "lucid_ops.conv",
    "lucid_ops.windows",
    "lucid_ops.indexing",
    "lucid_ops.products",
    "lucid_ops.special_functions",
    "lucid_ops.pointwise",
    "lucid_ops.margin_losses",
    "lucid_ops.distances_norms",
    "lucid_ops.decompositions",
    "lucid_ops.resample",
    "lucid_ops.attention",
    "lucid_ops.bitwise",
)


#: PyTorch's other names for built-in ops (torch.clip is torch.clamp): `lucid.<alias>` and a Tensor method.
OP_ALIASES = {"clip": "clamp"}
#: Tensor methods of built-in ops that live in a namespace (`x.softmax(1)`, as in PyTorch).
NAMESPACED_METHODS = {"softmax": "nn.functional.softmax", "log_softmax": "nn.functional.log_softmax"}


def _namespaces_of(name: str) -> Iterator[str]:
    """'nn.functional.relu' -> 'nn', 'nn.functional'."""
    parts = name.split(".")
    return (".".join(parts[:k]) for k in range(1, len(parts)))


def describe_plugin(plugin: Any) -> str:
    """How an error names a registered plugin: its module, or its repr."""
    return f"module {plugin.__name__!r}" if isinstance(plugin, types.ModuleType) else repr(plugin)


def _method(op: Op):
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return op(self, *args, **kwargs)

    method.__name__ = op.name
    method.__doc__ = getattr(op.forward, "__doc__", None)
    return method


def _builtin_ops() -> Iterator[Op]:
    return (registry._ops[name] for name in registry if registry._owner[name] in BUILTIN_PLUGINS)


def _export_builtins() -> None:
    """Make the built-in ops Tensor operators and methods (`x.exp()`), unless Tensor already has one.
    An op whose first input is an int or bool (where, polygamma) takes `self` elsewhere: its method,
    if PyTorch has one, is written by hand (lucid/functions.py)."""
    for op in _builtin_ops():
        OPERATORS[op.name] = op
        if "." not in op.name and not op.variadic and op.inputs[0].differentiable and not hasattr(Tensor, op.name):
            setattr(Tensor, op.name, _method(op))  # not where(condition, ...) or polygamma(n, ...): self is no int
    for method, name in {**OP_ALIASES, **NAMESPACED_METHODS}.items():
        if name in registry._ops and not hasattr(Tensor, method):
            setattr(Tensor, method, _method(registry._ops[name]))


def exported(prefix: str, existing: Mapping[str, Any]) -> dict[str, Op]:
    """The built-in ops of one namespace ("" for `lucid`, "linalg." for `lucid.linalg`...), by their
    short names, leaving alone names the module already defines."""
    short = {op.name[len(prefix):]: op for op in _builtin_ops() if op.name.startswith(prefix)}
    if not prefix:
        short.update((alias, short[name]) for alias, name in OP_ALIASES.items() if name in short)
    return {name: op for name, op in short.items() if "." not in name and name not in existing}


def load() -> Registry:
    """Fill the registry: the built-in op modules, then the entry-point plugins."""
    for module in BUILTIN_PLUGINS:
        registry.load_plugin(module, functools.partial(importlib.import_module, module))
    _export_builtins()
    if not os.environ.get(AUTOLOAD_OFF):
        registry.load_entry_points()
    return registry
