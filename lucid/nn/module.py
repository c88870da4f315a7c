"""`Module`: a tree of layers that owns parameters, buffers and sub-modules, as in PyTorch.

A Module finds its parameters by watching attribute assignment: `self.weight = Parameter(...)`
lands in `_parameters`, `self.fc = Linear(...)` in `_modules`. Everything else (`parameters()`,
`state_dict()`, `to(dtype)`, `train()`...) is a walk over that tree.
"""
from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

import numpy as np

from ..errors import LucidError, OpError
from ..optim.optimizer import zero_grads
from ..tensor import Tensor, no_grad

#: The dtypes a Module's parameters may have; the ops are written and verified for these.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Parameter(Tensor):
    """A Tensor that a Module registers as one of its learnable weights: a leaf requiring grad.

    It is a Tensor in every other respect; ops treat it as one and return plain Tensors."""

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def check_dtype(dtype: Any, where: str) -> np.dtype:
    """`dtype` as a NumPy dtype if parameters may have it, else a clear error."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise OpError(f"{where}: {dtype!r} is not a dtype") from None
    if dtype not in FLOAT_DTYPES:
        raise OpError(f"{where}: unsupported dtype {dtype}; parameters must be float32 or float64")
    return dtype


class Module:
    """Base class of every layer and model. Subclasses set attributes in `__init__` and define `forward`."""

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); subclasses of Module define one")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # registration -----------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise LucidError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value  # a buffer stays a buffer when reassigned
            return
        if name in self._parameters and value is None:
            self._parameters[name] = None
            return
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registered stores
        for store in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(store)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def _check_name(self, name: Any, kind: str, store: Mapping[str, Any]) -> None:
        """A name to register: a non-empty string without dots (the state dict joins names with
        dots), and not already an attribute of another kind (PyTorch's rules)."""
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: a {kind} name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise OpError(f"{type(self).__name__}: {kind} name {name!r} must be non-empty and contain no '.' "
                          f"(state dict keys join the names of nested modules with dots)")
        if name not in store and hasattr(self, name):
            raise OpError(f"{type(self).__name__}: can't register the {kind} {name!r}: the module already has an "
                          f"attribute of that name")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None: a declared but absent parameter, like a missing bias)."""
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            f"(a Parameter or None is required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor that belongs to the module's state but is not learned (BatchNorm's running mean).
        Non-persistent buffers are left out of the state dict."""
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (a Tensor or None is required)")
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def add_module(self, name: str, module: Module | None) -> None:
        self._check_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        self._modules[name] = module

    # walking the tree -------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((name, m) for name, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, store: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        """(qualified name, tensor) for each entry of `store` in the tree; a tensor shared by two
        modules is yielded once, so an optimizer never updates it twice."""
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else iter([(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is not None and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named("_parameters", prefix, recurse)  # type: ignore[return-value]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call `fn` on every sub-module, then on this one (for custom initialisation)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # modes and housekeeping -------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode: Dropout drops and BatchNorm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grads(self.parameters(), set_to_none)

    def to(self, dtype: Any) -> Module:
        """Convert the floating-point parameters and buffers to `dtype` in place (the Parameter
        objects stay the same, so an optimizer built earlier still holds them)."""
        dtype = check_dtype(dtype, f"{type(self).__name__}.to")
        for t in (*self.parameters(), *self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.data.astype(dtype))
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # state dict -------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by qualified name ("0.weight", "fc.bias"), as
        detached Tensors sharing the module's arrays (copy them to keep a snapshot)."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, module in self.named_modules():
            dot = prefix + "." if prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    state[dot + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    state[dot + name] = b.detach()
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values (Lucid tensors or NumPy arrays) into the parameters and buffers, keeping their
        dtypes. Shapes must match; with `strict`, the keys must match exactly too."""
        own = self._state_tensors()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        if strict and unexpected:
            problems.append("Unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)) + ".")
        if strict and missing:
            problems.append("Missing key(s) in state_dict: " + ", ".join(map(repr, missing)) + ".")
        values = {}
        for key, target in own.items():
            if key in state_dict:
                value = state_dict[key]
                if not isinstance(value, (Tensor, np.ndarray, np.generic, int, float)):
                    problems.append(f"while copying {key!r}: expected a Tensor or an array from the state dict, "
                                    f"got a {type(value).__name__}.")
                    continue
                value = np.asarray(value.data if isinstance(value, Tensor) else value)
                if value.dtype.kind not in "biuf":
                    problems.append(f"while copying {key!r}: expected numbers, got an array of dtype {value.dtype}.")
                    continue
                if value.shape != target.shape:
                    problems.append(f"size mismatch for {key!r}: copying a value of shape {value.shape} from the "
                                    f"state dict, the shape in the current model is {target.shape}.")
                values[key] = value
        if problems:
            raise OpError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems))
        with no_grad():  # in place, as PyTorch: whoever holds these tensors sees the new values
            for key, value in values.items():
                own[key].copy_(value)
        return IncompatibleKeys(missing, unexpected)

    def _state_tensors(self) -> dict[str, Tensor]:
        """The tensors behind state_dict(), themselves rather than detached views."""
        own: dict[str, Tensor] = {}
        for prefix, module in self.named_modules():
            dot = prefix + "." if prefix else ""
            own.update((dot + n, p) for n, p in module._parameters.items() if p is not None)
            own.update((dot + n, b) for n, b in module._buffers.items()
                       if b is not None and n not in module._non_persistent)
        return own

    # repr -------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its parentheses in the repr (`in_features=4, ...`)."""
        return ""

    def __repr__(self) -> str:
        lines = self.extra_repr().split("\n") if self.extra_repr() else []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._parameters, *self._buffers, *self._modules})


