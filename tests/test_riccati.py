"""The Riccati sweep (derivation.md section 12): solve, determinant and
inertia of H + eps I from its pivots, against dense computations.

Tolerances: the sweep does not pivot across layers, so its unrefined error
may exceed a backward-stable solve's ``cond(A) eps_mach``; measured on
these shapes it stays below 50 cond(A) eps_mach, and ``1e3`` leaves a factor
of 20. The judged and refined solve is held to ``100 cond(A) eps_mach`` like
every other method. ``log |det|`` is compared absolutely to ``1e3 cond(A)
eps_mach`` (its error is a sum of the pivots' relative errors).
"""

import numpy as np
import pytest
from conftest import MACHINE_EPS, SHAPES, assert_curvature_alive, make_problem, rel_err

from hessian_ref import hessian_inverse_product
from hessian_ref.augmented import solve_from_blocks
from hessian_ref.block_tridiagonal import SingularBlockError
from hessian_ref.dense import autograd_hessian
from hessian_ref.riccati import (
    RiccatiFactorization,
    _add_sample_blocks,
    _blockdiag_t_times,
    _blockdiag_times,
    _j_times,
    _jt_times,
    _sample_blocks,
    _times_blockdiag,
    _unit_blocks,
)

rng = np.random.default_rng(12)


def dense(net, theta, X, t, eps):
    H = autograd_hessian(net, theta, X, t)
    assert_curvature_alive(H, eps)
    return H + eps * np.eye(net.n_params)


@pytest.mark.parametrize("eps", [1e-3, 0.1, 1.0])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "identity"])
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_sweep_matches_dense(widths, batch, activation, loss, eps):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    A = dense(net, theta, X, t, eps)
    cond = np.linalg.cond(A)
    lin = net.linearize(theta, X, t)
    F = RiccatiFactorization(lin, eps)
    V = rng.standard_normal((net.n_params, 3))
    x = F.solve(V)
    assert rel_err(x, np.linalg.solve(A, V)) <= 1e3 * cond * MACHINE_EPS
    # and against block elimination of K' (refined, so within cond eps_mach of
    # the true answer like the dense solve)
    try:
        block = solve_from_blocks(lin, V, eps, method="block")
    except SingularBlockError:
        pass  # block elimination may refuse where a pivot block is singular
    else:
        assert rel_err(x, block) <= 1e3 * cond * MACHINE_EPS
    assert F.solve(V[:, 0]).shape == (net.n_params,)
    sign, logabsdet = F.slogdet()
    expected = np.linalg.slogdet(A)
    assert sign == expected.sign
    assert abs(logabsdet - expected.logabsdet) <= 1e3 * cond * MACHINE_EPS
    w = np.linalg.eigvalsh(A)
    assert F.inertia() == (int((w < 0).sum()), 0, int((w > 0).sum()))
    # the pivots multiply to the determinant: their count is P in total
    assert sum(len(Hxx) for Hxx in F.pivots) == net.n_params


@pytest.mark.parametrize("eps", [1e-4, 1e-2])
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_method_riccati_is_judged_and_refined(widths, batch, eps):
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch)
    A = dense(net, theta, X, t, eps)
    v = rng.standard_normal(net.n_params)
    x, info = hessian_inverse_product(net, theta, X, t, v, eps, method="riccati",
                                      return_info=True)
    assert info.method == "riccati"
    assert info.hessian_backward_error <= 4 * MACHINE_EPS
    assert rel_err(x, np.linalg.solve(A, v)) <= 100 * np.linalg.cond(A) * MACHINE_EPS


def test_indefinite_inertia_is_counted_by_the_pivots():
    # a large gain makes H indefinite; eps below its most negative eigenvalue
    net, theta, X, t = make_problem(rng, (3, 4, 4, 2), "tanh", "squared_error", 4,
                                    gain=2.5)
    H = autograd_hessian(net, theta, X, t)
    w = np.linalg.eigvalsh(H)
    assert w[0] < -1e-3
    eps = -w[0] / 2
    F = RiccatiFactorization(net.linearize(theta, X, t), eps)
    shifted = w + eps
    assert F.inertia() == (int((shifted < 0).sum()), 0, int((shifted > 0).sum()))
    assert F.inertia()[0] >= 1
    assert F.slogdet()[0] == np.linalg.slogdet(H + eps * np.eye(len(H))).sign


def test_public_functions_agree_with_the_structured_ones_and_check_arguments():
    from hessian_ref.augmented import damped_hessian_inertia, damped_hessian_slogdet
    from hessian_ref.riccati import riccati_inertia, riccati_slogdet

    net, theta, X, t = make_problem(rng, (3, 4, 4, 2), "tanh", "cross_entropy", 3)
    lin = net.linearize(theta, X, t)
    for eps in (1e-3, 0.5):
        assert riccati_inertia(lin, eps) == damped_hessian_inertia(lin, eps)
        sign, logabsdet = riccati_slogdet(lin, eps)
        expected = damped_hessian_slogdet(lin, eps)
        assert sign == expected[0]
        assert logabsdet == pytest.approx(expected[1], abs=1e-10)
    with pytest.raises(TypeError, match="lin: expected a Linearization"):
        riccati_slogdet(net, 0.1)
    with pytest.raises(ValueError, match="eps: expected a finite number > 0"):
        riccati_inertia(lin, -1.0)


