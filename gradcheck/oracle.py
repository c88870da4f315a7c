"""The oracle check: an op's values and gradients against a trusted implementation.

The derivative check proves that an op's rule agrees with the op's own forward. A forward that is
wrong, with a rule consistently wrong with it, passes there (a gelu using the tanh approximation,
a reduction over the wrong axis, float64 where PyTorch gives float32), and so does anything at
the points finite differences must avoid (0, kinks, ties, ±inf, empty shapes). This check
compares with someone else's implementation instead, on the same drawn inputs, edges included
(`gradcheck.edges`):

- `oracle="reference"`: the op's own `Op(reference=fn)`, a forward on NumPy arrays (SciPy's erf
  for erf, say): shapes, dtypes and values;
- `oracle="torch"`: PyTorch's op of the same name (`torch.<name>`, `torch.nn.functional.<name>`,
  `torch.linalg.<name>`, `torch.special.<name>`, or an entry of `COUNTERPARTS` where names or
  signatures differ): shapes, dtypes and values in the working dtype, the vector-Jacobian product
  for a random cotangent in float64 (a comparison of rules, not of rounding), and with order=2 the
  second-order one.

Values agree when they are NaN in the same places, infinite with the same signs in the same
places, and close elsewhere; in float32, a finite value no farther from the reference's float64
answer than the reference's own float32 value is, give or take a few roundings of the largest
input, counts as close (`rounding_only`). An aspect the op's entry declares a deliberate
difference (`Op.differences`) is not compared. `check_example` is the entry point the runner calls.
"""
from __future__ import annotations

import functools
import importlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import lucid
from lucid import Op, Tensor

from .checks import Errors, call
from .report import Entry, Failure, Rejected
from .strategies import Case, arg_of, floats_in

ORACLES = ("reference", "torch")


@dataclass(frozen=True)
class Closeness:
    """|ours - theirs| <= atol + rtol * |theirs|: torch.testing.assert_close's defaults per dtype."""

    rtol: float
    atol: float


CLOSENESS = {np.dtype(np.float64): Closeness(1e-7, 1e-7), np.dtype(np.float32): Closeness(1.3e-6, 1e-5)}


# --- PyTorch's counterparts ----------------------------------------------------------------------


def _torch() -> Any:
    return importlib.import_module("torch")


def _dims(x: Any, dim: Any) -> Any:
    """Lucid's dim=None (every axis) as PyTorch's reductions that have no None take it."""
    return tuple(range(x.ndim)) if dim is None else dim


