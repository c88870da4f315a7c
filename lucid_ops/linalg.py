"""Linear algebra: matrix products and the `lucid.linalg` functions."""
import numpy as np

from lucid import Arg, Op, hookimpl


def _matmul_vjp(g, out, a, b):
    """matmul reads a 1-D `a` as a row and a 1-D `b` as a column: do the same, then
    ga = g @ b^T and gb = a^T @ g, and drop the added axis again. The engine sums away
    broadcast batch axes."""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    g2 = g.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    ga = gb = None
    if a.requires_grad:
        ga = matmul(g2, b2.mT)
        ga = ga[..., 0, :] if a.ndim == 1 else ga
    if b.requires_grad:
        gb = matmul(a2.mT, g2)
        gb = gb[..., 0] if b.ndim == 1 else gb
    return ga, gb


matmul = Op("matmul", np.matmul, _matmul_vjp, (Arg("input"), Arg("other")), shapes="(m?,n),(n,p?)->(m?,p?)")


@hookimpl
def lucid_ops():
    return [matmul]
