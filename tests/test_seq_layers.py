"""Sequence layers against PyTorch: scaled_dot_product_attention on chosen inputs (masks, a fully
masked row, causal with L != S, shared heads, dropout), and RNN/LSTM/GRU, their cells,
MultiheadAttention and the Transformer encoder loaded with PyTorch's weights, compared in float64
for outputs, gradients of inputs and parameters, and SGD steps. (The harness checks the op's rule
on drawn inputs; these pin the layers built on it.)"""
import numpy as np
import pytest

import lucid
from lucid import LucidError, nn

torch = pytest.importorskip("torch")
F, TF = lucid.nn.functional, torch.nn.functional
rng = np.random.default_rng(5)


def pair(a, requires_grad=True):
    """The same float64 values as a Lucid tensor and a torch tensor."""
    return lucid.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def load(ours, theirs):
    """PyTorch's state_dict, loaded as it is: same names, same shapes."""
    result = ours.load_state_dict({k: lucid.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys


def close(ours, theirs, tol=1e-10):
    np.testing.assert_allclose(ours.data if isinstance(ours, lucid.Tensor) else ours,
                               theirs.detach().numpy(), rtol=tol, atol=tol)


def parameter_grads_close(ours, theirs):
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert p.grad is not None, name
        close(p.grad, q.grad)


# --- scaled_dot_product_attention -------------------------------------------------------------

def attention_pair(q_shape, k_shape, v_shape, **kwargs):
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s)) for s in (q_shape, k_shape, v_shape))
    out, tout = F.scaled_dot_product_attention(q, k, v, **kwargs), TF.scaled_dot_product_attention(
        tq, tk, tv, **{key: torch.tensor(x) if isinstance(x, np.ndarray) else x for key, x in kwargs.items()})
    seed = rng.standard_normal(out.shape)
    out.backward(lucid.tensor(seed))
    tout.backward(torch.tensor(seed))
    close(out, tout)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        close(ours.grad, theirs.grad)
    return out, q


@pytest.mark.parametrize("kwargs", [
    {},
    {"scale": 0.3},
    {"is_causal": True},
    {"attn_mask": rng.standard_normal((4, 6))},
    {"attn_mask": rng.random((2, 1, 4, 6)) > 0.3},
])
def test_attention_matches_pytorch(kwargs):
    attention_pair((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), **kwargs)


@pytest.mark.parametrize("shapes", [((6, 2), (3, 2), (3, 4)), ((3, 2), (6, 2), (6, 4))])
def test_causal_mask_is_top_left_aligned(shapes):
    attention_pair(*shapes, is_causal=True)


def test_fully_masked_row_gives_zero_output_and_gradient():
    mask = np.ones((3, 4), bool)
    mask[1] = False
    out, q = attention_pair((3, 2), (4, 2), (4, 3), attn_mask=mask)
    assert not out.data[1].any() and not q.grad.data[1].any()


def test_shared_key_heads():
    attention_pair((2, 4, 3, 2), (2, 2, 5, 2), (2, 2, 5, 3), enable_gqa=True)


def test_dropout_draws_a_mask_that_replays_and_scales_kept_weights():
    q, k, v = (lucid.tensor(rng.standard_normal((2, 3, 4))) for _ in range(3))
    lucid.manual_seed(3)
    first = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    lucid.manual_seed(3)
    mask = lucid.generator().random((2, 3, 3)) >= 0.5
    replayed = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, dropout_mask=mask)
    np.testing.assert_array_equal(first.data, replayed.data)
    weights = TF.softmax(torch.tensor(q.data) @ torch.tensor(k.data).mT / 2, -1) * torch.tensor(mask) * 2
    close(first, weights @ torch.tensor(v.data))
    assert not np.allclose(first.data, F.scaled_dot_product_attention(q, k, v).data)