def _scatter_units(C, n_out):
    """``J_l`` rebuilt densely from its unit blocks (the inverse of
    ``_unit_blocks``), written with loops to share nothing with it."""
    batch, _, width = C.shape
    n_in = width - 1
    J = np.zeros((batch * n_out, n_out * width))
    for n in range(batch):
        for k in range(n_out):
            J[n * n_out + k, k * n_in:(k + 1) * n_in] = C[n, k, :n_in]
            J[n * n_out + k, n_out * n_in + k] = C[n, k, n_in]
    return J


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "identity"])
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_structured_products_match_dense(widths, batch, activation):
    # J_l is exactly its unit blocks scattered back (every other entry of the
    # dense J_l is an exact zero), and every structured product equals the
    # dense one up to the order of summation: 1e-14 relative to the product
    # of the operands' norms is a few eps_mach per term summed
    net, theta, X, t = make_problem(rng, widths, activation, "cross_entropy", batch)
    lin = net.linearize(theta, X, t)
    for l, blk in enumerate(lin.layers[:-1]):
        n_out = lin.a[l + 1] // batch
        C = _unit_blocks(blk.J, batch)
        np.testing.assert_array_equal(_scatter_units(C, n_out), blk.J)
        M = rng.standard_normal((blk.J.shape[0], 5))
        Y = rng.standard_normal((blk.J.shape[1], 3))

        def close(ours, theirs, a, b):
            scale = np.linalg.norm(a) * np.linalg.norm(b)
            assert np.linalg.norm(ours - theirs) <= 1e-14 * scale

        close(_jt_times(C, M), blk.J.T @ M, blk.J, M)
        close(_j_times(C, Y), blk.J @ Y, blk.J, Y)
        Gb = _sample_blocks(blk.G, batch)
        # G_l is block diagonal over samples: nothing outside the blocks
        rows, cols = Gb.shape[1:]
        assert np.count_nonzero(blk.G) <= batch * rows * cols
        W = rng.standard_normal((7, blk.G.shape[0]))
        Z = rng.standard_normal((blk.G.shape[0], 4))
        U = rng.standard_normal((blk.G.shape[1], 4))
        close(_times_blockdiag(W, Gb), W @ blk.G, W, blk.G)
        close(_blockdiag_t_times(Gb, Z), blk.G.T @ Z, blk.G, Z)
        close(_blockdiag_times(Gb, U), blk.G @ U, blk.G, U)
        if l > 0:
            T = rng.standard_normal(blk.S.shape)
            expected = T + blk.S
            _add_sample_blocks(T, blk.S, batch)
            np.testing.assert_array_equal(T, expected)


def _dense_pivots(A, p):
    """Block (l, l) of the Schur complement of A onto layers 1..l: the
    pivots of a block L D L^T that eliminates the last layer first."""
    ends = np.cumsum(p)
    pivots = []
    for end, size in zip(ends, p):
        block = A[end - size:end, end - size:end]
        if end < len(A):
            coupling = A[end - size:end, end:]
            block = block - coupling @ np.linalg.solve(A[end:, end:], coupling.T)
        pivots.append(block)
    return pivots


@pytest.mark.parametrize("eps", [1e-2, 1.0])
@pytest.mark.parametrize("activation", ["tanh", "softplus"])
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_pivots_are_schur_complements_of_the_damped_hessian(widths, batch,
                                                           activation, eps):
    # the sweep is a block L D L^T of H + eps I itself; the dense Schur
    # complements carry an error of order cond(A) eps_mach ||A|| themselves,
    # and 100 leaves room for both computations' constants. Cholesky runs
    # exactly on the positive definite pivots, which are all of them exactly
    # when A is positive definite (Sylvester); cases whose smallest
    # eigenvalue is within 1e-8 ||A|| of zero are too close to call
    net, theta, X, t = make_problem(rng, widths, activation, "cross_entropy", batch)
    A = dense(net, theta, X, t, eps)
    lin = net.linearize(theta, X, t)
    F = RiccatiFactorization(lin, eps)
    norm, cond = np.linalg.norm(A, 2), np.linalg.cond(A)
    for ours, theirs in zip(F.pivots, _dense_pivots(A, lin.p)):
        assert np.linalg.norm(ours - theirs, 2) <= 100 * cond * MACHINE_EPS * norm
    for pivot, kind in zip(F.pivots, F.kinds):
        w = np.linalg.eigvalsh(pivot)
        if abs(w).min() > 1e-8 * abs(w).max():
            assert kind == ("cholesky" if w.min() > 0 else "lu")
    w = np.linalg.eigvalsh(A)
    if abs(w).min() > 1e-8 * norm:
        assert all(k == "cholesky" for k in F.kinds) == (w.min() > 0)
