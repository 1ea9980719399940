"""The augmented system, its pivot, and (H + eps I)^{-1} v (derivation.md sections 4-6).

Tolerances: ``K``, ``K'`` and the Schur complement are assembled from the
same blocks by different routes, so they agree to rounding (1e-12 relative).
Solves lose up to ``cond * machine eps``; block elimination without pivoting
across blocks can lose a little more, so solves are judged by
``max(1e-10, 1e3 * cond * eps_mach)``.
"""

import warnings

import numpy as np
import pytest
from conftest import MACHINE_EPS, SHAPES, assert_curvature_alive, make_problem, rel_err
from scipy.linalg import LinAlgWarning

from hessian_ref import MLP
from hessian_ref.augmented import (
    REFINE_TARGET,
    SingularHessianError,
    augmented_system,
    hessian_inverse_product,
    pivot_matrix,
    pivot_permutation,
    solve_from_blocks,
)
from hessian_ref.block_tridiagonal import BlockTridiagonal, SingularBlockError
from hessian_ref.dense import autograd_hessian, dense_augmented
from hessian_ref.measure import breakdown_problem, pivot_breakdown_problem
from hessian_ref.riccati import SingularPivotError

rng = np.random.default_rng(606)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]
EPS = [1e-3, 0.1, 1.0]


def solve_tolerance(A):
    return max(1e-10, 1e3 * np.linalg.cond(A) * MACHINE_EPS)


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_schur_complement_of_K_is_the_damped_hessian(widths, batch, loss, eps):
    net, theta, X, t = make_problem(rng, widths, "tanh", loss, batch)
    lin = net.linearize(theta, X, t)
    K = dense_augmented(lin, eps)
    P = net.n_params
    # eliminate (y, w): H + eps I = K_xx - K_x,yw K_yw,yw^{-1} K_yw,x  (C9)
    schur = K[:P, :P] - K[:P, P:] @ np.linalg.solve(K[P:, P:], K[P:, :P])
    H = autograd_hessian(net, theta, X, t)
    assert rel_err(schur, H + eps * np.eye(P)) < 1e-11


@pytest.mark.parametrize("widths, batch", SHAPES)
def test_pivoted_K_is_block_tridiagonal_with_the_stated_blocks(widths, batch):
    net, theta, X, t = make_problem(rng, widths, "sigmoid", "cross_entropy", batch)
    lin = net.linearize(theta, X, t)
    eps = 0.3
    K = dense_augmented(lin, eps)
    Pi = pivot_matrix(lin.p, lin.a[1:])
    Kp = Pi @ K @ Pi.T

    sizes = [p + 2 * a for p, a in zip(lin.p, lin.a[1:])]
    at = np.concatenate([[0], np.cumsum(sizes)])
    L = len(sizes)
    for i in range(L):
        for j in range(L):
            block = Kp[at[i]:at[i + 1], at[j]:at[j + 1]]
            if abs(i - j) > 1:
                assert np.all(block == 0), f"nonzero outside the band at ({i}, {j})"
    # C13: the structured build, layer by layer, equals Pi K Pi^T entry for entry
    structured = augmented_system(lin, eps)
    assert structured.sizes == tuple(sizes)
    np.testing.assert_array_equal(structured.to_dense(), Kp)
    perm = pivot_permutation(lin.p, lin.a[1:])
    np.testing.assert_array_equal(K[np.ix_(perm, perm)], Kp)


def test_block_pattern_of_one_layer_of_K_prime():
    net, theta, X, t = make_problem(rng, (2, 3, 3, 2), "tanh", "squared_error", 2)
    lin = net.linearize(theta, X, t)
    Kp = augmented_system(lin, 0.5)
    p, a = lin.p, lin.a[1:]
    D, E, F = Kp.diagonal[1], Kp.lower[0], Kp.upper[1]
    x, y, w = slice(0, p[1]), slice(p[1], p[1] + a[1]), slice(p[1] + a[1], None)
    blk, above = lin.layers[1], lin.layers[2]
    np.testing.assert_array_equal(D[x, x], blk.Q + 0.5 * np.eye(p[1]))
    np.testing.assert_array_equal(D[x, w], blk.J.T)
    np.testing.assert_array_equal(D[y, x], -blk.J)
    np.testing.assert_array_equal(D[w, y], -above.S)
    assert np.all(D[x, y] == 0) and np.all(D[y, w] == 0) and np.all(D[w, x] == 0)
    y0 = slice(p[0], p[0] + a[0])
    np.testing.assert_array_equal(E[x, y0], blk.R)
    np.testing.assert_array_equal(E[y, y0], -blk.G)
    assert np.count_nonzero(E[w]) == 0
    np.testing.assert_array_equal(F[w, slice(0, p[2])], -above.R.T)
    assert np.count_nonzero(F[x]) == 0 and np.count_nonzero(F[y]) == 0


