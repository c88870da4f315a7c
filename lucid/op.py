"""What an op plugin supplies: a forward, its local derivative, and where its inputs are valid.

An `Op` is data. The engine (`lucid.tensor`) only calls `forward` and `vjp`; the verification
harness reads the rest (`inputs`, `params`, `shapes`, `sample`, `kinks`, `ties`) to draw inputs
on which the derivative must agree with finite differences. One entry per op, for example::

    log = Op("log", np.log, lambda g, out, x: (g / x,), inputs=(Arg("input", low=0),))
"""
from __future__ import annotations

import collections
import functools
import inspect
import math
import numbers
import re
import reprlib
from dataclasses import dataclass, field
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, cast

import numpy as np

from .errors import OpError
from .tensor import apply

Shape = tuple[int, ...]

#: How an argument's valid values are constrained beyond an interval. The harness knows each.
STRUCTURES = {
    "": "no structure",
    "spd": "square symmetric positive-definite matrices (batched over leading dims)",
    "invertible": "square well-conditioned matrices (batched over leading dims)",
    "square": "any square matrices, singular ones too: the op is differentiable there (batched over leading dims)",
    "full rank": "matrices of any shape with distinct, well-separated singular values (batched over leading dims)",
}


# A gufunc signature, as NumPy and hypothesis write it: "(m,n),(n,p)->(m,p)". A dimension is a name
# or a fixed size, `?` marks an optional one; at most 32 dimensions per argument, as in NumPy.
_DIMENSION = r"\w+\??"
_CORE = rf"\((?:{_DIMENSION}(?:,{_DIMENSION}){{0,31}})?\)"
_ARGUMENTS = rf"{_CORE}(?:,{_CORE})*"
_SIGNATURE = re.compile(rf"{_ARGUMENTS}->{_ARGUMENTS}")


class Signature(NamedTuple):
    """A parsed gufunc signature: the core dimensions of each input and of each output."""

    inputs: tuple[tuple[str, ...], ...]
    outputs: tuple[tuple[str, ...], ...]


def parse_signature(text: str) -> Signature:
    """'(m,n),(n,p)->(m,p)' -> Signature(inputs=(('m', 'n'), ('n', 'p')), outputs=(('m', 'p'),)).

    Spaces are ignored. Raises ValueError, saying why, for text that is no signature, a fixed size
    marked optional ("3?": ambiguous) or an output dimension that no input determines."""
    compact = re.sub(r"\s+", "", text) if isinstance(text, str) else ""
    if not _SIGNATURE.fullmatch(compact):
        raise ValueError(f"{text!r} is not a gufunc signature such as '(m,n),(n,p)->(m,p)'")
    inputs, outputs = (tuple(tuple(re.findall(_DIMENSION, core)) for core in re.findall(_CORE, side))
                       for side in compact.split("->"))
    named_in = {name.rstrip("?") for core in inputs for name in core}
    for name in (name for core in inputs + outputs for name in core):
        if name.rstrip("?").isdigit() and name.endswith("?"):
            raise ValueError(f"{text!r}: a fixed size cannot be optional ({name!r})")
        if not name.rstrip("?").isdigit() and name.rstrip("?") not in named_in:
            raise ValueError(f"{text!r}: output dimension {name!r} is in no input, so nothing sets its size")
    return Signature(inputs, outputs)