def _extremum(name: str) -> Callable[..., Any]:
    def extremum(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
        torch = _torch()
        f = getattr(torch, name)
        return f(input) if dim is None else tuple(f(input, dim, keepdim))
    return extremum


def _eigh(A: Any) -> Any:
    """torch.linalg.eigh with Lucid's sign convention: each eigenvector's largest entry positive."""
    torch = _torch()
    values, vectors = torch.linalg.eigh(A)
    largest = torch.gather(vectors, -2, vectors.abs().argmax(-2, keepdim=True))
    return values, vectors * torch.where(largest < 0, -1.0, 1.0).to(vectors.dtype)


def _svd(A: Any, full_matrices: bool = True) -> Any:
    """torch.linalg.svd with Lucid's sign convention: each column of U (of the first min(m, n)) has
    its largest-magnitude entry positive, the matching row of Vh flipped with it."""
    torch = _torch()
    U, S, Vh = torch.linalg.svd(A, full_matrices=full_matrices)
    k = S.shape[-1]
    largest = torch.gather(U[..., :k], -2, U[..., :k].abs().argmax(-2, keepdim=True))
    signs = torch.where(largest < 0, -1.0, 1.0).to(U.dtype)
    return (torch.cat([U[..., :k] * signs, U[..., k:]], -1), S,
            torch.cat([Vh[..., :k, :] * signs.mT, Vh[..., k:, :]], -2))


def _lstsq(A: Any, B: Any, rcond: Any = None, driver: Any = None) -> Any:
    """torch.linalg.lstsq, whose singular values (gelsd, gelss) have no gradient: Lucid's have
    svdvals's, which they are given here (PyTorch's values, torch.linalg.svdvals's gradient).
    gelsy ranks A by MKL's own condition estimate: where that rank is not the documented one (the
    number of singular values above rcond times the largest), and it can vary from call to call in
    a batch, PyTorch is no oracle, and the input is refused."""
    torch = _torch()
    solution, residuals, rank, singular_values = torch.linalg.lstsq(A, B, rcond, driver=driver)
    if driver in (None, "gelsy") and rcond is not None and rank.numel() and A.shape[-1] and A.shape[-2]:
        s = torch.linalg.svdvals(A.detach())
        if not torch.equal(rank, (s > rcond * s[..., :1]).sum(-1)):
            raise ValueError(f"gelsy's rank {rank.tolist()} is not the documented one for rcond={rcond}")
    if singular_values.numel() and A.requires_grad:
        exact = torch.linalg.svdvals(A)
        singular_values = singular_values + (exact - exact.detach())
    return solution, residuals, rank, singular_values


def _backward_op(name: str, *extra: Any) -> Callable[..., Any]:
    """One of PyTorch's own backward kernels (torch.ops.aten), which Lucid's fused backward ops mirror."""
    def kernel(grad: Any, output: Any, **params: Any) -> Any:
        args = [params[k] for k in extra if k in params]
        if name in ("_softmax_backward_data", "_log_softmax_backward_data"):
            args.append(output.dtype)
        return getattr(_torch().ops.aten, name)(grad, output, *args)
    return kernel


def _torch_dtype(dtype: Any) -> Any:
    return getattr(_torch(), np.dtype(dtype).name)


def _moment(name: str) -> Callable[..., Any]:
    """var or std: PyTorch takes Bessel's correction either as `unbiased` or as `correction`,
    never both, even as None."""
    def moment(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, correction: Any = None) -> Any:
        if correction is None:
            correction = 1 if unbiased is None else int(unbiased)
        return getattr(_torch(), name)(input, dim, correction=correction, keepdim=keepdim)
    return moment


def _polygamma(n: Any, input: Any) -> Any:
    """Lucid's polygamma takes n as a tensor that broadcasts with the input; PyTorch's, one int."""
    torch = _torch()
    n, input = torch.broadcast_tensors(n, input)
    out = torch.zeros_like(input)
    for k in n.unique().tolist():
        out = torch.where(n == k, torch.polygamma(k, input), out)
    return out


def _prod(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """torch.prod takes one dim only, never None or several: the product of every value (with
    keepdim a tensor of ones' shape, as torch.sum(dim=None, keepdim=True) gives), or one dim at a
    time, the last first, so that the others keep their places."""
    torch = _torch()
    if dim is None:
        return torch.prod(input).reshape((1,) * input.ndim) if keepdim else torch.prod(input)
    if isinstance(dim, int):
        return torch.prod(input, dim, keepdim)
    for d in sorted((d % max(input.ndim, 1) for d in dim), reverse=True):
        input = torch.prod(input, d, keepdim)
    return input


def _dropout(input: Any, mask: Any, p: float = 0.5, training: bool = True) -> Any:
    """PyTorch's dropout with Lucid's mask: the input times the mask scaled by 1 / (1 - p), or by 0
    for p = 1 (where PyTorch multiplies by zeros), so that a dropped inf is NaN on both sides."""
    if not training:
        return input
    return input * (mask * (0.0 if p == 1 else 1 / (1 - p)))


def _attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
               is_causal: bool = False, *, scale: Any = None, enable_gqa: bool = False,
               dropout_mask: Any = None) -> Any:
    """PyTorch's scaled_dot_product_attention, its math backend (the CPU flash kernel has no double
    backward); with Lucid's dropout mask, that math written out in torch (PyTorch draws its own
    mask): _safe_softmax of the masked scores, dropped, times value."""
    torch = _torch()
    if dropout_mask is None:
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            return torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p,
                                                                    is_causal, scale=scale, enable_gqa=enable_gqa)
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(groups, -3), value.repeat_interleave(groups, -3)
    scores = query @ key.mT * (1 / math.sqrt(query.shape[-1]) if scale is None else scale)
    if is_causal:
        attn_mask = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, -math.inf) if attn_mask.dtype == torch.bool else scores + attn_mask
    weights = torch.ops.aten._safe_softmax(scores, -1)
    return weights * (dropout_mask * (0.0 if dropout_p == 1 else 1 / (1 - dropout_p))) @ value


def _setitem(input: Any, value: Any, key: Any) -> Any:
    """`x[key] = value` on a copy: PyTorch's indexed assignment, out of place."""
    out = input.clone()
    out[key] = value
    return out


