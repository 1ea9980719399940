"""The MLP: layout, seeded init, loss, and the gradient by a backward pass."""

import numpy as np
import pytest
from conftest import SHAPES, make_problem, rel_err

from hessian_ref import MLP
from hessian_ref.dense import autograd_gradient, autograd_loss

rng = np.random.default_rng(303)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_gradient_matches_autograd(widths, batch, activation, loss):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    g = net.gradient(theta, X, t)
    g_ad = autograd_gradient(net, theta, X, t)
    # two exact evaluations in float64: rounding only (observed ~1e-16)
    assert rel_err(g, g_ad) < 1e-12
    assert net.loss(theta, X, t) == pytest.approx(autograd_loss(net, X, t)(theta),
                                                  rel=1e-14)


@pytest.mark.parametrize("widths, batch", SHAPES[1:4])
def test_gradient_matches_central_differences(widths, batch):
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch)
    g = net.gradient(theta, X, t)
    d = rng.standard_normal(net.n_params)
    d /= np.linalg.norm(d)
    h = 1e-5
    fd = (net.loss(theta + h * d, X, t) - net.loss(theta - h * d, X, t)) / (2 * h)
    # truncation h^2 * |f'''| ~ 1e-10, rounding eps / h ~ 1e-11
    assert g @ d == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_flat_layout_is_layer_by_layer_weights_then_bias():
    net = MLP((2, 3, 2), "identity", "squared_error")
    theta = np.arange(net.n_params, dtype=float)
    (W1, c1), (W2, c2) = net.unpack(theta)
    np.testing.assert_array_equal(W1, [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(c1, [6, 7, 8])
    np.testing.assert_array_equal(W2, [[9, 10, 11], [12, 13, 14]])
    np.testing.assert_array_equal(c2, [15, 16])
    np.testing.assert_array_equal(net.pack([W1, W2], [c1, c2]), theta)
    assert net.p == (9, 8) and net.offsets == (0, 9, 17)
    assert net.state_sizes(5) == (10, 15, 1)


def test_loss_of_linear_regression_by_hand():
    net = MLP((2, 1), loss="squared_error")
    theta = np.array([1.0, -1.0, 0.5])  # U = x0 - x1 + 0.5
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    t = np.array([[1.0], [0.0]])
    # residuals 0.5 and -0.5: (0.25 + 0.25) / (2 * 2)
    assert net.loss(theta, X, t) == pytest.approx(0.125, rel=1e-15)


def test_init_is_seeded_and_orthogonal():
    net = MLP((4, 4, 4, 3))
    a, b, c = net.init(seed=7), net.init(seed=7), net.init(seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    (W1, _), _, (W3, _) = net.unpack(net.init(seed=1, gain=2.0))
    np.testing.assert_allclose(W1.T @ W1, 4 * np.eye(4), atol=1e-13)
    np.testing.assert_allclose(W3 @ W3.T, 4 * np.eye(3), atol=1e-13)


def test_linearize_agrees_with_loss_and_gradient():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "sigmoid", "cross_entropy", 4)
    lin = net.linearize(theta, X, t)
    assert lin.loss == net.loss(theta, X, t)
    # explicit J_l, G_l against the matrix-free products: rounding only
    assert rel_err(lin.gradient, net.gradient(theta, X, t)) < 1e-14
    assert lin.p == net.p and lin.a == (12, 16, 1)
    assert [blk.J.shape for blk in lin.layers] == [(16, 16), (1, 10)]


def test_inputs_are_not_modified():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 4)
    copies = [theta.copy(), X.copy(), t.copy()]
    net.linearize(theta, X, t)
    for before, after in zip(copies, [theta, X, t]):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"widths": (3,)}, ValueError, "widths: expected at least 2 entries"),
        ({"widths": (3, 0, 2)}, ValueError, "widths: expected positive ints"),
        ({"widths": (3, 2.0, 2)}, TypeError, "widths: expected positive ints"),
        ({"widths": (3, 4, 2), "activation": "relu"}, ValueError,
         "activation: expected one of"),
        ({"widths": (3, 4, 4, 2), "activation": ["tanh"]}, ValueError,
         "activation: expected one name or 2 names"),
        ({"widths": (3, 2), "loss": "hinge"}, ValueError,
         "loss: expected one of"),
    ],
)
def test_bad_architecture_is_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        MLP(**kwargs)


def test_bad_batch_and_parameters_are_named():
    net = MLP((3, 4, 2))
    theta = net.init()
    X = np.zeros((2, 3))
    y = np.array([0, 1])
    cases = [
        (theta[:-1], X, y, ValueError, r"theta: expected the flat parameters of shape \(26,\)"),
        (np.where(np.arange(26) == 3, np.nan, theta), X, y, ValueError,
         "theta: expected finite values"),
        (theta, np.zeros((2, 4)), y, ValueError, r"X: expected a batch of shape \(B, 3\)"),
        (theta, np.full((2, 3), np.inf), y, ValueError, "X: expected finite values"),
        (theta, X.astype(complex), y, TypeError, "X: expected real numbers"),
        (theta, X, np.array([0, 2]), ValueError, "targets: expected labels in 0..1, got 2"),
        (theta, X, np.array([0, -1]), ValueError, "targets: expected labels in 0..1, got -1"),
        (theta, X, np.array([0, 1, 1]), ValueError, r"targets: expected class labels of shape \(2,\)"),
    ]
    for th, XX, yy, error, message in cases:
        with pytest.raises(error, match=message):
            net.gradient(th, XX, yy)
