"""Linear algebra: matrix products, contractions, triangles and diagonals, and `lucid.linalg`.

Every rule is written with Lucid ops (matmul, `.mT`, solve, eigh...), so it can be differentiated
again. The textbook identities behind them, for `A` and a small change `dA`:

- products: d(A @ B) = dA @ B + A @ dB, so the gradient of A is g @ B^T;
- inverse:  d(A^-1) = -A^-1 dA A^-1, hence solve, det (d det = det tr(A^-1 dA)) and slogdet;
- Cholesky and eigh: the perturbation formulas of Murray (2016) and of Giles (2008).

Conventions where PyTorch leaves a choice:
- cholesky and eigh read only a symmetric matrix. Here their forward uses the symmetric part of
  its input, (A + A^T) / 2, so that they are smooth functions of every entry and their gradient
  is symmetric, as PyTorch's is; on a symmetric input the values are those of PyTorch.
- eigh's eigenvectors have an arbitrary sign: each is flipped so that its largest-magnitude entry
  is positive, which makes them a smooth function of A away from repeated eigenvalues (where no
  choice is differentiable: `ties=True`).
- einsum takes its equation first, `einsum("ij,jk->ik", a, b)`, as in PyTorch (its `signature`).
- det's gradient is the cofactor matrix, g det(A) A^-T, or from the minors where A is singular (as
  PyTorch's adjugate); slogdet's goes through inv(A): at a singular A it raises an OpError.
"""
from __future__ import annotations

import itertools
import math
import numbers
import string
from collections import Counter

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl, is_grad_enabled
from lucid.op import axes
from lucid_ops.arithmetic import where
from lucid_ops.common import NORM_AT_ZERO, SUMMATION_ORDER, has_zero, keepdim_shape, sgn, vector_norm
from lucid_ops.shape import index_backward, permute

# --- products ------------------------------------------------------------------------------------


def _shapes_text(a, b) -> str:
    return f"{'x'.join(map(str, a.shape)) or 'scalar'} and {'x'.join(map(str, b.shape)) or 'scalar'}"


def _dense(x):
    """x, or a contiguous copy of it if it has a zero stride (a broadcast view, such as the gradient
    a sum hands back): NumPy's matmul leaves its BLAS path for such an operand, at a cost of 10-20%
    of the product, more than the copy."""
    return np.ascontiguousarray(x) if 0 in x.strides else x


def _matmul(a, b):
    try:
        return np.matmul(_dense(a), _dense(b))
    except ValueError:
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}") \
                from None
        inner = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if a.shape[-1] != inner:
            raise OpError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied ({_shapes_text(a, b)}): "
                          f"the last dim of input ({a.shape[-1]}) must equal the rows of other ({inner})") from None
        raise OpError(f"matmul: the batch dims of shapes {a.shape} and {b.shape} do not broadcast") from None


def _matmul_vjp(g, out, a, b):
    """matmul reads a 1-D `a` as a row and a 1-D `b` as a column: do the same, then
    ga = g @ b^T and gb = a^T @ g, and drop the added axis again. The engine sums away
    broadcast batch axes. (mm and bmm share this rule.)"""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    g2 = g if a.ndim > 1 and b.ndim > 1 else \
        g.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    ga = gb = None
    if a.requires_grad:
        ga = matmul(g2, b2.mT)
        ga = ga[..., 0, :] if a.ndim == 1 else ga
    if b.requires_grad:
        gb = matmul(a2.mT, g2)
        gb = gb[..., 0] if b.ndim == 1 else gb
    return ga, gb


def _fixed_rank(op: str, names: tuple[str, str], ndim: int, a, b) -> None:
    """mm, bmm, dot and outer take tensors of one rank only, unlike matmul."""
    if a.ndim != ndim or b.ndim != ndim:
        raise OpError(f"{op}: {names[0]} and {names[1]} must be {ndim}-D, got shapes {a.shape} and {b.shape}")


def matrix_product(a, b):
    """torch.mm on arrays: a @ b of two matrices, after mm's checks (addmm reuses them)."""
    _fixed_rank("mm", ("input", "mat2"), 2, a, b)
    if a.shape[1] != b.shape[0]:
        raise OpError(f"mm: input and mat2 shapes cannot be multiplied ({_shapes_text(a, b)})")
    return a @ b


def batched_matrix_product(a, b):
    """torch.bmm on arrays: a @ b of two equally long batches of matrices, after bmm's checks."""
    _fixed_rank("bmm", ("input", "mat2"), 3, a, b)
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise OpError(f"bmm: input and mat2 shapes cannot be multiplied ({_shapes_text(a, b)}): expected "
                      f"(b, n, m) and (b, m, p)")
    return a @ b


