"""Block-tridiagonal matrices and their block LU (block Thomas) factorization.

A general linear-algebra module: nothing here knows about neural networks.
Elsewhere in hessian_ref the matrix is the pivoted augmented system ``K'`` of
derivation.md section 5, but every routine below takes plain blocks.

Conventions, stated once:

- Blocks are numbered from 0 in code and in every message. derivation.md section 6
  numbers them from 1; its ``D_l``, ``E_l``, ``F_l``, ``U_l`` are this
  module's ``D_{l-1}``, ``E_{l-1}``, ``F_{l-1}``, ``U_{l-1}``.
- ``D_k = diagonal[k]`` is block ``(k, k)``, ``E_k = lower[k - 1]`` is block
  ``(k, k - 1)`` and ``F_k = upper[k]`` is block ``(k, k + 1)``.
- Shapes are rows x columns. Block ``k`` covers the indices
  ``offsets[k]:offsets[k + 1]`` of both the unknowns and the equations.
- Everything is stored and computed in float64; complex input is rejected.

Two factorizations are offered. ``BlockTridiagonal.factor`` is block
elimination (derivation.md section 6), pivoting inside each block only.
``BlockTridiagonal.factor_banded`` is LAPACK's banded LU, pivoting across
the whole band, for matrices whose pivot blocks ``U_k`` are singular.
"""

import operator
import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import LinAlgWarning, lapack

from ._checks import check_finite, check_real_array, check_vectors

__all__ = [
    "INERTIA_DOUBT_FACTOR",
    "RCOND_SINGULAR",
    "RCOND_WARN",
    "BandedLUFactorization",
    "BlockLUFactorization",
    "BlockTridiagonal",
    "SingularBlockError",
    "SingularMatrixError",
]

#: The values of ``BlockTridiagonal.solve``'s ``method``.
_SOLVE_METHODS = ("block", "banded")

_EPS = float(np.finfo(np.float64).eps)

#: A pivot block whose estimated reciprocal 1-norm condition number is below
#: this value (machine epsilon, about 2.2e-16) is treated as singular.
RCOND_SINGULAR = _EPS

#: A pivot block whose estimated reciprocal condition number is below this
#: value (sqrt(eps), about 1.5e-8) triggers a ``LinAlgWarning``: the solve may
#: then lose more than half of the float64 digits.
RCOND_WARN = float(np.sqrt(_EPS))

#: ``BlockLUFactorization.inertia`` warns when a pivot block has an
#: eigenvalue within this multiple of its zero tolerance
#: (``m_k eps_mach max |lambda(U_k)|``): its sign is then within the rounding
#: of the elimination that formed the block.
INERTIA_DOUBT_FACTOR = 1e3


class SingularBlockError(np.linalg.LinAlgError):
    """A pivot block ``U_k`` of the block elimination is singular.

    Raised when LAPACK ``dgetrf`` meets an exactly zero pivot, or when the
    estimated reciprocal condition number of ``U_k`` is below
    ``RCOND_SINGULAR``. The whole matrix may still be nonsingular: the
    elimination pivots only inside each block (derivation.md section 6).

    Parameters
    ----------
    message : str
        The error message.
    block : int
        0-based index ``k`` of the singular pivot block ``U_k``.
    position : int
        0-based position, on the diagonal of the block's LU factor, of the
        zero pivot (or of the smallest pivot when the block is only
        numerically singular).
    rcond : float or None, optional
        The reciprocal condition estimate, when it was the reason.

    Attributes
    ----------
    block : int
        As above.
    position : int
        As above.
    rcond : float or None
        As above.
    """

    def __init__(self, message, block, position, rcond=None):
        super().__init__(message)
        self.block = block
        self.position = position
        self.rcond = rcond


class SingularMatrixError(np.linalg.LinAlgError):
    """The whole matrix is singular to working precision (banded LU).

    Raised by ``BlockTridiagonal.factor_banded`` when LAPACK ``dgbtrf``
    leaves an exactly zero diagonal entry ``U(i, i)`` in its upper factor,
    or when the estimated reciprocal 1-norm condition number of the matrix
    is below the caller's threshold (by default ``RCOND_SINGULAR``). Unlike
    ``SingularBlockError`` this is a property of the matrix, not of the
    block elimination: the banded LU pivots across blocks.

    Parameters
    ----------
    message : str
        The error message.
    row : int
        0-based index ``i`` of the zero ``U(i, i)``, or of the smallest
        ``|U(i, i)|`` when the matrix is only numerically singular: row
        ``i`` of ``U``, reached at elimination step ``i``, which for a zero
        found no nonzero pivot in column ``i`` of ``A`` below the rows
        already used.
    block : int
        0-based index of the block whose index range ``o_k:o_{k+1}`` holds
        ``row``.
    rcond : float or None, optional
        The reciprocal condition estimate, when it was the reason.

    Attributes
    ----------
    row : int
        As above.
    block : int
        As above.
    rcond : float or None
        As above.
    """

    def __init__(self, message, row, block, rcond=None):
        super().__init__(message)
        self.row = row
        self.block = block
        self.rcond = rcond


def _check_lapack_info(info, routine, block):
    """Map LAPACK's ``info`` of ``routine`` on pivot block ``block`` to errors."""
    if info < 0:
        raise RuntimeError(
            f"internal error: LAPACK {routine} rejected its argument number "
            f"{-info} as illegal (pivot block {block}); this is a bug in "
            f"hessian_ref, not a property of the matrix"
        )
    if info > 0 and routine == "dgetrf":
        # getrf: info = i (1-based) means the i-th diagonal entry of the
        # LU factor is exactly zero.
        position = info - 1
        raise SingularBlockError(
            f"pivot block U_{block} (block index {block}, 0-based) is "
            f"exactly singular: dgetrf found a zero pivot at position "
            f"{position} (0-based) of the block's LU factor. The whole "
            f"matrix may still be nonsingular, since the elimination only "
            f"pivots inside each block",
            block=block,
            position=position,
        )
    if info > 0:
        raise np.linalg.LinAlgError(
            f"LAPACK {routine} returned info = {info} on pivot block {block} "
            f"(0-based)"
        )


def _block_of_row(offsets, row):
    """0-based index of the block whose index range holds ``row``."""
    return int(np.searchsorted(offsets, row, side="right")) - 1


def _check_band_info(info, routine, offsets):
    """Map LAPACK's ``info`` of band routine ``routine`` to errors."""
    if info < 0:
        raise RuntimeError(
            f"internal error: LAPACK {routine} rejected its argument number "
            f"{-info} as illegal (banded LU of the whole matrix); this is a "
            f"bug in hessian_ref, not a property of the matrix"
        )
    if info > 0 and routine == "dgbtrf":
        # gbtrf: info = i (1-based) means U(i, i) is exactly zero; the
        # factorization is complete, but a solve would divide by it.
        row = info - 1
        block = _block_of_row(offsets, row)
        raise SingularMatrixError(
            f"the matrix is exactly singular: dgbtrf found U({row}, {row}) = 0 "
            f"in the banded LU with partial pivoting, at row {row} (0-based), "
            f"in block {block} (0-based, rows {offsets[block]}:"
            f"{offsets[block + 1]})",
            row=row,
            block=block,
        )
    if info > 0:
        raise np.linalg.LinAlgError(
            f"LAPACK {routine} returned info = {info} on the banded LU of the "
            f"whole matrix"
        )