@dataclass(frozen=True)
class Arg:
    """One tensor input of an op and the values it may take.

    `low`/`high` bound an open interval; the harness keeps a margin inside it. `dtype` is
    "float" (integers are rejected with a clear error), "any" (integers and bools pass
    through, as in arithmetic or shape ops), "number" (as "any", bools refused: PyTorch's sub),
    "int", "bool" or "integral" (an int or a bool, as bitwise ops take; these three are never
    differentiated).
    An `optional` input may be None (a missing bias, say). A `mutable` input is one the op updates
    in place on purpose (batch_norm's running statistics): the harness does not count that as a bug.
    An input that is not `promoted` keeps its own dtype beside the others' (cross_entropy's target:
    class indices or probabilities), where the others are cast to one (`Op.same_dtype`).
    """

    name: str = "input"
    low: float = -math.inf
    high: float = math.inf
    dtype: str = "float"
    structure: str = ""
    optional: bool = False
    mutable: bool = False
    promoted: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in ("any", *DTYPE_KINDS):
            raise OpError(f"Arg {self.name!r}: dtype must be float, any, number, int, bool or integral, "
                          f"got {self.dtype!r}")
        if self.structure not in STRUCTURES:
            raise OpError(f"Arg {self.name!r}: structure must be one of {sorted(STRUCTURES)}, got {self.structure!r}")
        if not self.low < self.high:
            raise OpError(f"Arg {self.name!r}: empty domain ({self.low}, {self.high})")

    @property
    def differentiable(self) -> bool:
        return self.dtype in DIFFERENTIABLE


#: The NumPy dtype kinds (`dtype.kind`) an input of each declared dtype takes; "any" takes all.
DTYPE_KINDS = {"float": "fc", "number": "iufc", "int": "iu", "bool": "b", "integral": "biu"}
#: The declared dtypes whose inputs may require grad.
DIFFERENTIABLE = ("float", "any", "number")

#: The aspects an op may declare as deliberately different from PyTorch (`Op.differences`).
DIFFERENCES = ("values", "float32 values", "dtype", "gradient", "second order", "nan gradient", "edges",
               "evaluation order", "summation order", "negative zero", "inputs")

#: NumPy's names that PyTorch's argument parser also takes for its own: `sum(x, axis=0, keepdims=True)`.
ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def pytorch_names(kwargs: Mapping[str, Any], names: Collection[str], where: str) -> dict[str, Any]:
    """`kwargs` with each NumPy name (ALIASES) renamed to PyTorch's where the function takes that
    name, as PyTorch does; the one mechanism behind ops' and plain functions' `axis=`."""
    renamed: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, value in kwargs.items():
        name = key if key in names or ALIASES.get(key) not in names else ALIASES[key]
        if name in renamed:
            raise OpError(f"{where}: got argument {name!r} twice (as {spelled[name]!r} and {key!r})")
        renamed[name], spelled[name] = value, key
    return renamed


def takes_pytorch_names(function: Callable) -> Callable:
    """A plain function (not an op) that also takes NumPy's names for its arguments (ALIASES)."""
    names = frozenset(inspect.signature(function).parameters)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.keys() - names:
            kwargs = pytorch_names(kwargs, names, function.__name__)
        return function(*args, **kwargs)

    return wrapper


REQUIRED: Any = type("REQUIRED", (), {"__repr__": lambda self: "REQUIRED"})()

#: Valid values of a parameter: a tuple, or a function of the input shapes giving a tuple.
Choices = tuple | Callable[[Sequence[Shape]], tuple]


#: What a param's `kind` promises about its values, as PyTorch's argument parser checks them.
#: `apply` refuses a value of another type for the first four; the op itself checks that a dim is
#: in range (`one_axis`, `axes`). The harness draws values of every other kind to check that the
#: op refuses them (`gradcheck.invalid`).
KINDS = {
    "": "anything the op checks itself",
    "bool": "True or False",
    "int": "an int (not a bool)",
    "number": "an int or a float",
    "choice": "one of the param's choices (strings)",
    "dim": "one axis of the input, an int in range",
    "dims": "None, one axis, or a sequence of axes",
}
_INTS = frozenset({int, *(np.dtype(code).type for code in np.typecodes["AllInteger"])})
#: The Python and NumPy types each checked kind accepts: exact types, one set lookup per value.
KIND_TYPES = {
    "bool": frozenset({bool}),  # not np.bool_: NumPy's keepdims refuses it
    "int": _INTS,
    "number": _INTS | {bool, float, *(np.dtype(code).type for code in np.typecodes["Float"])},
    "choice": frozenset({str}),
}


