"""Activations: first and second derivatives against central differences."""

import numpy as np
import pytest

from hessian_ref.activations import ACTIVATIONS, get_activation

rng = np.random.default_rng(101)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivatives_match_central_differences(name):
    act = ACTIVATIONS[name]
    u = rng.uniform(-4, 4, size=50)
    h = 1e-5
    # central differences: truncation O(h^2) ~ 1e-10, rounding O(eps/h) ~ 1e-11
    fd1 = (act.value(u + h) - act.value(u - h)) / (2 * h)
    fd2 = (act.d1(u + h) - act.d1(u - h)) / (2 * h)
    np.testing.assert_allclose(act.d1(u), fd1, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(act.d2(u), fd2, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_large_arguments_do_not_overflow(name):
    act = ACTIVATIONS[name]
    u = np.array([-1e4, -700.0, 700.0, 1e4])
    # underflow to zero is harmless; overflow or NaN is not
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for f in (act.value, act.d1, act.d2):
            assert np.all(np.isfinite(f(u)))


def test_known_values():
    u = np.array([0.0, 1.0])
    sigmoid = ACTIVATIONS["sigmoid"]
    np.testing.assert_allclose(sigmoid.value(u), [0.5, 1 / (1 + np.e**-1)])
    np.testing.assert_allclose(ACTIVATIONS["softplus"].value(u), np.log1p(np.exp(u)))
    np.testing.assert_allclose(ACTIVATIONS["tanh"].d1(u), 1 - np.tanh(u) ** 2)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation: expected one of .* got 'relu'"):
        get_activation("relu")


@pytest.mark.parametrize("u", [10.0, 20.0, 40.0, -25.0])
def test_saturated_derivatives_keep_their_relative_accuracy(u):
    # asymptotics: tanh'(u) ~ 4 e^{-2|u|}, sigmoid'(u) ~ e^{-|u|}, with
    # relative corrections of order e^{-2|u|} and e^{-|u|}
    tanh, sigmoid = ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"]
    a = np.array([u])
    t_tol = 10 * np.exp(-2 * abs(u)) + 1e-14
    s_tol = 10 * np.exp(-abs(u)) + 1e-14
    np.testing.assert_allclose(tanh.d1(a), 4 * np.exp(-2 * abs(u)), rtol=t_tol)
    np.testing.assert_allclose(tanh.d2(a), -np.sign(u) * 8 * np.exp(-2 * abs(u)),
                               rtol=t_tol)
    np.testing.assert_allclose(sigmoid.d1(a), np.exp(-abs(u)), rtol=s_tol)
    np.testing.assert_allclose(sigmoid.d2(a), -np.sign(u) * np.exp(-abs(u)),
                               rtol=s_tol)