@pytest.mark.parametrize("call, message", [
    (lambda q: F.scaled_dot_product_attention(q, q, q, np.ones((3, 3), bool), is_causal=True), "is_causal"),
    (lambda q: F.scaled_dot_product_attention(q, q, q, np.ones((3, 3), np.int64)), "bool or float"),
    (lambda q: F.scaled_dot_product_attention(q, q[..., :1], q), "do not fit"),
    (lambda q: F.scaled_dot_product_attention(q, q, q, np.ones((2, 3), bool)), "attn_mask"),
    (lambda q: F.scaled_dot_product_attention(q, q, q, dropout_p=1.5), "dropout_p"),
])
def test_attention_refuses_bad_calls(call, message):
    with pytest.raises(LucidError, match=message):
        call(lucid.tensor(rng.standard_normal((2, 3, 3))))


# --- recurrent layers -------------------------------------------------------------------------

RECURRENT = [(nn.RNN, torch.nn.RNN, {}), (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
             (nn.LSTM, torch.nn.LSTM, {}), (nn.GRU, torch.nn.GRU, {})]


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("ours, theirs, kwargs", RECURRENT)
@pytest.mark.parametrize("options", [{}, {"batch_first": True, "bidirectional": True, "num_layers": 2},
                                     {"bias": False, "num_layers": 2}, {"bidirectional": True}])
@pytest.mark.parametrize("initial", [False, True])
def test_recurrent_layers_match_pytorch(ours, theirs, kwargs, options, initial):
    t = theirs(3, 4, **kwargs, **options).double()
    m = ours(3, 4, **kwargs, **options, dtype=lucid.float64)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in t.named_parameters()]
    load(m, t)
    x, tx = pair(rng.standard_normal((2, 5, 3)))
    states = (2 if options.get("bidirectional") else 1) * options.get("num_layers", 1)
    hx = thx = None
    if initial:
        pairs = [pair(rng.standard_normal((states, 2 if options.get("batch_first") else 5, 4)))
                 for _ in range(2 if ours is nn.LSTM else 1)]
        hx, thx = ([p[i] for p in pairs] for i in (0, 1))
        hx, thx = (tuple(h) if ours is nn.LSTM else h[0] for h in (hx, thx))
    (out, state), (tout, tstate) = m(x, hx), t(tx, thx)
    close(out, tout)
    for s, ts in zip(as_list(state), as_list(tstate), strict=True):
        close(s, ts)
    seed = rng.standard_normal(out.shape)
    loss = (out * lucid.tensor(seed)).sum() + sum((s * s).sum() for s in as_list(state))
    tloss = (tout * torch.tensor(seed)).sum() + sum((s * s).sum() for s in as_list(tstate))
    loss.backward()
    tloss.backward()
    close(x.grad, tx.grad)
    parameter_grads_close(m, t)
    if initial:
        for h, th in zip(as_list(hx), as_list(thx)):
            close(h.grad, th.grad)


@pytest.mark.parametrize("ours, theirs, kwargs", RECURRENT)
def test_unbatched_sequence(ours, theirs, kwargs):
    t, m = theirs(3, 4, **kwargs).double(), ours(3, 4, **kwargs, dtype=lucid.float64)
    load(m, t)
    x, tx = pair(rng.standard_normal((5, 3)))
    close(m(x)[0], t(tx)[0])


