"""In-place changes, as PyTorch makes them: `x.add_(1)`, `x[i] = v`, `h += y`, `relu(x, inplace=True)`.

An in-place op writes its result into the tensor's own memory, so every tensor sharing that memory
(its views, its `detach()`) sees the new values. On a tensor in a graph it is differentiable: the
tensor takes a new history, the op applied to its old value, and its old history stays valid for
whoever still needs it. Every in-place change is computed the same way (`change`):

1. the old value is copied (PyTorch's `original_self`), with the tensor's history: the node that
   made the tensor is handed that copy as its output, so writing into the memory does not
   invalidate it;
2. the new value is computed from the copy with recorded ops (`compute`), so its derivative
   is that of verified ops: add's for `add_`, setitem's for `x[i] = v`;
3. it is written into the memory, the memory's version goes up (`increment_version`), and the
   tensor takes the node of the new value as its history.

The nodes that read the tensor before the change keep its old history (the core keeps it for them:
`take_history`), and if their vjp reads the changed value, backward raises, as in PyTorch: a gradient
is either right or an error.

Views: a write through a view (`v = x[0]; v.add_(1)`, `x[0] += 1`, `x.reshape(-1).mul_(2)`,
`x.T[0] = 1`) is a change of its base, `x[0] = x[0] + 1`: the base takes the history of setitem,
and the view the history of the view op applied to the new base, as PyTorch's CopySlices does. A
view made by another op than indexing is written where it lies in its base: the op applied to the
base's positions (`_places`) says where. Writes that would be recorded through a view made outside
the graph (a `detach()` of a slice, a slice of a tensor that does not require grad) or through one
in which two elements share a place (overlapping windows) are refused with a clear error.

Without a graph to record (under `no_grad()`, or on tensors that do not require grad with sources
that do not either), an in-place op is a plain write and a version bump: optimizers rely on that.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import GraphError, OpError
from .tensor import (OPERATORS, Node, Tensor, _check_unchanged, _memory, _mode, _new_tensor, increment_version,
                     no_grad, take_history)

Compute = Callable[[Tensor], Tensor]


def change(tensor: Tensor, compute: Compute, name: str, sources: tuple = ()) -> Tensor:
    """Replace `tensor`'s value with `compute(old value)`, in place, recording the change in the graph
    when `tensor` or one of the `sources` (the op's other tensors) requires grad; returns `tensor`."""
    recording = _mode.enabled and (tensor._requires_grad or any(
        isinstance(s, Tensor) and s._requires_grad for s in sources))
    if recording and tensor._requires_grad and tensor._node is None:
        raise GraphError(f"{name}: a leaf Variable that requires grad is being used in an in-place operation "
                         f"(shape {tensor.shape}); do it under lucid.no_grad(), as optimizers do, or change a "
                         f"copy (x.clone())")
    if not tensor.data.flags.writeable:
        raise OpError(f"{name}: this tensor's memory is read-only (shape {tensor.shape}, a NumPy broadcast view, "
                      f"say); change a copy of it")
    if not recording:
        _write(tensor, compute(tensor), name)
        return tensor
    view = _view_of(tensor, name)
    if view is not None:
        base, read, write = view
        change(base, lambda old: write(old, compute(read(old))), name, sources)
        _take_history(tensor, read(base))
        return tensor
    old = _old_value(tensor)
    new = compute(old)
    _hand_over_output(tensor, old)
    _write(tensor, new, name)
    _take_history(tensor, new if new.dtype == tensor.dtype else new.to(tensor.dtype))
    return tensor


def _old_value(tensor: Tensor) -> Tensor:
    """A copy of `tensor`'s value with its history. A copy that indexing made (`x[mask]`, then changed
    in place by `x[mask] += 1`) is indexed again from a copy of its base, so that its history does not
    lead through the base tensor, which `x[mask] = ...` is about to change (while the base is
    unchanged since: otherwise the old history stays, and backward through it raises). A leaf base
    is never copied: its copy would be another leaf, which would take its gradient."""
    node = tensor._node
    base = node.inputs[0] if node is not None and node.op is OPERATORS["getitem"] else None
    if base is not None and (base._node is not None or not base._requires_grad) and _unchanged(node):
        base_then = _new_tensor(base.data.copy(), base._requires_grad, base._node, base._slot)
        return OPERATORS["getitem"](base_then, key=node.params["key"])
    return _new_tensor(tensor.data.copy(), tensor._requires_grad, node, tensor._slot)


def _unchanged(node: Node) -> bool:
    try:
        _check_unchanged(node)
    except GraphError:
        return False
    return True


def _write(tensor: Tensor, new: Tensor, name: str) -> None:
    """Write `new` into `tensor`'s memory, if it fits there as PyTorch requires, and bump the version."""
    if new.shape != tensor.shape:
        raise OpError(f"{name}: the result has shape {new.shape}, which does not fit this tensor's shape "
                      f"{tensor.shape} (an in-place op cannot grow its tensor by broadcasting)")
    if not np.can_cast(new.dtype, tensor.dtype, "same_kind"):
        raise OpError(f"{name}: result type {new.dtype} can't be cast to this tensor's dtype {tensor.dtype}")
    np.copyto(tensor.data, new.data, casting="same_kind")
    increment_version(tensor)


def _hand_over_output(tensor: Tensor, old: Tensor) -> None:
    """Give the node that made `tensor` the copy of its value as its output, so that writing into
    the memory leaves that node's saved output as it was."""
    node = tensor._node
    if node is not None and node.outputs is not None and node.outputs[tensor._slot] is tensor.data:
        node.outputs = tuple(old.data if i == tensor._slot else o for i, o in enumerate(node.outputs))


def _take_history(tensor: Tensor, new: Tensor) -> None:
    take_history(tensor, new._node, new._slot, new._requires_grad)


def _view_of(tensor: Tensor, name: str) -> tuple[Tensor, Compute, Callable] | None:
    """(base, read, write) if `tensor` is a view that an op made of `base`: read(b) is that view of
    b, write(b, v) is b with v written where the view lies. None if it owns its memory (or shares it
    with no tensor: a view a forward made of its own temporary). Views made outside the graph, and
    views in which two elements lie at one place (overlapping windows), are refused."""
    memory = _memory(tensor.data)
    if memory is tensor.data:
        return None
    node = tensor._node
    base = node.inputs[0] if node is not None else None
    if base is not None and _memory(base.data) is memory:
        if node.op is OPERATORS["getitem"]:
            key = node.params["key"]
            return (base, lambda b: OPERATORS["getitem"](b, key=key),
                    lambda b, v: OPERATORS["setitem"](b, v, key=key))
        places = _places(tensor, node)
        if places is not None:
            op, others, params, slot = node.op, node.inputs[1:], node.params, tensor._slot
            return (base, lambda b: _output(op(b, *others, **params), slot),
                    lambda b, v: OPERATORS["setitem"](b.reshape(-1), v, key=places).reshape(b.shape))
    if node is not None and all(x is None or _memory(x.data) is not memory for x in node.inputs):
        return None
    made_by = (f"made by {node.op.name!r} (two of its elements lie at one place, or it views another input "
               f"than the first)" if node is not None
               else "made outside the graph (by indexing a tensor that does not require grad, or by detach())")
    raise GraphError(f"{name}: this tensor (shape {tensor.shape}) is a view {made_by} of another tensor's memory "
                     f"(shape {memory.shape}), which Lucid cannot change in place while recording; change the "
                     f"base, or change a copy (x.clone())")


def _places(view: Tensor, node: Node) -> np.ndarray | None:
    """Where each element of `view`, which `node` made of its first input, lies in that input (flat
    positions, of the view's shape): the node's op applied to the positions themselves. None if two
    elements lie at one place."""
    base = node.inputs[0]
    positions = np.arange(base.data.size).reshape(base.shape)
    places = node.op.forward(positions, *(x if x is None else x.data for x in node.inputs[1:]), **node.params)
    places = np.asarray(_output(places, view._slot))
    if places.shape != view.shape or np.unique(places).size != places.size:
        return None
    return places


def _output(result: Any, slot: int) -> Any:
    """Output `slot` of an op's result (the result itself for an op of one output)."""
    return result[slot] if isinstance(result, (tuple, list)) else result


# --- Tensor's in-place methods -------------------------------------------------------------------


def _method(op_name: str, method: str) -> Callable:
    """`x.<op>_(*args)`: x replaced by op(x, *args), in place."""
    def in_place(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        op = OPERATORS[op_name]
        return change(self, lambda old: op(old, *args, **kwargs), method, (*args, *kwargs.values()))

    in_place.__name__ = method
    in_place.__doc__ = f"`{op_name}`, in place: the tensor takes the result as its value (and history)."
    return in_place


#: Tensor methods that apply the op of the same name (less the trailing _) in place.
IN_PLACE_METHODS = ("neg_", "clamp_", "masked_fill_", "index_add_", "scatter_", "scatter_add_", "abs_", "exp_",
                    "log_", "sqrt_", "sin_", "cos_", "tanh_", "sigmoid_", "relu_", "pow_", "mul_", "div_")


def _with_alpha(op_name: str, method: str) -> Callable:
    """`x.add_(y, alpha=2)` and `x.sub_(y, alpha=2)`: x op alpha * y, in place."""
    def in_place(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
        op = OPERATORS[op_name]
        return change(self, lambda old: op(old, other if alpha == 1 else other * alpha), method, (other,))

    in_place.__name__ = method
    return in_place


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to `value` (a number or a one-element tensor), in place."""
    if isinstance(value, Tensor) and value.data.size != 1:
        raise OpError(f"fill_: the value must be a number or a one-element tensor, got shape {value.shape}")
    if isinstance(value, Tensor) and value.ndim:
        value = value.reshape(())
    return change(self, lambda old: OPERATORS["setitem"](old, value, key=Ellipsis), "fill_", (value,))


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0, in place."""
    return fill_(self, 0)


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy `src`'s values (broadcast to this shape, cast to this dtype) into this tensor, in place."""
    shape = src.shape if isinstance(src, Tensor) else np.shape(src)
    if len(shape) > self.ndim or any(m != 1 and m != n for m, n in zip(reversed(shape), reversed(self.shape))):
        raise OpError(f"copy_: a source of shape {tuple(shape)} cannot be broadcast to this tensor's shape "
                      f"{self.shape}")
    return change(self, lambda old: OPERATORS["setitem"](old, src, key=Ellipsis), "copy_", (src,))


def clone(self: Tensor) -> Tensor:
    """A copy that owns its memory, with the gradient of the identity (PyTorch's clone)."""
    return OPERATORS["setitem"](self, self, key=Ellipsis)


def __setitem__(self: Tensor, key: Any, value: Any) -> None:
    """`x[key] = value`, PyTorch's indexed assignment: setitem, in place."""
    key = key.data if isinstance(key, Tensor) else key
    if isinstance(value, Tensor) and _is_region(value, self, key):
        return  # x[key] = x[key], the last step of `x[key] += y`: the values are already there
    change(self, lambda old: OPERATORS["setitem"](old, value, key=key), "__setitem__", (value,))


def _is_region(value: Tensor, tensor: Tensor, key: Any) -> bool:
    """Whether `value` is exactly the memory that tensor[key] views."""
    if _memory(value.data) is not _memory(tensor.data):
        return False
    with no_grad():
        region = OPERATORS["getitem"](tensor.detach(), key=key).data
    interface, mine = region.__array_interface__, value.data.__array_interface__
    return _memory(region) is _memory(tensor.data) and all(
        interface[k] == mine[k] for k in ("data", "shape", "strides", "typestr"))


def _augmented(op_name: str, method: str) -> Callable:
    """`x += y` and the like: in place, as in PyTorch (so `x` must be able to hold the result)."""
    def in_place(self: Tensor, other: Any) -> Tensor:
        op = OPERATORS[op_name]
        return change(self, lambda old: op(old, other), method, (other,))

    in_place.__name__ = method
    return in_place


def install() -> None:
    """Attach the in-place methods to Tensor."""
    for method in IN_PLACE_METHODS:
        setattr(Tensor, method, _method(method[:-1], method))
    others = {"clip_": _method("clamp", "clip_"), "add_": _with_alpha("add", "add_"),
              "sub_": _with_alpha("sub", "sub_")}
    for method, function in others.items():
        setattr(Tensor, method, function)
    for function in (fill_, zero_, copy_, clone, __setitem__):
        setattr(Tensor, function.__name__, function)
    for op_name, method in (("add", "__iadd__"), ("sub", "__isub__"), ("mul", "__imul__"), ("div", "__itruediv__")):
        setattr(Tensor, method, _augmented(op_name, method))


def in_place_option(op: Any, name: str) -> Callable:
    """`op` as a function that also takes PyTorch's `inplace=` (F.relu(x, inplace=True)), by name or as
    the positional argument after the op's params."""
    def function(input: Any, *args: Any, inplace: bool = False, **kwargs: Any) -> Any:
        if len(args) == len(op.param_names) + 1:
            *args, inplace = args
        if not isinstance(inplace, bool):
            raise OpError(f"{name}: argument 'inplace' must be True or False, got {inplace!r}")
        if inplace:
            return change(input, lambda old: op(old, *args, **kwargs), f"{name}(inplace=True)")
        return op(input, *args, **kwargs)

    function.__name__ = name.rsplit(".", 1)[-1]
    function.__doc__ = getattr(op.forward, "__doc__", None)
    function.op = op  # type: ignore[attr-defined]
    return function
