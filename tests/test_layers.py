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
