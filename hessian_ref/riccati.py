"""The damped inverse Hessian-vector product by a backward Riccati sweep.

derivation.md section 12 (beyond the paper): the augmented system is the
optimality system of a linear-quadratic control problem along the layers,
with the activation tangents ``y_l`` as the state, the parameter steps
``x_l`` as the controls, ``y_l = G_l y_{l-1} + J_l x_l`` (``y_0 = 0``) as the
dynamics and stage costs ``1/2 x^T (Q_l + eps I) x + x^T R_l y_{l-1} +
1/2 y_{l-1}^T S_l y_{l-1} - v_l^T x``. With the cost-to-go
``1/2 y^T V_l y + q_l^T y`` (``V_L = 0``, ``q_L = 0``), backwards::

    Hxx_l = Q_l + eps I + J_l^T V_l J_l
    Hxy_l = R_l + J_l^T V_l G_l
    Hyy_l = S_l + G_l^T V_l G_l
    V_{l-1} = Hyy_l - Hxy_l^T Hxx_l^{-1} Hxy_l
    q_{l-1} = G_l^T q_l - Hxy_l^T Hxx_l^{-1} (J_l^T q_l - v_l)

and forwards ``x_l = -Hxx_l^{-1} (Hxy_l y_{l-1} + J_l^T q_l - v_l)``,
``y_l = G_l y_{l-1} + J_l x_l``. This is a block ``L D L^T`` factorization of
``H + eps I`` itself, from the last layer back, with pivots ``Hxx_l`` of
size ``p_l``: ``det(H + eps I) = prod_l det Hxx_l`` and the inertia of
``H + eps I`` is the sum of the pivots' inertias.

Products with ``G_l`` use its block-diagonal structure over samples (one
``h_l x h_{l-1}`` block per sample, derivation.md section 2), so a stage
costs about ``a^2 (p_l + h_{l-1}) + p_l^3`` multiply-adds (``J_l^T V_l J_l``
and ``V_l G_l`` dominate) instead of the ``(p_l + 2 a_l)^3`` of block
elimination: quadratic in the batch rather than cubic. ``J_l`` is still
used as a dense matrix and ``V_l`` is dense (it couples the samples through
the shared parameters). The pivots are factored once by LU (``dgetrf``)
and used for every right-hand side.
"""

import numpy as np
from scipy.linalg import lapack

__all__ = [
    "RiccatiFactorization",
    "SingularPivotError",
    "riccati_inertia",
    "riccati_slogdet",
]


class SingularPivotError(np.linalg.LinAlgError):
    """A Riccati pivot ``Hxx_l`` is exactly singular; ``layer`` is 0-based."""

    def __init__(self, message, layer):
        super().__init__(message)
        self.layer = layer


def _lu(matrix, layer):
    anorm = lapack.dlange("1", matrix)
    lu, piv, info = lapack.dgetrf(matrix)
    if info > 0:
        raise SingularPivotError(
            f"the Riccati pivot Hxx of layer {layer + 1} is exactly singular "
            f"(dgetrf found a zero pivot at position {info - 1}); H + eps I may "
            f"still be nonsingular: the banded LU pivots across layers",
            layer)
    rcond, _ = lapack.dgecon(lu, anorm, "1")
    return lu, piv, float(rcond)


def _sample_blocks(G, batch):
    """The ``batch`` diagonal blocks of a matrix that is block diagonal over
    samples (sample-major indices), as a ``(batch, rows, cols)`` array."""
    rows, cols = G.shape[0] // batch, G.shape[1] // batch
    index = np.arange(batch)
    blocks = G.reshape(batch, rows, batch, cols)
    return blocks[index, :, index, :]


def _times_blockdiag(M, blocks):
    """``M @ blockdiag(blocks)`` in ``O(rows(M) a h)`` rather than ``a^3``."""
    batch, rows, cols = blocks.shape
    pieces = M.reshape(M.shape[0], batch, rows).transpose(1, 0, 2) @ blocks
    return pieces.transpose(1, 0, 2).reshape(M.shape[0], batch * cols)


def _solve(factor, rhs):
    x, _ = lapack.dgetrs(factor[0], factor[1], rhs)
    return x


