"""Activation functions, registered where PyTorch keeps them: `nn.functional.<name>`.

Most are piecewise: where two pieces meet (relu at 0, hardtanh at its bounds) the derivative is
not defined, and each rule follows PyTorch's choice, which the comments state. A mask computed
from the input's values is a constant, so the rules stay differentiable in `g` and `out`. Each
mask is written with the comparison of PyTorch's kernel (relu's `out <= 0` masks g, so `~(out <= 0)`
passes it): every comparison with NaN is false, so a NaN input then gets PyTorch's gradient.

hardshrink and softshrink zero g where PyTorch's kernel does, `-lambd <= x <= lambd`, so at the
kinks ±lambd the slope is 0. tanhshrink is a composition in PyTorch (x - tanh(x)): its rule is the
derivative of that composition, with PyTorch's own backward op.
"""
import dataclasses
import math

import numpy as np
import scipy.special as sp

from lucid import Arg, Op, OpError, Param, hookimpl, zeros_like
from lucid_ops.arithmetic import abs, flat_where, where
from lucid_ops.common import NAN_GRADIENT_BY_POSITION, zero_where
from lucid_ops.exponential import exp, log1p
from lucid_ops.special import erf, sigmoid
from lucid_ops.trigonometric import tanh, tanh_backward

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SQRT_HALF, INV_SQRT_2PI = math.sqrt(0.5), 1 / math.sqrt(2 * math.pi)
GELU_K, GELU_C = math.sqrt(2 / math.pi), 0.044715  # gelu's tanh approximation: tanh(k (x + c x³))


def _elu(x, alpha=1.0, scale=1.0, input_scale=1.0):
    """scale * (x if x > 0 else alpha (e^(input_scale x) - 1)): elu, selu and celu are all this."""
    return scale * np.where(x > 0, x, alpha * np.expm1(x * input_scale))


def _leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, x * negative_slope)


def _gelu(x, approximate="none"):
    """x Φ(x), with Φ the standard normal CDF, or PyTorch's tanh approximation of it."""
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(GELU_K * (x + GELU_C * x ** 3)))
    if approximate == "none":
        return 0.5 * x * (1 + sp.erf(x * SQRT_HALF)).astype(x.dtype, copy=False)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


def _gelu_vjp(g, out, x, approximate):
    """d/dx x Φ(x) = Φ(x) + x φ(x)."""
    if approximate == "tanh":
        t = tanh((x + x * x * x * GELU_C) * GELU_K)
        return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * (1 + 3 * GELU_C * x * x) * GELU_K),)
    return (g * ((1 + erf(x * SQRT_HALF)) * 0.5 + x * exp(-0.5 * x * x) * INV_SQRT_2PI),)


def _mish_vjp(g, out, x):
    """d/dx x tanh(softplus(x)) = t + x (1 - t²) sigmoid(x), t = tanh(softplus(x)), with softplus
    written log1p(e^x) as in PyTorch's rule: where e^x overflows, its second derivative is NaN there too."""
    t = tanh(log1p(exp(x)))
    return (g * (t + x * (1 - t * t) * sigmoid(x)),)


def _hardtanh_vjp(g, out, x, min_val, max_val):
    """g passes strictly inside (min_val, max_val): 0 at the bounds, as in PyTorch (unlike clamp),
    and g at NaN (PyTorch masks `x <= min_val | x >= max_val`)."""
    return (g * ~((x.data <= min_val) | (x.data >= max_val)),)


def _hardswish_vjp(g, out, x):
    """x relu6(x + 3) / 6 has slope x/3 + 1/2 on (-3, 3), 0 below, 1 above; at -3 and 3 PyTorch
    takes the outer slopes (0 and 1), and at NaN the slope 1 (its `x <= -3` and `x < 3` are false)."""
    return (where(x.data <= -3, 0.0, where(x.data < 3, g * (x / 3 + 0.5), g)),)


def _elu_vjp(g, out, x, alpha=1.0, scale=1.0, input_scale=1.0):
    """The slope of _elu: scale above 0 (and at NaN: PyTorch masks `x <= 0`), and below,
    input_scale alpha scale e^(input_scale x), which is input_scale (out + alpha scale). At 0 PyTorch
    takes the slope from below and its second derivative is 0 there (its mask is `x < 0`)."""
    below = flat_where(x.data == 0, (out + alpha * scale) * input_scale)
    return (g * where(x.data <= 0, below, scale),)


# relu'(0) = 0, as in PyTorch. The rule is one fused op (PyTorch's threshold_backward): g, with zeros
# where the output is <= 0 (a NaN passes g). Its slope in `output` is 0 wherever it has one (a zero,
# not None: it is used).
relu_backward = Op("relu_backward", lambda g, out: zero_where(out <= 0, g),
                   lambda gg, _, g, out: (relu_backward(gg, out), zeros_like(out)), (Arg("grad"), Arg("output")),
                   kinks=(0.0,))
relu = Op("nn.functional.relu", lambda x: np.maximum(x, 0), lambda g, out, x: (relu_backward(g, out),), kinks=(0.0,))
# leaky_relu'(0) = negative_slope, as in PyTorch.
leaky_relu = Op("nn.functional.leaky_relu", _leaky_relu,
                lambda g, out, x, negative_slope: (g * np.where(x.data > 0, 1, negative_slope).astype(g.dtype),),
                params=(Param("negative_slope", 0.01, (0.01, 0.2), "number"),), kinks=(0.0,))
