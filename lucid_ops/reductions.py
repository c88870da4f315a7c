"""Reductions over `dim`: sums, products, extrema, moments, norms, and the running sum and product.

The gradient of a reduction spreads `g` back over the reduced axes; what differs from op to op is
the weight each input gets: 1 for sum, the product of the other values for prod, an equal share
of the tied maxima for amax. Where a reduction is not differentiable (ties of amax, zeros of
norm) the entry says which derivative it picks, and declares those points (`ties`, `kinks`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lucid import Arg, Op, OpError, Param, Tensor, hookimpl
from lucid.op import Example, axes, dim, dims, one_axis
from lucid_ops.arithmetic import abs, where
from lucid_ops.common import NORM_AT_ZERO, PAIRWISE_SUMS, has_zero, keepdim_shape, sgn, vector_norm
from lucid_ops.exponential import exp, log
from lucid_ops.shape import along, expand, flip, index_backward, pad, permute

keepdim = Param("keepdim", False, (False, True), "bool")
one_dim = Param("dim", choices=dim, kind="dim")  # the one dim of a scan, or of max(input, dim)
reduction_params = (Param("dim", None, dims, "dims"), keepdim)
any_input = (Arg("input", dtype="any"),)  # sums, products and extrema of integers are integers
VALUES_INDICES = ("values", "indices")  # the output names of the ops that pick values by index


def _keep(t, x, dim, keepdim):
    """A reduction's result (or its gradient) with the reduced axes kept as size 1, so that it
    broadcasts against the input. With dim=None the result is 0-d and broadcasts already."""
    if dim is None or keepdim:
        return t
    return t.reshape(keepdim_shape(x.shape, axes("", dim, x.ndim)))


def _spread(g, x, dim, keepdim):
    """g, shaped like the reduction's result, broadcast back to x's shape."""
    return expand(_keep(g, x, dim, keepdim), x.shape)


def _constant(array: np.ndarray, like) -> Tensor:
    """A weight computed from the values (a mask, a sign): constant, so the rule stays differentiable."""
    return Tensor(array.astype(like.dtype, copy=False))


def _count(x, dim) -> int:
    """How many values a reduction over `dim` takes together."""
    return math.prod(x.shape if dim is None else (x.shape[a] for a in axes("", dim, x.ndim)))


# --- sum, mean, prod -----------------------------------------------------------------------------

# sum and mean call the ndarray methods: np.sum and np.mean add layers of Python to every call.
def _sum(x, dim=None, keepdim=False, dtype=None):
    """With a `dtype`, the values are converted to it before they are added, as in PyTorch."""
    return x.sum(axis=None if dim is None else axes("sum", dim, x.ndim), keepdims=keepdim, dtype=dtype)


def _mean(x, dim=None, keepdim=False):
    """For float32 and float64, what ndarray.mean computes (the sum over the count) without its
    layer of Python, which costs more than the sum itself on small arrays."""
    axis = None if dim is None else axes("mean", dim, x.ndim)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:  # float16 is summed in float32 by ndarray.mean
        return x.mean(axis=axis, keepdims=keepdim)
    return x.sum(axis=axis, keepdims=keepdim) / _count(x, axis)


def _prod(x, dim=None, keepdim=False):
    """float32 is multiplied in float64: its running product can pass 3e38 (inf) and then meet a
    zero (NaN) where the product itself fits, or is that zero."""
    axis = axes("prod", dim, x.ndim)
    if x.dtype == np.float32:
        return np.prod(x, axis=axis, keepdims=keepdim, dtype=np.float64).astype(np.float32)
    return np.prod(x, axis=axis, keepdims=keepdim)


def _shift(t, d: int, by: int, fill: float):
    """t moved `by` places along axis d (toward higher indices), `fill` coming in: one constant
    pad that adds `by` values in front and crops `by` at the end. An empty axis stays as it is
    (PyTorch's pad refuses to crop it)."""
    if t.shape[d] == 0:
        return t
    widths = (0, 0) * (t.ndim - 1 - d) + (by, -by)
    return pad(t, widths, value=fill)


def _exclusive_cumprod(x, d: int):
    """x_0 ... x_{i-1} at position i (1 at position 0): a cumprod of x shifted by one."""
    return cumprod(_shift(x, d, 1, 1.0), d)


def _prod_vjp(g, out, x, dim, keepdim):
    """d prod / d x_i is the product of all the other values. Dividing `out` by x_i would fail
    where x_i = 0, so multiply instead the products before and after i, both exclusive cumprods
    (one from each end) over the reduced axes gathered into the last one. No division, so zeros
    (one or several) get exact first and higher derivatives. float32's running products are taken
    in float64, as the forward's: from one end they can pass 3e38 where the product of the others
    fits. Where a running product still overflows and meets a zero, 0 * inf gives NaN, where the
    product of the others is that zero: a NaN that no NaN input explains is 0."""
    reduced = axes("prod", dim, x.ndim)
    if not reduced:
        return (g,)
    kept = [a for a in range(x.ndim) if a not in reduced]
    order = kept + list(reduced)
    flat = permute(x, order).reshape(*[x.shape[a] for a in kept], _count(x, dim))
    wide = flat.to(np.float64) if flat.dtype == np.float32 else flat
    before, after = _exclusive_cumprod(wide, len(kept)), flip(_exclusive_cumprod(flip(wide, -1), len(kept)), -1)
    others = (before * after).to(x.dtype)
    zero_times_inf = np.isnan(others.data) & ~np.isnan(flat.data).any(axis=-1, keepdims=True)
    if zero_times_inf.any():
        others = where(zero_times_inf, 0.0, others)
    others = permute(others.reshape([x.shape[a] for a in order]), np.argsort(order).tolist())
    return (_keep(g, x, dim, keepdim) * others,)


def _sum_vjp(g, out, x, dim, keepdim, dtype):
    """g spread back over the summed values, in the input's dtype (a sum in another dtype too)."""
    spread = _spread(g, x, dim, keepdim)
    return (spread if spread.dtype == x.dtype else spread.to(x.dtype),)


sum = Op("sum", _sum, _sum_vjp, any_input,
         params=(*reduction_params, Param("dtype", None, (None, np.float64))), differences=PAIRWISE_SUMS)
mean = Op("mean", _mean, lambda g, out, x, dim, keepdim: (_spread(g, x, dim, keepdim) / _count(x, dim),),
          params=reduction_params, differences=PAIRWISE_SUMS)
prod = Op("prod", _prod, _prod_vjp, any_input, params=reduction_params,
           differences={"evaluation order": "where no value is zero, PyTorch's gradient divides the product by "
                                            "each value (inf / inf = NaN at an infinite one); Lucid multiplies "
                                            "the others, exact there; and multiplies float32 in float64, where "
                                            "PyTorch's float32 running products overflow (NaN, inf) though the "
                                            "product or its gradient fits"})


def _nansum(x, dim=None, keepdim=False):
    return np.nansum(x, axis=axes("nansum", dim, x.ndim), keepdims=keepdim)


def _present(x) -> Tensor:
    """1 where a value is a number, 0 where it is NaN: the weight a NaN-ignoring reduction gives it."""
    return _constant(~np.isnan(x.data), x)


def _nanmean(x, dim=None, keepdim=False):
    """The mean of the values that are not NaN (NaN where there are none), as PyTorch's nansum / count."""
    reduced = axes("nanmean", dim, x.ndim)
    count = np.sum(~np.isnan(x), axis=reduced, keepdims=keepdim)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(x, axis=reduced, keepdims=keepdim) / count.astype(x.dtype)


def _nanmean_vjp(g, out, x, dim, keepdim):
    """g / count to each value that is not NaN. Where a slice is all NaN, PyTorch's g / 0 times 0
    is NaN: so is this."""
    count = np.sum(~np.isnan(x.data), axis=axes("", dim, x.ndim), keepdims=True).astype(x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_spread(g, x, dim, keepdim) / Tensor(count) * _present(x),)


# NaN counts as 0 in the sum, so its gradient is 0: PyTorch multiplies by the mask (inf * 0 = NaN).
nansum = Op("nansum", _nansum, lambda g, out, x, dim, keepdim: (_spread(g, x, dim, keepdim) * _present(x),),
            any_input, params=reduction_params, differences=PAIRWISE_SUMS)
nanmean = Op("nanmean", _nanmean, _nanmean_vjp, params=reduction_params, differences=PAIRWISE_SUMS)


# --- extrema -------------------------------------------------------------------------------------
# amax/amin split the gradient evenly among tied extrema (as PyTorch's amax does); max/min along
# a dim return the index of the first extremum, and the gradient flows to that index only.

def _extremum_vjp(g, out, x, dim, keepdim):
    """g shared equally by the values equal to the extremum of their slice."""
    reduced = axes("", dim, x.ndim)
    hit = x.data == _keep(out, x, dim, keepdim).data
    share = hit / hit.sum(axis=reduced, keepdims=True)
    return (_keep(g, x, dim, keepdim) * _constant(share, x),)


def _amax(x, dim=None, keepdim=False):
    return np.amax(x, axis=axes("amax", dim, x.ndim), keepdims=keepdim)


def _amin(x, dim=None, keepdim=False):
    return np.amin(x, axis=axes("amin", dim, x.ndim), keepdims=keepdim)


def values_at(x: np.ndarray, indices: np.ndarray, d: int, keepdim: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(values of x at `indices` along axis d, the indices in int64), axis d dropped unless keepdim:
    the outputs of the ops that pick values by index (max, min, and sorting's sort, median, ...)."""
    values = np.take_along_axis(x, indices, axis=d)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return values, indices.astype(np.int64, copy=False)


def picked_vjp(g, out, x, dim, keepdim=True, **params):
    """The vjp of an op whose outputs are (values, indices) picked along `dim`: the values'
    gradient put back at the indices, in zeros elsewhere (where an index repeats, the parts add up)."""
    if x.ndim == 0:
        return (g[0].reshape(()),)
    d = one_axis("", dim, x.ndim)
    indices = out[1].data if keepdim else np.expand_dims(out[1].data, d)
    return (index_backward(_keep(g[0], x, dim, keepdim), x.shape, along(x.shape, indices, d)),)


def _arg_extremum(arg, name):
    """The forward of max or min along `dim`: (values, indices of the first extremum)."""

    def forward(x, dim, keepdim=False):
        d = one_axis(name, dim, x.ndim)
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        return values_at(x, arg(x, axis=d, keepdims=True), d, keepdim)

    forward.__doc__ = f"{name}(input) is the {name}imum; {name}(input, dim) is (values, indices) along dim."
    return forward


@dataclass(frozen=True)
class Extremum(Op):
    """max and min have PyTorch's two call forms under one name: `max(x)` is the largest value
    (the op `whole`, amax over every dim) and `max(x, dim, keepdim=False)` is the registered
    op itself, returning (values, indices)."""

    whole: Op | None = None

    def __call__(self, input: Any, *args: Any, **kwargs: Any) -> Any:
        if (args[0] if args else kwargs.get("dim")) is None and not kwargs.keys() - {"dim"}:
            return self.whole(input)
        return super().__call__(input, *args, **kwargs)


def one_dim_sample(draw) -> Example:
    shape = draw.shape()
    return Example((shape,), {"dim": draw.choice(dim((shape,))), "keepdim": draw.boolean()})


amax = Op("amax", _amax, _extremum_vjp, any_input, params=reduction_params, ties=True)
amin = Op("amin", _amin, _extremum_vjp, any_input, params=reduction_params, ties=True)
max = Extremum("max", _arg_extremum(np.argmax, "max"), picked_vjp, any_input,
               params=(one_dim, keepdim),
               sample=one_dim_sample, ties=True, outputs=2, output_names=VALUES_INDICES, whole=amax)
min = Extremum("min", _arg_extremum(np.argmin, "min"), picked_vjp, any_input,
               params=(one_dim, keepdim),
               sample=one_dim_sample, ties=True, outputs=2, output_names=VALUES_INDICES, whole=amin)


# --- var, std, logsumexp -------------------------------------------------------------------------

def _ddof(op, dim, unbiased, correction):
    """PyTorch's two spellings of Bessel's correction: `correction` (default 1) or the older
    `unbiased`; `var(x, False)` passes unbiased in dim's place, as in PyTorch."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise OpError(f"{op}: got unbiased twice (positionally as dim={dim} and as unbiased={unbiased})")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise OpError(f"{op}: pass either unbiased or correction, not both")
    return dim, (correction if correction is not None else 1 if unbiased is None else int(unbiased))


def _wide(x):
    """The dtype a moment of x is accumulated in: float64 for smaller floats, whose squares overflow
    from 2e19 in float32 (PyTorch's Welford updates never square a value: std of 1e30 is finite)."""
    return np.float64 if x.dtype.kind == "f" and x.dtype.itemsize < 8 else None


def _var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    dim, ddof = _ddof("var", dim, unbiased, correction)
    out = np.var(x, axis=axes("var", dim, x.ndim), ddof=ddof, keepdims=keepdim, dtype=_wide(x))
    return out.astype(x.dtype, copy=False) if x.dtype.kind == "f" else out


def _std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    dim, ddof = _ddof("std", dim, unbiased, correction)
    out = np.std(x, axis=axes("std", dim, x.ndim), ddof=ddof, keepdims=keepdim, dtype=_wide(x))
    return out.astype(x.dtype, copy=False) if x.dtype.kind == "f" else out


def _var_grad(g, x, dim, ddof):
    """d var / d x = 2 (x - mean) / (N - ddof), given g with the reduced axes kept. (The mean's own
    dependence on x cancels.) Where N - ddof <= 0 the variance is inf or NaN, and its gradient is
    PyTorch's var_backward: over all values, inf, or NaN at a value equal to the mean (inf * 0);
    over some dims, the formula with 2 / 0 read as inf."""
    centred, dof = x - mean(x, dim, True), _count(x, dim) - ddof
    if dof > 0:
        return g * centred * (2 / dof)
    if dim is None or x.ndim == 0:
        return g * _constant(np.where(centred.data == 0, np.nan, np.inf), x)
    return g * centred * (2 / dof if dof else math.inf)


def _var_vjp(g, out, x, dim, unbiased, keepdim, correction):
    dim, ddof = _ddof("var", dim, unbiased, correction)
    return (_var_grad(_keep(g, x, dim, keepdim), x, dim, ddof),)


def _std_vjp(g, out, x, dim, unbiased, keepdim, correction):
    """std = sqrt(var): d std = d var / (2 std). Where all values are equal std is 0 and PyTorch's
    gradient is 0 (a subgradient): the constant mask `flat` makes it so and keeps the division finite.
    2 std is written out + out, exactly 2 * out without turning the number 2 into a constant."""
    dim, ddof = _ddof("std", dim, unbiased, correction)
    g, out = _keep(g, x, dim, keepdim), _keep(out, x, dim, keepdim)
    if has_zero(out.data):
        flat = out.data == 0
        g = where(flat, 0.0, g / (2 * (out + _constant(flat, out))))
    else:
        g = g / (out + out)
    return (_var_grad(g, x, dim, ddof),)


def _moments_sample(draw) -> Example:
    """At least two values per reduction, and a correction of 0 or 1, so the result is finite."""
    shape = draw.shape(min_dims=1, min_side=2)
    unbiased, correction = draw.choice(((None, None), (None, 0), (None, 1), (True, None), (False, None)))
    return Example((shape,), {"dim": draw.choice(dims((shape,))), "unbiased": unbiased, "keepdim": draw.boolean(),
                              "correction": correction})


moment_params = (Param("dim", None, dims, "dims"), Param("unbiased", None, (None, True, False), "bool"), keepdim,
                 Param("correction", None, (None, 0, 1), "number"))


def _logsumexp(x, dim, keepdim=False):
    """log sum exp(x) = m + log sum exp(x - m) with m the max: no overflow, and exact for -inf."""
    reduced = axes("logsumexp", dim, x.ndim)
    m = np.amax(x, axis=reduced, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)  # an all -inf (or empty) slice: any finite shift will do
    with np.errstate(divide="ignore"):  # log 0 = -inf: the sum of no values, or of exp(-inf)
        out = np.log(np.sum(np.exp(x - m), axis=reduced, keepdims=True)) + m
    return out if keepdim else out.squeeze(reduced)


WELFORD_MEAN = {"evaluation order": "PyTorch's var, var_mean and std_mean take the mean from Welford's running "
                                   "updates, which rounds otherwise beside ±1e30 (the mean of 1e30, -1e30 and -2 is "
                                   "0 or -2/3) and at an infinity depends on where it falls (mean of [1, inf] is "
                                   "inf, of [inf, 1] NaN); Lucid's is the sum over the count, as mean's"}
var = Op("var", _var, _var_vjp, params=moment_params, sample=_moments_sample, differences=WELFORD_MEAN)
std = Op("std", _std, _std_vjp, params=moment_params, sample=_moments_sample, ties=True,  # all values equal: a kink
         differences={"second order": "at a spread of 1e-30 the second derivative is a difference of terms of size "
                                      "1 / std = 1e30 that cancel exactly; what is left, 1e13 or more, is each "
                                      "library's rounding"})
logsumexp = Op("logsumexp", _logsumexp,
               lambda g, out, x, dim, keepdim: (_keep(g, x, dim, keepdim) * exp(x - _keep(out, x, dim, keepdim)),),
               params=(Param("dim", choices=dims, kind="dims"), keepdim))



def _with_mean(moment, name):
    """std_mean or var_mean: (the moment, the mean) over the same dims, in one call."""

    def forward(x, dim=None, unbiased=None, keepdim=False, correction=None):
        dim, ddof = _ddof(name, dim, unbiased, correction)
        axes(name, dim, x.ndim)  # a bad dim is refused here, in this op's name
        return moment(x, dim, keepdim=keepdim, correction=ddof), _mean(x, dim, keepdim)

    forward.__doc__ = f"({name.split('_')[0]}, mean) of the values over dim, with Bessel's correction."
    return forward


def _with_mean_vjp(moment_vjp):
    """The moment's gradient plus the mean's: g_mean spread evenly over the values."""

    def vjp(g, out, x, dim, unbiased, keepdim, correction):
        (grad,) = moment_vjp(g[0], out[0], x, dim, unbiased, keepdim, correction)
        dim, _ = _ddof("", dim, unbiased, correction)
        return (grad + _spread(g[1], x, dim, keepdim) / _count(x, dim),)

    return vjp


std_mean = Op("std_mean", _with_mean(_std, "std_mean"), _with_mean_vjp(_std_vjp), params=moment_params,
              sample=_moments_sample, ties=True, outputs=2, differences=WELFORD_MEAN)
var_mean = Op("var_mean", _with_mean(_var, "var_mean"), _with_mean_vjp(_var_vjp), params=moment_params,
              sample=_moments_sample, outputs=2, differences=WELFORD_MEAN)


# --- norm ----------------------------------------------------------------------------------------

def _order(p) -> float:
    """torch.norm's p as a number: 'fro' is the 2-norm of all the values (a vector norm)."""
    if p == "fro":
        return 2.0
    if isinstance(p, str) or not isinstance(p, (int, float, np.number)) or p < 0 and p != -math.inf:
        raise OpError(f"norm: p must be 'fro', a number >= 0, inf or -inf, got {p!r}")
    return float(p)


def _norm(x, p="fro", dim=None, keepdim=False):
    """The vector p-norm over `dim` (all values by default), as torch.norm computes it."""
    return vector_norm(x, _order(p), axes("norm", dim, x.ndim), keepdim)


def _norm_vjp(g, out, x, p, dim, keepdim):
    """d |x|_p / d x_i = sign(x_i) (|x_i| / |x|_p)^(p-1); for p = inf, an equal share for the
    tied largest |x_i|. Where the whole slice is 0 the gradient is 0, as in PyTorch (a subgradient)."""
    p, g, norm = _order(p), _keep(g, x, dim, keepdim), _keep(out, x, dim, keepdim)
    sign = _constant(sgn(x.data), x)  # 0 at NaN, as PyTorch's norm_backward has it
    if p == 0:
        return (g * _constant(np.zeros_like(x.data), x),)
    if p == 1:
        return (g * sign,)
    if math.isinf(p):
        hit = np.abs(x.data) == norm.data
        ties = np.maximum(hit.sum(axis=axes("", dim, x.ndim), keepdims=True), 1)  # none hit a NaN norm: 0
        return (g * sign * _constant(hit / ties, x),)
    if has_zero(norm.data):
        norm = norm + _constant(norm.data == 0, norm)  # 0/0 -> 0/1 where the slice is all zeros
    if p == 2:
        return (g * x / norm,)
    if p < 1 and has_zero(x.data):  # |x_i|^(p-1) is inf at the zero entries: 0 there, as in PyTorch, and
        # divided by |x|_p^(p-1) after that, as there: where the norm is inf, 0 / 0 = NaN
        return (g * sign * where(x.data == 0, 0.0, (x * sign) ** (p - 1)) / norm ** (p - 1),)
    return (g * sign * (x * sign / norm) ** (p - 1),)


norm = Op("norm", _norm, _norm_vjp,
          params=(Param("p", "fro", ("fro", 0, 1, 2, 3, 0.5, math.inf, -math.inf)), Param("dim", None, dims, "dims"),
                  keepdim), kinks=(0.0,), ties=True, differences=NORM_AT_ZERO)


# --- cumsum, cumprod -----------------------------------------------------------------------------

def _scan(ufunc, name):
    """cumsum or cumprod along dim; integers accumulate in int64, as in PyTorch."""

    def forward(x, dim):
        d = one_axis(name, dim, x.ndim)
        wide = np.int64 if x.dtype.kind in "biu" else x.dtype
        return ufunc.accumulate(x, axis=d, dtype=wide) if x.ndim else x.astype(wide)

    return forward


def _cumsum_vjp(g, out, x, dim):
    """Input i reaches every out_k with k >= i: a cumsum of g from the far end."""
    if x.ndim == 0:
        return (g,)
    d = one_axis("cumsum", dim, x.ndim)
    return (flip(cumsum(flip(g, d), d), d),)


def _cumprod_vjp(g, out, x, dim):
    """d out_k / d x_i = (x_0 ... x_{i-1}) (x_{i+1} ... x_k) for k >= i. Dividing out_k by x_i
    fails at zeros; instead, grad_i = before_i * after_i with before_i = x_0 ... x_{i-1} (an
    exclusive cumprod) and after_i = sum_{k>=i} g_k x_{i+1} ... x_k, which obeys
    after_i = g_i + x_{i+1} after_{i+1}. That recurrence is solved in log2(n) doubling steps:
    after each, `after` sums `span` terms and `factor_i` = x_{i+1} ... x_{i+span}. Only products
    and sums, so zeros get exact first and higher derivatives."""
    if x.ndim == 0:
        return (g,)
    d = one_axis("cumprod", dim, x.ndim)
    n = x.shape[d]
    after, factor, span = g, _shift(x, d, -1, 0.0), 1
    while span < n:
        after = after + factor * _shift(after, d, -span, 0.0)
        if 2 * span < n:
            factor = factor * _shift(factor, d, -span, 0.0)
        span *= 2
    return (_exclusive_cumprod(x, d) * after,)


cumsum = Op("cumsum", _scan(np.add, "cumsum"), _cumsum_vjp, any_input, params=(one_dim,))
cumprod = Op("cumprod", _scan(np.multiply, "cumprod"), _cumprod_vjp, any_input, params=(one_dim,),
             differences={"evaluation order": "with a zero and an infinity in one slice, PyTorch's gradient depends "
                                              "on whether it records a graph: without, its O(n) formula drops the "
                                              "terms past the second zero (finite); with, its O(n^2) products give "
                                              "0 * inf = NaN. No one rule matches both"})



def _logcumsumexp(x, dim):
    """log(exp(x_0) + ... + exp(x_k)) along dim, one logaddexp at a time: no overflow."""
    d = one_axis("logcumsumexp", dim, x.ndim)
    return np.logaddexp.accumulate(x, axis=d) if x.ndim else x.copy()


def _logcumsumexp_vjp(g, out, x, dim):
    """grad_i = sum over k >= i of g_k exp(x_i - out_k). PyTorch's rule (TensorFlow's, in fact)
    sums the positive and the negative g_k apart, each as a logcumsumexp from the far end of
    log |g_k| - out_k, so that nothing overflows: exp of those sums plus x_i, subtracted."""
    if x.ndim == 0:  # as in PyTorch's rule; an empty input takes the general path, which gives it g too
        return (g,)
    d = one_axis("logcumsumexp", dim, x.ndim)
    lowest = np.finfo(g.dtype).min  # log 0, kept finite as PyTorch keeps it

    def from_the_end(t):
        return flip(logcumsumexp(flip(t, d), d), d)

    with np.errstate(divide="ignore"):
        size = log(abs(g))
    positive = from_the_end(where(g.data > 0, size, lowest) - out)
    negative = from_the_end(where(g.data < 0, size, lowest) - out)
    return (exp(positive + x) - exp(negative + x),)


def _logcumsumexp_sample(draw):
    """Any shape and dim; for the oracle also one value at an infinity or 1e30, where PyTorch's rule
    gives g for a 0-d input but for a 1-element one exp(log |g| - out + x): NaN at inf, 1 at 1e30."""
    if draw.edges and draw.boolean():
        return Example((np.full(draw.choice(((), (1,))), draw.choice((math.inf, -math.inf, 1e30))),), {"dim": 0})
    shape = draw.shape()
    return Example((shape,), {"dim": draw.choice(dim((shape,)))})


logcumsumexp = Op("logcumsumexp", _logcumsumexp, _logcumsumexp_vjp, params=(one_dim,), sample=_logcumsumexp_sample)


@hookimpl
def lucid_ops():
    return [sum, mean, prod, nansum, nanmean, amax, amin, max, min, var, std, std_mean, var_mean, logsumexp, norm,
            cumsum, cumprod, logcumsumexp]
