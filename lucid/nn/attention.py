"""Attention layers: MultiheadAttention, TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder and Transformer.

Built from verified ops (`linear`, `scaled_dot_product_attention`, `softmax`, `dropout`,
`layer_norm`), with PyTorch's parameter names and initialisation, so a PyTorch state_dict loads.
MultiheadAttention follows PyTorch's two paths: without weights it calls
`scaled_dot_product_attention` (a fully masked row gives 0); asked for the weights, it computes
them with a plain softmax, as PyTorch does (a fully masked row gives NaN there, as in PyTorch).
Masks are PyTorch's: for these layers a bool mask is True where attention is *not* allowed (the
opposite of `scaled_dot_product_attention`'s), a float mask is added to the scores.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..creation import check_count
from ..dtypes import get_default_dtype
from ..errors import OpError
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import Dropout, LayerNorm, Linear, _new_parameter, check_input
from .module import Module, ModuleList


def _additive(mask: Tensor | None, dtype: Any) -> Tensor | None:
    """PyTorch's canonical mask: a bool mask (True = masked out) as 0 and -inf, a float one as it is."""
    if mask is None or mask.dtype != np.bool_:
        return mask
    return Tensor(np.where(mask.data, -np.inf, 0.0).astype(dtype))


class MultiheadAttention(Module):
    """Attention over num_heads subspaces of embed_dim / num_heads each.

    Inputs (L, N, E), or (N, L, E) with batch_first, or (L, E) unbatched; keys of kdim features and
    values of vdim (both E unless given). key_padding_mask (N, S) masks keys; attn_mask (L, S) or
    (N * num_heads, L, S) masks pairs. Returns (output, weights): the weights (N, L, S) averaged
    over heads, (N, num_heads, L, S) per head, or None.

    The projections are one (3E, E) in_proj_weight when keys and values have E features, else
    q_proj_weight, k_proj_weight and v_proj_weight, as in PyTorch (and its state_dict)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype: Any = None, *, kdim: int | None = None, vdim: int | None = None):
        super().__init__()
        check_count(embed_dim, "embed_dim", "MultiheadAttention")
        check_count(num_heads, "num_heads", "MultiheadAttention")
        if num_heads == 0 or embed_dim % num_heads:
            raise OpError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        for name, size in (("kdim", kdim), ("vdim", vdim)):
            if size is not None:
                check_count(size, name, "MultiheadAttention")
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self._qkv_same_embed_dim = self.kdim == self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _new_parameter((3 * embed_dim, embed_dim), dtype, "MultiheadAttention")
            projections = [self.in_proj_weight]
        else:
            self.register_parameter("in_proj_weight", None)
            projections = [_new_parameter((embed_dim, d), dtype, "MultiheadAttention")
                           for d in (embed_dim, self.kdim, self.vdim)]
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight = projections
        self.register_parameter("in_proj_bias",
                                _new_parameter((3 * embed_dim,), dtype, "MultiheadAttention") if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        for weight in projections:
            init.xavier_uniform_(weight)
        if bias:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor) -> Tensor:
        """(N, L, E) -> (N, heads, L, head_dim)."""
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def _mask(self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, n: int, lengths: tuple[int, int],
              dtype: Any) -> Tensor | None:
        """One additive mask (N, heads, L, S) or (L, S) from PyTorch's two, checked."""
        attn, padding = _additive(attn_mask, dtype), _additive(key_padding_mask, dtype)
        if attn is not None:
            shapes = (lengths, (n * self.num_heads, *lengths))
            check_input(self, attn, tuple(attn.shape) in shapes, f"{shapes[0]} or {shapes[1]} for attn_mask")
            if attn.ndim == 3:
                attn = attn.reshape(n, self.num_heads, *lengths)
        if padding is None:
            return attn
        check_input(self, padding, tuple(padding.shape) == (n, lengths[1]), f"{(n, lengths[1])} for key_padding_mask")
        padding = padding.reshape(n, 1, 1, lengths[1])
        return padding if attn is None else attn + padding

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None,
                average_attn_weights: bool = True) -> tuple[Tensor, Tensor | None]:
        e = self.embed_dim
        for name, t, d in (("query", query, e), ("key", key, self.kdim), ("value", value, self.vdim)):
            check_input(self, t, t.ndim in (2, 3) and t.shape[-1] == d and t.ndim == query.ndim,
                        f"(L, N, {d}), (N, L, {d}) with batch_first, or (L, {d}) for {name}")
        batched = query.ndim == 3
        if not batched:  # one sequence: a batch of one, and key_padding_mask (S,) a row of it
            query, key, value = query[None], key[None], value[None]
            key_padding_mask = None if key_padding_mask is None else key_padding_mask[None]
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        w_q, w_k, w_v = (self.in_proj_weight.chunk(3) if self._qkv_same_embed_dim
                         else (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight))
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        q, k, v = (self._heads(F.linear(x, w, b)) for x, w, b in ((query, w_q, b_q), (key, w_k, b_k),
                                                                    (value, w_v, b_v)))
        mask = self._mask(attn_mask, key_padding_mask, n, (length, source), query.dtype)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:  # PyTorch's explicit path: a plain softmax, the weights returned before dropout
            scores = q @ k.mT * (1 / math.sqrt(self.head_dim))
            weights = F.softmax(scores if mask is None else scores + mask, -1)
            heads = F.dropout(weights, p, True) @ v if p else weights @ v
        else:
            heads = F.scaled_dot_product_attention(q, k, v, mask, p)
        output = self.out_proj(heads.transpose(1, 2).reshape(n, length, e))
        if weights is not None:
            weights = weights.mean(1) if average_attn_weights else weights
            weights = weights if batched else weights[0]
        if not batched:
            return output[0], weights
        return (output if self.batch_first else output.transpose(0, 1)), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation: str | Callable[[Tensor], Tensor], where: str) -> Callable[[Tensor], Tensor]:
    """A Transformer layer's activation: "relu", "gelu" or a function, as PyTorch takes it."""
    if not isinstance(activation, str):
        return activation
    if activation not in _ACTIVATIONS:
        raise OpError(f"{where}: activation should be relu/gelu, not {activation!r}")
    return _ACTIVATIONS[activation]


