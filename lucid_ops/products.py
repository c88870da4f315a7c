"""Products beyond matmul: cross, kron, addmm, baddbmm, and the pairwise distances cdist.

- cross: a x b is linear in each factor, and <g, a x b> = <a, b x g> = <b, g x a>: the gradients
  are the cross products b x g and g x a.
- kron: with the result's axes split into (a's index, b's index) pairs, kron(a, b) is the outer
  product a ⊗ b: each factor's gradient is g times the other factor, summed over the other's axes.
- addmm and baddbmm: beta * input + alpha * (A @ B), whose gradients are those of matmul scaled
  by alpha, and g scaled by beta. With beta = 0 the input is not read (NaN in it does not spread).
- cdist: the p-norms of the differences of rows, with PyTorch's rules (torch's Distance.cpp): 0
  where the distance is 0 (p = 2 too, where the norm has no derivative), sign(d) for p = 1, and for
  p = inf the gradient of the entries whose size is the distance.
"""
from __future__ import annotations

import math

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl
from lucid.op import one_axis
from lucid_ops.common import SUMMATION_ORDER
from lucid_ops.arithmetic import binary, where
from lucid_ops.linalg import batched_matrix_product, matmul, matrix_product


# --- cross ---------------------------------------------------------------------------------------

def _cross_axis(op: str, a, b, dim) -> int:
    """The axis of the 3-vectors: `dim`, or for torch.cross's dim=None the first axis of size 3
    of the input. (The factors' dtypes must agree, as in PyTorch: the op is `same_dtype`.)"""
    if a.ndim != b.ndim:
        raise OpError(f"{op}: input and other must have the same number of dims, got shapes {a.shape} and {b.shape}")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise OpError(f"{op}: input of shape {a.shape} and other of shape {b.shape} do not broadcast") from None
    if dim is None:
        dim = next((axis for axis, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise OpError(f"{op}: no dim of size 3 in the input of shape {a.shape}")
    d = one_axis(op, dim, len(shape))
    if not a.ndim or a.shape[d] != 3 or b.shape[d] != 3:
        raise OpError(f"{op}: input and other must have size 3 in dim {dim}, got shapes {a.shape} and {b.shape}")
    return d


def _cross_of(op: str):
    def forward(input, other, dim=None if op == "cross" else -1):
        d = _cross_axis(op, input, other, dim)
        return np.cross(input, other, axis=d)

    forward.__doc__ = f"torch.{'' if op == 'cross' else 'linalg.'}cross: the cross product of 3-vectors along dim."
    return forward


def _cross_vjp(g, out, a, b, dim):
    d = _cross_axis("cross", a.data, b.data, dim)
    return (cross(b, g, d) if a.requires_grad else None), (cross(g, a, d) if b.requires_grad else None)


def _cross_sample(default_first: bool):
    """Shapes with size 3 in dim d (one of them 1 in some other dims); with `default_first`
    (torch.cross, whose dim=None finds the input's first dim of size 3) dim may be left out, also
    where the input is 1 along a first dim that the other's 3 makes the broadcast shape's first 3."""
    def sample(draw):
        shape = list(draw.shape(min_dims=1))
        d = draw.integer(-len(shape), len(shape) - 1)
        shape[d] = 3
        other = tuple(1 if a != d % len(shape) and draw.integer(0, 3) == 0 else n for a, n in enumerate(shape))
        input, other = (tuple(shape), other) if draw.boolean() else (other, tuple(shape))
        if d % len(shape) and draw.boolean():
            input, other = (1, *input[1:]), (3, *other[1:])
        found = input.index(3) == d % len(shape)
        return Example((input, other), {} if default_first and found and draw.boolean() else {"dim": d})

    return sample


# --- kron ----------------------------------------------------------------------------------------

def _kron(input, other):
    """torch.kron: the Kronecker product; the factor with fewer dims gets leading 1s."""
    return np.kron(input, other)


def _kron_vjp(g, out, a, b):
    ndim = max(a.ndim, b.ndim)
    a_shape, b_shape = (1,) * (ndim - a.ndim) + a.shape, (1,) * (ndim - b.ndim) + b.shape
    pairs = g.reshape([n for pair in zip(a_shape, b_shape) for n in pair])
    a_axes, b_axes = tuple(range(0, 2 * ndim, 2)), tuple(range(1, 2 * ndim, 2))

    def summed(t, axes):
        return t.sum(dim=axes) if axes else t

    g_a = g_b = None
    if a.requires_grad:
        g_a = summed(pairs * b.reshape([n for m in b_shape for n in (1, m)]), b_axes).reshape(a.shape)
    if b.requires_grad:
        g_b = summed(pairs * a.reshape([n for m in a_shape for n in (m, 1)]), a_axes).reshape(b.shape)
    return g_a, g_b


def _kron_sample(draw):
    return Example((draw.shape(max_side=3), draw.shape(max_side=3)))


# --- addmm, baddbmm ------------------------------------------------------------------------------

def _add_product(op: str, product_of):
    def forward(input, a, b, beta=1, alpha=1):
        product = product_of(a, b)
        try:
            fits = input.ndim <= product.ndim and np.broadcast_shapes(input.shape, product.shape) == product.shape
        except ValueError:
            fits = False
        if not fits:
            raise OpError(f"{op}: input of shape {input.shape} does not broadcast to the product's shape "
                          f"{product.shape}")
        scaled = product * alpha if alpha != 1 else product
        if beta == 0:  # the input is not read: NaN and inf in it do not spread
            return np.broadcast_to(scaled, product.shape).copy()
        return (input * beta if beta != 1 else input) + scaled

    forward.__doc__ = f"torch.{op}: beta * input + alpha * (the product), the input broadcast."
    return forward


def _add_product_vjp(g, out, input, a, b, beta, alpha):
    g_input = g * beta if input.requires_grad else None
    g_a = matmul(g, b.mT) * alpha if a.requires_grad else None
    g_b = matmul(a.mT, g) * alpha if b.requires_grad else None
    return g_input, g_a, g_b


def _added_shape(draw, shape):
    """A shape that broadcasts to `shape`: it, a suffix of it, or with some sizes 1."""
    suffix = shape[draw.integer(0, len(shape)):]
    return tuple(1 if draw.integer(0, 3) == 0 else n for n in suffix)


def _scales(draw):
    return {"beta": draw.choice((1, 0.5, 0)), "alpha": draw.choice((1, -2.0))}


def _addmm_sample(draw):
    n, m, p = (draw.integer(0, 3) for _ in range(3))
    return Example((_added_shape(draw, (n, p)), (n, m), (m, p)), _scales(draw))


def _baddbmm_sample(draw):
    b, n, m, p = (draw.integer(1, 3) for _ in range(4))
    return Example((_added_shape(draw, (b, n, p)), (b, n, m), (b, m, p)), _scales(draw))


# --- cdist ---------------------------------------------------------------------------------------

COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _cdist_differences(x1, x2, p):
    """x1[..., i, :] - x2[..., j, :] at [..., i, j, :], after checking the shapes and p."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise OpError(f"cdist: x1 and x2 need at least 2 dims (rows, columns), got shapes {x1.shape} and {x2.shape}")
    if x1.shape[-1] != x2.shape[-1]:
        raise OpError(f"cdist: x1 and x2 must have the same number of columns, got shapes {x1.shape} and {x2.shape}")
    if not p >= 0:
        raise OpError(f"cdist: p must be non-negative, got {p}")
    try:
        np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise OpError(f"cdist: the batch dims of x1 {x1.shape} and x2 {x2.shape} do not broadcast") from None
    return x1[..., :, None, :] - x2[..., None, :, :]


def _cdist(x1, x2, p=2.0, compute_mode=COMPUTE_MODES[0]):
    """torch.cdist: the p-norm distance between each row of x1 and each row of x2 (batched).
    compute_mode changes nothing: the differences are always taken directly, as PyTorch does with
    donot_use_mm_for_euclid_dist, and by default for up to 25 rows (its matrix-product path for
    p = 2 is faster on many rows and loses precision where the distance is small)."""
    if compute_mode not in COMPUTE_MODES:
        raise OpError(f"cdist: compute_mode must be one of {', '.join(COMPUTE_MODES)}, got {compute_mode!r}")
    size = np.abs(_cdist_differences(x1, x2, p))
    if p == 0:  # the count of nonzero differences; NaN where one is NaN, as in PyTorch
        return np.minimum(np.ceil(size), 1).sum(axis=-1)
    if p == math.inf:  # PyTorch's maximum passes over NaN (its gradient there is NaN)
        return np.fmax.reduce(size, axis=-1, initial=0)
    if p == 1:
        return size.sum(axis=-1)
    if p == 2:
        return np.sqrt(np.square(size).sum(axis=-1))
    return (size ** p).sum(axis=-1) ** (1 / p)


def _cdist_vjp(g, out, x1, x2, p, compute_mode):
    """The gradient of each difference d = x1_i - x2_j, summed over the rows of the other input."""
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    size = np.abs(d.data)
    distance = out.unsqueeze(-1)
    zero = Tensor(np.broadcast_to(distance.data == 0, size.shape))
    g = g.unsqueeze(-1)
    if p == 0:
        return Tensor(np.zeros(x1.shape, g.dtype)), Tensor(np.zeros(x2.shape, g.dtype))
    signs = Tensor(np.sign(d.data))  # NaN at NaN, as in PyTorch's kernel (Lucid's sign op gives 0)
    if p == 1:
        g_d = g * signs
    elif p == math.inf:
        with np.errstate(invalid="ignore"):  # PyTorch's test for |d| = distance: NaN where both are inf
            largest = 1 - np.minimum(1, np.ceil(np.abs(size - distance.data)))
        g_d = g * signs * Tensor(largest)
    elif p == 2:
        g_d = where(zero, 0.0, g * d / where(zero, 1.0, distance))
    else:
        if p < 1:  # |d|^(p-1) is infinite at d = 0: PyTorch's rule gives 0 there
            zero = Tensor(zero.data | (size == 0))
        safe_d = where(zero, 1.0, d)
        g_d = where(zero, 0.0, g * signs * (safe_d.abs() / where(zero, 1.0, distance)) ** (p - 1))
    return g_d.sum(-2), -g_d.sum(-3)


def _cdist_sample(draw):
    batch = draw.shape(max_dims=1, max_side=2)
    columns = draw.integer(1, 3)
    rows = (draw.integer(0, 3), draw.integer(1, 3))
    shapes = ((*batch, rows[0], columns), (*batch[draw.integer(0, len(batch)):], rows[1], columns))
    if draw.edges and draw.boolean():  # for the oracle: entries -1, 0, 1, so equal entries and equal rows
        shapes = tuple(draw.indices(shape, 3) - 1.0 for shape in shapes)  # (d = 0, distance 0) are common
    # not use_mm_for_euclid_dist: there PyTorch's values are those of |x|^2 + |y|^2 - 2 x.y, not Lucid's
    return Example(shapes, {"p": draw.choice((2.0, 1.0, 0.0, math.inf, 3.0, 1.5, 0.5)),
                            "compute_mode": draw.choice((COMPUTE_MODES[0], COMPUTE_MODES[2]))})


CROSS_ORDER = {"evaluation order": "PyTorch's kernel computes a1 b2 - a2 b1 with a fused multiply-add: where the "
                                   "two products are equal and near 1e30 it gives the rounding error of one (1e12), "
                                   "Lucid the exact 0"}
cross = Op("cross", _cross_of("cross"), _cross_vjp, binary,
           params=(Param("dim", None, kind="dim"),), sample=_cross_sample(True), differences=CROSS_ORDER,
           same_dtype=True)
linalg_cross = Op("linalg.cross", _cross_of("linalg.cross"), _cross_vjp, binary, params=(Param("dim", -1, kind="dim"),),
                  sample=_cross_sample(False), differences=CROSS_ORDER, same_dtype=True)
kron = Op("kron", _kron, _kron_vjp, binary, sample=_kron_sample)
scales = (Param("beta", 1, kind="number"), Param("alpha", 1, kind="number"))
addmm = Op("addmm", _add_product("addmm", matrix_product), _add_product_vjp, (Arg("input"), Arg("mat1"), Arg("mat2")),
           params=scales, sample=_addmm_sample, differences=SUMMATION_ORDER, same_dtype=True)
baddbmm = Op("baddbmm", _add_product("baddbmm", batched_matrix_product), _add_product_vjp,
             (Arg("input"), Arg("batch1"), Arg("batch2")),
             params=scales, sample=_baddbmm_sample, differences=SUMMATION_ORDER, same_dtype=True)
cdist = Op("cdist", _cdist, _cdist_vjp, (Arg("x1"), Arg("x2")),
           params=(Param("p", 2.0, kind="number"), Param("compute_mode", COMPUTE_MODES[0], COMPUTE_MODES, "choice")),
           sample=_cdist_sample, ties=True,
           differences={"second order": "PyTorch's cdist backward (_cdist_backward) has no derivative of its own"},
           same_dtype=True)


@hookimpl
def lucid_ops():
    return [cross, linalg_cross, kron, addmm, baddbmm, cdist]
