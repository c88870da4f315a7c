"""`lucid.linalg` svd, svdvals, qr, pinv, matrix_exp, matrix_power, eigvalsh, vector_norm and
matrix_norm against PyTorch in float64: values, first and second derivatives. Singular vectors have
an arbitrary sign, so where they enter, the comparison goes through quantities that do not depend on
it (U diag(w) U^T, the projector onto a span), or through the sign convention Lucid fixes (each
column of U's largest entry positive)."""
import math

import numpy as np
import pytest

import lucid
from lucid import OpError

torch = pytest.importorskip("torch")
linalg = lucid.linalg


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def both_gradients(lucid_loss, torch_loss, *arrays, order=2):
    """The first and (order=2) second derivatives (the gradient of the gradient's weighted sum) of
    a scalar loss in Lucid and in PyTorch, at the same float64 arrays."""
    ours = [lucid.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    first = lucid.grad(lucid_loss(*ours), ours, create_graph=True)
    first_t = torch.autograd.grad(torch_loss(*theirs), theirs, create_graph=True, materialize_grads=True)
    pairs = list(zip(first, first_t))
    if order == 2:
        weights = [np.cos(np.arange(a.size)).reshape(a.shape) for a in arrays]
        second = lucid.grad(sum((g * w).sum() for g, w in zip(first, weights)), ours)
        second_t = torch.autograd.grad(sum((g * torch.tensor(w)).sum() for g, w in zip(first_t, weights)), theirs)
        pairs += zip(second, second_t)
    for g, gt in pairs:
        np.testing.assert_allclose(g.detach().data, gt.detach().numpy(), rtol=1e-7, atol=1e-9)


def full_rank(rng, *shape):
    """Distinct singular values 1..2 in a random basis: the derivatives of svd and qr exist there."""
    m, n = shape[-2:]
    u = np.linalg.qr(rng.standard_normal(shape[:-1] + (m,)))[0][..., :min(m, n)]
    v = np.linalg.qr(rng.standard_normal(shape[:-2] + (n, n)))[0][..., :min(m, n)]
    return (u * np.linspace(2, 1, min(m, n))) @ np.swapaxes(v, -1, -2)


# --- svd and svdvals -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 4, 2)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_matches_torch_up_to_the_sign_it_fixes(rng, shape, full_matrices):
    a = rng.standard_normal(shape)
    ours = linalg.svd(lucid.tensor(a), full_matrices=full_matrices)
    u_t, s_t, vh_t = torch.linalg.svd(torch.tensor(a), full_matrices=full_matrices)
    assert (ours.U.shape, ours.S.shape, ours.Vh.shape) == (u_t.shape, s_t.shape, vh_t.shape)
    np.testing.assert_allclose(ours.S.data, s_t.numpy())
    k = min(shape[-2:])
    u, vh = ours.U.data[..., :k], ours.Vh.data[..., :k, :]
    signs = np.sign(np.sum(u * u_t.numpy()[..., :k], axis=-2))  # +-1: the columns agree up to sign
    np.testing.assert_allclose(u, u_t.numpy()[..., :k] * signs[..., None, :], atol=1e-12)
    np.testing.assert_allclose(vh, vh_t.numpy()[..., :k, :] * signs[..., :, None], atol=1e-12)
    largest = np.take_along_axis(u, np.abs(u).argmax(axis=-2)[..., None, :], axis=-2)
    assert (largest > 0).all()


def spectral_loss(lib):
    """A function of A through U, S and V that does not depend on their signs."""
    def loss(a):
        u, s, vh = lib.svd(a, full_matrices=False)
        k = s.shape[-1]
        w = lib_tensor(lib, np.linspace(1, 2, k))
        return ((u * w) @ u.mT).sin().sum() + ((vh.mT * w) @ vh).cos().sum() + (s * s * s).sum()
    return loss


def lib_tensor(lib, x):
    return torch.tensor(x) if lib is torch.linalg else lucid.tensor(x)


@pytest.mark.parametrize("shape", [(4, 2), (2, 4), (3, 3), (2, 3, 2)])
def test_svd_gradients_match_torch(rng, shape):
    both_gradients(spectral_loss(linalg), spectral_loss(torch.linalg), full_rank(rng, *shape))


@pytest.mark.parametrize("shape", [(4, 2), (2, 4)])
def test_svd_full_matrices_ignores_the_completed_columns_as_torch_does(rng, shape):
    m, n = shape
    k = min(m, n)

    def loss(lib):
        def f(a):
            u, s, vh = lib.svd(a)  # full_matrices=True: U is m x m, Vh n x n
            completed = u[..., k:].sin().sum() + vh[..., k:, :].cos().sum()  # no gradient, in PyTorch
            return spectral_loss(lib)(a) + completed
        return f
    both_gradients(loss(linalg), loss(torch.linalg), full_rank(rng, *shape))


def test_svd_of_singular_values_only_stays_finite_at_repeated_values():
    """Only S used: U diag(gS) V^T, which needs no gaps between singular values (PyTorch's shortcut)."""
    x = lucid.tensor(np.eye(3), requires_grad=True)
    linalg.svd(x)[1].sum().backward()
    np.testing.assert_allclose(x.grad.data, np.eye(3))


@pytest.mark.parametrize("shape", [(4, 2), (2, 4), (2, 3, 3)])
def test_svdvals_matches_torch(rng, shape):
    a = full_rank(rng, *shape)
    np.testing.assert_allclose(linalg.svdvals(lucid.tensor(a)).data, torch.linalg.svdvals(torch.tensor(a)).numpy())
    both_gradients(lambda a: (linalg.svdvals(a) ** 3).sum(), lambda a: (torch.linalg.svdvals(a) ** 3).sum(), a)


# --- qr ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 3, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_values_match_torch(rng, shape, mode):
    a = rng.standard_normal(shape)
    q, r = linalg.qr(lucid.tensor(a), mode=mode)
    q_t, r_t = torch.linalg.qr(torch.tensor(a), mode=mode)
    assert q.shape == q_t.shape
    np.testing.assert_allclose(q.data, q_t.numpy(), atol=1e-12)
    np.testing.assert_allclose(r.data, r_t.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape, mode", [((4, 3), "reduced"), ((3, 4), "reduced"), ((3, 3), "complete"),
                                         ((2, 4), "complete"), ((2, 3, 2), "reduced")])
