"""Recurrent layers: RNN, LSTM, GRU and their one-step cells, with PyTorch's parameters.

Each is a loop over time of one step, written with verified ops (`linear`, `sigmoid`, `tanh`), so
backward through time is the engine's ordinary backward. Parameter names, shapes, gate order and
initialisation are PyTorch's (`weight_ih_l0`, `weight_hh_l1_reverse`...; gates i, f, g, o for the
LSTM and r, z, n for the GRU; every weight uniform in ±1/sqrt(hidden_size)), so a PyTorch state_dict
loads as it is. The input projection of all time steps is one `linear` call before the loop.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..creation import check_count, zeros
from ..errors import OpError
from ..tensor import Tensor
from ..plugins import ops
from . import functional as F
from . import init
from .layers import _new_parameter, check_dtype_matches, check_input
from .module import Module

State = Any  # h, or (h, c) for the LSTM


def _rnn_step(activation: Callable[[Tensor], Tensor]) -> Callable[..., tuple[Tensor, State]]:
    def step(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
        h = activation(x_proj + F.linear(h, w_hh, b_hh))
        return h, h
    return step


def _lstm_step(x_proj: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor | None
               ) -> tuple[Tensor, State]:
    """Gates i, f, g, o (PyTorch's order): c' = f c + i g, h' = o tanh(c')."""
    h, c = state
    i, f, g, o = (x_proj + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = i.sigmoid() * g.tanh() + f.sigmoid() * c
    h = o.sigmoid() * c.tanh()
    return h, (h, c)


def _gru_step(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, State]:
    """Gates r, z, n: n = tanh(x_n + r (W_hn h + b_hn)), h' = (1 - z) n + z h, as PyTorch has it."""
    x_r, x_z, x_n = x_proj.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return n + z * (h - n), n + z * (h - n)


_TANH = _rnn_step(lambda x: x.tanh())
_RELU = _rnn_step(F.relu)
#: mode -> (gates per hidden unit, one step)
_MODES: dict[str, tuple[int, Callable[..., tuple[Tensor, State]]]] = {
    "RNN_TANH": (1, _TANH), "RNN_RELU": (1, _RELU), "LSTM": (4, _lstm_step), "GRU": (3, _gru_step)}


