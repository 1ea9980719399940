"""The augmented system ``K``, its pivot, and ``(H + eps I)^{-1} v``.

derivation.md section 4: naming the two sweeps of the Hessian-vector product as
unknowns, ``y = M^{-1} J x`` and ``w = M^{-T} Sh^T (R^T x + S Sh y)``, turns
``(H + eps I) x = v`` into ``K (x, y, w) = (v, 0, 0)``.

derivation.md section 5: reordering the unknowns (and equations) from
``(x_1..x_L, y_1..y_L, w_1..w_L)`` to ``(x_1, y_1, w_1, ..., x_L, y_L, w_L)``
makes ``K' = Pi K Pi^T`` block tridiagonal with ``L`` square diagonal blocks of
size ``p_l + 2 a_l``. Inside block ``l`` the unknowns and the equations come
as ``x_l, y_l, w_l``::

             x   y_{l-1}  w  | x_l      y_l      w_l   | x_{l+1}     y  w_{l+1}
    x-row l:  .   R_l      .  | Q_l+eps   .       J_l^T |  .          .   .
    y-row l:  .   -G_l     .  | -J_l      I        .    |  .          .   .
    w-row l:  .    .       .  |  .      -S_{l+1}   I    | -R_{l+1}^T  .  -G_{l+1}^T

so ``E_l`` (below the diagonal) carries only ``R_l`` and ``-G_l`` in its
``y_{l-1}`` column, and ``F_l`` (above) only the w-row. Terms naming layer
``l - 1`` exist for ``l >= 2`` and those naming ``l + 1`` for ``l < L``.

The pivot is a permutation: ``Pi^{-1} = Pi^T``. As a regrouping of a 3 x L
grid of blocks into an L x 3 grid it undoes itself, but as a matrix
``Pi Pi != I`` as soon as the blocks differ in size (always here, since
``a_L = 1``); un-pivot with ``Pi^T`` (paper/derivation.md section 5).

derivation.md section 7: the same factorization gives ``det(H + eps I)``
(:func:`damped_hessian_slogdet`, since ``det K' = det(H + eps I)``), and the
symmetric form ``K_s'`` (:func:`symmetric_augmented_system`: rows ``x, -w,
-y`` in each block) gives the inertia of ``H + eps I``
(:func:`damped_hessian_inertia`, since ``K_s'`` has ``A = a_1 + ... + a_L``
more eigenvalues of each sign), both in time linear in the depth.
"""

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgWarning
from scipy.sparse.linalg import LinearOperator

from ._checks import check_eps, check_vectors
from .block_tridiagonal import (
    RCOND_SINGULAR,
    RCOND_WARN,
    BlockTridiagonal,
    SingularBlockError,
    SingularMatrixError,
    _doubt_message,
)
from .hvp import hvp_from_blocks
from .network import Linearization, check_network
from .riccati import PIVOT_ADVICE, RiccatiFactorization, SingularPivotError

MACHINE_EPS = float(np.finfo(float).eps)

__all__ = [
    "AUTO_RCOND",
    "BACKWARD_ERROR_FACTOR",
    "BREAKDOWN_BACKWARD_ERROR",
    "ERROR_BOUND_LIMIT",
    "METHODS",
    "POWER_ITERATIONS",
    "POWER_RTOL",
    "REFINE_MAX_STEPS",
    "REFINE_MODES",
    "REFINE_TARGET",
    "SINGULAR_CONDITION_EPS",
    "InaccurateSolveError",
    "SingularHessianError",
    "SolveInfo",
    "augmented_system",
    "damped_hessian_inertia",
    "damped_hessian_slogdet",
    "hessian_inverse_product",
    "pivot_matrix",
    "pivot_permutation",
    "solve_from_blocks",
    "symmetric_augmented_system",
]


def pivot_permutation(p, a):
    """The pivot as an index array.

    Parameters
    ----------
    p : sequence of int
        ``p_1 .. p_L``.
    a : sequence of int
        ``a_1 .. a_L`` (the sizes of ``y_l`` and ``w_l``; not ``a_0``).

    Returns
    -------
    perm : (P + 2A,) int ndarray
        ``s' = s[perm]`` reorders ``s = (x, y, w)`` layer-major; the inverse
        is ``s = s'[argsort(perm)]``, i.e. ``Pi^T``.
    """
    p = np.asarray(p, dtype=int)
    a = np.asarray(a, dtype=int)
    if p.ndim != 1 or a.shape != p.shape or p.size == 0:
        raise ValueError(
            f"p, a: expected two equal-length, non-empty sequences, got "
            f"{p.shape} and {a.shape}"
        )
    x_at = np.concatenate([[0], np.cumsum(p)])
    y_at = x_at[-1] + np.concatenate([[0], np.cumsum(a)])
    w_at = y_at[-1] + np.concatenate([[0], np.cumsum(a)])
    pieces = []
    for l in range(p.size):
        pieces += [
            np.arange(x_at[l], x_at[l + 1]),
            np.arange(y_at[l], y_at[l + 1]),
            np.arange(w_at[l], w_at[l + 1]),
        ]
    return np.concatenate(pieces)


def pivot_matrix(p, a):
    """The permutation matrix ``Pi`` with ``s' = Pi s`` (dense; for checks)."""
    perm = pivot_permutation(p, a)
    Pi = np.zeros((perm.size, perm.size))
    Pi[np.arange(perm.size), perm] = 1.0
    return Pi


def augmented_system(lin, eps):
    """The pivoted augmented matrix ``K'`` as a :class:`BlockTridiagonal`.

    Built layer by layer from the blocks of `lin`; no dense ``K`` is formed.

    Parameters
    ----------
    lin : Linearization
    eps : float
        Damping added to the parameter-parameter block, ``eps >= 0``.

    Returns
    -------
    BlockTridiagonal
        ``L`` diagonal blocks of sizes ``p_l + 2 a_l``.
    """
    eps = check_eps(eps, allow_zero=True)
    blocks = lin.layers
    L = len(blocks)
    p, a = lin.p, lin.a[1:]
    diagonal, lower, upper = [], [], []
    for l, blk in enumerate(blocks):
        P_, A_ = p[l], a[l]
        x, y, w = slice(0, P_), slice(P_, P_ + A_), slice(P_ + A_, P_ + 2 * A_)

        D = np.zeros((P_ + 2 * A_, P_ + 2 * A_))
        D[x, x] = blk.Q + eps * np.eye(P_)
        D[x, w] = blk.J.T
        D[y, x] = -blk.J
        D[y, y] = np.eye(A_)
        D[w, w] = np.eye(A_)
        if l + 1 < L:
            D[w, y] = -blocks[l + 1].S
        diagonal.append(D)

        if l > 0:
            # block (l, l-1): layer l's x- and y-rows on y_{l-1}
            size_below = p[l - 1] + 2 * a[l - 1]
            y_below = slice(p[l - 1], p[l - 1] + a[l - 1])
            E = np.zeros((P_ + 2 * A_, size_below))
            E[x, y_below] = blk.R
            E[y, y_below] = -blk.G
            lower.append(E)

            # block (l-1, l): layer l-1's w-row on x_l and w_l
            F = np.zeros((size_below, P_ + 2 * A_))
            w_below = slice(p[l - 1] + a[l - 1], size_below)
            F[w_below, x] = -blk.R.T
            F[w_below, w] = -blk.G.T
            upper.append(F)
    return BlockTridiagonal._from_owned_blocks(diagonal, lower, upper)