@dataclass(frozen=True)
class Param:
    """A non-tensor argument (`dim`, `keepdim`, `shape`...), its default, its valid choices (those
    the harness draws) and its `kind` (see KINDS). None is valid where the default is None."""

    name: str
    default: Any = REQUIRED
    choices: Choices = ()
    kind: str = ""
    types: frozenset | None = field(init=False, repr=False, compare=False)  # what apply accepts, if it checks

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise OpError(f"Param {self.name!r}: kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        if self.kind == "choice" and (callable(self.choices) or not self.choices
                                      or not all(isinstance(c, str) for c in self.choices)):
            raise OpError(f"Param {self.name!r}: a choice param needs its choices, a tuple of strings")
        types = KIND_TYPES.get(self.kind)
        if types is not None and self.default is None:
            types = types | {type(None)}
        object.__setattr__(self, "types", types)
        if not self.accepts(self.default) and self.default is not REQUIRED:
            raise OpError(f"Param {self.name!r}: its default {self.default!r} is not {self.expected}")

    @property
    def expected(self) -> str:
        """What a valid value is, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(map(repr, cast(tuple, self.choices)))
        return KINDS[self.kind] + (" or None" if self.default is None else "")

    def accepts(self, value: Any) -> bool:
        """Whether `value` has the type this param's kind allows (and is a choice, for a choice);
        the op checks the rest (a dim's range)."""
        if self.types is not None and type(value) not in self.types:
            return False
        return self.kind != "choice" or value is None or value in cast(tuple, self.choices)

    def choices_for(self, shapes: Sequence[Shape]) -> tuple:
        return tuple(self.choices(shapes)) if callable(self.choices) else tuple(self.choices)


def dims(shapes: Sequence[Shape]) -> tuple:
    """None, each axis of the first input (negative too; a 0-d input has 0 and -1, as in PyTorch),
    and, with 2+ axes, a pair of axes."""
    ndim = len(shapes[0])
    axes = tuple(range(-max(ndim, 1), max(ndim, 1)))
    return (None, *axes) + (((0, -1),) if ndim >= 2 else ())


def dim(shapes: Sequence[Shape]) -> tuple:
    """Each axis of the first input, negative too (a 0-d input has the axes 0 and -1, as in PyTorch)."""
    ndim = max(len(shapes[0]), 1)
    return tuple(range(-ndim, ndim))


def one_axis(op: str, dim: Any, ndim: int, new: bool = False) -> int:
    """One PyTorch `dim` as a non-negative NumPy axis, or an error naming the op, the dim and the
    ndim. A 0-d tensor accepts dim 0 and -1, as in PyTorch; with new=True, `dim` is where a new
    axis goes (unsqueeze, stack), one of ndim + 1 places."""
    size = ndim + 1 if new else max(ndim, 1)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise OpError(f"{op}: dim must be an int, got {dim!r}")
    if not -size <= dim < size:
        raise OpError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
                      f"(expected a dim in [{-size}, {size - 1}])")
    return int(dim) % size