#: Ops whose PyTorch counterpart differs in name or signature: a function of torch tensors taking
#: Lucid's arguments, or None where PyTorch has no public counterpart (counted, not failed).
COUNTERPARTS: dict[str, Callable[..., Any] | None] = {
    "getitem": lambda input, key: input[key],
    "setitem": _setitem,
    "unfold": lambda input, dimension, size, step: input.unfold(dimension, size, step),  # not F.unfold (im2col)
    # PyTorch's scatter is two overloads, a tensor src or a number value, never both, even as None
    "scatter": lambda input, dim, index, src, value: (
        _torch().scatter(input, dim, index, value=value) if src is None else _torch().scatter(input, dim, index, src)),
    "to": lambda input, dtype: input.to(dtype),
    "expand": lambda input, size: input.expand(tuple(size)),
    "repeat": lambda input, repeats: input.repeat(tuple(repeats)),
    "flip": lambda input, dims: _torch().flip(input, (dims,) if isinstance(dims, int) else dims),
    "squeeze": lambda input, dim=None: _torch().squeeze(input) if dim is None else _torch().squeeze(input, dim),
    "prod": _prod,
    "logsumexp": lambda input, dim=None, keepdim=False: _torch().logsumexp(input, _dims(input, dim), keepdim),
    "amax": lambda input, dim=None, keepdim=False: _torch().amax(input, _dims(input, dim), keepdim),
    "amin": lambda input, dim=None, keepdim=False: _torch().amin(input, _dims(input, dim), keepdim),
    "var": _moment("var"),
    "std": _moment("std"),
    "var_mean": _moment("var_mean"),
    "std_mean": _moment("std_mean"),
    "max": _extremum("max"),
    "min": _extremum("min"),
    "median_all": lambda input: _torch().median(input),
    "linalg.eigh": _eigh,
    "linalg.svd": _svd,
    "linalg.lstsq": _lstsq,
    "polygamma": _polygamma,
    "nn.functional.dropout": _dropout,
    # PyTorch's fourth positional argument is the legacy size_average: pos_weight goes by name.
    "nn.functional.binary_cross_entropy_with_logits": lambda input, target, weight=None, pos_weight=None, **params: (
        _torch().nn.functional.binary_cross_entropy_with_logits(input, target, weight, pos_weight=pos_weight,
                                                                **params)),
    "tanh_backward": _backward_op("tanh_backward"),
    "sigmoid_backward": _backward_op("sigmoid_backward"),
    "relu_backward": lambda grad, output: _torch().ops.aten.threshold_backward(grad, output, 0),
    "softmax_backward": _backward_op("_softmax_backward_data", "dim"),
    "log_softmax_backward": _backward_op("_log_softmax_backward_data", "dim"),
    "index_backward": None,  # the rule of getitem, which the oracle compares through getitem
    "cross_entropy_backward": None,  # the rule of cross_entropy, compared through cross_entropy
    "nn.functional.scaled_dot_product_attention": _attention,
}


#: Inputs that Lucid differentiates and PyTorch does not (class weights of the losses): they
#: require grad on Lucid's side only, and their gradients are not compared.
TORCH_UNDIFFERENTIATED = {
    "nn.functional.cross_entropy": ("weight",),
    "nn.functional.nll_loss": ("weight",),
    "nn.functional.binary_cross_entropy": ("weight",),
    "nn.functional.batch_norm": ("running_mean", "running_var"),  # constants of eval mode in PyTorch
    "nn.functional.instance_norm": ("running_mean", "running_var"),
    "nn.functional.binary_cross_entropy_with_logits": ("weight", "pos_weight"),
    "nn.functional.soft_margin_loss": ("target",),
    "nn.functional.multi_margin_loss": ("weight",),
}


def torch_counterpart(op: Op) -> Callable[..., Any] | None:
    """PyTorch's function for `op`, or None if it has none. Raises ImportError without PyTorch."""
    found = _counterpart(op)
    return None if found is None else found[1]