def _rnn_mode(nonlinearity: str, where: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise OpError(f"{where}: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class RNNBase(Module):
    """The multi-layer, optionally bidirectional loop shared by RNN, LSTM and GRU.

    Input (L, N, input_size), or (N, L, input_size) with batch_first, or (L, input_size) unbatched;
    initial state (num_layers * directions, N, hidden_size), zeros if not given. Returns the last
    layer's outputs (both directions side by side) and the final state of every layer and direction."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        for count, what in ((input_size, "input_size"), (hidden_size, "hidden_size"), (num_layers, "num_layers")):
            check_count(count, what, name)
        if num_layers < 1 or hidden_size < 1:
            raise OpError(f"{name}: hidden_size and num_layers must be at least 1, got {hidden_size}, {num_layers}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise OpError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        gates = _MODES[mode][0] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes(layer):
                setattr(self, f"weight_ih{suffix}", _new_parameter((gates, layer_input), dtype, name))
                setattr(self, f"weight_hh{suffix}", _new_parameter((gates, hidden_size), dtype, name))
                for role in ("ih", "hh"):
                    self.register_parameter(f"bias_{role}{suffix}",
                                            _new_parameter((gates,), dtype, name) if bias else None)
        self.reset_parameters()

    def _suffixes(self, layer: int) -> tuple[str, ...]:
        return (f"_l{layer}", f"_l{layer}_reverse") if self.bidirectional else (f"_l{layer}",)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _initial(self, input: Tensor, hx: Any, batch: tuple[int, ...]) -> list[State]:
        """One initial state per layer and direction, checked against the input."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        shape = (count, *batch, self.hidden_size)
        if hx is None:
            h = zeros(*shape, dtype=input.dtype)
            return list(zip(h.unbind(0), h.unbind(0))) if self.mode == "LSTM" else list(h.unbind(0))
        parts = hx if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise OpError(f"{type(self).__name__}: hx must be a pair (h_0, c_0), got {type(hx).__name__}")
        for part in parts:
            check_input(self, part, tuple(part.shape) == shape, f"{shape} for the initial state")
        states = [p.unbind(0) for p in parts]
        return list(zip(*states)) if self.mode == "LSTM" else list(states[0])

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        ok = input.ndim in (2, 3) and input.shape[-1] == self.input_size
        check_input(self, input, ok, f"(L, N, {self.input_size}), (N, L, {self.input_size}) with batch_first, "
                                     f"or (L, {self.input_size})")
        check_dtype_matches(self, input, self.weight_ih_l0)
        batched = input.ndim == 3
        x = input.transpose(0, 1) if batched and self.batch_first else input  # (L, N, features) or (L, features)
        states = self._initial(x, hx, tuple(x.shape[1:2]) if batched else ())
        step = _MODES[self.mode][1]
        finals: list[State] = []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                params = [getattr(self, f"{kind}{suffix}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                projected = F.linear(x, params[0], params[2]).unbind(0)  # every time step's input part at once
                state, hs = states[len(finals)], []
                for x_t in (reversed(projected) if d else projected):
                    h, state = step(x_t, state, params[1], params[3])
                    hs.append(h)
                outputs.append(ops.stack(hs[::-1] if d else hs))
                finals.append(state)
            x = ops.cat(outputs, -1) if len(outputs) > 1 else outputs[0]
        output = x.transpose(0, 1) if batched and self.batch_first else x
        if self.mode == "LSTM":
            return output, (ops.stack([h for h, _ in finals]), ops.stack([c for _, c in finals]))
        return output, ops.stack(finals)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        text += f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        text += ", bias=False" if not self.bias else ""
        text += ", batch_first=True" if self.batch_first else ""
        text += f", dropout={self.dropout}" if self.dropout else ""
        return text + (", bidirectional=True" if self.bidirectional else "")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh (or relu)(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = None):
        super().__init__(_rnn_mode(nonlinearity, "RNN"), input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: returns output, (h_n, c_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class GRU(RNNBase):
    """Gated recurrent unit: returns output, h_n."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype)


class RNNCellBase(Module):
    """One time step: input (N, input_size) or (input_size,), state of shape (N, hidden_size) or
    (hidden_size,), zeros if not given. Parameters weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        check_count(input_size, "input_size", name)
        check_count(hidden_size, "hidden_size", name)
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        gates = _MODES[mode][0] * hidden_size
        self.weight_ih = _new_parameter((gates, input_size), dtype, name)
        self.weight_hh = _new_parameter((gates, hidden_size), dtype, name)
        self.register_parameter("bias_ih", _new_parameter((gates,), dtype, name) if bias else None)
        self.register_parameter("bias_hh", _new_parameter((gates,), dtype, name) if bias else None)
        bound = 1 / math.sqrt(hidden_size) if hidden_size else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        check_input(self, input, input.ndim in (1, 2) and input.shape[-1] == self.input_size,
                    f"(N, {self.input_size}) or ({self.input_size},)")
        check_dtype_matches(self, input, self.weight_ih)
        shape = (*input.shape[:-1], self.hidden_size)
        if hx is None:
            hx = zeros(*shape, dtype=input.dtype)
            hx = (hx, hx) if self.mode == "LSTM" else hx
        for part in (hx if self.mode == "LSTM" else (hx,)):
            check_input(self, part, tuple(part.shape) == shape, f"{shape} for the state")
        h, state = _MODES[self.mode][1](F.linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh,
                                        self.bias_hh)
        return state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + (", bias=False" if not self.bias else "")


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = None):
        super().__init__(_rnn_mode(nonlinearity, "RNNCell"), input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """Returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)
