"""Per-layer Jacobians and curvature blocks against autograd (derivation.md section 2).

Both sides are exact formulas evaluated in float64, so they differ by
rounding only: entries are of order one and sums have few terms, hence a
relative tolerance of 1e-11 (observed: about 1e-16).
"""

import numpy as np
import pytest

from hessian_ref.dense import autograd_layer_blocks, autograd_layer_function
from hessian_ref.layers import Dense, MeanSquaredError, SoftmaxCrossEntropy

pytestmark = pytest.mark.filterwarnings(
    # autograd notes when a second derivative is identically zero (identity)
    "ignore:Output seems independent of input:UserWarning"
)

rng = np.random.default_rng(202)
TOL = 1e-11
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
DIMS = [(1, 1, 1), (3, 2, 1), (2, 3, 4), (4, 4, 2)]  # (n_in, n_out, batch)


def _autograd_blocks(layer, x, Z, b=None, targets=None):
    d = autograd_layer_blocks(layer, x, Z, b, targets)
    return d["J"], d["G"], d["Q"], d["R"], d["R_zx"], d["S"]


def _close(actual, expected):
    scale = max(np.linalg.norm(expected), 1.0)
    assert np.linalg.norm(actual - expected) <= TOL * scale


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("n_in, n_out, batch", DIMS)
def test_dense_layer_blocks_match_autograd(activation, n_in, n_out, batch):
    layer = Dense(n_in, n_out, activation)
    x = rng.standard_normal(layer.n_params)
    Z = rng.standard_normal((batch, n_in))
    b = rng.standard_normal(batch * n_out)

    J, G = layer.jacobians(x, Z)
    Q, R, S = layer.curvature(x, Z, b)
    J_ad, G_ad, Q_ad, R_ad, R_other, S_ad = _autograd_blocks(layer, x, Z, b)
    for ours, ref in ((J, J_ad), (G, G_ad), (Q, Q_ad), (R, R_ad), (S, S_ad)):
        assert ours.shape == ref.shape
        _close(ours, ref)
    # C4: the two mixed blocks are transposes; Q and S are symmetric
    _close(R, R_other.T)
    # symmetric up to the rounding of the summation order
    _close(S, S.T)
    _close(Q, Q.T)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("head", [SoftmaxCrossEntropy, MeanSquaredError])
@pytest.mark.parametrize("n_in, n_out, batch", DIMS)
def test_head_blocks_match_autograd(head, n_in, n_out, batch, reduction):
    layer = head(n_in, n_out, reduction)
    x = rng.standard_normal(layer.n_params)
    Z = rng.standard_normal((batch, n_in))
    if head is SoftmaxCrossEntropy:
        targets = rng.integers(0, n_out, size=batch)
    else:
        targets = rng.standard_normal((batch, n_out))

    J, G = layer.jacobians(x, Z, targets)
    Q, R, S = layer.curvature(x, Z, targets)
    J_ad, G_ad, Q_ad, R_ad, R_other, S_ad = _autograd_blocks(
        layer, x, Z, targets=targets
    )
    f = autograd_layer_function(layer, targets)
    for ours, ref in ((J, J_ad), (G, G_ad), (Q, Q_ad), (R, R_ad), (S, S_ad)):
        assert ours.shape == ref.shape
        _close(ours, ref)
    _close(R, R_other.T)
    assert layer.forward(x, Z, targets) == pytest.approx(float(f(x, Z)), rel=1e-14)


def test_identity_layer_keeps_the_product_term_of_R():
    # sigma'' = 0 kills Q and S but not R: d2 (b . Z W^T) / dW dZ = b
    # (derivation.md section 2)
    layer = Dense(2, 3, "identity")
    x = rng.standard_normal(layer.n_params)
    Z = rng.standard_normal((2, 2))
    b = rng.standard_normal(6)
    Q, R, S = layer.curvature(x, Z, b)
    assert np.all(Q == 0) and np.all(S == 0)
    beta = b.reshape(2, 3)
    # entry (W[k, j], Z[n, j]) = beta[n, k]; layout W[k, j] at k * 2 + j
    for k in range(3):
        for j in range(2):
            for n in range(2):
                assert R[k * 2 + j, n * 2 + j] == beta[n, k]
    assert np.count_nonzero(R) == np.count_nonzero(beta) * 2


def test_layout_weights_row_major_then_bias():
    layer = Dense(3, 2, "identity")
    W = np.arange(6.0).reshape(2, 3)
    c = np.array([10.0, 20.0])
    x = layer.pack(W, c)
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 4, 5, 10, 20])
    W2, c2 = layer.unpack(x)
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(c2, c)
    Z = np.array([[1.0, 0.0, -1.0]])
    np.testing.assert_array_equal(layer.forward(x, Z), [[-2.0 + 10, -2.0 + 20]])


def test_softmax_head_known_value():
    # all logits equal: loss = log(o) whatever the label
    layer = SoftmaxCrossEntropy(2, 4)
    x = np.zeros(layer.n_params)
    Z = rng.standard_normal((3, 2))
    loss = layer.forward(x, Z, np.array([0, 3, 1]))
    assert loss == pytest.approx(np.log(4), rel=1e-15)


