"""Attention: `nn.functional.scaled_dot_product_attention`, PyTorch 2.13's semantics.

    weights = softmax(q k^T * scale + mask),   out = dropout(weights) v

A bool mask keeps the scores where it is True; a float mask is added to them; is_causal keeps the
lower-left triangle (query i sees keys j <= i, aligned at the top-left corner, as `torch.tril`).
A row whose every score is masked gets weights 0, so its output and gradients are 0: PyTorch's
`_safe_softmax`, where a plain softmax would give NaN.

The weights are a residual of the forward: the rule needs them, and a second derivative reaches
them through the op's own output (`softmax_backward` of what flows into them). Dropout works as
`nn.functional.dropout` does: the mask is drawn before the op (when dropout_p > 0) and passed as a
non-differentiable input, so the recorded op is a deterministic function the harness can check.
With enable_gqa, the key and value heads (dim -3) are shared by groups of query heads: each is
repeated for its group, and its gradient is the sum over the group.
"""
from __future__ import annotations

import math

import numpy as np

from lucid import Arg, Example, Op, OpError, Param, generator, hookimpl, zeros
from lucid_ops.common import SUMMATION_ORDER
from lucid_ops.indexing import repeat_interleave
from lucid_ops.nn import softmax_backward

NAME = "nn.functional.scaled_dot_product_attention"


def _groups(query, key, value, enable_gqa):
    """How many query heads share one key/value head (1 without enable_gqa), once the shapes are
    checked: (..., L, E) queries, (..., S, E) keys, (..., S, Ev) values."""
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise OpError(f"{NAME}: query, key and value must have at least 2 dims (..., L or S, E), got shapes "
                      f"{query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise OpError(f"{NAME}: query {query.shape}, key {key.shape} and value {value.shape} do not fit: expected "
                      f"query (..., L, E), key (..., S, E) and value (..., S, Ev)")
    if not enable_gqa or min(query.ndim, key.ndim) < 3 or query.shape[-3] == key.shape[-3]:
        return 1
    heads, shared = query.shape[-3], key.shape[-3]
    if shared == 0 or heads % shared or key.shape[-3] != value.shape[-3]:
        raise OpError(f"{NAME}: with enable_gqa, the key and value heads (dim -3 of {key.shape}, {value.shape}) must "
                      f"be equal and divide the query heads ({heads}, dim -3 of {query.shape})")
    return heads // shared


def _weights_shape(query, key, groups):
    """The shape of the attention weights (..., L, S): the batch dims broadcast, the key's heads repeated."""
    key_batch = key.shape[:-2]
    if groups > 1:
        key_batch = key_batch[:-1] + (key_batch[-1] * groups,)
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key_batch)
    except ValueError:
        raise OpError(f"{NAME}: the batch dims of query {query.shape} and key {key.shape} do not broadcast") from None
    return batch + (query.shape[-2], key.shape[-2])


def _scale(query, scale):
    return 1 / math.sqrt(query.shape[-1]) if scale is None else scale


def _masks(shape, dtype, attn_mask, is_causal):
    """(where the scores are kept or None, what is added to them or None), both checked against the
    weights' shape."""
    if attn_mask is None:
        return (np.tri(*shape[-2:], dtype=bool) if is_causal else None), None
    if is_causal:
        raise OpError(f"{NAME}: an explicit attn_mask must not be set when is_causal=True (PyTorch's error)")
    if attn_mask.dtype.kind not in "bf":
        raise OpError(f"{NAME}: attn_mask must be bool or float, got dtype {attn_mask.dtype}")
    try:
        np.broadcast_shapes(attn_mask.shape, shape)
    except ValueError:
        raise OpError(f"{NAME}: attn_mask of shape {attn_mask.shape} does not broadcast to the attention weights' "
                      f"shape {shape}") from None
    if np.broadcast_shapes(attn_mask.shape, shape) != shape:
        raise OpError(f"{NAME}: attn_mask of shape {attn_mask.shape} would enlarge the attention weights' shape "
                      f"{shape}")
    return (attn_mask, None) if attn_mask.dtype == bool else (None, attn_mask.astype(dtype, copy=False))