def _counterpart(op: Op) -> tuple[str, Callable[..., Any]] | None:
    """(the name a report gives it, PyTorch's function) for `op`, or None."""
    torch = _torch()
    if op.name in COUNTERPARTS:
        fn = COUNTERPARTS[op.name]
        return None if fn is None else (f"COUNTERPARTS[{op.name!r}]", fn)
    *space, short = op.name.split(".")
    homes = {(): (("torch", torch), ("torch.nn.functional", torch.nn.functional)),
             ("linalg",): (("torch.linalg", torch.linalg),),
             ("special",): (("torch.special", torch.special),),
             ("nn", "functional"): (("torch.nn.functional", torch.nn.functional),)}.get(tuple(space), ())
    return next(((f"{path}.{short}", getattr(home, short)) for path, home in homes
                 if callable(getattr(home, short, None))), None)


# --- one call on each side --------------------------------------------------------------------


def to_torch(value: Any, requires_grad: bool = False) -> Any:
    """A NumPy array (or a param holding arrays, like an index key) as PyTorch takes it."""
    torch = _torch()
    if isinstance(value, (np.ndarray, np.generic)):
        t = torch.from_numpy(np.array(value, copy=True))
        return t.requires_grad_() if requires_grad else t
    if isinstance(value, tuple):
        return tuple(to_torch(v) for v in value)
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return _torch_dtype(value)
    return value


def call_torch(op: Op, fn: Callable[..., Any], tensors: Sequence[Any], params: dict) -> Any:
    """fn with Lucid's arguments in PyTorch's order: the op's `signature` where it has one, else
    the inputs by position (a variadic op's as one list) and the params by name. PyTorch's advice
    to its users (a loss's target "of a different size" that broadcasts) is not a finding: silenced."""
    params = {k: to_torch(v) for k, v in params.items()}
    args: list[Any] = list(tensors)
    if op.signature:
        named = {**dict(zip((a.name for a in op.inputs), tensors)), **params}
        args, params = [], {}
        for k, name in enumerate(op.signature):
            if name.startswith("*"):  # the rest of the positional arguments; after them, keyword-only ones
                if name != "*":
                    args.extend(tensors if op.variadic else named.pop(name[1:]))
                params = {rest: named.pop(rest) for rest in op.signature[k + 1:] if rest != "*"}
                break
            args.append(named.pop(name))
    elif op.variadic:
        args = [list(tensors)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **params)


