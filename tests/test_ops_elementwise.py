"""The elementwise op families (arithmetic, exponential, trigonometric, special, activations).

Every op these modules register is checked here, found through the registry rather than listed
by hand: its forward against an independent NumPy/SciPy formula (float32 and float64, 0-d,
broadcasting), and its first and second derivatives against central finite differences at
points drawn from the domain its metadata declares, away from its kinks.
"""
import math
import warnings

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats

import lucid
from finite_differences import check_derivatives

PLUGINS = ("lucid_ops.arithmetic", "lucid_ops.exponential", "lucid_ops.trigonometric", "lucid_ops.special",
           "lucid_ops.activations")
OPS = sorted(name for name in lucid.registry if lucid.registry.plugin_of(name) in PLUGINS)

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _clamp(x, min=None, max=None):
    lo = -np.inf if min is None else min
    hi = np.inf if max is None else max
    return np.where(x < lo, lo, np.where(x > hi, hi, x)) if lo <= hi else np.full_like(x, hi)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def _hardsigmoid(x):
    return np.minimum(np.maximum(x / 6 + 0.5, 0), 1)


def _vectorized(f):
    return np.vectorize(f, otypes=[np.float64])


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log(1 + np.exp(beta * x)) / beta)


def _gelu_tanh(x, approximate):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


