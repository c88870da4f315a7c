"""Type promotion and integer/bool tensors, compared with PyTorch over a grid of operand dtypes.

Each op is called on every pair of operands drawn from: tensors with dimensions and 0-d tensors of
each dtype, and Python numbers of each kind. Where PyTorch answers, Lucid must answer with the same
dtype and values; where PyTorch refuses (bool - bool, bool % bool), Lucid must refuse with a
LucidError.
"""
import itertools
import operator

import numpy as np
import pytest

import lucid

torch = pytest.importorskip("torch")

DTYPES = ("bool", "uint8", "int32", "int64", "float32", "float64")
# Positive values, so that every dtype holds them and no divisor is 0.
VALUES = {"bool": [True, True, True], "other": [1, 5, 7]}
NUMBERS = (True, 2, 2.5)

#: name -> (Lucid's function, PyTorch's), each taking two operands.
BINARY = {
    "add": (operator.add, operator.add), "sub": (operator.sub, operator.sub), "mul": (operator.mul, operator.mul),
    "div": (operator.truediv, operator.truediv), "pow": (operator.pow, operator.pow),
    "remainder": (operator.mod, operator.mod), "floor_divide": (operator.floordiv, operator.floordiv),
    "fmod": (lucid.fmod, torch.fmod), "maximum": (lucid.maximum, torch.maximum),
    "minimum": (lucid.minimum, torch.minimum),
    "div_trunc": (lambda a, b: lucid.div(a, b, rounding_mode="trunc"),
                  lambda a, b: torch.div(a, b, rounding_mode="trunc")),
    "where": (lambda a, b: lucid.where(lucid.tensor([True, False, True]), a, b),
              lambda a, b: torch.where(torch.tensor([True, False, True]), a, b)),
    "bitwise_and": (operator.and_, operator.and_), "bitwise_or": (operator.or_, operator.or_),
    "bitwise_xor": (operator.xor, operator.xor), "bitwise_left_shift": (operator.lshift, operator.lshift),
    "bitwise_right_shift": (operator.rshift, operator.rshift),
}
#: Ops that PyTorch takes tensors only for, or a tensor first (its argument parser refuses a number there).
TENSORS_ONLY = ("maximum", "minimum", "where")
FIRST_A_TENSOR = ("fmod",)
#: Calls where PyTorch's answer comes from its argument parser, not from its promotion or kernels:
#: a Python True is a number like 1 in Lucid (x - True is x - 1), which PyTorch refuses for sub and
#: fmod and special-cases as the exponent 1 for pow (bool_tensor ** True is the bool tensor itself).
NOT_COMPARED = {("sub", "bool True"), ("fmod", "bool True"), ("pow", "bool dims", "bool True"),
                ("pow", "bool 0-d", "bool True")}


def _operands():
    """(label, Lucid operand, PyTorch operand) for each tensor dtype and shape, and each Python number."""
    for dtype, shape in itertools.product(DTYPES, ("dims", "0-d")):
        values = np.array(VALUES["bool" if dtype == "bool" else "other"], dtype=dtype)
        values = values if shape == "dims" else values[1]
        yield f"{dtype} {shape}", lucid.tensor(values), torch.tensor(values)
    for number in NUMBERS:
        yield f"{type(number).__name__} {number}", number, number


OPERANDS = list(_operands())


def _outcome(fn, a, b):
    try:
        return fn(a, b), None
    except Exception as error:  # PyTorch's refusals are RuntimeError or TypeError
        return None, error


@pytest.mark.parametrize("name", BINARY)
def test_dtype_and_values_match_pytorch_over_the_grid(name):
    ours, theirs = BINARY[name]
    checked = 0
    for (label_a, la, ta), (label_b, lb, tb) in itertools.product(OPERANDS, repeat=2):
        numbers = (not isinstance(la, lucid.Tensor)) + (not isinstance(lb, lucid.Tensor))
        if numbers == 2 or (numbers and name in TENSORS_ONLY) or (name in FIRST_A_TENSOR and la is ta):
            continue
        if {(name, label_a, label_b), (name, label_a), (name, label_b)} & NOT_COMPARED:
            continue
        expected, refusal = _outcome(theirs, ta, tb)
        where = f"{name}({label_a}, {label_b})"
        if refusal is not None:
            with pytest.raises(lucid.LucidError):
                ours(la, lb)
            continue
        got = ours(la, lb)
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch."), where
        np.testing.assert_allclose(got.data, expected.numpy(), rtol=1e-6, err_msg=where)
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize("name", ["remainder", "floor_divide", "fmod", "div_trunc", "bitwise_right_shift"])
def test_signed_integers_round_as_pytorch(name):
    ours, theirs = BINARY[name]
    a, b = np.array([-7, 7, -7, 7, 0, -1]), np.array([2, 2, -2, -2, 3, 1])
    for dtype in ("int32", "int64") + (() if name.startswith("bitwise") else ("float32", "float64")):
        expected = theirs(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype)))
        got = ours(lucid.tensor(a.astype(dtype)), lucid.tensor(b.astype(dtype)))
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.data, expected.numpy())