def axes(op: str, dim: Any, ndim: int) -> tuple[int, ...]:
    """`dim` (None for every axis, an int, or a sequence of ints) as sorted non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if not isinstance(dim, (int, np.integer, Sequence)) or isinstance(dim, str):
        raise OpError(f"{op}: dim must be an int or a sequence of ints, got {dim!r}")
    result = [one_axis(op, d, ndim) for d in ((dim,) if isinstance(dim, (int, np.integer)) else dim)]
    if len(set(result)) != len(result):
        raise OpError(f"{op}: dim {dim} names the same axis twice")
    return tuple(sorted(a for a in result if a < ndim))


class Draw(Protocol):
    """How an op's `sample` asks for random choices. The harness implements it on hypothesis,
    so every choice replays and shrinks; ops never import the harness.

    `edges` is True when the call is for a comparison with a reference (the oracle check), which
    may ask where the op has no derivative, only a convention: a sample may then draw such calls
    too (an embedding's `padding_idx`)."""

    edges: bool

    def integer(self, low: int, high: int) -> int: ...  # low <= n <= high
    def choice(self, options: Sequence[Any]) -> Any: ...
    def boolean(self) -> bool: ...
    def shape(self, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Shape: ...
    def indices(self, shape: Shape, high: int) -> np.ndarray: ...  # int64 values in [0, high)
    def mask(self, shape: Shape) -> np.ndarray: ...  # bool values


@dataclass(frozen=True)
class Example:
    """One valid call of an op, as drawn by its `sample`: each input is a shape (the harness fills
    it with values from the matching `Arg`'s domain), an array used as it is, or None."""

    inputs: tuple
    params: Mapping[str, Any] = field(default_factory=dict)


def _named_tuple(name: str, fields: tuple[str, ...]) -> Callable[[Iterable], tuple]:
    """How a NamedTuple class `name` with `fields` is made from an iterable (its `_make`): the
    type of an op's results where PyTorch names them, like torch.return_types.sort."""
    factory: Any = collections.namedtuple  # a name known only at run time, which mypy cannot follow
    return factory(name, fields)._make


@dataclass(frozen=True)
class Op:
    """A differentiable op.

    - `forward(*arrays, **params)` computes the output from NumPy arrays (a tuple if `outputs > 1`).
    - `vjp(g, out, *inputs, **params)` returns one gradient per input (None where there is none),
      given the output's gradient `g`. Written with Lucid ops on Tensors it is itself
      differentiable; a rule that returns NumPy arrays serves first-order gradients only.
      For several outputs, `g` and `out` are tuples. Inputs that do not require grad may be
      answered with None, so expensive rules can skip them (`x.requires_grad`).
    - `shapes` relates the input shapes: "elementwise" (they broadcast together) or a gufunc
      signature such as "(m,n),(n,p)->(m,p)" (loop dimensions broadcast; `?` marks optional dims).
      An op whose valid inputs relate in other ways gives `sample(draw) -> Example` instead.
    - `kinks` are input values where the op is not differentiable (a tuple, or a function of the
      params); `ties` says that equal values among its inputs are such points (max, sort...).
    - `outputs > 1`: forward returns a tuple (split and chunk return as many as their params ask).
    - `output_names` names each output where PyTorch returns a named tuple: ("values", "indices")
      for sort and max(x, dim). A caller then gets a NamedTuple of that op's name (`.values`).
    - `residuals = k` (JAX's word): forward returns `(result, r1, ..., rk)`, arrays it computed anyway
      and that its vjp reuses instead of recomputing (cross_entropy's softmax). A caller sees only
      the result. The vjp gets `out = (result, r1, ...)` and `g = (g_result, g_r1, ...)`: the
      residuals are outputs of the op like any other, so a second-order backward that goes through
      them sends them a gradient (None otherwise), and the harness checks that part too.
    - `signature` is PyTorch's positional order when it puts params among the inputs:
      ("input", "dim", "index") for gather, ("equation", "*operands") for einsum, where "*"
      collects the remaining positional arguments; the names after a "*name", or after a bare
      "*", are keyword-only, as in Python: ("input", "dim", "index", "source", "*", "alpha").
      Without it: inputs first, then params.
    - `reference(*arrays, **params)` is a trusted forward on NumPy arrays (SciPy's erf for erf),
      if one exists: the harness's oracle check compares the op's values with it.
    - `differences` names the aspects in which the op deliberately differs from PyTorch, each
      with its reason: {"values": "...", "float32 values": "...", "dtype": "...", "gradient": "...",
      "second order": "...", "nan gradient": "...", "edges": "...", "evaluation order": "...",
      "summation order": "...", "negative zero": "...", "inputs": "..."}. The oracle check leaves
      exactly those aspects out ("float32 values": the values for float32 inputs, where PyTorch's vectorized float32
      kernel answers otherwise than its float64 and scalar ones; "nan gradient": the gradients on
      an input where the result has a NaN; "edges": it draws no special values; "evaluation
      order": no infinities, NaN or huge values, where the answer depends on the order of the
      products and sums, as 0 * inf and 1e30 - 1e30 + x do; "summation order": no huge or tiny
      values, for an op whose answer depends only on the order of its sums (infinities and NaN do not);
      "negative zero": no -0.0, where PyTorch's answer depends on where the entry falls;
      "inputs": Lucid accepts inputs that PyTorch refuses).
    - `same_dtype`: the inputs declared "float", "any", "number" or "integral" must share one dtype, and a
      call that mixes them is refused, as PyTorch refuses matmul(float32, float64). Otherwise they
      are cast to their `lucid.dtypes.result_type` before the forward runs (PyTorch's promotion).
    """

    name: str
    forward: Callable[..., Any]
    vjp: Callable[..., tuple]
    inputs: tuple[Arg, ...] = (Arg(),)
    params: tuple[Param, ...] = ()
    shapes: str = "elementwise"
    sample: Callable[[Draw], Example] | None = None
    kinks: tuple[float, ...] | Callable[[Mapping[str, Any]], tuple[float, ...]] = ()
    ties: bool = False
    outputs: int = 1
    residuals: int = 0
    output_names: tuple[str, ...] = ()
    variadic: bool = False  # takes one sequence of tensors (cat, stack), each described by inputs[0]
    signature: tuple[str, ...] = ()
    reference: Callable[..., Any] | None = None
    differences: Mapping[str, str] = field(default_factory=dict)
    same_dtype: bool = False
    # Derived once here, so that calling the op never inspects the metadata again.
    defaults: Mapping[str, Any] = field(init=False, repr=False, compare=False)
    typed_inputs: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)  # (i, dtype kinds)
    promoted: tuple[int, ...] = field(init=False, repr=False, compare=False)  # inputs computed in one dtype
    param_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    required_inputs: int = field(init=False, repr=False, compare=False)  # before the trailing optional ones
    one_output: bool = field(init=False, repr=False, compare=False)  # no tuples: not several outputs, no residuals
    # makes what a caller gets of several outputs: tuple, or the NamedTuple of the output_names
    result_type: Callable[[Iterable], tuple] = field(init=False, repr=False, compare=False)
    positional: int = field(init=False, repr=False, compare=False)  # inputs a plain call takes by position (-1: none)
    param_set: frozenset = field(init=False, repr=False, compare=False)
    # (name, types, choices) of the params of a declared kind, whose values apply checks
    checked_params: tuple[tuple[str, frozenset, frozenset], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not all(part.isidentifier() for part in self.name.split(".")):
            raise OpError(f"an Op's name must be Python names joined by dots (`lucid.ops.<name>` reaches it), "
                          f"got {self.name!r}")
        for role in ("forward", "vjp"):
            if not callable(getattr(self, role)):
                raise OpError(f"op {self.name!r}: {role} must be callable, got {getattr(self, role)!r}")
        if not self.inputs or not all(isinstance(a, Arg) for a in self.inputs):
            raise OpError(f"op {self.name!r}: inputs must be a non-empty tuple of Arg")
        if not all(isinstance(p, Param) for p in self.params):
            raise OpError(f"op {self.name!r}: params must be a tuple of Param")
        self._check_metadata()
        names = [a.name for a in self.inputs] + [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise OpError(f"op {self.name!r}: argument names repeat: {names}")
        if self.signature and sorted(n.lstrip("*") for n in self.signature if n != "*") != sorted(names):
            raise OpError(f"op {self.name!r}: signature {self.signature} must name each of {names} once")
        if self.residuals and self.outputs != 1:
            raise OpError(f"op {self.name!r}: residuals are for single-output ops, got outputs={self.outputs}")
        object.__setattr__(self, "defaults", {p.name: p.default for p in self.params if p.default is not REQUIRED})
        object.__setattr__(self, "typed_inputs", tuple((i, DTYPE_KINDS[a.dtype]) for i, a in enumerate(self.inputs)
                                                     if a.dtype in DTYPE_KINDS))
        object.__setattr__(self, "promoted", tuple(i for i, a in enumerate(self.inputs)
                                                   if a.promoted and a.dtype in (*DIFFERENTIABLE, "integral")))
        object.__setattr__(self, "param_names", tuple(p.name for p in self.params))
        object.__setattr__(self, "one_output", self.outputs == 1 and not self.residuals)
        object.__setattr__(self, "result_type", _named_tuple(self.name.replace(".", "_"), self.output_names)
                           if self.output_names else tuple)
        object.__setattr__(self, "positional", -1 if self.variadic or self.signature else len(self.inputs))
        object.__setattr__(self, "param_set", frozenset(self.param_names))
        checked = tuple((p.name, p.types, frozenset(cast(tuple, p.choices) if p.kind == "choice" else ()))
                        for p in self.params if p.types is not None)
        object.__setattr__(self, "checked_params", checked)
        required = len(self.inputs)
        while required and self.inputs[required - 1].optional:
            required -= 1
        object.__setattr__(self, "required_inputs", required)

    def _check_metadata(self) -> None:
        """What the harness and the engine read besides the functions: wrong here, it would fail
        far from its cause (an output count the engine trusts, a signature hypothesis rejects)."""
        def fail(attribute: str, expected: str) -> OpError:
            return OpError(f"op {self.name!r}: {attribute} must be {expected}, got {getattr(self, attribute)!r}")

        for attribute, least in (("outputs", 1), ("residuals", 0)):
            value = getattr(self, attribute)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
                raise fail(attribute, f"an int >= {least}")
        if self.output_names and (len(self.output_names) != self.outputs or not all(
                isinstance(n, str) and n.isidentifier() for n in self.output_names)):
            raise fail("output_names", f"a name (an identifier) for each of the {self.outputs} outputs")
        for attribute in ("ties", "variadic", "same_dtype"):
            if not isinstance(getattr(self, attribute), bool):
                raise fail(attribute, "True or False")
        if not callable(self.kinks) and not (isinstance(self.kinks, tuple) and all(
                isinstance(k, numbers.Real) and not isinstance(k, bool) for k in self.kinks)):
            raise fail("kinks", "a tuple of numbers or a function of the params giving one")
        if self.sample is not None and not callable(self.sample):
            raise fail("sample", "a function of a Draw, or None")
        if self.reference is not None and not callable(self.reference):
            raise fail("reference", "a function of NumPy arrays, or None")
        if not isinstance(self.differences, Mapping) or not set(self.differences) <= set(DIFFERENCES) or not all(
                isinstance(why, str) and why for why in self.differences.values()):
            raise fail("differences", f"a mapping of aspects ({', '.join(DIFFERENCES)}) to the reason for each")
        if not isinstance(self.signature, tuple) or not all(isinstance(n, str) for n in self.signature):
            raise fail("signature", "a tuple of argument names")
        if self.shapes != "elementwise":
            try:
                signature = parse_signature(self.shapes)
            except ValueError as error:
                raise OpError(f"op {self.name!r}: shapes must be 'elementwise' or a gufunc signature: {error}") \
                    from None
            if len(signature.inputs) != len(self.inputs) or len(signature.outputs) != self.outputs:
                raise OpError(f"op {self.name!r}: shapes {self.shapes!r} relates {len(signature.inputs)} inputs "
                              f"and {len(signature.outputs)} outputs, but the op has {len(self.inputs)} inputs "
                              f"and outputs={self.outputs}")

    @property
    def arity(self) -> int:
        return len(self.inputs)

    def __call__(self, *args: Any, **kwargs: Any):
        """Call the op on Tensors (or arrays and numbers), PyTorch-style: inputs first, then params."""
        n = self.positional
        if len(args) == n and kwargs.keys() <= self.param_set:  # the commonest call: x, or x and params by name
            return apply(self, args, kwargs)
        if n >= 0 and self.required_inputs <= len(args) <= n + len(self.param_names):
            if not kwargs and len(args) >= n:  # inputs, then params by position
                return apply(self, args[:n], dict(zip(self.param_names, args[n:])))
            inputs = args[:n] + (None,) * (n - len(args))  # optional inputs left out at the end are None
            params = dict(zip(self.param_names, args[n:]))
            if kwargs.keys() <= self.param_set and not kwargs.keys() & params.keys():
                return apply(self, inputs, {**params, **kwargs})  # params also by name
        if not kwargs.keys().isdisjoint(ALIASES):  # sum(x, axis=1): PyTorch's names, then the calls above
            renamed = pytorch_names(kwargs, self.param_set, self.name)
            if renamed.keys() != kwargs.keys():
                return self(*args, **renamed)
        return apply(self, *self._bind(args, kwargs))

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse, naming the op and the param, a value that the param's declared kind does not allow."""
        for param in self.params:
            value = params.get(param.name, param.default)
            if value is not REQUIRED and not param.accepts(value):
                raise OpError(f"{self.name}: argument {param.name!r} must be {param.expected}, "
                              f"got {reprlib.repr(value)} ({type(value).__name__})")

    def _bind(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Sort a call's arguments into inputs and params the way Python would bind them."""
        order = self.signature or (*(a.name for a in self.inputs[:1 if self.variadic else None]), *self.param_names)
        names = [name.lstrip("*") for name in order if name != "*"]
        given: dict[str, Any] = {}
        for k, name in enumerate(order):
            if name == "*":  # the rest are keyword-only
                if len(args) > k:
                    raise OpError(f"{self.name}: takes {k} positional arguments ({', '.join(names[:k])}), "
                                  f"got {len(args)}")
                break
            if name.startswith("*"):  # the rest of the positional arguments, or one sequence of them
                rest = args[k:]
                if rest:
                    given[names[k]] = rest[0] if len(rest) == 1 and isinstance(rest[0], (list, tuple)) else rest
                break
            if k < len(args):
                given[name] = args[k]
        else:
            if len(args) > len(order):
                raise OpError(f"{self.name}: takes {len(order)} arguments ({', '.join(names)}), got {len(args)}")
        for key, value in kwargs.items():  # NumPy's names were renamed by __call__ (no input is named dim)
            if key in given:
                raise OpError(f"{self.name}: got argument {key!r} twice")
            if key not in names:
                raise OpError(f"{self.name}: unexpected argument {key!r}; it takes {', '.join(names)}")
            given[key] = value
        if self.variadic:
            sequence = given.pop(self.inputs[0].name, None)
            if not isinstance(sequence, (list, tuple)):
                raise OpError(f"{self.name}: expected a sequence of tensors as {self.inputs[0].name!r}")
            inputs = tuple(sequence)
        else:
            listed = []
            for a in self.inputs:
                if a.name in given:
                    listed.append(given.pop(a.name))
                elif a.optional:
                    listed.append(None)
                else:
                    raise OpError(f"{self.name}: missing input {a.name!r}")
            inputs = tuple(listed)
        missing = [p.name for p in self.params if p.default is REQUIRED and p.name not in given]
        if missing:
            raise OpError(f"{self.name}: missing argument(s) {', '.join(map(repr, missing))}")
        return inputs, given