def _check_singular_rcond(singular_rcond):
    """``singular_rcond`` as a float in ``[0, 1)``, or ValueError."""
    singular_rcond = float(singular_rcond)
    if not 0 <= singular_rcond < 1:
        raise ValueError(
            f"singular_rcond: expected a number in [0, 1), got {singular_rcond}"
        )
    return singular_rcond


def _check_bandwidth(value, name):
    """A bandwidth as a non-negative int; TypeError or ValueError naming it."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a non-negative integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name}: expected a non-negative integer, got {value!r}"
        ) from None
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value}")
    return value


def _read_only(array):
    """Mark ``array`` read-only and return it."""
    array.flags.writeable = False
    return array


def _block_list(blocks, name):
    """Turn the user's sequence of blocks into a list, or raise TypeError."""
    if isinstance(blocks, np.ndarray) and blocks.ndim == 2:
        raise TypeError(
            f"{name}: expected a sequence of 2-D blocks, got a single 2-D "
            f"array of shape {blocks.shape}; wrap it in a list"
        )
    try:
        return list(blocks)
    except TypeError:
        raise TypeError(
            f"{name}: expected a sequence of 2-D blocks, got "
            f"{type(blocks).__name__}"
        ) from None


def _read_block(block, name, expected_shape=None, fits=""):
    """One block as a new, read-only, finite float64 array of the right shape.

    `fits` says where `expected_shape` comes from; it ends the message when
    the shape is wrong.
    """
    try:
        array = check_real_array(name, block)
    except ValueError as exc:
        # np.asarray fails on ragged nested lists without naming the block.
        raise ValueError(
            f"{name}: expected a 2-D array, got a sequence NumPy cannot convert "
            f"({exc})"
        ) from None
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {array.shape}")
    if expected_shape is not None and array.shape != expected_shape:
        raise ValueError(
            f"{name}: expected shape {expected_shape}, got {array.shape}{fits}"
        )
    check_finite(name, array)
    # check_real_array returned a new array: no reference to the user's data.
    return _read_only(np.ascontiguousarray(array))


def _chain(name, row, column, sizes):
    """Why the off-diagonal block `name` must have the shape it must."""
    return (
        f"; the blocks do not chain: {name} sits in the rows of diagonal[{row}] "
        f"({sizes[row]} x {sizes[row]}) and the columns of diagonal[{column}] "
        f"({sizes[column]} x {sizes[column]})"
    )


def _lu_solve(factor, rhs, block):
    """Apply ``U_block^{-1}`` to ``rhs`` through its LU factors (dgetrs)."""
    lu, piv = factor
    x, info = lapack.dgetrs(lu, piv, rhs)
    _check_lapack_info(info, "dgetrs", block)
    return x


def _factor_pivot_block(schur, block, singular_rcond):
    """LU-factor one pivot block with dgetrf and estimate its rcond (dgecon)."""
    if not np.isfinite(schur).all():
        raise np.linalg.LinAlgError(
            f"pivot block U_{block} (0-based) has non-finite entries: the "
            f"elimination overflowed"
        )
    # dgecon needs the 1-norm of the block itself, taken before factoring.
    anorm = lapack.dlange("1", schur)
    lu, piv, info = lapack.dgetrf(schur)
    _check_lapack_info(info, "dgetrf", block)
    rcond, info = lapack.dgecon(lu, anorm, "1")
    _check_lapack_info(info, "dgecon", block)
    rcond = float(rcond)
    if rcond < singular_rcond:
        position = int(np.argmin(np.abs(np.diag(lu))))
        raise SingularBlockError(
            f"pivot block U_{block} (block index {block}, 0-based) is "
            f"numerically singular: its reciprocal condition estimate "
            f"rcond = {rcond:.3e} is below {singular_rcond:.3e}; "
            f"its smallest pivot is at position {position} (0-based) of the "
            f"block's LU factor",
            block=block,
            position=position,
            rcond=rcond,
        )
    return _read_only(lu), _read_only(piv), rcond


def _block_lu(diagonal, lower, upper, singular_rcond):
    """Block elimination sweep: the pivot blocks U_k, their LU factors, rconds."""
    pivot_blocks, factors, rconds = [], [], []

    for k, d in enumerate(diagonal):
        # derivation.md section 6: U_0 = D_0, U_k = D_k - E_k U_{k-1}^{-1} F_{k-1}.
        if k == 0:
            schur = d.copy()
        else:
            coupling = _lu_solve(factors[k - 1], upper[k - 1], k - 1)
            # An overflow is caught by _factor_pivot_block as an error, so
            # NumPy's own floating-point warning would only repeat it.
            with np.errstate(over="ignore", invalid="ignore"):
                schur = d - lower[k - 1] @ coupling
        lu, piv, rcond = _factor_pivot_block(schur, k, singular_rcond)
        pivot_blocks.append(_read_only(schur))
        factors.append((lu, piv))
        rconds.append(rcond)

    return tuple(pivot_blocks), tuple(factors), tuple(rconds)


def _block_thomas_solve(lower, upper, factors, offsets, rhs):
    """Forward and backward block sweeps for a 2-D float64 ``rhs``."""
    n = len(factors)
    rows = [slice(offsets[k], offsets[k + 1]) for k in range(n)]

    # derivation.md section 6, forward: f_0 = r_0, f_k = r_k - E_k U_{k-1}^{-1} f_{k-1}.
    f = [rhs[rows[0]]]
    for k in range(1, n):
        coupling = _lu_solve(factors[k - 1], f[k - 1], k - 1)
        f.append(rhs[rows[k]] - lower[k - 1] @ coupling)

    # Backward: s_{n-1} = U_{n-1}^{-1} f_{n-1}, s_k = U_k^{-1} (f_k - F_k s_{k+1}).
    s = np.empty_like(rhs)
    s[rows[n - 1]] = _lu_solve(factors[n - 1], f[n - 1], n - 1)
    for k in range(n - 2, -1, -1):
        s[rows[k]] = _lu_solve(factors[k], f[k] - upper[k] @ s[rows[k + 1]], k)

    return s


def _lu_slogdet(lu, piv):
    """``(sign, log|det|)`` of one block from its ``dgetrf`` factors."""
    # det = (-1)^(row interchanges) * prod(diag(lu)); piv[i] != i is one swap.
    pivots = np.diag(lu)
    swaps = np.count_nonzero(piv != np.arange(piv.size))
    sign = (-1.0) ** swaps * np.prod(np.sign(pivots))
    return float(sign), float(np.sum(np.log(np.abs(pivots))))


def _placed_blocks(matrix):
    """Each stored block with the row and column of its top-left entry."""
    o = matrix.offsets
    placed = [(d, o[k], o[k]) for k, d in enumerate(matrix.diagonal)]
    placed += [(e, o[k + 1], o[k]) for k, e in enumerate(matrix.lower)]
    placed += [(f, o[k], o[k + 1]) for k, f in enumerate(matrix.upper)]
    return placed


def _fill_band(matrix, kl, ku):
    """LAPACK general band storage of ``matrix``; entries outside the band
    (which the caller has checked are zero) are left out."""
    n_rows = matrix.shape[0]
    ab = np.zeros((2 * kl + ku + 1, n_rows), order="F")
    for block, r0, c0 in _placed_blocks(matrix):
        p, q = block.shape
        # A[i, j] goes to ab[kl + ku + i - j, j]; d = i - j per entry.
        d = (r0 - c0) + np.arange(p)[:, np.newaxis] - np.arange(q)
        columns = np.broadcast_to(c0 + np.arange(q), (p, q))
        inside = (d <= kl) & (d >= -ku)
        ab[kl + ku + d[inside], columns[inside]] = block[inside]
    return ab


