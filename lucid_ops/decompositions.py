"""Matrix decompositions and the functions built on them: `lucid.linalg` svd, svdvals, qr, pinv,
matrix_exp, matrix_power, eigvalsh, vector_norm and matrix_norm.

Every rule is PyTorch's (torch/csrc/autograd/FunctionsManual.cpp), written with Lucid ops so that it
differentiates again:

- svd: with A = U diag(S) V^T and E_jk = S_k^2 - S_j^2, the gradient is
  U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T, skew(X) = X - X^T, plus the parts of gU
  and gV outside the spans of U and V (svd_backward);
- qr: with M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T, copyltu(M) the symmetric matrix with
  M's lower triangle; a wide A = [X | Y] is X's QR with gQ + Y gV^T, and Q gV for Y (Walter and
  Lehmann 2018, Liao et al. 2019);
- matrix_exp: the adjoint of d exp(A) is the top-right block of exp([[A^T, G], [0, A^T]])
  (Najfeld and Havel 1995), so its gradient is itself a matrix_exp.

Conventions where PyTorch leaves a choice:
- singular vectors have an arbitrary sign: each column of U is flipped so that its largest-magnitude
  entry is positive, with the matching row of V^T (as eigh's eigenvectors here). This makes them a
  smooth function of A away from repeated singular values, where no choice is differentiable
  (`ties=True`). The oracle compares PyTorch's under the same convention (gauge-invariant).
- full_matrices=True: the columns of U (rows of V^T) past min(m, n) are any orthonormal basis of a
  complement; as in PyTorch, their gradient is ignored (the harness draws full_matrices=False).
- qr's R keeps LAPACK's signs, as NumPy's and PyTorch's do. Where a column of A is exactly 0
  below the diagonal LAPACK skips its reflection, and R's diagonal entry keeps A's sign: QR jumps
  there, in PyTorch too (the harness draws A off the axes). The rule needs Q: mode='r' and a tall A
  with mode='complete' have no gradient, an OpError, as in PyTorch.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl
from lucid.op import axes, one_axis
from lucid_ops.common import NORM_AT_ZERO, keepdim_shape, vector_norm as vector_p_norm
from lucid_ops.linalg import (MATRIX_ORDS, VECTOR_ORDS, _matrix_norm_grad, _norm, _square, _symmetric_part,
                              _vector_norm_grad, eigh, inv, solve, tril)
from lucid_ops.shape import cat

SVD_NAMES, QR_NAMES = ("U", "S", "Vh"), ("Q", "R")
QR_MODES = ("reduced", "complete", "r")


def _matrix(op: str, a) -> None:
    if a.ndim < 2:
        raise OpError(f"{op}: A must be a matrix or a batch of them (at least 2 dims), got shape {a.shape}")


def _largest_entry_positive(u: np.ndarray) -> np.ndarray:
    """+1 or -1 per column of u: the sign that makes the column's largest-magnitude entry positive."""
    negative = u.max(axis=-2, initial=-np.inf) < -u.min(axis=-2, initial=np.inf)
    return np.where(negative, -1, 1).astype(u.dtype)


def _svd(a, full_matrices=True):
    _matrix("linalg.svd", a)
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    signs = _largest_entry_positive(u[..., :k])
    u[..., :k] *= signs[..., None, :]
    vh[..., :k, :] *= signs[..., :, None]
    return u, s, vh


def _unused(g: Tensor) -> bool:
    """A zero gradient standing in for an output no one used (PyTorch's undefined gradient)."""
    return not g.requires_grad and not np.any(g.data)


def _svd_vjp(g, out, a, full_matrices):
    """PyTorch's svd_backward (see the module's docstring). When only S was used the gradient is
    U diag(gS) V^T, also at repeated singular values, where the rest divides by zero."""
    (gu, gs, gvh), (u, s, vh) = g, out
    k = s.shape[-1]
    if full_matrices:  # the completed columns carry no gradient, as in PyTorch
        u, vh, gu, gvh = u[..., :k], vh[..., :k, :], gu[..., :k], gvh[..., :k, :]
    if _unused(gu) and _unused(gvh):
        return ((u * gs[..., None, :]) @ vh,)
    eye = np.eye(k, dtype=s.dtype)
    squares = s * s
    gaps = squares[..., None, :] - squares[..., :, None] + eye  # E, with 1 on its diagonal
    left, right = u.mT @ gu, vh @ gvh.mT
    core = ((left - left.mT) * s[..., None, :] + s[..., :, None] * (right - right.mT)) / gaps + gs[..., :, None] * eye
    m, n = u.shape[-2], vh.shape[-1]
    if m > k:  # the part of gU outside U's span
        scaled = gu / s[..., None, :]
        return ((u @ core + scaled - u @ (u.mT @ scaled)) @ vh,)
    if n > k:  # the part of gV outside V's span
        scaled = gvh / s[..., :, None]
        return (u @ (core @ vh + scaled - (scaled @ vh.mT) @ vh),)
    return (u @ core @ vh,)


