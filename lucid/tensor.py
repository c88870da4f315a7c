"""The engine: a Tensor is a node of the computation graph, and backward() walks that graph.

Read this file top to bottom:
1. grad mode: whether ops record the graph (`no_grad` turns it off);
2. `Node`: what an op call leaves behind so that backward can differentiate it;
3. versions: how backward knows that a value a Node saved was changed in place since;
4. `apply`: how an op is called, the one hot path every op goes through;
5. `Tensor`: data, grad, and the Node that produced it;
6. backward: the nodes, latest first (a reverse topological order), each applying its op's local
   derivative (its vjp) and summing the contributions of every path into each input's gradient.

This module knows no specific op: the operators (`+`, `*`, `@`, `x[i]`...) look ops up by name
in `OPERATORS`, which `lucid.plugins` fills from the plugins.
"""
from __future__ import annotations

import collections
import functools
import heapq
import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .dtypes import get_default_dtype, result_type
from .errors import GraphError, LucidError, OpError

# --- 1. grad mode ------------------------------------------------------------------------------

class _GradMode(threading.local):
    enabled = True  # each thread starts with recording on


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off, for this thread only."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self) -> None:
        self.previous = is_grad_enabled()
        _mode.enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.previous

    def __call__(self, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(self.enabled):
                return fn(*args, **kwargs)

        return functools.update_wrapper(wrapper, fn)


class no_grad(set_grad_enabled):
    """`with lucid.no_grad():` or `@lucid.no_grad()`: ops inside record no graph."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self) -> None:
        super().__init__(True)


# --- 2. Node -----------------------------------------------------------------------------------

_sequence = itertools.count()  # numbers the nodes, and stamps the in-place changes, in the order they happen


class Node:
    """One recorded op call: the op, its input Tensors, its params and its output arrays.

    A Node keeps its outputs as arrays, not Tensors, so there is no reference cycle: a Tensor
    points to its Node, the Node points to its inputs, and backward rebuilds output Tensors
    when the vjp asks for them. `free()` drops the inputs once backward is done with them.

    `seq` is the Node's creation number. An op runs after the ops that made its inputs, so a
    Node's number is higher than the numbers of the Nodes it depends on: backward uses this order.
    """

    __slots__ = ("op", "inputs", "params", "outputs", "retained", "seq")

    def __init__(self, op: Any, inputs: tuple, params: dict, outputs: tuple):
        self.op, self.inputs, self.params, self.outputs = op, inputs, params, outputs
        self.retained: list | None = None  # (slot, weakref) of outputs that asked to retain_grad
        self.seq = next(_sequence)

    def __repr__(self) -> str:
        return f"<{self.op.name}>"

    def free(self) -> None:
        self.inputs = self.outputs = self.retained = None  # type: ignore[assignment]  # backward checks outputs


# --- 3. versions: in-place changes ------------------------------------------------------------
#
# A vjp reads its node's input Tensors and output arrays when backward runs, long after the
# forward: if one of them was changed in place in between, the gradient would silently be that of
# other values. So every in-place change made through Lucid (`zero_`, `fill_`, `copy_`, optimizer
# steps, `load_state_dict`...) calls `increment_version`, and backward refuses to let a vjp read a
# value that changed after its node was recorded, as PyTorch does (section 3b).
#
# A version belongs to memory, not to a Tensor object: a tensor, its `detach()` and the views ops
# make of it (reshape, x[i], permute) share one array's memory, so they share one version. Lucid
# keeps the versions of the arrays that were ever changed in place, in a table; the others are at
# version 0. Each change is stamped on the clock that numbers the nodes (`_sequence`), so a node
# records nothing: backward compares its number with the latest change's stamp, and only when some
# change came later does it look up the node's arrays.

_HISTORY = 32  # stamps kept per array: enough to tell the version a node saw after many changes


class _Version:
    """How often one array's memory was changed in place, and the stamps of its latest changes."""

    __slots__ = ("count", "stamps", "_alive")

    def __init__(self, memory: np.ndarray):
        key = id(memory)
        self.count = 0
        self.stamps: collections.deque[int] = collections.deque(maxlen=_HISTORY)
        # the entry goes when the memory is freed, before another array can reuse its id
        self._alive = weakref.ref(memory, lambda _: _versions.pop(key, None))

    def at(self, seq: int) -> int | None:
        """The version this memory had when node `seq` was recorded (None if too far back to know)."""
        later = sum(1 for stamp in self.stamps if stamp > seq)
        if later == len(self.stamps) and self.count > len(self.stamps):
            return None
        return self.count - later


_versions: dict[int, _Version] = {}  # id(memory) -> its version, for memory changed in place
_versions_lock = threading.Lock()
_last_change = -1  # the stamp of the latest in-place change: nodes recorded after it need no check


def _memory(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory `array` views (NumPy points a view at the owner, or, for
    as_strided's views, at an object whose `base` is the array viewed)."""
    while True:
        base = array.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)
            if not isinstance(base, np.ndarray):
                return array
        array = base


def _version_of(array: np.ndarray) -> _Version | None:
    return _versions.get(id(_memory(array)))


def increment_version(tensor: Tensor) -> None:
    """Record that `tensor`'s memory was just changed in place (call it after the write).

    Every in-place change made through Lucid calls this, so that backward can refuse gradients
    computed from changed values: the one mechanism for any new in-place op, as in
    `torch.autograd.graph.increment_version`. Writing into `.data` directly does not call it."""
    global _last_change
    memory = _memory(tensor.data)
    with _versions_lock:
        version = _versions.get(id(memory))
        if version is None:
            version = _versions[id(memory)] = _Version(memory)
        stamp = next(_sequence)
        version.count += 1
        version.stamps.append(stamp)
        _last_change = stamp


def _check_unchanged(node: Node) -> None:
    """Raise if an input or output of `node` was changed in place after the node was recorded."""
    saved = [("input", i, x.data) for i, x in enumerate(node.inputs) if x is not None]
    saved += [("output", i, o) for i, o in enumerate(node.outputs)]
    for side, i, array in saved:
        error = _change_error(node, side, i, array)
        if error is not None:
            raise error


def _change_error(node: Node, side: str, i: int, array: np.ndarray) -> GraphError | None:
    """The error for input or output `i` of `node`, `array`, if it was changed in place after the node
    was recorded; None if it was not."""
    version = _version_of(array)
    if version is None:
        return None
    with _versions_lock:  # another thread may be changing the same memory
        changed, now, then = version.stamps[-1] > node.seq, version.count, version.at(node.seq)
    if not changed:
        return None
    names = node.op.inputs
    what = f"{side} {i}" + (f" ({names[i].name!r})" if side == "input" and i < len(names) else "")
    expected = f"version {then}" if then is not None else f"version {now - _HISTORY} or earlier"
    return GraphError(
        f"one of the values needed to compute the gradient has been modified by an in-place operation: "
        f"{what} of {node.op.name!r}, shape {tuple(array.shape)} {array.dtype}, is at version {now}; "
        f"expected {expected} instead. Hint: change it in place after backward(), or change a copy "
        f"(x.detach() shares its memory; lucid.tensor(x) copies it)")


# --- 3b. histories: a tensor changed in place while a graph is recorded --------------------------
#
# `y.mul_(2)` on a tensor in a graph gives `y` the history of its new value (lucid/inplace.py). The
# nodes that read `y` before still need its old history: PyTorch's graph edges point at the grad_fn
# an input had when it was read. So a tensor that took a new history keeps the ones it had, stamped
# on the node clock, and backward sends a node's gradient to the history its input had when the node
# was recorded (`_as_recorded`). A view of such a tensor (v = y[0], made before) reads the new value:
# it is recorded again as a view of the new history before anything reads it (`_follow_bases`).


class _Past:
    """The histories one tensor had before it took new ones: (until stamp, node, slot, requires_grad)."""

    __slots__ = ("histories", "_alive")

    def __init__(self, tensor: Tensor):
        key = id(tensor)
        self.histories: list[tuple[int, Node | None, int, bool]] = []
        self._alive = weakref.ref(tensor, lambda _: _past.pop(key, None))


_past: dict[int, _Past] = {}  # id(tensor) -> its past histories, for the tensors that took a new one


def take_history(tensor: Tensor, node: Node | None, slot: int, requires_grad: bool) -> None:
    """Give `tensor` a new history (an in-place change), keeping the old one for the nodes recorded before."""
    global _last_change
    past = _past.get(id(tensor))
    if past is None:
        past = _past[id(tensor)] = _Past(tensor)
    with _versions_lock:  # stamped as increment_version stamps, so that _last_change never goes back
        stamp = _last_change = next(_sequence)
    past.histories.append((stamp, tensor._node, tensor._slot, tensor._requires_grad))
    tensor._node, tensor._slot, tensor._requires_grad = node, slot, requires_grad


def _history_at(x: Tensor, seq: int) -> tuple[Node | None, int, bool]:
    """The history `x` had when node number `seq` was recorded."""
    past = _past.get(id(x))
    for stamp, node, slot, requires_grad in past.histories if past is not None else ():
        if stamp > seq:
            return node, slot, requires_grad
    return x._node, x._slot, x._requires_grad


def _follow_bases(tensors: Sequence[Any]) -> None:
    """Record again each view among `tensors` whose base took a new history after the view was made,
    as the same view of the base's new history: it reads the new values, so what reads it from now
    on must differentiate through the change (PyTorch regenerates a view's grad_fn the same way)."""
    for x in tensors:
        node = x._node if isinstance(x, Tensor) else None
        if node is None or node.seq > _last_change or not node.inputs or node.outputs is None:
            continue
        base = node.inputs[0]
        if base is None or _memory(x.data) is not _memory(base.data):
            continue  # not a view
        _follow_bases((base,))
        past = _past.get(id(base))
        if past is not None and past.histories[-1][0] > node.seq:
            take_history(x, Node(node.op, node.inputs, node.params, node.outputs), x._slot, x._requires_grad)


def _as_recorded(node: Node) -> tuple[tuple, tuple, tuple]:
    """A node's inputs and outputs as its vjp may read them when something was changed in place since
    the node was recorded: (what the vjp reads, where the gradients go, the outputs).

    Each input goes back to the history it had then. A value whose memory changed since becomes a
    `_Changed` stand-in, which raises if the vjp reads its values: as in PyTorch, a changed value is
    an error only if the gradient needs it (`(y * 2)` needs nothing of y; `y * z` needs y for z)."""
    read, routes = [], []
    for i, x in enumerate(node.inputs):
        if x is None:
            read.append(None)
            routes.append(None)
            continue
        then, slot, requires_grad = _history_at(x, node.seq)
        route = x if then is x._node and slot == x._slot else _new_tensor(x.data, requires_grad, then, slot)
        error = _change_error(node, "input", i, x.data)
        routes.append(route)
        read.append(route if error is None else _Changed(route, error))
    outputs = []
    for i, o in enumerate(node.outputs):
        out = _new_tensor(o, o.dtype.kind == "f", node, i)
        error = _change_error(node, "output", i, o)
        outputs.append(out if error is None else _Changed(out, error))
    return tuple(read), tuple(routes), tuple(outputs)


# --- 4. apply: the hot path ----------------------------------------------------------------------


def apply(op: Any, inputs: Sequence[Any], params: dict) -> Any:
    """Run `op.forward` on the inputs' arrays and, if any input requires grad, record a Node.

    Every op call goes through here, so it does only what it must: unwrap the arrays, check that
    inputs of a declared dtype have it and that params of a declared kind have a valid type, run the
    forward, wrap the result. Op metadata is never validated here (that happened once, when the
    Op was made)."""
    arrays: list[np.ndarray | None] = []
    record = False
    for x in inputs:
        if isinstance(x, Tensor):
            arrays.append(x.data)
            record = record or x._requires_grad
        elif x is None:
            arrays.append(None)  # an optional input left out
        else:  # numbers and arrays become constants, then the call starts again
            return apply(op, _constants(op, inputs), params)
    typed = op.typed_inputs
    if typed and op.variadic:  # one Arg describes every tensor of the sequence
        typed = [(i, typed[0][1]) for i in range(len(arrays))]
    for i, kinds in typed:
        if i < len(arrays) and arrays[i] is not None and arrays[i].dtype.kind not in kinds:
            arg = op.inputs[0 if op.variadic else i]
            raise OpError(f"{op.name}: argument {arg.name!r} (input {i}) has dtype {arrays[i].dtype}, "
                          f"expected {_DTYPE_WORDS[kinds]}")
    promoted = op.promoted  # inputs computed in one dtype: cast to it, or refused (same_dtype)
    if len(promoted) == 2:  # the commonest case, x + y in one dtype, pays two lookups
        a, b = arrays[promoted[0]], arrays[promoted[1]]
        if a is not None and b is not None and a.dtype is not b.dtype:  # (dtypes are mostly singletons)
            arrays = _one_dtype(op, arrays, promoted)
    elif len(promoted) > 2 or op.variadic:
        arrays = _one_dtype(op, arrays, range(len(arrays)) if op.variadic else promoted)
    if op.checked_params:  # params of a declared kind: keepdim=2 is refused, not taken for True
        for name, types, choices in op.checked_params:
            if name in params and (type(params[name]) not in types or choices and params[name] not in choices):
                op.check_params(params)  # raises, naming the param and what it takes
    if op.defaults:
        params = {**op.defaults, **params}
    try:
        out = op.forward(*arrays, **params)
    except LucidError:
        raise
    except Exception as error:
        raise OpError(f"{op.name}: {error} ({_describe(inputs)})") from error
    record = record and _mode.enabled
    if record and _past:  # some tensor took a new history in place: the views of it made before follow it
        _follow_bases(inputs)
    if op.one_output:
        if type(out) is not np.ndarray:
            out = np.asarray(out)  # a NumPy scalar, from a full reduction say
        y = _new_object(Tensor)  # _new_tensor written out: this runs on every op call
        y.data, y._grad, y._slot = out, None, 0
        if record:
            differentiable = out.dtype.kind == "f"
            if not differentiable and out.dtype.kind == "c":
                raise _complex_refused(op, inputs)
            y._requires_grad, y._node = differentiable, Node(op, tuple(inputs), params, (out,))
        else:
            y._requires_grad, y._node = False, None
        return y
    if not isinstance(out, (tuple, list)) or (op.residuals and len(out) != 1 + op.residuals):
        wanted = f"(result, {op.residuals} residual arrays)" if op.residuals else "a tuple of arrays"
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else f"a {type(out).__name__}"
        raise OpError(f"{op.name}: its forward must return {wanted}, got {got}")
    outs = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in out)
    if record:
        for o in outs[:1] if op.residuals else outs:  # residuals stay inside the node: they may be complex
            if o.dtype.kind == "c":
                raise _complex_refused(op, inputs)
    node = Node(op, tuple(inputs), params, outs) if record else None
    if op.residuals:  # the caller gets the result; the residuals wait in the Node for the vjp
        return _new_tensor(outs[0], record and outs[0].dtype.kind == "f", node, 0)
    return op.result_type(_new_tensor(o, record and o.dtype.kind == "f", node, i) for i, o in enumerate(outs))


_DTYPE_WORDS = {"fc": "a floating-point tensor", "iu": "an integer tensor", "b": "a bool tensor",
                "biu": "an integer or bool tensor", "iufc": "a number tensor, not a bool one (use ~ or logical_not "
                "to invert a mask)"}


def _one_dtype(op: Any, arrays: list, promoted: Sequence[int]) -> list:
    """The arrays, those of the promoted inputs cast to their result_type (PyTorch's promotion) if
    their dtypes differ; an op whose inputs must share a dtype (matmul) refuses them instead, as
    PyTorch does."""
    if len({arrays[i].dtype for i in promoted if arrays[i] is not None}) < 2:
        return arrays
    if op.same_dtype:
        names = [f"{op.inputs[0].name}[{i}]" if op.variadic else op.inputs[i].name for i in promoted]
        given = ", ".join(f"{name!r} {arrays[i].dtype}" for name, i in zip(names, promoted) if arrays[i] is not None)
        raise OpError(f"{op.name}: expected its inputs to have the same dtype, got {given}; convert one with "
                      f".to(dtype) (PyTorch does not promote them for this op either)")
    dtype = result_type(*(arrays[i] for i in promoted if arrays[i] is not None))
    return [a.astype(dtype, copy=False) if i in promoted and a is not None else a for i, a in enumerate(arrays)]


def _constants(op: Any, inputs: Sequence[Any]) -> tuple:
    """The inputs, each Python number or array made a constant that never requires grad. A number
    among the promoted inputs takes their result_type, as PyTorch's does (`x * 2` stays float32,
    `int_tensor + 0.5` is float32); elsewhere (polygamma's n, a mask) it keeps its own type."""
    promoted = range(len(inputs)) if op.variadic else op.promoted
    operands = [inputs[i] for i in promoted if inputs[i] is not None]
    shared = result_type(*operands) if operands else None
    constants = []
    for i, value in enumerate(inputs):
        if type(value) is np.ndarray:
            value = _new_tensor(value, False, None, 0)
        elif value is not None and not isinstance(value, Tensor):
            is_number = isinstance(value, (int, float, bool, complex))
            value = (_new_tensor(np.asarray(value, dtype=shared), False, None, 0) if is_number and i in promoted
                     else tensor(value))
        constants.append(value)
    return tuple(constants)


def _complex_refused(op: Any, inputs: Sequence[Tensor | None]) -> OpError:
    """Lucid does not differentiate complex values: an op that would record a complex result is
    refused rather than left out of the graph, which would silently drop its gradient path."""
    return OpError(f"{op.name}: the result is complex and an input requires grad, but Lucid does not "
                   f"differentiate complex values ({_describe(inputs)}); compute it on detached inputs "
                   f"(x.detach()) or under lucid.no_grad(), or keep to real-valued ops")


def _describe(tensors: Iterable[Tensor | None]) -> str:
    parts = ["None" if t is None else f"{tuple(t.shape)} {t.dtype}" for t in tensors]
    return "inputs: " + ", ".join(parts)


class _Operators(dict):
    """name -> Op for the ops behind Tensor's operators and methods; filled by lucid.plugins."""

    def __missing__(self, name: str) -> Any:
        raise LucidError(f"no op named {name!r} is registered, so this Tensor operation is unavailable "
                         f"(did the built-in ops in lucid_ops fail to load? see lucid.registry.errors)")


OPERATORS = _Operators()


def _operator(name: str, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: apply(OPERATORS[name], (other, self), {})
    return lambda self, other: apply(OPERATORS[name], (self, other), {})


def _comparison(ufunc: np.ufunc) -> Callable:
    """Comparisons are not differentiable: they return a bool Tensor outside the graph."""
    return lambda self, other: Tensor(ufunc(self.data, other.data if isinstance(other, Tensor) else other))


# --- 5. Tensor ---------------------------------------------------------------------------------

_new_object = object.__new__


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    `grad_fn` is the Node of the op that produced it (None for a leaf: data, or a parameter);
    `grad` is a Tensor, so that a gradient can itself be differentiated. The engine writes the
    slot `_grad` directly; assigning `.grad` from outside is checked, as in PyTorch.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "_node", "_slot", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    if TYPE_CHECKING:  # the op methods (x.exp(), x.softmax(1)...) are attached as plugins register
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = data if type(data) is np.ndarray else np.asarray(data)
        self._grad: Tensor | None = None
        self._node: Node | None = None
        self._slot = 0
        self._requires_grad = False
        self.requires_grad = requires_grad

    # graph ----------------------------------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        """A gradient assigned by hand must fit: a Tensor (or None) of this tensor's shape and dtype,
        so that an optimizer never meets a wrong one later, far from where it was set."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise GraphError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                 f"{type(value).__name__}")
            if value is self:
                raise GraphError("can't assign a tensor as its own grad")
            if value.data.shape != self.data.shape:
                raise GraphError(f"attempting to assign a gradient of shape {value.shape} to a tensor of shape "
                                 f"{self.shape}; they must be the same")
            if value.data.dtype != self.data.dtype:
                raise GraphError(f"attempting to assign a gradient with dtype {value.dtype} to a tensor with "
                                 f"dtype {self.dtype}; they must be the same")
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            why = " (Lucid does not differentiate complex values)" if self.data.dtype.kind == "c" else ""
            raise GraphError(f"only real floating-point tensors can require gradients, got dtype "
                             f"{self.data.dtype}{why}")
        if not value and self._node is not None:
            raise GraphError("requires_grad can only be turned off on a leaf tensor; use detach()")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return _new_tensor(self.data, False, None, 0)

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self._node is None:
            return
        if not self._requires_grad:
            raise GraphError("can't retain_grad on a tensor that does not require grad")
        if self._node.retained is None:
            self._node.retained = []
        self._node.retained.append((self._slot, weakref.ref(self)))

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`, as torch.Tensor.backward does."""
        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph or create_graph,
                 create_graph=create_graph)

    # in-place changes (the methods: lucid/inplace.py) --------------------------------------------
    @property
    def _version(self) -> int:
        """How often this tensor's memory was changed in place through Lucid (PyTorch's `_version`)."""
        version = _version_of(self.data)
        return 0 if version is None else version.count

    # array facts ----------------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        if self._requires_grad:
            raise GraphError("can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise OpError(f"item(): a tensor with {self.data.size} elements cannot be converted to a Python number")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (np.float32, np.int64, np.bool_) or self.data.size == 0:
            extras.append(f"dtype=lucid.{self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.op.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # operators: each is a registered op, looked up by name ----------------------------------
    __add__, __radd__ = _operator("add"), _operator("add", reflected=True)
    __sub__, __rsub__ = _operator("sub"), _operator("sub", reflected=True)
    __mul__, __rmul__ = _operator("mul"), _operator("mul", reflected=True)
    __truediv__, __rtruediv__ = _operator("div"), _operator("div", reflected=True)
    __pow__, __rpow__ = _operator("pow"), _operator("pow", reflected=True)
    __matmul__, __rmatmul__ = _operator("matmul"), _operator("matmul", reflected=True)
    __mod__, __rmod__ = _operator("remainder"), _operator("remainder", reflected=True)
    __floordiv__, __rfloordiv__ = _operator("floor_divide"), _operator("floor_divide", reflected=True)
    __and__, __rand__ = _operator("bitwise_and"), _operator("bitwise_and", reflected=True)
    __or__, __ror__ = _operator("bitwise_or"), _operator("bitwise_or", reflected=True)
    __xor__, __rxor__ = _operator("bitwise_xor"), _operator("bitwise_xor", reflected=True)
    __lshift__, __rlshift__ = _operator("bitwise_left_shift"), _operator("bitwise_left_shift", reflected=True)
    __rshift__, __rrshift__ = _operator("bitwise_right_shift"), _operator("bitwise_right_shift", reflected=True)
    __lt__, __le__ = _comparison(np.less), _comparison(np.less_equal)
    __gt__, __ge__ = _comparison(np.greater), _comparison(np.greater_equal)
    __eq__, __ne__ = _comparison(np.equal), _comparison(np.not_equal)

    def __neg__(self) -> Tensor:
        return apply(OPERATORS["neg"], (self,), {})

    def __invert__(self) -> Tensor:
        return apply(OPERATORS["bitwise_not"], (self,), {})

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return apply(OPERATORS["abs"], (self,), {})

    def __getitem__(self, key: Any) -> Tensor:
        return apply(OPERATORS["getitem"], (self,), {"key": key.data if isinstance(key, Tensor) else key})

    # methods whose PyTorch signature takes a shape as *args ----------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return apply(OPERATORS["reshape"], (self,), {"shape": _shape_args(shape)})

    def permute(self, *dims: Any) -> Tensor:
        return apply(OPERATORS["permute"], (self,), {"dims": _shape_args(dims)})

    def expand(self, *shape: Any) -> Tensor:
        return apply(OPERATORS["expand"], (self,), {"size": _shape_args(shape)})

    def repeat(self, *repeats: Any) -> Tensor:
        return apply(OPERATORS["repeat"], (self,), {"repeats": _shape_args(repeats)})

    def tile(self, *dims: Any) -> Tensor:
        return apply(OPERATORS["tile"], (self,), {"dims": _shape_args(dims)})

    @property
    def T(self) -> Tensor:
        return apply(OPERATORS["permute"], (self,), {"dims": tuple(range(self.data.ndim - 1, -1, -1))})

    @property
    def mT(self) -> Tensor:
        return apply(OPERATORS["transpose"], (self,), {"dim0": -2, "dim1": -1})

    def to(self, dtype: Any) -> Tensor:
        """A copy converted to `dtype`. Lucid computes with NumPy on the CPU: there are no devices."""
        try:
            wanted = np.dtype(dtype)
        except TypeError:
            wanted = None
        if wanted is None or wanted.kind not in "biufc":
            raise OpError(f"to(): expected a numeric dtype (lucid.float32, np.float64, 'int64'...), got {dtype!r}; "
                          f"Lucid runs on NumPy arrays, so there are no devices to move to")
        return apply(OPERATORS["to"], (self,), {"dtype": wanted})

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    # last in the class: these names (int, bool, type) would shadow the builtins in the annotations above
    def int(self) -> Tensor:
        return self.to(np.int32)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def type(self, dtype: Any) -> Tensor:
        """`x.type(dtype)` is `x.to(dtype)`, as in PyTorch. (Without a dtype PyTorch names its legacy
        tensor type, which Lucid does not have: `x.dtype` tells the dtype.)"""
        return self.to(dtype)

    def view(self, *shape: Any) -> Tensor:
        """`x.view(2, 3)` is `x.reshape(2, 3)`. `x.view(dtype)` reads the same bytes as another dtype,
        sharing memory, as PyTorch does (another itemsize scales the last dim, which must be contiguous).
        That is no function of the values, so it has no gradient: refused on a tensor that requires
        grad when the result would be a float (PyTorch cuts the graph silently there)."""
        if len(shape) != 1 or isinstance(shape[0], (int, np.integer, tuple, list)):
            return self.reshape(*shape)
        try:
            dtype = np.dtype(shape[0])
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biufc":
            raise OpError(f"view(): expected a shape or a numeric dtype, got {shape[0]!r}")
        if self._requires_grad and _mode.enabled and dtype.kind in "fc":
            raise GraphError(f"view(dtype): reading the bytes of a {self.dtype} tensor that requires grad as "
                             f"{dtype} is not differentiable; call x.detach().view({dtype}), or use x.to({dtype}) "
                             f"to convert the values")
        try:
            return _new_tensor(self.data.view(dtype), False, None, 0)
        except ValueError as error:
            raise OpError(f"view(): can't view a {self.dtype} tensor of shape {self.shape} as {dtype}: {error}") \
                from None


class _Changed(Tensor):
    """Stands in, for a vjp, for a value changed in place after its node was recorded: the value's
    shape, dtype and history are known, but reading the values raises the version error."""

    __slots__ = ("_array", "_error")

    def __init__(self, value: Tensor, error: GraphError):  # not Tensor's __init__, which sets data
        self._array, self._error = value.data, error
        self._grad, self._node, self._slot, self._requires_grad = None, value._node, value._slot, value._requires_grad

    @property
    def data(self) -> np.ndarray:  # type: ignore[override]
        raise GraphError(*self._error.args)

    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)


def _new_tensor(data: np.ndarray, requires_grad: bool, node: Node | None, slot: int) -> Tensor:
    """The fast constructor behind every op result: no checks, the caller vouches for them."""
    t = _new_object(Tensor)
    t.data, t._grad, t._requires_grad, t._node, t._slot = data, None, requires_grad, node, slot
    return t


def _shape_args(args: tuple) -> tuple:
    """`x.reshape(2, 3)` and `x.reshape((2, 3))` mean the same, as in PyTorch."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf Tensor. Python floats become the default dtype (float32) and ints int64, as in
    PyTorch; NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flatten(data)):
        data = [np.asarray(x) for x in data]
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        array = _as_array(np.asarray, data, None, "tensor()")
        if array.dtype == np.float64:
            array = array.astype(get_default_dtype())
        elif array.dtype.kind == "i":
            array = array.astype(np.int64)
    else:
        array = _as_array(np.array, data, dtype, "tensor()")
    if array.dtype.kind not in "fbiuc":
        raise OpError(f"tensor(): cannot make a tensor of dtype {array.dtype} from {type(data).__name__}")
    return Tensor(array, requires_grad=requires_grad)


def _as_array(make: Callable, data: Any, dtype: Any, where: str) -> np.ndarray:
    """`make(data, dtype=dtype)`, with NumPy's complaints about ragged lists or a bad dtype said plainly."""
    try:
        return make(data, dtype=dtype)
    except (ValueError, TypeError) as error:
        raise OpError(f"{where}: {_ragged(data) or error}") from None


def _ragged(data: Any) -> str:
    """Where a nested list stops being rectangular, in PyTorch's words; "" if it does not."""
    level, dim = [data], 0
    while True:
        lists = [x for x in level if isinstance(x, (list, tuple))]
        if not lists:
            return ""
        if len(lists) != len(level):
            return f"a ragged nested sequence: at dim {dim} some entries are sequences and some are not"
        lengths = [len(x) for x in lists]
        odd = next((n for n in lengths if n != lengths[0]), None)
        if odd is not None:
            return f"a ragged nested sequence: expected sequence of length {lengths[0]} at dim {dim} (got {odd})"
        level, dim = [y for x in lists for y in x], dim + 1


def _flatten(items: Iterable) -> Iterable:
    for x in items:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


# --- 6. backward -------------------------------------------------------------------------------

_grad_lock = threading.Lock()  # held while gradients are added into `.grad`s, never during a vjp


def backward(tensors: Sequence[Tensor], grad_tensors: Sequence[Any] | None = None, *,
             retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate the gradients of `tensors` into the `.grad` of every leaf they depend on."""
    found = _run(tensors, grad_tensors, retain_graph, create_graph, capture=None)
    _grad_lock.acquire()  # a read-modify-write: threads adding into one shared leaf must not lose a gradient
    try:  # (acquire and release: half the cost of a with statement, on every backward)
        for t, g in found:  # the engine's own gradients fit: the slot, not the checking `.grad` setter
            t._grad = g if t._grad is None else t._grad + g
    finally:
        _grad_lock.release()


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, as a tuple; `.grad` is left alone.
    With `create_graph=True` the result is itself differentiable (second derivatives)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise GraphError(f"grad(): input {i} does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    found = {id(t): g for t, g in _run(outputs, grad_outputs, retain, create_graph, capture=inputs)}
    result = []
    for i, x in enumerate(inputs):
        g = found.get(id(x))
        if g is None and not allow_unused:
            raise GraphError(f"grad(): input {i} (shape {x.shape}) was not used to compute the outputs; "
                             f"pass allow_unused=True to get None for it")
        result.append(g if g is None or create_graph else g.detach())
    return tuple(result)


def _run(roots: Sequence[Tensor], seeds: Sequence[Any] | None, retain_graph: bool, create_graph: bool,
         capture: Sequence[Tensor] | None) -> list[tuple[Tensor, Tensor]]:
    """The reverse walk. Returns (tensor, gradient) pairs: for `capture`, those tensors;
    otherwise the leaves and the non-leaves that asked to retain their grad.

    A node may run its vjp only once every path from the roots has delivered its gradient, that
    is after every node that consumed its outputs. Those consumers were created after it, so they
    have higher numbers (`Node.seq`): visiting nodes from the highest number down is a reverse
    topological order. A heap hands out the highest number among the nodes that have received a
    gradient so far; a node that receives none is never visited. No sort, no recursion.
    """
    if _past:  # a root that is a view of a tensor changed in place since follows it, as op inputs do
        _follow_bases(roots)
    seeds = _seeds(roots, seeds)
    pending: dict[Node, list] = {}  # gradients of each node's outputs, summed as they arrive
    ready: list[tuple[int, Node]] = []  # heap of (-seq, node) for the nodes in pending
    leaves: dict[int, list] = {}  # id(leaf) -> [leaf, summed gradient]
    found: list[tuple[Tensor, Tensor]] = []
    watched: dict[Node, list] = {}  # non-leaf tensors whose gradient is wanted, by their node
    for t in capture or ():
        if t._node is not None:
            watched.setdefault(t._node, []).append((t._slot, weakref.ref(t)))
    previous_mode, _mode.enabled = _mode.enabled, create_graph
    try:
        for root, seed in zip(roots, seeds):
            _send(root, seed, pending, ready, leaves, create_graph)
        while ready:
            node = heapq.heappop(ready)[1]
            grads = pending.pop(node)
            inputs = routes = node.inputs
            outputs = None
            wanted_here = watched.get(node) if capture is not None else node.retained
            if wanted_here:
                found.extend((ref(), grads[slot]) for slot, ref in wanted_here
                             if ref() is not None and grads[slot] is not None)
            if node.seq < _last_change:  # something was changed in place since this node was recorded
                inputs, routes, outputs = _as_recorded(node)
            i = 0
            for g in _vjp(node, grads, inputs, outputs):
                x = routes[i]
                if g is not None and x is not None and x._requires_grad:
                    if type(g) is not Tensor or g.data.shape != x.data.shape or g.data.dtype != x.data.dtype:
                        g = _conform(g, x, node, i, create_graph)
                    _send(x, g, pending, ready, leaves, create_graph)
                i += 1
            if not retain_graph:
                node.free()
    finally:
        _mode.enabled = previous_mode
    if capture is None:
        found.extend((t, g) for t, g in leaves.values())
        handed_out = {id(s.data) for s in seeds}  # arrays a gradient must not alias
        return [(t, _owned(g, handed_out)) for t, g in found]
    wanted = {id(t) for t in capture}
    return found + [(t, g) for t, g in leaves.values() if id(t) in wanted]


def _send(t: Tensor, g: Tensor, pending: dict, ready: list, leaves: dict, create_graph: bool) -> None:
    """Add g to what t has received so far: a leaf's running total, or its node's output slot
    (the first gradient a node receives puts it on the `ready` heap)."""
    node = t._node
    if node is None:
        entry = leaves.get(id(t))
        if entry is None:
            leaves[id(t)] = [t, g]
        else:
            entry[1] = _add(entry[1], g, create_graph)
        return
    slots = pending.get(node)
    if slots is None:
        if node.outputs is None:
            raise GraphError(f"trying to backward through the graph a second time (at op {node.op.name!r}): "
                             f"its saved values were freed; pass retain_graph=True to the first backward")
        slots = pending[node] = [None] * len(node.outputs)  # split's count depends on its params
        heapq.heappush(ready, (-node.seq, node))
    slots[t._slot] = g if slots[t._slot] is None else _add(slots[t._slot], g, create_graph)


def _add(a: Tensor, b: Tensor, create_graph: bool) -> Tensor:
    """The sum of two gradients of one tensor. Only a recorded backward needs the add op (and its
    node); first-order gradients are added as arrays, into a fresh one that aliases neither."""
    if create_graph:
        return a + b
    return _new_tensor(np.add(a.data, b.data), False, None, 0)


def _seeds(roots: Sequence[Tensor], seeds: Sequence[Any] | None) -> list[Tensor]:
    """The gradient each root starts with: 1 for a scalar, or the one given."""
    if seeds is not None and len(seeds) != len(roots):
        raise GraphError(f"got {len(seeds)} gradients for {len(roots)} outputs")
    result = []
    for i, root in enumerate(roots):
        if not isinstance(root, Tensor) or not root._requires_grad:
            raise GraphError(f"output {i} does not require grad and has no grad_fn: nothing to differentiate "
                             f"(did you set requires_grad=True on the inputs, or run under no_grad?)")
        seed = None if seeds is None else seeds[i]
        if seed is None:
            if root.data.size != 1:
                raise GraphError(f"backward() needs a gradient argument for a non-scalar output of shape "
                                 f"{root.shape}; it can only be implicit for a single-element output")
            dtype = root.data.dtype  # a 0-d loss, the usual root, needs no np.ones (a slow Python wrapper)
            ones = np.array(1, dtype) if root.data.ndim == 0 else np.ones(root.data.shape, dtype)
            seed = _new_tensor(ones, False, None, 0)
        else:
            seed = seed if isinstance(seed, Tensor) else _seed_tensor(seed, root, i)
            if seed.shape != root.shape:
                raise GraphError(f"gradient of shape {seed.shape} given for an output of shape {root.shape}")
        result.append(seed)
    return result


def _seed_tensor(seed: Any, root: Tensor, i: int) -> Tensor:
    """A gradient given as a number or an array, in the output's dtype; anything else is refused."""
    numeric = isinstance(seed, (np.ndarray, np.generic, int, float, list, tuple))
    array = _as_array(np.asarray, seed, None, f"backward(): the gradient for output {i}") if numeric else None
    if array is None or array.dtype.kind not in "biuf":
        raise GraphError(f"backward(): the gradient for output {i} must be a Tensor, an array or a number, "
                         f"got {type(seed).__name__}" + ("" if array is None else f" of dtype {array.dtype}"))
    return _new_tensor(array.astype(root.data.dtype), False, None, 0)


def _vjp(node: Node, grads: list, inputs: tuple, outputs: tuple | None) -> tuple:
    """Call the op's local derivative on `inputs` and `outputs` (made from the node's output arrays
    if None) and check that it kept its contract."""
    op = node.op
    out: Tensor | tuple[Tensor, ...]
    if op.one_output:
        g, out = grads[0], outputs[0] if outputs else _new_tensor(node.outputs[0], True, node, 0)
    else:  # several outputs: zeros stand in for float outputs that received no gradient, None for residuals
        out = outputs or tuple(_new_tensor(o, o.dtype.kind == "f", node, i) for i, o in enumerate(node.outputs))
        g = tuple(gi if gi is not None or o.dtype.kind != "f" or (op.residuals and i)
                  else _new_tensor(np.zeros(o.shape, o.dtype), False, None, 0)
                  for i, (gi, o) in enumerate(zip(grads, out)))
    result = op.vjp(g, out, *inputs, **node.params)
    if type(result) is not tuple or len(result) != len(node.inputs):
        if isinstance(result, list) and len(result) == len(node.inputs):
            return tuple(result)
        count = len(result) if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise OpError(f"{op.name}: vjp returned {count} gradients for {len(node.inputs)} inputs; "
                      f"it must return a tuple with one gradient (or None) per input")
    return result


def _conform(g: Any, x: Tensor, node: Node, i: int, create_graph: bool) -> Tensor:
    """Make a vjp's gradient fit its input: a Tensor of the input's shape and dtype. Gradients of
    broadcast inputs are summed back to the input's shape here, once, for every op."""
    if not isinstance(g, Tensor):
        if create_graph:
            raise GraphError(f"{node.op.name}: its vjp returns NumPy arrays, which cannot be differentiated "
                             f"again (create_graph=True); write the vjp with Lucid ops on Tensors")
        g = _new_tensor(np.asarray(g), False, None, 0)
    if g.shape != x.shape:
        if not _broadcasts(x.shape, g.shape):
            raise OpError(f"{node.op.name}: vjp gave input {i} a gradient of shape {g.shape}, which cannot be "
                          f"summed to the input's shape {x.shape}")
        g = sum_to_shape(g, x.shape)
    if g.dtype != x.dtype:
        g = g.to(x.dtype) if _mode.enabled else _new_tensor(g.data.astype(x.dtype), False, None, 0)
    return g


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of `shape` broadcasts to `target` (np.broadcast_shapes is slow Python)."""
    return len(shape) <= len(target) and all(n == 1 or n == m for n, m in zip(reversed(shape), reversed(target)))


def sum_to_shape(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a gradient over the axes along which its input was broadcast: the axes where the input
    had size 1 (kept, as size 1), then the leading axes it did not have (dropped). When no graph
    is being recorded (a first-order backward), the array is summed directly, without the sum op."""
    lead = g.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not _mode.enabled:
        data = g.data.sum(axis=ones, keepdims=True) if ones else g.data
        return _new_tensor(data.sum(axis=tuple(range(lead))) if lead else data, False, None, 0)
    if ones:
        g = apply(OPERATORS["sum"], (g,), {"dim": ones, "keepdim": True})
    if lead:
        g = apply(OPERATORS["sum"], (g,), {"dim": tuple(range(lead)), "keepdim": False})
    return g


def _owned(g: Tensor, handed_out: set[int]) -> Tensor:
    """A gradient a tensor may keep: its own writable array, aliasing no other gradient."""
    array = g.data
    if id(array) in handed_out or array.base is not None or not array.flags.writeable:
        array = array.copy()
        g = _new_tensor(array, g._requires_grad, g._node, g._slot)
    handed_out.add(id(array))
    return g
