"""More neural-network functions (`nn.functional`): group_norm, instance_norm, pixel_shuffle and
pixel_unshuffle.

group_norm is layer_norm over groups of channels, instance_norm over each channel of each sample:
both share `lucid_ops.nn`'s standardization and its gradient (and instance_norm, with the running
statistics, is batch_norm in eval mode). pixel_shuffle and pixel_unshuffle move values between
channels and space without changing any: each is the other's inverse and, being a permutation,
the other's transpose, so each one's rule is the other op.
"""
from __future__ import annotations

import numbers

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, hookimpl
from lucid_ops.nn import ROUNDED_MEAN, _standardize_grad, _standardized, batch_norm


# --- group_norm --------------------------------------------------------------------------------

def _grouped_shape(x, num_groups):
    """(N, G, C/G * spatial): the shape whose last axis each group is normalized over."""
    name = "nn.functional.group_norm"
    if x.ndim < 2:
        raise OpError(f"{name}: expected an input of shape (N, C, ...), got shape {x.shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups <= 0:
        raise OpError(f"{name}: num_groups must be a positive int, got {num_groups!r}")
    if x.shape[1] % num_groups:
        raise OpError(f"{name}: the input's {x.shape[1]} channels (shape {x.shape}) are not divisible by "
                      f"num_groups ({num_groups})")
    if x.shape[0] * x.shape[1] // num_groups * int(np.prod(x.shape[2:])) == 1:  # PyTorch's _verify_batch_size
        raise OpError(f"{name}: expected more than 1 value per channel when training, got input of shape {x.shape}")
    return x.shape[0], num_groups, -1


def _channel_shape(x):
    """The shape a (C,) vector takes to broadcast along x's channels."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _group_norm(x, weight=None, bias=None, num_groups=1, eps=1e-5):
    grouped = x.reshape(_grouped_shape(x, num_groups))
    for role, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (x.shape[1],):
            raise OpError(f"nn.functional.group_norm: {role} of shape {t.shape} must have one value per channel "
                          f"({x.shape[1]},)")
    centered = grouped - grouped.mean(axis=2, keepdims=True)
    y = (centered / np.sqrt((centered * centered).mean(axis=2, keepdims=True) + eps)).reshape(x.shape)
    if weight is not None:
        y *= weight.reshape(_channel_shape(x))
    if bias is not None:
        y += bias.reshape(_channel_shape(x))
    return y


def _group_norm_vjp(g, out, x, weight, bias, num_groups, eps):
    grouped = _grouped_shape(x.data, num_groups)
    xhat, rstd = _standardized(x.reshape(grouped), (2,), eps)
    gy = g if weight is None else g * weight.reshape(_channel_shape(x))
    others = (0, *range(2, x.ndim))
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
                                       "device', or a bad reshape in its backward)"})


# --- instance_norm -----------------------------------------------------------------------------

def _spatial_axes(x, running_mean, running_var, weight, bias, use_input_stats):
    """The axes each (sample, channel) is normalized over, once the arguments are checked."""
    name = "nn.functional.instance_norm"
    if x.ndim < 2:
        raise OpError(f"{name}: expected an input of shape (N, C, ...), got shape {x.shape}")
    for role, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (x.shape[1],):
            raise OpError(f"{name}: {role} of shape {t.shape} must have one value per channel ({x.shape[1]},)")
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
    centered = x - x.mean(axis=a, keepdims=True)
    variance = (centered * centered).mean(axis=a, keepdims=True)
    n = int(np.prod(x.shape[2:]))
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * x.mean(axis=a).mean(axis=0)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += momentum * variance.reshape(x.shape[:2]).mean(axis=0) * (n / (n - 1))
    y = centered / np.sqrt(variance + eps)
    if weight is not None:
        y *= weight.reshape(_channel_shape(x))
    if bias is not None:
        y += bias.reshape(_channel_shape(x))
    return y


def _instance_norm_vjp(g, out, x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    if not use_input_stats:
        return batch_norm.vjp(g, out, x, running_mean, running_var, weight, bias, False, momentum, eps)
    a, others = tuple(range(2, x.ndim)), (0, *range(2, x.ndim))
    xhat, rstd = _standardized(x, a, eps)
    gy = g if weight is None else g * weight.reshape(_channel_shape(x))
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
    return [group_norm, instance_norm, pixel_shuffle, pixel_unshuffle]