@pytest.mark.parametrize("ours, theirs, kwargs", [(nn.RNNCell, torch.nn.RNNCell, {}),
                                                  (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
                                                  (nn.LSTMCell, torch.nn.LSTMCell, {}),
                                                  (nn.GRUCell, torch.nn.GRUCell, {})])
@pytest.mark.parametrize("batch", [(2,), ()])
def test_cells_match_pytorch(ours, theirs, kwargs, batch):
    t, m = theirs(3, 4, **kwargs).double(), ours(3, 4, **kwargs, dtype=lucid.float64)
    load(m, t)
    x, tx = pair(rng.standard_normal(batch + (3,)))
    h, th = pair(rng.standard_normal(batch + (4,)))
    state, tstate = (m(x, (h, h * 2)), t(tx, (th, th * 2))) if ours is nn.LSTMCell else (m(x, h), t(tx, th))
    loss = sum((s * s).sum() for s in as_list(state))
    tloss = sum((s * s).sum() for s in as_list(tstate))
    loss.backward()
    tloss.backward()
    close(loss, tloss)
    close(x.grad, tx.grad)
    close(h.grad, th.grad)
    parameter_grads_close(m, t)


def test_recurrent_initialisation_is_pytorchs_uniform():
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    values = np.concatenate([p.data.ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= 0.25 and values.std() > 0.1  # U(-1/4, 1/4) has std 0.144


def test_lstm_sgd_steps_match_pytorch():
    t, m = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True).double(), nn.LSTM(3, 4, 2, batch_first=True,
                                                                                  dtype=lucid.float64)
    load(m, t)
    x, tx = pair(rng.standard_normal((2, 6, 3)), requires_grad=False)
    ours, theirs = lucid.optim.SGD(m.parameters(), lr=0.5), torch.optim.SGD(t.parameters(), lr=0.5)
    for _ in range(5):
        ours.zero_grad()
        theirs.zero_grad()
        loss, tloss = (m(x)[0] ** 2).mean(), (t(tx)[0] ** 2).mean()
        loss.backward()
        tloss.backward()
        ours.step()
        theirs.step()
        close(loss, tloss)


def test_recurrent_layers_refuse_bad_input():
    with pytest.raises(LucidError, match="input of shape"):
        nn.GRU(3, 4)(lucid.randn(2, 5, 2))
    with pytest.raises(LucidError, match="initial state"):
        nn.RNN(3, 4)(lucid.randn(2, 5, 3), lucid.zeros(2, 5, 4))
    with pytest.raises(LucidError, match="pair"):
        nn.LSTM(3, 4)(lucid.randn(2, 5, 3), lucid.zeros(1, 5, 4))
    with pytest.raises(LucidError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


# --- attention layers --------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False), (False, True)])
def test_multihead_attention_matches_pytorch(batch_first, need_weights, average):
    t = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
    m = nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=lucid.float64)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    load(m, t)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    (q, tq), (k, tk) = pair(rng.standard_normal(shape)), pair(rng.standard_normal(shape))
    padding = np.zeros((3, 5))
    padding[0, 3:] = -np.inf  # float, as attn_mask is (PyTorch deprecates mixing them)
    attn_mask = rng.standard_normal((5, 5))
    out, weights = m(q, k, k, lucid.tensor(padding), need_weights, lucid.tensor(attn_mask), average)
    tout, tweights = t(tq, tk, tk, torch.tensor(padding), need_weights, torch.tensor(attn_mask), average)
    close(out, tout)
    assert (weights is None) == (tweights is None)
    if weights is not None:
        close(weights, tweights)
    (out ** 2).sum().backward()
    (tout ** 2).sum().backward()
    close(q.grad, tq.grad)
    close(k.grad, tk.grad)
    parameter_grads_close(m, t)


@pytest.mark.parametrize("kdim, vdim", [(3, 5), (8, 6), (4, 4)])
def test_multihead_attention_with_other_key_and_value_sizes_matches_pytorch(kdim, vdim):
    """Keys of kdim and values of vdim features: PyTorch's separate q, k and v projections, its names."""
    t = torch.nn.MultiheadAttention(8, 2, kdim=kdim, vdim=vdim, batch_first=True).double()
    m = nn.MultiheadAttention(8, 2, batch_first=True, dtype=lucid.float64, kdim=kdim, vdim=vdim)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    load(m, t)
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal((2, n, d))) for n, d in ((3, 8), (4, kdim), (4, vdim)))
    out, weights = m(q, k, v)
    tout, tweights = t(tq, tk, tv)
    close(out, tout)
    close(weights, tweights)
    (out ** 2).sum().backward()
    (tout ** 2).sum().backward()
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        close(ours.grad, theirs.grad)
    parameter_grads_close(m, t)
    with pytest.raises(LucidError, match="for key"):
        m(q, v if vdim != kdim else q, v)