def _kept_fraction(dropout_p):
    """What a kept weight is multiplied by: 1 / (1 - p), or 0 for p = 1 (everything dropped)."""
    return 0.0 if dropout_p == 1 else 1 / (1 - dropout_p)


def _attention(query, key, value, attn_mask=None, dropout_mask=None, dropout_p=0.0, is_causal=False, scale=None,
               enable_gqa=False):
    """(out, weights): the weights before dropout are the residual the rule reuses."""
    if not 0 <= dropout_p <= 1:
        raise OpError(f"{NAME}: dropout_p must be in [0, 1], got {dropout_p}")
    groups = _groups(query, key, value, enable_gqa)
    if groups > 1:
        key, value = np.repeat(key, groups, axis=-3), np.repeat(value, groups, axis=-3)
    shape = _weights_shape(query, key, 1)
    keep, bias = _masks(shape, query.dtype, attn_mask, is_causal)
    scores = np.asarray(query @ np.swapaxes(key, -1, -2) * _scale(query, scale), dtype=query.dtype)
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    if bias is not None:
        scores = scores + bias
    with np.errstate(invalid="ignore"):  # a row all -inf: NaN here, 0 below
        peak = scores.max(axis=-1, keepdims=True, initial=-np.inf)
        weights = np.exp(scores - peak)
        weights /= weights.sum(axis=-1, keepdims=True)
    weights = np.where(peak == -np.inf, 0, weights).astype(query.dtype, copy=False)  # PyTorch's _safe_softmax
    dropped = weights
    if dropout_mask is not None:
        if dropout_mask.shape != shape:
            raise OpError(f"{NAME}: dropout_mask of shape {dropout_mask.shape} does not match the attention "
                          f"weights' shape {shape}")
        dropped = weights * (dropout_mask * _kept_fraction(dropout_p)).astype(query.dtype)
    return dropped @ value, weights


def _group_sum(g, key, groups):
    """The gradient of a key (or value) whose heads were repeated `groups` times: its copies' sum."""
    if groups == 1:
        return g
    batch = g.shape[:-3]
    return g.reshape(*batch, key.shape[-3], groups, *g.shape[-2:]).sum(-3)


def _attention_vjp(g, out, query, key, value, attn_mask, dropout_mask, dropout_p, is_causal, scale, enable_gqa):
    """out = D v with D = dropout(W), W = softmax(S), S = q k^T s + mask:
    gv = D^T g, gW = (g v^T) * dropout's factor (+ what a second-order backward sends W itself),
    gS = softmax_backward(gW, W), gq = gS k s, gk = gS^T q s, and a float mask gets gS: exactly 0 for
    a mask of one value along the keys, which shifts a whole row (rounding, cancelling, left noise)."""
    (g, g_weights), (_, weights) = g, out
    groups = _groups(query.data, key.data, value.data, enable_gqa)
    k = repeat_interleave(key, groups, dim=-3) if groups > 1 else key
    v = repeat_interleave(value, groups, dim=-3) if groups > 1 else value
    dropped, factor = weights, None
    if dropout_mask is not None:
        factor = (dropout_mask.data * _kept_fraction(dropout_p)).astype(g.dtype)
        dropped = weights * factor
    g_dropped = g @ v.mT
    g_w = g_dropped if factor is None else g_dropped * factor
    if g_weights is not None:
        g_w = g_w + g_weights
    g_scores = softmax_backward(g_w, weights, -1)
    s = _scale(query.data, scale)
    gq = g_scores @ k * s if query.requires_grad else None
    gk = _group_sum(g_scores.mT @ query * s, key, groups) if key.requires_grad else None
    gv = _group_sum(dropped.mT @ g, value, groups) if value.requires_grad else None
    g_mask = None
    if attn_mask is not None and attn_mask.requires_grad:  # one value along the keys shifts a row: no change
        g_mask = g_scores if attn_mask.shape[-1:] != (1,) else zeros(attn_mask.shape, dtype=attn_mask.dtype)
    return gq, gk, gv, g_mask, None


