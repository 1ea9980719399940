"""``H``, ``H + eps I`` and ``(H + eps I)^{-1}`` as SciPy linear operators.

Each function validates its inputs, does the work that does not depend on
the vector once (one linearization, and for the inverse one block
factorization of ``K'``), and returns a
:class:`scipy.sparse.linalg.LinearOperator` of shape ``(P, P)`` and dtype
float64 whose products reuse it. ``H`` is the Hessian of the loss with
respect to the flat parameters (layout in :mod:`hessian_ref.network`), so
every operator here is symmetric: ``rmatvec`` is ``matvec``, and ``.T`` and
``.H`` are the operator itself.

The operators plug into the Krylov solvers of :mod:`scipy.sparse.linalg`:
``cg`` needs ``H + eps I`` positive definite, ``minres`` only symmetric.

Products accept ``(P,)`` and ``(P, k)`` real arrays (``LinearOperator``
checks the shape first); complex or non-finite vectors raise with the
argument named ``x``.
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator

from ._checks import check_eps, check_vectors
from .augmented import _check_refine, _FactoredSystem
from .hvp import hvp_from_blocks
from .network import check_network

__all__ = ["damped_hessian_operator", "hessian_operator", "inverse_operator"]


class _SymmetricOperator(LinearOperator):
    """A real symmetric ``(P, P)`` operator applying ``apply`` to ``(P, k)``."""

    def __init__(self, apply, n, description):
        super().__init__(dtype=np.float64, shape=(n, n))
        self._apply = apply
        self._description = description

    def __repr__(self):
        return f"<{self.shape[0]}x{self.shape[1]} {self._description}, float64>"

    # matvec and matmat reach apply through the same number of frames, so a
    # warning raised inside apply can point at their caller
    def _matvec(self, x):
        return self._apply(check_vectors("x", x, self.shape[0]))

    def _matmat(self, X):
        return self._apply(check_vectors("x", X, self.shape[0]))

    # symmetric: the adjoint products are the products
    _rmatvec = _matvec
    _rmatmat = _matmat

    def _adjoint(self):
        return self

    def _transpose(self):
        return self


def _linearize(net, theta, X, targets):
    """Validate the network and batch, then linearize once."""
    check_network(net)
    theta = net.check_params(theta)
    X, targets = net.check_batch(X, targets)
    return net.linearize(theta, X, targets)


def hessian_operator(net, theta, X, targets):
    """The Hessian ``H`` as a symmetric ``LinearOperator``.

    Parameters
    ----------
    net : MLP
    theta : (P,) ndarray
        Flat parameters.
    X : (B, h_0) ndarray
        Input batch.
    targets : (B,) int ndarray or (B, h_L) ndarray
        Class labels or regression targets.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(P, P)``, dtype float64. ``matvec`` and ``matmat`` take a
        ``(P,)`` or ``(P, k)`` real array and return ``H x`` of its shape;
        ``rmatvec`` and ``rmatmat`` do the same, ``H`` being symmetric.

    Raises
    ------
    TypeError, ValueError
        If `net` is not an MLP, or `theta`, `X`, `targets` do not fit it;
        raised here, before any product. A product raises if its vector is
        complex or holds NaN or inf.
    FloatingPointError
        If the forward pass overflows.

    Notes
    -----
    The network is linearized once, here (the blocks ``J_l``, ``G_l``,
    ``Q_l``, ``R_l``, ``S_l`` of derivation.md section 2); each product is
    then one tangent and one adjoint sweep over them (derivation.md section
    3, :func:`hessian_ref.hvp.hvp_from_blocks`), linear in the depth. The
    operator keeps no reference to the caller's arrays: it works from the
    blocks, which are copies, so changing `theta` or `X` afterwards does not
    change it.

    Examples
    --------
    >>> import numpy as np
    >>> from hessian_ref import MLP
    >>> net = MLP((3, 4, 2), "tanh", "cross_entropy")
    >>> theta = net.init(seed=0)
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> y = np.array([0, 1, 1, 0, 1])
    >>> H = hessian_operator(net, theta, X, y)
    >>> H.shape
    (26, 26)
    >>> v = np.ones(26)
    >>> bool(np.allclose(H @ v, H.rmatvec(v)))
    True
    """
    lin = _linearize(net, theta, X, targets)
    return _SymmetricOperator(
        lambda V: hvp_from_blocks(lin, V), net.n_params, "Hessian operator"
    )


def damped_hessian_operator(net, theta, X, targets, eps):
    """The damped Hessian ``H + eps I`` as a symmetric ``LinearOperator``.

    The operator to hand to ``scipy.sparse.linalg.cg`` (when ``H + eps I``
    is positive definite) or ``minres`` (when it is only symmetric).

    Parameters
    ----------
    net : MLP
    theta : (P,) ndarray
    X : (B, h_0) ndarray
    targets : (B,) int ndarray or (B, h_L) ndarray
    eps : float
        Damping added to the Hessian, ``eps >= 0``.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(P, P)``, dtype float64, applying ``H x + eps x``.

    Raises
    ------
    TypeError, ValueError
        As :func:`hessian_operator`, and if `eps` is not a finite number
        ``>= 0``.
    FloatingPointError
        If the forward pass overflows.

    Notes
    -----
    One linearization, here; each product is the two sweeps of
    derivation.md section 3 plus ``eps x``. Whether ``H + eps I`` is
    positive definite, as ``cg`` needs, is answered in linear time by
    :func:`hessian_ref.augmented.damped_hessian_inertia`.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse.linalg import cg
    >>> from hessian_ref import MLP
    >>> net = MLP((3, 4, 2), "tanh", "cross_entropy")
    >>> theta = net.init(seed=0)
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> y = np.array([0, 1, 1, 0, 1])
    >>> A = damped_hessian_operator(net, theta, X, y, eps=1.0)
    >>> v = np.ones(net.n_params)
    >>> x, info = cg(A, v, rtol=1e-12)
    >>> info
    0
    >>> bool(np.allclose(A @ x, v))
    True
    """
    eps = check_eps(eps, allow_zero=True)
    lin = _linearize(net, theta, X, targets)
    return _SymmetricOperator(
        lambda V: hvp_from_blocks(lin, V) + eps * V,
        net.n_params,
        f"damped Hessian operator (eps = {eps:g})",
    )


def inverse_operator(net, theta, X, targets, eps, refine="auto"):
    """``(H + eps I)^{-1}`` as a symmetric ``LinearOperator``, factored once.

    Parameters
    ----------
    net : MLP
    theta : (P,) ndarray
    X : (B, h_0) ndarray
    targets : (B,) int ndarray or (B, h_L) ndarray
    eps : float
        Damping added to the Hessian, ``eps >= 0``.
    refine : "auto" or int >= 0
        Iterative refinement of each product, as in
        :func:`hessian_ref.hessian_inverse_product`.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Shape ``(P, P)``, dtype float64. ``matvec`` and ``matmat`` return
        ``(H + eps I)^{-1} x`` for a ``(P,)`` or ``(P, k)`` real array, as
        :func:`hessian_ref.hessian_inverse_product` with
        ``method="block"`` would, but without linearizing or factoring
        again.

    Raises
    ------
    TypeError, ValueError
        As :func:`damped_hessian_operator`, and on an unknown `refine`;
        raised here, before any work.
    SingularBlockError
        Here, if a pivot block of the elimination has an exactly zero pivot
        or the elimination overflows; at a product, if that solve breaks
        down (backward error above
        ``hessian_ref.augmented.BREAKDOWN_BACKWARD_ERROR``). The message
        names the layer (derivation.md section 6).
    SingularHessianError, InaccurateSolveError
        At a product, as :func:`hessian_ref.hessian_inverse_product` raises
        them.

    Warns
    -----
    scipy.linalg.LinAlgWarning
        At a product whose backward error on ``H + eps I`` exceeds
        ``BACKWARD_ERROR_FACTOR * P * eps_mach`` after refinement, as
        :func:`hessian_ref.hessian_inverse_product` warns; the warning
        points at the caller of ``matvec`` or ``matmat``.

    Notes
    -----
    The network is linearized and the pivoted augmented matrix ``K'``
    (derivation.md sections 4 and 5) is built and factored by block
    elimination (section 6) once, here; each product is then one forward
    and one backward block sweep, linear in the depth, and the same
    backward-error check as every structured solve. The operator is
    symmetric because ``(H + eps I)^{-1}`` is; the products are so only to
    rounding.

    Useful as a preconditioner (``M=`` of ``scipy.sparse.linalg.cg``) for a
    nearby problem, or to apply the inverse to many vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse.linalg import cg
    >>> from hessian_ref import MLP
    >>> net = MLP((3, 4, 2), "tanh", "cross_entropy")
    >>> theta = net.init(seed=0)
    >>> X = np.random.default_rng(0).standard_normal((5, 3))
    >>> y = np.array([0, 1, 1, 0, 1])
    >>> inverse = inverse_operator(net, theta, X, y, eps=1.0)
    >>> v = np.ones(net.n_params)
    >>> x = inverse @ v
    >>> A = damped_hessian_operator(net, theta, X, y, eps=1.0)
    >>> x_cg, info = cg(A, v, rtol=1e-12)
    >>> bool(np.allclose(x, x_cg))
    True
    """
    eps = check_eps(eps, allow_zero=True)
    refine = _check_refine(refine)
    lin = _linearize(net, theta, X, targets)
    system = _FactoredSystem(lin, eps)
    # a warning skips solve, this lambda, _SymmetricOperator._matvec (or
    # _matmat) and LinearOperator.matvec (or matmat): it names their caller
    return _SymmetricOperator(
        lambda V: system.solve(V, stacklevel=5, refine=refine)[0],
        net.n_params,
        f"inverse damped Hessian operator (eps = {eps:g})",
    )
