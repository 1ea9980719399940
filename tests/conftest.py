"""Shared problem builders for the tests.

Each test module seeds its own generator; these helpers take one.
"""

import dataclasses

import numpy as np

from hessian_ref import MLP

MACHINE_EPS = np.finfo(float).eps


def make_problem(rng, widths, activation="tanh", loss="cross_entropy", batch=3,
                 gain=1.0):
    """A network, parameters at a seeded init, and a random batch."""
    net = MLP(widths, activation, loss)
    theta = net.init(seed=int(rng.integers(2**31)), gain=gain, bias_scale=0.3)
    X = rng.standard_normal((batch, widths[0]))
    if loss == "cross_entropy":
        targets = rng.integers(0, widths[-1], size=batch)
    else:
        targets = rng.standard_normal((batch, widths[-1]))
    return net, theta, X, targets


def rel_err(actual, expected):
    """``||actual - expected|| / ||expected||`` (Frobenius for matrices)."""
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


def assert_curvature_alive(H, eps):
    """The guard of derivation.md section 10: ``H`` must not vanish against ``eps I``.

    A comparison of ``(H + eps I)^{-1} v`` with a dense solve tests nothing
    when ``||H||_2`` is negligible beside ``eps``.
    """
    norm = np.linalg.norm(H, 2)
    assert norm >= 0.1 * eps, f"||H||_2 = {norm:.2e} is negligible against eps = {eps}"


# Architectures swept by several test modules: (widths, batch).
SHAPES = [
    ((3, 2), 4),              # one layer: softmax / linear regression
    ((2, 3, 2), 1),           # batch 1
    ((4, 4, 3), 5),
    ((3, 1, 2), 2),           # a width-1 bottleneck
    ((3, 3, 3, 2), 4),        # depth 3
    ((2, 5, 3, 4, 2), 3),
    ((3, 2, 2, 2, 2, 3), 2),  # depth 5
    ((2, 3, 3, 3, 3, 3, 2), 2),  # depth 6
]


def plant(monkeypatch, change, sweep_change=None):
    """Make ``augmented.augmented_system`` build a wrong ``K'``: ``change(
    diagonal, lower, lin, eps)`` edits copies of its diagonal and lower
    blocks in place. With `sweep_change`, the Riccati sweep is planted too:
    ``sweep_change(layers)`` replaces entries of the list of its
    ``LayerBlocks`` (the Hessian-vector product keeps the true ones). A
    defect that every solve's check on ``H + eps I`` must see."""
    from hessian_ref import augmented
    from hessian_ref.block_tridiagonal import BlockTridiagonal

    real = augmented.augmented_system

    def build(lin, eps):
        K = real(lin, eps)
        diagonal = [block.copy() for block in K.diagonal]
        lower = [block.copy() for block in K.lower]
        change(diagonal, lower, lin, eps)
        return BlockTridiagonal(diagonal, lower, K.upper)

    monkeypatch.setattr(augmented, "augmented_system", build)
    if sweep_change is not None:
        real_sweep = augmented.RiccatiFactorization

        def sweep(lin, eps):
            layers = list(lin.layers)
            sweep_change(layers)
            return real_sweep(dataclasses.replace(lin, layers=tuple(layers)), eps)

        monkeypatch.setattr(augmented, "RiccatiFactorization", sweep)


def plant_wrong_entry(monkeypatch, factor=1 + 1e-6):
    """Plant a ``K'`` and a Riccati sweep whose first entry, ``Q_1[0, 0]``
    (plus ``eps`` in ``K'``), is multiplied by `factor`. Unrefined solves
    then leave a backward error of about 1e-11 and warn; refinement with the
    true residual removes it."""

    def change(diagonal, lower, lin, eps):
        diagonal[0][0, 0] *= factor

    def sweep_change(layers):
        Q = layers[0].Q.copy()
        Q[0, 0] *= factor
        layers[0] = dataclasses.replace(layers[0], Q=Q)

    plant(monkeypatch, change, sweep_change)


def strict_json(text):
    """`text` parsed as strict JSON: ``NaN`` and ``Infinity`` literals,
    which Python writes by default but JSON does not allow, are refused."""
    import json

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)