def _dot(a, b):
    _fixed_rank("dot", ("input", "tensor"), 1, a, b)
    if a.shape != b.shape:
        raise OpError(f"dot: input and tensor must have the same number of elements, got shapes {a.shape} and "
                      f"{b.shape}")
    return np.dot(a, b)


def _outer(a, b):
    _fixed_rank("outer", ("input", "vec2"), 1, a, b)
    return np.multiply.outer(a, b)


def _mm_sample(draw):
    m, n, p = (draw.integer(0, 4) for _ in range(3))
    return Example(((m, n), (n, p)))


def _bmm_sample(draw):
    b, m, n, p = (draw.integer(1, 3) for _ in range(4))
    return Example(((b, m, n), (b, n, p)))


def _vectors_sample(same: bool):
    def sample(draw):
        n = draw.integer(0, 4)
        return Example(((n,), (n if same else draw.integer(0, 4),)))
    return sample


# NumPy's BLAS and PyTorch's kernels each sum the products in their own order, with fused multiply-adds.
matmul = Op("matmul", _matmul, _matmul_vjp, (Arg("input"), Arg("other")), shapes="(m?,n),(n,p?)->(m?,p?)",
            differences=SUMMATION_ORDER, same_dtype=True)
mm = Op("mm", matrix_product, _matmul_vjp, (Arg("input"), Arg("mat2")), sample=_mm_sample,
         differences=SUMMATION_ORDER, same_dtype=True)
bmm = Op("bmm", batched_matrix_product, _matmul_vjp, (Arg("input"), Arg("mat2")), sample=_bmm_sample,
          differences=SUMMATION_ORDER, same_dtype=True)
dot = Op("dot", _dot, lambda g, out, a, b: (g * b, g * a), (Arg("input"), Arg("tensor")), sample=_vectors_sample(True),
         differences=SUMMATION_ORDER, same_dtype=True)
outer = Op("outer", _outer,
           lambda g, out, a, b: (matmul(g, b) if a.requires_grad else None, matmul(a, g) if b.requires_grad else None),
           (Arg("input"), Arg("vec2")), sample=_vectors_sample(False))

# --- einsum --------------------------------------------------------------------------------------


def _einsum_labels(equation: str, shapes) -> tuple[list[str], str]:
    """The equation in explicit form: one label per axis of each operand and of the output.

    Each "..." becomes fresh letters, right-aligned as NumPy broadcasts them; without "->" the
    output is the broadcast axes, then the labels used once, in alphabetical (ASCII) order."""
    spec = equation.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise OpError(f"einsum: equation {equation!r} gives subscripts for {len(terms)} operands, "
                      f"but {len(shapes)} operands were given")
    spans = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = term.replace("...", "", 1)
        if not all(c in string.ascii_letters for c in named):
            raise OpError(f"einsum: subscripts {term!r} of operand {i} may hold only letters and one '...'")
        span = len(shape) - len(named)
        if span < 0 or (span > 0 and "..." not in term):
            raise OpError(f"einsum: subscripts {term!r} of operand {i} do not fit its shape {shape}")
        spans.append(span)
    fresh = "".join(c for c in string.ascii_letters if c not in spec)[:max(spans, default=0)]
    ins = [term.replace("...", fresh[len(fresh) - span:]) for term, span in zip(terms, spans)]
    if arrow:
        return ins, rhs.replace("...", fresh)
    counts = Counter(lhs.replace("...", "").replace(",", ""))
    return ins, fresh + "".join(sorted(c for c, n in counts.items() if n == 1))


def _einsum(*operands, equation):
    try:
        return np.einsum(equation, *operands)
    except ValueError as error:  # say which operands disagree, in PyTorch's terms
        ins, _ = _einsum_labels(equation, [x.shape for x in operands])
        first = {}
        for i, (labels, x) in enumerate(zip(ins, operands)):
            for axis, (label, n) in enumerate(zip(labels, x.shape)):
                j, other = first.setdefault(label, (i, axis))
                m = operands[j].shape[other]
                if 1 != n != m != 1:
                    name = f"label {label!r}" if label in equation else "a '...' dim"
                    raise OpError(f"einsum: dim {other} of operand {j} (shape {operands[j].shape}) and dim {axis} of "
                                  f"operand {i} (shape {x.shape}) share {name} but have sizes {m} and {n}") from None
        raise OpError(f"einsum: {error} (equation {equation!r})") from None