def _one_norm(matrix):
    """``||A||_1``, the largest absolute column sum, from the blocks."""
    n = matrix.n_blocks
    norm = 0.0
    for k in range(n):
        column_sums = np.abs(matrix.diagonal[k]).sum(axis=0)
        if k > 0:
            column_sums += np.abs(matrix.upper[k - 1]).sum(axis=0)
        if k < n - 1:
            column_sums += np.abs(matrix.lower[k]).sum(axis=0)
        norm = max(norm, float(column_sums.max()))
    return norm


def _band_lu(ab, kl, ku, anorm, offsets, singular_rcond):
    """Banded LU in place (dgbtrf) and its rcond estimate (dgbcon)."""
    lu, piv, info = lapack.dgbtrf(ab, kl, ku, overwrite_ab=True)
    _check_band_info(info, "dgbtrf", offsets)
    if not np.isfinite(lu).all():
        raise np.linalg.LinAlgError(
            "the banded LU factor has non-finite entries: the elimination "
            "overflowed"
        )

    rcond, info = lapack.dgbcon(kl, ku, lu, piv, anorm, "1")
    _check_band_info(info, "dgbcon", offsets)
    rcond = float(rcond)
    if rcond < singular_rcond:
        row = int(np.argmin(np.abs(lu[kl + ku])))
        block = _block_of_row(offsets, row)
        raise SingularMatrixError(
            f"the matrix is numerically singular: its reciprocal condition "
            f"estimate rcond = {rcond:.3e} is below {singular_rcond:.3e}; the "
            f"smallest pivot |U(i, i)| of the banded LU is at row {row} "
            f"(0-based), in block {block} (0-based, rows {offsets[block]}:"
            f"{offsets[block + 1]})",
            row=row,
            block=block,
            rcond=rcond,
        )
    return _read_only(lu), _read_only(piv), rcond


def _asymmetry(matrix):
    """Largest ``|A_ij - A_ji|``, blockwise, and the block pair holding it."""
    pairs = [((k, k), d, d) for k, d in enumerate(matrix.diagonal)]
    pairs += [
        ((k + 1, k), e, f) for k, (e, f) in enumerate(zip(matrix.lower, matrix.upper))
    ]
    worst, where = 0.0, None
    for pair, block, mirror in pairs:
        # an overflowing difference is an asymmetry as well; inf reports it
        with np.errstate(over="ignore"):
            gap = float(np.abs(block - mirror.T).max())
        if gap > worst:
            worst, where = gap, pair
    return worst, where


def _max_abs(matrix):
    """``max |A_ij|`` from the blocks."""
    blocks = matrix.diagonal + matrix.lower + matrix.upper
    return max(float(np.abs(b).max()) for b in blocks)


def _doubt_message(doubtful, legend):
    """The warning of an inertia whose counts may be off; `doubtful` maps a
    block label to its number of doubtful eigenvalues, `legend` names both."""
    return (
        f"inertia counts may be off: {sum(doubtful.values())} eigenvalue(s) of "
        f"the pivot blocks lie within {INERTIA_DOUBT_FACTOR:g} m_k eps_mach "
        f"max|lambda(U_k)| of zero, inside the rounding of the elimination "
        f"({legend}: {doubtful})"
    )


def _as_operand(value, n_rows, name):
    """A finite (N,) or (N, k) operand as a 2-D float64 array, and its ndim."""
    array = check_vectors(name, value, n_rows)
    if array.ndim == 1:
        return array[:, np.newaxis], 1
    return array, 2


