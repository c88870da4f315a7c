"""Loss functions (`lucid.nn.functional`), with PyTorch's arguments and reductions.

Every loss is a per-element (or per-sample) loss followed by a reduction: 'none' keeps it, 'sum'
adds it up, 'mean' divides the sum by a count (or, with class weights, by the total weight of the
non-ignored targets, as PyTorch does). A gradient first undoes the reduction (`_per_element`),
then applies the per-element derivative, written with Lucid ops.

cross_entropy and nll_loss are one computation: a loss linear in log-probabilities,
    loss_i = -sum_c w_c q_ic logp_ic,
where q holds the target (one-hot class indices, possibly smoothed, or probabilities). cross_entropy
takes logp = log_softmax(input); nll_loss takes logp = input.

The ranking and embedding losses' hinges (margin_ranking_loss, triplet_margin_loss,
cosine_embedding_loss) are PyTorch's clamp_min(..., 0), which passes the gradient where its
argument is exactly 0: so do these. Their formulas, and the negative log-likelihoods'
(poisson_nll_loss, gaussian_nll_loss), are PyTorch's compositions, so that rounding, infinities
and NaN come out as there.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.special as sp

from lucid import Arg, Example, Op, OpError, Param, Tensor, hookimpl
from lucid.tensor import sum_to_shape
from lucid_ops.arithmetic import minimum, sqrt, where
from lucid_ops.common import PAIRWISE_SUMS, sgn
from lucid_ops.exponential import exp, log
from lucid_ops.nn import log_softmax, log_softmax_backward, softmax_backward
from lucid_ops.reductions import norm
from lucid_ops.shape import expand
from lucid_ops.special import sigmoid, softplus

REDUCTIONS = ("mean", "sum", "none")
reduction = Param("reduction", "mean", REDUCTIONS, "choice")


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return np.mean(loss) if loss.size else np.full((), np.nan, loss.dtype)
    if reduction == "sum":
        return np.sum(loss)
    if reduction == "none":
        return loss
    raise OpError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _per_element(g, reduction, shape):
    """The gradient reaching each element of the unreduced loss (of `shape`)."""
    return g / max(int(np.prod(shape)), 1) if reduction == "mean" else g


def _same_shape(name, x, t):
    if x.shape != t.shape:
        raise OpError(f"{name}: target of shape {t.shape} must have the input's shape {x.shape}")


# --- regression losses -----------------------------------------------------------------------

def _broadcast(name, **shapes):
    """The shape the named inputs' shapes broadcast to, or an error naming each."""
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        *others, last = (f"{role} of shape {shape}" for role, shape in shapes.items())
        raise OpError(f"{name}: {', '.join(others)} and {last} do not broadcast") from None


def _huber(d, delta):
    """0.5 d^2 within delta of 0, then the line delta (|d| - delta/2): Huber's loss."""
    ad = np.abs(d)
    return np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))


def _huber_slope(d, delta):
    """d/dd of _huber, with Lucid ops: d inside, delta * sign(d) outside."""
    inside = np.abs(d.data) < delta
    return where(inside, d, delta * np.sign(d.data).astype(d.dtype))


def _pair_sample(draw):
    """Input and target of one shape, or one broadcasting against the other (PyTorch allows it).
    Drawing shapes here also tells the harness that these ops cannot be batched along a new
    leading axis: 'mean' and 'sum' reduce over every axis, that one included."""
    shape = draw.shape()
    other = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape)):]
    return Example((shape, other) if draw.boolean() else (other, shape))


def _regression_op(name, forward, slope, params=(), differences=None):
    """An elementwise loss that depends on d = input - target only: forward(d) and its slope(d)."""

    def fwd(x, t, reduction="mean", **params):
        _broadcast(name, input=x.shape, target=t.shape)
        return _reduce(forward(x - t, **params), reduction, name)

    def vjp(g, out, x, t, reduction, **params):
        gd = _per_element(g, reduction, np.broadcast_shapes(x.shape, t.shape)) * slope(x - t, **params)
        return gd if x.requires_grad else None, -gd if t.requires_grad else None  # t: mostly a constant

    return Op(name, fwd, vjp, (Arg("input"), Arg("target")), params=(reduction, *params), sample=_pair_sample,
              ties=True, differences=differences or {})


