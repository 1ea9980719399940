"""The dense oracles agree with one another (derivation.md section 3, claim C3).

The Hessian formula (the paper's claim 1) and autograd are exact up to
rounding; with entries of order one and at most a few hundred parameters,
1e-11 relative leaves four orders of magnitude of margin over the observed
~1e-15.
"""

import numpy as np
import pytest
import scipy.linalg
from conftest import SHAPES, make_problem, rel_err

from hessian_ref import MLP
from hessian_ref.dense import (
    autograd_hessian,
    chain_matrices,
    dense_augmented,
    finite_difference_hvp,
    hessian_from_blocks,
)

rng = np.random.default_rng(404)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_claim1_formula_equals_autograd_hessian(widths, batch, activation, loss):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    H = autograd_hessian(net, theta, X, t)
    H_formula = hessian_from_blocks(net.linearize(theta, X, t))
    assert rel_err(H_formula, H) < 1e-11
    assert rel_err(H_formula, H_formula.T) < 1e-14


def test_chain_matrices_shapes_and_structure():
    net, theta, X, t = make_problem(rng, (2, 3, 4, 2), "tanh", "cross_entropy", 2)
    lin = net.linearize(theta, X, t)
    m = chain_matrices(lin)
    A = 6 + 8 + 1
    A_in = 4 + 6 + 8
    assert m["M"].shape == (A, A) and m["J"].shape == (A, net.n_params)
    assert m["Sh"].shape == (A_in, A)
    # C2: M is unit lower block-bidiagonal, so det M = 1
    assert np.allclose(np.tril(m["M"]), m["M"]) and np.all(np.diag(m["M"]) == 1)
    assert np.linalg.det(m["M"]) == pytest.approx(1.0, abs=1e-14)
    # the shift drops z_L and maps z_l to the input slot of layer l + 1
    assert np.all(m["Sh"][:4] == 0) and m["Sh"].sum() == 6 + 8


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("n_in, n_out, batch", [(1, 1, 1), (3, 2, 4), (4, 3, 6)])
def test_one_layer_hessian_has_its_closed_form(loss, n_in, n_out, batch):
    """Softmax (or linear) regression: H = (1/B) sum_n Lambda_n (x) [z_n; 1][z_n; 1]^T,
    rearranged into the flat layout (weights row-major, then bias)."""
    if loss == "cross_entropy" and n_out == 1:
        n_out = 2
    net, theta, X, t = make_problem(rng, (n_in, n_out), loss=loss, batch=batch)
    (W, c), = net.unpack(theta)
    U = X @ W.T + c
    if loss == "cross_entropy":
        E = np.exp(U - U.max(axis=1, keepdims=True))
        Pr = E / E.sum(axis=1, keepdims=True)
        Lams = [(np.diag(p) - np.outer(p, p)) / batch for p in Pr]
    else:
        Lams = [np.eye(n_out) / batch] * batch
    H_WW = sum(np.kron(Lam, np.outer(z, z)) for Lam, z in zip(Lams, X))
    H_Wc = sum(np.kron(Lam, z[:, None]) for Lam, z in zip(Lams, X))
    H_cc = sum(Lams)
    H = np.block([[H_WW, H_Wc], [H_Wc.T, H_cc]])
    lin = net.linearize(theta, X, t)
    assert rel_err(hessian_from_blocks(lin), H) < 1e-13
    assert rel_err(autograd_hessian(net, theta, X, t), H) < 1e-13
    # a single layer's Hessian is its Q block
    np.testing.assert_allclose(lin.layers[0].Q, H, rtol=0, atol=1e-14)


def test_finite_differences_agree_with_autograd():
    net, theta, X, t = make_problem(rng, (3, 4, 4, 2), "softplus", "squared_error", 3)
    H = autograd_hessian(net, theta, X, t)
    v = rng.standard_normal(net.n_params)
    # O(h^2) truncation and O(eps/h) rounding at h = 1e-5: about 1e-8
    assert rel_err(finite_difference_hvp(net, theta, X, t, v), H @ v) < 1e-6


def test_softmax_hessian_has_exact_null_directions():
    # adding the same amount to every logit leaves the loss unchanged, so the
    # head's bias direction (1, .., 1) is in the null space (claim C8)
    net = MLP((3, 4))
    theta = net.init(seed=3)
    X = rng.standard_normal((5, 3))
    y = rng.integers(0, 4, size=5)
    H = autograd_hessian(net, theta, X, y)
    d = np.zeros(net.n_params)
    d[12:] = 1.0
    assert np.linalg.norm(H @ d) < 1e-14
    assert np.linalg.matrix_rank(H) < net.n_params
    assert np.allclose(scipy.linalg.eigvalsh(H).min(), 0, atol=1e-14)


def test_autograd_oracle_survives_logits_far_apart():
    # regression: the log-sum-exp shift must be per sample, not per batch;
    # sample 2's logits sit 1200 below sample 1's, and a batch-wide shift
    # turned its loss into log(0) = -inf
    net = MLP((1, 2))
    theta = net.pack([np.array([[1.0], [1.001]])], [np.zeros(2)])
    X = np.array([[400.0], [-800.0]])
    y = np.array([0, 0])
    from hessian_ref.dense import autograd_loss

    assert autograd_loss(net, X, y)(theta) == pytest.approx(net.loss(theta, X, y),
                                                             rel=1e-14)
    H = autograd_hessian(net, theta, X, y)
    assert np.all(np.isfinite(H))
    assert np.linalg.norm(H) > 1e-3  # neither sample is saturated
    assert rel_err(hessian_from_blocks(net.linearize(theta, X, y)), H) < 1e-12


def test_finite_differences_validate_their_arguments():
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    with pytest.raises(ValueError, match=r"v: expected shape \(8,\)"):
        finite_difference_hvp(net, theta, X, t, np.ones(7))
    with pytest.raises(ValueError, match="v: expected finite values"):
        finite_difference_hvp(net, theta, X, t, np.full(8, np.nan))
    with pytest.raises(ValueError, match="h: expected a finite step > 0, got 0"):
        finite_difference_hvp(net, theta, X, t, np.ones(8), h=0)
    assert np.all(finite_difference_hvp(net, theta, X, t, np.zeros(8)) == 0)


def test_dense_oracles_refuse_gigabytes_before_any_work():
    # depth 2000 at width 4: P = 40k parameters, P^2 float64 = 13 GB
    net = MLP((4,) + (4,) * 2000 + (3,))
    message = r"autograd_hessian would need about .* GiB"
    with pytest.raises(MemoryError, match=message):
        autograd_hessian(net, np.zeros(net.n_params), np.zeros((1, 4)), [0])


def test_structured_path_allocates_nothing_of_size_p_squared():
    import tracemalloc

    from hessian_ref import hessian_inverse_product

    net = MLP((4,) + (4,) * 2000 + (3,))
    P = net.n_params
    theta = net.init(seed=0)
    X = np.random.default_rng(0).standard_normal((1, 4))
    lin = net.linearize(theta, X, [1])
    with pytest.raises(MemoryError, match="dense_augmented would need"):
        dense_augmented(lin, 0.1)
    tracemalloc.start()
    try:
        x = hessian_inverse_product(net, theta, X, [1], np.ones(P), 0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.all(np.isfinite(x))
    # linear in depth: about 2 KB per parameter here (the blocks of K' and
    # their factors, a few copies), against 8 P = 320 KB per parameter for a
    # dense H
    assert peak < 10_000 * P < 8 * P * P / 30
