"""Elementwise nonlinearities with their first and second derivatives.

Each activation is a named triple of NumPy functions ``(value, d1, d2)``
acting elementwise on an array ``u`` of pre-activations. Everything is written
by hand, in forms that do not overflow for large ``|u|``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["ACTIVATIONS", "Activation", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """An elementwise function ``sigma`` with ``sigma'`` and ``sigma''``."""

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    d1: Callable[[np.ndarray], np.ndarray]
    d2: Callable[[np.ndarray], np.ndarray]


def _sigmoid(u):
    # 1 / (1 + exp(-u)) without overflow: exp of a non-positive number only.
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# The derivatives below are written in exp(-|u|) rather than as 1 - t^2 or
# s (1 - s), which cancel to zero long before the true value underflows
# (1 - tanh(20)^2 is 0 in float64; the derivative is 1.7e-17).


def _tanh_d1(u):
    # sech(u)^2 = 4 e^{-2|u|} / (1 + e^{-2|u|})^2
    e = np.exp(-2.0 * np.abs(u))
    return 4.0 * e / (1.0 + e) ** 2


def _tanh_d2(u):
    return -2.0 * np.tanh(u) * _tanh_d1(u)


def _sigmoid_d1(u):
    # s (1 - s) = e^{-|u|} / (1 + e^{-|u|})^2, symmetric in u
    e = np.exp(-np.abs(u))
    return e / (1.0 + e) ** 2


def _sigmoid_d2(u):
    # s' (1 - 2 s), and 1 - 2 s(u) = -tanh(u / 2)
    return -_sigmoid_d1(u) * np.tanh(0.5 * u)


def _softplus(u):
    # log(1 + exp(u)) = max(u, 0) + log1p(exp(-|u|))
    return np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))


ACTIVATIONS = {
    "tanh": Activation("tanh", np.tanh, _tanh_d1, _tanh_d2),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2),
    # softplus' = sigmoid, softplus'' = sigmoid'
    "softplus": Activation("softplus", _softplus, _sigmoid, _sigmoid_d1),
    "identity": Activation(
        "identity",
        lambda u: np.array(u, dtype=float, copy=True),
        np.ones_like,
        np.zeros_like,
    ),
}


def get_activation(name):
    """Return the :class:`Activation` called `name`.

    Raises
    ------
    ValueError
        If `name` is not one of ``ACTIVATIONS``.
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"activation: expected one of {sorted(ACTIVATIONS)}, got {name!r}"
        )
    return ACTIVATIONS[name]