class BlockTridiagonal:
    """A real square matrix with nonzero blocks only on three block diagonals.

    The matrix has ``n`` block rows and columns; block ``k`` has size ``m_k``
    (sizes may differ) and covers the indices ``o_k:o_{k+1}`` of both the rows
    and the columns, with ``o = offsets``. For ``n = 4``::

                       cols o_0:o_1   o_1:o_2   o_2:o_3   o_3:o_4
          rows o_0:o_1   [  D_0       F_0                          ]
          rows o_1:o_2   [  E_1       D_1       F_1                ]
          rows o_2:o_3   [            E_2       D_2       F_2      ]
          rows o_3:o_4   [                      E_3       D_3      ]

          diagonal = (D_0, D_1, D_2, D_3)   D_k = diagonal[k]     (m_k, m_k)
          lower    = (E_1, E_2, E_3)        E_k = lower[k - 1]    (m_k, m_{k-1})
          upper    = (F_0, F_1, F_2)        F_k = upper[k]        (m_k, m_{k+1})
          offsets  = (o_0, ..., o_4) = (0, m_0, m_0 + m_1, ..., N)

    The unknowns are ordered block by block: ``x = (x_0, ..., x_{n-1})`` with
    ``x_k = x[o_k:o_{k+1}]``, the same ordering as the equations. In
    hessian_ref this is the order left by the pivot of derivation.md section 5
    (block ``k`` holds the x-, y- and w-unknowns of layer ``k + 1``), but the
    class does not depend on it.

    Parameters
    ----------
    diagonal : sequence of n (m_k, m_k) array_like
        The diagonal blocks ``D_0, ..., D_{n-1}``; ``n >= 1``, ``m_k >= 1``.
    lower : sequence of n - 1 (m_{k+1}, m_k) array_like
        ``lower[k] = E_{k+1}``, the block in block row ``k + 1``, block
        column ``k``. Empty when ``n = 1``.
    upper : sequence of n - 1 (m_k, m_{k+1}) array_like
        ``upper[k] = F_k``, the block in block row ``k``, block column
        ``k + 1``. Empty when ``n = 1``.

    Attributes
    ----------
    sizes : tuple of int
        ``(m_0, ..., m_{n-1})``.
    offsets : tuple of int
        The ``n + 1`` starting indices ``(0, m_0, m_0 + m_1, ..., N)``.
    shape : tuple of int
        ``(N, N)`` with ``N = sum(sizes)``.
    n_blocks : int
        ``n``.
    dtype : numpy.dtype
        Always float64.
    diagonal, lower, upper : tuple of ndarray
        Read-only float64 copies of the blocks.

    Raises
    ------
    ValueError
        If a list has the wrong length, a block is not 2-D, has an
        inconsistent or zero size, or holds NaN or inf.
    TypeError
        If a block has a complex, float16 or non-numeric dtype, or a list is not a
        sequence.

    Notes
    -----
    The inputs are copied and stored as float64; later changes to the user's
    arrays do not reach the matrix, and the matrix never writes to them.

    ``factor`` performs block elimination (the block Thomas algorithm,
    derivation.md section 6). It pivots only inside each block, so it needs every
    Schur complement ``U_k`` to be nonsingular; that can fail while the
    whole matrix is nonsingular (for instance ``[[0, 1], [1, 0]]`` as two
    1 x 1 blocks). It then raises ``SingularBlockError``.
    ``factor_banded`` is the alternative: a banded LU with partial pivoting
    across blocks (LAPACK ``dgbtrf``/``dgbtrs``), which needs only the whole
    matrix to be nonsingular; ``solve(b, method="banded")`` uses it. Both
    cost time and memory linear in the number of blocks.

    Examples
    --------
    >>> import numpy as np
    >>> A = BlockTridiagonal([[[2.0]], [[3.0]]], [[[4.0]]], [[[1.0]]])
    >>> A.to_dense()
    array([[2., 1.],
           [4., 3.]])
    >>> A.solve(np.array([4.0, 10.0]))
    array([1., 2.])
    """

    def __init__(self, diagonal, lower, upper):
        diagonal = _block_list(diagonal, "diagonal")
        lower = _block_list(lower, "lower")
        upper = _block_list(upper, "upper")
        n = len(diagonal)
        if n == 0:
            raise ValueError("diagonal: expected at least one block, got 0")
        for name, blocks in (("lower", lower), ("upper", upper)):
            if len(blocks) != n - 1:
                raise ValueError(
                    f"{name}: expected len(diagonal) - 1 = {n - 1} blocks, got "
                    f"{len(blocks)}"
                )

        diagonal = [_read_block(d, f"diagonal[{k}]") for k, d in enumerate(diagonal)]
        for k, d in enumerate(diagonal):
            if d.shape[0] != d.shape[1]:
                raise ValueError(
                    f"diagonal[{k}]: expected a square block, got shape {d.shape}"
                )
            if d.shape[0] == 0:
                raise ValueError(
                    f"diagonal[{k}]: expected a block of size >= 1, got shape "
                    f"{d.shape} (zero-size blocks are not supported)"
                )
        sizes = tuple(int(d.shape[0]) for d in diagonal)
        lower = [
            _read_block(e, f"lower[{k}]", (sizes[k + 1], sizes[k]),
                        _chain(f"lower[{k}]", k + 1, k, sizes))
            for k, e in enumerate(lower)
        ]
        upper = [
            _read_block(f, f"upper[{k}]", (sizes[k], sizes[k + 1]),
                        _chain(f"upper[{k}]", k, k + 1, sizes))
            for k, f in enumerate(upper)
        ]

        self._diagonal = tuple(diagonal)
        self._lower = tuple(lower)
        self._upper = tuple(upper)
        self._sizes = sizes
        self._offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)]))

    @classmethod
    def _from_owned_blocks(cls, diagonal, lower, upper):
        """A matrix of blocks the library has just built and owns: float64,
        finite, of chaining shapes. They are made read-only and kept without
        the copies and checks of the constructor, which cost more than the
        LAPACK work on small blocks."""
        matrix = cls.__new__(cls)
        for blocks in (diagonal, lower, upper):
            for block in blocks:
                block.flags.writeable = False
        matrix._diagonal = tuple(diagonal)
        matrix._lower = tuple(lower)
        matrix._upper = tuple(upper)
        matrix._sizes = tuple(int(d.shape[0]) for d in diagonal)
        matrix._offsets = tuple(
            int(o) for o in np.concatenate([[0], np.cumsum(matrix._sizes)]))
        return matrix

    @classmethod
    def from_dense(cls, A, sizes, check_band=True):
        """Cut a dense matrix into blocks of the given sizes.

        Parameters
        ----------
        A : (N, N) array_like
            Real, finite matrix.
        sizes : sequence of int
            Positive block sizes ``m_0, ..., m_{n-1}`` with sum ``N``.
        check_band : bool, optional
            If True (default), require every entry outside the three block
            diagonals to be exactly zero. If False, such entries are ignored.

        Returns
        -------
        BlockTridiagonal
            The matrix made of the diagonal, sub- and superdiagonal blocks.

        Raises
        ------
        ValueError
            If ``A`` is not square and finite, ``sizes`` do not sum to ``N``
            or hold a non-positive size, or (with ``check_band``) an entry
            outside the band is nonzero; the message names the first such
            block pair ``(i, j)`` in row-major order.
        TypeError
            If ``A`` is complex or non-numeric.
        """
        A = check_real_array("A", A)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A: expected a square 2-D array, got shape {A.shape}")
        check_finite("A", A)
        try:
            sizes = tuple(operator.index(m) for m in sizes)
        except TypeError:
            raise TypeError(
                f"sizes: expected a sequence of integers, got {sizes!r}"
            ) from None
        if len(sizes) == 0 or min(sizes) < 1 or sum(sizes) != A.shape[0]:
            raise ValueError(
                f"sizes: expected positive integers summing to N = {A.shape[0]}, "
                f"got {sizes} (sum {sum(sizes)})"
            )
        o = np.concatenate([[0], np.cumsum(sizes)])
        n = len(sizes)

        if check_band:
            for i in range(n):
                rows = A[o[i]:o[i + 1]]
                outside = np.zeros(A.shape[1], dtype=bool)
                outside[: o[max(i - 1, 0)]] = True
                outside[o[min(i + 2, n)]:] = True
                columns = np.flatnonzero(outside & (rows != 0).any(axis=0))
                if columns.size:
                    j = int(np.searchsorted(o, columns[0], side="right")) - 1
                    raise ValueError(
                        f"A: expected zeros outside the block-tridiagonal band, "
                        f"got a nonzero entry in block pair ({i}, {j}) (0-based "
                        f"block row, block column) first; pass check_band=False "
                        f"to ignore such entries"
                    )

        rows = [slice(o[k], o[k + 1]) for k in range(n)]
        diagonal = [A[rows[k], rows[k]] for k in range(n)]
        lower = [A[rows[k + 1], rows[k]] for k in range(n - 1)]
        upper = [A[rows[k], rows[k + 1]] for k in range(n - 1)]
        return cls(diagonal, lower, upper)

    @property
    def sizes(self):
        """tuple of int: the block sizes ``(m_0, ..., m_{n-1})``."""
        return self._sizes

    @property
    def offsets(self):
        """tuple of int: the ``n + 1`` block starting indices, ending with N."""
        return self._offsets

    @property
    def shape(self):
        """tuple of int: ``(N, N)``."""
        return (self._offsets[-1], self._offsets[-1])

    @property
    def n_blocks(self):
        """int: the number ``n`` of diagonal blocks."""
        return len(self._sizes)

    @property
    def dtype(self):
        """numpy.dtype: always float64."""
        return np.dtype(np.float64)

    @property
    def diagonal(self):
        """tuple of (m_k, m_k) ndarray: read-only ``D_k``."""
        return self._diagonal

    @property
    def lower(self):
        """tuple of (m_{k+1}, m_k) ndarray: read-only ``lower[k] = E_{k+1}``."""
        return self._lower

    @property
    def upper(self):
        """tuple of (m_k, m_{k+1}) ndarray: read-only ``upper[k] = F_k``."""
        return self._upper

    def __repr__(self):
        return f"BlockTridiagonal(n_blocks={self.n_blocks}, sizes={self.sizes})"

    def to_dense(self):
        """Return the matrix as a dense array.

        Returns
        -------
        (N, N) ndarray
            A new float64 array, zero outside the three block diagonals.
        """
        o = self._offsets
        dense = np.zeros(self.shape)
        for k, d in enumerate(self._diagonal):
            dense[o[k]:o[k + 1], o[k]:o[k + 1]] = d
        for k, (e, f) in enumerate(zip(self._lower, self._upper)):
            dense[o[k + 1]:o[k + 2], o[k]:o[k + 1]] = e
            dense[o[k]:o[k + 1], o[k + 1]:o[k + 2]] = f
        return dense

    def matvec(self, x):
        """Multiply by a vector or a matrix, block by block.

        Parameters
        ----------
        x : (N,) or (N, k) array_like
            Real, finite operand; not modified.

        Returns
        -------
        (N,) or (N, k) ndarray
            ``A @ x`` in float64, of the same shape as ``x``. The dense matrix
            is never formed.

        Raises
        ------
        ValueError
            If ``x`` does not have shape ``(N,)`` or ``(N, k)``, or holds NaN
            or inf.
        TypeError
            If ``x`` is complex or non-numeric.
        """
        x, ndim = _as_operand(x, self.shape[0], "x")
        o = self._offsets

        y = np.empty_like(x)
        for k, d in enumerate(self._diagonal):
            rows = slice(o[k], o[k + 1])
            y[rows] = d @ x[rows]
            if k > 0:
                y[rows] += self._lower[k - 1] @ x[o[k - 1]:o[k]]
            if k < self.n_blocks - 1:
                y[rows] += self._upper[k] @ x[o[k + 1]:o[k + 2]]

        return y[:, 0] if ndim == 1 else y

    def __matmul__(self, x):
        """``A @ x``, the same as ``A.matvec(x)``."""
        return self.matvec(x)

    def factor(self, singular_rcond=RCOND_SINGULAR):
        """Factor the matrix by block elimination (block LU, derivation.md section 6).

        Parameters
        ----------
        singular_rcond : float, optional
            A pivot block whose reciprocal condition estimate is below this
            value is refused as numerically singular. The default is
            ``RCOND_SINGULAR``; ``0`` refuses only exactly zero pivots, for
            callers that judge the solve by its backward error instead (a
            block can have a tiny rcond merely because its rows are scaled
            very differently).

        Returns
        -------
        BlockLUFactorization
            The pivot blocks ``U_k``, their LU factors and condition
            estimates, with a ``solve`` method.

        Raises
        ------
        SingularBlockError
            If a pivot block ``U_k`` has an exactly zero LU pivot, or its
            reciprocal 1-norm condition estimate is below `singular_rcond`
            (by default machine epsilon, about 2.2e-16). The message and the attributes
            ``block`` and ``position`` name the block and pivot (0-based).
        numpy.linalg.LinAlgError
            If the elimination overflows.

        Warns
        -----
        scipy.linalg.LinAlgWarning
            For each pivot block whose reciprocal condition estimate lies
            below ``RCOND_WARN`` (sqrt(eps), about 1.5e-8), naming the block
            and the estimate.

        Notes
        -----
        ``U_0 = D_0`` and ``U_k = D_k - E_k U_{k-1}^{-1} F_{k-1}``. Each
        ``U_k`` is factored by one LAPACK ``dgetrf`` call (partial pivoting
        inside the block only) and applied by ``dgetrs``; its condition is
        estimated by ``dgecon`` from its 1-norm taken before factoring.
        Elimination needs every ``U_k`` nonsingular, which can fail while
        the whole matrix is nonsingular; ``factor_banded`` pivots across
        blocks and does not need it.
        """
        singular_rcond = _check_singular_rcond(singular_rcond)
        return self._factorize(stacklevel=3, singular_rcond=singular_rcond)

    def solve(self, b, method="block"):
        """Solve ``A x = b`` by block elimination or by the banded LU.

        ``method="block"`` is ``self.factor().solve(b)``;
        ``method="banded"`` is ``self.factor_banded().solve(b)``.

        Parameters
        ----------
        b : (N,) or (N, k) array_like
            Real, finite right-hand side(s); not modified.
        method : {"block", "banded"}, optional
            The factorization: ``"block"`` (default), block elimination,
            which needs nonsingular pivot blocks ``U_k``; ``"banded"``, the
            LU with partial pivoting across the whole band, which needs only
            a nonsingular matrix.

        Returns
        -------
        (N,) or (N, k) ndarray
            The solution, of the same shape as ``b``.

        Raises
        ------
        ValueError
            If ``b`` has the wrong shape or non-finite entries, or `method`
            is not one of the allowed values.
        TypeError
            If ``b`` is complex or non-numeric.
        SingularBlockError
            With ``method="block"``, if a pivot block is singular; see
            ``factor``.
        SingularMatrixError
            With ``method="banded"``, if the matrix is singular; see
            ``factor_banded``.

        Warns
        -----
        scipy.linalg.LinAlgWarning
            For an ill-conditioned pivot block (``"block"``, see ``factor``)
            or matrix (``"banded"``, see ``factor_banded``).
        """
        if not isinstance(method, str) or method not in _SOLVE_METHODS:
            allowed = ", ".join(repr(m) for m in _SOLVE_METHODS)
            raise ValueError(f"method: expected one of {allowed}, got {method!r}")
        # Check b before paying for the factorization.
        _as_operand(b, self.shape[0], "b")
        if method == "banded":
            return self._factorize_banded(stacklevel=3).solve(b)
        return self._factorize(stacklevel=3).solve(b)

    def bandwidths(self, tight=False):
        """The scalar lower and upper bandwidths ``(kl, ku)`` of the matrix.

        ``A[i, j]`` can be nonzero only for ``-ku <= i - j <= kl``.

        Parameters
        ----------
        tight : bool, optional
            If False (default), the bandwidths implied by the block sizes
            alone, whatever the entries. If True, the smallest bandwidths
            holding every nonzero entry of the stored blocks: tighter when
            the blocks have zeros at their far corners, and data-dependent.

        Returns
        -------
        kl, ku : int
            Lower and upper bandwidths, ``0 <= kl, ku <= N - 1``.

        Notes
        -----
        From the sizes: the last row of block ``k + 1`` reaches back to the
        first column of block ``k`` (through ``E_{k+1}``), and the first row
        of block ``k`` reaches the last column of block ``k + 1`` (through
        ``F_k``), so::

            kl = ku = max_k (m_k + m_{k+1} - 1),   k = 0, ..., n - 2

        and ``kl = ku = m_0 - 1`` for a single block. With ``tight=True``
        the maxima of ``i - j`` and ``j - i`` over the nonzero entries are
        taken block by block (each at least 0), at a cost linear in the
        number of stored entries.

        Examples
        --------
        Two blocks of sizes 2 and 3, coupled only through ``A[1, 2]``:

        >>> A = BlockTridiagonal([np.eye(2), np.eye(3)], [np.zeros((3, 2))],
        ...                      [[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
        >>> A.bandwidths()
        (4, 4)
        >>> A.bandwidths(tight=True)
        (0, 1)
        """
        if not tight:
            m = self._sizes
            if len(m) == 1:
                return m[0] - 1, m[0] - 1
            width = max(m[k] + m[k + 1] - 1 for k in range(len(m) - 1))
            return width, width

        kl = ku = 0
        for block, r0, c0 in _placed_blocks(self):
            rows, columns = np.nonzero(block)
            if rows.size:
                d = (r0 - c0) + rows - columns
                kl = max(kl, int(d.max()))
                ku = max(ku, int(-d.min()))
        return kl, ku

    def to_banded(self, kl=None, ku=None):
        """The matrix in LAPACK general band storage, with rows for fill-in.

        Built block by block; the dense matrix is never formed.

        Parameters
        ----------
        kl, ku : int or None, optional
            Lower and upper bandwidths of the storage. ``None`` (default)
            takes the value of ``bandwidths()`` (from the block sizes). They
            may be smaller, down to ``bandwidths(tight=True)``, when the
            entries left out are all zero.

        Returns
        -------
        ab : (2 kl + ku + 1, N) ndarray
            A new, Fortran-ordered float64 array with
            ``ab[kl + ku + i - j, j] = A[i, j]`` for
            ``max(0, j - ku) <= i <= min(N - 1, j + kl)``, zero elsewhere:
            the input layout of LAPACK ``dgbtrf``. ``ab[kl:]`` is the
            ``(l, u) = (kl, ku)`` layout of ``scipy.linalg.solve_banded``.

        Raises
        ------
        TypeError
            If `kl` or `ku` is not an integer.
        ValueError
            If `kl` or `ku` is negative, or too small to hold a nonzero
            entry; the message gives the smallest value that would do.

        Notes
        -----
        For ``N = 5``, ``kl = 1``, ``ku = 2`` (``a_ij`` is ``A[i, j]``)::

            ab row    col 0   col 1   col 2   col 3   col 4
              0         .       .       .       +       +     fill-in
              1         .       .      a_02    a_13    a_24   diagonal +2
              2         .      a_01    a_12    a_23    a_34   diagonal +1
              3        a_00    a_11    a_22    a_33    a_44   main diagonal
              4        a_10    a_21    a_32    a_43     .     diagonal -1

        Column ``j`` of ``ab`` holds column ``j`` of ``A``, shifted so that
        the main diagonal lies in row ``kl + ku``. The first ``kl`` rows
        are zero: ``dgbtrf`` writes there the ``kl`` extra superdiagonals of
        ``U`` that row interchanges create. Entries marked ``.`` lie outside
        the matrix and are never read. The array has
        ``(2 kl + ku + 1) N`` entries, linear in ``N`` for fixed bandwidths.
        """
        size_kl, size_ku = self.bandwidths()
        kl = size_kl if kl is None else _check_bandwidth(kl, "kl")
        ku = size_ku if ku is None else _check_bandwidth(ku, "ku")
        if kl < size_kl or ku < size_ku:
            # Narrower than the blocks: only zeros may be left out.
            tight_kl, tight_ku = self.bandwidths(tight=True)
            for name, value, needed in (("kl", kl, tight_kl), ("ku", ku, tight_ku)):
                if value < needed:
                    raise ValueError(
                        f"{name}: expected an integer >= {needed}, the "
                        f"bandwidth of the nonzero entries "
                        f"(bandwidths(tight=True)), got {value}"
                    )
        return _fill_band(self, kl, ku)

    def factor_banded(self, singular_rcond=RCOND_SINGULAR, tight=False):
        """Factor the matrix by a banded LU with partial pivoting (dgbtrf).

        Parameters
        ----------
        singular_rcond : float, optional
            A matrix whose reciprocal 1-norm condition estimate is below
            this value is refused as numerically singular. The default is
            ``RCOND_SINGULAR`` (machine epsilon); ``0`` refuses only an
            exactly zero pivot.
        tight : bool, optional
            If True, use the bandwidths of the nonzero entries,
            ``bandwidths(tight=True)``, instead of those of the block sizes:
            less storage and work when the blocks have zero corners.

        Returns
        -------
        BandedLUFactorization
            The band LU factors, pivots and condition estimate, with
            ``solve`` and ``slogdet`` methods.

        Raises
        ------
        SingularMatrixError
            If ``dgbtrf`` leaves an exactly zero ``U(i, i)``, or the
            reciprocal condition estimate is below `singular_rcond`. The
            message and the attributes ``row`` and ``block`` name the row
            (0-based) of the zero or smallest pivot and its block.
        numpy.linalg.LinAlgError
            If the elimination overflows.
        ValueError
            If `singular_rcond` is not in ``[0, 1)``.

        Warns
        -----
        scipy.linalg.LinAlgWarning
            If the reciprocal condition estimate lies below ``RCOND_WARN``
            (sqrt(eps), about 1.5e-8).

        Notes
        -----
        Block elimination pivots inside each block, so it fails when a
        pivot block ``U_k`` is singular although the matrix is not
        (derivation.md section 6). Here LAPACK ``dgbtrf`` eliminates the
        scalar band ``(kl, ku)`` of ``bandwidths`` column by column, choosing
        each pivot among the ``kl + 1`` rows that can hold a nonzero: the
        partial pivoting of a dense LU, restricted to the band. Row
        interchanges widen ``U`` to ``kl + ku`` superdiagonals, which is why
        ``to_banded`` reserves ``kl`` extra rows.

        The condition estimate comes from ``dgbcon``, given ``||A||_1``
        computed from the blocks before factoring.

        Cost: the storage is ``(2 kl + ku + 1) N`` numbers and the work at
        most about ``2 N kl (kl + ku)`` flops. From the block sizes
        ``kl = ku < 2 max_k m_k``, so both are linear in the number of
        blocks: for ``n`` blocks of size ``m``, about ``6 m N = 6 m^2 n``
        numbers and ``16 m^3 n`` flops, against about ``5 m^3 n`` for block
        elimination, which also runs in larger BLAS calls and is the faster
        of the two in practice. Nothing of size ``N^2`` is allocated.
        """
        singular_rcond = _check_singular_rcond(singular_rcond)
        return self._factorize_banded(
            stacklevel=3, singular_rcond=singular_rcond, tight=tight
        )

    def _factorize_banded(
        self, stacklevel, singular_rcond=RCOND_SINGULAR, tight=False
    ):
        """Run the banded LU kernel and warn about an ill-conditioned matrix."""
        kl, ku = self.bandwidths(tight=bool(tight))
        # dgbcon needs ||A||_1 of the matrix itself, taken before factoring.
        anorm = _one_norm(self)
        ab = _fill_band(self, kl, ku)
        lu, piv, rcond = _band_lu(ab, kl, ku, anorm, self._offsets, singular_rcond)
        if rcond < RCOND_WARN:
            warnings.warn(
                f"the matrix is ill-conditioned: reciprocal condition estimate "
                f"rcond = {rcond:.3e} < sqrt(eps) = {RCOND_WARN:.3e} (banded "
                f"LU); the solution may be inaccurate",
                LinAlgWarning,
                stacklevel=stacklevel,
            )
        return BandedLUFactorization(self, lu, piv, kl, ku, rcond)

    def _factorize(self, stacklevel, singular_rcond=RCOND_SINGULAR):
        """Run the elimination kernel and warn about ill-conditioned blocks."""
        pivot_blocks, factors, rconds = _block_lu(
            self._diagonal, self._lower, self._upper, singular_rcond
        )
        for k, rcond in enumerate(rconds):
            if rcond < RCOND_WARN:
                warnings.warn(
                    f"pivot block U_{k} (block index {k}, 0-based) is "
                    f"ill-conditioned: reciprocal condition estimate "
                    f"rcond = {rcond:.3e} < sqrt(eps) = {RCOND_WARN:.3e}; the "
                    f"solution may be inaccurate",
                    LinAlgWarning,
                    stacklevel=stacklevel,
                )
        return BlockLUFactorization(self, pivot_blocks, factors, rconds)