def test_qr_gradients_match_torch(rng, shape, mode):
    def loss(lib):
        return lambda a: (lib.qr(a, mode=mode)[0].sin().sum() + (lib.qr(a, mode=mode).R ** 3).sum())
    both_gradients(loss(linalg), loss(torch.linalg), full_rank(rng, *shape))


@pytest.mark.parametrize("shape, mode, words", [((3, 3), "r", ["mode='r'", "reduced"]),
                                                ((4, 3), "complete", ["complete", "nrows > ncols", "(4, 3)"])])
def test_qr_without_a_gradient_says_why(rng, shape, mode, words):
    x = lucid.tensor(full_rank(rng, *shape), requires_grad=True)
    with pytest.raises(OpError) as error:
        linalg.qr(x, mode=mode)[1].sum().backward()
    assert all(w in str(error.value) for w in ["linalg.qr"] + words)


# --- pinv ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
@pytest.mark.parametrize("cutoff", [{}, {"atol": 1.4}, {"rtol": 0.7}, {"atol": 0.1, "rtol": 0.7}])
def test_pinv_matches_torch_also_where_the_cutoff_drops_singular_values(rng, shape, cutoff):
    """Singular values 1..2: atol 1.4 or rtol 0.7 (of 2) drop the smaller ones, where PyTorch's
    gradient is its formula with A as given, and Lucid's with it."""
    a = full_rank(rng, *shape)
    np.testing.assert_allclose(linalg.pinv(lucid.tensor(a), **cutoff).data,
                               torch.linalg.pinv(torch.tensor(a), **cutoff).numpy(), atol=1e-12)
    both_gradients(lambda a: linalg.pinv(a, **cutoff).sin().sum(),
                   lambda a: torch.linalg.pinv(a, **cutoff).sin().sum(), a)


def test_pinv_hermitian_reads_the_lower_triangle_and_has_torchs_gradient(rng):
    a = full_rank(rng, 3, 3) + np.triu(rng.standard_normal((3, 3)), 1)  # not symmetric: the upper part is ignored
    np.testing.assert_allclose(linalg.pinv(lucid.tensor(a), hermitian=True).data,
                               np.linalg.pinv(np.tril(a) + np.tril(a, -1).T), atol=1e-12)
    both_gradients(lambda a: linalg.pinv(a, hermitian=True).sin().sum(),
                   lambda a: torch.linalg.pinv(a, hermitian=True).sin().sum(), a)


def test_pinv_of_a_full_rank_matrix_is_a_one_sided_inverse(rng):
    a = rng.standard_normal((5, 3))
    np.testing.assert_allclose(linalg.pinv(lucid.tensor(a)).data @ a, np.eye(3), atol=1e-12)


# --- matrix_exp ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4)])
def test_matrix_exp_matches_torch(rng, shape):
    a = rng.standard_normal(shape) * 0.7
    np.testing.assert_allclose(linalg.matrix_exp(lucid.tensor(a)).data,
                               torch.linalg.matrix_exp(torch.tensor(a)).numpy())
    assert linalg.matrix_exp(lucid.tensor(a.astype(np.float32))).dtype == np.float32
    both_gradients(lambda a: (linalg.matrix_exp(a) ** 2).sum(), lambda a: (torch.linalg.matrix_exp(a) ** 2).sum(), a)