#: name -> [(reference on float64 arrays, params), ...]: one entry per case to check.
REFERENCES = {
    "add": [(lambda a, b: a + b, {})],
    "sub": [(lambda a, b: a - b, {})],
    "mul": [(lambda a, b: a * b, {})],
    "div": [(lambda a, b: a / b, {}), (lambda a, b, rounding_mode: np.trunc(a / b), {"rounding_mode": "trunc"}),
            (lambda a, b, rounding_mode: _vectorized(lambda x, y: x // y)(a, b), {"rounding_mode": "floor"})],
    "remainder": [(_vectorized(lambda x, y: x % y), {})],  # Python's %: the sign of the divisor
    "fmod": [(_vectorized(math.fmod), {})],
    "floor_divide": [(_vectorized(lambda x, y: x // y), {})],
    "neg": [(lambda x: -x, {})],
    "pow": [(lambda x, y: np.exp(y * np.log(x)), {})],
    "reciprocal": [(lambda x: 1 / x, {})],
    "square": [(lambda x: x * x, {})],
    "sqrt": [(lambda x: x ** 0.5, {})],
    "rsqrt": [(lambda x: x ** -0.5, {})],
    "abs": [(lambda x: np.where(x < 0, -x, x), {})],
    "clamp": [(_clamp, {"min": -0.5, "max": 0.5}), (_clamp, {"min": None, "max": 0.5}),
              (_clamp, {"min": -0.5}), (_clamp, {"min": 0.5, "max": -0.5})],
    "maximum": [(lambda a, b: np.where(a >= b, a, b), {})],
    "minimum": [(lambda a, b: np.where(a <= b, a, b), {})],
    "where": [(lambda c, a, b: np.select([c], [a], b), {})],
    "lerp": [(lambda a, b, w: (1 - w) * a + w * b, {})],
    "copysign": [(lambda a, b: np.where(np.signbit(b), -np.abs(a), np.abs(a)), {})],
    "nan_to_num": [(lambda x, nan=0.0, posinf=None, neginf=None: np.select(
        [np.isnan(x), x == np.inf, x == -np.inf],
        [nan, np.finfo(x.dtype).max if posinf is None else posinf, np.finfo(x.dtype).min if neginf is None else neginf],
        x), {}), (lambda x, nan, posinf: np.select([np.isnan(x), x == np.inf], [nan, posinf], x),
                  {"nan": 1.5, "posinf": 10.0})],
    "sign": [(lambda x: (x > 0).astype(np.float64) - (x < 0), {})],
    "floor": [(_vectorized(math.floor), {})],
    "ceil": [(_vectorized(math.ceil), {})],
    "trunc": [(_vectorized(math.trunc), {})],
    "round": [(_vectorized(round), {}), (lambda x, decimals: _vectorized(round)(x, decimals), {"decimals": 1})],
    "exp": [(_vectorized(math.exp), {})],
    "exp2": [(lambda x: np.power(2.0, x), {})],
    "expm1": [(_vectorized(math.expm1), {})],
    "log": [(_vectorized(math.log), {})],
    "log2": [(lambda x: np.log(x) / np.log(2), {})],
    "log10": [(lambda x: np.log(x) / np.log(10), {})],
    "log1p": [(_vectorized(math.log1p), {})],
    "logaddexp": [(lambda a, b: np.log(np.exp(a) + np.exp(b)), {})],
    "sin": [(_vectorized(math.sin), {})],
    "cos": [(_vectorized(math.cos), {})],
    "tan": [(lambda x: np.sin(x) / np.cos(x), {})],
    "asin": [(_vectorized(math.asin), {})],
    "acos": [(_vectorized(math.acos), {})],
    "atan": [(_vectorized(math.atan), {})],
    "atan2": [(lambda y, x: np.angle(x + 1j * y), {})],
    "sinh": [(lambda x: (np.exp(x) - np.exp(-x)) / 2, {})],
    "cosh": [(lambda x: (np.exp(x) + np.exp(-x)) / 2, {})],
    "tanh": [(lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1), {})],
    "tanh_backward": [(lambda g, y: g / np.cosh(np.arctanh(y)) ** 2, {})],  # tanh' at the x with tanh(x) = y
    "asinh": [(lambda x: np.log(x + np.sqrt(x * x + 1)), {})],
    "acosh": [(lambda x: np.log(x + np.sqrt(x * x - 1)), {})],
    "atanh": [(lambda x: 0.5 * np.log((1 + x) / (1 - x)), {})],
    "erf": [(_vectorized(math.erf), {})],
    "erfc": [(_vectorized(math.erfc), {})],
    "lgamma": [(_vectorized(math.lgamma), {})],
    "digamma": [(sp.digamma, {})],
    "polygamma": [(lambda n, x: sp.polygamma(n.astype(int), x), {})],
    "sigmoid": [(lambda x: 1 / (1 + np.exp(-x)), {})],
    "sigmoid_backward": [(lambda g, y: g * np.exp(-sp.logit(y)) / (1 + np.exp(-sp.logit(y))) ** 2, {})],
    "logit": [(lambda x, eps=None: np.log(x / (1 - x)), {}),
              (lambda x, eps: np.log(np.clip(x, eps, 1 - eps) / (1 - np.clip(x, eps, 1 - eps))), {"eps": 0.1})],
    "xlogy": [(lambda x, y: np.where(x == 0, 0, x * np.log(y)), {})],
    "nn.functional.softplus": [(_softplus, {}), (_softplus, {"beta": 2.0, "threshold": 1.0})],
    "relu": [(lambda x: np.where(x > 0, x, 0), {})],
    "nn.functional.relu": [(lambda x: np.where(x > 0, x, 0), {})],
    "relu_backward": [(lambda g, y: np.where(y > 0, g, 0), {})],
    "nn.functional.leaky_relu": [(lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x), {}),
                                 (lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
                                  {"negative_slope": 0.2})],
    "nn.functional.elu": [(_elu, {}), (_elu, {"alpha": 2.0})],
    "nn.functional.selu": [(lambda x: SELU_SCALE * _elu(x, SELU_ALPHA), {})],
    "nn.functional.celu": [(lambda x, alpha=1.0: np.maximum(0, x) + np.minimum(0, alpha * (np.exp(x / alpha) - 1)),
                            {"alpha": 0.5})],
    "nn.functional.gelu": [(lambda x, approximate="none": x * scipy.stats.norm.cdf(x), {}),
                           (_gelu_tanh, {"approximate": "tanh"})],
    "nn.functional.silu": [(lambda x: x / (1 + np.exp(-x)), {})],
    "nn.functional.mish": [(lambda x: x * np.tanh(np.log(1 + np.exp(x))), {})],
    "nn.functional.hardtanh": [(lambda x, min_val=-1.0, max_val=1.0: _clamp(x, min_val, max_val), {}),
                               (lambda x, min_val, max_val: _clamp(x, min_val, max_val),
                                {"min_val": -0.5, "max_val": 2.0})],
    "nn.functional.relu6": [(lambda x: _clamp(x, 0, 6), {})],
    "nn.functional.hardsigmoid": [(_hardsigmoid, {})],
    "nn.functional.hardswish": [(lambda x: x * _hardsigmoid(x), {})],
    "nn.functional.softsign": [(lambda x: x / (1 + np.abs(x)), {})],
    "nn.functional.logsigmoid": [(lambda x: np.log(1 / (1 + np.exp(-x))), {})],
    "nn.functional.hardshrink": [(lambda x, lambd=0.5: np.where(np.abs(x) > lambd, x, 0.0), {}),
                                 (lambda x, lambd: np.where(np.abs(x) > lambd, x, 0.0), {"lambd": 1.0})],
    "nn.functional.softshrink": [(lambda x, lambd=0.5: np.sign(x) * np.maximum(np.abs(x) - lambd, 0.0), {}),
                                 (lambda x, lambd: np.sign(x) * np.maximum(np.abs(x) - lambd, 0.0), {"lambd": 1.0})],
    "nn.functional.tanhshrink": [(lambda x: x - np.tanh(x), {})],
}

CASES = [(name, i) for name in OPS for i in range(len(REFERENCES.get(name, [None])))]


def test_every_op_of_these_families_has_a_reference():
    assert set(OPS) == set(REFERENCES), "add a reference (and cases) for each new op"
    assert len(OPS) >= 50


# --- drawing valid inputs from the metadata -----------------------------------------------------

def _interval(arg, wide):
    """A finite interval inside the Arg's domain, with a margin from its ends."""
    span = 7.0 if wide else 3.0
    low, high = arg.low, arg.high
    if math.isinf(low) and math.isinf(high):
        return -span, span
    if math.isinf(high):
        return low + 0.1, low + span
    if math.isinf(low):
        return high - span, high - 0.1
    margin = 0.05 * (high - low)
    return low + margin, high - margin


def _kinks(op, params):
    return op.kinks({**op.defaults, **params}) if callable(op.kinks) else op.kinks


def _inputs(op, params, shapes, rng, dtype=np.float64, wide=False):
    """One array per input: ints for an int Arg, a mask for a bool one, floats from the domain
    (at least 0.05 away from every kink) otherwise."""
    kinks = np.array(_kinks(op, params), dtype=np.float64)
    arrays = []
    for arg, shape in zip(op.inputs, shapes):
        if arg.dtype == "bool":
            arrays.append(rng.random(shape) < 0.5)
        elif arg.dtype == "int":
            arrays.append(rng.integers(max(arg.low, 0), min(arg.high, 4), size=shape))
        else:
            low, high = _interval(arg, wide)
            x = rng.uniform(low, high, size=shape)
            while kinks.size and (near := np.abs(x[..., None] - kinks).min(axis=-1) < 0.05).any():
                x = np.where(near, rng.uniform(low, high, size=shape), x)
            arrays.append(x.astype(dtype))
    return arrays


# --- forward ------------------------------------------------------------------------------------

TOLERANCE = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-9, atol=1e-12)}


def _check_forward(name, case, dtype, shapes, seed):
    op = lucid.registry[name]
    reference, params = REFERENCES[name][case]
    arrays = _inputs(op, params, shapes, np.random.default_rng(seed), dtype, wide=True)
    out = op(*[lucid.tensor(a) for a in arrays], **params)
    expected = reference(*[a.astype(np.float64) if a.dtype == dtype else a for a in arrays], **params)
    assert out.dtype == dtype, f"{name} turned {np.dtype(dtype)} into {out.dtype}"
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,case", CASES)
def test_forward_matches_reference(name, case, dtype):
    n = lucid.registry[name].arity
    _check_forward(name, case, dtype, [(3, 4)] * n, seed=0)


@pytest.mark.parametrize("name,case", CASES)
def test_forward_broadcasts(name, case):
    shapes = [(2, 1, 4), (3, 1), (4,)][:lucid.registry[name].arity]
    _check_forward(name, case, np.float64, shapes, seed=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,case", CASES)
def test_forward_on_0d(name, case, dtype):
    _check_forward(name, case, dtype, [()] * lucid.registry[name].arity, seed=2)


@pytest.mark.parametrize("name,case", CASES)
def test_forward_on_empty(name, case):
    _check_forward(name, case, np.float32, [(0, 3)] * lucid.registry[name].arity, seed=5)


# --- derivatives --------------------------------------------------------------------------------

def _differentiable(op):
    return [i for i, arg in enumerate(op.inputs) if arg.differentiable]


@pytest.mark.parametrize("name,case", CASES)
def test_first_and_second_derivatives_match_finite_differences(name, case):
    op = lucid.registry[name]
    params = REFERENCES[name][case][1]
    arrays = _inputs(op, params, [(2, 3), (3,), (2, 1)][:op.arity], np.random.default_rng(3))
    wanted = _differentiable(op)

    def fn(*xs):  # the op as a function of its float inputs; a mask or an int n stays as drawn
        full = list(arrays)
        for i, x in zip(wanted, xs):
            full[i] = x
        return op(*full, **params)

    check_derivatives(fn, [arrays[i] for i in wanted])


# --- the conventions at corners, as PyTorch defines them ----------------------------------------

def _grad(fn, *values):
    xs = [lucid.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    out = fn(*xs)
    return [g.data for g in lucid.grad(out, xs, grad_outputs=np.ones(out.shape))]


def test_gradients_at_corners_follow_pytorch():
    F = lucid.nn.functional
    assert _grad(lucid.relu, [0.0, 1.0])[0].tolist() == [0.0, 1.0]
    assert _grad(lucid.abs, [0.0, -2.0])[0].tolist() == [0.0, -1.0]
    assert _grad(lambda x: lucid.clamp(x, -1.0, 1.0), [-1.0, 1.0, 2.0])[0].tolist() == [1.0, 1.0, 0.0]
    assert _grad(lambda x: F.hardtanh(x), [-1.0, 1.0, 0.0])[0].tolist() == [0.0, 0.0, 1.0]
    assert _grad(F.relu6, [0.0, 6.0])[0].tolist() == [0.0, 0.0]
    assert _grad(lambda x: F.leaky_relu(x, 0.1), [0.0])[0].tolist() == [0.1]
    assert _grad(lambda x: F.elu(x, alpha=2.0), [0.0])[0].tolist() == [2.0]
    assert _grad(F.hardswish, [-3.0, 3.0])[0].tolist() == [0.0, 1.0]
    assert _grad(lambda x: lucid.logit(x, eps=0.1), [0.05])[0].tolist() == [0.0]
    # xlogy is smooth in x at x = 0 (slope log y); only where y <= 0 too does PyTorch take 0.
    assert _grad(lambda x: lucid.xlogy(x, lucid.tensor([0.5, 0.0], dtype=np.float64)), [0.0, 0.0])[0].tolist() \
        == [math.log(0.5), 0.0]
    ga, gb = _grad(lucid.maximum, [1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
    assert ga.tolist() == [0.5, 1.0, 0.0] and gb.tolist() == [0.5, 0.0, 1.0]
    ga, gb = _grad(lucid.minimum, [1.0, 2.0], [1.0, 1.0])
    assert ga.tolist() == [0.5, 0.0] and gb.tolist() == [0.5, 1.0]


def test_xlogy_with_a_constant_y_computes_no_gradient_for_it():
    """x / y, y's gradient, is 0/0 at x = y = 0: a rule that computed it anyway for a constant y
    did wasted work and warned (RuntimeWarning: invalid value encountered in divide)."""
    x = lucid.tensor([0.0, 1.0], dtype=np.float64, requires_grad=True)
    y = lucid.tensor([0.0, 2.0], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lucid.xlogy(x, y).sum().backward()
    assert x.grad.tolist() == [0.0, math.log(2.0)] and y.grad is None


@pytest.mark.parametrize("name", ["mul", "div", "sub", "where", "nn.functional.mse_loss", "nn.functional.l1_loss"])
def test_a_constant_operand_gets_no_gradient_computed(name):
    """x * c, x / c, x - c, where(m, x, c), a loss against a constant target: the rules skip the
    constant's gradient (a pass over the data each: x / c's backward took twice the time at
    (1024,1024)); x's stays right."""
    a, c = np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0, -1.5])
    mask = lucid.tensor([True, False, True])
    op = lucid.registry[name]
    params = {"reduction": "none"} if "loss" in name else {}
    for grad_side in (0, 1):
        pair = [lucid.tensor(a, requires_grad=grad_side == 0), lucid.tensor(c, requires_grad=grad_side == 1)]
        args = (mask, *pair) if name == "where" else pair
        out = op(*args, **params)
        g = lucid.tensor(np.ones(3))
        with lucid.no_grad():
            grads = op.vjp(g, out, *args, **params)
        offset = len(args) - 2
        assert grads[offset + 1 - grad_side] is None  # the constant's
        (expected,) = lucid.grad(out, pair[grad_side], g)
        np.testing.assert_allclose(grads[offset + grad_side].data, expected.data)


def test_where_keeps_float32_with_a_python_number():
    x = lucid.tensor([-1.0, 2.0])
    assert lucid.where(x > 0, x, 0.0).dtype == np.float32
    assert lucid.where(x > 0, 1.0, x).dtype == np.float32


def test_where_gradient_flows_to_the_chosen_side():
    c = lucid.tensor([True, False])
    ga, gb = _grad(lambda a, b: lucid.where(c, a, b), [1.0, 2.0], [3.0, 4.0])
    assert ga.tolist() == [1.0, 0.0] and gb.tolist() == [0.0, 1.0]


def test_lerp_with_a_scalar_weight_and_no_weight_gradient():
    a, b = lucid.tensor([0.0, 2.0], requires_grad=True), lucid.tensor([4.0, 4.0], requires_grad=True)
    out = lucid.lerp(a, b, 0.25)
    assert out.dtype == np.float32 and out.tolist() == [1.0, 2.5]
    ga, gb = lucid.grad(out, [a, b], grad_outputs=np.ones(2, dtype=np.float32))
    assert ga.tolist() == [0.75, 0.75] and gb.tolist() == [0.25, 0.25]


def test_bad_input_is_named():
    with pytest.raises(lucid.OpError, match="clamp.*min.*max"):
        lucid.clamp(lucid.tensor([1.0]))
    with pytest.raises(lucid.OpError, match="where: argument 'condition' .* expected a bool tensor"):
        lucid.where(lucid.tensor([1.0]), lucid.tensor([1.0]), lucid.tensor([2.0]))
    with pytest.raises(lucid.OpError, match="sqrt.*int64.*floating"):
        lucid.sqrt(lucid.tensor([1, 2]))
    with pytest.raises(lucid.OpError, match="approximate"):
        lucid.nn.functional.gelu(lucid.tensor([1.0]), approximate="fast")
    with pytest.raises(lucid.OpError, match="polygamma: n must be a non-negative integer"):
        lucid.polygamma(-1, lucid.tensor([1.0]))


def test_relu_is_one_op_under_two_names():
    top, nn = lucid.registry["relu"], lucid.registry["nn.functional.relu"]
    assert top.forward is nn.forward and top.vjp is nn.vjp
    x = lucid.tensor([-1.0, 2.0])
    assert x.relu().tolist() == lucid.nn.functional.relu(x).tolist() == [0.0, 2.0]


def test_fused_backward_rules_write_over_their_own_temporary_only_where_it_fits():
    """tanh_backward and sigmoid_backward multiply g into the slope array they just made (one large
    temporary fewer), as log_softmax_backward does with a narrower sum; a g that broadcasts wider or
    has another dtype gets a fresh result of the right shape and dtype."""
    from lucid_ops.common import reusing
    slope = np.full((2, 3), 0.5, np.float32)
    assert reusing(slope, np.multiply, np.full((2, 3), 2, np.float32), slope) is slope
    assert reusing(slope, np.multiply, slope, np.ones((2, 1), np.float32)) is slope
    assert slope.tolist() == [[1.0] * 3] * 2
    wider = reusing(slope, np.multiply, np.ones((4, 2, 3), np.float32), slope)
    wider_dtype = reusing(slope, np.multiply, np.ones((2, 3)), slope)
    assert wider.shape == (4, 2, 3) and wider_dtype.dtype == np.float64 and slope.tolist() == [[1.0] * 3] * 2


def test_has_zero_sees_negative_zero_and_not_nan():
    """The rules test for edge points with has_zero before building a mask: -0.0 is a zero there
    (pow, norm and atan2 mask it too), NaN is not (its gradient stays NaN), and 0-d arrays count."""
    from lucid_ops.common import has_zero
    assert has_zero(np.array([1.0, -0.0], np.float32)) and has_zero(np.array(0.0))
    assert not has_zero(np.array([1.0, np.nan, -np.inf])) and not has_zero(np.array(2.0))
    assert not has_zero(np.zeros((0, 3)))


# --- against PyTorch, when it is installed -------------------------------------------------------

@pytest.mark.parametrize("name,case", CASES)
def test_matches_pytorch_value_and_gradient(name, case):
    torch = pytest.importorskip("torch")
    op = lucid.registry[name]
    params = REFERENCES[name][case][1]
    aten = torch.ops.aten  # where PyTorch keeps its fused backward ops; relu's is threshold_backward at 0
    fn = {"tanh_backward": aten.tanh_backward, "sigmoid_backward": aten.sigmoid_backward,
          "relu_backward": lambda g, y: aten.threshold_backward(g, y, 0)}.get(name, torch)
    for part in name.split(".") if fn is torch else ():
        fn = getattr(fn, part)
    arrays = _inputs(op, params, [() if a.dtype == "int" else (3, 4) for a in op.inputs], np.random.default_rng(4))
    wanted = [] if "gradient" in op.differences else _differentiable(op)  # a declared difference: values only
    # PyTorch takes polygamma's n as a Python int.
    ts = [int(a) if arg.dtype == "int" else torch.tensor(a, requires_grad=i in wanted)
          for i, (arg, a) in enumerate(zip(op.inputs, arrays))]
    expected = fn(*ts, **params)
    expected_grads = torch.autograd.grad(expected.sum(), [ts[i] for i in wanted]) if wanted else ()
    xs = [lucid.tensor(a, requires_grad=i in wanted) for i, a in enumerate(arrays)]
    out = op(*xs, **params)
    grads = lucid.grad(out, [xs[i] for i in wanted], grad_outputs=np.ones(out.shape)) if wanted else ()
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    for g, e in zip(grads, expected_grads):  # PyTorch's hardsigmoid slope is 1/6 rounded to float32
        np.testing.assert_allclose(g.data, e.numpy(), rtol=1e-7, atol=1e-12)