def _l1_slope(d):
    """sgn(d): 0 at d = 0 and where d is NaN (a NaN target, say), as PyTorch's sgn."""
    return sgn(d.data).astype(d.dtype, copy=False)


mse_loss = _regression_op(
    "nn.functional.mse_loss", lambda d: d * d, lambda d: 2 * d,
    differences={"summation order": "the gradient of a broadcast input or target sums 2 (x - t) g / N over the "
                                    "entries it was broadcast to, an unbounded slope: where ±1e30 cancel in that "
                                    "sum, the finite terms survive or vanish by the order of the additions, and "
                                    "PyTorch's vectorized sum pairs the entries its own way"})
l1_loss = _regression_op("nn.functional.l1_loss", np.abs, _l1_slope)
# smooth_l1 with beta is Huber with delta = beta, divided by beta; beta = 0 is l1.
smooth_l1_loss = _regression_op(
    "nn.functional.smooth_l1_loss",
    lambda d, beta: _huber(d, beta) / beta if beta > 0 else np.abs(d),
    lambda d, beta: _huber_slope(d, beta) / beta if beta > 0 else _l1_slope(d),
    (Param("beta", 1.0, (1.0, 0.5, 0.0), "number"),))
huber_loss = _regression_op("nn.functional.huber_loss", _huber, _huber_slope,
                            (Param("delta", 1.0, (1.0, 0.5), "number"),))


# --- binary classification -------------------------------------------------------------------