def outputs(result: Any) -> list[np.ndarray]:
    """Every output of a call (Lucid's or PyTorch's) as a NumPy array."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    # force=True: PyTorch returns some second-order gradients as a "ZeroTensor" that refuses .numpy()
    return [np.asarray(x.data) if isinstance(x, Tensor) else x.detach().numpy(force=True) if hasattr(x, "detach")
            else np.asarray(x) for x in items]


@dataclass
class Side:
    """One implementation's answer on one input: its outputs (or the error it raised), and the
    gradients of the inputs asked for, first and second order (None where there is none)."""

    outputs: list[np.ndarray] = field(default_factory=list)
    error: BaseException | None = None
    grads: list[np.ndarray | None] = field(default_factory=list)
    second: list[np.ndarray | None] = field(default_factory=list)


class Library:
    """What `run` needs of Lucid or of PyTorch: make a leaf, call the op, differentiate."""

    def __init__(self, leaf: Callable[[np.ndarray, bool], Any], call: Callable[[list], Any],
                 grad: Callable[..., Any], array: Callable[[np.ndarray], Any]):
        self.leaf, self.call, self.grad, self.array = leaf, call, grad, array


def lucid_library(op: Op, params: dict) -> Library:
    return Library(lambda x, wanted: Tensor(np.array(x, copy=True), requires_grad=wanted),
                   lambda leaves: call(op, leaves, params),
                   lambda ys, xs, gs, create_graph=False: lucid.grad(ys, xs, gs, allow_unused=True,
                                                                     create_graph=create_graph),
                   lucid.tensor)


def torch_library(op: Op, fn: Callable[..., Any], params: dict) -> Library:
    torch = _torch()
    return Library(lambda x, wanted: to_torch(x, requires_grad=wanted),
                   lambda leaves: call_torch(op, fn, leaves, params),
                   lambda ys, xs, gs, create_graph=False: torch.autograd.grad(ys, xs, gs, allow_unused=True,
                                                                              create_graph=create_graph),
                   torch.from_numpy)


def run(library: Library, arrays: list, wrt: Sequence[int] = (), cotangents: Sequence[np.ndarray] | None = None,
        directions: Sequence[np.ndarray] | None = None) -> Side:
    """The op on one input, and with `cotangents` the VJP for the inputs `wrt`; with `directions`
    also the second-order VJP: the gradient of <first-order VJP, directions>."""
    leaves = [None if x is None else library.leaf(x, i in wrt) for i, x in enumerate(arrays)]
    try:
        with np.errstate(all="ignore"):  # edge values overflow and divide by zero on purpose
            result = library.call(leaves)
            side = Side(outputs=outputs(result))
            if cotangents is None:
                return side
            results = result if isinstance(result, (tuple, list)) else (result,)
            pairs = [(y, library.array(u)) for y, u in zip(results, cotangents) if getattr(y, "requires_grad", False)]
            inputs = [leaves[i] for i in wrt]
            side.grads = side.second = [None] * len(wrt)
            if not pairs or not inputs:
                return side
            grads = library.grad([y for y, _ in pairs], inputs, [u for _, u in pairs],
                                 create_graph=directions is not None)
            side.grads = [None if g is None else outputs(g)[0] for g in grads]
            terms = [(g * library.array(v)).sum() for g, v in zip(grads, directions or ())
                     if g is not None and g.requires_grad]
            if terms:
                side.second = [None if h is None else outputs(h)[0] for h in library.grad([sum(terms)], inputs, None)]
            return side
    except Exception as error:
        return Side(error=error)


# --- comparing ----------------------------------------------------------------------------------


def disagreement(ours: np.ndarray, theirs: np.ndarray, closeness: Closeness) -> np.ndarray:
    """Where two arrays of one shape disagree: NaN against a number, different infinities, a
    finite value against an infinite one, or finite values farther apart than `closeness`."""
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(a) & np.isfinite(b)
        far = np.abs(a - b) > closeness.atol + closeness.rtol * np.abs(b)
        return (nan_a != nan_b) | (~finite & ~nan_a & ~nan_b & (a != b)) | (finite & far)


#: How many float32 roundings, each of the size of the largest input, a float32 result may carry.
ROUNDINGS = 4


@dataclass(frozen=True)
class Precise:
    """The reference's answer in float64 for a float32 input (`exact`), and the size of the
    terms behind it (`scale`: the largest finite input value, or per entry the sum of its absolute
    terms, see `float64_answers`): float32 rounds what an op adds or subtracts relative to its
    terms, not to its result (-1e30 + exp(-0.03) * 1e30 = -3e28 carries an ulp of 1e30)."""

    exact: np.ndarray
    scale: float | np.ndarray


def rounding_only(ours: np.ndarray, theirs: np.ndarray, precise: Precise, closeness: Closeness) -> np.ndarray:
    """Where finite values differ by rounding only: ours is no farther from the reference's float64
    answer than the reference's own float32 value is, give or take a few float32 roundings of the
    largest input. A float32 solve whose entry comes out of a cancellation is 1e-6 off in PyTorch,
    1e-8 in Lucid; NumPy's float32 exp is an ulp off where PyTorch's is not. Neither is a
    disagreement of rules, which the float64 check compares. Where the reference's float32 value
    overflowed (PyTorch's prod of [1e30, 1e30, 0] is NaN: its running product passes 3e38), ours
    must be that close to the float64 answer alone."""
    a, b, exact = (np.asarray(v, dtype=np.float64) for v in (ours, theirs, precise.exact))
    slack = ROUNDINGS * float(np.finfo(np.float32).eps) * precise.scale
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(a) & np.isfinite(exact)
        their_error = np.where(np.isfinite(b), np.abs(b - exact), 0.0)
        allowed = their_error + closeness.atol + closeness.rtol * np.abs(exact) + slack
        return finite & (np.abs(a - exact) <= allowed)


def compare(what: str, reference: str, ours: np.ndarray, theirs: np.ndarray, closeness: Closeness,
            errors: Errors, at: np.ndarray | None = None, check_dtype: bool = True, slot: int = 0,
            precise: Callable[[], Precise | None] | None = None) -> None:
    """Raise Failure naming `what` unless ours and theirs agree in shape, dtype and values. With
    `precise`, the reference's float64 answer (asked for only if values disagree), a disagreement
    that is rounding (`rounding_only`) is none."""
    if ours.shape != theirs.shape:
        raise Failure(f"{what} has shape {ours.shape}, {reference} gives {theirs.shape}", slot)
    if check_dtype and ours.dtype != theirs.dtype:
        raise Failure(f"{what} has dtype {ours.dtype}, {reference} gives {theirs.dtype}", slot)
    if ours.dtype.kind not in "fciub" or ours.size == 0:
        return
    bad = disagreement(ours, theirs, closeness)
    answer = precise() if precise is not None and bad.any() else None
    if answer is not None and answer.exact.shape == ours.shape:
        bad &= ~rounding_only(ours, theirs, answer, closeness)
    a, b = ours.astype(np.float64), theirs.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(np.isfinite(a) & np.isfinite(b), np.abs(a - b), 0.0)
        errors.add_one(float(diff.max(initial=0.0)), float(np.abs(b[np.isfinite(b)]).max(initial=0.0)), closeness.atol)
    if bad.any():
        worst = side_by_side(slot, a, b, bad, at)
        raise Failure(f"{what} disagrees with {reference} at {int(bad.sum())} of {bad.size} entries", slot, worst,
                      max_abs_error=float(diff.max(initial=0.0)))


def side_by_side(slot: int, ours: np.ndarray, theirs: np.ndarray, bad: np.ndarray, at: np.ndarray | None,
                 count: int = 5) -> list[Entry]:
    """The first disagreeing entries, Lucid's value beside the reference's (and the input value
    there, for a gradient)."""
    entries = []
    for index in np.argwhere(bad)[:count]:
        index = tuple(int(i) for i in index)
        a, b = float(ours[index]), float(theirs[index])
        error = abs(a - b) if math.isfinite(a - b) else math.inf
        value = None if at is None or at.shape != ours.shape else float(at[index])
        entries.append(Entry(slot, index, (), a, b, error, error / abs(b) if b and math.isfinite(b) else math.inf,
                             value))
    return entries


def describe_refusal(error: BaseException | None) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def check_example(op: Op, case: Case, oracle: str, order: int, dtype: Any, rng: np.random.Generator) -> Errors:
    """Compare op with its oracle on one drawn input (float inputs in `dtype`): shapes, dtypes and
    values, then the VJPs in float64. Raises Failure on a disagreement; returns the largest errors."""
    errors = Errors()
    params = {**op.defaults, **case.params}
    if oracle == "reference":  # the op has a reference, which is called and never differentiated
        name, theirs_in = "the op's reference", Library(lambda x, wanted: np.array(x, copy=True),
                                                        lambda arrays: op.reference(*arrays, **params),  # type: ignore[misc]
                                                        None, None)  # type: ignore[arg-type]
    else:
        where, fn = _counterpart(op)  # type: ignore[misc]  # check_oracle compares only ops that have one
        name, theirs_in = f"PyTorch ({where})", torch_library(op, fn, params)
    ours_in = lucid_library(op, case.params)
    arrays: list[Any] = floats_in(case.inputs, dtype)
    ours, theirs = run(ours_in, arrays), run(theirs_in, arrays)
    check_refusals(op, ours, theirs, name)
    if len(ours.outputs) != len(theirs.outputs):
        raise Failure(f"Lucid returns {len(ours.outputs)} outputs, {name} {len(theirs.outputs)}")
    if "values" not in op.differences and not ("float32 values" in op.differences and np.dtype(dtype) == np.float32):
        closeness = CLOSENESS.get(np.dtype(dtype), CLOSENESS[np.dtype(np.float64)])
        summed = bool({"evaluation order", "summation order"} & set(op.differences))
        precise = float64_answers(theirs_in, arrays, summed) if np.dtype(dtype) == np.float32 else None
        for k, (a, b) in enumerate(zip(ours.outputs, theirs.outputs)):
            compare(f"output {k}", name, a, b, closeness, errors, check_dtype="dtype" not in op.differences, slot=k,
                    precise=None if precise is None else functools.partial(precise, k))
    if "dtype" not in op.differences and np.dtype(dtype) != np.float32:
        check_float32_dtypes(ours_in, theirs_in, case, name)
    if oracle == "reference" or "gradient" in op.differences:
        return errors
    if "nan gradient" in op.differences and any(np.isnan(o).any() for o in ours.outputs if o.dtype.kind in "fc"):
        return errors
    arrays = floats_in(case.inputs, np.float64)
    skip = TORCH_UNDIFFERENTIATED.get(op.name, ())
    wrt = [i for i in differentiable(op, arrays) if arg_of(op, i).name not in skip]
    cotangents = [rng.standard_normal(o.shape) for o in ours.outputs]
    second = order == 2 and "second order" not in op.differences
    directions = [rng.standard_normal(arrays[i].shape) for i in wrt] if second else None
    ours = run(ours_in, arrays, wrt, cotangents, directions)
    theirs = run(theirs_in, arrays, wrt, cotangents, directions)
    check_refusals(op, ours, theirs, name)
    closeness = CLOSENESS[np.dtype(np.float64)]
    orders = [("gradient", ours.grads, theirs.grads)] + [("second-order gradient", ours.second, theirs.second)] * second
    for what, mine, other in orders:
        for i, g, h in zip(wrt, mine, other):
            zeros = np.zeros(arrays[i].shape)
            compare(f"the {what} of input {i}", name, zeros if g is None else g, zeros if h is None else h,
                    closeness, errors, at=arrays[i], check_dtype=False, slot=i)
    return errors


def float64_answers(library: Library, arrays: list, summed: bool = False) -> Callable[[int], Precise | None]:
    """Output k of `library` for the same inputs in float64 (`Precise`; None if it refuses them),
    computed on the first request only: a float32 check whose values agree never asks. For an op
    that declares the order of its sums (`summed`), each entry's scale is also its sum of absolute
    terms, the op at the inputs' absolute values: two orders of a float32 sum differ by roundings
    of its terms (a convolution's 512 - 503 carries an ulp of 512), not of its inputs or result."""
    @functools.cache
    def answers() -> tuple[Side, float, Side | None]:
        wide = floats_in(arrays, np.float64)
        floats = [x for x in wide if x is not None and x.dtype.kind == "f"]
        scale = max((float(np.abs(x[np.isfinite(x)]).max(initial=0.0)) for x in floats), default=0.0)
        absolute = [np.abs(x) if x is not None and x.dtype.kind == "f" else x for x in wide]
        return run(library, wide), scale, run(library, absolute) if summed else None

    def answer(k: int) -> Precise | None:
        side, scale, terms = answers()
        if side.error is not None or k >= len(side.outputs):
            return None
        if terms is not None and terms.error is None and k < len(terms.outputs) \
                and terms.outputs[k].shape == side.outputs[k].shape and terms.outputs[k].dtype.kind == "f":
            size = np.abs(terms.outputs[k])
            return Precise(side.outputs[k], np.maximum(scale, np.where(np.isfinite(size), size, 0.0)))
        return Precise(side.outputs[k], scale)
    return answer


def check_float32_dtypes(ours_in: Library, theirs_in: Library, case: Case, name: str) -> None:
    """The dtypes of the outputs for float32 inputs: a float32 op that answers in float64 looks
    right in a float64 check (its values are, too precise if anything)."""
    arrays = floats_in(case.inputs, np.float32)
    ours, theirs = run(ours_in, arrays), run(theirs_in, arrays)
    if ours.error is None and theirs.error is None:
        for k, (a, b) in enumerate(zip(ours.outputs, theirs.outputs)):
            if a.dtype != b.dtype:
                raise Failure(f"output {k} has dtype {a.dtype} for float32 inputs, {name} gives {b.dtype}", k)


def differentiable(op: Op, arrays: Sequence[np.ndarray | None]) -> list[int]:
    return [i for i, x in enumerate(arrays) if x is not None and x.dtype.kind == "f" and arg_of(op, i).differentiable]


def check_refusals(op: Op, ours: Side, theirs: Side, name: str) -> None:
    """Nothing to compare when both refused the input, or only the reference did and the op
    declares that it accepts more (`differences["inputs"]`): the input is rejected. Failure when
    only Lucid refused, or when it refused with something other than a LucidError."""
    if ours.error is None and theirs.error is None:
        return
    if ours.error is not None and not isinstance(ours.error, lucid.LucidError):
        raise Failure(f"Lucid raised a bare {describe_refusal(ours.error)} instead of a LucidError"
                      + ("" if theirs.error is not None else f" where {name} returns a value"))
    if ours.error is not None and theirs.error is None:
        raise Failure(f"Lucid raised {describe_refusal(ours.error)} where {name} returns a value")
    if ours.error is None and "inputs" not in op.differences:
        raise Failure(f"{name} refuses this input ({describe_refusal(theirs.error)}) but Lucid returns a value")
    raise Rejected(f"{name} refuses this input")