def _attention_sample(draw):
    """Heads that share keys (enable_gqa) or not, batch dims that broadcast either way (a query's
    dim of 1 against keys' of 2, and keys' 1 against a query's), a bool or float mask
    of a broadcasting shape, or causal masking, and a dropout mask with dropout_p > 0. Keys and values
    have a batch dim: the harness's broadcast layout repeats an input's first row, and all keys (or
    values) equal make the gradients exactly 0, which float32 rounding leaves as layout-dependent noise."""
    length, source, embed, embed_v = (draw.integer(1, 4) for _ in range(4))
    enable_gqa = draw.boolean()
    if enable_gqa:
        shared = draw.integer(1, 2)
        heads = shared * draw.integer(1, 2)
        batch, key_batch = (draw.integer(1, 2), heads), (1, shared)
    else:
        batch = draw.shape(min_dims=0, max_dims=2, max_side=3)
        key_batch = tuple(draw.integer(1, 2) if n == 1 else 1 if draw.integer(0, 2) == 0 else n
                          for n in batch)[draw.integer(0, len(batch)):] or (1,)
    query, key, value = batch + (length, embed), key_batch + (source, embed), key_batch + (source, embed_v)
    weights = np.broadcast_shapes(batch, key_batch if not enable_gqa else (1, batch[-1])) + (length, source)
    masking = draw.choice(("none", "bool", "float", "causal"))
    mask_shape = weights[draw.integer(0, len(weights) - 1):] if len(weights) > 2 else weights
    mask_shape = tuple(1 if draw.integer(0, 3) == 0 else n for n in mask_shape)
    attn_mask = draw.mask(mask_shape) if masking == "bool" else mask_shape if masking == "float" else None
    dropout_p = draw.choice((0.0, 0.5))
    dropout_mask = draw.mask(weights) if dropout_p else None
    return Example((query, key, value, attn_mask, dropout_mask),
                   {"dropout_p": dropout_p, "is_causal": masking == "causal", "scale": draw.choice((None, 0.5)),
                    "enable_gqa": enable_gqa})


class _Attention(Op):
    """PyTorch's call, `scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, ...)`,
    draws the dropout mask from `lucid.generator()` when dropout_p > 0 (as `nn.functional.dropout`
    does) and records the op with it; `dropout_mask=` replays a given one."""

    def __call__(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None,
                 enable_gqa=False, dropout_mask=None):
        params = {"dropout_p": dropout_p, "is_causal": is_causal, "scale": scale, "enable_gqa": enable_gqa}
        self.check_params(params)
        if dropout_mask is None and dropout_p > 0:
            arrays = [np.asarray(getattr(t, "data", t)) for t in (query, key, value)]
            shape = _weights_shape(arrays[0], arrays[1], _groups(*arrays, enable_gqa))
            dropout_mask = generator().random(shape) >= dropout_p
        return super().__call__(query=query, key=key, value=value, attn_mask=attn_mask, dropout_mask=dropout_mask,
                                **params)


scaled_dot_product_attention = _Attention(
    NAME, _attention, _attention_vjp,
    (Arg("query"), Arg("key"), Arg("value"), Arg("attn_mask", dtype="any", optional=True, promoted=False),
     Arg("dropout_mask", dtype="bool", optional=True)),
    params=(Param("dropout_p", 0.0, (0.0, 0.5), "number"), Param("is_causal", False, (False, True), "bool"),
            Param("scale", None, (None, 0.5), "number"), Param("enable_gqa", False, (False, True), "bool")),
    sample=_attention_sample, residuals=1,
    signature=("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "*", "scale", "enable_gqa",
               "dropout_mask"),
    differences=SUMMATION_ORDER)


@hookimpl
def lucid_ops():
    return [scaled_dot_product_attention]