class Sequential(Module):
    """Modules applied one after the other: `Sequential(Linear(4, 8), ReLU(), Linear(8, 2))`.
    An OrderedDict of name -> module names the steps."""

    def __init__(self, *modules: Module | Mapping[str, Module]):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, step in enumerate(modules):
                self.add_module(str(i), step)  # type: ignore[arg-type]  # add_module refuses a non-Module

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_index(index, len(items), "Sequential", "modules")][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


Item = TypeVar("Item", bound="Module | Parameter")
SomeList = TypeVar("SomeList", bound="_ListContainer")


class _Container(Module, Generic[Item]):
    """What the four containers share: their items live in one of the module's stores (`_modules`
    or `_parameters`), so that the parent module sees them, and enter through `_register`."""

    _store: ClassVar[str]  # the name of the store: "_modules" or "_parameters"
    _noun: ClassVar[str]  # what the items are called in messages: "modules" or "parameters"

    @property
    def _items(self) -> OrderedDict[str, Item]:
        return self.__dict__[self._store]

    def _register(self, name: str, value: Any) -> None:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._items)


class _ListContainer(_Container[Item]):
    """A list kept as items registered under "0", "1", ...: ModuleList and ParameterList."""

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._items.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[_index(index, len(items), type(self).__name__, self._noun)]

    def __setitem__(self, index: int, value: Any) -> None:
        self._register(str(_index(index, len(self), type(self).__name__, self._noun)), value)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items.values())

    def append(self: SomeList, value: Any) -> SomeList:
        self._register(str(len(self)), value)
        return self

    def extend(self: SomeList, values: Iterable[Any]) -> SomeList:
        for value in values:
            self.append(value)
        return self


class _DictContainer(_Container[Item]):
    """A dict of items registered under their keys, in insertion order: ModuleDict and ParameterDict."""

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        if values is not None:
            self.update(values)

    def __getitem__(self, key: str) -> Item:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._register(key, value)

    def __delitem__(self, key: str) -> None:
        del self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def keys(self) -> Iterable[str]:
        return self._items.keys()

    def values(self) -> Iterable[Item]:
        return self._items.values()

    def items(self) -> Iterable[tuple[str, Item]]:
        return self._items.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def pop(self, key: str) -> Item:
        return self._items.pop(key)

    def update(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace items from a mapping or from (key, value) pairs, in their order."""
        for key, value in (values.items() if isinstance(values, Mapping) else values):
            self[key] = value


class _ModuleContainer(_Container[Module]):
    """Items are modules, checked by `add_module`."""

    _store, _noun = "_modules", "modules"

    def _register(self, name: str, value: Any) -> None:
        self.add_module(name, value)


class _ParameterContainer(_Container[Parameter]):
    """Plain Tensors put in become Parameters (as PyTorch's containers do)."""

    _store, _noun = "_parameters", "parameters"

    def _register(self, name: str, value: Any) -> None:
        self.register_parameter(name, _as_parameter(value, type(self).__name__))

    def extra_repr(self) -> str:
        return "\n".join(_parameter_line(name, p) for name, p in self._parameters.items())


class ModuleList(_ModuleContainer, _ListContainer[Module]):
    """A list of modules whose parameters the parent sees (a plain list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__(modules)


class ModuleDict(_ModuleContainer, _DictContainer[Module]):
    """A dict of modules whose parameters the parent sees, in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__(modules)


def _as_parameter(value: Any, container: str) -> Parameter:
    """A Parameter as is; a plain Tensor made one (as PyTorch's containers do)."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{container}: expected a Parameter or Tensor, got {type(value).__name__}")


def _parameter_line(name: str, param: Parameter) -> str:
    return f"({name}): Parameter containing: [lucid.{param.dtype} of size {'x'.join(map(str, param.shape))}]"


class ParameterList(_ParameterContainer, _ListContainer[Parameter]):
    """A list of parameters that the parent module sees (registered as "0", "1", ...), for a
    number of weights known only at run time. Plain Tensors put in become Parameters."""

    def __init__(self, values: Iterable[Tensor] | None = None):
        super().__init__(values)


class ParameterDict(_ParameterContainer, _DictContainer[Parameter]):
    """A dict of parameters that the parent module sees, under their keys, in insertion order.
    Plain Tensors put in become Parameters."""

    def __init__(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None):
        super().__init__(parameters)


def _index(index: Any, length: int, container: str, items: str) -> int:
    """`index` into a container of `length` items, counted from the end if negative. Anything a
    Python list takes as an index will do (an int, a NumPy integer), as in PyTorch."""
    try:
        index = operator.index(index)
    except TypeError:
        raise OpError(f"{container} indices must be integers or slices, got {type(index).__name__} {index!r}") from None
    if not -length <= index < length:
        raise IndexError(f"{container} index {index} is out of range for {length} {items}")
    return index % length
