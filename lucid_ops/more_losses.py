"""More losses (`nn.functional`): ranking and embedding losses, and two negative log-likelihoods.

Each is a per-element (or per-pair) loss followed by PyTorch's reduction ('mean', 'sum', 'none'),
as in `lucid_ops.losses`, whose helpers these share. The hinges (margin_ranking_loss,
triplet_margin_loss, cosine_embedding_loss) are PyTorch's clamp_min(..., 0), which passes the
gradient where its argument is exactly 0: so do these. Their formulas are PyTorch's compositions,
so that rounding, infinities and NaN come out as there.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid.tensor import sum_to_shape
from lucid_ops.arithmetic import minimum, sqrt, where
from lucid_ops.exponential import exp, log
from lucid_ops.losses import _per_element, _reduce, reduction
from lucid_ops.reductions import norm
from lucid_ops.shape import expand


def _common_shape(name, **shapes):
    """The shape the named inputs broadcast to, or an error naming them."""
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{role} of shape {shape}" for role, shape in shapes.items())
        raise OpError(f"{name}: {listed} do not broadcast") from None


def _same_ndim(name, **shapes):
    """PyTorch's ranking losses take inputs of one number of dims (they may broadcast within it)."""
    if len({len(s) for s in shapes.values()}) > 1:
        listed = ", ".join(f"{role} {shape}" for role, shape in shapes.items())
        raise OpError(f"{name}: all inputs must have the same number of dims, got shapes {listed}")


def _broadcasting_sample(draw, count):
    """`count` shapes of one number of dims that broadcast together (some sizes 1)."""
    shape = draw.shape()
    return tuple(tuple(1 if draw.integer(0, 3) == 0 else n for n in shape) for _ in range(count))


# --- margin_ranking_loss: max(0, -target (input1 - input2) + margin) ------------------------------

def _margin_ranking_loss(x1, x2, t, margin=0.0, reduction="mean"):
    name = "nn.functional.margin_ranking_loss"
    _same_ndim(name, input1=x1.shape, input2=x2.shape, target=t.shape)
    _common_shape(name, input1=x1.shape, input2=x2.shape, target=t.shape)
    return _reduce(np.maximum(-t * (x1 - x2) + margin, 0), reduction, name)


def _margin_ranking_loss_vjp(g, out, x1, x2, t, margin, reduction):
    shape = _common_shape("", a=x1.shape, b=x2.shape, c=t.shape)
    hinge = -t.data * (x1.data - x2.data) + margin
    gh = where(hinge >= 0, _per_element(g, reduction, shape), 0.0)
    return (-gh * t if x1.requires_grad else None, gh * t if x2.requires_grad else None,
            -gh * (x1 - x2) if t.requires_grad else None)


# --- triplet_margin_loss: max(0, margin + d(a, p) - d(a, n)), d the p-norm distance --------------

def _distance(x1, x2, p, eps):
    """PyTorch's pairwise_distance: the p-norm of x1 - x2 + eps along the last dim."""
    return norm.forward(x1 - x2 + eps, p, -1)