def _einsum_vjp(g, out, *operands, equation):
    """The gradient of operand i is itself an einsum: g contracted with the other operands onto
    operand i's labels. Two cases need a constant factor: a label repeated within operand i (a
    diagonal, "ii") gets a fresh label tied to the first by an identity matrix, and a label that
    only operand i has (summed away, or broadcast there) gets a vector of ones."""
    ins, out_labels = _einsum_labels(equation, [x.shape for x in operands])
    spare = iter(c for c in string.ascii_letters if c not in "".join(ins) + out_labels)
    grads = []
    for i, x in enumerate(operands):
        if not x.requires_grad:
            grads.append(None)
            continue
        others = [j for j in range(len(operands)) if j != i]
        size = dict(zip(out_labels, g.shape))  # the size each label has outside operand i
        for j in others:
            for label, n in zip(ins[j], operands[j].shape):
                size[label] = max(n, size.get(label, 1))
        target, terms, constants = "", [], []
        for label, n in zip(ins[i], x.shape):
            if label in target:
                new = next(spare)
                target += new
                terms.append(label + new)
                constants.append(np.eye(n, dtype=g.dtype))
            else:
                target += label
                if size.get(label, 1) < n or label not in size:
                    terms.append(label)
                    constants.append(np.ones(n, dtype=g.dtype))
        spec = ",".join([out_labels] + [ins[j] for j in others] + terms) + "->" + target
        grads.append(einsum(spec, g, *(operands[j] for j in others), *constants))
    return tuple(grads)


_EINSUM_EQUATIONS = ("ij,jk->ik", "ij->ji", "ba", "ii->i", "ii", "iij->j", "ij->", "i,i->", "i,j->ij",
                     "bij,bjk->bik", "ij,jk,kl->il", "i,i,i->i", "ij,ij->ij", "aB,Ba", "ab,bb->a", "ij,j->i",
                     "...ij,...jk->...ik", "...ii->...i", "i...->...", "i,...->...i")


def _einsum_sample(draw):
    """An equation and shapes that fit it. In half the examples the labels are 2 or 3 long, and each
    label that several operands share is 1 long in all of them but one: NumPy and PyTorch broadcast
    it, as they do the dims of "...", and the gradient of an operand sums over what it broadcasts."""
    equation = draw.choice(_EINSUM_EQUATIONS)
    terms = equation.split("->")[0].split(",")
    broadcast = draw.boolean()
    size = {c: draw.integer(1 + broadcast, 3) for c in sorted(set(equation) - set(",.->"))}
    holders = {c: [i for i, term in enumerate(terms) if c in term] for c in size}
    keeper = {c: draw.choice(held) for c, held in holders.items() if broadcast and len(held) > 1}
    batch = draw.shape(max_dims=2, max_side=3)
    shapes = []
    for i, term in enumerate(terms):
        sizes = [1 if keeper.get(c, i) != i else size[c] for c in term.replace("...", "")]
        head = len(term.partition("...")[0])
        lead = tuple(1 if draw.boolean() else n for n in batch[draw.integer(0, len(batch)):]) if "..." in term else ()
        shapes.append(tuple(sizes[:head]) + lead + tuple(sizes[head:]))
    return Example(tuple(shapes), {"equation": equation})


einsum = Op("einsum", _einsum, _einsum_vjp, (Arg("operands"),), params=(Param("equation"),), sample=_einsum_sample,
            variadic=True, signature=("equation", "*operands"),
            differences={"evaluation order": "NumPy contracts all operands at once and sums in its own order, "
                                             "PyTorch pairwise from the left and in SIMD lanes: 0 * inf inside a "
                                             "contraction, and 1e30 - 1e30 + x, come out NaN or x in one, inf or 0 "
                                             "in the other"}, same_dtype=True)

# --- tensordot -----------------------------------------------------------------------------------


def _contracted(dims, a_ndim: int, b_ndim: int) -> tuple[list[int], list[int]]:
    """tensordot's `dims` as two lists of paired axes: an int n pairs the last n axes of a with
    the first n of b."""
    if isinstance(dims, (int, np.integer)):
        if not 0 <= dims <= min(a_ndim, b_ndim):
            raise OpError(f"tensordot: dims={dims} must be in [0, {min(a_ndim, b_ndim)}] for tensors of "
                          f"{a_ndim} and {b_ndim} dims")
        return list(range(a_ndim - dims, a_ndim)), list(range(dims))
    ia, ib = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
    if len(ia) != len(ib):
        raise OpError(f"tensordot: dims {dims} pairs {len(ia)} axes of a with {len(ib)} axes of b")
    return ([axes("tensordot", (d,), a_ndim)[0] for d in ia], [axes("tensordot", (d,), b_ndim)[0] for d in ib])