def test_bad_inputs_are_named():
    layer = Dense(3, 2)
    message = r"x: expected the layer's parameters of shape \(8,\)"
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros(7), np.zeros((1, 3)))
    message = r"Z: expected a batch of shape \(B, 3\), got \(2, 4\)"
    with pytest.raises(ValueError, match=message):
        layer.forward(np.zeros(8), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"b: expected shape \(4,\)"):
        layer.curvature(np.zeros(8), np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="n_in: expected a positive int, got 0"):
        Dense(0, 2)
    with pytest.raises(TypeError, match="n_out"):
        Dense(2, 2.5)
    head = SoftmaxCrossEntropy(2, 3)
    with pytest.raises(ValueError, match="targets: expected labels in 0..2, got 3"):
        head.forward(np.zeros(9), np.zeros((2, 2)), np.array([0, 3]))
    with pytest.raises(TypeError, match="targets: expected integer class labels"):
        head.forward(np.zeros(9), np.zeros((2, 2)), np.array([0.0, 1.0]))
    mse = MeanSquaredError(2, 3)
    message = r"targets: expected regression targets of shape \(2, 3\)"
    with pytest.raises(ValueError, match=message):
        mse.forward(np.zeros(9), np.zeros((2, 2)), np.zeros((2, 2)))


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("n_in, n_out, batch", DIMS)
def test_vjp_equals_products_with_explicit_jacobians(activation, n_in, n_out, batch):
    layer = Dense(n_in, n_out, activation)
    x = rng.standard_normal(layer.n_params)
    Z = rng.standard_normal((batch, n_in))
    b = rng.standard_normal(batch * n_out)
    J, G = layer.jacobians(x, Z)
    bJ, bG = layer.vjp(x, Z, b)
    _close(bJ, b @ J)
    _close(bG, b @ G)


def _exact_softmax_head(U, y, digits=60):
    """Loss, Delta = p - e_y and Lam = diag(p) - p p^T of one sample, in
    decimal arithmetic with `digits` digits, rounded to float64."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = digits
        E = [Decimal(float(u)).exp() for u in U]
        s = sum(E)
        p = [e / s for e in E]
        loss = float((s / E[y]).ln())
        delta = [float(p[i] - (1 if i == y else 0)) for i in range(len(U))]
        lam = [[float((p[i] if i == j else 0) - p[i] * p[j]) for j in range(len(U))]
               for i in range(len(U))]
    return loss, np.array(delta), np.array(lam)


@pytest.mark.parametrize("margin", [0.0, 1.0, 5.0, 20.0, 30.0, 36.0, 50.0])
def test_saturated_softmax_keeps_its_relative_accuracy(margin):
    # the true class leads by `margin`, so 1 - p_y ~ exp(-margin) reaches
    # 1e-16 and below: forming 1 - p_y as the sum of the other
    # probabilities, every entry of the loss, Delta and Lam is within a few
    # roundings of the exact value relative to itself, where 1 - p_y
    # computed by subtraction loses all its digits. The bound is
    # 8 eps_mach (1 + spread): exp(u_j - max u) is as accurate as the
    # rounded difference, whose error is eps_mach |u_j - max u| / 2, so a
    # spread of 50 between logits allows ~50 eps_mach. The autograd
    # oracle's loss and its derivatives of the head are held to the same
    head = SoftmaxCrossEntropy(2, 4, reduction="sum")
    U = np.array([[margin, -0.3, 0.2, -1.1], [0.4, margin + 0.1, -2.0, 0.3],
                  [0.0, 0.0, 0.0, 0.0], [-0.5, 0.0, margin, margin - 0.7]])
    y = np.array([0, 1, 2, 2])
    loss = head._sample_losses(U, y)
    Delta, Lam = head._sample_derivatives(U, y)
    tol = 8 * np.finfo(float).eps * (1 + np.ptp(U))
    for n in range(len(y)):
        exact_loss, exact_delta, exact_lam = _exact_softmax_head(U[n], y[n])
        assert abs(loss[n] - exact_loss) <= tol * abs(exact_loss)
        np.testing.assert_allclose(Delta[n], exact_delta, rtol=tol, atol=0)
        np.testing.assert_allclose(Lam[n], exact_lam, rtol=tol, atol=0)

    # the oracle: the same head as a function of its logits, by autograd
    import autograd

    from hessian_ref.dense import _head_loss

    def loss_of(flat):
        return _head_loss(head, flat.reshape(U.shape), y)

    flat = U.ravel()
    exact = [_exact_softmax_head(U[n], y[n]) for n in range(len(y))]
    assert abs(loss_of(flat) - sum(e[0] for e in exact)) <= tol * sum(e[0] for e in exact)
    gradient = autograd.grad(loss_of)(flat).reshape(U.shape)
    hessian = autograd.hessian(loss_of)(flat).reshape(U.shape + U.shape)
    for n, (_, exact_delta, exact_lam) in enumerate(exact):
        np.testing.assert_allclose(gradient[n], exact_delta, rtol=tol, atol=0)
        np.testing.assert_allclose(hessian[n, :, n, :], exact_lam, rtol=tol, atol=0)
