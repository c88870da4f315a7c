"""`lucid.linalg` svd, svdvals, qr, pinv, lstsq, matrix_exp, matrix_power, eigvalsh, vector_norm and
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


# --- lstsq ---------------------------------------------------------------------------------------

LSTSQ_SHAPES = [((4, 3), (4, 2)), ((3, 4), (3, 2)), ((3, 3), (3, 1)), ((4, 3), (4,)), ((2, 4, 3), (2, 4)),
                ((1, 4, 3), (3, 4, 2)), ((3, 2, 4), (1, 2, 2))]
DRIVERS = [None, "gelsy", "gels", "gelsd", "gelss"]


def assert_lstsq_matches_torch(a, b, **params):
    """Each of the four outputs: its shape, its dtype and its values, as PyTorch gives them."""
    ours = linalg.lstsq(lucid.tensor(a), lucid.tensor(b), **params)
    theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), **params)
    assert ours._fields == ("solution", "residuals", "rank", "singular_values")
    tolerance = 1e-4 if a.dtype == np.float32 else 1e-10
    for name, x, y in zip(ours._fields, ours, theirs):
        assert (x.shape, x.dtype) == (tuple(y.shape), y.numpy().dtype), name
        np.testing.assert_allclose(x.data, y.numpy(), rtol=tolerance, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("shapes", LSTSQ_SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstsq_fills_the_outputs_torch_fills_for_each_driver(rng, driver, shapes, dtype):
    a, b = (rng.standard_normal(shape).astype(dtype) for shape in shapes)
    assert_lstsq_matches_torch(a, b, driver=driver)


@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [(5, 4), (4, 5), (2, 5, 4)])
@pytest.mark.parametrize("rcond", [None, 1e-3])
def test_lstsq_of_a_rank_deficient_matrix_matches_torch(rng, driver, shape, rcond):
    """Rank 2: gelsy's rank-revealing QR and gelsd's and gelss's SVD give the minimum-norm solution
    of rank 2, and no residuals (PyTorch computes them only when every matrix has full rank)."""
    a = rng.standard_normal(shape[:-1] + (2,)) @ rng.standard_normal(shape[:-2] + (2, shape[-1]))
    assert_lstsq_matches_torch(a, rng.standard_normal(shape[:-1] + (3,)), rcond=rcond, driver=driver)
    assert (linalg.lstsq(lucid.tensor(a), lucid.tensor(rng.standard_normal(shape[:-1] + (3,))), rcond, driver=driver)
            .rank.data == 2).all()


def test_lstsq_rcond_drops_the_small_singular_values(rng):
    a = full_rank(rng, 5, 3) * np.array([1.0, 1.0, 1e-4])
    b = rng.standard_normal((5, 2))
    assert linalg.lstsq(lucid.tensor(a), lucid.tensor(b), driver="gelsd").rank.item() == 3
    assert linalg.lstsq(lucid.tensor(a), lucid.tensor(b), 1e-2, driver="gelsd").rank.item() == 2
    assert_lstsq_matches_torch(a, b, rcond=1e-2, driver="gelsd")


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("shapes", [((0, 3), (0, 2)), ((4, 3), (4, 0)), ((2, 0, 3), (2, 0, 1))])
def test_lstsq_of_an_empty_problem_matches_torch(rng, driver, shapes):
    if driver in ("gelsd", "gelss") and shapes[1][-1] == 0:
        pytest.skip("PyTorch 2.13's gelsd and gelss crash on a B without columns")
    a, b = (rng.standard_normal(shape) for shape in shapes)
    assert_lstsq_matches_torch(a, b, driver=driver)


@pytest.mark.parametrize("driver", ["gels", "gelsd", "gelss"])
def test_lstsq_of_a_matrix_without_columns_has_the_residuals_of_the_zero_solution(rng, driver):
    """|B|^2, as PyTorch's gelsd and gelss give (its gels gives 0)."""
    a, b = rng.standard_normal((2, 4, 0)), rng.standard_normal((2, 4, 2))
    result = linalg.lstsq(lucid.tensor(a), lucid.tensor(b), driver=driver)
    assert result.solution.shape == (2, 0, 2)
    np.testing.assert_allclose(result.residuals.data, (b ** 2).sum(axis=-2))
    if driver != "gels":
        assert_lstsq_matches_torch(a, b, driver=driver)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("shapes", LSTSQ_SHAPES)
def test_lstsq_gradients_of_the_solution_and_residuals_match_torch(rng, driver, shapes):
    a, b = full_rank(rng, *shapes[0]), rng.standard_normal(shapes[1])

    def loss(lstsq):
        return lambda a, b: lstsq(a, b, driver=driver).solution.sin().sum() + (lstsq(a, b, driver=driver)
                                                                               .residuals ** 2).sum()
    both_gradients(loss(linalg.lstsq), loss(torch.linalg.lstsq), a, b)


@pytest.mark.parametrize("driver", ["gelsd", "gelss"])
def test_lstsq_singular_values_have_the_gradient_of_svdvals(rng, driver):
    """PyTorch leaves them out of the graph; here they are A's singular values, differentiated as such."""
    for a, b in [(full_rank(rng, 2, 4, 3), rng.standard_normal((2, 4, 2))),
                 (full_rank(rng, 1, 4, 3), rng.standard_normal((3, 4, 2)))]:  # A's matrix solves 3 problems
        both_gradients(lambda a: (linalg.lstsq(a, lucid.tensor(b), driver=driver).singular_values ** 3).sum(),
                       lambda a: (torch.linalg.svdvals(a) ** 3).sum(), a)


def test_lstsq_rank_has_no_gradient_and_b_alone_may_require_it(rng):
    a, b = full_rank(rng, 4, 3), lucid.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    result = linalg.lstsq(lucid.tensor(a), b)
    assert not result.rank.requires_grad and result.solution.requires_grad
    (gb,) = lucid.grad(result.solution.sum(), [b])
    np.testing.assert_allclose(gb.data, np.linalg.pinv(a).T @ np.ones((3, 2)), atol=1e-12)


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
    (lambda: linalg.lstsq(lucid.ones(4), lucid.ones(4)), ["linalg.lstsq", "A", "(4,)", "2 dims"]),
    (lambda: linalg.lstsq(lucid.ones(4, 3), lucid.ones(5, 2)), ["linalg.lstsq", "A", "(4, 3)", "B", "(5, 2)", "4"]),
    (lambda: linalg.lstsq(lucid.ones(4, 3), lucid.ones(3)), ["linalg.lstsq", "B", "(3,)", "(4,)"]),
    (lambda: linalg.lstsq(lucid.ones(4, 3), lucid.ones(2, 4, 2)), ["linalg.lstsq", "(4, 3)", "(2, 4, 2)"]),
    (lambda: linalg.lstsq(lucid.ones(2, 4, 3), lucid.ones(3, 4, 2)), ["linalg.lstsq", "batch", "broadcast"]),
    (lambda: linalg.lstsq(lucid.ones(4, 3), lucid.ones(4, 2), driver="gelsx"), ["linalg.lstsq", "driver"]),
    (lambda: linalg.lstsq(lucid.ones(4, 3, dtype=lucid.float64), lucid.ones(4, 2, dtype=lucid.float32)),
     ["linalg.lstsq", "same dtype", "float32"]),
    (lambda: linalg.lstsq(lucid.tensor([[1.0, 0.0], [0.0, 0.0]]), lucid.ones(2, 1), driver="gels"),
     ["linalg.lstsq", "full rank", "gels", "(2, 2)"]),
])
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(OpError) as error:
        call()
    assert all(w in str(error.value) for w in words), str(error.value)