class _FactorizationOf:
    """What a factorization reports about the matrix it factored.

    Subclasses store that matrix as ``_matrix``.
    """

    @property
    def matrix(self):
        """BlockTridiagonal: the factored matrix."""
        return self._matrix

    @property
    def sizes(self):
        """tuple of int: the block sizes of the factored matrix."""
        return self._matrix.sizes

    @property
    def offsets(self):
        """tuple of int: the block starting indices of the factored matrix."""
        return self._matrix.offsets

    @property
    def shape(self):
        """tuple of int: ``(N, N)``."""
        return self._matrix.shape

    @property
    def n_blocks(self):
        """int: the number of blocks."""
        return self._matrix.n_blocks


class BlockLUFactorization(_FactorizationOf):
    """Block LU factorization of a ``BlockTridiagonal`` matrix.

    Made by ``BlockTridiagonal.factor``; not meant to be built by hand.

    Parameters
    ----------
    matrix : BlockTridiagonal
        The factored matrix.
    pivot_blocks : tuple of (m_k, m_k) ndarray
        The Schur complements ``U_k``.
    lu_factors : tuple of ((m_k, m_k) ndarray, (m_k,) ndarray)
        ``(lu, piv)`` from LAPACK ``dgetrf`` for each ``U_k``.
    rcond : tuple of float
        Reciprocal 1-norm condition estimates of the ``U_k`` (``dgecon``).

    Attributes
    ----------
    matrix : BlockTridiagonal
        The factored matrix.
    pivot_blocks : tuple of (m_k, m_k) ndarray
        Read-only Schur complements ``U_0 = D_0``,
        ``U_k = D_k - E_k U_{k-1}^{-1} F_{k-1}``.
    lu_factors : tuple of ((m_k, m_k) ndarray, (m_k,) int ndarray)
        Read-only ``(lu, piv)`` pairs in the format of
        ``scipy.linalg.lu_factor`` (0-based pivot indices).
    rcond : tuple of float
        Reciprocal condition estimates, one per pivot block.
    sizes, offsets, shape, n_blocks
        Those of ``matrix``.

    Notes
    -----
    With ``L`` the unit block lower-bidiagonal matrix with blocks
    ``L_k = E_k U_{k-1}^{-1}`` below the diagonal, and ``R`` the block
    upper-bidiagonal matrix with ``U_k`` on the diagonal and ``F_k`` above
    it, the factored matrix is ``A = L R`` (derivation.md section 6)::

          [ I              ] [ U_0  F_0          ]
          [ L_1  I         ] [      U_1  F_1     ]
          [      L_2  I    ] [           U_2  F_2]
          [           L_3 I] [                U_3]

    ``L`` is never stored: ``solve`` applies ``E_k U_{k-1}^{-1}`` through
    the LU factors of ``U_{k-1}``.
    """

    def __init__(self, matrix, pivot_blocks, lu_factors, rcond):
        self._matrix = matrix
        self._pivot_blocks = tuple(pivot_blocks)
        self._lu_factors = tuple(lu_factors)
        self._rcond = tuple(float(r) for r in rcond)

    @property
    def pivot_blocks(self):
        """tuple of (m_k, m_k) ndarray: read-only Schur complements ``U_k``."""
        return self._pivot_blocks

    @property
    def lu_factors(self):
        """tuple of (lu, piv) pairs: read-only ``dgetrf`` factors of ``U_k``."""
        return self._lu_factors

    @property
    def rcond(self):
        """tuple of float: reciprocal 1-norm condition estimates of ``U_k``."""
        return self._rcond

    def __repr__(self):
        return (
            f"BlockLUFactorization(n_blocks={self.n_blocks}, sizes={self.sizes})"
        )

    def solve(self, b):
        """Solve ``A x = b`` with the stored factors.

        Parameters
        ----------
        b : (N,) or (N, k) array_like
            Real, finite right-hand side(s); not modified.

        Returns
        -------
        (N,) or (N, k) ndarray
            The solution in float64, of the same shape as ``b``.

        Raises
        ------
        ValueError
            If ``b`` does not have shape ``(N,)`` or ``(N, k)``, or holds NaN
            or inf.
        TypeError
            If ``b`` is complex or non-numeric.

        Notes
        -----
        derivation.md section 6: forward ``f_0 = r_0``,
        ``f_k = r_k - E_k U_{k-1}^{-1} f_{k-1}``; backward
        ``s_{n-1} = U_{n-1}^{-1} f_{n-1}``,
        ``s_k = U_k^{-1} (f_k - F_k s_{k+1})``, with ``r_k`` and ``s_k`` the
        blocks of ``b`` and of the solution.
        """
        rhs, ndim = _as_operand(b, self.shape[0], "b")
        if rhs.shape[1] == 0:
            return np.empty(rhs.shape[:ndim])

        x = _block_thomas_solve(
            self.matrix.lower, self.matrix.upper, self.lu_factors, self.offsets, rhs
        )

        return x[:, 0] if ndim == 1 else x

    def slogdet(self):
        """Sign and log absolute value of the determinant of the factored matrix.

        Returns
        -------
        sign : float
            ``1.0`` or ``-1.0``.
        logabsdet : float
            ``log |det A|``, natural logarithm.

        Notes
        -----
        ``A = L R`` with ``L`` unit block lower-bidiagonal (``det L = 1``)
        and ``R`` block upper-bidiagonal with the pivot blocks ``U_k`` on its
        diagonal, so ``det A = prod_k det U_k`` (derivation.md section 7).
        Each ``det U_k`` is read from its ``dgetrf`` factors: the product of
        the diagonal of ``lu``, times ``-1`` for every row interchange
        (``piv[i] != i``). Summing logarithms never overflows, even when
        ``det A`` itself would.

        A factorization exists only when every ``U_k`` is nonsingular
        (``BlockTridiagonal.factor`` refuses an exactly zero pivot), so the
        sign is never 0 and ``logabsdet`` is finite. When a ``U_k`` is
        nearly singular the later ``U_k`` and hence the result may be
        inaccurate, as for ``solve``.

        Examples
        --------
        >>> A = BlockTridiagonal([[[2.0]], [[3.0]]], [[[4.0]]], [[[1.0]]])
        >>> sign, logabsdet = A.factor().slogdet()  # det [[2, 1], [4, 3]] = 2
        >>> float(sign), round(float(np.exp(logabsdet)), 12)
        (1.0, 2.0)
        """
        sign, logabsdet = 1.0, 0.0
        # derivation.md section 7: det A = prod_k det U_k, since det L = 1.
        for lu, piv in self.lu_factors:
            block_sign, block_log = _lu_slogdet(lu, piv)
            sign *= block_sign
            logabsdet += block_log
        return sign, logabsdet

    def inertia(self):
        """Counts of negative, zero and positive eigenvalues of a symmetric matrix.

        Returns
        -------
        n_negative, n_zero, n_positive : int
            They sum to ``N``.

        Raises
        ------
        ValueError
            If the factored matrix is not symmetric: some ``|A_ij - A_ji|``
            exceeds ``N eps_mach max |A_ij|`` (``N`` the order). The message
            names the block pair.

        Warns
        -----
        scipy.linalg.LinAlgWarning
            Once, when pivot blocks have eigenvalues within
            ``INERTIA_DOUBT_FACTOR`` (1e3) times their zero tolerance, naming
            the blocks: the sign of such an eigenvalue may be an artefact of
            rounding in the elimination, so the counts may be off.

        Notes
        -----
        For a symmetric matrix ``F_k = E_{k+1}^T``, so the block LU of
        ``BlockLUFactorization`` is a block ``L D L^T`` with
        ``D = blockdiag(U_k)``: ``A = L D L^T``, a congruence. By Sylvester's
        law of inertia ``A`` and ``D`` have the same numbers of negative,
        zero and positive eigenvalues, and those of ``D`` are the sums over
        the symmetric pivot blocks ``U_k``. Each ``U_k`` is symmetric in
        exact arithmetic; ``scipy.linalg.eigvalsh`` reads only its lower
        triangle, so the rounding-level asymmetry of the computed ``U_k``
        does not enter.

        An eigenvalue ``lambda`` of ``U_k`` counts as zero when
        ``|lambda| <= m_k eps_mach max |lambda(U_k)|``, ``m_k`` the block
        size: below what rounding in the eigenvalue solver alone can
        decide. Forming ``U_k = D_k - E_k U_{k-1}^{-1} F_{k-1}`` rounds as
        well, and with cancellation far more than ``eps_mach ||U_k||``;
        hence the warning band, ``INERTIA_DOUBT_FACTOR`` times wider.

        The congruence needs every ``U_k`` nonsingular, which is what the
        factorization already requires; a nearly singular ``U_k`` makes the
        later ``U_k`` and so the counts unreliable, as it makes ``solve``
        inaccurate. The cost is one symmetric eigenvalue problem per block,
        linear in the number of blocks.

        Examples
        --------
        >>> A = BlockTridiagonal([[[0.0, 1.0], [1.0, 0.0]], [[1.0]]],
        ...                      [[[0.0, 0.0]]], [[[0.0], [0.0]]])
        >>> A.factor().inertia()  # eigenvalues -1, 1, 1
        (1, 0, 2)
        """
        counts, doubtful = self._inertia()
        if doubtful:
            warnings.warn(
                _doubt_message(doubtful, "count per block index, 0-based"),
                LinAlgWarning,
                stacklevel=2,
            )
        return counts

    def _inertia(self):
        """The kernel of ``inertia``: the counts, and ``{k: n}`` for the
        pivot blocks ``U_k`` with ``n`` eigenvalues in the doubtful band."""
        matrix = self.matrix
        tol = matrix.shape[0] * _EPS * _max_abs(matrix)
        gap, where = _asymmetry(matrix)
        if gap > tol:
            raise ValueError(
                f"inertia: expected a symmetric matrix (|A_ij - A_ji| <= N "
                f"eps_mach max|A_ij| = {tol:.1e}), got |A_ij - A_ji| = "
                f"{gap:.1e} in block pair {where} (0-based block row, block "
                f"column); for a nonsymmetric matrix use slogdet, or "
                f"numpy.linalg.eigvals of to_dense()"
            )

        counts = np.zeros(3, dtype=int)
        doubtful = {}
        for k, U in enumerate(self.pivot_blocks):
            # Sylvester: A = L blockdiag(U_k) L^T has the inertia of the U_k.
            eigenvalues = scipy.linalg.eigvalsh(U, lower=True)
            size = np.abs(eigenvalues)
            zero = U.shape[0] * _EPS * size.max()
            counts += [
                np.count_nonzero(eigenvalues < -zero),
                np.count_nonzero(size <= zero),
                np.count_nonzero(eigenvalues > zero),
            ]
            n_doubtful = np.count_nonzero(size <= INERTIA_DOUBT_FACTOR * zero)
            if n_doubtful:
                doubtful[k] = int(n_doubtful)
        n_negative, n_zero, n_positive = (int(c) for c in counts)
        return (n_negative, n_zero, n_positive), doubtful