def _svdvals(a):
    _matrix("linalg.svdvals", a)
    return np.linalg.svd(a, compute_uv=False)


def _svdvals_vjp(g, out, a):
    """d s_i = u_i^T dA v_i: the gradient is U diag(g) V^T, through svd so that it differentiates again."""
    u, _, vh = svd(a, full_matrices=False)
    return ((u * g[..., None, :]) @ vh,)


def _qr(a, mode="reduced"):
    _matrix("linalg.qr", a)
    if mode not in QR_MODES:
        raise OpError(f"linalg.qr: mode must be one of {QR_MODES}, got {mode!r}")
    q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
    return (np.empty((0,), dtype=a.dtype) if mode == "r" else q), r


def _qr_square_backward(gq, gr, q, r):
    """(gQ + Q copyltu(R gR^T - gQ^T Q)) R^-T for a square R."""
    m = r @ gr.mT - gq.mT @ q
    return solve(r, (gq + q @ (tril(m) + tril(m, -1).mT)).mT).mT


def _qr_has_gradient(a, mode) -> None:
    """PyTorch's refusals: an OpError where the rule would need the Q that the mode leaves out."""
    if mode == "r":
        raise OpError("linalg.qr: the derivative depends on Q, which mode='r' does not compute: use "
                      "mode='reduced' to differentiate through linalg.qr")
    if mode == "complete" and a.shape[-2] > a.shape[-1]:
        raise OpError(f"linalg.qr: the QR decomposition is not differentiable when mode='complete' and "
                      f"nrows > ncols (A of shape {a.shape})")


def _qr_vjp(g, out, a, mode):
    (gq, gr), (q, r) = g, out
    _qr_has_gradient(a, mode)
    m, n = a.shape[-2:]
    if m >= n:
        return (_qr_square_backward(gq, gr, q, r),)
    gv = gr[..., m:]  # A = [X | Y] with X square: R = [U | V], X = Q U, Y = Q V
    gx = _qr_square_backward(gq + a[..., m:] @ gv.mT, gr[..., :m], q, r[..., :m])
    return (cat([gx, q @ gv], -1),)


def _matrices_sample(draw):
    """A matrix, tall, wide or square, or a batch of them."""
    return Example((draw.shape(max_dims=2, max_side=3) + (draw.integer(1, 4), draw.integer(1, 4)),))


def _qr_sample(draw):
    """mode='r' has no gradient, nor mode='complete' of a tall matrix: those are drawn wide or square."""
    mode = draw.choice(("reduced", "complete"))
    m, n = draw.integer(1, 4), draw.integer(1, 4)
    shape = (min(m, n), max(m, n)) if mode == "complete" else (m, n)
    return Example((draw.shape(max_dims=2, max_side=3) + shape,), {"mode": mode})


def _pinv(a, atol=None, rtol=None, hermitian=False):
    """V diag(1/s) U^T over the singular values s > max(atol, rtol * s_max), PyTorch's cutoff (rtol
    defaults to max(m, n) eps, or to 0 when atol > 0 is given). hermitian=True reads A's lower
    triangle as a symmetric matrix and takes its eigen-decomposition, as PyTorch does."""
    _matrix("linalg.pinv", a)
    if hermitian:
        _square("linalg.pinv", a, "A (hermitian=True)")
        w, v = np.linalg.eigh(a, UPLO="L")
        s, left, right = np.abs(w), v * np.sign(w)[..., None, :], v
    else:
        left, s, vh = np.linalg.svd(a, full_matrices=False)
        right = np.swapaxes(vh, -1, -2)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else max(a.shape[-2:]) * np.finfo(a.dtype).eps
    largest = s.max(axis=-1, keepdims=True, initial=0.0)
    kept = s > np.maximum(0.0 if atol is None else atol, rtol * largest)
    inverse = np.where(kept, 1 / np.where(kept, s, 1), 0).astype(a.dtype)
    return (right * inverse[..., None, :]) @ np.swapaxes(left, -1, -2)


