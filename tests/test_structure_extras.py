"""What the structure gives beyond the solve (derivation.md section 7).

The symmetric form ``K_s'``, ``det(H + eps I)`` and the inertia of
``H + eps I`` from the block factorization, against dense NumPy on the
autograd Hessian.

Tolerances, with their reasons:

- Moving and negating rows is exact, so ``K_s'`` is compared bit for bit,
  except that ``Q_l`` and ``S_{l+1}`` are symmetric only to rounding (their
  two triangles are the same sums of ``n`` products in other orders, ``n``
  below 100 here): ``200 eps_mach max|K|``.
- ``log|det|`` moves by ``|tr(A^{-1} dA)| <= N cond(A) ||dA|| / ||A||``. The
  structured route is backward stable on ``K'`` up to the factor
  ``BACKWARD_ERROR_FACTOR = 1e3`` the library accepts in its solves, the
  dense one on ``H + eps I``; so ``1e3 N eps_mach (cond(K') + cond(H + eps
  I))``.
- Inertia counts are integers and compared exactly, on problems whose dense
  eigenvalues stay clear of zero (``1e-8 ||H + eps I||``), so that the dense
  count itself is not in doubt.

A ``LinAlgWarning`` is a ``RuntimeWarning``, which setup.cfg turns into an
error: every test below that does not expect one also checks that none is
raised.
"""

import numpy as np
import pytest
import scipy.linalg
from conftest import (
    MACHINE_EPS,
    SHAPES,
    assert_curvature_alive,
    make_problem,
    plant_wrong_entry,
)
from scipy.linalg import LinAlgWarning

from hessian_ref import MLP
from hessian_ref.augmented import (
    augmented_system,
    damped_hessian_inertia,
    damped_hessian_slogdet,
    hessian_inverse_product,
    pivot_matrix,
    symmetric_augmented_system,
)
from hessian_ref.block_tridiagonal import (
    BlockLUFactorization,
    BlockTridiagonal,
    SingularBlockError,
)
from hessian_ref.dense import autograd_hessian, chain_matrices, dense_augmented
from hessian_ref.measure import breakdown_problem

rng = np.random.default_rng(707)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]
EPS = [1e-3, 0.1, 1.0]


def damped_dense(net, theta, X, t, eps):
    """``H + eps I`` from autograd, and its eigenvalues."""
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    return A, np.linalg.eigvalsh(A)


def row_transform(lin):
    """The dense block-diagonal ``T`` taking the rows ``x, y, w`` of each
    layer of ``K'`` to ``x, -w, -y`` (derivation.md section 7)."""
    blocks = []
    for p_l, a_l in zip(lin.p, lin.a[1:]):
        x, y, w = slice(0, p_l), slice(p_l, p_l + a_l), slice(p_l + a_l, None)
        T = np.zeros((p_l + 2 * a_l, p_l + 2 * a_l))
        T[x, x] = np.eye(p_l)
        T[y, w] = -np.eye(a_l)  # the second row group is -w
        T[w, y] = -np.eye(a_l)  # the third is -y
        blocks.append(T)
    return scipy.linalg.block_diag(*blocks)


def mirror_upper(A):
    """The symmetric matrix with the upper triangle of ``A``."""
    return np.triu(A) + np.triu(A, 1).T


# ------------------------------------------------------------ symmetric form


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_symmetric_form_is_exactly_symmetric(widths, batch, activation, loss):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    lin = net.linearize(theta, X, t)

    Ks = symmetric_augmented_system(lin, 0.1)

    assert isinstance(Ks, BlockTridiagonal)
    assert Ks.sizes == augmented_system(lin, 0.1).sizes
    dense = Ks.to_dense()
    np.testing.assert_array_equal(dense, dense.T)
    for E, F in zip(Ks.lower, Ks.upper):
        np.testing.assert_array_equal(E, F.T)


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_symmetric_form_is_the_row_transformed_pivoted_K(widths, batch, eps):
    net, theta, X, t = make_problem(rng, widths, "tanh", "squared_error", batch)
    lin = net.linearize(theta, X, t)
    Pi = pivot_matrix(lin.p, lin.a[1:])
    # products with 0/1 and 0/-1 matrices only copy entries: exact
    transformed = row_transform(lin) @ Pi @ dense_augmented(lin, eps) @ Pi.T

    Ks = symmetric_augmented_system(lin, eps).to_dense()

    np.testing.assert_array_equal(Ks, mirror_upper(transformed))
    # the mirroring changed only the rounding-level asymmetry of Q_l, S_l
    assert np.abs(Ks - transformed).max() <= 200 * MACHINE_EPS * np.abs(Ks).max()