class RiccatiFactorization:
    """The backward sweep for one linearization and ``eps``, done once.

    Parameters
    ----------
    lin : Linearization
    eps : float

    Attributes
    ----------
    rcond : tuple of float
        Reciprocal condition estimates (1-norm, ``dgecon``) of the pivots
        ``Hxx_1 .. Hxx_L``.
    pivots : tuple of ndarray
        The pivots ``Hxx_l``, layer by layer (symmetric up to rounding).
    """

    def __init__(self, lin, eps):
        layers = lin.layers
        L = len(layers)
        self.lin = lin
        self.p = tuple(lin.p)
        factors, couplings, pivots = [None] * L, [None] * L, [None] * L
        rconds = [None] * L
        batch = lin.batch
        V = None  # V_L = 0: the head's stage needs no products with it
        for l in range(L - 1, -1, -1):
            blk = layers[l]
            Hxx = blk.Q + eps * np.eye(self.p[l])
            if V is not None:
                JtV = blk.J.T @ V
                Hxx = Hxx + JtV @ blk.J
            Hxx = 0.5 * (Hxx + Hxx.T)
            pivots[l] = Hxx
            lu, piv, rconds[l] = _lu(Hxx, l)
            factors[l] = (lu, piv)
            if l > 0:
                Hxy, Hyy = blk.R, blk.S
                if V is not None:
                    # G_l is block diagonal over samples (derivation.md
                    # section 2): V G_l and G_l^T V G_l cost a^2 h, not a^3
                    Gb = _sample_blocks(blk.G, batch)
                    VG = _times_blockdiag(V, Gb)
                    Hxy = Hxy + blk.J.T @ VG
                    Hyy = Hyy + _times_blockdiag(VG.T, Gb).T
                K = _solve(factors[l], Hxy)  # Hxx^{-1} Hxy
                couplings[l] = (Hxy, K)
                V = Hyy - Hxy.T @ K
                V = 0.5 * (V + V.T)
        self.factors, self.couplings = factors, couplings
        self.pivots, self.rcond = tuple(pivots), tuple(rconds)

    def solve(self, v):
        """``(H + eps I)^{-1} v`` for ``v`` of shape ``(P,)`` or ``(P, k)``."""
        lin, layers = self.lin, self.lin.layers
        V2 = v.reshape(len(v), -1)
        k = V2.shape[1]
        offsets = np.concatenate([[0], np.cumsum(self.p)])
        L = len(layers)
        q = np.zeros((lin.a[L], k))
        feedforward = [None] * L
        for l in range(L - 1, -1, -1):
            blk = layers[l]
            g = blk.J.T @ q - V2[offsets[l]:offsets[l + 1]]
            feedforward[l] = _solve(self.factors[l], g)  # Hxx^{-1} g
            if l > 0:
                Hxy = self.couplings[l][0]
                q = blk.G.T @ q - Hxy.T @ feedforward[l]
        x = np.empty_like(V2)
        y = None
        for l in range(L):
            blk = layers[l]
            step = feedforward[l]
            if l > 0:
                step = step + self.couplings[l][1] @ y
            x_l = -step
            x[offsets[l]:offsets[l + 1]] = x_l
            y = blk.J @ x_l if l == 0 else blk.G @ y + blk.J @ x_l
        return x.reshape(v.shape)

    def slogdet(self):
        """Sign and ``log |det(H + eps I)|`` from the pivots."""
        sign, logabsdet = 1.0, 0.0
        for Hxx in self.pivots:
            s, ld = np.linalg.slogdet(Hxx)
            sign, logabsdet = sign * s, logabsdet + ld
        return sign, logabsdet

    def inertia(self):
        """Numbers of negative, zero and positive eigenvalues of
        ``H + eps I``: the sums over the pivots (Sylvester's law of inertia
        for the block ``L D L^T``). An eigenvalue of a pivot counts as zero
        when it is below ``P eps_mach`` times the pivot's norm."""
        counts = np.zeros(3, dtype=int)
        for Hxx in self.pivots:
            w = np.linalg.eigvalsh(Hxx)
            tol = len(w) * np.finfo(float).eps * np.abs(w).max(initial=0.0)
            counts += [(w < -tol).sum(), (np.abs(w) <= tol).sum(), (w > tol).sum()]
        return tuple(int(c) for c in counts)


def _factorization(lin, eps):
    from ._checks import check_eps
    from .network import Linearization

    if not isinstance(lin, Linearization):
        raise TypeError(f"lin: expected a Linearization (from MLP.linearize), got "
                        f"{type(lin).__name__}")
    return RiccatiFactorization(lin, check_eps(eps))


def riccati_slogdet(lin, eps):
    """Sign and ``log |det(H + eps I)|`` from the Riccati pivots, in time
    linear in the depth (``eps > 0``); raises SingularPivotError on an
    exactly singular pivot."""
    return _factorization(lin, eps).slogdet()


def riccati_inertia(lin, eps):
    """Negative, zero and positive eigenvalue counts of ``H + eps I`` from the
    Riccati pivots (Sylvester's law of inertia), in time linear in the depth
    (``eps > 0``); raises SingularPivotError on an exactly singular pivot."""
    return _factorization(lin, eps).inertia()
