"""Neural-network functions (`lucid.nn.functional`): softmax and softmin, glu, prelu, linear,
normalization, embedding, dropout, pixel shuffling.

Forwards are plain NumPy; every gradient is written with Lucid ops, so each op can be differentiated
twice. The normalizations share one idea: the gradient through `xhat = (x - mean) / std` is `g` with
its mean and its component along `xhat` removed, scaled by 1/std (`_standardize_grad`).
group_norm is layer_norm over groups of channels, instance_norm batch_norm over each sample alone.

softmin is softmax(-x) in PyTorch, and its rule softmax's, negated. glu gates one half of its input
by the sigmoid of the other. prelu's slope at 0 is the weight's (PyTorch's `x > 0 ? g : w g`).

pixel_shuffle and pixel_unshuffle move values between channels and space without changing any:
each is the other's inverse and, being a permutation, the other's transpose, so each one's rule
is the other op.
"""
from __future__ import annotations

import numbers

import numpy as np
import scipy.special as sp

from lucid import Arg, Example, Op, OpError, Param, generator, hookimpl
from lucid.op import axes, one_axis
from lucid.op import dim as one_dim
from lucid.inplace import change as change_in_place
from lucid.tensor import apply
from lucid_ops.arithmetic import abs as absolute, sqrt, where
from lucid_ops.common import NORM_AT_ZERO, SUMMATION_ORDER, has_zero, keepdim_shape, reusing, vector_norm
from lucid_ops.exponential import exp
from lucid_ops.shape import cat, chunk, expand, index_backward
from lucid_ops.special import sigmoid, sigmoid_backward


# --- softmax and log_softmax -----------------------------------------------------------------

def _axis(x, dim, name):
    """The one axis a softmax `dim` names; none for a 0-d x (which takes dim 0 or -1, as in PyTorch)."""
    axis = one_axis(name, dim, x.ndim)
    return axis if x.ndim else ()


def _shifted(x, a):
    """x minus its max along axis a, so that exp cannot overflow (ndarray methods: np.max is slower).
    A new array, even for a 0-d x (where NumPy gives a scalar), so that the caller can write into it."""
    return np.asarray(x - x.max(axis=a, keepdims=True, initial=-np.inf))


# Forwards and backwards below write into the one fresh array they made: each runs on every
# training step, and large temporaries cost as much as the arithmetic.
def _softmax(x, dim):
    a = _axis(x, dim, "nn.functional.softmax")
    e = _shifted(x, a)
    np.exp(e, out=e)
    e /= e.sum(axis=a, keepdims=True)
    return e


def _log_softmax(x, dim):
    a = _axis(x, dim, "nn.functional.log_softmax")
    s = _shifted(x, a)
    with np.errstate(divide="ignore"):  # log(0) only for an empty dim, whose result is empty
        s -= np.log(np.exp(s).sum(axis=a, keepdims=True))
    return s


def _softmax_backward(g, out, dim):
    """out (g - Σ g out): the part of g along the probability simplex, weighted by out."""
    gout = g * out
    gout -= out * gout.sum(axis=_axis(out, dim, "softmax_backward"), keepdims=True)
    return gout


def _softmax_backward_vjp(gg, _, g, out, dim):
    """The map g -> out (g - Σ g out) is self-adjoint, so its gradient in g is itself."""
    s, t = (g * out).sum(dim, keepdim=True), (gg * out).sum(dim, keepdim=True)
    return softmax_backward(gg, out, dim), gg * (g - s) - g * t


def _log_softmax_backward(g, out, dim):
    """g - softmax Σ g, with softmax = exp(out), in one buffer (`reusing`)."""
    total = g.sum(axis=_axis(out, dim, "log_softmax_backward"), keepdims=True)
    softmax = np.exp(out, out=np.empty_like(out))  # an array even when out is 0-d
    weighted = reusing(softmax, np.multiply, softmax, total)
    return reusing(weighted, np.subtract, g, weighted)


def _log_softmax_backward_vjp(gg, _, g, out, dim):
    p = exp(out)
    return gg - (gg * p).sum(dim, keepdim=True), -gg * p * g.sum(dim, keepdim=True)


def _backward_sample(draw):
    """The gradient and the output it flows through have one shape, as in a backward."""
    shape = draw.shape()
    return Example((shape, shape), {"dim": draw.choice(one_dim([shape]))})


# The rules are ops of their own, as PyTorch's _softmax_backward_data: one op call in a backward
# instead of four, and a derivative, for second order, verified like any other op's.
softmax_backward = Op("softmax_backward", _softmax_backward, _softmax_backward_vjp,
                      (Arg("grad"), Arg("output", low=0, high=1)), params=(Param("dim", kind="dim"),),
                      sample=_backward_sample, differences=SUMMATION_ORDER)  # Σ g out, in PyTorch with FMAs
