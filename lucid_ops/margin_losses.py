"""The margin and soft-margin losses of `torch.nn.functional` (`lucid.nn.functional`):
soft_margin_loss, hinge_embedding_loss, multilabel_soft_margin_loss, multi_margin_loss.

Each forward is PyTorch's composition (so infinities and NaN come out as there) followed by the
reduction of `lucid_ops.losses`. Targets that only select (hinge's ±1, multi_margin's class
indices) are not differentiated. PyTorch does not differentiate soft_margin_loss's target or
multi_margin_loss's class weights; Lucid does (the oracle leaves those gradients out). Hinges:
hinge_embedding_loss's clamp_min(margin - x, 0) passes the gradient where its argument is exactly 0,
multi_margin_loss's kernel (`z > 0`) does not, as in PyTorch.
"""
import numpy as np

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.activations import logsigmoid
from lucid_ops.arithmetic import where
from lucid_ops.exponential import exp
from lucid_ops.losses import _broadcast, _per_element, _reduce, reduction
from lucid_ops.shape import expand
from lucid_ops.special import sigmoid


def _mean_count(reduction, shape):
    """The gradient reaching each element of an unreduced loss of `shape` (`_per_element`'s rule)."""
    return 1 / max(int(np.prod(shape)), 1) if reduction == "mean" else 1


# --- soft_margin_loss: log(1 + e^(-y x)) -----------------------------------------------------

def _soft_margin_loss(x, t, reduction="mean"):
    name = "nn.functional.soft_margin_loss"
    if _broadcast(name, input=x.shape, target=t.shape) != x.shape:
        raise OpError(f"{name}: target of shape {t.shape} must broadcast to the input's shape {x.shape}")
    return _reduce(np.log1p(np.exp(-x * t)), reduction, name)


def _soft_margin_loss_vjp(g, out, x, t, reduction):
    """-y z / (1 + z) with z = e^(-y x), PyTorch's form (NaN where z overflows, as there); the
    target's slope is -x z / (1 + z)."""
    g = _per_element(g, reduction, x.shape)
    z = exp(-x * t)
    slope = g / (1 + z) * z
    return -slope * t, -slope * x if t.requires_grad else None


def _soft_margin_sample(draw):
    """An input and a target of its shape, or of a shape that broadcasts to it."""
    shape = draw.shape()
    target = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape)):]
    return Example((shape, target))


# --- hinge_embedding_loss: x where y = 1, max(0, margin - x) where y = -1 --------------------

def _hinge_embedding_loss(x, t, margin=1.0, reduction="mean"):
    """PyTorch's composition: a target other than ±1 takes both terms."""
    name = "nn.functional.hinge_embedding_loss"
    _broadcast(name, input=x.shape, target=t.shape)
    loss = np.where(t != 1, np.maximum(margin - x, 0), 0) + np.where(t != -1, x, 0)
    return _reduce(loss.astype(x.dtype, copy=False), reduction, name)


def _hinge_embedding_loss_vjp(g, out, x, t, margin, reduction):
    g = _per_element(g, reduction, np.broadcast_shapes(x.shape, t.shape))
    slope = ((t.data != -1).astype(g.dtype) - ((t.data != 1) & (margin - x.data >= 0))).astype(g.dtype)
    return g * slope, None


def _hinge_embedding_sample(draw):
    """An input and a target of ±1 (any dtype: it only selects), either of which may broadcast
    against the other."""
    shape = draw.shape()
    other = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape)):]
    x_shape, t_shape = (shape, other) if draw.boolean() else (other, shape)
    signs = draw.indices(t_shape, 2) * 2 - 1
    return Example((x_shape, np.asarray(signs, dtype=np.float64 if draw.boolean() else np.int64)))


# --- multilabel_soft_margin_loss: binary cross-entropy with logits, averaged over classes -------

