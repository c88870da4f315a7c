"""What is being checked: a function of arrays, its analytic VJP, and the point to check it at.

A `Target` hides where the function comes from (one op on one drawn input, any function of
Lucid tensors, or the first derivative of either for second-order checks) behind four calls:

- `forward(arrays)`: the outputs at a float64 point, flattened into one vector (finite
  differences need nothing else);
- `forward_batch(i, X)`: the same for a whole stack of values of input `i` at once, when the
  function broadcasts over leading dimensions (elementwise ops and gufuncs do): one call
  instead of one per perturbation, which is what makes the full Jacobian cheap;
- `vjp(g)`: the analytic gradients for one output gradient `g`, in the working dtype;
- `vjp_batch(G)`: the same for a stack of output gradients (the rows of the Jacobian).

The batched forms are an optimisation, never trusted blindly: each is checked against the
unbatched form on its first use, and a target that does not match falls back to a loop.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import lucid
from lucid import Op, Tensor

Arrays = list  # list[np.ndarray | None]


class NotBatchable(Exception):
    """The target cannot evaluate a stack of inputs in one call (the caller loops instead)."""


def sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient over the axes its input was broadcast along (the engine's rule, in NumPy),
    in C order whatever g's layout: the order of a sum changes its rounding, and where it cancels
    that is no small change (the layout checks compare gradients of inputs in other layouts)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0 or np.broadcast_shapes(g.shape, shape) != g.shape:
        raise ValueError(f"a gradient of shape {g.shape} cannot be summed to the input's shape {shape}")
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return np.ascontiguousarray(g).sum(axis=axes).reshape(shape) if axes else g.reshape(shape)


def flat_outputs(out: Any) -> list[np.ndarray]:
    """The floating-point outputs of a call (integer outputs, like argmax indices, have no gradient)."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    arrays = [o.data if isinstance(o, Tensor) else np.asarray(o) for o in outs]
    return [a for a in arrays if a.dtype.kind == "f"]


#: Params that name axes: a stack along a new leading axis shifts non-negative ones.
AXIS_PARAMS = {"dim", "dims", "axis", "axes", "dim0", "dim1", "start_dim", "end_dim", "source", "destination"}