class BandedLUFactorization(_FactorizationOf):
    """Banded LU factorization, with partial pivoting, of a ``BlockTridiagonal``.

    Made by ``BlockTridiagonal.factor_banded``; not meant to be built by hand.

    Parameters
    ----------
    matrix : BlockTridiagonal
        The factored matrix.
    lu : (2 kl + ku + 1, N) ndarray
        The factors from LAPACK ``dgbtrf``, in its band storage.
    piv : (N,) int ndarray
        0-based pivot indices from ``dgbtrf``.
    kl, ku : int
        The lower and upper bandwidths used.
    rcond : float
        Reciprocal 1-norm condition estimate of the matrix (``dgbcon``).

    Attributes
    ----------
    matrix : BlockTridiagonal
        The factored matrix.
    lu : (2 kl + ku + 1, N) ndarray
        Read-only. Rows ``0`` to ``kl + ku`` hold ``U`` (upper triangular
        with ``kl + ku`` superdiagonals, its diagonal in row ``kl + ku``);
        rows ``kl + ku + 1`` onwards hold the multipliers of ``L``.
    piv : (N,) ndarray
        Read-only 0-based pivots: row ``i`` was interchanged with row
        ``piv[i]`` at step ``i``.
    kl, ku : int
        The bandwidths of the factored band.
    rcond : float
        Reciprocal 1-norm condition estimate of the matrix.
    shape : tuple of int
        ``(N, N)``.
    sizes, offsets, n_blocks
        Those of ``matrix``.

    Notes
    -----
    ``P A = L U`` with ``P`` the product of the row interchanges, ``L``
    unit lower triangular with at most ``kl`` nonzeros below the diagonal
    in each column, and ``U`` upper triangular with bandwidth ``kl + ku``.
    Only rows (equations) are interchanged; the unknowns keep the block by
    block order of ``BlockTridiagonal``. The block structure plays no part
    in the factorization; it only names the block of a failing row.
    """

    def __init__(self, matrix, lu, piv, kl, ku, rcond):
        self._matrix = matrix
        self._lu = lu
        self._piv = piv
        self._kl = int(kl)
        self._ku = int(ku)
        self._rcond = float(rcond)

    @property
    def lu(self):
        """(2 kl + ku + 1, N) ndarray: read-only ``dgbtrf`` band factors."""
        return self._lu

    @property
    def piv(self):
        """(N,) ndarray: read-only 0-based row interchanges."""
        return self._piv

    @property
    def kl(self):
        """int: the lower bandwidth of the factored band."""
        return self._kl

    @property
    def ku(self):
        """int: the upper bandwidth of the factored band."""
        return self._ku

    @property
    def rcond(self):
        """float: reciprocal 1-norm condition estimate of the matrix."""
        return self._rcond

    def __repr__(self):
        return (
            f"BandedLUFactorization(n_blocks={self.n_blocks}, kl={self.kl}, "
            f"ku={self.ku})"
        )

    def solve(self, b):
        """Solve ``A x = b`` with the stored band factors (LAPACK ``dgbtrs``).

        Parameters
        ----------
        b : (N,) or (N, k) array_like
            Real, finite right-hand side(s); not modified.

        Returns
        -------
        (N,) or (N, k) ndarray
            The solution in float64, of the same shape as ``b``.

        Raises
        ------
        ValueError
            If ``b`` does not have shape ``(N,)`` or ``(N, k)``, or holds NaN
            or inf.
        TypeError
            If ``b`` is complex or non-numeric.
        """
        rhs, ndim = _as_operand(b, self.shape[0], "b")
        if rhs.shape[1] == 0:
            return np.empty(rhs.shape[:ndim])

        x, info = lapack.dgbtrs(self._lu, self._kl, self._ku, rhs, self._piv)
        _check_band_info(info, "dgbtrs", self.offsets)

        return x[:, 0] if ndim == 1 else x

    def slogdet(self):
        """Sign and log absolute value of the determinant of the factored matrix.

        Returns
        -------
        sign : float
            ``1.0`` or ``-1.0``.
        logabsdet : float
            ``log |det A|``, natural logarithm.

        Notes
        -----
        ``P A = L U`` with ``det L = 1``, so ``det A = det P prod_i U(i, i)``.
        ``det P`` is ``-1`` to the number of interchanges (``piv[i] != i``),
        and ``U(i, i)`` is row ``kl + ku`` of ``lu``. Summing logarithms
        never overflows. ``factor_banded`` refuses an exactly zero
        ``U(i, i)``, so the sign is never 0 and ``logabsdet`` is finite.

        Examples
        --------
        >>> A = BlockTridiagonal([[[0.0]], [[0.0]]], [[[3.0]]], [[[2.0]]])
        >>> sign, logabsdet = A.factor_banded().slogdet()  # det = -6
        >>> float(sign), round(float(np.exp(logabsdet)), 12)
        (-1.0, 6.0)
        """
        pivots = self._lu[self._kl + self._ku]
        swaps = np.count_nonzero(self._piv != np.arange(self._piv.size))
        sign = (-1.0) ** swaps * np.prod(np.sign(pivots))
        return float(sign), float(np.sum(np.log(np.abs(pivots))))