def test_matrix_exp_of_a_skew_matrix_is_a_rotation():
    t = 0.3
    r = linalg.matrix_exp(lucid.tensor([[0.0, -t], [t, 0.0]])).data
    np.testing.assert_allclose(r, [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# --- matrix_power --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 4])
def test_matrix_power_matches_torch(rng, n):
    a = rng.standard_normal((2, 3, 3)) * 0.5 + 2 * np.eye(3)
    np.testing.assert_allclose(linalg.matrix_power(lucid.tensor(a), n).data,
                               torch.linalg.matrix_power(torch.tensor(a), n).numpy(), rtol=1e-12)
    both_gradients(lambda a: linalg.matrix_power(a, n).sin().sum(),
                   lambda a: torch.linalg.matrix_power(a, n).sin().sum(), a, order=2 if n else 1)


# --- eigvalsh ------------------------------------------------------------------------------------

def test_eigvalsh_matches_torch(rng):
    b = rng.standard_normal((2, 4, 4))
    a = b @ np.swapaxes(b, -1, -2) + np.eye(4)
    np.testing.assert_allclose(linalg.eigvalsh(lucid.tensor(a)).data, torch.linalg.eigvalsh(torch.tensor(a)).numpy())
    both_gradients(lambda a: (linalg.eigvalsh(a) ** 3).sum(), lambda a: (torch.linalg.eigvalsh(a) ** 3).sum(), a)


# --- vector_norm and matrix_norm -----------------------------------------------------------------

@pytest.mark.parametrize("ord", [2, 1, math.inf, -math.inf, 0, 3, -1, 0.5])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, True), ((0, 2), False), ((-1, 0), True)])
def test_vector_norm_matches_torch(rng, ord, dim, keepdim):
    x = rng.standard_normal((2, 3, 4))
    ours = linalg.vector_norm(lucid.tensor(x), ord, dim, keepdim)
    theirs = torch.linalg.vector_norm(torch.tensor(x), ord, dim, keepdim)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy())
    both_gradients(lambda x: linalg.vector_norm(x, ord, dim, keepdim).sin().sum(),
                   lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim).sin().sum(), x,
                   order=1 if ord == 0 else 2)  # the count of non-zero entries: a constant gradient, 0


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim, keepdim", [((-2, -1), False), ((2, 0), True), ((0, 1), False)])
def test_matrix_norm_matches_torch(rng, ord, dim, keepdim):
    x = rng.standard_normal((3, 4, 2))
    ours = linalg.matrix_norm(lucid.tensor(x), ord, dim, keepdim)
    theirs = torch.linalg.matrix_norm(torch.tensor(x), ord, dim, keepdim)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy())
    both_gradients(lambda x: linalg.matrix_norm(x, ord, dim, keepdim).sin().sum(),
                   lambda x: torch.linalg.matrix_norm(x, ord, dim, keepdim).sin().sum(), x)


def test_matrix_norm_defaults_to_frobenius_of_the_last_two_dims(rng):
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(linalg.matrix_norm(lucid.tensor(x)).data, np.sqrt((x ** 2).sum(axis=(1, 2))))


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: linalg.svd(lucid.tensor([1.0, 2.0])), ["linalg.svd", "(2,)", "2 dims"]),
    (lambda: linalg.svdvals(lucid.tensor(1.0)), ["linalg.svdvals", "()"]),
    (lambda: linalg.qr(lucid.ones(2, 2), mode="economic"), ["linalg.qr", "mode", "'economic'"]),
    (lambda: linalg.pinv(lucid.ones(2, 3), hermitian=True), ["linalg.pinv", "square", "(2, 3)"]),
    (lambda: linalg.matrix_exp(lucid.ones(2, 3)), ["linalg.matrix_exp", "square", "(2, 3)"]),
    (lambda: linalg.matrix_power(lucid.ones(2, 2), -1), ["linalg.matrix_power", "singular", "n=-1"]),
    (lambda: linalg.matrix_power(lucid.ones(2, 3), 2), ["linalg.matrix_power", "square", "(2, 3)"]),
    (lambda: linalg.matrix_norm(lucid.ones(3)), ["linalg.matrix_norm", "2 dims", "(3,)"]),
    (lambda: linalg.matrix_norm(lucid.ones(2, 3), dim=1), ["linalg.matrix_norm", "2-tuple", "1"]),
    (lambda: linalg.matrix_norm(lucid.ones(2, 3), dim=(1, -1)), ["linalg.matrix_norm", "twice"]),
    (lambda: linalg.matrix_norm(lucid.ones(2, 3), ord=3), ["linalg.matrix_norm", "ord", "3"]),
    (lambda: linalg.vector_norm(lucid.ones(2, 3), dim=2), ["linalg.vector_norm", "dim 2", "out of range"]),
    (lambda: linalg.vector_norm(lucid.ones(2, 3), ord="fro"), ["linalg.vector_norm", "ord"]),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(OpError) as error:
        call()
    assert all(w in str(error.value) for w in words), str(error.value)