log_softmax_backward = Op("log_softmax_backward", _log_softmax_backward, _log_softmax_backward_vjp,
                          (Arg("grad"), Arg("output", high=0)), params=(Param("dim", kind="dim"),),
                          sample=_backward_sample)
softmax = Op("nn.functional.softmax", _softmax, lambda g, out, x, dim: (softmax_backward(g, out, dim),),
             params=(Param("dim", choices=one_dim, kind="dim"),))
log_softmax = Op("nn.functional.log_softmax", _log_softmax,
                 lambda g, out, x, dim: (log_softmax_backward(g, out, dim),),
                 params=(Param("dim", choices=one_dim, kind="dim"),))


# --- softmin: softmax(-x), its rule softmax's negated ------------------------------------

def _softmin(x, dim):
    one_axis("nn.functional.softmin", dim, x.ndim)  # so that a bad dim is reported as softmin's
    return softmax.forward(-x, dim)


softmin = Op("nn.functional.softmin", _softmin,
             lambda g, out, x, dim: (-softmax_backward(g, out, dim),),
             params=(Param("dim", choices=one_dim, kind="dim"),))


# --- glu: a * sigmoid(b), with a and b the halves of the input along dim -------------------------

def _halved_axis(x, dim):
    """The axis glu halves, which must have an even size."""
    if x.ndim == 0:
        raise OpError("nn.functional.glu: a 0-d input has no dim to halve (expected at least 1 dim)")
    axis = one_axis("nn.functional.glu", dim, x.ndim)
    if x.shape[axis] % 2:
        raise OpError(f"nn.functional.glu: halving dimension must be even, but dim {dim} of the input of shape "
                      f"{x.shape} has size {x.shape[axis]}")
    return axis


def _glu(x, dim=-1):
    a, b = np.split(x, 2, axis=_halved_axis(x, dim))
    return a * sp.expit(b)


def _glu_vjp(g, out, x, dim):
    """d/da = sigmoid(b), d/db = a sigmoid(b) (1 - sigmoid(b)): PyTorch's glu_backward. The slope
    of sigmoid is its fused rule, so that a second derivative multiplies g a last, as PyTorch's
    does: at an infinite a it is ±inf there, where expanding s (1 - s) would give inf - inf."""
    a, b = chunk(x, 2, dim)
    s = sigmoid(b)
    return (cat([g * s, sigmoid_backward(g * a, s)], dim),)


def _glu_sample(draw):
    """Halves of up to 3 along dim: 2 and 4 are also split in two by chunks of 3, 6 is not."""
    shape = list(draw.shape(min_dims=1))
    dim = draw.integer(-len(shape), len(shape) - 1)
    shape[dim] = 2 * draw.integer(1, 3)
    return Example((tuple(shape),), {"dim": dim})


glu = Op("nn.functional.glu", _glu, _glu_vjp, params=(Param("dim", -1, one_dim, "dim"),), sample=_glu_sample)


# --- prelu: x above 0, weight * x below, with one weight or one per channel (dim 1) --------------

