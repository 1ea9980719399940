"""Dense oracles: what every structured quantity is checked against.

Three independent routes to the Hessian of the loss with respect to the flat
parameters ``theta`` (layout in :mod:`hessian_ref.network`):

* :func:`autograd_hessian` differentiates a separate autograd transcription
  of the network's forward pass twice; it shares no derivative code with the
  structured path.
* :func:`hessian_from_blocks` assembles the matrices ``J``, ``M``, ``Q``,
  ``R``, ``S`` and the shift of derivation.md section 3 densely from the per-layer
  blocks and evaluates the Hessian formula (the paper's claim 1).
* :func:`finite_difference_hvp` takes central differences of the gradient.

Everything here is dense and meant for small problems only.
"""

import numbers

import autograd
import autograd.numpy as anp
import numpy as np
import scipy.linalg
from autograd.tracer import getval

from ._checks import check_vectors
from .layers import SoftmaxCrossEntropy
from .network import check_network

__all__ = [
    "DENSE_MEMORY_LIMIT",
    "autograd_gradient",
    "autograd_hessian",
    "autograd_layer_blocks",
    "autograd_layer_function",
    "autograd_loss",
    "chain_matrices",
    "dense_augmented",
    "finite_difference_hvp",
    "hessian_from_blocks",
]

_AUTOGRAD_ACTIVATIONS = {
    "tanh": anp.tanh,
    "sigmoid": lambda u: 0.5 * (anp.tanh(0.5 * u) + 1.0),
    "softplus": lambda u: anp.logaddexp(0.0, u),
    "identity": lambda u: u,
}


#: The dense oracles refuse to build matrices whose storage would exceed
#: this many bytes (8 GiB, a third of the 24 GiB machines this project runs
#: on), unless called with ``force=True``.
DENSE_MEMORY_LIMIT = 8 * 1024**3


def _check_dense_size(what, n_rows, n_cols, copies, force):
    """Refuse before allocating ``copies`` dense ``n_rows x n_cols`` arrays."""
    need = 8 * n_rows * n_cols * copies
    if need > DENSE_MEMORY_LIMIT and not force:
        raise MemoryError(
            f"{what} would need about {need / 1024**3:.1f} GiB of dense "
            f"storage ({copies} x {n_rows} x {n_cols} float64), above "
            f"DENSE_MEMORY_LIMIT = {DENSE_MEMORY_LIMIT / 1024**3:.0f} GiB; use the "
            f"structured functions, or pass force=True"
        )


def _affine(layer, x, Z):
    o, i = layer.n_out, layer.n_in
    W = anp.reshape(x[: o * i], (o, i))
    c = x[o * i :]
    return anp.dot(Z, W.T) + c


def _head_loss(layer, U, targets):
    B = U.shape[0] if layer.reduction == "mean" else 1
    if isinstance(layer, SoftmaxCrossEntropy):
        onehot = np.eye(layer.n_out)[targets]
        # -log p_y = log sum_j exp(D_j) with D = U - U_y (so D_y = 0), shifted
        # by the largest D_j; the shift is held constant (getval), which is
        # exact for this expression and keeps ties out of the derivatives.
        # Where y has the largest logit (shift 0) the loss is
        # log1p(sum_{j != y} exp(D_j)), accurate to the last bits even when
        # p_y is within rounding of 1, and so are its derivatives.
        D = U - anp.sum(U * onehot, axis=1, keepdims=True)
        shift = np.max(getval(D), axis=1, keepdims=True)
        terms = anp.exp(D - shift)
        spread = anp.log(anp.sum(terms, axis=1)) + shift[:, 0]
        confident = anp.log1p(anp.sum(terms * (1.0 - onehot), axis=1))
        return anp.sum(anp.where(shift[:, 0] == 0, confident, spread)) / B
    return 0.5 * anp.sum((U - targets) ** 2) / B


def autograd_layer_function(layer, targets=None):
    """``f(x, Z)`` of one layer in autograd NumPy, for differentiation.

    For a hidden layer it returns the output ``(B, o)``; for a head (which
    needs `targets`) the scalar loss.
    """
    if layer.is_head:
        return lambda x, Z: _head_loss(layer, _affine(layer, x, Z), targets)
    sigma = _AUTOGRAD_ACTIVATIONS[layer.activation.name]
    return lambda x, Z: sigma(_affine(layer, x, Z))


def autograd_layer_blocks(layer, x, Z, b=None, targets=None):
    """One layer's ``J, G, Q, R, S`` by autograd, independent of the layers'
    hand-derived formulas.

    Parameters
    ----------
    layer : Dense or a head
    x : (p,) ndarray
    Z : (B, i) ndarray
    b : (B o,) ndarray, optional
        Backward vector of a hidden layer (a head uses ``b = 1``).
    targets : optional
        The head's targets.

    Returns
    -------
    dict
        ``J`` (a, p), ``G`` (a, B i), ``Q`` (p, p), ``R`` (p, B i) as
        ``d/dz (d phi / dx)``, ``R_zx`` (B i, p) as ``d/dx (d phi / dz)`` taken
        in the other order, and ``S`` (B i, B i), for ``phi = b . f``.
    """
    f = autograd_layer_function(layer, targets)
    if layer.is_head:
        b = np.ones(1)

    def f_flat(x_, Z_):
        return anp.reshape(f(x_, Z_), (-1,))

    a = f_flat(x, Z).size

    def phi(x_, z_):
        return anp.sum(b * f_flat(x_, anp.reshape(z_, Z.shape)))

    z = Z.ravel()
    return {
        "J": autograd.jacobian(f_flat, 0)(x, Z).reshape(a, x.size),
        "G": autograd.jacobian(f_flat, 1)(x, Z).reshape(a, Z.size),
        "Q": autograd.hessian(phi, 0)(x, z),
        "R": autograd.jacobian(autograd.grad(phi, 0), 1)(x, z),
        "R_zx": autograd.jacobian(autograd.grad(phi, 1), 0)(x, z),
        "S": autograd.hessian(phi, 1)(x, z),
    }