def _pinv_vjp(g, out, a, atol, rtol, hermitian):
    """With P = A^+ and A of constant rank: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P.
    Its adjoint is PyTorch's pinv_backward, also for hermitian=True (the general pseudoinverse's
    gradient, with A as given)."""
    p, gt = out, g.mT
    return (-(p.mT @ g @ p.mT) + (gt - a @ (p @ gt)) @ (p @ p.mT) + (p.mT @ p) @ (gt - (gt @ p) @ a),)


def _pinv_sample(draw):
    """A of any shape (singular values in [1, 2]), with the default cutoff or an atol or rtol below
    them. Where the cutoff drops singular values PyTorch's gradient, and so this rule's, is the
    formula above with A as given, not the derivative of the truncated forward; hermitian=True reads
    only A's lower triangle but has the general gradient. Both are compared with PyTorch in the tests."""
    tolerance = draw.choice(("default", "atol", "rtol"))
    params = {"atol": 0.5} if tolerance == "atol" else {"rtol": 0.25} if tolerance == "rtol" else {}
    return Example(_matrices_sample(draw).inputs, params)


def _matrix_exp(a):
    _square("linalg.matrix_exp", a)
    return scipy.linalg.expm(a).astype(a.dtype, copy=False) if a.size else a.copy()


def _matrix_exp_vjp(g, out, a):
    """The top-right block of exp([[A^T, G], [0, A^T]]) (PyTorch's backward)."""
    n = a.shape[-1]
    block = cat([cat([a.mT, g], -1), cat([Tensor(np.zeros(g.shape, dtype=g.dtype)), a.mT], -1)], -2)
    return (matrix_exp(block)[..., :n, n:],)


def _matrix_power(a, n):
    _square("linalg.matrix_power", a)
    try:
        return np.linalg.matrix_power(a, n)
    except np.linalg.LinAlgError:
        raise OpError(f"linalg.matrix_power: A of shape {a.shape} is singular, so it has no power n={n}") from None


def _matrix_power_vjp(g, out, a, n):
    """d(B^k) = sum_j B^j dB B^(k-1-j), whose adjoint is sum_j (B^T)^j G (B^T)^(k-1-j); B = A, or
    A^-1 for n < 0, whose own adjoint is -B^T G B^T. A^0 = I has a zero gradient."""
    base = a if n > 0 else inv(a)
    powers = [Tensor(np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy())]  # (B^T)^j
    for _ in range(abs(n) - 1):
        powers.append(powers[-1] @ base.mT)
    grad = sum(powers[j] @ g @ powers[-1 - j] for j in range(abs(n))) if n else g * 0
    return (grad if n >= 0 else -(base.mT @ grad @ base.mT),)


def _eigvalsh(a):
    """The eigenvalues of A's symmetric part, ascending, as Lucid's eigh reads A."""
    _square("linalg.eigvalsh", a)
    return np.linalg.eigvalsh(_symmetric_part(a))


def _eigvalsh_vjp(g, out, a):
    """d w_i = v_i^T dA v_i: the gradient is V diag(g) V^T, through eigh so that it differentiates again."""
    v = eigh(a)[1]
    return ((v * g[..., None, :]) @ v.mT,)


def _vector_norm(x, ord=2, dim=None, keepdim=False):
    return vector_p_norm(x, ord, axes("linalg.vector_norm", dim, x.ndim), keepdim)


def _vector_norm_vjp(g, out, x, ord, dim, keepdim):
    dims = axes("linalg.vector_norm", dim, x.ndim)
    if not keepdim:
        shape = keepdim_shape(x.shape, dims)
        g, out = g.reshape(shape), out.reshape(shape)
    return (g * _vector_norm_grad(x, out, ord, dims),)


def _vector_norm_sample(draw):
    shape = draw.shape(min_dims=0, max_dims=3)
    ndim = len(shape)
    kind = draw.choice(("all", "one", "several") if ndim else ("all",))
    if kind == "all":
        dim = None
    elif kind == "one":
        dim = draw.integer(-ndim, ndim - 1)
    else:
        dim = tuple(d for d in range(ndim) if draw.boolean()) or (ndim - 1,)
    return Example((shape,), {"ord": draw.choice(VECTOR_ORDS[1:]), "dim": dim, "keepdim": draw.boolean()})


def _matrix_dims(x, dim) -> tuple[int, int]:
    if x.ndim < 2:
        raise OpError(f"linalg.matrix_norm: A must have at least 2 dims, got shape {x.shape}")
    if isinstance(dim, (int, np.integer)) or len(dim) != 2:
        raise OpError(f"linalg.matrix_norm: dim must be a 2-tuple of ints (rows, columns), got {dim!r}")
    rows, cols = (one_axis("linalg.matrix_norm", d, x.ndim) for d in dim)
    if rows == cols:
        raise OpError(f"linalg.matrix_norm: dim {dim} names the same axis twice")
    return rows, cols


