"""Hessian-vector products by two sweeps against dense ``H v`` (claims C5-C7)."""

import autograd
import numpy as np
import pytest
from conftest import SHAPES, make_problem, rel_err

from hessian_ref.dense import autograd_hessian, finite_difference_hvp
from hessian_ref.hvp import hessian_vector_product, split_by_layer, tangent_sweep

rng = np.random.default_rng(505)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_hvp_matches_dense(widths, batch, activation, loss):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    H = autograd_hessian(net, theta, X, t)
    V = rng.standard_normal((net.n_params, 3))
    HV = hessian_vector_product(net, theta, X, t, V)
    # rounding only on both sides; the norm of H v can be below ||H|| ||v||
    # by cancellation, so compare against ||H|| ||v||
    scale = np.linalg.norm(H, 2) * np.linalg.norm(V, axis=0)
    assert np.all(np.linalg.norm(HV - H @ V, axis=0) < 1e-12 * scale)
    Hv = hessian_vector_product(net, theta, X, t, V[:, 0])
    assert Hv.shape == (net.n_params,)
    # one vector or a block of vectors: the same sweeps, other BLAS rounding
    assert np.linalg.norm(Hv - HV[:, 0]) < 1e-13 * scale[0]


@pytest.mark.parametrize("widths, batch", SHAPES[2:5])
def test_hvp_matches_finite_differences(widths, batch):
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch)
    v = rng.standard_normal(net.n_params)
    Hv = hessian_vector_product(net, theta, X, t, v)
    # central differences at h = 1e-5: about 1e-8 relative
    assert rel_err(finite_difference_hvp(net, theta, X, t, v), Hv) < 1e-6


def test_hvp_is_symmetric_without_a_dense_matrix():
    net, theta, X, t = make_problem(rng, (3, 4, 4, 4, 2), "tanh", "cross_entropy", 4)
    for _ in range(5):
        u, v = rng.standard_normal((2, net.n_params))
        uHv = u @ hessian_vector_product(net, theta, X, t, v)
        vHu = v @ hessian_vector_product(net, theta, X, t, u)
        assert uHv == pytest.approx(vHu, rel=1e-12)


def test_tangent_is_the_forward_derivative_of_the_activations():
    """C6/C7: y = M^{-1} J v is d z_l along v, checked against autograd's
    Jacobian of each hidden activation."""
    net, theta, X, t = make_problem(rng, (3, 4, 5, 2), "sigmoid", "cross_entropy", 3)
    lin = net.linearize(theta, X, t)
    v = rng.standard_normal(net.n_params)
    ys = tangent_sweep(lin, split_by_layer(lin, v))
    Zs = net.activations_of(theta, X)
    for l, Z in enumerate(Zs):
        def z_l(th, l=l):
            return net_activation_autograd(net, th, X, l)
        dz = autograd.jacobian(z_l)(theta) @ v
        np.testing.assert_allclose(ys[l], dz, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(Z.ravel(), z_l(theta), rtol=1e-15)
    # the last tangent is the directional derivative of the loss
    assert ys[-1][0] == pytest.approx(lin.gradient @ v, rel=1e-13)


def net_activation_autograd(net, theta, X, l):
    from hessian_ref.dense import autograd_layer_function

    Z = X
    for k in range(l + 1):
        f = autograd_layer_function(net.layers[k])
        Z = f(theta[net.offsets[k]: net.offsets[k + 1]], Z)
    return Z.ravel()


def test_bad_vector_is_named():
    net, theta, X, t = make_problem(rng, (3, 2), batch=2)
    message = r"v: expected shape \(8,\) or \(8, k\), got \(7,\)"
    with pytest.raises(ValueError, match=message):
        hessian_vector_product(net, theta, X, t, np.zeros(7))
    with pytest.raises(ValueError, match="v: expected finite values"):
        hessian_vector_product(net, theta, X, t, np.full(8, np.nan))