def test_multihead_attention_unbatched_and_bool_mask():
    t, m = torch.nn.MultiheadAttention(4, 2, bias=False).double(), nn.MultiheadAttention(4, 2, bias=False,
                                                                                         dtype=lucid.float64)
    load(m, t)
    x, tx = pair(rng.standard_normal((5, 4)))
    mask = np.triu(np.ones((5, 5), bool), 1)  # True: not allowed
    out, weights = m(x, x, x, attn_mask=lucid.tensor(mask))
    tout, tweights = t(tx, tx, tx, attn_mask=torch.tensor(mask))
    close(out, tout)
    close(weights, tweights)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_matches_pytorch(norm_first, activation):
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                                             batch_first=True)
    t = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                                      batch_first=True, dtype=lucid.float64)
    m = nn.TransformerEncoder(ours, 2, norm=nn.LayerNorm(8, dtype=lucid.float64))
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    load(m, t)
    x, tx = pair(rng.standard_normal((3, 5, 8)))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    padding = np.zeros((3, 5), bool)
    padding[1, 4:] = True
    out = m(x, lucid.tensor(causal.numpy()), lucid.tensor(padding))
    tout = t(tx, causal, torch.tensor(padding).double().masked_fill(torch.tensor(padding), -np.inf))
    close(out, tout)
    seed = rng.standard_normal(out.shape)
    (out * lucid.tensor(seed)).sum().backward()
    (tout * torch.tensor(seed)).sum().backward()
    close(x.grad, tx.grad)
    parameter_grads_close(m, t)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # PyTorch's, about its own fast path
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_matches_pytorch(norm_first, activation):
    """The encoder-decoder Transformer, its decoder layers included, with PyTorch's weights: causal
    target mask, padded memory, outputs and every gradient in float64."""
    t = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                             batch_first=True).double()
    m = nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                       batch_first=True, dtype=lucid.float64)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    load(m, t)
    (src, tsrc), (tgt, ttgt) = pair(rng.standard_normal((3, 5, 8))), pair(rng.standard_normal((3, 4, 8)))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=lucid.float64)
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    close(causal, tcausal)
    padding = np.zeros((3, 5))
    padding[2, 3:] = -np.inf
    out = m(src, tgt, tgt_mask=causal, memory_key_padding_mask=lucid.tensor(padding), tgt_is_causal=True)
    tout = t(tsrc, ttgt, tgt_mask=tcausal, memory_key_padding_mask=torch.tensor(padding), tgt_is_causal=True)
    close(out, tout)
    seed = rng.standard_normal(out.shape)
    (out * lucid.tensor(seed)).sum().backward()
    (tout * torch.tensor(seed)).sum().backward()
    close(src.grad, tsrc.grad)
    close(tgt.grad, ttgt.grad)
    parameter_grads_close(m, t)


def test_transformer_initialises_weight_matrices_xavier_uniform_and_wants_a_mask_with_a_causal_hint():
    m = nn.Transformer(16, 2, 1, 1, 32, dtype=lucid.float64)
    weight = m.decoder.layers[0].linear1.weight  # (32, 16): Xavier's bound sqrt(6 / 48)
    assert np.abs(weight.data).max() <= np.sqrt(6 / 48) and np.abs(weight.data).max() > 0.9 * np.sqrt(6 / 48)
    layer = nn.TransformerDecoderLayer(16, 2, 32, dtype=lucid.float64)
    x = lucid.tensor(rng.standard_normal((4, 1, 16)))
    with pytest.raises(LucidError, match="TransformerDecoderLayer: is_causal is a hint"):
        layer(x, x, tgt_is_causal=True)


def test_transformer_dropout_acts_only_in_training():
    m = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True, dtype=lucid.float64)
    x = lucid.tensor(rng.standard_normal((2, 4, 8)))
    assert not np.allclose(m(x).data, m(x).data)
    m.eval()
    np.testing.assert_array_equal(m(x).data, m(x).data)


def test_encoder_layers_are_copies_with_their_own_weights():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 1, 8), 2)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    np.testing.assert_array_equal(first.data, second.data)
    first.data[...] += 1
    assert not np.allclose(first.data, second.data)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), "TransformerEncoderLayer: activation should be"),
    (lambda: nn.TransformerDecoderLayer(8, 2, activation="tanh"), "TransformerDecoderLayer: activation should be"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), -1), "TransformerEncoder: num_layers must be"),
    (lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2), 1.5), "TransformerDecoder: num_layers must be"),
])
def test_transformer_layers_refuse_a_bad_activation_or_layer_count(make, message):
    with pytest.raises(LucidError, match=message):
        make()