def _multilabel_soft_margin_loss(x, t, weight=None, reduction="mean"):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), times the weight, averaged over the input's
    last dim (of a target with more dims, the same dim counted from the front, as in PyTorch):
    PyTorch's composition, so that 0 * inf is NaN as there."""
    name = "nn.functional.multilabel_soft_margin_loss"
    if x.ndim == 0:
        raise OpError(f"{name}: input must have a class dim (1 or more dims), got a 0-d input")
    _broadcast(name, input=x.shape, target=t.shape, **({} if weight is None else {"weight": weight.shape}))
    loss = t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(axis=x.ndim - 1) / x.shape[-1], reduction, name)


def _multilabel_soft_margin_loss_vjp(g, out, x, t, weight, reduction):
    """Per element, g w / C times: sigmoid(x) - y for the input, written (1 - y) sigmoid(x) -
    y sigmoid(-x) as the composition's chain rule gives it (so an infinite target makes its second
    derivative NaN, as in PyTorch), and log sigmoid(-x) - log sigmoid(x) for the target; the
    weight's slope is the unweighted loss / C."""
    shape = np.broadcast_shapes(x.shape, t.shape, *(() if weight is None else (weight.shape,)))
    classes = x.ndim - 1  # PyTorch's class dim, the input's last: not the last of a target with more dims
    rows = shape[:classes] + shape[classes + 1:]
    g = (g * _mean_count(reduction, rows) / x.shape[-1]).unsqueeze(classes if reduction == "none" else 0)
    gw = g if weight is None else g * weight
    # the target's and the weight's slopes may not involve every input's dims: spread to the loss's shape
    return (gw * ((1 - t) * sigmoid(x) - t * sigmoid(-x)),
            expand(gw * (logsigmoid(-x) - logsigmoid(x)), shape) if t.requires_grad else None,
            expand(g * -(t * logsigmoid(x) + (1 - t) * logsigmoid(-x)), shape)
            if weight is not None and weight.requires_grad else None)


def _multilabel_sample(draw):
    """(C,) or (N, C) logits, targets, and class weights (C,), (N, C) or none, where any of them may
    have 1 for a dim that the others broadcast it along (a (C,) input against (N, C) targets too)."""
    shape = draw.shape(min_dims=1, max_dims=2)

    def some_of(full):
        return tuple(1 if draw.integer(0, 3) == 0 else n for n in full)[draw.integer(0, len(full) - 1):]

    weight = draw.choice((None, shape[-1:], some_of(shape)))
    return Example((some_of(shape), some_of(shape), weight))


# --- multi_margin_loss: sum over i != y of max(0, margin - x_y + x_i)^p, times w_y, over C --------

def _multi_margin_parts(name, x, t, p, weight):
    """x as (N, C) rows, the class indices as (N,), the one-hot mask of the targets, after checking."""
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise OpError(f"{name}: expected an input of shape (C,) or (N, C) with C > 0, got shape {x.shape}")
    if t.shape != x.shape[:-1]:
        raise OpError(f"{name}: target of shape {t.shape} must hold one class per row of the input {x.shape}")
    classes = x.shape[-1]
    if t.size and (t.min() < 0 or t.max() >= classes):
        raise OpError(f"{name}: target holds a class outside [0, {classes}): {t.min()} .. {t.max()}")
    if p not in (1, 2):
        raise OpError(f"{name}: p must be 1 or 2, got {p!r}")
    if weight is not None and weight.shape != (classes,):
        raise OpError(f"{name}: weight of shape {weight.shape} must hold one value per class ({classes},)")
    rows = t.reshape(-1)
    return rows, np.arange(classes) == rows[:, None]


def _multi_margin_loss(x, t, weight=None, p=1, margin=1.0, reduction="mean"):
    """PyTorch's kernel: a class other than the target counts where z = margin - x_y + x_i > 0."""
    name = "nn.functional.multi_margin_loss"
    rows, hot = _multi_margin_parts(name, x, t, p, weight)
    x2 = x.reshape(len(rows), -1)
    z = margin - x2[hot][:, None] + x2
    terms = z ** p if weight is None else z ** p * weight[rows][:, None]
    terms = np.where((z > 0) & ~hot, terms, 0)  # weighted where counted only: an inf weight elsewhere is no NaN
    return _reduce((terms.sum(axis=1) / x.shape[-1]).reshape(t.shape).astype(x.dtype, copy=False), reduction, name)