def _binary_cross_entropy(x, t, weight=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch."""
    name = "nn.functional.binary_cross_entropy"
    _same_shape(name, x, t)
    for role, values in (("input", x), ("target", t)):  # NaN fails both comparisons: refused, as in PyTorch
        if values.size and not (np.min(values) >= 0 and np.max(values) <= 1):
            raise OpError(f"{name}: all elements of {role} should be between 0 and 1")
    with np.errstate(divide="ignore"):
        loss = -(t * np.maximum(np.log(x), -100) + (1 - t) * np.maximum(np.log1p(-x), -100))
    return _reduce(loss if weight is None else loss * weight, reduction, name)


def _binary_cross_entropy_vjp(g, out, x, t, weight, reduction):
    g = _per_element(g, reduction, x.shape)
    gw = g if weight is None else g * weight
    spread = x * (1 - x)  # clamped at 1e-12 as in PyTorch: a saturated x gets a large, finite gradient
    return (gw * (x - t) / where(spread.data > 1e-12, spread, 1e-12) if x.requires_grad else None,
            gw * (log(1 - x) - log(x)) if t.requires_grad else None,
            -g * (t * log(x) + (1 - t) * log(1 - x)) if weight is not None and weight.requires_grad else None)


def _binary_sample(draw):
    shape = draw.shape()
    weight = draw.choice((None, shape, shape[len(shape) - 1:]))
    return Example((shape, shape, weight))


def _binary_cross_entropy_with_logits(x, t, weight=None, pos_weight=None, reduction="mean"):
    """With p = pos_weight: (1 - t) x + (1 + (p - 1) t) softplus(-x), which is
    -(p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) without overflow."""
    name = "nn.functional.binary_cross_entropy_with_logits"
    _same_shape(name, x, t)
    scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    loss = (1 - t) * x + scale * np.logaddexp(0, -x)
    return _reduce(loss if weight is None else loss * weight, reduction, name)


def _binary_cross_entropy_with_logits_vjp(g, out, x, t, weight, pos_weight, reduction):
    """With p = pos_weight and pt = p t: d/dx = (pt + 1 - t) sigmoid(x) - pt and d/dt = p softplus(-x)
    - softplus(x); without, sigmoid(x) - t and -x. These are PyTorch's forms, so that at infinite x
    or p they give its infinities and NaNs (other forms of the same numbers give others), also in
    second order (where the paths through pt add up before p multiplies them)."""
    g = _per_element(g, reduction, x.shape)
    gw = g if weight is None else g * weight
    scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    sp_neg = softplus(-x)
    pt = None if pos_weight is None else pos_weight * t
    gx = gw * (sigmoid(x) - t if pos_weight is None else (pt + 1 - t) * sigmoid(x) - pt) if x.requires_grad else None
    return (gx,
            gw * (-x if pos_weight is None else pos_weight * sp_neg - softplus(x)) if t.requires_grad else None,
            g * ((1 - t) * x + scale * sp_neg) if weight is not None and weight.requires_grad else None,
            gw * t * sp_neg if pos_weight is not None and pos_weight.requires_grad else None)


def _logits_sample(draw):
    shape = draw.shape()
    classes = shape[len(shape) - 1:]
    return Example((shape, shape, draw.choice((None, shape, classes)), draw.choice((None, classes))))


# --- distributions ---------------------------------------------------------------------------

def _kl_div(x, t, reduction="mean", log_target=False):
    """target * (log target - input) pointwise, written xlogy(t, t) - t x as in PyTorch (0 log 0 = 0, and
    inf - inf = NaN at t = x = inf); 'batchmean' divides the sum by the batch size, the true KL
    divergence per sample."""
    name = "nn.functional.kl_div"
    _broadcast(name, input=x.shape, target=t.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.exp(t) * (t - x) if log_target else (sp.xlogy(t, t) - t * x).astype(np.result_type(x, t), copy=False)
    if reduction == "batchmean":
        return np.sum(loss) / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction, name)


def _kl_div_vjp(g, out, x, t, reduction, log_target):
    shape = np.broadcast_shapes(x.shape, t.shape)
    g = g / (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else _per_element(g, reduction, shape)
    g = expand(g, shape)
    p = exp(t) if log_target else t
    gx = -g * p if x.requires_grad else None
    if not t.requires_grad:
        return gx, None
    # Each term's gradient is summed to the target's shape before its next factor, as in PyTorch's
    # composition: beside x = ±1e30 in a broadcast, x's part cancels alone and t's part survives.
    if log_target:  # exp(t) (t - x): at t = x = 1e30 that is 0 * inf = NaN, as PyTorch has it
        return gx, sum_to_shape(g * (t - x), t.shape) * p + sum_to_shape(g * p, t.shape)
    # xlogy(t, t) - t x: xlogy's rule gives log t + t / t, which reads 0/0 = NaN at t = 0, as PyTorch's
    return gx, sum_to_shape(g, t.shape) * (log(t) + t / t) - sum_to_shape(g * x, t.shape)


kl_div = Op("nn.functional.kl_div", _kl_div, _kl_div_vjp, (Arg("input"), Arg("target", low=0)),
            params=(Param("reduction", "mean", REDUCTIONS + ("batchmean",), "choice"),
                    Param("log_target", False, (False, True), "bool")),
            sample=_pair_sample, differences=PAIRWISE_SUMS)


# --- classification: nll_loss and cross_entropy ----------------------------------------------

def _class_dim(name, x):
    """The class dim: 1, or 0 for a single sample of shape (C,)."""
    if x.ndim == 0:
        raise OpError(f"{name}: input must have a class dim, got a 0-d input")
    return 0 if x.ndim == 1 else 1


def _check_indices(name, logp, target, ignore_index, cd):
    """Check class-index targets against the input; returns the mask of those that count."""
    classes = logp.shape[cd]
    expected = logp.shape[:cd] + logp.shape[cd + 1:]
    if target.shape != expected:
        raise OpError(f"{name}: class-index target of shape {target.shape} does not fit input of shape "
                      f"{logp.shape}: expected shape {expected}")
    valid = target != ignore_index
    if (valid & ((target < 0) | (target >= classes))).any():
        raise OpError(f"{name}: class-index target values must lie in [0, {classes}) or equal ignore_index "
                      f"({ignore_index}), got values from {target.min()} to {target.max()}")
    return valid


def _coefficients(name, logp, target, weight, ignore_index, label_smoothing):
    """q (logp's shape): how much each log-probability counts; `chosen`: the one-hot of the
    non-ignored class-index targets (None for probability targets); and the weight shaped to
    broadcast along the class dim (dim 1, or dim 0 for a single sample)."""
    cd = _class_dim(name, logp)
    classes = logp.shape[cd]
    along = (classes,) + (1,) * (logp.ndim - cd - 1)
    if weight is not None and weight.shape != (classes,):
        raise OpError(f"{name}: weight of shape {weight.shape} must have one value per class ({classes},)")
    w = None if weight is None else weight.reshape(along)
    if target.dtype.kind in "fc":  # class probabilities (nll_loss declares integer targets: apply refuses these)
        _same_shape(name, logp, target)
        return target * (1 - label_smoothing) + label_smoothing / classes, None, w
    valid = np.expand_dims(_check_indices(name, logp, target, ignore_index, cd), cd)
    chosen = (np.expand_dims(target, cd) == np.arange(classes).reshape(along)) & valid
    q = (1 - label_smoothing) * chosen + (label_smoothing / classes) * valid
    return q.astype(logp.dtype), chosen.astype(logp.dtype), w


def _weighted(w, q, indices=True):
    """w q (NumPy arrays, or a Tensor w). For class-index targets, 0 wherever q is 0, also against
    an infinite weight: PyTorch picks weight[target], so a class's weight reaches only the samples
    that count it. For probabilities PyTorch multiplies (0 * inf is NaN), and so does this."""
    if w is None or not indices:
        return q if w is None else w * q
    with np.errstate(invalid="ignore"):  # inf * 0, replaced at once
        return where(q != 0, w * q, 0.0) if isinstance(w, Tensor) else np.where(q != 0, w * q, 0)


def _logp_loss(name, logp, target, weight, ignore_index, reduction, label_smoothing):
    q, chosen, w = _coefficients(name, logp, target, weight, ignore_index, label_smoothing)
    wq = _weighted(w, q, chosen is not None)
    with np.errstate(invalid="ignore"):  # 0 * -inf is NaN, in PyTorch too
        terms = wq * logp
    if chosen is not None:  # PyTorch picks logp[target]: a -inf elsewhere does not count, a class weight 0 does
        terms = np.where(q != 0, terms, 0)
    loss = -np.sum(terms, axis=_class_dim(name, logp))
    if reduction == "mean" and chosen is not None:  # weighs 0 in all: the targets' part is 0/0, NaN as in PyTorch
        total = np.sum(_weighted(w, chosen))
        return np.sum(loss) / total if total else np.full((), np.nan, logp.dtype)
    return _reduce(loss, reduction, name)


def _logp_loss_vjp(name, g, out, logp, target, weight, ignore_index, reduction, label_smoothing):
    """The gradients of the loss with respect to logp, target and weight. With class weights and
    'mean', the divisor is the total weight of the targets, so the weight's gradient has a second
    term: d(S/W)/dw = (dS/dw - out dW/dw) / W."""
    q, chosen, w = _coefficients(name, logp.data, target if target.dtype.kind in "fc" else target.data,
                                 weight, ignore_index, label_smoothing)
    cd = 0 if logp.ndim == 1 else 1
    if reduction == "none":
        g = g.reshape(np.expand_dims(out.data, cd).shape)
    elif reduction == "mean":
        if chosen is None:
            g = g / max(logp.data.size // logp.shape[cd], 1)
        else:  # the total weight of the targets; 0 when all are ignored (or weigh 0): then nothing counts
            total = _weighted(w, chosen).sum()
            g = g / total if total else g * 0.0
    g_logp = -g * _weighted(w, q, chosen is not None)
    if chosen is not None:  # only the entries that count get a gradient, even a NaN g (a NaN total weight)
        g_logp = where(q != 0, g_logp, 0.0)
    g_target = g_weight = None
    if chosen is None and target.requires_grad:
        g_target = -(1 - label_smoothing) * g * (logp if w is None else w * logp)
    if weight is not None and weight.requires_grad:
        g_weight = _weight_gradient(g, out, logp, q, chosen, w, reduction).to(weight.dtype)
    return g_logp, g_target, g_weight


def _weight_gradient(g, out, logp, q, chosen, w, reduction):
    """The class weights' gradient: Σ g (-q logp), less out per counted target with 'mean'. There
    the terms -logp - out cancel (where every target has one class the gradient is exactly 0), and
    in float32 they would leave a rounding of |logp| / W, larger than many a true gradient. So a
    float32 input's is taken in float64, out recomputed there too (the caller rounds it once)."""
    mean = reduction == "mean" and chosen is not None
    if logp.dtype == np.float32:
        logp, w = logp.to(np.float64), w.to(np.float64)
        if mean:  # out's own float32 rounding is as large as what the cancellation leaves
            chosen = chosen.astype(np.float64)  # a 0-d out times a float32 array is float32 (PyTorch's rule)
            out = -where(q != 0, _weighted(w, q) * logp, 0.0).sum() / _weighted(w, chosen).sum()
    terms = -q * logp - out * chosen if mean else -q * logp
    cd = 0 if logp.ndim == 1 else 1
    return (g * terms).sum(tuple(a for a in range(logp.ndim) if a != cd))


def _check_smoothing(name, label_smoothing):
    if not 0 <= label_smoothing <= 1:
        raise OpError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")


def _plain(target, weight, label_smoothing) -> bool:
    """The usual case, which has a lean path: class-index targets, no class weights, no smoothing."""
    return target.dtype.kind in "iu" and weight is None and label_smoothing == 0


def _picked(x, target, valid, count):
    """The index in x of each target's value; ignored targets (when fewer than all, `count`, are
    valid) point at class 0."""
    key = np.indices(target.shape, sparse=True)
    cd = 0 if x.ndim == 1 else 1
    return (*key[:cd], target if count == target.size else np.where(valid, target, 0), *key[cd:])


def _cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The loss, and softmax(x) as a residual: the gradient is made of it."""
    name = "nn.functional.cross_entropy"
    _check_smoothing(name, label_smoothing)
    cd = _class_dim(name, x)
    if _plain(target, weight, label_smoothing):  # -log softmax(x)[t] = log Σ e^x - x[t]: no full log_softmax
        valid = _check_indices(name, x, target, ignore_index, cd)
        count = int(np.count_nonzero(valid))  # a Python int, which keeps float32 float32
        shifted = x - x.max(axis=cd, keepdims=True, initial=-np.inf)
        probs = np.exp(shifted)
        total = probs.sum(axis=cd, keepdims=True)
        loss = np.log(np.squeeze(total, cd)) - shifted[_picked(x, target, valid, count)]
        if count < valid.size:
            loss = np.where(valid, loss, 0)
        probs /= total
        if reduction == "mean":
            return loss.sum() / count, probs
        return _reduce(loss, reduction, name), probs
    logp = log_softmax.forward(x, cd)
    return _logp_loss(name, logp, target, weight, ignore_index, reduction, label_smoothing), np.exp(logp)


def _cross_entropy_vjp(g, out, x, target, weight, ignore_index, reduction, label_smoothing):
    """In the usual case (`_plain`) one fused op, `cross_entropy_backward`, computes the gradient from
    the forward's residual softmax(x). Otherwise g goes through log_softmax, recomputed with Lucid ops
    (so that the gradient depends on x where a second derivative needs it)."""
    (g, g_probs), (out, probs) = g, out
    cd = 0 if x.ndim == 1 else 1
    g_target = g_weight = None
    if _plain(target, weight, label_smoothing):
        gx = cross_entropy_backward(g, probs, target, ignore_index=ignore_index, reduction=reduction)
    else:
        logp = log_softmax(x, cd)
        g_logp, g_target, g_weight = _logp_loss_vjp("nn.functional.cross_entropy", g, out, logp, target, weight,
                                                    ignore_index, reduction, label_smoothing)
        gx = log_softmax_backward(g_logp, logp, cd)
    if g_probs is not None:  # only a second-order backward that went through the residual sends it a gradient
        gx = gx + softmax_backward(g_probs, probs, cd)
    return gx, g_target, g_weight


def _along(probs):
    """The shape of one value per target, spread along the class dim (dim 1, or 0 for one sample)."""
    cd = _class_dim("cross_entropy_backward", probs)
    return probs.shape[:cd] + (1,) + probs.shape[cd + 1:]


def _cross_entropy_backward(g, probs, target, ignore_index=-100, reduction="mean"):
    """(probs - one_hot(target)) g for the targets that count (zero for the ignored ones), with probs
    = softmax(x), for class-index targets. One fresh buffer: probs times g, then the one-hot part
    subtracted where it is 1 (an (N, C) one-hot and two temporaries of its size cost more). The
    targets are checked again: called on its own, a target of -1 would pick the last class."""
    name = "cross_entropy_backward"
    valid = _check_indices(name, probs, target, ignore_index, _class_dim(name, probs))
    count = int(np.count_nonzero(valid))
    if reduction == "mean":
        g = g / max(count, 1)  # no valid target: every row is zeroed below, as in PyTorch
    gx = probs * (g.reshape(_along(probs)) if reduction == "none" else g)
    gx[_picked(probs, target, valid, count)] -= g
    if count < valid.size:
        gx *= valid.reshape(_along(probs))
    return gx


def _cross_entropy_backward_vjp(gg, _, g, probs, target, ignore_index, reduction):
    """The result is linear in g and affine in probs. d/dprobs: gg times each target's share of g;
    d/dg: gg against the result for g = 1, summed over the classes (and the batch, unless 'none')."""
    along = _along(probs)
    g_probs = g_g = None
    if probs.requires_grad:
        valid = (target.data != ignore_index).reshape(along)
        share = (valid / (max(valid.sum(), 1) if reduction == "mean" else 1)).astype(probs.dtype)
        g_probs = gg * (g.reshape(along) if reduction == "none" else g) * share
    if g.requires_grad:
        terms = gg * cross_entropy_backward(np.ones(g.shape, g.dtype), probs, target, ignore_index=ignore_index,
                                            reduction=reduction)
        g_g = terms.sum(_class_dim("cross_entropy_backward", probs)) if reduction == "none" else terms.sum()
    return g_g, g_probs, None


def _cross_entropy_backward_sample(draw):
    """cross_entropy's class-index examples, with g shaped like the loss for a drawn reduction."""
    example = _class_sample(draw, probabilities_allowed=False)
    shape, target, _ = example.inputs
    reduction = draw.choice(REDUCTIONS)
    g_shape = target.shape if reduction == "none" else ()
    return Example((g_shape, shape, target), {**example.params, "reduction": reduction})


def _nll_loss(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    return _logp_loss("nn.functional.nll_loss", logp, target, weight, ignore_index, reduction, 0.0)


def _nll_loss_vjp(g, out, logp, target, weight, ignore_index, reduction):
    return _logp_loss_vjp("nn.functional.nll_loss", g, out, logp, target, weight, ignore_index, reduction, 0.0)


def _class_sample(draw, probabilities_allowed=True):
    """(C,) with a 0-d target, (N, C), (N, C, d1) or (N, C, d1, d2): class indices (some set to
    ignore_index, but never all, so that 'mean' is defined) or, for cross_entropy, probabilities."""
    classes = draw.integer(1, 4)
    batch = tuple(draw.integer(1, 3) for _ in range(draw.integer(0, 3)))
    shape = batch[:1] + (classes,) + batch[1:]
    weight = (classes,) if draw.boolean() else None
    if probabilities_allowed and draw.integer(0, 2) == 0:
        return Example((shape, shape, weight), {"label_smoothing": draw.choice((0.0, 0.2))})
    target = draw.indices(batch, classes)
    ignore_index = draw.choice((-100, 1))
    ignored = draw.mask(batch) if batch else np.zeros((), bool)
    ignored.flat[0] = False
    target = np.where(ignored, ignore_index, target)
    if target.flat[0] == ignore_index:
        target.flat[0] = 0
    params = {"ignore_index": ignore_index}
    if probabilities_allowed:
        params["label_smoothing"] = draw.choice((0.0, 0.2))
    return Example((shape, np.asarray(target, dtype=np.int64), weight), params)


ZERO_TOTAL_WEIGHT = ("when the valid targets' class weights are all 0, the 'mean' loss is 0/0 = NaN in both, "
                     "PyTorch's gradient NaN on their rows and Lucid's 0: nothing counts, so nothing moves")
cross_entropy = Op("nn.functional.cross_entropy", _cross_entropy, _cross_entropy_vjp,
                   (Arg("input"), Arg("target", low=0, high=1, dtype="any", promoted=False),
                    Arg("weight", low=0, optional=True)),
                   params=(Param("ignore_index", -100, (-100,), "int"), reduction,
                           Param("label_smoothing", 0.0, (0.0, 0.2), "number")),
                   sample=_class_sample, residuals=1,
                   differences={"nan gradient": ZERO_TOTAL_WEIGHT,
                                "evaluation order": "with label smoothing, PyTorch multiplies an ignored row's 0 by "
                                                    "an infinite class weight (NaN); Lucid leaves the row out (0)"})
nll_loss = Op("nn.functional.nll_loss", _nll_loss, _nll_loss_vjp,
              (Arg("input"), Arg("target", dtype="int"), Arg("weight", low=0, optional=True)),
              params=(Param("ignore_index", -100, (-100,), "int"), reduction),
              sample=lambda draw: _class_sample(draw, probabilities_allowed=False),
              differences={"nan gradient": ZERO_TOTAL_WEIGHT,
                           "summation order": "PyTorch adds the picked entries in an order of its own (NumPy "
                                              "pairwise): 1e30 - 1e30 + x within one loss comes out x or 0"},
              same_dtype=True)
# cross_entropy's rule in the usual case is an op of its own, as PyTorch fuses it: one op call in a
# backward, and a derivative, for second order, that the harness verifies like any other.
cross_entropy_backward = Op("cross_entropy_backward", _cross_entropy_backward, _cross_entropy_backward_vjp,
                            (Arg("grad"), Arg("probs", low=0, high=1), Arg("target", dtype="int")),
                            params=(Param("ignore_index", -100, (-100,), "int"), reduction),
                            sample=_cross_entropy_backward_sample)
binary_cross_entropy = Op("nn.functional.binary_cross_entropy", _binary_cross_entropy, _binary_cross_entropy_vjp,
                          (Arg("input", low=0, high=1), Arg("target", low=0, high=1), Arg("weight", optional=True)),
                          params=(reduction,), sample=_binary_sample,
                          differences={"summation order": "PyTorch adds the weighted losses in its own order: "
                                                          "with weights of 1e30 and -1e30 the mean of the rest "
                                                          "comes out of 1e30 - 1e30 + x as x or 0",
                                       "second order": "PyTorch's second derivative in x is its own formula with "
                                                       "eps = 1e-12 added to x and 1 - x, not the derivative of its "
                                                       "first-order rule (x - t) / max(x (1 - x), 1e-12); Lucid "
                                                       "differentiates that rule, so the two differ within about 1e-5 "
                                                       "of 0 and 1"}, same_dtype=True)
binary_cross_entropy_with_logits = Op(
    "nn.functional.binary_cross_entropy_with_logits", _binary_cross_entropy_with_logits,
    _binary_cross_entropy_with_logits_vjp,
    (Arg("input"), Arg("target", low=0, high=1), Arg("weight", optional=True), Arg("pos_weight", optional=True)),
    params=(reduction,), sample=_logits_sample)

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
    _broadcast(name, input1=x1.shape, input2=x2.shape, target=t.shape)
    return _reduce(np.maximum(-t * (x1 - x2) + margin, 0), reduction, name)


def _margin_ranking_loss_vjp(g, out, x1, x2, t, margin, reduction):
    shape = np.broadcast_shapes(x1.shape, x2.shape, t.shape)
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
    _broadcast(name, anchor=a.shape, positive=positive.shape, negative=negative.shape)
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
    """Broadcasting triplets; for the oracle also ones on the hinge's kink, where PyTorch's clamp_min
    passes the gradient: anchor and positive at 0, the negative `margin` below, so that margin +
    d(a, p) - d(a, n) is (margin + eps) - (margin + eps), exactly 0 for the 1- and 2-norm of one entry."""
    if draw.edges and draw.boolean():
        margin, batch = draw.choice((1.0, 0.5)), (draw.integer(1, 3), 1)
        return Example((np.zeros(batch), np.zeros(batch), np.full(batch, -margin)),
                       {"margin": margin, "swap": draw.boolean(), "p": draw.choice((2.0, 1.0))})
    return Example(_broadcasting_sample(draw, 3), {"swap": draw.boolean(), "p": draw.choice((2.0, 1.0, 3.0))})


# --- poisson_nll_loss: exp(input) - target input, or input - target log(input + eps) -------------

def _stirling(t):
    """Stirling's approximation of log(target!) for targets above 1 (0 elsewhere), which full=True
    adds, as PyTorch does."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t <= 1, 0, t * np.log(t) - t + 0.5 * np.log(2 * math.pi * t))


def _poisson_nll_loss(x, t, log_input=True, full=False, eps=1e-8, reduction="mean"):
    name = "nn.functional.poisson_nll_loss"
    _broadcast(name, input=x.shape, target=t.shape)
    with np.errstate(divide="ignore", over="ignore"):
        loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    return _reduce(loss + _stirling(t) if full else loss, reduction, name)


def _poisson_nll_loss_vjp(g, out, x, t, log_input, full, eps, reduction):
    """d/dtarget of Stirling's term t log t - t + log(2 pi t) / 2 is log(t) + t/t - 1 + 1/(2t) above 1,
    written as PyTorch's rule has it (NaN at an infinite target), and 0 elsewhere, where PyTorch's
    masked rule still multiplies 0 by it: NaN at a target <= 0, as there."""
    shape = np.broadcast_shapes(x.shape, t.shape)
    g = expand(_per_element(g, reduction, shape), shape)
    gx = gt = None
    if x.requires_grad:
        # Each term's gradient is summed to the input's shape before it meets exp(x) or 1/(x + eps), as in
        # PyTorch's composition: where exp(x) = inf that gives inf * (g1 + g2), not inf * g1 + inf * g2 = NaN.
        g_sum, gt_sum = sum_to_shape(g, x.shape), sum_to_shape(g * t, x.shape)
        gx = g_sum * exp(x) - gt_sum if log_input else g_sum - gt_sum / (x + eps)
    if t.requires_grad:
        gt = -g * x if log_input else -g * log(x + eps)
        if full:
            gt = gt + where(t.data <= 1, 0.0, g) * (log(t) + t / t - 1 + 0.5 / t)
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
    _broadcast(name, input=x.shape, target=t.shape, var=v.shape)
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
    """The input's shape; a target of that shape, of fewer dims, or of one more (the input then
    broadcasts, and a 'mean' counts the target's entries); a var of each shape PyTorch takes."""
    shape = draw.shape(min_dims=1)
    var = draw.choice((shape, shape[:-1], (), tuple(1 if i == len(shape) - 1 else n for i, n in enumerate(shape))))
    return Example((shape, draw.choice((shape, shape[1:], (2, *shape))), var))


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
    _broadcast(name, input1=x1.shape, input2=x2.shape)
    _broadcast(name, input1=x1.shape[:t.ndim], target=t.shape)
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
    differentiated), and either input, or both, may broadcast along the batch."""
    size = draw.integer(1, 4)
    batch = (draw.integer(1, 3),) if draw.boolean() else ()
    target = np.asarray(draw.indices(batch, 2) * 2 - 1, dtype=np.int64)
    shapes = [batch + (size,), batch + (size,)]
    for i in draw.choice(((), (0,), (1,), (0, 1))) if batch else ():  # the inputs of batch 1
        shapes[i] = (1, size)
    return Example((*shapes, target))


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
    return [mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
            kl_div, nll_loss, cross_entropy, cross_entropy_backward, margin_ranking_loss, triplet_margin_loss,
            poisson_nll_loss, gaussian_nll_loss, cosine_embedding_loss]