def _tensordot(a, b, dims=2):
    ia, ib = _contracted(dims, a.ndim, b.ndim)
    for i, j in zip(ia, ib):
        if a.shape[i] != b.shape[j]:
            raise OpError(f"tensordot: dim {i} of a (shape {a.shape}) has size {a.shape[i]}, but dim {j} of b "
                          f"(shape {b.shape}) it is contracted with has size {b.shape[j]}")
    # NumPy's tensordot multiplies through np.dot, whose BLAS scaling by a 0 gives 0 for inf and NaN
    # (PyTorch: NaN); matmul of the same (free, contracted) @ (contracted, free) layout multiplies.
    fa, fb = [i for i in range(a.ndim) if i not in ia], [j for j in range(b.ndim) if j not in ib]
    free_a, free_b = [a.shape[i] for i in fa], [b.shape[j] for j in fb]
    k = math.prod(a.shape[i] for i in ia)
    left = np.transpose(a, fa + ia).reshape(math.prod(free_a), k)
    right = np.transpose(b, ib + fb).reshape(k, math.prod(free_b))
    return np.matmul(_dense(left), _dense(right)).reshape(free_a + free_b)


def _tensordot_vjp(g, out, a, b, dims):
    """ga = g contracted with b over b's free axes. What is left of b are its contracted axes, in
    b's order; each stands for the axis of a it was paired with, so a permute puts them back."""
    ia, ib = _contracted(dims, a.ndim, b.ndim)
    fa = [i for i in range(a.ndim) if i not in ia]
    fb = [j for j in range(b.ndim) if j not in ib]
    ga = gb = None
    if a.requires_grad:
        r = tensordot(g, b, (list(range(len(fa), g.ndim)), fb))
        ga = permute(r, tuple(np.argsort(fa + [ia[ib.index(j)] for j in sorted(ib)]).tolist()))
    if b.requires_grad:
        r = tensordot(a, g, (fa, list(range(len(fa)))))
        gb = permute(r, tuple(np.argsort([ib[ia.index(i)] for i in sorted(ia)] + fb).tolist()))
    return ga, gb


def _placed(draw, free: tuple, contracted: tuple) -> tuple[tuple, list[int]]:
    """A shape holding the free and the contracted sizes in a random order, and where each
    contracted axis landed."""
    order = draw.choice(list(itertools.permutations(range(len(free) + len(contracted)))))
    sizes = free + contracted
    return tuple(sizes[k] for k in order), [order.index(len(free) + c) for c in range(len(contracted))]


def _tensordot_sample(draw):
    contracted = draw.shape(min_dims=0, max_dims=2, max_side=3)
    free_a, free_b = draw.shape(max_dims=2, max_side=3), draw.shape(max_dims=2, max_side=3)
    if draw.boolean():
        return Example((free_a + contracted, contracted + free_b), {"dims": len(contracted)})
    a, ia = _placed(draw, free_a, contracted)
    b, ib = _placed(draw, free_b, contracted)
    return Example((a, b), {"dims": (ia, ib)})


tensordot = Op("tensordot", _tensordot, _tensordot_vjp, (Arg("a"), Arg("b")), params=(Param("dims", 2),),
               sample=_tensordot_sample, differences=SUMMATION_ORDER, same_dtype=True)

# --- diagonals and triangles ---------------------------------------------------------------------


def _trace(x):
    if x.ndim != 2:
        raise OpError(f"trace: expected a 2-D matrix, got shape {x.shape}")
    return np.trace(x)


def _diagonal_axes(x_ndim: int, dim1: int, dim2: int) -> tuple[int, int]:
    if x_ndim < 2:
        raise OpError(f"diagonal: the input needs at least 2 dims, got {x_ndim}")
    d1, d2 = axes("diagonal", (dim1,), x_ndim)[0], axes("diagonal", (dim2,), x_ndim)[0]
    if d1 == d2:
        raise OpError(f"diagonal: dim1 ({dim1}) and dim2 ({dim2}) name the same axis")
    return d1, d2


def _diagonal(x, offset=0, dim1=0, dim2=1):
    return np.diagonal(x, offset, *_diagonal_axes(x.ndim, dim1, dim2))


