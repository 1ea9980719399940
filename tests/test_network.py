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
        (theta[:-1], X, y, ValueError,
         r"theta: expected the flat parameters of shape \(26,\)"),
        (np.where(np.arange(26) == 3, np.nan, theta), X, y, ValueError,
         "theta: expected finite values"),
        (theta, np.zeros((2, 4)), y, ValueError,
         r"X: expected a batch of shape \(B, 3\)"),
        (theta, np.full((2, 3), np.inf), y, ValueError, "X: expected finite values"),
        (theta, X.astype(complex), y, TypeError, "X: expected real numbers"),
        (theta, X, np.array([0, 2]), ValueError,
         "targets: expected labels in 0..1, got 2"),
        (theta, X, np.array([0, -1]), ValueError,
         "targets: expected labels in 0..1, got -1"),
        (theta, X, np.array([0, 1, 1]), ValueError,
         r"targets: expected class labels of shape \(2,\)"),
    ]
    for th, XX, yy, error, message in cases:
        with pytest.raises(error, match=message):
            net.gradient(th, XX, yy)


# Regression tests for faults found by feeding the API hostile input.


def test_linearize_accepts_lists():
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    lin = net.linearize(theta.tolist(), X.tolist(), t.tolist())
    assert lin.a == (9, 12, 1)
    assert rel_err(lin.gradient, net.gradient(theta, X, t)) < 1e-14


def test_forward_overflow_is_reported_not_returned_as_nan():
    net = MLP((1, 2, 2))
    theta = net.pack([np.array([[1e308], [-1e308]]), np.eye(2)],
                     [np.zeros(2), np.zeros(2)])
    net_id = MLP((1, 2, 2), "identity")
    with pytest.raises(FloatingPointError, match="overflowed at layer 1"):
        net_id.loss(theta, [[10.0]], [0])
    # tanh saturates instead of overflowing: finite and fine
    assert np.isfinite(net.loss(theta, [[10.0]], [0]))


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((5,), TypeError, "widths: expected a sequence of positive ints, got 5"),
        ((None,), TypeError, "widths: expected a sequence"),
        (("42",), TypeError, "widths: expected a sequence"),
        (((3, 2), None), TypeError, "activation: expected a name or a sequence"),
        (((3, 2), "relu"), ValueError, "activation: expected one of"),
        (((3, 4, 4, 2), ["tanh", 5]), ValueError,
         "activation: expected one of .* got 5"),
        (((3, 2), "tanh", ["cross_entropy"]), ValueError, "loss: expected one of"),
    ],
)
def test_constructor_rejects_odd_arguments_by_name(args, error, message):
    with pytest.raises(error, match=message):
        MLP(*args)


def test_activation_objects_are_accepted():
    from hessian_ref.activations import ACTIVATIONS

    net = MLP((3, 4, 2), ACTIVATIONS["sigmoid"])
    assert net.activations == ("sigmoid",)


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (np.array([0, 1]).astype("timedelta64[s]"), TypeError,
         "targets: expected integer"),
        (np.array([True, False]), TypeError, "targets: expected integer"),
        (np.array([0.5, 1.0]), TypeError, "targets: expected integer"),
        ([[0], [1, 1]], ValueError, "targets: expected a rectangular array"),
    ],
)
def test_odd_labels_are_rejected_by_name(labels, error, message):
    net = MLP((3, 2))
    with pytest.raises(error, match=message):
        net.loss(net.init(), np.zeros((2, 3)), labels)


@pytest.mark.parametrize(
    "X, error, message",
    [
        ([[1.0, 2.0, 3.0], [1.0]], ValueError, "X: expected a rectangular array"),
        (np.zeros((0, 3)), ValueError,
         r"X: expected a batch of shape \(B, 3\) with B >= 1"),
        (np.zeros((2, 3), dtype=bool), TypeError,
         "X: expected real numbers, got dtype bool"),
        (np.array([["1", "2", "3"]]), TypeError, "X: expected real numbers"),
        (np.zeros((2, 3)).astype("timedelta64[s]"), TypeError,
         "X: expected real numbers"),
    ],
)
def test_odd_batches_are_rejected_by_name(X, error, message):
    net = MLP((3, 2))
    with pytest.raises(error, match=message):
        net.gradient(net.init(), X, np.zeros(len(X), dtype=int))
    with pytest.raises(error, match=message):
        net.activations_of(net.init(), X)


def test_regression_targets_must_be_real_and_finite():
    net = MLP((3, 2), loss="squared_error")
    X = np.zeros((2, 3))
    message = "targets: expected real numbers, got dtype complex"
    with pytest.raises(TypeError, match=message):
        net.loss(net.init(), X, np.zeros((2, 2), dtype=complex))
    with pytest.raises(TypeError, match="targets: expected real numbers"):
        net.loss(net.init(), X, np.array([["1", "2"], ["3", "4"]]))
    with pytest.raises(ValueError, match="targets: expected finite values"):
        net.loss(net.init(), X, np.full((2, 2), np.nan))


def test_pack_and_init_validate_their_arguments():
    net = MLP((3, 4, 2))
    with pytest.raises(ValueError, match="weights: expected a sequence of 2 arrays"):
        net.pack(None, None)
    W = [np.zeros((4, 3)), np.zeros((2, 4))]
    c = [np.zeros(4), np.zeros(2)]
    with pytest.raises(ValueError, match=r"weights\[1\], biases\[1\]: expected shapes"):
        net.pack(W, [c[0], np.zeros(3)])
    with pytest.raises(ValueError, match=r"weights\[0\], biases\[0\]: expected finite"):
        net.pack([np.full((4, 3), np.nan), W[1]], c)
    with pytest.raises(TypeError, match="expected real numbers, got dtype complex"):
        net.pack([W[0] + 1j, W[1]], c)
    with pytest.raises(ValueError, match="seed: expected an int >= 0 or None, got -1"):
        net.init(seed=-1)
    with pytest.raises(TypeError, match="gain: expected a real number"):
        net.init(gain=1j)
    with pytest.raises(ValueError, match="gain: expected a finite number > 0"):
        net.init(gain=np.nan)
    with pytest.raises(ValueError, match="bias_scale: expected a finite number >= 0"):
        net.init(bias_scale=-1.0)
    assert np.all(np.isfinite(net.init(seed=None)))


def test_public_functions_name_a_wrong_network():
    from hessian_ref import hessian_inverse_product, hessian_vector_product
    from hessian_ref.dense import autograd_hessian

    for f, extra in ((hessian_vector_product, (np.ones(3),)),
                     (hessian_inverse_product, (np.ones(3), 1.0)),
                     (autograd_hessian, ())):
        with pytest.raises(TypeError, match="net: expected an MLP, got NoneType"):
            f(None, np.ones(3), np.ones((1, 1)), np.zeros(1, dtype=int), *extra)