@pytest.mark.parametrize("widths, batch", SHAPES)
def test_pivot_is_orthogonal_but_not_an_involution(widths, batch):
    net = MLP(widths)
    p, a = net.p, net.state_sizes(batch)[1:]
    Pi = pivot_matrix(p, a)
    n = Pi.shape[0]
    np.testing.assert_array_equal(Pi @ Pi.T, np.eye(n))  # Pi^{-1} = Pi^T
    if len(p) == 1:
        np.testing.assert_array_equal(Pi, np.eye(n))
    else:
        # blocks differ in size (a_L = 1), so applying the pivot twice is no identity
        assert not np.array_equal(Pi @ Pi, np.eye(n))


def test_pivot_is_an_involution_for_three_equal_layers_only():
    # C12: the 3 x 3 grid of equal blocks is transposed by the regrouping
    Pi = pivot_matrix((2, 2, 2), (2, 2, 2))
    np.testing.assert_array_equal(Pi @ Pi, np.eye(18))
    Pi = pivot_matrix((2, 2, 2, 2), (2, 2, 2, 2))
    assert not np.array_equal(Pi @ Pi, np.eye(24))


def test_pivot_maps_unknowns_layer_by_layer():
    # (x1 x2 | y1 y2 | w1 w2) with p = (2, 1), a = (1, 1) -> (x1 y1 w1 x2 y2 w2)
    perm = pivot_permutation((2, 1), (1, 1))
    np.testing.assert_array_equal(perm, [0, 1, 3, 5, 2, 4, 6])


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_block_solve_of_K_prime_matches_dense_solve(widths, batch, eps):
    net, theta, X, t = make_problem(rng, widths, "softplus", "cross_entropy", batch)
    Kp = augmented_system(net.linearize(theta, X, t), eps)
    dense = Kp.to_dense()
    r = rng.standard_normal((dense.shape[0], 2))
    expected = np.linalg.solve(dense, r)
    assert rel_err(Kp.factor().solve(r), expected) < solve_tolerance(dense)


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_inverse_product_matches_dense_solve(widths, batch, activation, loss, eps):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    H = autograd_hessian(net, theta, X, t)
    assert_curvature_alive(H, eps)
    A = H + eps * np.eye(net.n_params)
    v = rng.standard_normal(net.n_params)
    x = hessian_inverse_product(net, theta, X, t, v, eps)
    assert x.shape == v.shape
    assert rel_err(x, np.linalg.solve(A, v)) < solve_tolerance(A)
    # the residual against the dense matrix, scaled as a backward error
    residual = np.linalg.norm(A @ x - v) / (np.linalg.norm(A, 2) * np.linalg.norm(x))
    assert residual < 1e-12