@pytest.mark.parametrize("widths, batch", SHAPES)
def test_symmetric_form_matches_the_formula_of_section_7(widths, batch):
    net, theta, X, t = make_problem(rng, widths, "sigmoid", "cross_entropy", batch)
    lin = net.linearize(theta, X, t)
    eps = 0.3
    m = chain_matrices(lin)
    P, A = m["Q"].shape[0], m["M"].shape[0]
    RSh = m["R"] @ m["Sh"]
    # K_s = [[Q + eps I, R Sh, J^T], [Sh^T R^T, Sh^T S Sh, -M^T], [J, -M, 0]]
    K_s = np.block([
        [m["Q"] + eps * np.eye(P), RSh, m["J"].T],
        [RSh.T, m["Sh"].T @ m["S"] @ m["Sh"], -m["M"].T],
        [m["J"], -m["M"], np.zeros((A, A))],
    ])
    Pi = pivot_matrix(lin.p, lin.a[1:])

    Ks = symmetric_augmented_system(lin, eps).to_dense()

    expected = Pi @ K_s @ Pi.T
    assert np.abs(Ks - expected).max() <= 200 * MACHINE_EPS * np.abs(Ks).max()


# ----------------------------------------------- the facts, checked densely


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_sign_conventions_of_the_determinants(widths, batch, eps, gain):
    # derivation.md section 7: det K' = det K = det(H + eps I), sign included;
    # det K_s' = (-1)^A det(H + eps I) with A = a_1 + ... + a_L.
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch,
                                    gain=gain)
    lin = net.linearize(theta, X, t)
    damped, _ = damped_dense(net, theta, X, t, eps)
    A = sum(lin.a[1:])

    sign, logabsdet = np.linalg.slogdet(damped)
    K = np.linalg.slogdet(dense_augmented(lin, eps))
    Ks = np.linalg.slogdet(symmetric_augmented_system(lin, eps).to_dense())

    assert K.sign == sign and Ks.sign == (-1) ** A * sign
    # dense LU on K and on H + eps I: see the module docstring for the bound
    tol = 1e3 * K_order(lin) * MACHINE_EPS * (
        np.linalg.cond(dense_augmented(lin, eps)) + np.linalg.cond(damped)
    )
    assert abs(K.logabsdet - logabsdet) <= tol
    assert abs(Ks.logabsdet - logabsdet) <= tol


def K_order(lin):
    """``N = P + 2A``, the order of ``K``."""
    return sum(lin.p) + 2 * sum(lin.a[1:])


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_K_s_has_A_more_eigenvalues_of_each_sign(widths, batch, eps, gain):
    # derivation.md section 7, checked on dense matrices before it is used
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch,
                                    gain=gain)
    lin = net.linearize(theta, X, t)
    _, values = damped_dense(net, theta, X, t, eps)
    Ks_values = np.linalg.eigvalsh(symmetric_augmented_system(lin, eps).to_dense())
    A = sum(lin.a[1:])
    assert np.abs(values).min() > 1e-8 * np.abs(values).max()
    assert np.abs(Ks_values).min() > 1e-12 * np.abs(Ks_values).max()

    assert np.sum(Ks_values < 0) == np.sum(values < 0) + A
    assert np.sum(Ks_values > 0) == np.sum(values > 0) + A


# ------------------------------------------------------------- determinant


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_damped_hessian_slogdet_matches_dense(widths, batch, activation, loss, eps):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    lin = net.linearize(theta, X, t)
    damped, _ = damped_dense(net, theta, X, t, eps)
    assert_curvature_alive(damped - eps * np.eye(net.n_params), eps)

    sign, logabsdet = damped_hessian_slogdet(lin, eps)

    expected = np.linalg.slogdet(damped)
    assert isinstance(sign, float) and isinstance(logabsdet, float)
    assert sign == expected.sign
    tol = 1e3 * K_order(lin) * MACHINE_EPS * (
        np.linalg.cond(augmented_system(lin, eps).to_dense())
        + np.linalg.cond(damped)
    )
    assert abs(logabsdet - expected.logabsdet) <= tol


def test_slogdet_sees_negative_determinants():
    # an odd number of negative eigenvalues gives det(H + eps I) < 0
    signs = set()
    for seed in range(4):
        r = np.random.default_rng(seed)
        net, theta, X, t = make_problem(r, (3, 4, 4, 3), "tanh", "cross_entropy", 4,
                                        gain=2.5)
        lin = net.linearize(theta, X, t)
        damped, _ = damped_dense(net, theta, X, t, 1e-3)
        sign, _ = damped_hessian_slogdet(lin, 1e-3)
        assert sign == np.linalg.slogdet(damped).sign
        signs.add(sign)
    assert signs == {-1.0, 1.0}