def diagonal_key(n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """The (rows, cols) of the n entries of the diagonal `offset` (above the main one if positive)."""
    return np.arange(n) + max(-offset, 0), np.arange(n) + max(offset, 0)


def _diagonal_vjp(g, out, x, offset, dim1, dim2):
    """With dim1 and dim2 moved last, the diagonal is x[..., rows, cols]: scatter g back there."""
    d1, d2 = _diagonal_axes(x.ndim, dim1, dim2)
    order = [i for i in range(x.ndim) if i not in (d1, d2)] + [d1, d2]
    k = g.shape[-1]
    moved = index_backward(g, tuple(x.shape[i] for i in order), (Ellipsis, *diagonal_key(k, offset)))
    return (permute(moved, tuple(np.argsort(order).tolist())),)


def _diagonal_sample(draw):
    shape = draw.shape(min_dims=2, max_dims=4)
    d1, d2 = draw.choice(list(itertools.permutations(range(len(shape)), 2)))
    return Example((shape,), {"offset": draw.integer(-2, 2), "dim1": d1, "dim2": d2 - len(shape) * draw.boolean()})


def _triangle(op: str, part):
    def forward(x, diagonal=0):
        if x.ndim < 2:
            raise OpError(f"{op}: the input needs at least 2 dims, got shape {x.shape}")
        return part(x, diagonal)
    return forward


trace = Op("trace", _trace, lambda g, out, x: (g * np.eye(*x.shape, dtype=g.dtype),),
           sample=lambda draw: Example((draw.shape(min_dims=2, max_dims=2),)))
diagonal = Op("diagonal", _diagonal, _diagonal_vjp,
              params=(Param("offset", 0, kind="int"), Param("dim1", 0, kind="dim"), Param("dim2", 1, kind="dim")),
              sample=_diagonal_sample)
triu = Op("triu", _triangle("triu", np.triu), lambda g, out, x, diagonal: (triu(g, diagonal),),
          (Arg("input", dtype="any"),), params=(Param("diagonal", 0, (-1, 0, 1), "int"),), shapes="(m,n)->(m,n)")
tril = Op("tril", _triangle("tril", np.tril), lambda g, out, x, diagonal: (tril(g, diagonal),),
          (Arg("input", dtype="any"),), params=(Param("diagonal", 0, (-1, 0, 1), "int"),), shapes="(m,n)->(m,n)")

# --- lucid.linalg --------------------------------------------------------------------------------


def _square(op: str, a, name: str = "A") -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise OpError(f"{op}: {name} must be a square matrix or a batch of them, got shape {a.shape}")


def _singular(op: str, a) -> OpError:
    return OpError(f"{op}: A of shape {a.shape} is singular (a matrix in it has no inverse)")


def _symmetric_part(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


def _inv(a):
    _square("linalg.inv", a)
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular("linalg.inv", a) from None


def _det(a):
    _square("linalg.det", a)
    return np.linalg.det(a)


def _det_vjp(g, out, a):
    """d det = det tr(A^-1 dA), so the gradient is g det(A) A^-T: the cofactor matrix, times g. Where
    a matrix of the batch is singular (det exactly 0, no inverse) the cofactors come from the minors
    instead: det is a polynomial, differentiable everywhere (PyTorch gives 0 there: a declared difference)."""
    if not has_zero(out.data):
        return ((g * out)[..., None, None] * inv(a).mT,)
    return (g[..., None, None] * _cofactors(a),)


def _cofactors(a):
    """The cofactor matrix of each matrix of `a`: (-1)^(i+j) det(A without row i and column j).
    Exact at singular matrices, and written with det and indexing so that it differentiates again
    (the minors' own singular points recurse down to 1x1, whose cofactor is 1). It costs n^2
    determinants: the rule takes it only where the inverse does not exist."""
    n = a.shape[-1]
    if n == 1:
        return Tensor(np.ones(a.shape, dtype=a.dtype))
    others = np.array([[k for k in range(n) if k != i] for i in range(n)])  # row i: every index but i
    minors = a[..., others[:, None, :, None], others[None, :, None, :]]  # (..., n, n, n-1, n-1)
    return det(minors) * (-1.0) ** np.add.outer(np.arange(n), np.arange(n)).astype(a.dtype)


def _slogdet(a):
    _square("linalg.slogdet", a)
    return np.linalg.slogdet(a)


def _solve(a, b):
    """B is a vector (or a batch of them) if it is 1-D or shaped like A without its last dim, as
    in PyTorch; otherwise a matrix (or a batch) of right-hand sides."""
    _square("linalg.solve", a)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    rhs = b[..., None] if vector else b
    if rhs.ndim < 2 or rhs.shape[-2] != a.shape[-1]:
        raise OpError(f"linalg.solve: A of shape {a.shape} and B of shape {b.shape} are incompatible: B must be "
                      f"(..., {a.shape[-1]}, k) or a vector of {a.shape[-1]}")
    try:
        x = np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        raise _singular("linalg.solve", a) from None
    except ValueError:
        raise OpError(f"linalg.solve: the batch dims of A (shape {a.shape}) and B (shape {b.shape}) do not "
                      f"broadcast") from None
    return x[..., 0] if vector else x


def _solve_vjp(g, out, a, b):
    """A X = B gives gB = A^-T g and gA = -gB X^T (a vector X read as a column)."""
    gb = solve(a.mT, g)
    ga = None
    if a.requires_grad:
        column = out.ndim == a.ndim - 1
        ga = -(gb[..., None] @ out[..., None, :] if column else gb @ out.mT)
    return ga, gb if b.requires_grad else None


def _solve_sample(draw):
    n = draw.integer(1, 4)
    batch = draw.shape(max_dims=2, max_side=3)
    a = batch[draw.integer(0, len(batch)):] + (n, n)
    if draw.boolean():  # a vector, or a batch of vectors shaped like A without its last dim
        return Example((a, draw.choice(((n,), a[:-1]))))
    return Example((a, batch[draw.integer(0, len(batch)):] + (n, draw.integer(1, 3))))


def _cholesky(a, upper=False):
    _square("linalg.cholesky", a)
    try:
        lower = np.linalg.cholesky(_symmetric_part(a))
    except np.linalg.LinAlgError:
        raise OpError(f"linalg.cholesky: A of shape {a.shape} is not positive-definite") from None
    return np.swapaxes(lower, -1, -2) if upper else lower


def _cholesky_vjp(g, out, a, upper):
    """With A = L L^T: dL = L phi(L^-1 dA L^-T), where phi keeps the lower triangle and halves the
    diagonal. Its adjoint gives G = L^-T phi(L^T gL) L^-1, and the gradient is G's symmetric part."""
    lower, gl = (out.mT, g.mT) if upper else (out, g)
    n = lower.shape[-1]
    phi = np.tril(np.ones((n, n), dtype=g.dtype)) - 0.5 * np.eye(n, dtype=g.dtype)
    left = solve(lower.mT, (lower.mT @ gl) * phi)  # L^-T phi(L^T gL)
    transposed = solve(lower.mT, left.mT)  # G^T = L^-T (L^-T phi(...))^T
    return ((transposed + transposed.mT) * 0.5,)


def _eigh(a):
    """Eigenvalues ascending; each eigenvector's largest-magnitude entry is made positive, so that
    the eigenvectors are a smooth function of A (NumPy's signs are arbitrary)."""
    _square("linalg.eigh", a)
    values, vectors = np.linalg.eigh(_symmetric_part(a))
    if vectors.size:
        negative = vectors.max(axis=-2) < -vectors.min(axis=-2)  # its largest-magnitude entry is negative
        vectors = np.where(negative[..., None, :], -vectors, vectors)
    return values, vectors


def _eigh_vjp(g, out, a):
    """With A V = V diag(w): dw_i = v_i^T dA v_i and dv_j = sum_(i != j) v_i (v_i^T dA v_j) / (w_j - w_i).
    (The sign convention fixes v_j's sign; a real unit vector has no other freedom.) Their adjoint is
    G = V (diag(gw) + F * (V^T gV)) V^T with F_ij = 1 / (w_j - w_i) off the diagonal and 0 on it;
    the gradient is G's symmetric part."""
    gw, gv = g
    w, v = out
    eye = np.eye(w.shape[-1], dtype=w.dtype)
    f = (1 - eye) / (w[..., None, :] - w[..., :, None] + eye)
    inner = gw[..., :, None] * eye + f * (v.mT @ gv)
    grad = v @ inner @ v.mT
    return ((grad + grad.mT) * 0.5,)


# linalg.norm: PyTorch's orders. A vector norm reduces one dim, a matrix norm two (rows, columns).
VECTOR_ORDS = (None, 2, 1, math.inf, -math.inf, 0, 3, -1, 0.5)
MATRIX_ORDS = (None, "fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def _norm_dims(ndim: int, ord, dim) -> tuple[int, ...]:
    """The reduced axes, in the order given (rows before columns for a matrix norm)."""
    if dim is None:
        if ord is not None and ndim not in (1, 2):
            raise OpError(f"linalg.norm: with ord={ord!r} and dim=None the input must be 1-D or 2-D, got {ndim} dims")
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not 1 <= len(dims) <= 2 or ndim == 0:
        raise OpError(f"linalg.norm: dim must name 1 axis (vector norm) or 2 (matrix norm) of the input, got "
                      f"dim={dim} for a tensor with {ndim} dims")
    result = tuple(axes("linalg.norm", (d,), ndim)[0] for d in dims)
    if len(set(result)) != len(result):
        raise OpError(f"linalg.norm: dim {dim} names the same axis twice")
    return result


def _norm(x, ord=None, dim=None, keepdim=False):
    dims = _norm_dims(x.ndim, ord, dim)
    if ord is None or (ord == "fro" and len(dims) == 2):  # the 2-norm of the entries, as one vector
        return vector_norm(x, 2, dims, keepdim)
    if len(dims) == 1 and isinstance(ord, numbers.Real):
        return vector_norm(x, ord, dims, keepdim)
    try:
        return np.linalg.norm(x, ord, dims, keepdim)
    except ValueError:
        kind, ords = ("matrix", MATRIX_ORDS) if len(dims) == 2 else ("vector", "a number, inf or -inf")
        raise OpError(f"linalg.norm: ord={ord!r} is not a {kind} norm (dims {dims} of shape {x.shape}); "
                      f"expected {ords}") from None


def _extreme(values, ord, axis, nan_unshared=0.0):
    """1/count at the entries that attain the max (ord > 0) or min along `axis`, else 0: a tie
    shares the gradient equally, as in PyTorch. A NaN extreme, which no entry equals, leaves
    `nan_unshared` everywhere: 0 in PyTorch's vector norms, NaN in its matrix norms (an amax, whose
    gradient divides by the count of hits, 0)."""
    best = values.max(axis=axis, keepdims=True) if ord > 0 else values.min(axis=axis, keepdims=True)
    hit = values == best
    count = hit.sum(axis=axis, keepdims=True)
    return np.where(count > 0, hit / np.maximum(count, 1), nan_unshared).astype(values.dtype)


def _vector_norm_grad(x, n, ord, dims):
    """d|x|_p / dx = sign(x) |x|^(p-1) / |x|_p^(p-1); for p = +-inf, the sign at the extreme entries.
    Where it reads 0/0 the value is PyTorch's (norm_backward): 0 for a zero vector (its norm is taken
    as 1, its entries are 0), sign(x) for p = 1, and 0 at the zero entries for p < 1. The masks are
    built only where a zero is present."""
    ord = 2 if ord is None else ord
    if ord == 0:
        return np.zeros(x.shape, dtype=x.dtype)  # counts non-zero entries: piecewise constant
    sign = sgn(x.data)  # 0 at NaN, as in PyTorch
    if math.isinf(ord):
        return sign * _extreme(np.abs(x.data), ord, dims)
    if ord == 1:
        return sign
    if ord > 1 and has_zero(n.data):
        n = n + (n.data == 0)  # a zero vector's norm is taken as 1
    if ord == 2:
        return x / n
    scaled = sign * (x * sign) ** (ord - 1)
    if ord > 1:
        return scaled / n ** (ord - 1)
    if has_zero(x.data):
        scaled = where(x.data == 0, 0.0, scaled)  # |x|^(p-1) is inf there
    return scaled * n ** (1 - ord)


def _singular_factor(a: np.ndarray, ord) -> np.ndarray:
    """The derivative of the 2, -2 or nuclear norm of each matrix of `a` by NumPy's SVD: u1 v1^T
    for the largest singular value, un vn^T for the smallest, U V^T for their sum. Tied largest (or
    smallest) values share it equally, as PyTorch's amax over the singular values does (a zero
    matrix's 2-norm gets I / 2 for two rows). Adding 0.0 makes -0.0 entries +0.0: LAPACK reads the
    sign of a zero ([[-0.]] has u v^T = -1), PyTorch's SVD gives +1 there."""
    u, s, vt = np.linalg.svd(a + 0.0, full_matrices=False)
    if ord in (2, -2):
        hit = s == (s[..., :1] if ord == 2 else s[..., -1:])  # NumPy sorts singular values largest first
        return (u * (hit / hit.sum(axis=-1, keepdims=True)).astype(s.dtype)[..., None, :]) @ vt
    return u @ vt


def _matrix_norm_grad(x, ord, rows, cols):
    """1 / inf: the sign of the entries of the largest (smallest) column / row sum. 2, -2 and nuc
    are written with the eigen-decomposition of the smaller Gram matrix, A^T A or A A^T, so that
    they can be differentiated again: with sigma^2 = w and W its eigenvectors, d sigma_max =
    A w w^T / sigma_max (A on the other side for A A^T), and d nuc = A (A^T A)^(-1/2). The Gram
    matrix squares the condition number (in float32 a matrix of condition 600 got the nuclear
    norm's gradient 1% wrong), so the value is the SVD's and the Gram formula, equal to it in
    exact arithmetic, carries only the derivative, built only when a graph is being recorded, and
    in float64 (in float32 a matrix of condition 50 got the -2 norm's second derivative 2% wrong)."""
    if ord in (1, -1, math.inf, -math.inf):
        summed, picked = (rows, cols) if ord in (1, -1) else (cols, rows)
        column_sums = np.abs(x.data).sum(axis=summed, keepdims=True)
        return np.sign(x.data) * _extreme(column_sums, ord, picked, nan_unshared=np.nan)
    order = [i for i in range(x.ndim) if i not in (rows, cols)] + [rows, cols]
    back = tuple(np.argsort(order).tolist())
    a = permute(x, tuple(order))
    value = _singular_factor(a.data, ord)
    if not is_grad_enabled():  # a first-order backward: the formula below would only be thrown away
        return np.transpose(value, back)
    wide = a if a.dtype == np.float64 else a.to(np.float64)  # float32 would lose condition^2 ulps here
    tall = a.shape[-2] >= a.shape[-1]
    w, v = eigh(wide.mT @ wide if tall else wide @ wide.mT)
    if ord == "nuc":
        p = (v * w[..., None, :] ** -0.5) @ v.mT
    else:
        pick = slice(-1, None) if ord == 2 else slice(0, 1)  # the largest or the smallest
        u = v[..., :, pick]
        p = u @ u.mT / w[..., pick, None] ** 0.5
    grad = (wide @ p if tall else p @ wide).to(a.dtype)
    return permute(grad + (value - grad.data), back)  # the SVD's value, the formula's derivative


def _norm_vjp(g, out, x, ord, dim, keepdim):
    dims = _norm_dims(x.ndim, ord, dim)
    if not keepdim:
        shape = keepdim_shape(x.shape, dims)
        g, out = g.reshape(shape), out.reshape(shape)
    if len(dims) != 2 or ord in (None, "fro"):
        return (g * _vector_norm_grad(x, out, 2 if ord == "fro" else ord, dims),)
    return (g * _matrix_norm_grad(x, ord, *dims),)


def _norm_sample(draw):
    shape = draw.shape(min_dims=1, max_dims=3)
    ndim = len(shape)
    kind = draw.choice(("all", "vector", "matrix") if ndim >= 2 else ("all", "vector"))
    if kind == "all":  # dim=None: every entry (ord=None) or, for a 1-D or 2-D input, that norm
        ord = None if ndim > 2 else draw.choice(VECTOR_ORDS if ndim == 1 else MATRIX_ORDS)
        return Example((shape,), {"ord": ord, "dim": None, "keepdim": draw.boolean()})
    if kind == "vector":
        return Example((shape,), {"ord": draw.choice(VECTOR_ORDS), "dim": draw.integer(-ndim, ndim - 1),
                                  "keepdim": draw.boolean()})
    rows, cols = draw.choice(list(itertools.permutations(range(ndim), 2)))
    return Example((shape,), {"ord": draw.choice(MATRIX_ORDS), "dim": (rows - ndim * draw.boolean(), cols),
                              "keepdim": draw.boolean()})


invertible = (Arg("A", structure="invertible"),)
spd = (Arg("A", structure="spd"),)

inv = Op("linalg.inv", _inv, lambda g, out, a: (-(out.mT @ g @ out.mT),), invertible, shapes="(n,n)->(n,n)")
det = Op("linalg.det", _det, _det_vjp, (Arg("A", structure="square"),), shapes="(n,n)->()",
         differences={"gradient": "at a singular matrix Lucid's gradient is the adjugate, det's derivative, which "
                                  "the derivative check verifies there; PyTorch's is 0 (pytorch/pytorch#104675)"})
slogdet = Op("linalg.slogdet", _slogdet, lambda g, out, a: (g[1][..., None, None] * inv(a).mT,), invertible,
             shapes="(n,n)->(),()", outputs=2)  # sign is piecewise constant: only logabsdet has a gradient
solve = Op("linalg.solve", _solve, _solve_vjp, (Arg("A", structure="invertible"), Arg("B")), sample=_solve_sample,
           same_dtype=True)
cholesky = Op("linalg.cholesky", _cholesky, _cholesky_vjp, spd, params=(Param("upper", False, (False, True), "bool"),),
              shapes="(n,n)->(n,n)")
eigh = Op("linalg.eigh", _eigh, _eigh_vjp, spd, shapes="(n,n)->(n),(n,n)", outputs=2, ties=True)
norm = Op("linalg.norm", _norm, _norm_vjp,
          params=(Param("ord", None), Param("dim", None, kind="dims"), Param("keepdim", False, kind="bool")),
          sample=_norm_sample, kinks=(0.0,), ties=True,
          differences={**NORM_AT_ZERO, "evaluation order": "the 2, -2 and nuclear norms come from an SVD: beside an "
                                                           "entry of 1e30 the small singular values are rounding "
                                                           "errors of 1e14, different in each LAPACK"})


@hookimpl
def lucid_ops():
    return [matmul, mm, bmm, dot, outer, einsum, tensordot, trace, diagonal, triu, tril,
            inv, det, slogdet, solve, cholesky, eigh, norm]