class _LayerStack(Module):
    """num_layers copies of one layer (each with weights of its own), then an optional norm: the
    Transformer's encoder and decoder."""

    def __init__(self, layer: Module, num_layers: int, norm: Module | None):
        super().__init__()
        check_count(num_layers, "num_layers", type(self).__name__)
        self.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.add_module("norm", norm)


class TransformerEncoderLayer(Module):
    """Self-attention, then a feed-forward block, each with dropout, a residual connection and a
    LayerNorm: after each block (PyTorch's default) or, with norm_first, before it."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, dtype: Any = None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first, dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias, dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias, dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, type(self).__name__)

    def _attention_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, padding, False, mask)[0])

    def _feed_forward_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._attention_block(self.norm1(x), src_mask, src_key_padding_mask)
            return x + self._feed_forward_block(self.norm2(x))
        x = self.norm1(x + self._attention_block(x, src_mask, src_key_padding_mask))
        return self.norm2(x + self._feed_forward_block(x))


class TransformerEncoder(_LayerStack):
    """num_layers copies of encoder_layer (each with weights of its own), then an optional norm."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__(encoder_layer, num_layers, norm)

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask)
        return x if self.norm is None else self.norm(x)


def _causal_hint(is_causal: bool | None, mask: Tensor | None, where: str) -> None:
    """PyTorch's is_causal arguments are hints that the given mask is the causal one: a hint without
    a mask is refused, as there."""
    if is_causal and mask is None:
        raise OpError(f"{where}: is_causal is a hint that the mask given is causal, but no mask was given (make one "
                      f"with nn.Transformer.generate_square_subsequent_mask)")


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention to the encoder's output (memory), then a feed-forward
    block, each with dropout, a residual connection and a LayerNorm: after each block (PyTorch's
    default) or, with norm_first, before it."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, dtype: Any = None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first, dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first, dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias, dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias, dtype)
        self.norm_first = norm_first
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
                                              for _ in range(3))
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, type(self).__name__)

    def _self_attention_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None) -> Tensor:
        return self.dropout1(self.self_attn(x, x, x, padding, False, mask)[0])

    def _memory_attention_block(self, x: Tensor, memory: Tensor, mask: Tensor | None,
                                padding: Tensor | None) -> Tensor:
        return self.dropout2(self.multihead_attn(x, memory, memory, padding, False, mask)[0])

    def _feed_forward_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        _causal_hint(tgt_is_causal, tgt_mask, "TransformerDecoderLayer")
        _causal_hint(memory_is_causal, memory_mask, "TransformerDecoderLayer")
        x = tgt
        if self.norm_first:
            x = x + self._self_attention_block(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._memory_attention_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            return x + self._feed_forward_block(self.norm3(x))
        x = self.norm1(x + self._self_attention_block(x, tgt_mask, tgt_key_padding_mask))
        x = self.norm2(x + self._memory_attention_block(x, memory, memory_mask, memory_key_padding_mask))
        return self.norm3(x + self._feed_forward_block(x))


class TransformerDecoder(_LayerStack):
    """num_layers copies of decoder_layer (each with weights of its own), then an optional norm."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__(decoder_layer, num_layers, norm)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                      bool(tgt_is_causal), memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """PyTorch's encoder-decoder Transformer: a TransformerEncoder and a TransformerDecoder, each of
    its layers followed by a final LayerNorm; every weight matrix Xavier-uniform, as PyTorch sets them."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = None):
        super().__init__()
        options = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                       dtype=dtype)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **options), num_encoder_layers,
            LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **options), num_decoder_layers,
            LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for parameter in self.parameters():
            if parameter.ndim > 1:
                init.xavier_uniform_(parameter)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        _causal_hint(src_is_causal, src_mask, "Transformer")
        memory = self.encoder(src, src_mask, src_key_padding_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                            tgt_is_causal, memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, dtype: Any = None) -> Tensor:
        """The causal mask of sz positions: 0 on and below the diagonal, -inf above (a position sees
        itself and those before it), in the default float dtype."""
        check_count(sz, "sz", "Transformer.generate_square_subsequent_mask")
        dtype = get_default_dtype() if dtype is None else dtype
        return Tensor(np.triu(np.full((sz, sz), -np.inf), 1).astype(dtype))