def _triplet_margin_loss(a, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """With swap, the negative's distance is the smaller of its distances to the anchor and to the
    positive (Balntas et al., 2016)."""
    name = "nn.functional.triplet_margin_loss"
    _same_ndim(name, anchor=a.shape, positive=positive.shape, negative=negative.shape)
    _common_shape(name, anchor=a.shape, positive=positive.shape, negative=negative.shape)
    if not margin > 0:
        raise OpError(f"{name}: margin must be greater than 0, got {margin}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (p >= 0 or p == -math.inf):
        raise OpError(f"{name}: p must be a number >= 0, inf or -inf, got {p!r}")
    d_negative = _distance(a, negative, p, eps)
    if swap:
        d_negative = np.minimum(d_negative, _distance(positive, negative, p, eps))
    return _reduce(np.maximum(margin + _distance(a, positive, p, eps) - d_negative, 0), reduction, name)


def _triplet_margin_loss_vjp(g, out, a, positive, negative, margin, p, eps, swap, reduction):
    """Each distance's gradient is norm's, sent back to both of its points; swap's minimum splits
    the gradient at a tie, as PyTorch's does."""
    v_ap, v_an = a - positive + eps, a - negative + eps
    d_ap, d_an = norm(v_ap, p, -1), norm(v_an, p, -1)
    d_negative = d_an
    if swap:
        v_pn = positive - negative + eps
        d_pn = norm(v_pn, p, -1)
        d_negative = minimum(d_an, d_pn)
    hinge = margin + d_ap.data - d_negative.data
    gh = where(hinge >= 0, _per_element(g, reduction, hinge.shape), 0.0)
    gh_an = -gh
    if swap:
        gh_an, gh_pn = minimum.vjp(gh_an, d_negative, d_an, d_pn)
        g_pn, = norm.vjp(sum_to_shape(gh_pn, d_pn.shape), d_pn, v_pn, p, -1, False)
    g_ap, = norm.vjp(sum_to_shape(gh, d_ap.shape), d_ap, v_ap, p, -1, False)
    g_an, = norm.vjp(sum_to_shape(gh_an, d_an.shape), d_an, v_an, p, -1, False)
    # Each difference broadcasts its two points along the vectors' dim too: each part is summed
    # to the shape of its point before the parts are added, so that none is counted twice.
    g_a = sum_to_shape(g_ap, a.shape) + sum_to_shape(g_an, a.shape)
    g_positive, g_negative = -sum_to_shape(g_ap, positive.shape), -sum_to_shape(g_an, negative.shape)
    if swap:
        g_positive = g_positive + sum_to_shape(g_pn, positive.shape)
        g_negative = g_negative - sum_to_shape(g_pn, negative.shape)
    return g_a, g_positive, g_negative


def _triplet_sample(draw):
    return Example(_broadcasting_sample(draw, 3), {"swap": draw.boolean(), "p": draw.choice((2.0, 1.0, 3.0))})


# --- poisson_nll_loss: exp(input) - target input, or input - target log(input + eps) -------------

def _stirling(t):
    """Stirling's approximation of log(target!) for targets above 1 (0 elsewhere), which full=True
    adds, as PyTorch does."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t <= 1, 0, t * np.log(t) - t + 0.5 * np.log(2 * math.pi * t))


def _poisson_nll_loss(x, t, log_input=True, full=False, eps=1e-8, reduction="mean"):
    name = "nn.functional.poisson_nll_loss"
    _common_shape(name, input=x.shape, target=t.shape)
    with np.errstate(divide="ignore", over="ignore"):
        loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    return _reduce(loss + _stirling(t) if full else loss, reduction, name)


def _poisson_nll_loss_vjp(g, out, x, t, log_input, full, eps, reduction):
    """d/dtarget of Stirling's term t log t - t + log(2 pi t) / 2 is log(t) + t/t - 1 + 1/(2t) above 1,
    written as PyTorch's rule has it (NaN at an infinite target), and 0 elsewhere, where PyTorch's
    masked rule still multiplies 0 by it: NaN at a target <= 0, as there."""
    shape = _common_shape("", a=x.shape, b=t.shape)
    g = _per_element(g, reduction, shape)
    gx = gt = None
    if x.requires_grad:
        gx = g * exp(x) - g * t if log_input else g - g * t / (x + eps)
    if t.requires_grad:
        gt = -g * x if log_input else -g * log(x + eps)
        if full:
            gt = gt + where(t.data <= 1, 0.0, g) * (log(t) + t / t - 1 + 0.5 / t)
        gt = expand(gt, shape)
    return gx, gt


def _stirling_jump(params):
    """With full=True the loss jumps where the target crosses 1 (Stirling's term starts there)."""
    return (1.0,) if params["full"] else ()


# --- gaussian_nll_loss: (log(var) + (input - target)² / var) / 2 -----------------------------------

def _var_shape(input_shape, var_shape):
    """The shape var takes against the input, by PyTorch's rules: the input's; one dim short of it
    (a trailing 1 is added); or the input's but for one dim where var has size 1. A 0-d var is one
    variance for all, as PyTorch's float var."""
    name = "nn.functional.gaussian_nll_loss"
    if var_shape in ((), input_shape):
        return var_shape
    if var_shape == input_shape[:-1]:
        return var_shape + (1,)
    if len(var_shape) == len(input_shape) and sum(v for n, v in zip(input_shape, var_shape) if n != v) == 1:
        return var_shape
    raise OpError(f"{name}: var of shape {var_shape} does not fit input of shape {input_shape}: expected the "
                  f"input's shape, that shape without its last dim, or with size 1 in one dim")


def _gaussian_nll_loss(x, t, var, full=False, eps=1e-6, reduction="mean"):
    """var is clamped at eps for stability, as PyTorch does, which hides the clamp from the gradient:
    below eps, var's gradient is the one at eps."""
    name = "nn.functional.gaussian_nll_loss"
    if np.any(var < 0):
        raise OpError(f"{name}: var has negative entries")
    v = np.maximum(var, eps).reshape(_var_shape(x.shape, var.shape))
    _common_shape(name, input=x.shape, target=t.shape, var=v.shape)
    loss = 0.5 * (np.log(v) + (x - t) ** 2 / v)
    return _reduce(loss + 0.5 * math.log(2 * math.pi) if full else loss, reduction, name)


def _gaussian_nll_loss_vjp(g, out, x, t, var, full, eps, reduction):
    v_shape = _var_shape(x.shape, var.shape)
    v = (var + np.where(var.data < eps, eps - var.data, 0)).reshape(v_shape)  # clamped, its slope still 1
    d = x - t
    g = _per_element(g, reduction, np.broadcast_shapes(x.shape, t.shape, v_shape)) * 0.5
    gd = g * 2 * d / v if x.requires_grad or t.requires_grad else None
    gv = None
    if var.requires_grad:
        gv = g / v - g * (d * d / v) / v  # PyTorch's quotient rule: no v * v, whose slope at inf is NaN
        if v_shape != var.shape:  # one dim short of the input: a trailing 1 was added
            gv = gv.sum(-1)
    return gd if x.requires_grad else None, -gd if t.requires_grad else None, gv


def _gaussian_sample(draw):
    shape = draw.shape(min_dims=1)
    var = draw.choice((shape, shape[:-1], (), tuple(1 if i == len(shape) - 1 else n for i, n in enumerate(shape))))
    return Example((shape, shape if draw.boolean() else shape[1:], var))


# --- cosine_embedding_loss: 1 - cos for target 1, max(0, cos - margin) for target -1 --------------

#: What PyTorch adds to each squared norm, so that a zero vector has cosine 0, not 0/0.
SQUARED_NORM_EPSILON = 1e-12


def _pair_dim(x1, x2, t):
    """The dim of the vectors: 1 for a batch (1-D target), 0 for one pair (0-d target)."""
    name = "nn.functional.cosine_embedding_loss"
    if t.ndim > 1:
        raise OpError(f"{name}: expected a 0-d or 1-d target (one per pair), got shape {t.shape}")
    if x1.ndim != t.ndim + 1 or x2.ndim != t.ndim + 1:
        raise OpError(f"{name}: a {t.ndim}-d target expects {t.ndim + 1}-d inputs, got input1 of shape {x1.shape} "
                      f"and input2 of shape {x2.shape}")
    _common_shape(name, input1=x1.shape, input2=x2.shape)
    _common_shape(name, input1=x1.shape[:t.ndim], target=t.shape)
    return t.ndim


def _cosine(x1, x2, dim, root):
    """PyTorch's cosine, sum(x1 x2) / root((|x1|² + 1e-12)(|x2|² + 1e-12)), with `root` NumPy's or
    Lucid's square root; and the two squared norms."""
    m1 = (x1 * x1).sum(dim) + SQUARED_NORM_EPSILON
    m2 = (x2 * x2).sum(dim) + SQUARED_NORM_EPSILON
    return (x1 * x2).sum(dim) / root(m1 * m2), m1, m2


def _cosine_embedding_loss(x1, x2, t, margin=0.0, reduction="mean"):
    """Targets other than 1 and -1 count 0, as in PyTorch."""
    cos = _cosine(x1, x2, _pair_dim(x1, x2, t), np.sqrt)[0]
    loss = np.where(t == 1, 1 - cos, 0) + np.where(t == -1, np.maximum(cos - margin, 0), 0)
    return _reduce(loss, reduction, "nn.functional.cosine_embedding_loss")


def _cosine_embedding_loss_vjp(g, out, x1, x2, t, margin, reduction):
    """d cos/dx1 = x2 / sqrt(m1 m2) - cos x1 / m1, and likewise for x2. The target only selects."""
    dim = _pair_dim(x1.data, x2.data, t.data)
    cos, m1, m2 = _cosine(x1, x2, dim, sqrt)
    g = _per_element(g, reduction, np.broadcast_shapes(cos.shape, t.shape))
    gc = where(t.data == 1, -g, 0.0) + where((t.data == -1) & (cos.data - margin >= 0), g, 0.0)
    gc = gc.unsqueeze(-1)
    cos, denominator = cos.unsqueeze(-1), sqrt(m1 * m2).unsqueeze(-1)
    return (gc * (x2 / denominator - cos * x1 / m1.unsqueeze(-1)) if x1.requires_grad else None,
            gc * (x1 / denominator - cos * x2 / m2.unsqueeze(-1)) if x2.requires_grad else None, None)


def _cosine_embedding_sample(draw):
    """One pair (1-D inputs, 0-d target) or a batch; targets 1 and -1 (class indices, never
    differentiated), and input2 may broadcast along the batch."""
    size = draw.integer(1, 4)
    batch = (draw.integer(1, 3),) if draw.boolean() else ()
    target = np.asarray(draw.indices(batch, 2) * 2 - 1, dtype=np.int64)
    other = (1,) * len(batch) if batch and draw.boolean() else batch
    return Example((batch + (size,), other + (size,), target))


margin = Param("margin", 0.0, (0.0, 0.5), "number")
margin_ranking_loss = Op("nn.functional.margin_ranking_loss", _margin_ranking_loss, _margin_ranking_loss_vjp,
                         (Arg("input1"), Arg("input2"), Arg("target")), params=(margin, reduction),
                         sample=lambda draw: Example(_broadcasting_sample(draw, 3)), ties=True, kinks=(0.0,))
triplet_margin_loss = Op("nn.functional.triplet_margin_loss", _triplet_margin_loss, _triplet_margin_loss_vjp,
                         (Arg("anchor"), Arg("positive"), Arg("negative")),
                         params=(Param("margin", 1.0, (1.0, 0.5), "number"), Param("p", 2.0, (2.0, 1.0, 3.0), "number"),
                                 Param("eps", 1e-6, (1e-6,), "number"), Param("swap", False, (False, True), "bool"),
                                 reduction),
                         sample=_triplet_sample, ties=True)
poisson_nll_loss = Op("nn.functional.poisson_nll_loss", _poisson_nll_loss, _poisson_nll_loss_vjp,
                      (Arg("input", low=0), Arg("target", low=0)),
                      params=(Param("log_input", True, (True, False), "bool"),
                              Param("full", False, (False, True), "bool"), Param("eps", 1e-8, (1e-8,), "number"),
                              reduction),
                      sample=lambda draw: Example(_broadcasting_sample(draw, 2)), kinks=_stirling_jump)
gaussian_nll_loss = Op("nn.functional.gaussian_nll_loss", _gaussian_nll_loss, _gaussian_nll_loss_vjp,
                       (Arg("input"), Arg("target"), Arg("var", low=0)),
                       params=(Param("full", False, (False, True), "bool"), Param("eps", 1e-6, (1e-6,), "number"),
                               reduction),
                       sample=_gaussian_sample,
                       differences={"inputs": "a 0-d var is one variance for all, as PyTorch's float var; PyTorch "
                                              "refuses a 0-d tensor var against an input of 2 or more dims"})
cosine_embedding_loss = Op("nn.functional.cosine_embedding_loss", _cosine_embedding_loss, _cosine_embedding_loss_vjp,
                           (Arg("input1"), Arg("input2"), Arg("target", dtype="any")), params=(margin, reduction),
                           sample=_cosine_embedding_sample, kinks=(0.0,))  # a zero vector: 1e-12 barely smooths it


@hookimpl
def lucid_ops():
    return [margin_ranking_loss, triplet_margin_loss, poisson_nll_loss, gaussian_nll_loss, cosine_embedding_loss]