def _multi_margin_loss_vjp(g, out, x, t, weight, p, margin, reduction):
    """Each counted z_i has slope p z_i^(p-1) w_y / C in x_i and the opposite in x_y; the weight
    w_c collects the unweighted loss of the rows whose target is c."""
    rows, hot = _multi_margin_parts("", x.data, t.data, p, None)  # the forward checked the weight
    x2 = x.reshape(len(rows), x.shape[-1])
    z = x2 - x2[hot].unsqueeze(1) + margin
    counted = (z.data > 0) & ~hot
    g = g * _mean_count(reduction, t.shape) / x.shape[-1]
    g = g.reshape(len(rows), 1) if reduction == "none" else g  # a reduced loss's g is one number
    gw = g if weight is None else g * weight[rows].unsqueeze(1)
    zero = np.zeros((), x.dtype)
    slope = where(counted, gw * (z * 2) if p == 2 else gw.expand(z.shape), zero)
    gx = where(hot, -slope.sum(1, True), slope)
    unweighted = where(counted, z * z if p == 2 else z, zero).sum(1, True)
    return (gx.reshape(x.shape), None,
            where(hot, g * unweighted, zero).sum(0) if weight is not None else None)


def _multi_margin_sample(draw):
    """(C,) scores and one class, or (N, C) and N classes; class weights (C,) or none."""
    shape = draw.shape(min_dims=1, max_dims=2)
    target = np.asarray(draw.indices(shape[:-1], shape[-1]), dtype=np.int64)
    return Example((shape, target, shape[-1:] if draw.boolean() else None))


soft_margin_loss = Op("nn.functional.soft_margin_loss", _soft_margin_loss, _soft_margin_loss_vjp,
                      (Arg("input"), Arg("target", low=-1, high=1)), params=(reduction,), sample=_soft_margin_sample)
hinge_embedding_loss = Op("nn.functional.hinge_embedding_loss", _hinge_embedding_loss, _hinge_embedding_loss_vjp,
                          (Arg("input"), Arg("target", dtype="any")),
                          params=(Param("margin", 1.0, (1.0, 0.5, 0.0), "number"), reduction),
                          sample=_hinge_embedding_sample, kinks=lambda p: (p["margin"],),
                          differences={"summation order": "PyTorch sums the losses in its own order: with -1e30 "
                                                          "and a hinge of 1e30 among them, 1e30 - 1e30 + x comes "
                                                          "out x or 0"})
multilabel_soft_margin_loss = Op("nn.functional.multilabel_soft_margin_loss", _multilabel_soft_margin_loss,
                                 _multilabel_soft_margin_loss_vjp,
                                 (Arg("input"), Arg("target"), Arg("weight", optional=True)), params=(reduction,),
                                 sample=_multilabel_sample, differences={"evaluation order": (
                                     "its second derivative in the input is (1 - y) s'(x) + y s'(-x) (s the "
                                     "sigmoid), terms that cancel for a target of ±1e30: what is left is rounding, "
                                     "of PyTorch's autograd's order or of Lucid's")})

multi_margin_loss = Op("nn.functional.multi_margin_loss", _multi_margin_loss, _multi_margin_loss_vjp,
                       (Arg("input"), Arg("target", dtype="int"), Arg("weight", optional=True)),
                       params=(Param("p", 1, (1, 2), "int"), Param("margin", 1.0, (1.0, 0.5, 0.0), "number"),
                               reduction),
                       sample=_multi_margin_sample, ties=True,
                       # PyTorch's next positional argument is the legacy size_average
                       signature=("input", "target", "p", "margin", "weight", "*", "reduction"),
                       differences={"second order": "PyTorch's multi_margin_loss_backward has no derivative "
                                                    "(not implemented); Lucid's rule is differentiable again",
                                    "summation order": "PyTorch's kernel adds margin - x[y] + x[i] in its own "
                                                       "order: beside ±1e30 or ±1e-30 the hinge comes out 0 or "
                                                       "1"})


@hookimpl
def lucid_ops():
    return [soft_margin_loss, hinge_embedding_loss, multilabel_soft_margin_loss, multi_margin_loss]
