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

No product touches a structural zero (derivation.md section 2): ``G_l`` and
``S_l`` are used through their per-sample ``h_l x h_{l-1}`` blocks and
``J_l`` through its per-unit rows ``sigma'(u) [z, 1]``
(:func:`_unit_blocks`); only ``V_l`` is dense, since the shared parameters
couple the samples. With ``a = a_l ~ a_{l-1}`` and ``h = h_{l-1}``, a stage
costs about ``a^2 (2 h + p_l) + p_l a B + p_l^3`` multiply-adds: ``V_l G_l``
and ``G_l^T (V_l G_l)`` (``a^2 h`` each), the rank-``p_l`` update of the
cost-to-go (``a^2 p_l``), ``J_l^T V_l`` (``p_l a B``) and the pivot's
factorization. Block elimination of the pivoted ``K'`` factors blocks of
``p_l + 2 a_l`` rows, ``(p_l + 2 a_l)^3`` per stage: the sweep is quadratic
in the batch where elimination is cubic. Each pivot is factored once, by
Cholesky (``dpotrf``) when it is positive definite and by LU (``dgetrf``)
when it is not, and the factors serve every right-hand side.
"""

import numpy as np
from scipy.linalg import blas, lapack

__all__ = [
    "RiccatiFactorization",
    "SingularPivotError",
    "riccati_inertia",
    "riccati_slogdet",
]


#: What to do about a singular or nearly singular Riccati pivot.
PIVOT_ADVICE = (
    "The sweep pivots only inside layers (derivation.md section 12): if "
    "H + eps I is itself nonsingular, method='auto' or 'banded' (pivoting "
    "across layers) solves it, and a slightly different eps may avoid the "
    "singular pivot; if H + eps I is singular, increase eps")


class SingularPivotError(np.linalg.LinAlgError):
    """A Riccati pivot ``Hxx_l`` is exactly singular; ``layer`` is 0-based."""

    def __init__(self, message, layer):
        super().__init__(message)
        self.layer = layer


def _factor(pivot, layer):
    """Cholesky (``dpotrf``) when the pivot is positive definite, LU
    (``dgetrf``) when it is not, and the 1-norm reciprocal condition
    estimate."""
    anorm = lapack.dlange("1", pivot)
    U, info = lapack.dpotrf(pivot, lower=0, clean=1)
    if info == 0:
        rcond, _ = lapack.dpocon(U, anorm)
        return ("cholesky", U), float(rcond)
    lu, piv, info = lapack.dgetrf(pivot)
    if info > 0:
        raise SingularPivotError(
            f"the Riccati pivot Hxx of layer {layer + 1} is exactly singular "
            f"(dgetrf found a zero pivot at position {info - 1}). {PIVOT_ADVICE}",
            layer)
    rcond, _ = lapack.dgecon(lu, anorm, "1")
    return ("lu", lu, piv), float(rcond)


def _solve(factor, rhs):
    """``Hxx^{-1} rhs`` with a factor from :func:`_factor`."""
    if factor[0] == "cholesky":
        x, _ = lapack.dpotrs(factor[1], rhs, lower=0)
    else:
        x, _ = lapack.dgetrs(factor[1], factor[2], rhs)
    return x


def _unit_blocks(J, batch):
    """The nonzeros of a dense layer's ``J_l`` as a ``(B, o, i + 1)`` array.

    Row ``(n, k)`` of ``J_l`` (sample ``n``, unit ``k``) is nonzero only on
    unit ``k``'s own weights and bias (derivation.md section 2), where it is
    ``sigma'(u_nk) [z_n, 1]``; this returns those rows' nonzeros, in
    parameter order within the unit (``i`` weights, then the bias).
    """
    n_out = J.shape[0] // batch
    n_in = J.shape[1] // n_out - 1
    units = np.arange(n_out)
    weights = J[:, :n_out * n_in].reshape(batch, n_out, n_out, n_in)
    bias = J[:, n_out * n_in:].reshape(batch, n_out, n_out)
    return np.concatenate([weights[:, units, units, :],
                           bias[:, units, units][:, :, None]], axis=2)


def _jt_times(C, M):
    """``J_l^T M`` from the unit blocks `C`: ``p_l B`` multiply-adds per
    column of `M`, not ``p_l a_l``."""
    batch, n_out, _ = C.shape
    # per unit k: [z_n, 1]-weighted sum over samples of M's rows (n, k)
    per_unit = np.matmul(C.transpose(1, 2, 0),
                         M.reshape(batch, n_out, -1).transpose(1, 0, 2))
    return np.concatenate([per_unit[:, :-1].reshape(-1, per_unit.shape[2]),
                           per_unit[:, -1]])


def _j_times(C, X):
    """``J_l X`` for ``X`` of shape ``(p_l, k)`` from the unit blocks `C`."""
    batch, n_out, width = C.shape
    k = X.shape[1]
    n_weights = n_out * (width - 1)
    per_unit = np.concatenate([X[:n_weights].reshape(n_out, width - 1, k),
                               X[n_weights:, None, :]], axis=1)
    out = np.matmul(C.transpose(1, 0, 2), per_unit)  # (o, B, k)
    return out.transpose(1, 0, 2).reshape(batch * n_out, k)


def _sample_blocks(G, batch):
    """The ``batch`` diagonal blocks of a matrix that is block diagonal over
    samples (sample-major indices), as a ``(batch, rows, cols)`` array."""
    rows, cols = G.shape[0] // batch, G.shape[1] // batch
    index = np.arange(batch)
    blocks = G.reshape(batch, rows, batch, cols)
    return blocks[index, :, index, :]


def _times_blockdiag(M, blocks, out=None):
    """``M @ blockdiag(blocks)`` in ``rows(M) a h`` multiply-adds, not
    ``rows(M) a^2``; `out` is a flat buffer of at least that many entries."""
    batch, rows, cols = blocks.shape
    size = M.shape[0] * batch * cols
    out = (np.empty(size) if out is None else out[:size]).reshape(M.shape[0], -1)
    np.matmul(M.reshape(M.shape[0], batch, rows).transpose(1, 0, 2), blocks,
              out=out.reshape(M.shape[0], batch, cols).transpose(1, 0, 2))
    return out


def _blockdiag_t_times(blocks, M, out=None):
    """``blockdiag(blocks)^T M`` for ``M`` of shape ``(B rows, k)``, into the
    C-contiguous `out` of shape ``(B cols, k)`` when given."""
    batch, rows, cols = blocks.shape
    k = M.shape[1]
    target = None if out is None else out.reshape(batch, cols, k)
    result = np.matmul(blocks.transpose(0, 2, 1), M.reshape(batch, rows, k),
                       out=target)
    return result.reshape(batch * cols, k)


def _blockdiag_times(blocks, M):
    """``blockdiag(blocks) M`` for ``M`` of shape ``(B cols, k)``."""
    batch, rows, cols = blocks.shape
    return np.matmul(blocks, M.reshape(batch, cols, -1)).reshape(batch * rows, -1)


def _add_sample_blocks(target, S, batch):
    """``target += S`` in place for ``S`` block diagonal over samples, touching
    only the diagonal blocks."""
    rows = S.shape[0] // batch
    index = np.arange(batch)
    target.reshape(batch, rows, batch, rows)[index, :, index, :] += \
        _sample_blocks(S, batch)


class RiccatiFactorization:
    """The backward sweep for one linearization and ``eps``, done once.

    Parameters
    ----------
    lin : Linearization
        Of an :class:`~hessian_ref.network.MLP`: every layer before the head
        is dense, so its ``J_l`` has the unit structure of
        :func:`_unit_blocks` and its ``G_l`` is block diagonal over samples.
    eps : float

    Attributes
    ----------
    rcond : tuple of float
        Reciprocal condition estimates (1-norm, ``dpocon`` or ``dgecon``) of
        the pivots ``Hxx_1 .. Hxx_L``.
    pivots : tuple of ndarray
        The pivots ``Hxx_l``, layer by layer (symmetric up to rounding).
    kinds : tuple of str
        ``"cholesky"`` for a pivot that is positive definite, ``"lu"`` for
        one that is not.
    """

    def __init__(self, lin, eps):
        layers = lin.layers
        L = len(layers)
        self.lin = lin
        self.p = tuple(lin.p)
        batch = lin.batch
        # the structured pieces of J_l and G_l; the head (l = L) is dense
        self._J = [_unit_blocks(blk.J, batch) for blk in layers[:-1]] + [None]
        self._G = [None] + [_sample_blocks(blk.G, batch) for blk in layers[1:-1]]
        factors, couplings, pivots = [None] * L, [None] * L, [None] * L
        rconds = [None] * L
        # V_l (then Hyy_l, once V_l is used up) and V_l G_l live in two
        # buffers kept for the whole sweep: a fresh a x a array per stage
        # costs more than the products that fill it
        largest = max(lin.a[1:L]) ** 2 if L > 1 else 0
        buffers = np.empty(largest), np.empty(largest)
        V = None  # V_L = 0: the head's stage needs no products with it
        for l in range(L - 1, -1, -1):
            blk = layers[l]
            Hxx = blk.Q + eps * np.eye(self.p[l])
            if V is not None:
                JtV = _jt_times(self._J[l], V)  # J_l^T V_l: p_l B a_l
                Hxx += _jt_times(self._J[l], JtV.T)  # p_l^2 B
            Hxx = 0.5 * (Hxx + Hxx.T)
            pivots[l] = Hxx
            factors[l], rconds[l] = _factor(Hxx, l)
            if l == 0:
                break
            n = lin.a[l]  # a_{l-1} in the 1-based numbering of the text
            Hyy = buffers[0][:n * n].reshape(n, n)
            if V is None:
                Hxy = blk.R
                Hyy[...] = blk.S
            else:
                # G_l is block diagonal over samples (derivation.md section 2)
                Hxy = blk.R + _times_blockdiag(JtV, self._G[l])  # p_l a_l h_{l-1}
                VG = _times_blockdiag(V, self._G[l],
                                      out=buffers[1])  # a_l^2 h_{l-1}
                _blockdiag_t_times(self._G[l], VG, out=Hyy)  # V is dead now
                _add_sample_blocks(Hyy, blk.S, batch)
            couplings[l] = Hxy
            # V_{l-1} = Hyy - Hxy^T Hxx^{-1} Hxy, in place (p_l a_{l-1}^2)
            V = blas.dgemm(-1.0, _solve(factors[l], Hxy), Hxy, beta=1.0,
                           c=Hyy.T, trans_a=1, overwrite_c=1).T
        self.factors, self.couplings = factors, couplings
        self.pivots, self.rcond = tuple(pivots), tuple(rconds)
        self.kinds = tuple(f[0] for f in factors)

    def solve(self, v):
        """``(H + eps I)^{-1} v`` for ``v`` of shape ``(P,)`` or ``(P, k)``."""
        L = len(self.lin.layers)
        V2 = v.reshape(len(v), -1)
        offsets = np.concatenate([[0], np.cumsum(self.p)])
        feedforward = [None] * L
        q = None  # q_L = 0
        for l in range(L - 1, -1, -1):
            g = -V2[offsets[l]:offsets[l + 1]]
            if q is not None:
                g = g + _jt_times(self._J[l], q)
            feedforward[l] = _solve(self.factors[l], g)  # Hxx^{-1} g
            if l > 0:
                q_prev = -self.couplings[l].T @ feedforward[l]
                if q is not None:
                    q_prev += _blockdiag_t_times(self._G[l], q)
                q = q_prev
        x = np.empty_like(V2)
        y = None
        for l in range(L):
            step = feedforward[l]
            if l > 0:
                step = step + _solve(self.factors[l], self.couplings[l] @ y)
            x_l = -step
            x[offsets[l]:offsets[l + 1]] = x_l
            if l < L - 1:
                y = _j_times(self._J[l], x_l) if l == 0 else (
                    _blockdiag_times(self._G[l], y) + _j_times(self._J[l], x_l))
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
