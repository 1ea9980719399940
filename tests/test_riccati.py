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
from hessian_ref.dense import autograd_hessian
from hessian_ref.riccati import RiccatiFactorization

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
    F = RiccatiFactorization(net.linearize(theta, X, t), eps)
    V = rng.standard_normal((net.n_params, 3))
    assert rel_err(F.solve(V), np.linalg.solve(A, V)) <= 1e3 * cond * MACHINE_EPS
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
