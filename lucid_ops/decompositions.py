"""Matrix decompositions and the functions built on them: `lucid.linalg` svd, svdvals, qr, pinv,
lstsq, matrix_exp, matrix_power, eigvalsh, vector_norm and matrix_norm.

Every rule is PyTorch's (torch/csrc/autograd/FunctionsManual.cpp), written with Lucid ops so that it
differentiates again:

- svd: with A = U diag(S) V^T and E_jk = S_k^2 - S_j^2, the gradient is
  U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T, skew(X) = X - X^T, plus the parts of gU
  and gV outside the spans of U and V (svd_backward);
- qr: with M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T, copyltu(M) the symmetric matrix with
  M's lower triangle; a wide A = [X | Y] is X's QR with gQ + Y gV^T, and Q gV for Y (Walter and
  Lehmann 2018, Liao et al. 2019);
- lstsq: at a full-rank A the solution is X = A^+ B, so gB = A^+^T gX and gA is pinv's gradient for
  gX B^T (linalg_lstsq_backward); the residuals r_j = |A x_j - b_j|^2 have d r_j = 2 r_j^T (dA x_j -
  db_j), as A^T r_j = 0 at the solution;
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
from lucid.tensor import sum_to_shape
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


LSTSQ_NAMES = ("solution", "residuals", "rank", "singular_values")
LSTSQ_DRIVERS = ("gelsy", "gels", "gelsd", "gelss")


def _lstsq_vector(a, b) -> bool:
    """B is one vector per matrix of A when shaped like A without its last dim (PyTorch's rule)."""
    return b.shape == a.shape[:-1]


def _lstsq_batch(a, b) -> tuple[int, ...]:
    """The broadcast batch of A (..., m, n) and B (..., m, k), or (..., m) for a vector B; else an
    error naming the shapes."""
    if a.ndim < 2:
        raise OpError(f"linalg.lstsq: A must be a matrix or a batch of them (at least 2 dims), got shape {a.shape}")
    if _lstsq_vector(a, b):
        return a.shape[:-2]
    m = a.shape[-2]
    if b.ndim != a.ndim or b.shape[-2] != m:
        raise OpError(f"linalg.lstsq: A of shape {a.shape} and B of shape {b.shape} are incompatible: B must be "
                      f"(..., {m}, k) with as many dims as A, or shaped like A without its last dim, {a.shape[:-1]}")
    try:
        return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise OpError(f"linalg.lstsq: the batch dims of A (shape {a.shape}) and B (shape {b.shape}) do not "
                      f"broadcast") from None


def _lstsq_one(a, b, rcond, driver):
    """One matrix through LAPACK's driver: the solution, the squared residuals (None where the driver
    gives none), the rank and the singular values (None where the driver gives none)."""
    m, n = a.shape
    if driver == "gels":
        gels = scipy.linalg.get_lapack_funcs("gels", (a, b))
        _, x, info = gels(a, np.concatenate([b, np.zeros((max(n - m, 0), b.shape[1]), b.dtype)]))
        if info > 0:
            raise OpError(f"linalg.lstsq: the least squares solution could not be computed because A (shape "
                          f"{a.shape}) does not have full rank, which driver 'gels' needs (use 'gelsy', 'gelsd' "
                          f"or 'gelss')")
        return x[:n], (x[n:] ** 2).sum(axis=0), 0, None  # past n, x holds the residual's components
    try:
        x, residuals, rank, s = scipy.linalg.lstsq(a, b, rcond, check_finite=False, lapack_driver=driver)
    except np.linalg.LinAlgError:
        raise OpError(f"linalg.lstsq: the SVD of A (shape {a.shape}) did not converge (driver {driver!r})") from None
    return x, residuals if residuals.size else None, rank, s


def _lstsq(a, b, rcond=None, driver=None):
    """PyTorch's outputs for each driver (CPU): the solution; the squared residuals of each column
    for m > n and a driver other than gelsy (gelsd and gelss: only if every matrix has full rank,
    rank n), else empty; the rank (int64; empty for gels); the singular values of A (gelsd and
    gelss), else empty. rcond defaults to eps * max(m, n). A problem with an empty dim skips LAPACK,
    as PyTorch does: a zero solution of rank 0, whose residuals are |B|^2 (PyTorch's gels gives 0).
    gels refuses an A whose triangular factor has a zero on its diagonal, as PyTorch does."""
    driver = "gelsy" if driver is None else driver
    batch = _lstsq_batch(a, b)
    vector = _lstsq_vector(a, b)
    rhs = b[..., None] if vector else b
    (m, n), k = a.shape[-2:], rhs.shape[-1]
    rcond = np.finfo(a.dtype).eps * max(m, n) if rcond is None else rcond
    solution = np.zeros(batch + (n, k), a.dtype)
    residuals = (np.broadcast_to(rhs, batch + (m, k)) ** 2).sum(axis=-2)  # of the zero solution
    ranks = np.zeros(a.shape[:-2], np.int64)
    singular_values = np.zeros(a.shape[:-2] + (min(m, n),), a.dtype)
    complete = True  # every matrix has its residuals
    if m and n and k:
        broadcast_a, broadcast_b = np.broadcast_to(a, batch + (m, n)), np.broadcast_to(rhs, batch + (m, k))
        for index in np.ndindex(batch):
            own = tuple(i if size > 1 else 0 for i, size in zip(index, a.shape[:-2]))  # A's matrix, unbroadcast
            solution[index], r, ranks[own], s = _lstsq_one(broadcast_a[index], broadcast_b[index], rcond, driver)
            complete = complete and r is not None
            if r is not None:
                residuals[index] = r
            if s is not None:
                singular_values[own] = s
    empty = np.zeros((0,), a.dtype)
    return (solution[..., 0] if vector else solution,
            residuals if m > n and driver != "gelsy" and complete else empty,
            np.zeros((0,), np.int64) if driver == "gels" else ranks,
            singular_values if driver in ("gelsd", "gelss") else empty)


def _lstsq_vjp(g, out, a, b, rcond, driver):
    """PyTorch's linalg_lstsq_backward for the solution, X = A^+ B at a full-rank A (see the module's
    docstring), and the residuals' and singular values' own derivatives."""
    (gx, g_residuals, _, g_singular), (x, residuals, _, singular_values) = g, out
    vector, wants_b = _lstsq_vector(a, b), b.requires_grad
    if vector:
        gx, x, b = gx[..., None], x[..., None], b[..., None]
    p = pinv(a)
    ga = _pinv_vjp(gx @ b.mT, p, a, None, None, False)[0] if a.requires_grad else None
    gb = p.mT @ gx
    if residuals.numel():  # 2 r (dA x - db), r = A x - b
        weighted = (a @ x - b) * (2 * g_residuals[..., None, :])
        ga = None if ga is None else ga + weighted @ x.mT
        gb = gb - weighted
    if singular_values.numel() and not _unused(g_singular) and ga is not None:  # of A's own matrices
        ga = sum_to_shape(ga, a.shape) + _svdvals_vjp(g_singular, singular_values, a)[0]
    return ga, (gb[..., 0] if vector else gb) if wants_b else None


def _lstsq_sample(draw):
    """A full-rank A, tall, wide or square, or a batch of them, and B: one vector per matrix, or k
    columns whose batch dims broadcast against A's."""
    batch = draw.shape(max_dims=2, max_side=3)
    m, n = draw.integer(1, 4), draw.integer(1, 4)
    if draw.boolean():
        return Example((batch + (m, n), batch + (m,)))
    a_batch, b_batch = (tuple(1 if draw.boolean() else size for size in batch) for _ in range(2))
    return Example((a_batch + (m, n), b_batch + (m, draw.integer(1, 3))))


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
# Where PyTorch leaves the singular values out of the graph, Lucid differentiates them (svdvals's
# gradient): gradcheck.oracle's counterpart gives PyTorch's the same gradient to compare with.
lstsq = Op("linalg.lstsq", _lstsq, _lstsq_vjp, (Arg("A", structure="full rank"), Arg("B")),
           params=(Param("rcond", None, (None, 0.25), "number"), Param("driver", None, LSTSQ_DRIVERS, "choice")),
           sample=_lstsq_sample, outputs=4, output_names=LSTSQ_NAMES, signature=("A", "B", "rcond", "*", "driver"),
           same_dtype=True,
           differences={"evaluation order": "an inf in B meets each LAPACK's reflections and scalings in its own "
                                            "order (inf or NaN); PyTorch's MKL refuses a NaN as an illegal "
                                            "argument, where SciPy's LAPACK returns NaN",
                        "inputs": "PyTorch's gelsy (MKL) ranks A by a condition estimate of its own: with "
                                  "rcond its rank can differ from the documented one (1 where the singular "
                                  "values' ratio is 0.53 > rcond = 0.25, and 1 or 2 from call to call in a "
                                  "batch); there the oracle refuses the input"})
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
    return [svd, svdvals, qr, pinv, lstsq, matrix_exp, matrix_power, eigvalsh, vector_norm, matrix_norm]
