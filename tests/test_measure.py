"""The measurement sweeps: complete, consistent results (never timings)."""

import numpy as np
import pytest

from hessian_ref.dense import autograd_hessian
from hessian_ref.measure import (
    dense_inverse_product,
    depth_sweep,
    eps_sweep,
    krylov_inverse_product,
    peak_bytes,
    tall_skinny_problem,
    width_sweep,
)


def test_three_routes_agree_on_one_problem():
    net, theta, X, t = tall_skinny_problem(5, 3, 2, seed=4)
    v = np.random.default_rng(0).standard_normal(net.n_params)
    eps = 0.5
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    expected = np.linalg.solve(A, v)
    cond = np.linalg.cond(A)
    dense = dense_inverse_product(net, theta, X, t, v, eps)
    assert np.linalg.norm(dense - expected) < 1e3 * cond * 2.2e-16 * np.linalg.norm(
        expected)
    x, iterations, converged = krylov_inverse_product(net, theta, X, t, v, eps,
                                                      rtol=1e-12)
    assert converged and 0 < iterations <= 2 * net.n_params
    # MINRES stops at a relative residual of 1e-12: forward error <= cond * 1e-12
    assert np.linalg.norm(x - expected) <= 10 * cond * 1e-12 * np.linalg.norm(expected)


def test_peak_bytes_sees_a_numpy_allocation():
    n = 1_000_000
    assert peak_bytes(lambda: np.ones(n)) >= 8 * n
    assert peak_bytes(lambda: None) < 10_000


def test_depth_sweep_is_complete_and_skips_what_it_should():
    sweep = depth_sweep([2, 4, 8], width=3, batch=2, repeats=1,
                        dense_max_params=100, krylov_max_params=100)
    n = 3
    assert sweep["depths"] == [2, 4, 8]
    # 4 -> depth x 3 -> 3: 15 + 12 (depth - 1) + 12 parameters
    assert sweep["n_params"] == [15 + 12 * (d - 1) + 12 for d in (2, 4, 8)]
    for route in ("structured", "hvp", "gradient"):
        assert len(sweep["seconds"][route]) == n
        assert all(s > 0 for s in sweep["seconds"][route])
    assert all(b > 0 for b in sweep["peak_bytes"]["structured"])
    P = np.asarray(sweep["n_params"])
    # the dense and Krylov routes run only up to 100 parameters
    ran = P <= 100
    assert np.array_equal(np.isfinite(sweep["seconds"]["dense"]), ran)
    assert np.array_equal(np.isfinite(sweep["seconds"]["cg"]), ran)
    assert np.array_equal(np.isfinite(np.asarray(sweep["cg_iterations"], float)), ran)
    # block sizes: hidden layers have p = 3 * 3 + 3 = 12 and a = 2 * 3 = 6
    assert sweep["block_sizes"] == [max(12 + 12, 4 * 3 + 3 + 12)] * n
    assert sweep["band_bytes"][1] > sweep["band_bytes"][0]


def test_width_sweep_block_sizes():
    sweep = width_sweep([2, 5], depth=2, batch=3, repeats=1)
    # largest p_l + 2 a_l with a = 3 w: for w = 2 the first layer
    # (p = 4 * 2 + 2), for w = 5 a hidden layer (p = 5 * 5 + 5)
    assert sweep["block_sizes"] == [10 + 2 * 6, 30 + 2 * 15]
    assert all(s > 0 for s in sweep["seconds"]["structured"])


def test_eps_sweep_errors_and_conditioning():
    net, theta, X, t = tall_skinny_problem(3, 3, 2, seed=5)
    H = autograd_hessian(net, theta, X, t)
    sweep = eps_sweep(net, theta, X, t, H, [1e-2, 1.0])
    eig = np.linalg.eigvalsh(H)
    for k, eps in enumerate([1e-2, 1.0]):
        shifted = np.abs(eig + eps)
        assert sweep["cond"][k] == pytest.approx(shifted.max() / shifted.min())
        assert sweep["min_eigenvalue"][k] == pytest.approx(eig[0] + eps)
        bound = 1e3 * sweep["cond"][k] * 2.2e-16
        assert sweep["error"]["dense"][k] < bound
        assert sweep["error"]["structured"][k] < bound
        assert not sweep["refused"][k] and sweep["cg_converged"][k]
    # better conditioned at the larger eps
    assert sweep["cond"][1] < sweep["cond"][0]