def test_determinant_of_K_s_differs_by_minus_one_to_the_A():
    net, theta, X, t = make_problem(rng, (3, 4, 3, 2), "tanh", "cross_entropy", 2)
    lin = net.linearize(theta, X, t)
    A = sum(lin.a[1:])
    assert A % 2 == 1  # so that the sign flips

    sign, logabsdet = damped_hessian_slogdet(lin, 0.1)
    Ks_sign, Ks_logabsdet = symmetric_augmented_system(lin, 0.1).factor().slogdet()

    assert Ks_sign == -sign
    # the same pivot blocks up to row moves and negations
    assert Ks_logabsdet == pytest.approx(logabsdet, rel=1e-12)


# ----------------------------------------------------------------- inertia


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_damped_hessian_inertia_matches_dense(widths, batch, activation, loss, eps):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    lin = net.linearize(theta, X, t)
    _, values = damped_dense(net, theta, X, t, eps)
    assert np.abs(values).min() > 1e-8 * np.abs(values).max()

    counts = damped_hessian_inertia(lin, eps)

    assert counts == (int(np.sum(values < 0)), 0, int(np.sum(values > 0)))
    assert all(isinstance(c, int) for c in counts)


def large_gain_tanh(seed=0):
    """A tanh network at gain 2.5: H has many negative eigenvalues."""
    r = np.random.default_rng(seed)
    net, theta, X, t = make_problem(r, (3, 4, 4, 3), "tanh", "cross_entropy", 4,
                                    gain=2.5)
    return net, theta, X, t, autograd_hessian(net, theta, X, t)


def test_indefinite_damped_hessian_has_its_negative_eigenvalues_counted():
    net, theta, X, t, H = large_gain_tanh()
    eps = 1e-3
    values = np.linalg.eigvalsh(H + eps * np.eye(net.n_params))
    n_negative = int(np.sum(values < 0))
    assert n_negative >= 5

    counts = damped_hessian_inertia(net.linearize(theta, X, t), eps)

    assert counts == (n_negative, 0, net.n_params - n_negative)


def test_negative_count_drops_as_eps_passes_each_negative_eigenvalue():
    net, theta, X, t, H = large_gain_tanh()
    lin = net.linearize(theta, X, t)
    values = np.linalg.eigvalsh(H)
    cuts = np.sort(-values[values < -1e-3])
    # geometric midpoints between consecutive negative eigenvalues of H
    between = np.sqrt(cuts[:-1] * cuts[1:])
    assert between.size >= 5
    for eps in [*between, 2 * cuts[-1]]:
        assert np.abs(values + eps).min() > 1e-6 * eps  # clear of any eigenvalue
        expected = int(np.sum(values < -eps))

        counts = damped_hessian_inertia(lin, eps)

        assert counts == (expected, 0, net.n_params - expected), eps
    # and past the most negative eigenvalue, H + eps I is positive definite
    assert counts == (0, 0, net.n_params)


def test_positive_definite_damped_hessian():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 4)
    H = autograd_hessian(net, theta, X, t)
    eps = 1.0
    assert np.linalg.eigvalsh(H).min() > -eps / 2
    assert_curvature_alive(H, eps)

    assert damped_hessian_inertia(net.linearize(theta, X, t), eps) == (
        0, 0, net.n_params)


def test_doubtful_inertia_of_a_deep_linear_net_at_large_gain_warns():
    # A known limitation, not a bug in the counting: at gain 3 the pivot
    # blocks of a deep linear network grow to ~1e13 while H + eps I has
    # eigenvalues near 1e-3, so their small eigenvalues sit within rounding
    # of zero. The probe solve is still backward stable; the warning is what
    # tells the user the counts may be off (here they are).
    r = np.random.default_rng(0)
    net, theta, X, t = make_problem(r, (2, 3, 3, 3, 3, 3, 2), "identity",
                                    "squared_error", 2, gain=3.0)
    lin = net.linearize(theta, X, t)

    message = r"inertia counts may be off: .*layer"
    with pytest.warns(LinAlgWarning, match=message) as rec:
        counts = damped_hessian_inertia(lin, 1e-3)

    assert len(rec) == 1
    assert rec[0].filename == __file__
    assert sum(counts) == net.n_params


# --------------------------------------------- breakdown of the elimination


def first_block_breakdown():
    """The breakdown network of ``hessian_ref.measure.breakdown_problem``."""
    return breakdown_problem()


@pytest.mark.parametrize("function", [damped_hessian_slogdet, damped_hessian_inertia])
def test_breakdown_at_a_singular_pivot_block_is_refused(function):
    net, theta, X, y, lin, eps = first_block_breakdown()
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    assert np.linalg.cond(A) < 100  # H + eps I is not the problem

    with pytest.raises(SingularBlockError, match="pivot block of layer 1 is singular"):
        function(lin, eps)