def _along_channels(x, weight):
    """The shape that spreads `weight` over x: its one value everywhere, or one value per channel."""
    if weight.ndim > 1:
        raise OpError(f"nn.functional.prelu: weight must be a scalar or 1-D, got shape {weight.shape}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.size not in (1, channels):
        raise OpError(f"nn.functional.prelu: weight of shape {weight.shape} does not fit input of shape {x.shape}: "
                      f"expected 1 parameter or one per channel ({channels}, dim 1)")
    return tuple(channels if i == 1 and weight.size != 1 else 1 for i in range(x.ndim))


def _prelu(x, weight):
    return np.where(x > 0, x, weight.reshape(_along_channels(x, weight)) * x)


def _prelu_vjp(g, out, x, weight):
    """d/dx = 1 above 0, the weight elsewhere; d/dweight = x below 0, summed over everything but the
    channels. At 0 PyTorch's slope is the weight's (`x > 0 ? g : w g`) while its second-order rules
    mask with `x >= 0`: the rule is written with that mask, and at 0 its value moved to w g by a
    constant, which keeps the derivatives of the `x >= 0` side."""
    w = weight.reshape(_along_channels(x.data, weight.data))
    at_or_above = x.data >= 0
    gx = gw = None
    if x.requires_grad:
        gx = where(at_or_above, g, g * w)
        if has_zero(x.data):
            gx = gx + where(x.data == 0, (g * w - g).data, 0.0)
    if weight.requires_grad:
        summed = tuple(i for i, n in enumerate(w.shape) if n == 1)
        gw = where(at_or_above, 0.0, g * x).sum(summed, keepdim=True).reshape(weight.shape)
    return gx, gw


def _prelu_sample(draw):
    """One weight or one per channel; for the oracle also the weight 0 (relu) on an input with 0 and
    negative entries, where the correction at the kink must leave the negative side's w g = 0 alone."""
    shape = draw.shape()
    channels = shape[1] if len(shape) >= 2 else 1
    weight = draw.choice(((), (1,), (channels,)))
    if draw.edges and draw.boolean():
        return Example((np.resize(np.array([0.0, -1.5, 2.0]), shape), np.zeros(weight)))
    return Example((shape, weight))


prelu = Op("nn.functional.prelu", _prelu, _prelu_vjp, (Arg("input"), Arg("weight")), sample=_prelu_sample,
           kinks=(0.0,), same_dtype=True)


# --- linear ----------------------------------------------------------------------------------

def _linear(x, weight, bias=None):
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise OpError(f"nn.functional.linear: input of shape {x.shape} does not fit weight of shape "
                      f"{weight.shape}: expected a 2-D weight (out_features, in_features) and an input whose "
                      f"last dim is in_features")
    if bias is not None and bias.shape not in ((), (weight.shape[0],)):
        raise OpError(f"nn.functional.linear: bias of shape {bias.shape} does not match weight of shape "
                      f"{weight.shape}: expected ({weight.shape[0]},)")
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out


def _linear_vjp(g, out, x, weight, bias):
    """y = x W^T + b: gx = g W, gW = g^T x summed over the batch, gb = g (the engine sums the batch)."""
    n_out, n_in = weight.shape
    gw = None
    if weight.requires_grad:  # flatten the batch, unless it is flat already (the usual (N, in) input)
        gw = g.mT @ x if x.ndim == 2 else g.reshape(-1, n_out).mT @ x.reshape(-1, n_in)
    return g @ weight if x.requires_grad else None, gw, g if bias is not None else None


def _linear_sample(draw):
    n_in, n_out = draw.integer(1, 4), draw.integer(1, 4)
    batch = draw.shape(min_dims=0, max_dims=2)
    return Example((batch + (n_in,), (n_out, n_in), (n_out,) if draw.boolean() else None))


linear = Op("nn.functional.linear", _linear, _linear_vjp,
            (Arg("input"), Arg("weight"), Arg("bias", optional=True)), sample=_linear_sample,
            differences=SUMMATION_ORDER, same_dtype=True)


# --- layer_norm and batch_norm ---------------------------------------------------------------

def _standardized(x, a, eps):
    """(x - mean) / sqrt(var + eps) over axes a, and 1 / sqrt(var + eps), as Lucid tensors."""
    centered = x - x.mean(a, keepdim=True)
    rstd = ((centered * centered).mean(a, keepdim=True) + eps) ** -0.5
    return centered * rstd, rstd


def _mean(x, a, keepdims=False):
    """x's mean over axes a, summed in float64 and rounded to x's dtype once: the mean of equal
    float32 values is then exactly their value, and a constant slice normalizes to exactly 0 (a
    float32 sum's rounding, times 1/sqrt(eps), left 4e-5 there; PyTorch's is exact too)."""
    return x.mean(axis=a, keepdims=keepdims, dtype=np.float64).astype(x.dtype, copy=False)


def _standardize(x, a, eps):
    """(x - mean) / sqrt(var + eps) over axes a, in NumPy: every normalization's forward. The mean
    is taken in float64 and taken away in two parts, its rounding to x's dtype and what that
    rounding left out: x - mean cancels, and 1/sqrt(var + eps) amplifies up to 316 times what is
    left of a float32 mean's rounding (two values 8e-5 apart near 1.8 came out 0.15% off;
    PyTorch's 2e-5). The large arrays stay in x's dtype."""
    mean = x.mean(axis=a, keepdims=True, dtype=np.float64)
    rounded = mean.astype(x.dtype, copy=False)
    centered = (x - rounded) - (mean - rounded).astype(x.dtype, copy=False)
    return centered / np.sqrt(_mean(centered * centered, a, keepdims=True) + eps)


def _standardize_grad(gy, xhat, rstd, a):
    """Gradient through xhat = (x - mean) / std: the mean and the xhat-component of gy, removed."""
    return rstd * (gy - gy.mean(a, keepdim=True) - xhat * (gy * xhat).mean(a, keepdim=True))


def _norm_axes(x, normalized_shape):
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise OpError(f"nn.functional.layer_norm: normalized_shape {shape} must be the last dims of the input, "
                      f"got input of shape {x.shape}")
    return shape, tuple(range(x.ndim - len(shape), x.ndim))


def _layer_norm(x, weight=None, bias=None, normalized_shape=(), eps=1e-5):
    shape, a = _norm_axes(x, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise OpError(f"nn.functional.layer_norm: {name} of shape {t.shape} must have normalized_shape {shape}")
    y = _standardize(x, a, eps)
    if weight is not None:
        y *= weight
    if bias is not None:
        y += bias
    return y


def _layer_norm_vjp(g, out, x, weight, bias, normalized_shape, eps):
    _, a = _norm_axes(x, normalized_shape)
    xhat, rstd = _standardized(x, a, eps)
    return (_standardize_grad(g if weight is None else g * weight, xhat, rstd, a) if x.requires_grad else None,
            g * xhat if weight is not None and weight.requires_grad else None,
            g if bias is not None else None)


def _layer_norm_sample(draw):
    shape = draw.shape(min_dims=1, max_dims=3)
    k = draw.integer(1, len(shape))
    normalized = shape[len(shape) - k:]
    return Example((shape, normalized if draw.boolean() else None, normalized if draw.boolean() else None),
                   {"normalized_shape": normalized})


#: layer_norm's and batch_norm's deliberate difference (for the oracle check).
ROUNDED_MEAN = ("PyTorch's mean of equal values near ±1e30 is off by a rounding error that 1/sqrt(eps) amplifies "
                "(a normalized value, or a weight gradient, of 4e14 where the exact one, Lucid's, is 0)")

layer_norm = Op("nn.functional.layer_norm", _layer_norm, _layer_norm_vjp,
                (Arg("input"), Arg("weight", optional=True), Arg("bias", optional=True)),
                params=(Param("normalized_shape"), Param("eps", 1e-5, (1e-5,), "number")), sample=_layer_norm_sample,
                signature=("input", "normalized_shape", "weight", "bias", "eps"),
                differences={"inputs": "PyTorch's double backward refuses a bias without a weight ('Expected a "
                                       "proper Tensor but got None')", "evaluation order": ROUNDED_MEAN},
                same_dtype=True)


def _check_channels(name, x, **per_channel):
    """x has channels (dim 1), and each of the named (C,) vectors given holds one value per channel:
    batch_norm's, instance_norm's and group_norm's arguments."""
    if x.ndim < 2:
        raise OpError(f"{name}: expected an input of shape (N, C, ...), got shape {x.shape}")
    for role, t in per_channel.items():
        if t is not None and t.shape != (x.shape[1],):
            raise OpError(f"{name}: {role} of shape {t.shape} does not match the input's {x.shape[1]} channels "
                          f"(input shape {x.shape})")


def _channels(x):
    """The axes a per-channel statistic reduces (all but the channels, dim 1) and the shape a (C,)
    vector takes to broadcast against x."""
    return (0, *range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _update_running(running_mean, running_var, mean, var, n, momentum):
    """Move the running statistics given towards mean and var, in place, with var made unbiased for
    the n values it came from, as PyTorch does."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += momentum * var * (n / (n - 1))


def _scale_and_shift(y, weight, bias, shape_c):
    """y * weight + bias, in place, each (C,) vector (when given) spread along y's channels."""
    if weight is not None:
        y *= weight.reshape(shape_c)
    if bias is not None:
        y += bias.reshape(shape_c)
    return y


def _batch_norm(x, running_mean, running_var, weight, bias, training=False, momentum=0.1, eps=1e-5):
    """In training, normalize with the batch's statistics and move the running statistics towards
    them, in place (the variance unbiased, as PyTorch does); in eval, use the running statistics."""
    _check_channels("nn.functional.batch_norm", x, running_mean=running_mean, running_var=running_var,
                    weight=weight, bias=bias)
    a, shape_c = _channels(x)
    if training:
        n = x.size // max(x.shape[1], 1)
        if n <= 1:
            raise OpError(f"nn.functional.batch_norm: expected more than 1 value per channel when training, "
                          f"got input of shape {x.shape}")
        _update_running(running_mean, running_var, _mean(x, a), x.var(axis=a, dtype=np.float64), n, momentum)
        return _scale_and_shift(_standardize(x, a, eps), weight, bias, shape_c)
    if running_mean is None or running_var is None:
        raise OpError("nn.functional.batch_norm: running_mean and running_var are required when training=False")
    mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
    return _scale_and_shift((x - mean.reshape(shape_c)) / np.sqrt(var.reshape(shape_c) + eps), weight, bias, shape_c)


def _batch_norm_vjp(g, out, x, running_mean, running_var, weight, bias, training, momentum, eps):
    """Training: the batch statistics depend on x (the running ones do not touch the output).
    Eval: an affine map of x whose coefficients are the running statistics."""
    a, shape_c = _channels(x)
    gy = g if weight is None else g * weight.reshape(shape_c)
    g_mean = g_var = None
    if training:
        xhat, rstd = _standardized(x, a, eps)
        gx = _standardize_grad(gy, xhat, rstd, a)
    else:
        rstd = (running_var.reshape(shape_c) + eps) ** -0.5
        xhat = (x - running_mean.reshape(shape_c)) * rstd
        gx = gy * rstd
        g_mean = -gx.sum(a) if running_mean.requires_grad else None
        g_var = (gy * xhat * rstd * rstd).sum(a) * -0.5 if running_var.requires_grad else None
    return (gx if x.requires_grad else None, g_mean, g_var,
            (g * xhat).sum(a) if weight is not None and weight.requires_grad else None,
            g.sum(a) if bias is not None and bias.requires_grad else None)


def _batch_norm_sample(draw):
    training = draw.boolean()
    n, c = draw.integer(2 if training else 1, 3), draw.integer(1, 3)
    shape = (n, c) + draw.shape(min_dims=0, max_dims=2, max_side=3)
    running = (c,) if not training or draw.boolean() else None  # training may update them in place
    return Example((shape, running, running, (c,) if draw.boolean() else None, (c,) if draw.boolean() else None),
                   {"training": training})


batch_norm = Op("nn.functional.batch_norm", _batch_norm, _batch_norm_vjp,
                (Arg("input"), Arg("running_mean", optional=True, mutable=True),
                 Arg("running_var", low=0, optional=True, mutable=True),
                 Arg("weight", optional=True), Arg("bias", optional=True)),
                params=(Param("training", False, (False, True), "bool"), Param("momentum", 0.1, (0.1, 0.5), "number"),
                        Param("eps", 1e-5, (1e-5,), "number")),
                sample=_batch_norm_sample,
                differences={"inputs": "PyTorch's double backward in training refuses a bias without a weight "
                                       "('Expected a proper Tensor but got None')", "evaluation order": ROUNDED_MEAN},
                same_dtype=True)


# --- embedding -------------------------------------------------------------------------------

def _embedding(indices, weight, padding_idx=None):
    if weight.ndim != 2:
        raise OpError(f"nn.functional.embedding: weight must be 2-D (num_embeddings, embedding_dim), "
                      f"got shape {weight.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= len(weight)):
        raise OpError(f"nn.functional.embedding: indices must lie in [0, {len(weight)}) for a weight of shape "
                      f"{weight.shape}, got values from {indices.min()} to {indices.max()}")
    return weight[indices]


def _embedding_vjp(g, out, indices, weight, padding_idx):
    """Each row of g goes back to the row of weight it was read from; repeated indices add up.
    The row at padding_idx gets no gradient, as in PyTorch."""
    if padding_idx is not None:
        g = g * (indices.data != padding_idx % len(weight.data))[..., None].astype(g.dtype)
    return None, index_backward(g, weight.shape, indices.data)


def _embedding_sample(draw):
    """padding_idx's zero gradient is a convention, not the derivative: only the oracle draws it."""
    num, size = draw.integer(1, 5), draw.integer(1, 3)
    padding_idx = draw.integer(-num, num - 1) if draw.edges and draw.boolean() else None
    return Example((draw.indices(draw.shape(max_dims=2), num), (num, size)), {"padding_idx": padding_idx})


embedding = Op("nn.functional.embedding", _embedding, _embedding_vjp,
               (Arg("input", dtype="int"), Arg("weight")), params=(Param("padding_idx", None, (None,), "int"),),
               sample=_embedding_sample)


# --- dropout ---------------------------------------------------------------------------------

def _check_probability(p):
    if not 0 <= p <= 1:
        raise OpError(f"nn.functional.dropout: dropout probability has to be between 0 and 1, but got {p}")


def _dropout(x, mask, p=0.5, training=True):
    _check_probability(p)
    if not training:
        return x
    if mask.shape != x.shape:
        raise OpError(f"nn.functional.dropout: mask of shape {mask.shape} does not match input of shape {x.shape}")
    return x * (mask * (0.0 if p == 1 else 1 / (1 - p))).astype(x.dtype)


def _dropout_vjp(g, out, x, mask, p, training):
    return (g * (mask.data * (0.0 if p == 1 else 1 / (1 - p))).astype(g.dtype) if training else g), None


class _Dropout(Op):
    """dropout draws its mask from `lucid.generator()` *before* the op and passes it as a
    non-differentiable input, so the recorded op is a deterministic function of (input, mask):
    its vjp sees exactly the mask the forward used, and the harness can check it like any op.

    `dropout(x, p=0.5, training=True)` draws the mask (PyTorch's call); `dropout(x, mask, p=...)`
    replays a given one. With training=False it returns the input itself."""

    def __call__(self, input, *args, **kwargs):
        if "mask" in kwargs or (args and not isinstance(args[0], numbers.Real)):
            return super().__call__(input, *args, **kwargs)  # a mask given: the recorded form
        return self._draw(input, *args, **kwargs)

    def _draw(self, input, p=0.5, training=True, inplace=False):
        self.check_params({"p": p, "training": training})  # those a training=False call never passes to apply
        _check_probability(p)
        if not isinstance(inplace, bool):
            raise OpError(f"nn.functional.dropout: argument 'inplace' must be True or False, got {inplace!r}")
        if not training:
            return input
        mask = generator().random(np.shape(input)) >= p
        if inplace:
            return change_in_place(input, lambda old: apply(self, (old, mask), {"p": p, "training": True}),
                                    "nn.functional.dropout(inplace=True)")
        return apply(self, (input, mask), {"p": p, "training": True})


def _dropout_sample(draw):
    shape = draw.shape()
    return Example((shape, draw.mask(shape)))


dropout = _Dropout("nn.functional.dropout", _dropout, _dropout_vjp, (Arg("input"), Arg("mask", dtype="bool")),
                   params=(Param("p", 0.5, (0.0, 0.2, 0.5, 1.0), "number"),
                           Param("training", True, (True, False), "bool")),
                   sample=_dropout_sample)


# --- normalize and cosine_similarity ---------------------------------------------------------

def _check_p(p):
    if not (isinstance(p, numbers.Real) and 0 < p < np.inf):
        raise OpError(f"nn.functional.normalize: p must be a positive finite number, got {p!r}")


def _normalize(x, p=2.0, dim=1, eps=1e-12):
    _check_p(p)
    norm = vector_norm(x, p, axes("nn.functional.normalize", dim, x.ndim), keepdims=True)
    return x / np.maximum(norm, eps)


def normalize_grad(g, x, p, a, eps):
    """Gradient through y = x / max(||x||_p, eps) along axes a. Where the norm is clamped the divisor
    is the constant eps; elsewhere d||x||/dx = sign(y) |y|^(p-1) adds a second term. Written in y
    rather than x, so that the two terms cancel exactly where they should (a single element)."""
    sign = np.sign(x.data)
    if p == 1:
        norm = absolute(x).sum(a, keepdim=True)
    elif p == 2:
        norm = sqrt((x * x).sum(a, keepdim=True))
    else:
        norm = (absolute(x) ** p).sum(a, keepdim=True) ** (1 / p)
    big = norm.data > eps
    d = where(big, norm, eps)
    y = x / d
    slope = sign if p == 1 else y if p == 2 else absolute(y) ** (p - 1) * sign
    return (g - (g * y).sum(a, keepdim=True) * big * slope) / d


def _normalize_vjp(g, out, x, p, dim, eps):
    return (normalize_grad(g, x, p, axes("nn.functional.normalize", dim, x.ndim), eps),)


# Kinks at 0: |x| for p <= 1, and the clamp of the norm, which a vector of zeros sits on.
def _normalize_sample(draw):
    shape = draw.shape(min_dims=1)
    return Example((shape,), {"dim": draw.integer(-len(shape), len(shape) - 1), "p": draw.choice((1.0, 2.0, 3.0))})


normalize = Op("nn.functional.normalize", _normalize, _normalize_vjp,
               params=(Param("p", 2.0, (1.0, 2.0, 3.0), "number"), Param("dim", 1, one_dim, "dim"),
                       Param("eps", 1e-12, (1e-12,), "number")),
               sample=_normalize_sample, kinks=(0.0,), differences=NORM_AT_ZERO)


def _common_axis(name, x1_shape, x2_shape, dim):
    try:
        shape = np.broadcast_shapes(x1_shape, x2_shape)
    except ValueError:
        raise OpError(f"{name}: x1 of shape {x1_shape} and x2 of shape {x2_shape} do not broadcast") from None
    return shape, axes(name, dim, len(shape))


def _cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """The inputs broadcast, then each divided by its norm (clamped to eps), as PyTorch does: the result
    stays in [-1, 1]."""
    shape, a = _common_axis("nn.functional.cosine_similarity", x1.shape, x2.shape, dim)
    x1, x2 = np.broadcast_to(x1, shape), np.broadcast_to(x2, shape)
    n1 = np.maximum(vector_norm(x1, 2, a, keepdims=True), eps)
    n2 = np.maximum(vector_norm(x2, 2, a, keepdims=True), eps)
    return np.sum(x1 / n1 * (x2 / n2), axis=a)


def _cosine_similarity_vjp(g, out, x1, x2, dim, eps):
    """out = sum(u1 * u2) with u = normalize(x): each gradient is the other unit vector, sent back
    through normalize. Inputs are broadcast first, since their norms are taken after broadcasting."""
    shape, a = _common_axis("nn.functional.cosine_similarity", x1.shape, x2.shape, dim)
    g = g.reshape(keepdim_shape(shape, a))
    x1b, x2b = expand(x1, shape), expand(x2, shape)
    return (normalize_grad(g * normalize(x2b, 2.0, dim, eps), x1b, 2.0, a, eps) if x1.requires_grad else None,
            normalize_grad(g * normalize(x1b, 2.0, dim, eps), x2b, 2.0, a, eps) if x2.requires_grad else None)


def _cosine_similarity_sample(draw):
    """x1 and x2 broadcast: one may have size 1, or no axis at all, where the other has n."""
    shape = draw.shape(min_dims=1)
    other = tuple(1 if draw.integer(0, 3) == 0 else n for n in shape)[draw.integer(0, len(shape) - 1):]
    return Example((shape, other) if draw.boolean() else (other, shape),
                   {"dim": draw.integer(-len(shape), len(shape) - 1)})


cosine_similarity = Op("nn.functional.cosine_similarity", _cosine_similarity, _cosine_similarity_vjp,
                       (Arg("x1"), Arg("x2")),
                       params=(Param("dim", 1, one_dim, "dim"), Param("eps", 1e-8, (1e-8,), "number")),
                       sample=_cosine_similarity_sample, kinks=(0.0,),
                       differences={"second order": "below a norm of eps PyTorch's gradient is not the derivative of "
                                                    "its forward: it clamps the norms in place under no_grad, so its "
                                                    "gradient differentiates the unclamped norm (off by |x| / eps^2 "
                                                    "at first order, 1 / eps^2 = 1e16 at second); Lucid's "
                                                    "differentiates the clamped norm it divides by"})

# --- group_norm --------------------------------------------------------------------------------

def _grouped_shape(x, num_groups):
    """(N, G, C/G * spatial): the shape whose last axis each group is normalized over."""
    name = "nn.functional.group_norm"
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups <= 0:
        raise OpError(f"{name}: num_groups must be a positive int, got {num_groups!r}")
    if x.shape[1] % num_groups:
        raise OpError(f"{name}: the input's {x.shape[1]} channels (shape {x.shape}) are not divisible by "
                      f"num_groups ({num_groups})")
    if x.shape[0] * x.shape[1] // num_groups * int(np.prod(x.shape[2:])) == 1:  # PyTorch's _verify_batch_size
        raise OpError(f"{name}: expected more than 1 value per channel when training, got input of shape {x.shape}")
    return x.shape[0], num_groups, -1


def _group_norm(x, weight=None, bias=None, num_groups=1, eps=1e-5):
    _check_channels("nn.functional.group_norm", x, weight=weight, bias=bias)
    grouped = x.reshape(_grouped_shape(x, num_groups))
    return _scale_and_shift(_standardize(grouped, 2, eps).reshape(x.shape), weight, bias, _channels(x)[1])


def _group_norm_vjp(g, out, x, weight, bias, num_groups, eps):
    grouped = _grouped_shape(x.data, num_groups)
    xhat, rstd = _standardized(x.reshape(grouped), (2,), eps)
    others, shape_c = _channels(x)
    gy = g if weight is None else g * weight.reshape(shape_c)
    return (_standardize_grad(gy.reshape(grouped), xhat, rstd, (2,)).reshape(x.shape) if x.requires_grad else None,
            (g * xhat.reshape(x.shape)).sum(others) if weight is not None and weight.requires_grad else None,
            g.sum(others) if bias is not None and bias.requires_grad else None)


def _group_norm_sample(draw):
    groups, per_group = draw.integer(1, 3), draw.integer(1, 2)
    shape = (draw.integer(2, 3), groups * per_group) + draw.shape(min_dims=0, max_dims=2, max_side=3)
    channels = (shape[1],)
    return Example((shape, channels if draw.boolean() else None, channels if draw.boolean() else None),
                   {"num_groups": groups})


group_norm = Op("nn.functional.group_norm", _group_norm, _group_norm_vjp,
                (Arg("input"), Arg("weight", optional=True), Arg("bias", optional=True)),
                params=(Param("num_groups", kind="int"), Param("eps", 1e-5, (1e-5,), "number")),
                sample=_group_norm_sample, signature=("input", "num_groups", "weight", "bias", "eps"),
                differences={"evaluation order": ROUNDED_MEAN,
                             "inputs": "PyTorch 2.13 refuses a bias without a weight ('tensor does not have a "
                                       "device', or a bad reshape in its backward)"}, same_dtype=True)


# --- instance_norm -----------------------------------------------------------------------------

def _spatial_axes(x, running_mean, running_var, weight, bias, use_input_stats):
    """The axes each (sample, channel) is normalized over, once the arguments are checked."""
    name = "nn.functional.instance_norm"
    _check_channels(name, x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    if use_input_stats and int(np.prod(x.shape[2:])) <= 1:
        raise OpError(f"{name}: expected more than 1 spatial element when using the input's statistics, got input "
                      f"of shape {x.shape}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise OpError(f"{name}: running_mean and running_var are required when use_input_stats=False")
    return tuple(range(2, x.ndim))


def _instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                   momentum=0.1, eps=1e-5):
    """With use_input_stats, normalize each channel of each sample by its own statistics and move
    the running statistics (if given) towards their mean over the batch, in place (the variance
    unbiased, as PyTorch does); without, normalize by the running statistics (batch_norm's eval)."""
    a = _spatial_axes(x, running_mean, running_var, weight, bias, use_input_stats)
    if not use_input_stats:
        return batch_norm.forward(x, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None or running_var is not None:
        mean, var = _mean(x, a).mean(axis=0), x.var(axis=a, dtype=np.float64).mean(axis=0)
        _update_running(running_mean, running_var, mean, var, int(np.prod(x.shape[2:])), momentum)
    return _scale_and_shift(_standardize(x, a, eps), weight, bias, _channels(x)[1])


def _instance_norm_vjp(g, out, x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    if not use_input_stats:
        return batch_norm.vjp(g, out, x, running_mean, running_var, weight, bias, False, momentum, eps)
    a = tuple(range(2, x.ndim))
    others, shape_c = _channels(x)
    xhat, rstd = _standardized(x, a, eps)
    gy = g if weight is None else g * weight.reshape(shape_c)
    return (_standardize_grad(gy, xhat, rstd, a) if x.requires_grad else None, None, None,
            (g * xhat).sum(others) if weight is not None and weight.requires_grad else None,
            g.sum(others) if bias is not None and bias.requires_grad else None)


def _instance_norm_sample(draw):
    use_input_stats = draw.boolean()
    n, c = draw.integer(1, 3), draw.integer(1, 3)
    spatial = draw.shape(min_dims=1, max_dims=2, max_side=3)
    if use_input_stats and int(np.prod(spatial)) == 1:
        spatial = (2,) + spatial[1:]
    running = (c,) if not use_input_stats or draw.boolean() else None
    return Example(((n, c) + spatial, running, running, (c,) if draw.boolean() else None,
                    (c,) if draw.boolean() else None), {"use_input_stats": use_input_stats})


instance_norm = Op("nn.functional.instance_norm", _instance_norm, _instance_norm_vjp,
                   (Arg("input"), Arg("running_mean", optional=True, mutable=True),
                    Arg("running_var", low=0, optional=True, mutable=True),
                    Arg("weight", optional=True), Arg("bias", optional=True)),
                   params=(Param("use_input_stats", True, (True, False), "bool"),
                           Param("momentum", 0.1, (0.1, 0.5), "number"), Param("eps", 1e-5, (1e-5,), "number")),
                   sample=_instance_norm_sample,
                   differences={"evaluation order": ROUNDED_MEAN,
                                "inputs": "PyTorch's double backward refuses a bias without a weight ('Expected a "
                                          "proper Tensor but got None')"})


# --- pixel_shuffle and pixel_unshuffle ---------------------------------------------------------

def _check_factor(name, x, factor, role):
    if x.ndim < 3:
        raise OpError(f"{name}: expected an input of shape (*, C, H, W), got shape {x.shape}")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor <= 0:
        raise OpError(f"{name}: {role} must be a positive int, got {factor!r}")


def _pixel_shuffle(x, upscale_factor):
    """(*, C r², H, W) -> (*, C, H r, W r): each r x r block of the output is read from r² channels."""
    name, r = "nn.functional.pixel_shuffle", upscale_factor
    _check_factor(name, x, r, "upscale_factor")
    *batch, c, h, w = x.shape
    if c % (r * r):
        raise OpError(f"{name}: the input's {c} channels (shape {x.shape}) are not divisible by upscale_factor "
                      f"squared ({r * r})")
    k = len(batch)
    blocks = x.reshape(*batch, c // (r * r), r, r, h, w).transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return blocks.reshape(*batch, c // (r * r), h * r, w * r)


def _pixel_unshuffle(x, downscale_factor):
    """(*, C, H r, W r) -> (*, C r², H, W): pixel_shuffle undone."""
    name, r = "nn.functional.pixel_unshuffle", downscale_factor
    _check_factor(name, x, r, "downscale_factor")
    *batch, c, hr, wr = x.shape
    if hr % r or wr % r:
        raise OpError(f"{name}: the input's height and width ({hr}, {wr}; shape {x.shape}) must be divisible by "
                      f"downscale_factor ({r})")
    k, h, w = len(batch), hr // r, wr // r
    blocks = x.reshape(*batch, c, h, r, w, r).transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return blocks.reshape(*batch, c * r * r, h, w)


def _shuffle_sample(upscale):
    def sample(draw):
        r = draw.integer(1, 3)
        batch = draw.shape(min_dims=0, max_dims=2, max_side=2)
        c, h, w = draw.integer(1, 2), draw.integer(1, 2), draw.integer(1, 2)
        if upscale:
            return Example((batch + (c * r * r, h, w),), {"upscale_factor": r})
        return Example((batch + (c, h * r, w * r),), {"downscale_factor": r})
    return sample


pixel_shuffle = Op("nn.functional.pixel_shuffle", _pixel_shuffle,
                   lambda g, out, x, upscale_factor: (pixel_unshuffle(g, upscale_factor),),
                   params=(Param("upscale_factor", kind="int"),), sample=_shuffle_sample(True))
pixel_unshuffle = Op("nn.functional.pixel_unshuffle", _pixel_unshuffle,
                     lambda g, out, x, downscale_factor: (pixel_shuffle(g, downscale_factor),),
                     params=(Param("downscale_factor", kind="int"),), sample=_shuffle_sample(False))


@hookimpl
def lucid_ops():
    return [softmax, softmax_backward, log_softmax, log_softmax_backward, linear, layer_norm, batch_norm, embedding,
            dropout, normalize, cosine_similarity, group_norm, instance_norm, pixel_shuffle, pixel_unshuffle,
            softmin, glu, prelu]