def counts_from_end(value: Any, ndim: int) -> bool:
    """An axis value that means the same with extra leading axes: negative ints within the input's
    dims (None means all axes, which a stack would change; a 0-d input's -1 is not an axis)."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    return all(isinstance(v, (int, np.integer)) and -ndim <= v < 0 for v in values)


def concatenated(outs: list[np.ndarray]) -> np.ndarray:
    """Float outputs as one flat float64 vector, the form finite differences work on."""
    return np.concatenate([o.reshape(-1) for o in outs]).astype(np.float64, copy=False) if outs else np.zeros(0)


def frozen(out: Any) -> Any:
    """A read-only copy of a forward's output(s), to be shared by many VJP calls: a rule that
    writes into its `out` fails loudly instead of corrupting the calls after it."""
    if isinstance(out, (tuple, list)):
        return tuple(frozen(o) for o in out)
    out = np.array(out, copy=True)
    out.flags.writeable = False
    return out


def symmetric(x: np.ndarray) -> np.ndarray:
    return (x + np.swapaxes(x, -1, -2)) / 2


class Target:
    """A function, the point where it is checked, and its analytic derivative there."""

    name: str
    arrays: Arrays  # the point, in the working dtype (None for a missing optional input)
    wrt: tuple[int, ...]  # the inputs whose gradient is checked
    out_shapes: list[tuple[int, ...]]  # of the floating-point outputs
    out_eps: float = float(np.finfo(np.float64).eps)  # the outputs' precision at float64 inputs
    #: forward(points64()), when making the target computed it already (None: not known)
    center: np.ndarray | None = None

    def forward(self, arrays: Arrays) -> np.ndarray:
        raise NotImplementedError

    def forward_batch(self, i: int, stack: np.ndarray) -> np.ndarray:
        raise NotBatchable

    def vjp(self, g: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError

    def vjp_batch(self, G: np.ndarray) -> list[np.ndarray]:
        raise NotBatchable

    @property
    def out_size(self) -> int:
        return sum(math.prod(s) for s in self.out_shapes)

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        """A flat output vector (or a row of the Jacobian) as one array per output."""
        parts, start = [], 0
        for shape in self.out_shapes:
            n = math.prod(shape)
            parts.append(flat[..., start:start + n].reshape(flat.shape[:-1] + shape))
            start += n
        return parts

    def points64(self) -> Arrays:
        return [None if x is None else (x.astype(np.float64) if x.dtype.kind == "f" else x) for x in self.arrays]


# --- one op on one input -------------------------------------------------------------------------


class OpTarget(Target):
    """`op(*inputs, **params)`: the forward called directly on arrays, the vjp rule called directly
    on Tensors (no graph: the engine's own part is checked separately, in `checks`)."""

    def __init__(self, op: Op, arrays: Arrays, params: dict, symmetric_inputs: Sequence[int] = (),
                 wrt: Sequence[int] | None = None):
        self.op, self.name, self.params = op, op.name, {**op.defaults, **params}
        self.arrays = list(arrays)
        self.symmetric = tuple(symmetric_inputs)
        self.wrt = tuple(i for i, x in enumerate(self.arrays)
                         if x is not None and x.dtype.kind == "f" and self.arg(i).differentiable
                         and (wrt is None or i in wrt))
        least = min((x.ndim for x in self.arrays if x is not None), default=0)
        self.batchable = op.sample is None and not op.variadic and all(
            counts_from_end(value, least) for key, value in self.params.items() if key in AXIS_PARAMS)
        self.out = frozen(self._call(self.arrays))  # every VJP at the point reuses it
        outs = flat_outputs(self.out)
        self.out_shapes = [o.shape for o in outs]
        if any(x is not None and x.dtype.kind == "f" and x.dtype != np.float64 for x in self.arrays):
            outs = flat_outputs(self._call(self.points64()))
        elif not any(self.arg(i).mutable for i, x in enumerate(self.arrays) if x is not None):
            self.center = concatenated(outs)  # forward() would call the same forward on the same values
        self.out_eps = max([float(np.finfo(o.dtype).eps) for o in outs], default=self.out_eps)

    def arg(self, i: int):
        return self.op.inputs[0] if self.op.variadic else self.op.inputs[i]

    def _call(self, arrays: Arrays) -> Any:
        if self.symmetric:
            arrays = [symmetric(x) if i in self.symmetric else x for i, x in enumerate(arrays)]
        return self.op.forward(*arrays, **self.params)

    def forward(self, arrays: Arrays) -> np.ndarray:
        """On copies: an op that updates an input in place (batch_norm's running statistics)
        must not move the point the finite differences are taken at."""
        return concatenated(flat_outputs(self._call([None if x is None else x.copy() for x in arrays])))

    def forward_batch(self, i: int, stack: np.ndarray) -> np.ndarray:
        """Input i replaced by a stack along a new leading axis; the others broadcast against it."""
        if not self.batchable:
            raise NotBatchable
        arrays = self.points64()
        ndim = max(x.ndim for x in arrays if x is not None)
        x = arrays[i]
        arrays[i] = stack.reshape((len(stack),) + (1,) * (ndim - x.ndim) + x.shape)
        try:
            outs = flat_outputs(self._call(arrays))
        except Exception:  # it does not broadcast that way after all (a 1-d matmul operand, say)
            raise NotBatchable from None
        b = len(stack)
        if [o.shape for o in outs] != [(b,) + s for s in self.out_shapes]:
            raise NotBatchable
        return np.concatenate([o.reshape(b, -1) for o in outs], axis=1).astype(np.float64, copy=False)

    # the analytic side -----------------------------------------------------------------------
    def tensors(self, arrays: Arrays | None = None) -> list[Tensor | None]:
        arrays = self.arrays if arrays is None else arrays
        return [None if x is None else Tensor(x, requires_grad=i in self.wrt) for i, x in enumerate(arrays)]

    def raw_vjp(self, gs: list[np.ndarray], arrays: Arrays | None = None, out: Any = None) -> tuple:
        """The rule's own answer for the output gradients `gs` (one per float output), as returned."""
        arrays = self.arrays if arrays is None else arrays
        tensors: list[Any] = self.tensors(arrays)  # None only for optional inputs left out
        if self.symmetric:
            tensors = [Tensor(symmetric(t.data), requires_grad=t.requires_grad) if i in self.symmetric else t
                       for i, t in enumerate(tensors)]
        if out is None:
            out = self.out if arrays is self.arrays else self._call(arrays)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        parts = iter(gs)
        g_tensors, out_tensors = [], []
        for o in outs:
            o = np.asarray(o)
            out_tensors.append(Tensor(o))
            g_tensors.append(Tensor(next(parts).astype(o.dtype, copy=False)) if o.dtype.kind == "f" else None)
        with lucid.no_grad():
            if self.op.one_output:
                return self.op.vjp(g_tensors[0], out_tensors[0], *tensors, **self.params)
            return self.op.vjp(tuple(g_tensors), tuple(out_tensors), *tensors, **self.params)

    def conform(self, grads: Any, arrays: Arrays | None = None) -> list[np.ndarray]:
        """A rule's gradients (as it returned them) for the inputs differentiated, as arrays of the
        inputs' shapes (`arrays`, the target's own by default): broadcast ones summed, None as 0."""
        arrays = self.arrays if arrays is None else arrays
        if not isinstance(grads, (tuple, list)) or len(grads) != len(self.arrays):
            count = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
            raise ValueError(f"vjp returned {count} gradients for {len(self.arrays)} inputs")
        result = []
        for i in self.wrt:
            g, shape = grads[i], () if arrays[i] is None else arrays[i].shape
            if g is None:
                result.append(np.zeros(shape))
                continue
            g = sum_to(np.asarray(g.data if isinstance(g, Tensor) else g), shape)
            if i in self.symmetric:  # the gradient of sym(X) with respect to X
                g = symmetric(g)
            result.append(g)
        return result

    def vjp(self, g: np.ndarray) -> list[np.ndarray]:
        return self.conform(self.raw_vjp(self.split(g)))

    def vjp_batch(self, G: np.ndarray) -> list[np.ndarray]:
        """All rows at once: inputs and outputs broadcast (as read-only views) along a leading axis."""
        if not self.batchable:
            raise NotBatchable
        k = len(G)
        ndim = max(x.ndim for x in self.arrays if x is not None)
        arrays = [None if x is None else np.broadcast_to(x, (k,) + (1,) * (ndim - x.ndim) + x.shape)
                  for x in self.arrays]
        outs = self.out if isinstance(self.out, (tuple, list)) else (self.out,)
        out = tuple(np.broadcast_to(o, (k,) + np.shape(o)) for o in outs)
        grads = self.raw_vjp(self.split(G), arrays, out)
        return [g.reshape(k, -1) for g in self.conform(grads, arrays)]


# --- any function of tensors -----------------------------------------------------------------


class FunctionTarget(Target):
    """`fn(*tensors)` for any function of Lucid tensors, differentiated through the engine."""

    def __init__(self, fn: Callable[..., Any], inputs: Sequence[Any], name: str | None = None):
        self.fn, self.name = fn, name or str(getattr(fn, "__name__", "fn"))
        self.inputs = [x if isinstance(x, Tensor) or x is None else lucid.tensor(x) for x in inputs]
        self.arrays = [None if x is None else x.data for x in self.inputs]
        self.wrt = tuple(i for i, x in enumerate(self.inputs) if x is not None and x.requires_grad)
        # One call, recorded: its graph serves every VJP (backward with retain_graph) and its
        # outputs are the center of the finite differences (recording does not change values).
        self.leaves: list[Any] = [None if x is None else Tensor(x.data, requires_grad=i in self.wrt)
                       for i, x in enumerate(self.inputs)]
        with lucid.enable_grad():
            self.outs = fn(*self.leaves)
        outs = flat_outputs(self.outs)
        self.out_shapes = [o.shape for o in outs]
        if all(x is None or x.dtype == np.float64 for x in self.arrays):  # the inputs are the float64 point
            self.center = concatenated(outs)

    def forward(self, arrays: Arrays) -> np.ndarray:
        with lucid.no_grad():
            return concatenated(flat_outputs(self.fn(*[None if x is None else Tensor(x) for x in arrays])))

    def forward_batch(self, i: int, stack: np.ndarray) -> np.ndarray:
        """fn on a stack of values of input i along a new leading axis, as `OpTarget` does: right
        for functions that broadcast over leading axes (softmax over dim=-1, x @ W), and caught
        by the output's shape or by the rows `Evaluator` compares with single calls otherwise."""
        arrays = self.points64()
        ndim = max(x.ndim for x in arrays if x is not None)
        arrays[i] = stack.reshape((len(stack),) + (1,) * (ndim - arrays[i].ndim) + arrays[i].shape)
        try:
            with lucid.no_grad():
                outs = flat_outputs(self.fn(*[None if x is None else Tensor(x) for x in arrays]))
        except Exception:
            raise NotBatchable from None
        b = len(stack)
        if [o.shape for o in outs] != [(b,) + s for s in self.out_shapes]:
            raise NotBatchable
        return np.concatenate([o.reshape(b, -1) for o in outs], axis=1).astype(np.float64, copy=False)

    def vjp(self, g: np.ndarray) -> list[np.ndarray]:
        outs = [o for o in (self.outs if isinstance(self.outs, (tuple, list)) else (self.outs,)) if o.dtype.kind == "f"]
        parts = self.split(g)
        pairs = [(o, p) for o, p in zip(outs, parts) if o.requires_grad]
        if not pairs:
            return [np.zeros(self.arrays[i].shape) for i in self.wrt]
        grads = lucid.grad([o for o, _ in pairs], [self.leaves[i] for i in self.wrt],
                           [Tensor(p.astype(o.dtype)) for o, p in pairs], retain_graph=True, allow_unused=True)
        return [np.zeros(self.arrays[i].shape) if gr is None else gr.data for i, gr in zip(self.wrt, grads)]


# --- second order ------------------------------------------------------------------------------


class SecondOrderTarget(Target):
    """x -> the first-order gradients at x for a fixed output gradient u, all concatenated.

    Its analytic VJP goes through the engine with create_graph=True: that is what a user of
    second derivatives runs, and it is where a rule that is not itself differentiable fails."""

    def __init__(self, first: Target, call: Callable[[list[Tensor | None]], Any], u: np.ndarray):
        self.first, self.call, self.u = first, call, u
        self.name = first.name
        self.arrays, self.wrt = first.arrays, first.wrt
        self.out_shapes = [first.arrays[i].shape for i in first.wrt]

    def _grads(self, arrays: Arrays, create_graph: bool) -> tuple[list[Any], list[Tensor | None]]:
        leaves: list[Any] = [None if x is None else Tensor(x, requires_grad=i in self.wrt)
                             for i, x in enumerate(arrays)]
        with lucid.enable_grad():
            outs = self.call(leaves)
            outs = [o for o in (outs if isinstance(outs, (tuple, list)) else (outs,)) if o.dtype.kind == "f"]
            pairs = [(o, p) for o, p in zip(outs, self.first.split(self.u)) if o.requires_grad]
            if not pairs:
                return leaves, [None for _ in self.wrt]
            grads = lucid.grad([o for o, _ in pairs], [leaves[i] for i in self.wrt],
                               [Tensor(p.astype(o.dtype)) for o, p in pairs],
                               create_graph=create_graph, allow_unused=True)
        return leaves, list(grads)

    def forward(self, arrays: Arrays) -> np.ndarray:
        return self._flat(self._grads(arrays, create_graph=False)[1])

    def recorded(self) -> np.ndarray:
        """The first-order gradients at the point as a second derivative sees them: computed
        with create_graph=True (forward's are computed without)."""
        return self._flat(self._grads(self.arrays, create_graph=True)[1])

    def _flat(self, grads: list[Tensor | None]) -> np.ndarray:
        return np.concatenate([(np.zeros(s) if g is None else g.data.astype(np.float64)).reshape(-1)
                               for g, s in zip(grads, self.out_shapes)]) if grads else np.zeros(0)

    def vjp(self, g: np.ndarray) -> list[np.ndarray]:
        leaves, grads = self._grads(self.arrays, create_graph=True)
        pairs = [(gr, p) for gr, p in zip(grads, self.split(g)) if gr is not None and gr.requires_grad]
        if not pairs:
            return [np.zeros(self.arrays[i].shape) for i in self.wrt]
        second = lucid.grad([gr for gr, _ in pairs], [leaves[i] for i in self.wrt],
                            [Tensor(p.astype(gr.dtype)) for gr, p in pairs], allow_unused=True)
        return [np.zeros(self.arrays[i].shape) if s is None else s.data for i, s in zip(self.wrt, second)]