@dataclass(frozen=True)
class SolveInfo:
    """How a structured solve went.

    Attributes
    ----------
    rcond : tuple of float
        Reciprocal condition estimates (1-norm): of the ``L`` pivot blocks
        ``U_l``, layer by layer (``dgecon``), when block elimination ran; of
        the whole ``K'`` (one number, ``dgbcon``) when the banded LU ran; of
        the ``L`` Riccati pivots ``Hxx_l`` (``dpocon`` or ``dgecon``) when
        the sweep ran.
    backward_error : float
        Normwise backward error of the first solve of the pivoted system,
        ``||K' s' - r'|| / (||K'|| ||s'|| + ||r'||)`` in the infinity norm,
        largest over the right-hand sides; computed blockwise in linear time.
        ``nan`` for the Riccati sweep, which never forms ``K'``.
    method : {"block", "banded", "riccati"}
        The solver that produced the answer.
    reason : str
        Why ``method="auto"`` fell back to the banded LU (empty otherwise).
    residual : float
        The true relative residual ``||(H + eps I) x - v|| / ||v||`` (largest
        over the right-hand sides) of the returned ``x``, with ``H x`` from
        the Hessian-vector product, which shares no code with the solve.
    hessian_backward_error : float
        Normwise backward error of the returned ``x`` on ``H + eps I``
        itself, ``||(H + eps I) x - v||_2 / (||H + eps I||_2 ||x||_2 +
        ||v||_2)`` (largest over the right-hand sides), the norm of
        ``H + eps I`` estimated by power iteration on the Hessian-vector
        product. This is what the solve is judged by.
    refinement_steps : int
        Steps of iterative refinement taken after the first solve.
    condition : float
        2-norm condition estimate of ``H + eps I`` (a lower estimate, by
        power iteration); ``nan`` when it was not needed (it is computed
        when ``eps = 0``, when a reciprocal condition estimate in `rcond` is
        below ``RCOND_WARN``, when the backward error is doubtful, or when
        refinement took a step). The relative error of ``x`` is at most
        about ``condition * hessian_backward_error``.
    """

    rcond: tuple
    backward_error: float
    method: str = "block"
    reason: str = ""
    residual: float = float("nan")
    hessian_backward_error: float = float("nan")
    refinement_steps: int = 0
    condition: float = float("nan")


#: Solvers: the Riccati sweep with the banded LU as its fallback, block
#: elimination of the pivoted system, its pivoted banded LU, or the Riccati
#: sweep on ``H + eps I`` itself (derivation.md section 12).
METHODS = ("auto", "block", "banded", "riccati")

#: ``method="auto"`` falls back to the banded LU when a Riccati pivot's
#: reciprocal condition estimate is below this.
AUTO_RCOND = 1e-14


class SingularHessianError(np.linalg.LinAlgError):
    """``H + eps I`` is singular, or numerically so: a larger ``eps`` helps."""


class InaccurateSolveError(np.linalg.LinAlgError):
    """A solve left a backward error on ``H + eps I`` above
    ``BREAKDOWN_BACKWARD_ERROR`` that refinement did not remove, while
    ``H + eps I`` is not singular to working precision: the augmented system
    and the Hessian-vector product disagree."""


#: ``H + eps I`` counts as singular to working precision when its condition
#: estimate times ``eps_mach`` reaches this: the answer would keep no correct
#: digit worth returning (forward error up to about ``condition * eps_mach``).
SINGULAR_CONDITION_EPS = 1e-2

#: An answer whose error bound, condition estimate times backward error on
#: ``H + eps I``, exceeds this is refused: it may have no correct digit.
ERROR_BOUND_LIMIT = 0.1

#: ``refine="auto"`` refines until the backward error on ``H + eps I`` is
#: below ``REFINE_TARGET`` or stops falling, in at most ``REFINE_MAX_STEPS``
#: steps; an integer ``k`` allows at most ``k`` steps.
REFINE_MODES = ("auto",)

#: Backward error on ``H + eps I`` at which refinement stops: a few units of
#: ``eps_mach``, about what rounding in the residual itself allows.
REFINE_TARGET = 4 * MACHINE_EPS

#: Most refinement steps ``"auto"`` takes; each step is one
#: Hessian-vector product and one solve with the existing factorization.
REFINE_MAX_STEPS = 10


#: A structured solve warns when its backward error on ``H + eps I`` exceeds
#: this multiple of ``P eps_mach`` after refinement (and a block elimination
#: probed by the log-determinant or the inertia when its backward error on
#: ``K'`` exceeds this multiple of ``N eps_mach``, ``N`` the order of ``K'``):
#: far more than a backward-stable solve leaves.
BACKWARD_ERROR_FACTOR = 1e3


#: A structured solve whose backward error exceeds this (about
#: sqrt(eps_mach)) has lost more than half of its digits and is refused rather
#: than returned: on ``K'``, block elimination raises ``SingularBlockError``;
#: on ``H + eps I`` after refinement, any method raises
#: ``SingularBlockError`` (block elimination with a poorly conditioned pivot
#: block), ``SingularHessianError`` (``H + eps I`` singular to working
#: precision) or ``InaccurateSolveError``.
BREAKDOWN_BACKWARD_ERROR = 1e-8


def solve_from_blocks(lin, v, eps, return_info=False, method="block",
                      refine="auto"):
    """``(H + eps I)^{-1} v`` from the blocks of a linearization.

    Solves ``K' s' = Pi (v, 0, 0)`` and reads ``x`` out of ``Pi^T s'``; by
    default with block elimination, the paper's method. Shapes, errors,
    warnings, `method` and `refine` as :func:`hessian_inverse_product`;
    with `return_info`, returns ``(x, SolveInfo)``.
    """
    _check_linearization(lin)
    v = check_vectors("v", v, sum(lin.p))
    eps = check_eps(eps, allow_zero=True)
    method, refine = _check_method(method), _check_refine(refine)
    x, info = _solve(lin, v, eps, 3, method, refine)
    return (x, info) if return_info else x