def test_the_issues_examples():
    assert (lucid.tensor([3, 4, 5]) / 2).dtype == np.float32
    assert (lucid.tensor(1) + 0.5).dtype == np.float32
    assert (lucid.tensor([1, 2]) + lucid.ones(2, dtype=lucid.float32)).dtype == np.float32  # int64 + float32


@pytest.mark.parametrize("dividend", [[5, 7], [True, False]])
def test_integer_division_by_zero_is_refused(dividend):
    """PyTorch raises ZeroDivisionError where NumPy answers 0 with a warning."""
    for fn in (operator.mod, operator.floordiv, lucid.fmod, lambda a, b: lucid.div(a, b, rounding_mode="floor")):
        with pytest.raises(lucid.LucidError, match="division by zero|bool"):
            fn(lucid.tensor(dividend), lucid.tensor([1, 0]))


def test_shifts_past_the_width_match_pytorch():
    a = np.array([5, -5, 1, -1], dtype=np.int32)
    for count in (-1, 0, 3, 31, 32, 40):
        for shift in (operator.lshift, operator.rshift):
            expected = shift(torch.tensor(a), count)
            np.testing.assert_array_equal(shift(lucid.tensor(a), count).data, expected.numpy())


@pytest.mark.parametrize("dtype", ["bool", "int64"])
def test_bitwise_not_and_triangles_take_integers_and_bools(dtype):
    values = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype)
    np.testing.assert_array_equal((~lucid.tensor(values)).data, (~torch.tensor(values)).numpy())
    for part in ("tril", "triu"):
        got = getattr(lucid, part)(lucid.tensor(values), 1)
        assert got.dtype == values.dtype
        np.testing.assert_array_equal(got.data, getattr(torch, part)(torch.tensor(values), 1).numpy())


def test_bitwise_ops_refuse_floats_and_are_not_differentiated():
    with pytest.raises(lucid.LucidError, match="integer or bool"):
        lucid.bitwise_and(lucid.ones(2), lucid.tensor([1, 1]))
    x = lucid.ones(2, requires_grad=True)
    with pytest.raises(lucid.LucidError):
        x & 1


@pytest.mark.parametrize("name,call", [
    ("matmul", lambda a, b: a @ b), ("mm", lucid.mm), ("bmm", lambda a, b: lucid.bmm(a[None], b[None])),
    ("addmm", lambda a, b: lucid.addmm(a, b, b)), ("cross", lambda a, b: lucid.cross(a, b, dim=0)),
    ("cdist", lucid.cdist), ("tensordot", lucid.tensordot), ("dot", lambda a, b: lucid.dot(a[0], b[0])),
    ("lerp", lambda a, b: lucid.lerp(a, b, 0.5)), ("nn.functional.linear", lucid.nn.functional.linear),
])
def test_ops_that_pytorch_refuses_to_promote_refuse_mixed_dtypes(name, call):
    a, b = lucid.ones(3, 3, dtype=lucid.float32), lucid.ones(3, 3, dtype=lucid.float64)
    with pytest.raises(lucid.LucidError, match=f"{name}: expected its inputs to have the same dtype"):
        call(a, b)
    assert call(a, a.to(lucid.float32)).dtype == np.float32


def test_the_default_dtype_reaches_factories_layers_and_promotion():
    assert lucid.get_default_dtype() == np.float32
    lucid.set_default_dtype(lucid.float64)
    try:
        assert lucid.get_default_dtype() == np.float64
        assert lucid.tensor([1.5]).dtype == lucid.zeros(2).dtype == lucid.rand(2).dtype == np.float64
        assert lucid.arange(0.0, 1.0, 0.5).dtype == lucid.full((2,), 1.5).dtype == np.float64
        assert lucid.nn.Linear(2, 3).weight.dtype == np.float64
        assert (lucid.tensor([3, 4]) / 2).dtype == (lucid.tensor([3, 4]) + 0.5).dtype == np.float64
        assert (lucid.ones(2, dtype=lucid.float32) * 2.5).dtype == np.float32  # a number never widens
    finally:
        lucid.set_default_dtype(lucid.float32)
    assert lucid.zeros(2).dtype == np.float32
    with pytest.raises(lucid.LucidError, match="set_default_dtype"):
        lucid.set_default_dtype(lucid.int64)


def test_a_promoted_input_gets_its_gradient_in_its_own_dtype():
    x = lucid.ones(3, dtype=lucid.float32, requires_grad=True)
    y = lucid.tensor(np.full(3, 2.0), requires_grad=True)  # float64
    (x * y).sum().backward()
    assert (x * y).dtype == np.float64
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2, 2, 2])


@pytest.mark.parametrize("operands,expected", [
    (("float32 dims", "float64 0-d"), "float32"), (("int32 dims", "float64 0-d"), "float64"),
    (("int64 dims", "float32 dims"), "float32"), (("bool dims", "int 2"), "int64"),
    (("uint8 dims", "float 2.5"), "float32"), (("float32 0-d", "int64 dims"), "float32"),
])
def test_result_type_matches_pytorch(operands, expected):
    by_label = {label: (ours, theirs) for label, ours, theirs in OPERANDS}
    ours = [by_label[label][0] for label in operands]
    theirs = [by_label[label][1] for label in operands]
    assert str(lucid.result_type(*ours)) == expected == str(torch.result_type(*theirs)).removeprefix("torch.")