def autograd_loss(net, X, targets):
    """The loss as an autograd-differentiable function of ``theta``."""
    check_network(net)
    X, targets = net.check_batch(X, targets)
    fs = [autograd_layer_function(layer, targets) for layer in net.layers]
    bounds = list(zip(net.offsets[:-1], net.offsets[1:]))

    def loss(theta):
        Z = X
        for f, (s, e) in zip(fs, bounds):
            Z = f(theta[s:e], Z)
        return Z

    return loss


def autograd_gradient(net, theta, X, targets):
    """Gradient ``(P,)`` of the loss by reverse-mode autograd."""
    check_network(net)
    theta = net.check_params(theta)
    return autograd.grad(autograd_loss(net, X, targets))(theta)


def autograd_hessian(net, theta, X, targets, force=False):
    """Dense Hessian ``(P, P)`` of the loss by autograd.

    Refuses with MemoryError, before any work, when ``P x P`` (and autograd's
    working copies, counted as four) would exceed ``DENSE_MEMORY_LIMIT``,
    unless `force`.
    """
    check_network(net)
    _check_dense_size("autograd_hessian", net.n_params, net.n_params, 4, force)
    theta = net.check_params(theta)
    return autograd.hessian(autograd_loss(net, X, targets))(theta)


def finite_difference_hvp(net, theta, X, targets, v, h=1e-5):
    """``H v`` by central differences of the structured gradient.

    The truncation error is ``O(h^2)`` and rounding ``O(eps_mach / h)``, so
    with the default step expect about 1e-8 to 1e-6 relative accuracy.
    """
    theta = net.check_params(theta)
    v = check_vectors("v", v, net.n_params)
    if not (isinstance(h, numbers.Real) and np.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a finite step > 0, got {h!r}")
    norm = np.linalg.norm(v)
    if norm == 0:
        return np.zeros_like(v)
    step = h / norm
    plus = net.gradient(theta + step * v, X, targets)
    minus = net.gradient(theta - step * v, X, targets)
    return (plus - minus) / (2 * step)


def chain_matrices(lin, force=False):
    """The dense matrices of derivation.md section 3 from per-layer blocks.

    Parameters
    ----------
    lin : Linearization

    Returns
    -------
    dict with
        ``J`` (A, P), ``M`` (A, A), ``Q`` (P, P), ``R`` (P, A_in),
        ``S`` (A_in, A_in), ``Sh`` (A_in, A), where ``A = a_1 + .. + a_L`` and
        ``A_in = a_0 + .. + a_{L-1}``.
    """
    blocks = lin.layers
    L = len(blocks)
    a_out = lin.a[1:]
    a_in = lin.a[:-1]
    A, P = sum(a_out), sum(lin.p)
    # M, S and the shift are about A x A each
    _check_dense_size("chain_matrices", A + P, A + P, 3, force)
    out_at = np.concatenate([[0], np.cumsum(a_out)])
    in_at = np.concatenate([[0], np.cumsum(a_in)])

    J = scipy.linalg.block_diag(*[blk.J for blk in blocks])
    Q = scipy.linalg.block_diag(*[blk.Q for blk in blocks])
    R = scipy.linalg.block_diag(*[blk.R for blk in blocks])
    S = scipy.linalg.block_diag(*[blk.S for blk in blocks])

    M = np.eye(out_at[-1])
    Sh = np.zeros((in_at[-1], out_at[-1]))
    for l in range(1, L):
        # M: -G_l below the diagonal for l >= 2 (0-based l >= 1)
        M[out_at[l] : out_at[l + 1], out_at[l - 1] : out_at[l]] = -blocks[l].G
        # Sh: layer l's input is z_{l-1}; layer 1's input z_0 does not move
        Sh[in_at[l] : in_at[l + 1], out_at[l - 1] : out_at[l]] = np.eye(a_in[l])
    return {"J": J, "M": M, "Q": Q, "R": R, "S": S, "Sh": Sh}


def hessian_from_blocks(lin, force=False):
    """The Hessian formula (derivation.md section 3; the paper's claim 1), dense.

    ``H = Q + R Sh M^{-1} J + (R Sh M^{-1} J)^T + J^T M^{-T} Sh^T S Sh M^{-1} J``

    Returns
    -------
    H : (P, P) ndarray
    """
    m = chain_matrices(lin, force)
    Y = scipy.linalg.solve_triangular(m["M"], m["J"], lower=True, unit_diagonal=True)
    T = m["Sh"] @ Y
    RT = m["R"] @ T
    return m["Q"] + RT + RT.T + T.T @ (m["S"] @ T)


def dense_augmented(lin, eps, force=False):
    """The augmented matrix ``K`` of derivation.md section 4, unknowns ``(x, y, w)``.

    Returns
    -------
    K : (P + 2A, P + 2A) ndarray
    """
    N = sum(lin.p) + 2 * sum(lin.a[1:])
    _check_dense_size("dense_augmented", N, N, 3, force)
    m = chain_matrices(lin, force)
    P = m["Q"].shape[0]
    A = m["M"].shape[0]
    RSh = m["R"] @ m["Sh"]
    return np.block(
        [
            [m["Q"] + eps * np.eye(P), RSh, m["J"].T],
            [-m["J"], m["M"], np.zeros((A, A))],
            [-RSh.T, -m["Sh"].T @ m["S"] @ m["Sh"], m["M"].T],
        ]
    )