def _check_method(method):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    return method


def _inf_norm(Kp):
    """``||K'||_inf`` from the blocks."""
    rows = [np.abs(D).sum(axis=1) for D in Kp.diagonal]
    for k, E in enumerate(Kp.lower):
        rows[k + 1] = rows[k + 1] + np.abs(E).sum(axis=1)
    for k, F in enumerate(Kp.upper):
        rows[k] = rows[k] + np.abs(F).sum(axis=1)
    return max(float(r.max()) for r in rows)


def _singular_block_error(block, position, rcond, detail):
    return SingularBlockError(
        f"the pivot block of layer {block + 1} is singular, or nearly so, and "
        f"block elimination cannot give an accurate answer ({detail}). "
        f"Elimination pivots only inside blocks (derivation.md section 6): if "
        f"H + eps I is itself nonsingular, method='auto' or 'banded' (pivoting "
        f"across blocks) solves it, and a slightly different eps may avoid the "
        f"singular block; if H + eps I is singular, increase eps",
        block,
        position,
        rcond,
    )


def _culprit(rcond, backward=False):
    """The block a breakdown most likely starts at: the first numerically
    singular one, else the first poorly conditioned one, else the worst.

    A nearly singular ``U_l`` spoils every later ``U_k`` through the Schur
    updates, so the first bad block is the origin, not the worst. "First"
    is in the order of elimination: from the last layer back when
    `backward` (the Riccati sweep, whose nearly singular ``Hxx_l`` spoils
    ``Hxx_{l-1}`` and before).
    """
    order = range(len(rcond) - 1, -1, -1) if backward else range(len(rcond))
    for threshold in (RCOND_SINGULAR, RCOND_WARN):
        for k in order:
            if rcond[k] < threshold:
                return k
    return int(np.argmin(rcond))


def _factor_naming_layers(matrix, n_layers):
    """``matrix.factor(singular_rcond=0)``; a refused pivot block names its layer."""
    with warnings.catch_warnings():
        # rcond of a block also reflects how differently its rows are scaled
        # (eps against unit blocks), so a solve is judged by its backward
        # error instead (_FactoredSystem.solve); only an exactly zero pivot
        # stops the elimination here
        warnings.simplefilter("ignore", LinAlgWarning)
        try:
            return matrix.factor(singular_rcond=0.0)
        except SingularBlockError as error:
            raise _singular_block_error(
                error.block, error.position, error.rcond, str(error)
            ) from error
        except np.linalg.LinAlgError as error:  # the elimination overflowed
            worst = n_layers - 1
            raise _singular_block_error(worst, 0, None, str(error)) from error


def _backward_error(matrix, norm, s, r):
    """``||A s - r|| / (||A|| ||s|| + ||r||)``, inf-norms, worst column."""
    residual = np.abs(matrix.matvec(s) - r).max(axis=0)
    scale = norm * np.abs(s).max(axis=0) + np.abs(r).max(axis=0)
    # a zero right-hand side has the exact answer zero: backward error 0
    ratios = np.divide(residual, scale, out=np.zeros_like(residual), where=scale > 0)
    return float(ratios.max())


def _refuse_broken_elimination(backward_error, rcond):
    """Raise SingularBlockError, naming the layer where the breakdown most
    likely starts, if the backward error on ``K'`` of a block elimination is
    above ``BREAKDOWN_BACKWARD_ERROR``."""
    if backward_error > BREAKDOWN_BACKWARD_ERROR:
        worst = _culprit(rcond)
        raise _singular_block_error(
            worst, 0, rcond[worst],
            f"the elimination broke down: backward error {backward_error:.1e}, "
            f"reciprocal condition estimate {rcond[worst]:.1e}",
        )


def _judge_elimination(backward_error, N, rcond, stacklevel):
    """Refuse a broken-down elimination, warn about a doubtful one.

    The thresholds are ``BREAKDOWN_BACKWARD_ERROR`` and
    ``BACKWARD_ERROR_FACTOR * N * eps_mach``; `stacklevel` counts from here.
    """
    _refuse_broken_elimination(backward_error, rcond)
    if backward_error > BACKWARD_ERROR_FACTOR * N * MACHINE_EPS:
        worst = _culprit(rcond)
        warnings.warn(
            f"block elimination left a backward error of {backward_error:.1e} "
            f"(above {BACKWARD_ERROR_FACTOR:g} N eps_mach with N = {N}); it most "
            f"likely starts at the pivot block of layer {worst + 1}, reciprocal "
            f"condition estimate {rcond[worst]:.1e}",
            LinAlgWarning,
            stacklevel=stacklevel,
        )