@pytest.mark.parametrize("function", [damped_hessian_slogdet, damped_hessian_inertia])
def test_nearly_singular_pivot_block_warns_at_the_caller(function):
    # as hessian_inverse_product warns (tests/test_augmented.py), judged by
    # the backward error of one probe solve
    _, _, _, _, lin, eps = first_block_breakdown()

    with pytest.warns(LinAlgWarning, match="starts at the pivot block of layer") as rec:
        function(lin, eps * (1 + 1e-8))

    assert rec[0].filename == __file__


def test_nearly_singular_slogdet_is_still_close():
    # the warning is not a refusal: at 1e-8 from the singular eps the
    # determinant is still right to a few digits
    net, theta, X, y, lin, eps = first_block_breakdown()
    eps *= 1 + 1e-8
    expected = np.linalg.slogdet(
        autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    )

    with pytest.warns(LinAlgWarning):
        sign, logabsdet = damped_hessian_slogdet(lin, eps)

    assert sign == expected.sign
    assert logabsdet == pytest.approx(expected.logabsdet, rel=1e-6)


def test_inverse_product_still_warns_at_its_caller(monkeypatch):
    # regression guard for moving _solve's body into a reusable object: the
    # warning must still name the caller's line, not the library's
    # its own generator, so that the problem does not depend on which
    # tests ran before; a change of 1e-9 keeps the error a warning
    net, theta, X, y = make_problem(np.random.default_rng(5), (3, 4, 2), batch=3)
    plant_wrong_entry(monkeypatch, factor=1 + 1e-9)
    v = np.ones(net.n_params)
    for method in ("auto", "block", "banded"):
        with pytest.warns(LinAlgWarning, match="on H \\+ eps I") as rec:
            hessian_inverse_product(net, theta, X, y, v, 0.1, method=method,
                                    refine=0)
        assert rec[0].filename == __file__


def test_counts_that_contradict_the_structure_are_refused(monkeypatch):
    # K_s' has at least A eigenvalues of each sign; counts below that can
    # only come from a broken elimination, which must not be reported
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    lin = net.linearize(theta, X, t)

    def broken(self):
        return (0, 0, self.shape[0]), {}

    monkeypatch.setattr(BlockLUFactorization, "_inertia", broken)
    with pytest.raises(SingularBlockError, match="but K_s' has at least A = 13"):
        damped_hessian_inertia(lin, 0.1)


# --------------------------------------------------------------- arguments


FUNCTIONS = [symmetric_augmented_system, damped_hessian_slogdet, damped_hessian_inertia]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_bad_linearization_is_named(function):
    with pytest.raises(TypeError, match="lin: expected a Linearization .* got MLP"):
        function(MLP((3, 2)), 0.1)


@pytest.mark.parametrize(
    "eps, error, message",
    [
        (-1.0, ValueError, "eps: expected a finite number >?=? 0, got -1.0"),
        (np.nan, ValueError, "eps: expected a finite number >?=? 0, got nan"),
        ("0.1", TypeError, "eps: expected a real number"),
    ],
)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_bad_eps_is_named(function, eps, error, message):
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    with pytest.raises(error, match=message):
        function(net.linearize(theta, X, t), eps)


@pytest.mark.parametrize("function", [damped_hessian_slogdet, damped_hessian_inertia])
def test_zero_eps_is_refused_where_it_must_be_positive(function):
    # the matrix K_s' exists at eps = 0 (symmetric_augmented_system builds
    # it); the determinant and inertia are stated for H + eps I with eps > 0
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    with pytest.raises(ValueError, match="eps: expected a finite number > 0, got 0.0"):
        function(net.linearize(theta, X, t), 0.0)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_linearization_is_not_modified(function):
    net, theta, X, t = make_problem(rng, (3, 4, 3, 2), "tanh", "cross_entropy", 3)
    lin = net.linearize(theta, X, t)
    before = [
        {name: getattr(blk, name).copy() for name in "JGQRSb"} for blk in lin.layers
    ]

    function(lin, 0.1)

    for blk, saved in zip(lin.layers, before):
        for name, array in saved.items():
            np.testing.assert_array_equal(getattr(blk, name), array)


def test_one_layer_symmetric_form_by_hand():
    # softmax regression, one block: rows x, -w, -y of [[Q + eps, 0, J^T],
    # [-J, 1, 0], [0, 0, 1]] (a_1 = 1, no S_2 above the head)
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    lin = net.linearize(theta, X, t)
    blk = lin.layers[0]
    p = lin.p[0]

    (D,) = symmetric_augmented_system(lin, 0.5).diagonal

    np.testing.assert_array_equal(D[:p, :p], mirror_upper(blk.Q + 0.5 * np.eye(p)))
    np.testing.assert_array_equal(D[:p, p + 1:], blk.J.T)
    np.testing.assert_array_equal(D[p + 1:, :p], blk.J)
    np.testing.assert_array_equal(D[p:, p:], [[0.0, -1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(D[p, :p], np.zeros(p))
