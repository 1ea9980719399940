"""Hessian-vector products by one tangent and one adjoint sweep.

derivation.md section 3: with ``y = M^{-1} J v`` (the tangent sweep, a forward-mode
derivative of the activations) and ``w = M^{-T} Sh^T (R^T v + S Sh y)`` (the
adjoint sweep),

    (H v)_l = Q_l v_l + R_l y_{l-1} + J_l^T w_l.

Both sweeps run layer by layer on the blocks of a
:class:`~hessian_ref.network.Linearization`; no ``M^{-1}`` is ever formed.
"""

import itertools

import numpy as np

from ._checks import check_vectors
from .network import check_network

__all__ = [
    "adjoint_sweep",
    "hessian_vector_product",
    "hvp_from_blocks",
    "split_by_layer",
    "tangent_sweep",
]


def split_by_layer(lin, v):
    """Views ``v_1 .. v_L`` of a ``(P,)`` or ``(P, k)`` array, layer by layer."""
    v = check_vectors("v", v, sum(lin.p))
    at = np.concatenate([[0], np.cumsum(lin.p)])
    return [v[s:e] for s, e in itertools.pairwise(at)]


def tangent_sweep(lin, vs):
    """``y = M^{-1} J v`` layer by layer: ``y_l = J_l v_l + G_l y_{l-1}``.

    Parameters
    ----------
    lin : Linearization
    vs : list of (p_l,) or (p_l, k) ndarray

    Returns
    -------
    ys : list of (a_l,) or (a_l, k) ndarray
        Tangents of ``z_1 .. z_L``; ``y_0 = 0`` since the data do not move.
    """
    ys = []
    for l, (blk, v_l) in enumerate(zip(lin.layers, vs)):
        y = blk.J @ v_l
        if l > 0:
            y = y + blk.G @ ys[-1]
        ys.append(y)
    return ys


def adjoint_sweep(lin, vs, ys):
    """``w = M^{-T} Sh^T (R^T v + S Sh y)`` from the last layer back.

    ``w_L = 0`` and ``w_l = R_{l+1}^T v_{l+1} + S_{l+1} y_l + G_{l+1}^T w_{l+1}``.

    Returns
    -------
    ws : list of (a_l,) or (a_l, k) ndarray
    """
    L = len(lin.layers)
    ws = [None] * L
    ws[-1] = np.zeros_like(ys[-1])
    for l in range(L - 2, -1, -1):
        above = lin.layers[l + 1]
        ws[l] = above.R.T @ vs[l + 1] + above.S @ ys[l] + above.G.T @ ws[l + 1]
    return ws


def hvp_from_blocks(lin, v):
    """``H v`` from the blocks of a linearization.

    Parameters
    ----------
    lin : Linearization
    v : (P,) or (P, k) ndarray

    Returns
    -------
    Hv : ndarray of the shape of `v`
    """
    vs = split_by_layer(lin, v)
    ys = tangent_sweep(lin, vs)
    ws = adjoint_sweep(lin, vs, ys)
    out = []
    for l, blk in enumerate(lin.layers):
        Hv_l = blk.Q @ vs[l] + blk.J.T @ ws[l]
        if l > 0:
            Hv_l = Hv_l + blk.R @ ys[l - 1]
        out.append(Hv_l)
    return np.concatenate(out)


def hessian_vector_product(net, theta, X, targets, v):
    """``H v`` for the loss of `net` at `theta` on the batch ``(X, targets)``.

    Parameters
    ----------
    net : MLP
    theta : (P,) ndarray
    X : (B, h_0) ndarray
    targets : (B,) int ndarray or (B, h_L) ndarray
    v : (P,) or (P, k) ndarray

    Returns
    -------
    Hv : ndarray of the shape of `v`

    Raises
    ------
    ValueError
        If a shape does not fit or an input is not finite.
    """
    check_network(net)
    theta = net.check_params(theta)
    X, targets = net.check_batch(X, targets)
    v = check_vectors("v", v, net.n_params)
    return hvp_from_blocks(net.linearize(theta, X, targets), v)