def _probe_elimination(matrix, factorization, stacklevel):
    """Judge a factorization of ``K'`` or ``K_s'`` as a solve would be judged.

    Solves once with a fixed pseudo-random right-hand side (seed 0, so the
    outcome is deterministic) and hands its backward error to
    ``_judge_elimination``: an unstable elimination shows there, while the
    pivot blocks alone do not tell. `stacklevel` counts from here.
    """
    rcond = factorization.rcond
    r = np.random.default_rng(0).standard_normal(matrix.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        s = factorization.solve(r)
    if not np.all(np.isfinite(s)):
        worst = _culprit(rcond)
        raise _singular_block_error(
            worst, 0, rcond[worst],
            f"a probe solve overflowed; reciprocal condition estimate "
            f"{rcond[worst]:.1e}",
        )
    backward_error = _backward_error(matrix, _inf_norm(matrix), s, r)
    _judge_elimination(backward_error, matrix.shape[0], rcond, stacklevel + 1)


def _norm_estimate(apply, n):
    """A lower estimate of ``||A||_2`` for a symmetric ``A`` given by
    ``apply(X) = A X``: power iteration from two Gaussian columns (fixed
    seed, so deterministic), at most ``POWER_ITERATIONS`` steps, stopping
    when the estimate changes by less than ``POWER_RTOL``. The estimates
    judge backward errors and condition numbers, where a factor near 1
    does not matter.

    For a symmetric ``A`` the estimate never decreases from step to step,
    and a Gaussian start is almost surely not orthogonal to the dominant
    eigenvector (a start of ones can be: the null vectors of a
    cross-entropy head are exactly such sums).
    """
    X = np.random.default_rng(0).standard_normal((n, 2))
    X /= np.linalg.norm(X, axis=0)
    estimate = 0.0
    for _ in range(POWER_ITERATIONS):
        Y = apply(X)
        norms = np.linalg.norm(Y, axis=0)
        new = float(norms.max())
        if new == 0.0:
            return 0.0
        X = Y / np.where(norms > 0, norms, 1.0)
        converged = new - estimate <= POWER_RTOL * new
        estimate = new
        if converged:
            break
    return estimate


#: Most steps of power iteration behind the norm and condition estimates.
POWER_ITERATIONS = 8

#: Power iteration stops when its estimate changes by less than this.
POWER_RTOL = 0.05


class _FactoredSystem:
    """``K'`` for one linearization and ``eps``, factored once, solved often.

    Holds the pivoted matrix ``Kp``, its ``factorization`` by `method`
    (``"block"`` elimination, the ``"banded"`` LU or the ``"riccati"``
    sweep), the pivot permutation ``perm`` and the ``rcond`` estimates.
    ``solve(v, stacklevel, refine)`` does what ``_solve`` documents for a
    validated ``v``, with `stacklevel` counted from ``solve`` itself.
    """

    def __init__(self, lin, eps, method="block", Kp=None):
        self.lin = lin
        self.eps = eps
        self.method = method
        self.n_params = sum(lin.p)
        #: the backward error above which an answer is doubtful (warned
        #: about, refined, or for "auto" handed to the banded LU)
        self.doubt = BACKWARD_ERROR_FACTOR * self.n_params * MACHINE_EPS
        self._Kp = Kp
        self.perm = pivot_permutation(lin.p, lin.a[1:])
        if method == "block":
            self.factorization = _factor_naming_layers(self.Kp, len(lin.p))
            self.rcond = tuple(self.factorization.rcond)
        elif method == "riccati":
            self.factorization = RiccatiFactorization(lin, eps)
            self.rcond = self.factorization.rcond
        else:
            self.factorization = _factor_banded(self.Kp, eps)
            self.rcond = (float(self.factorization.rcond),)
        self._norm = None  # ||K'||_inf, on first use
        self._damped_norm = None
        self._condition = {}

    @property
    def Kp(self):
        """The pivoted ``K'``, built on first use: the Riccati sweep needs it
        only for a condition estimate by the banded LU."""
        if self._Kp is None:
            self._Kp = augmented_system(self.lin, self.eps)
        return self._Kp

    def solve_unjudged(self, v):
        """``x``, the backward error on ``K'``; raises only on overflow.

        The Riccati sweep solves ``H + eps I`` directly, without ``K'``: its
        backward error on ``K'`` is reported as NaN."""
        if self.method == "riccati":
            with np.errstate(over="ignore", invalid="ignore"):
                x = self.factorization.solve(v)
            if not np.all(np.isfinite(x)):
                raise _singular_hessian_error(
                    self.eps, f"the Riccati sweep overflowed; smallest reciprocal "
                    f"condition estimate of a pivot {min(self.rcond):.1e}")
            return x, float("nan")
        P, Kp, perm = self.n_params, self.Kp, self.perm
        if self._norm is None:
            self._norm = _inf_norm(Kp)
        rhs = np.zeros((Kp.shape[0],) + v.shape[1:])
        rhs[:P] = v
        r = rhs[perm]
        with np.errstate(over="ignore", invalid="ignore"):
            s_pivoted = self.factorization.solve(r)
        if not np.all(np.isfinite(s_pivoted)):
            self._refuse(f"the solution overflowed; reciprocal condition "
                         f"estimate {min(self.rcond):.1e}")
        s = np.empty_like(rhs)
        s[perm] = s_pivoted  # s = Pi^T s'
        return s[:P], _backward_error(Kp, self._norm, s_pivoted, r)

    def _refuse(self, detail):
        if self.method == "block":
            worst = _culprit(self.rcond)
            raise _singular_block_error(worst, 0, self.rcond[worst], detail)
        if self.method == "riccati":
            worst = _culprit(self.rcond, backward=True)
            raise SingularPivotError(
                f"the Riccati pivot of layer {worst + 1} is singular, or nearly "
                f"so (reciprocal condition estimate {self.rcond[worst]:.1e}), "
                f"and the sweep cannot give an accurate answer ({detail}). "
                f"{PIVOT_ADVICE}", worst)
        raise _singular_hessian_error(self.eps, detail)

    def damped(self, X):
        """``(H + eps I) X`` by the Hessian-vector product."""
        return hvp_from_blocks(self.lin, X) + self.eps * X

    def damped_operator(self):
        """``H + eps I`` as a LinearOperator on the Hessian-vector product."""
        P = self.n_params
        return LinearOperator((P, P), matvec=self.damped, rmatvec=self.damped,
                              matmat=self.damped, dtype=np.float64)

    def damped_norm(self):
        """``||H + eps I||_2``, estimated once (power iteration on the
        Hessian-vector product, linear in depth)."""
        if self._damped_norm is None:
            self._damped_norm = _norm_estimate(self.damped, self.n_params)
        return self._damped_norm

    def residual(self, x, v):
        """``r = (H + eps I) x - v`` by the Hessian-vector product, and the
        normwise backward error ``||r||_2 / (||H + eps I||_2 ||x||_2 +
        ||v||_2)``, worst column.

        The backward error on ``K'`` can be small while eliminating ``y`` and
        ``w`` amplifies it; this judges ``x`` against the system it solves.
        """
        r = self.damped(x) - v
        R, X, V = (np.reshape(m, (len(m), -1)) for m in (r, x, v))
        scale = (self.damped_norm() * np.linalg.norm(X, axis=0)
                 + np.linalg.norm(V, axis=0))
        ratios = np.divide(np.linalg.norm(R, axis=0), scale,
                           out=np.zeros(R.shape[1]), where=scale > 0)
        return r, float(np.max(ratios, initial=0.0))

    def condition_estimate(self, trusted=False):
        """2-norm condition estimate of ``H + eps I``: the norm estimate times
        one of ``||(H + eps I)^{-1}||_2``, both by power iteration, the second
        with this system's solves, or with `trusted` those of the banded LU
        (pivoting across blocks keeps them accurate where block elimination
        may not be). Each is computed once."""
        trusted = trusted or self.method == "banded"
        if trusted not in self._condition:
            solver = self
            if trusted and self.method != "banded":
                solver = _FactoredSystem(self.lin, self.eps, "banded", self.Kp)
            inverse_norm = _norm_estimate(lambda X: solver.solve_unjudged(X)[0],
                                          self.n_params)
            self._condition[trusted] = self.damped_norm() * inverse_norm
        return self._condition[trusted]

    def refine(self, x, v, r, eta, max_steps):
        """Iterative refinement: ``x <- x - (K'^{-1} (r, 0, 0))_x`` with the
        residual ``r`` of the Hessian-vector product, while the backward error
        `eta` is above ``REFINE_TARGET``, for at most `max_steps` steps, and
        stopping when a step does not halve it. Returns ``x, r, eta, steps``."""
        steps = 0
        while steps < max_steps and eta > REFINE_TARGET:
            x_new = x - self.solve_unjudged(r)[0]
            r_new, eta_new = self.residual(x_new, v)
            if eta_new < eta:
                x, r, eta, steps = x_new, r_new, eta_new, steps + 1
            if not eta_new < eta / 2:  # stagnated at what rounding allows
                break
        return x, r, eta, steps

    def verdict(self, eta, steps, max_steps):
        """``(condition, problem)`` for an answer with backward error `eta`
        after `steps` refinement steps.

        `condition` is the condition estimate, ``nan`` when it was not
        needed; `problem` is ``None`` for a sound answer, else
        ``"singular"`` (condition times ``eps_mach`` at least
        ``SINGULAR_CONDITION_EPS``), ``"unstable"`` (block elimination with
        a poorly conditioned pivot block whose answer keeps a backward error
        above ``BACKWARD_ERROR_FACTOR * eps_mach`` after refinement, or above
        ``BACKWARD_ERROR_FACTOR * P * eps_mach`` when `max_steps` is 0) or
        ``"inaccurate"`` (backward error above ``BREAKDOWN_BACKWARD_ERROR``,
        or an error bound, condition times backward error, above
        ``ERROR_BOUND_LIMIT``).
        """
        doubt = self.doubt
        poor_pivot = min(self.rcond) < RCOND_WARN
        if self.method in ("block", "riccati") and poor_pivot:
            limit = doubt if max_steps == 0 else BACKWARD_ERROR_FACTOR * MACHINE_EPS
            if eta > limit:
                return self.condition_estimate(trusted=True), "unstable"
        if not (self.eps == 0 or poor_pivot or eta > doubt or steps):
            problem = "inaccurate" if eta > BREAKDOWN_BACKWARD_ERROR else None
            return float("nan"), problem

        def problem_at(condition):
            if not condition * MACHINE_EPS < SINGULAR_CONDITION_EPS:
                return "singular"
            if condition * eta > ERROR_BOUND_LIMIT or eta > BREAKDOWN_BACKWARD_ERROR:
                return "inaccurate"
            return None

        # this system's own solves first; a problem they show is confirmed
        # with the banded LU's, which inaccurate block solves cannot fool
        condition = self.condition_estimate()
        if problem_at(condition) is not None:
            condition = self.condition_estimate(trusted=True)
        return condition, problem_at(condition)

    def judge(self, eta, steps, max_steps, stacklevel):
        """Refuse an answer whose verdict names a problem, warn about one
        with a doubtful backward error; returns the condition estimate."""
        condition, problem = self.verdict(eta, steps, max_steps)
        if problem == "singular":
            detail = (f"condition estimate {condition:.1e}, beyond "
                      f"{SINGULAR_CONDITION_EPS:g} / eps_mach")
            if eta > BREAKDOWN_BACKWARD_ERROR:
                # a stable solve of a singular matrix leaves a small one
                detail += (f"; the solve also left a backward error of "
                           f"{eta:.1e} on H + eps I, so the augmented system "
                           f"may disagree with the Hessian-vector product")
            raise _singular_hessian_error(self.eps, detail)
        detail = (f"the solve left a backward error of {eta:.1e} on "
                  f"H + eps I, checked by the Hessian-vector product, after "
                  f"{steps} refinement step(s); condition estimate of "
                  f"H + eps I {condition:.1e}")
        if problem == "unstable" or (problem == "inaccurate"
                                     and self.method in ("block", "riccati")
                                     and min(self.rcond) < RCOND_WARN):
            self._refuse(detail)
        if problem == "inaccurate":
            raise InaccurateSolveError(
                f"{detail}: the augmented system and the Hessian-vector "
                f"product disagree (derivation.md section 4); this is a "
                f"defect, not a property of the problem")
        if eta > self.doubt:
            where = ""
            if self.method in ("block", "riccati"):
                sweep = self.method == "riccati"
                worst = _culprit(self.rcond, backward=sweep)
                pivot = "Riccati pivot" if sweep else "pivot block"
                where = (f"; it most likely starts at the {pivot} of layer "
                         f"{worst + 1}, reciprocal condition estimate "
                         f"{self.rcond[worst]:.1e}")
            warnings.warn(
                f"the {self.method} solve left a backward error of {eta:.1e} on "
                f"H + eps I (above {BACKWARD_ERROR_FACTOR:g} P eps_mach with "
                f"P = {self.n_params}); condition estimate {condition:.1e}{where}",
                LinAlgWarning, stacklevel=stacklevel)
        return condition

    def refined(self, x, v, refine):
        """`x` refined as `refine` asks: ``x, r, eta, steps, max_steps``."""
        r, eta = self.residual(x, v)
        max_steps = REFINE_MAX_STEPS if refine == "auto" else refine
        return self.refine(x, v, r, eta, max_steps) + (max_steps,)

    def report(self, x, v, r, eta, steps, backward_error, condition, reason=""):
        """The SolveInfo of an answer."""
        norm_v = np.linalg.norm(v, axis=0)
        relative = np.divide(np.linalg.norm(r, axis=0), norm_v,
                             out=np.zeros_like(norm_v), where=norm_v > 0)
        return SolveInfo(self.rcond, backward_error, self.method, reason,
                         float(np.max(relative, initial=0.0)), eta, steps,
                         condition)

    def finish(self, x, v, backward_error, refine, stacklevel, reason=""):
        """Refine `x` as `refine` asks, judge it and report: ``x, SolveInfo``."""
        x, r, eta, steps, max_steps = self.refined(x, v, refine)
        condition = self.judge(eta, steps, max_steps, stacklevel + 1)
        return x, self.report(x, v, r, eta, steps, backward_error, condition,
                              reason)

    def solve(self, v, stacklevel, refine="auto"):
        """``(H + eps I)^{-1} v`` and a SolveInfo, for a validated ``v``."""
        if v.ndim == 2 and v.shape[1] == 0:
            return np.zeros_like(v), SolveInfo(self.rcond, 0.0, self.method,
                                               "", 0.0, 0.0, 0)
        x, backward_error = self.solve_unjudged(v)
        if self.method == "block":
            _refuse_broken_elimination(backward_error, self.rcond)
        return self.finish(x, v, backward_error, refine, stacklevel + 1)


def _factor_banded(Kp, eps):
    """The banded LU of ``K'``; an exactly singular matrix is refused."""
    with warnings.catch_warnings():
        # judged by the backward error of each solve instead
        warnings.simplefilter("ignore", LinAlgWarning)
        try:
            return Kp.factor_banded(singular_rcond=0.0)
        except SingularMatrixError as error:
            # det K' = det(H + eps I), derivation.md section 7
            raise _singular_hessian_error(
                eps, f"condition estimate inf: K', whose determinant is that "
                f"of H + eps I, is singular; {error}"
            ) from error


def _singular_hessian_error(eps, detail):
    return SingularHessianError(
        f"H + eps I is singular to working precision at eps = {eps:g} "
        f"({detail}); increase eps: H + eps I is positive definite once eps "
        f"exceeds minus the smallest eigenvalue of H"
    )


def _solve_auto(lin, v, eps, stacklevel, refine):
    """The Riccati sweep, falling back to the banded LU when it is doubtful.

    The sweep goes first because its pivots have ``p_l`` rows where block
    elimination's have ``p_l + 2 a_l``: in ``hessian-ref bench`` it is 99
    times faster on the full Iris batch, faster from 5 samples on, and 0.8
    times as fast on the smallest blocks (2 samples of width 4), where
    per-call overhead dominates (README, Performance). Like block
    elimination it does not pivot across layers, so a pivot that is
    singular, or nearly so, at an isolated ``eps`` sends the solve to the
    banded LU, which does.
    """
    reason = ""
    try:
        sweep = _FactoredSystem(lin, eps, "riccati")
    except SingularPivotError as error:
        reason = f"the Riccati pivot of layer {error.layer + 1} is exactly singular"
    else:
        if v.ndim == 2 and v.shape[1] == 0:
            return sweep.solve(v, stacklevel + 1)
        worst = _culprit(sweep.rcond, backward=True)  # where a breakdown starts
        try:
            x, backward_error = sweep.solve_unjudged(v)
        except SingularHessianError:
            reason = "the Riccati sweep overflowed"
        else:
            if min(sweep.rcond) < AUTO_RCOND:
                reason = (f"the Riccati pivot of layer {worst + 1} has reciprocal "
                          f"condition estimate {sweep.rcond[worst]:.1e} < "
                          f"AUTO_RCOND = {AUTO_RCOND:g}")
            else:
                x, r, eta, steps, max_steps = sweep.refined(x, v, refine)
                condition, problem = sweep.verdict(eta, steps, max_steps)
                if problem == "singular":  # the banded LU would say the same
                    sweep.judge(eta, steps, max_steps, stacklevel + 1)
                if problem is None and eta <= sweep.doubt:
                    return x, sweep.report(x, v, r, eta, steps, backward_error,
                                           condition)
                reason = (f"the Riccati sweep left a backward error of {eta:.1e} "
                          f"on H + eps I after {steps} refinement step(s), "
                          f"condition estimate {condition:.1e} (pivots from "
                          f"layer {worst + 1})")
    banded = _FactoredSystem(lin, eps, "banded")
    x, backward_error = banded.solve_unjudged(v)
    return banded.finish(x, v, backward_error, refine, stacklevel + 1, reason)


def _check_refine(refine):
    if isinstance(refine, str):
        if refine in REFINE_MODES:
            return refine
    elif (isinstance(refine, numbers.Integral) and not isinstance(refine, bool)
          and refine >= 0):
        return int(refine)
    raise ValueError(
        f"refine: expected one of {REFINE_MODES} or an integer >= 0, got "
        f"{refine!r}")


def _solve(lin, v, eps, stacklevel, method="block", refine="auto"):
    """The solve for validated `v` and `eps`; returns ``x`` and a SolveInfo."""
    # one frame more between the caller and the warning
    if method == "auto":
        return _solve_auto(lin, v, eps, stacklevel + 1, refine)
    return _FactoredSystem(lin, eps, method).solve(v, stacklevel + 1, refine)


def hessian_inverse_product(net, theta, X, targets, v, eps, method="auto",
                            return_info=False, refine="auto"):
    """The damped inverse Hessian-vector product ``(H + eps I)^{-1} v``.

    ``H`` is the Hessian of the loss of `net` (mean or sum over the batch, as
    the network was built) with respect to the flat parameters (layout in
    :mod:`hessian_ref.network`) at `theta` on the batch ``(X, targets)``.
    The cost is linear in the depth: ``L`` factorizations of blocks of size
    ``p_l + 2 a_l`` with ``a_l = B h_l``.

    Parameters
    ----------
    net : MLP
    theta : (P,) ndarray
    X : (B, h_0) ndarray
    targets : (B,) int ndarray or (B, h_L) ndarray
    v : (P,) or (P, k) ndarray
        One right-hand side, or ``k`` of them sharing one factorization.
    eps : float
        Damping, ``eps >= 0``. ``H + eps I`` need not be positive definite,
        only nonsingular; ``eps = 0`` solves with ``H`` itself.
    method : {"auto", "block", "banded", "riccati"}
        ``"block"``: block elimination (derivation.md section 6), the
        paper's method. ``"banded"``: LU with partial pivoting across the
        band, same linear cost, slower in practice, and needs no nonsingular
        pivot block. ``"riccati"``: the backward Riccati sweep of
        derivation.md section 12, a block ``L D L^T`` of ``H + eps I`` with
        pivots of size ``p_l`` (beyond the paper; no pivoting across
        layers, so it is judged and refined like block elimination).
        ``"auto"`` (default): the Riccati sweep, faster than block
        elimination in ``hessian-ref bench`` but on the smallest blocks,
        and the banded LU when a
        Riccati pivot is singular, has a reciprocal condition estimate
        below ``AUTO_RCOND``, or the refined answer keeps a backward error
        above ``BACKWARD_ERROR_FACTOR * P * eps_mach`` on ``H + eps I``
        (checked with the Hessian-vector product). ``SolveInfo.method``
        says which ran and ``SolveInfo.reason`` why.
    return_info : bool
        Also return a :class:`SolveInfo`: which method ran and why, the
        condition estimates, the backward errors on ``K'`` and on
        ``H + eps I``, the refinement steps taken and the true relative
        residual ``||(H + eps I) x - v|| / ||v||``.
    refine : "auto" or int >= 0
        Iterative refinement with the residual ``(H + eps I) x - v`` of the
        Hessian-vector product and the same factorization; each step costs
        one Hessian-vector product and one solve. ``"auto"`` (default):
        refine until the backward error on ``H + eps I`` is below
        ``REFINE_TARGET`` (a few ``eps_mach``, near machine precision) or a
        step fails to halve it, in at most ``REFINE_MAX_STEPS`` steps; a
        backward-stable first solve usually needs none. An integer ``k``:
        the same with at most ``k`` steps; ``0`` returns the first solve as
        it is (still judged).

    Returns
    -------
    x : ndarray of the shape of `v`
    info : SolveInfo
        Only with `return_info`.

    Raises
    ------
    ValueError, TypeError
        On shapes that do not fit, non-finite input, labels out of range,
        ``eps < 0``, an unknown `method` or `refine`; raised before any work
        is done.
    SingularHessianError
        If ``H + eps I`` is singular to working precision: its condition
        estimate times ``eps_mach`` reaches ``SINGULAR_CONDITION_EPS``, or
        the banded LU meets an exactly zero pivot. The message gives the
        estimate and suggests a larger ``eps``. ``eps = 0`` with a softmax
        cross-entropy head always raises it (adding a constant to the logits
        of a sample leaves the loss unchanged, so ``H`` has null vectors).
    SingularBlockError
        With ``method="block"``: if a pivot block of the elimination has an
        exactly zero pivot, or the elimination breaks down (non-finite
        result, or a backward error above ``BREAKDOWN_BACKWARD_ERROR`` on
        ``K'``, or on ``H + eps I`` after refinement while a pivot block is
        poorly conditioned); the message names the layer where the breakdown
        starts and its reciprocal condition estimate. Block elimination
        pivots only inside blocks, so this can happen while ``H + eps I`` is
        nonsingular (derivation.md section 6); ``"auto"`` then falls back to
        the banded LU.
    InaccurateSolveError
        If the answer, after refinement, still leaves a backward error above
        ``BREAKDOWN_BACKWARD_ERROR`` on ``H + eps I`` while that matrix is
        not singular to working precision: the augmented system disagrees
        with the Hessian-vector product. Every solve is checked this way, so
        a wrong block is an error, never a quiet answer.

    Warns
    -----
    scipy.linalg.LinAlgWarning
        When the returned ``x`` leaves a backward error on ``H + eps I``
        above ``BACKWARD_ERROR_FACTOR * P * eps_mach`` (after refinement),
        with the condition estimate. Poorly conditioned pivot blocks alone
        are common when ``eps`` is small against ``H`` and need not spoil
        the answer, so they are not reported unless the backward error is.

    Notes
    -----
    Inputs are converted to float64 (float32 included: the answer is that of
    the float64 problem with the same values, judged by float64
    tolerances); nothing the caller passed is modified.
    """
    check_network(net)
    theta = net.check_params(theta)
    X, targets = net.check_batch(X, targets)
    v = check_vectors("v", v, net.n_params)
    eps = check_eps(eps, allow_zero=True)
    method, refine = _check_method(method), _check_refine(refine)
    x, info = _solve(net.linearize(theta, X, targets), v, eps, 3, method, refine)
    return (x, info) if return_info else x


def _check_linearization(lin):
    """Raise TypeError unless `lin` is a :class:`Linearization`."""
    if not isinstance(lin, Linearization):
        raise TypeError(
            f"lin: expected a Linearization (from MLP.linearize), got "
            f"{type(lin).__name__}"
        )


def _symmetric_rows(block, p_l, a_l):
    """Rows ``x, y, w`` of one block row of ``K'`` as ``x, -w, -y``."""
    x, y, w = block[:p_l], block[p_l:p_l + a_l], block[p_l + a_l:]
    return np.concatenate([x, -w, -y])


def symmetric_augmented_system(lin, eps):
    """The symmetric form ``K_s'`` of the pivoted augmented matrix.

    derivation.md section 7: negating the y- and w-rows of ``K`` and listing
    the w-rows before the y-rows makes it symmetric. After the pivot of
    section 5, block row ``l`` comes as the rows ``x_l, -w_l, -y_l`` while
    the unknowns stay ``x_l, y_l, w_l``::

                  y_{l-1}  | x_l      y_l      w_l   | x_{l+1}   w_{l+1}
        x-row l:   R_l     | Q_l+eps   .       J_l^T |  .         .
        -w-row l:   .      |  .       S_{l+1}  -I    | R_{l+1}^T G_{l+1}^T
        -y-row l:  G_l     | J_l      -I        .    |  .         .

    Parameters
    ----------
    lin : Linearization
    eps : float
        Damping added to the parameter-parameter block, ``eps > 0``.

    Returns
    -------
    BlockTridiagonal
        ``L`` diagonal blocks of sizes ``p_l + 2 a_l``, the same band as
        :func:`augmented_system`; exactly symmetric (``lower[k]`` equals
        ``upper[k].T`` and every diagonal block its transpose, bit for bit).

    Raises
    ------
    TypeError
        If `lin` is not a Linearization or `eps` not a real number.
    ValueError
        If ``eps <= 0`` or is not finite.

    Notes
    -----
    Built from the blocks of :func:`augmented_system` by the row transform of
    each block row, never from a dense ``K``. Moving and negating rows is
    exact; the only other change is that ``Q_l`` and ``S_{l+1}``, which the
    layers compute as products like ``T^T (Lambda T)`` and so are symmetric
    only to rounding, are replaced by the mirror image of their upper
    triangle. Up to that rounding ``K_s' = blockdiag(Sigma_l) K'``, with
    ``Sigma_l`` the signed row permutation of layer ``l``, so the pivot
    blocks of ``K_s'`` are the ``Sigma_l U_l``: block elimination meets a
    singular pivot block for ``K_s'`` exactly when it does for ``K'``, and
    ``det K_s' = (-1)^A det K'`` with ``A = a_1 + ... + a_L``.
    """
    _check_linearization(lin)
    Kp = augmented_system(lin, eps)
    p, a = lin.p, lin.a[1:]

    diagonal = []
    for l, D in enumerate(Kp.diagonal):
        D = _symmetric_rows(D, p[l], a[l])
        # the lower triangle of Q_l and S_{l+1} differs from the upper one by
        # rounding; every other entry already equals its mirror exactly
        diagonal.append(np.triu(D) + np.triu(D, 1).T)
    # block (l, l-1) holds the rows of layer l, block (l-1, l) those of l-1
    lower = [_symmetric_rows(E, p[k + 1], a[k + 1]) for k, E in enumerate(Kp.lower)]
    upper = [_symmetric_rows(F, p[k], a[k]) for k, F in enumerate(Kp.upper)]
    return BlockTridiagonal(diagonal, lower, upper)


def damped_hessian_slogdet(lin, eps):
    """Sign and log absolute determinant of ``H + eps I``, in linear time.

    Parameters
    ----------
    lin : Linearization
    eps : float
        Damping, ``eps > 0``.

    Returns
    -------
    sign : float
        ``1.0`` or ``-1.0``, the sign of ``det(H + eps I)``.
    logabsdet : float
        ``log |det(H + eps I)|``.

    Raises
    ------
    TypeError, ValueError
        If `lin` is not a Linearization, or `eps` is not a finite number
        ``> 0``.
    SingularBlockError
        If a pivot block of the elimination has an exactly zero pivot, the
        elimination overflows, or it breaks down (see Notes); the message
        names the layer. This can happen while ``H + eps I`` is
        nonsingular (derivation.md section 6).

    Warns
    -----
    scipy.linalg.LinAlgWarning
        When the probe solve (see Notes) leaves a backward error on ``K'``
        above ``BACKWARD_ERROR_FACTOR * N * eps_mach``, as
        :func:`hessian_inverse_product` warns.

    Notes
    -----
    derivation.md section 7: ``det K' = det K = det(H + eps I)``, sign
    included, because ``Pi`` enters twice and the Schur complement of ``K``
    onto ``x`` is ``H + eps I`` while the eliminated block has determinant
    ``det M det M^T = 1``. So the result is
    ``BlockLUFactorization.slogdet`` of the factored ``K'``: the sum of
    ``log |det U_l|`` over the ``L`` pivot blocks, and the product of
    their signs. Its error is about ``N cond(K')`` times the backward error
    of the elimination, ``N`` the order of ``K'``.

    A nearly singular pivot block spoils the later ones, and with them the
    determinant, without any pivot being zero. So the factorization is
    judged as :func:`hessian_inverse_product` judges its solves: one solve
    with a fixed pseudo-random right-hand side, whose backward error on
    ``K'`` above ``BREAKDOWN_BACKWARD_ERROR`` refuses the result and above
    ``BACKWARD_ERROR_FACTOR * N * eps_mach`` warns. That costs one more
    block sweep, still linear in the depth.
    """
    _check_linearization(lin)
    eps = check_eps(eps)
    system = _FactoredSystem(lin, eps)
    _probe_elimination(system.Kp, system.factorization, stacklevel=3)
    # derivation.md section 7: det K' = det(H + eps I) = prod_l det U_l
    return system.factorization.slogdet()


def damped_hessian_inertia(lin, eps):
    """Numbers of negative, zero and positive eigenvalues of ``H + eps I``.

    Parameters
    ----------
    lin : Linearization
    eps : float
        Damping, ``eps > 0``.

    Returns
    -------
    n_negative, n_zero, n_positive : int
        Eigenvalue counts of ``H + eps I``; they sum to ``P``. ``H + eps I``
        is positive definite exactly when ``n_negative == n_zero == 0``.

    Raises
    ------
    TypeError, ValueError
        If `lin` is not a Linearization, or `eps` is not a finite number
        ``> 0``.
    SingularBlockError
        If a pivot block of the elimination has an exactly zero pivot, the
        elimination overflows or breaks down (as in
        :func:`damped_hessian_slogdet`, judged on ``K_s'``), naming the
        layer (derivation.md section 6); or if the counts contradict the
        structure (fewer than ``A`` negative or positive eigenvalues of
        ``K_s'``), which only a broken-down elimination can produce.

    Warns
    -----
    scipy.linalg.LinAlgWarning
        When the probe solve leaves a backward error on ``K_s'`` above
        ``BACKWARD_ERROR_FACTOR * N * eps_mach``, as in
        :func:`damped_hessian_slogdet`; and, once, when pivot blocks have
        eigenvalues too close to zero for their signs to be trusted
        (``BlockLUFactorization.inertia``), naming the layers.

    Notes
    -----
    derivation.md section 7: the symmetric form ``K_s'``
    (:func:`symmetric_augmented_system`) has exactly ``A = a_1 + ... + a_L``
    more negative eigenvalues than ``H + eps I``, and as many more positive
    ones. Its block on ``(y, w)``, ``[[Sh^T S Sh, -M^T], [-M, 0]]``, is
    nonsingular with ``A`` eigenvalues of each sign (``M`` is invertible and
    the ``w``-block is zero), and its Schur complement onto ``x`` is
    ``H + eps I``; the inertia of the whole is the sum of the two
    (Haynsworth). The inertia of ``K_s'`` itself comes from its block
    ``L D L^T`` factorization (``BlockLUFactorization.inertia``), one
    symmetric eigenvalue problem per layer.

    An eigenvalue counts as zero when it is below rounding of its pivot
    block (``BlockLUFactorization.inertia``); with ``eps > 0`` a nonzero
    ``n_zero`` says that the sign of an eigenvalue could not be decided at
    working precision, more often because a pivot block is poorly
    conditioned than because ``H + eps I`` is singular. As for the
    determinant, a nearly singular pivot block spoils the later ones, so
    the elimination is judged by the backward error of one probe solve on
    ``K_s'`` before its counts are used. That check passes when pivot blocks
    merely grow large (deep linear networks at large gain), yet their small
    eigenvalues then sit within rounding of zero and a count can be off:
    the warning above says so, and a dense ``numpy.linalg.eigvalsh``
    settles such a case when it is small enough.
    """
    _check_linearization(lin)
    eps = check_eps(eps)
    Ks = symmetric_augmented_system(lin, eps)
    factorization = _factor_naming_layers(Ks, len(lin.p))
    _probe_elimination(Ks, factorization, stacklevel=3)
    (n_negative, n_zero, n_positive), doubtful = factorization._inertia()

    # derivation.md section 7: K_s' has A more eigenvalues of each sign
    A = sum(lin.a[1:])
    if n_negative < A or n_positive < A:
        raise SingularBlockError(
            f"the block elimination of K_s' broke down: it found "
            f"{n_negative} negative and {n_positive} positive eigenvalues, "
            f"but K_s' has at least A = {A} of each; a slightly different "
            f"eps avoids this (derivation.md section 6)",
            len(lin.p) - 1,
            0,
        )
    if doubtful:
        layers = {k + 1: n for k, n in doubtful.items()}
        warnings.warn(
            _doubt_message(layers, "count per layer") + "; a dense "
            "numpy.linalg.eigvalsh of H + eps I settles a small case",
            LinAlgWarning,
            stacklevel=2,
        )
    return n_negative - A, n_zero, n_positive - A