def test_poorly_conditioned_pivot_blocks_alone_raise_no_warning():
    # a linear network at small eps: pivot blocks with rcond far below
    # sqrt(eps_mach), yet the elimination is backward stable and accurate
    net, theta, X, t = make_problem(
        np.random.default_rng(7), (2, 3, 3, 3, 3, 3, 2), "identity", "squared_error", 2
    )
    eps = 1e-3
    v = np.ones(net.n_params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        x, info = solve_from_blocks(net.linearize(theta, X, t), v, eps,
                                    return_info=True)
    assert min(info.rcond) < np.sqrt(MACHINE_EPS)
    assert info.backward_error < 1e3 * len(info.rcond) * 20 * MACHINE_EPS
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    assert np.linalg.cond(A) < 1e6  # the whole system is not the problem
    assert rel_err(x, np.linalg.solve(A, v)) < solve_tolerance(A)


def _first_block_breakdown():
    """The breakdown network of ``hessian_ref.measure.breakdown_problem``."""
    return breakdown_problem()


def test_singular_pivot_block_is_refused_naming_the_layer():
    net, theta, X, y, _, eps = _first_block_breakdown()
    message = "pivot block of layer 1 is singular"
    with pytest.raises(SingularBlockError, match=message) as e:
        hessian_inverse_product(net, theta, X, y, np.ones(net.n_params), eps,
                                method="block")
    assert e.value.block == 0
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    assert np.linalg.cond(A) < 100  # while H + eps I is well conditioned


@pytest.mark.parametrize("factor", [1.0, 1 + 1e-12, 1 + 1e-8])
def test_auto_is_accurate_where_elimination_breaks_down(factor):
    # the Riccati sweep's pivots are not the pivot blocks of K': where block
    # elimination breaks down, auto's sweep is sound and needs no fallback
    net, theta, X, y, _, eps = _first_block_breakdown()
    eps *= factor
    v = np.random.default_rng(3).standard_normal(net.n_params)
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        x, info = hessian_inverse_product(net, theta, X, y, v, eps,
                                          return_info=True)
    assert info.method == "riccati" and info.reason == ""
    assert min(info.rcond) > 1e-3
    assert rel_err(x, np.linalg.solve(A, v)) < solve_tolerance(A)
    xb = hessian_inverse_product(net, theta, X, y, v, eps, method="banded")
    assert rel_err(xb, x) < 1e-12


@pytest.mark.parametrize("refine", [0, "auto"])
@pytest.mark.parametrize("factor", [1.0, 1 + 1e-12, 1 + 1e-8, 1 + 1e-4])
def test_auto_falls_back_to_the_banded_lu_where_the_riccati_sweep_breaks_down(
        factor, refine):
    # at eps* the pivot Hxx_2 is singular to the last bit while H + eps I has
    # condition number ~6: the sweep is refused, and auto hands the solve to
    # the banded LU, which pivots across layers. Near eps* the sweep loses
    # about log10(1 / rcond) digits: auto keeps it only when refinement
    # brings the backward error to the doubt threshold, and either way the
    # answer is as accurate as the dense solve (solve_tolerance: 100 cond
    # eps_mach, a bound for a backward-stable solve)
    net, theta, X, y, _, eps = pivot_breakdown_problem()
    eps *= factor
    v = np.random.default_rng(3).standard_normal(net.n_params)
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    assert np.linalg.cond(A) < 10
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        x, info = hessian_inverse_product(net, theta, X, y, v, eps,
                                          return_info=True, refine=refine)
    assert rel_err(x, np.linalg.solve(A, v)) < solve_tolerance(A)
    if factor < 1 + 1e-10 or (factor < 1 + 1e-6 and refine == 0):
        assert info.method == "banded"
        assert "Riccati pivot of layer 2" in info.reason or (
            "Riccati sweep left a backward error" in info.reason)
        with pytest.raises(SingularPivotError,
                           match="Riccati pivot of layer 2 is singular") as e:
            hessian_inverse_product(net, theta, X, y, v, eps, method="riccati",
                                    refine=refine)
        assert e.value.layer == 1
    elif factor > 1 + 1e-6:
        assert info.method == "riccati" and info.reason == ""


def test_auto_keeps_the_riccati_sweep_when_it_is_sound():
    net, theta, X, t = make_problem(np.random.default_rng(13), (3, 4, 4, 2), "tanh",
                                    "cross_entropy", 3)
    v = np.ones(net.n_params)
    x, info = hessian_inverse_product(net, theta, X, t, v, 0.1, return_info=True)
    assert info.method == "riccati" and info.reason == ""
    assert len(info.rcond) == 3
    H = autograd_hessian(net, theta, X, t)
    A = H + 0.1 * np.eye(net.n_params)
    assert info.residual == pytest.approx(
        np.linalg.norm(A @ x - v) / np.linalg.norm(v), rel=1e-3, abs=1e-15)


def test_singular_damped_hessian_is_refused_with_advice():
    # softmax regression: the head's bias direction is an exact null vector,
    # so at eps = 1e-300 H + eps I is singular to working precision
    net = MLP((3, 4))
    theta = net.init(seed=3)
    X = np.random.default_rng(14).standard_normal((5, 3))
    y = np.array([0, 1, 2, 3, 0])
    with pytest.raises(SingularHessianError, match="singular to working precision.*condition estimate.*increase eps"):
        hessian_inverse_product(net, theta, X, y, np.ones(net.n_params), 1e-300,
                                method="banded")


def test_unknown_method_is_named():
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    with pytest.raises(ValueError, match=r"method: expected one of \('auto', "):
        hessian_inverse_product(net, theta, X, t, np.ones(8), 0.1, method="dense")


def test_nearly_singular_pivot_block_unrefined_is_refused_naming_the_layer():
    # regression guard for the instability of elimination without pivoting
    # across blocks (claim C18): unrefined, the answer is off by ~1e-10 where
    # cond * eps_mach ~ 1e-14, so block elimination refuses it, naming the
    # layer where the breakdown starts and the condition of H + eps I
    net, theta, X, y, lin, eps = _first_block_breakdown()
    eps *= 1 + 1e-8
    v = np.random.default_rng(2).standard_normal(net.n_params)
    with pytest.raises(SingularBlockError,
                       match="pivot block of layer 1 .*backward error of .* on "
                             "H \\+ eps I.*condition estimate of H \\+ eps I"):
        solve_from_blocks(lin, v, eps, refine=0)
    # auto's Riccati sweep, whose pivots are sound here, answers the same
    # request unrefined
    x, info = solve_from_blocks(lin, v, eps, return_info=True, refine=0,
                                method="auto")
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    assert info.method == "riccati"
    assert rel_err(x, np.linalg.solve(A, v)) <= 100 * np.linalg.cond(A) * MACHINE_EPS


def test_refinement_repairs_an_unstable_block_elimination():
    # the same solve refined with the Hessian-vector product's residual: one
    # step brings the error from ~1e-10 to cond(A) * eps_mach (cond < 100, so
    # 100 * cond * eps_mach is a bound with room for the estimate of ||A||)
    net, theta, X, y, lin, eps = _first_block_breakdown()
    eps *= 1 + 1e-8
    v = np.random.default_rng(2).standard_normal(net.n_params)
    A = autograd_hessian(net, theta, X, y) + eps * np.eye(net.n_params)
    x, info = solve_from_blocks(lin, v, eps, return_info=True)
    assert info.method == "block"
    assert info.refinement_steps >= 1
    assert info.hessian_backward_error <= REFINE_TARGET
    assert info.residual <= 100 * MACHINE_EPS
    assert rel_err(x, np.linalg.solve(A, v)) <= 100 * np.linalg.cond(A) * MACHINE_EPS


def test_breakdown_just_off_the_singular_eps_is_refused():
    net, theta, X, y, _, eps = _first_block_breakdown()
    with pytest.raises(SingularBlockError, match="broke down: backward error"):
        hessian_inverse_product(net, theta, X, y, np.ones(net.n_params),
                                eps * (1 + 1e-12), method="block")


def test_zero_and_empty_right_hand_sides():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    lin = net.linearize(theta, X, t)
    v = rng.standard_normal(net.n_params)
    x, info = solve_from_blocks(lin, np.stack([v, 0 * v], axis=1), 0.1,
                                return_info=True)
    assert np.all(x[:, 1] == 0) and np.isfinite(info.backward_error)
    assert solve_from_blocks(lin, np.zeros((net.n_params, 0)), 0.1).shape == (
        net.n_params, 0)


@pytest.mark.parametrize("eps", [1e8, 1e16, 1e40])
def test_huge_eps_gives_v_over_eps(eps):
    # pivot blocks mix eps with unit blocks, so their rcond is ~1/eps; the
    # solve must still succeed and match the dense answer
    net, theta, X, t = make_problem(rng, (3, 4, 4, 3), "tanh", "cross_entropy", 5)
    v = rng.standard_normal(net.n_params)
    H = autograd_hessian(net, theta, X, t)
    expected = np.linalg.solve(H + eps * np.eye(net.n_params), v)
    assert rel_err(hessian_inverse_product(net, theta, X, t, v, eps), expected) < 1e-12


def test_many_right_hand_sides_share_one_factorization():
    net, theta, X, t = make_problem(rng, (4, 4, 4, 3), "tanh", "cross_entropy", 5)
    lin = net.linearize(theta, X, t)
    V = rng.standard_normal((net.n_params, 4))
    Xs = solve_from_blocks(lin, V, 0.1)
    for k in range(4):
        np.testing.assert_allclose(Xs[:, k], solve_from_blocks(lin, V[:, k], 0.1),
                                   rtol=1e-12, atol=1e-13)


def test_known_answer_round_trip():
    # v := (H + eps I) x_true computed by Hv, then the solve must return x_true
    from hessian_ref.hvp import hessian_vector_product

    net, theta, X, t = make_problem(rng, (3, 3, 3, 3, 2), "tanh", "squared_error", 3)
    x_true = rng.standard_normal(net.n_params)
    eps = 0.05
    v = hessian_vector_product(net, theta, X, t, x_true) + eps * x_true
    H = autograd_hessian(net, theta, X, t)
    tol = solve_tolerance(H + eps * np.eye(net.n_params))
    assert rel_err(hessian_inverse_product(net, theta, X, t, v, eps), x_true) < tol


def test_inputs_are_not_modified():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    v = rng.standard_normal(net.n_params)
    copies = [a.copy() for a in (theta, X, t, v)]
    hessian_inverse_product(net, theta, X, t, v, 0.1)
    for before, after in zip(copies, (theta, X, t, v)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "eps, error, message",
    [
        (-1e-3, ValueError, "eps: expected a finite number >= 0, got -0.001"),
        (np.nan, ValueError, "eps: expected a finite number >= 0, got nan"),
        (np.inf, ValueError, "eps: expected a finite number >= 0"),
        (True, TypeError, "eps: expected a real number"),
        ("0.1", TypeError, "eps: expected a real number"),
        (1j, TypeError, "eps: expected a real number"),
    ],
)
def test_bad_eps_is_named(eps, error, message):
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    with pytest.raises(error, match=message):
        hessian_inverse_product(net, theta, X, t, np.ones(net.n_params), eps)


def test_bad_vector_and_batch_are_named():
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    with pytest.raises(ValueError, match=r"v: expected shape \(26,\) or \(26, k\)"):
        hessian_inverse_product(net, theta, X, t, np.ones(25), 0.1)
    with pytest.raises(ValueError, match="v: expected finite values"):
        hessian_inverse_product(net, theta, X, t, np.full(26, np.inf), 0.1)
    with pytest.raises(ValueError, match="targets: expected labels in 0..1, got 5"):
        hessian_inverse_product(net, theta, X, np.array([0, 5]), np.ones(26), 0.1)


def test_augmented_system_is_a_general_block_tridiagonal():
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    Kp = augmented_system(net.linearize(theta, X, t), 1.0)
    assert isinstance(Kp, BlockTridiagonal) and Kp.n_blocks == 1
    assert Kp.sizes == (8 + 2,)


@pytest.mark.parametrize("loss", LOSSES)
def test_sum_reduction_scales_hessian_and_damping(loss):
    # H_sum = B H_mean, so (H_sum + B eps I)^{-1} v = (H_mean + eps I)^{-1} v / B
    rng_local = np.random.default_rng(11)
    net_mean, theta, X, t = make_problem(rng_local, (3, 4, 4, 2), "tanh", loss, 5)
    net_sum = MLP((3, 4, 4, 2), "tanh", loss, reduction="sum")
    B, eps = 5, 0.05
    v = rng_local.standard_normal(net_mean.n_params)
    assert net_sum.loss(theta, X, t) == pytest.approx(B * net_mean.loss(theta, X, t),
                                                       rel=1e-14)
    H_mean = autograd_hessian(net_mean, theta, X, t)
    H_sum = autograd_hessian(net_sum, theta, X, t)
    assert rel_err(H_sum, B * H_mean) < 1e-13
    x_sum = hessian_inverse_product(net_sum, theta, X, t, v, B * eps)
    x_mean = hessian_inverse_product(net_mean, theta, X, t, v, eps)
    assert rel_err(x_sum, x_mean / B) < solve_tolerance(H_mean + eps * np.eye(len(v)))


def test_unknown_reduction_is_named():
    message = r"reduction: expected one of \('mean', 'sum'\)"
    with pytest.raises(ValueError, match=message):
        MLP((3, 2), reduction="average")


def test_float32_inputs_are_computed_in_float64():
    # policy: every input is converted to float64; float32 data give the same
    # answer as their exact float64 values, to the last bit
    net, theta, X, t = make_problem(np.random.default_rng(12), (3, 4, 2), "tanh",
                                    "squared_error", 3)
    theta32, X32, t32 = (a.astype(np.float32) for a in (theta, X, t))
    v32 = np.ones(net.n_params, dtype=np.float32)
    x32 = hessian_inverse_product(net, theta32, X32, t32, v32, np.float32(0.125))
    x64 = hessian_inverse_product(net, theta32.astype(float), X32.astype(float),
                                  t32.astype(float), v32.astype(float), 0.125)
    assert x32.dtype == np.float64
    np.testing.assert_array_equal(x32, x64)