def _matrix_norm(x, ord="fro", dim=(-2, -1), keepdim=False):
    dims = _matrix_dims(x, dim)
    if ord not in MATRIX_ORDS[1:]:
        raise OpError(f"linalg.matrix_norm: ord must be one of {MATRIX_ORDS[1:]}, got {ord!r}")
    return _norm(x, ord, dims, keepdim)


def _matrix_norm_vjp(g, out, x, ord, dim, keepdim):
    dims = _matrix_dims(x, dim)
    if not keepdim:
        g, out = g.reshape(keepdim_shape(x.shape, dims)), out.reshape(keepdim_shape(x.shape, dims))
    if ord == "fro":
        return (g * _vector_norm_grad(x, out, 2, dims),)
    return (g * _matrix_norm_grad(x, ord, *dims),)


def _matrix_norm_sample(draw):
    shape = draw.shape(min_dims=2, max_dims=3)
    ndim = len(shape)
    rows, cols = draw.choice(list(itertools.permutations(range(ndim), 2)))
    return Example((shape,), {"ord": draw.choice(MATRIX_ORDS[1:]), "dim": (rows - ndim * draw.boolean(), cols),
                              "keepdim": draw.boolean()})


full_rank = (Arg("A", structure="full rank"),)
SPECTRAL_ORDER = {"evaluation order": "the 2, -2 and nuclear norms come from an SVD: beside an entry of 1e30 the "
                                      "small singular values are rounding errors of 1e14, different in each LAPACK"}

svd = Op("linalg.svd", _svd, _svd_vjp, full_rank, params=(Param("full_matrices", True, (False,), "bool"),),
         sample=_matrices_sample, outputs=3, output_names=SVD_NAMES, ties=True)
svdvals = Op("linalg.svdvals", _svdvals, _svdvals_vjp, full_rank, sample=_matrices_sample, ties=True)
qr = Op("linalg.qr", _qr, _qr_vjp, full_rank, params=(Param("mode", "reduced"),),
        sample=_qr_sample, outputs=2, output_names=QR_NAMES)
pinv = Op("linalg.pinv", _pinv, _pinv_vjp, full_rank,
          params=(Param("atol", None), Param("rtol", None), Param("hermitian", False, (False,), "bool")),
          sample=_pinv_sample, signature=("A", "*", "atol", "rtol", "hermitian"))
matrix_exp = Op("linalg.matrix_exp", _matrix_exp, _matrix_exp_vjp, (Arg("A", low=-1, high=1),),
                shapes="(n,n)->(n,n)",
                differences={"edges": "with an entry of inf, NaN or 1e30 the result is what the overflows inside "
                                      "each library's scaling and squaring make of it (PyTorch gives NaN everywhere "
                                      "for [[1e30, 0], [0, 1]] and [[0, 0], [0, nan]], SciPy's expm, used here, "
                                      "inf and e, or NaN at the NaN only): neither is a rule to follow"})
matrix_power = Op("linalg.matrix_power", _matrix_power, _matrix_power_vjp, (Arg("A", structure="invertible"),),
                  params=(Param("n", 2, (-3, -2, -1, 0, 1, 2, 3), "int"),), shapes="(m,m)->(m,m)")
eigvalsh = Op("linalg.eigvalsh", _eigvalsh, _eigvalsh_vjp, (Arg("A", structure="spd"),), shapes="(n,n)->(n)",
              ties=True)
vector_norm = Op("linalg.vector_norm", _vector_norm, _vector_norm_vjp,
                 params=(Param("ord", 2, VECTOR_ORDS[1:], "number"), Param("dim", None, kind="dims"),
                         Param("keepdim", False, kind="bool")),
                 sample=_vector_norm_sample, kinks=(0.0,), ties=True, differences=NORM_AT_ZERO)
matrix_norm = Op("linalg.matrix_norm", _matrix_norm, _matrix_norm_vjp,
                 params=(Param("ord", "fro", MATRIX_ORDS[1:]), Param("dim", (-2, -1)),
                         Param("keepdim", False, kind="bool")),
                 sample=_matrix_norm_sample, kinks=(0.0,), ties=True, differences={**NORM_AT_ZERO, **SPECTRAL_ORDER})


@hookimpl
def lucid_ops():
    return [svd, svdvals, qr, pinv, matrix_exp, matrix_power, eigvalsh, vector_norm, matrix_norm]