# elu, selu and celu are PyTorch's elu with its scales, and share its rule.
elu = Op("nn.functional.elu", _elu, lambda g, out, x, alpha: _elu_vjp(g, out, x, alpha),
         params=(Param("alpha", 1.0, (1.0, 0.5, 2.0), "number"),), kinks=(0.0,),
         differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
selu = Op("nn.functional.selu", lambda x: _elu(x, SELU_ALPHA, SELU_SCALE),
          lambda g, out, x: _elu_vjp(g, out, x, SELU_ALPHA, SELU_SCALE), kinks=(0.0,),
          differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
# celu = elu with e^(x / alpha).
celu = Op("nn.functional.celu", lambda x, alpha=1.0: _elu(x, alpha, input_scale=1 / alpha),
          lambda g, out, x, alpha: _elu_vjp(g, out, x, alpha, input_scale=1 / alpha),
          params=(Param("alpha", 1.0, (1.0, 0.5, 2.0), "number"),), kinks=(0.0,),
          differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
gelu = Op("nn.functional.gelu", _gelu, _gelu_vjp, params=(Param("approximate", "none", ("none", "tanh"), "choice"),),
          differences={"float32 values": "gelu(inf) is inf, as PyTorch gives in float64 and for one float32 value; "
                                         "its vectorized float32 kernel gives NaN for two or more"})
silu = Op("nn.functional.silu", lambda x: x * sp.expit(x),
          lambda g, out, x: (g * sigmoid(x) * (1 + x * (1 - sigmoid(x))),))
mish = Op("nn.functional.mish", lambda x: x * np.tanh(np.logaddexp(0, x)), _mish_vjp)
hardtanh = Op("nn.functional.hardtanh", lambda x, min_val=-1.0, max_val=1.0: np.clip(x, min_val, max_val),
              _hardtanh_vjp, params=(Param("min_val", -1.0, (-1.0, -0.5), "number"),
                                     Param("max_val", 1.0, (1.0, 2.0), "number")),
              kinks=lambda p: (p["min_val"], p["max_val"]), differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
relu6 = Op("nn.functional.relu6", lambda x: np.clip(x, 0, 6), lambda g, out, x: _hardtanh_vjp(g, out, x, 0, 6),
           kinks=(0.0, 6.0), differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
# hardsigmoid = relu6(x + 3) / 6: slope 1/6 strictly inside (-3, 3), as in PyTorch.
hardsigmoid = Op("nn.functional.hardsigmoid", lambda x: np.clip(x + 3, 0, 6) / 6,
                 lambda g, out, x: (g * ((x.data > -3) & (x.data < 3)) / 6,), kinks=(-3.0, 3.0),
                 differences={"second order": "PyTorch 2.13 refuses it (hardsigmoid_backward has no derivative); "
                                              "Lucid's is 0 wherever it exists"})
hardswish = Op("nn.functional.hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6, _hardswish_vjp, kinks=(-3.0, 3.0),
               differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
# softsign' = 1 / (1 + |x|)², written (1 - |out|) / (1 + |x|) as PyTorch's quotient rule gives it:
# at ±inf, where the value is inf/inf = NaN, so is the slope. Its second derivative jumps at 0
# (it has |x| inside), hence the kink.
softsign = Op("nn.functional.softsign", lambda x: x / (1 + np.abs(x)),
              lambda g, out, x: (g * (1 - abs(out)) / (1 + abs(x)),), kinks=(0.0,))
# log sigmoid(x) = -softplus(-x); its slope is sigmoid(-x).
logsigmoid = Op("nn.functional.logsigmoid", lambda x: -np.logaddexp(0, -x), lambda g, out, x: (g * sigmoid(-x),))

# --- the shrinkage functions -------------------------------------------------------------------

def _dead_zone(x, lambd):
    """Where PyTorch's shrink kernels give 0 and their rules zero the gradient."""
    return (x >= -lambd) & (x <= lambd)


def _shrink_vjp(g, out, x, lambd):
    return (where(_dead_zone(x.data, lambd), 0.0, g),)


def _softshrink(x, lambd=0.5):
    """x moved lambd towards 0, and 0 within lambd of it (x * 0 there, as PyTorch: NaN stays NaN)."""
    if not lambd >= 0:
        raise OpError(f"nn.functional.softshrink: lambd must be >= 0, got {lambd}")
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x * 0))


def _at_lambd(params):
    """The kinks of both shrinks."""
    return -params["lambd"], params["lambd"]


lambd = Param("lambd", 0.5, (0.5, 1.0), "number")
hardshrink = Op("nn.functional.hardshrink", lambda x, lambd=0.5: np.where(_dead_zone(x, lambd), 0, x), _shrink_vjp,
                params=(lambd,), kinks=_at_lambd,
                differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
softshrink = Op("nn.functional.softshrink", _softshrink, _shrink_vjp, params=(lambd,), kinks=_at_lambd,
                differences={"nan gradient": NAN_GRADIENT_BY_POSITION})
# x - tanh(x): PyTorch's rule is g - tanh_backward(g, tanh(x)), which this one is.
tanhshrink = Op("nn.functional.tanhshrink", lambda x: x - np.tanh(x),
                lambda g, out, x: (g - tanh_backward(g, tanh(x)),))


@hookimpl
def lucid_ops():
    return [relu, dataclasses.replace(relu, name="relu"), relu_backward, leaky_relu, elu, selu, celu, gelu, silu, mish,
            hardtanh, relu6, hardsigmoid, hardswish, softsign, logsigmoid, hardshrink, softshrink,
            tanhshrink]
