"""Tests of hessian_ref.block_tridiagonal against dense NumPy/SciPy algebra.

Each test seeds its own generator from SEED and its parameters, so a test
draws the same numbers whatever else runs. Tolerances are multiples of
N * eps (N the matrix order), times a condition number where forward errors
are compared; the reason is written beside each.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.linalg import LinAlgWarning

from hessian_ref.block_tridiagonal import (
    INERTIA_DOUBT_FACTOR,
    RCOND_SINGULAR,
    RCOND_WARN,
    BandedLUFactorization,
    BlockLUFactorization,
    BlockTridiagonal,
    SingularBlockError,
    SingularMatrixError,
)

SEED = 20260115
EPS = np.finfo(np.float64).eps

# Backward-error constant: block elimination of a strictly diagonally
# dominant matrix has small pivot growth, so its normwise backward error is
# a modest multiple of N * eps; 10 covers the constant with room.
BACKWARD_C = 10

# Block sizes covering 1..6 blocks: equal, different, with 1 x 1 blocks.
SIZES = [
    (1,),
    (3,),
    (2, 2),
    (1, 3),
    (3, 1, 2),
    (1, 1, 1),
    (1, 1, 1, 1),
    (2, 3, 1, 4),
    (4, 4, 4, 4, 4),
    (1, 2, 3, 2, 1),
    (3, 3, 3, 3, 3, 3),
    (1, 5, 1, 5, 1, 5),
]

# None: a vector (N,); an int k: a matrix (N, k) of right-hand sides.
RHS_COLUMNS = [None, 1, 3]


def make_rng(*key):
    """A generator seeded from SEED and the test's parameters."""
    return np.random.default_rng([SEED, *(0 if v is None else v for v in key)])


def dense_from_blocks(sizes, diagonal, lower, upper):
    """The dense matrix built by np.block, independently of the class."""
    n = len(sizes)
    grid = [[np.zeros((sizes[i], sizes[j])) for j in range(n)] for i in range(n)]
    for k in range(n):
        grid[k][k] = diagonal[k]
    for k in range(n - 1):
        grid[k + 1][k] = lower[k]
        grid[k][k + 1] = upper[k]
    return np.block(grid)


def random_blocks(rng, sizes):
    """Random blocks shifted so the whole matrix is strictly row dominant.

    Adding (max absolute row sum + 1) to the diagonal makes every row of the
    dense matrix strictly diagonally dominant with margin at least 1, a
    property every Schur complement U_k inherits: all pivot blocks are then
    nonsingular and cond_inf(A) <= 2 * ||A||_inf stays small.
    """
    n = len(sizes)
    diagonal = [rng.standard_normal((m, m)) for m in sizes]
    lower = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(n - 1)]
    upper = [rng.standard_normal((sizes[k], sizes[k + 1])) for k in range(n - 1)]
    shift = np.abs(dense_from_blocks(sizes, diagonal, lower, upper)).sum(axis=1).max()
    diagonal = [d + (shift + 1.0) * np.eye(len(d)) for d in diagonal]
    return diagonal, lower, upper


def random_rhs(rng, n_rows, columns):
    shape = (n_rows,) if columns is None else (n_rows, columns)
    return rng.standard_normal(shape)


def max_abs(a):
    """Largest absolute entry: the inf-norm of a vector, entrywise for matrices."""
    return np.abs(a).max()


def scaled_residual(A, x, b):
    """max over columns of ||A x - b|| / (||A|| ||x|| + ||b||), inf-norms."""
    x2 = x.reshape(len(x), -1)
    b2 = b.reshape(len(b), -1)
    r = A @ x2 - b2
    norm_a = np.linalg.norm(A, np.inf)
    ratios = [
        max_abs(r[:, j]) / (norm_a * max_abs(x2[:, j]) + max_abs(b2[:, j]))
        for j in range(x2.shape[1])
    ]
    return max(ratios)


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("sizes", SIZES)
def test_attributes(sizes):
    rng = make_rng(1, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))

    N = sum(sizes)
    assert A.sizes == sizes
    assert A.offsets == tuple(np.concatenate([[0], np.cumsum(sizes)]).tolist())
    assert A.shape == (N, N)
    assert A.n_blocks == len(sizes)
    assert A.dtype == np.float64
    assert isinstance(A.diagonal, tuple) and len(A.diagonal) == len(sizes)
    assert isinstance(A.lower, tuple) and len(A.lower) == len(sizes) - 1
    assert isinstance(A.upper, tuple) and len(A.upper) == len(sizes) - 1


@pytest.mark.parametrize("sizes", SIZES)
def test_to_dense_matches_np_block(sizes):
    rng = make_rng(2, *sizes)
    blocks = random_blocks(rng, sizes)
    A = BlockTridiagonal(*blocks)

    dense = A.to_dense()

    # Pure copying: no arithmetic, so the match is exact.
    np.testing.assert_array_equal(dense, dense_from_blocks(sizes, *blocks))
    o = A.offsets
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            if abs(i - j) > 1:
                assert not dense[o[i]:o[i + 1], o[j]:o[j + 1]].any()


@pytest.mark.parametrize("sizes", SIZES)
def test_from_dense_round_trip(sizes):
    rng = make_rng(3, *sizes)
    blocks = random_blocks(rng, sizes)
    dense = dense_from_blocks(sizes, *blocks)

    A = BlockTridiagonal.from_dense(dense, sizes)

    # Slicing and copying only: exact.
    np.testing.assert_array_equal(A.to_dense(), dense)
    diagonal, lower, upper = blocks
    for got, want in zip(A.diagonal + A.lower + A.upper, diagonal + lower + upper):
        np.testing.assert_array_equal(got, want)


def test_from_dense_rejects_entries_outside_band():
    sizes = (1, 2, 1, 1)
    dense = dense_from_blocks(sizes, *random_blocks(make_rng(4), sizes))
    above = dense.copy()
    above[0, 3] = 1.0  # block pair (0, 2)
    below = dense.copy()
    below[4, 1] = -2.0  # block pair (3, 1)

    with pytest.raises(ValueError, match=r"block pair \(0, 2\)"):
        BlockTridiagonal.from_dense(above, sizes)
    with pytest.raises(ValueError, match=r"block pair \(3, 1\)"):
        BlockTridiagonal.from_dense(below, sizes)

    # With the check off the stray entries are dropped, the band kept.
    A = BlockTridiagonal.from_dense(above, sizes, check_band=False)
    np.testing.assert_array_equal(A.to_dense(), dense)


# ------------------------------------------------------------------- matvec


@pytest.mark.parametrize("columns", RHS_COLUMNS)
@pytest.mark.parametrize("sizes", SIZES)
def test_matvec_matches_dense(sizes, columns):
    rng = make_rng(5, *sizes, columns)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    x = random_rhs(rng, A.shape[0], columns)
    x_before = x.copy()

    y = A.matvec(x)
    y_op = A @ x

    assert y.shape == x.shape
    np.testing.assert_array_equal(y, y_op)
    np.testing.assert_array_equal(x, x_before)
    # Each entry is a sum of at most N products in some order; two such
    # evaluations differ by at most 2 * gamma_N * (|A| |x|), gamma_N ~ N eps.
    N = A.shape[0]
    bound = 2 * (N + 1) * EPS * (np.abs(dense) @ np.abs(x))
    assert np.all(np.abs(y - dense @ x) <= bound)


# -------------------------------------------------------------------- solve


@pytest.mark.parametrize("columns", RHS_COLUMNS)
@pytest.mark.parametrize("sizes", SIZES)
def test_solve_three_ways(sizes, columns):
    rng = make_rng(6, *sizes, columns)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    N = A.shape[0]
    cond = np.linalg.cond(dense, np.inf)
    b = random_rhs(rng, N, columns)
    b_before = b.copy()

    x = A.solve(b)

    assert x.shape == b.shape
    assert x.dtype == np.float64
    np.testing.assert_array_equal(b, b_before)

    # 1. Scaled residual: a backward error, so no condition number.
    assert scaled_residual(dense, x, b) <= BACKWARD_C * N * EPS

    # 2. Dense solve: both answers are within backward error times cond of
    #    the exact one, hence within twice that of each other.
    forward_tol = 2 * BACKWARD_C * N * EPS * cond
    x_dense = np.linalg.solve(dense, b)
    assert max_abs(x - x_dense) <= forward_tol * max_abs(x_dense)

    # 3. A known answer: b = A x_true; the forward error is cond times the
    #    backward error, plus the rounding of b itself, of the same order.
    x_true = random_rhs(rng, N, columns)
    x_known = A.solve(dense @ x_true)
    assert max_abs(x_known - x_true) <= forward_tol * max_abs(x_true)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (1, 1, 1, 1)])
def test_matrix_rhs_equals_columnwise_solves(sizes):
    rng = make_rng(7, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    fac = A.factor()
    B = random_rhs(rng, A.shape[0], 3)

    X = fac.solve(B)

    # The same sweeps, but matrix products (gemm) instead of vector ones
    # (gemv) may sum in another order: each column is still a backward-stable
    # solve, so the two differ by at most twice backward error times cond.
    N = A.shape[0]
    tol = 2 * BACKWARD_C * N * EPS * np.linalg.cond(A.to_dense(), np.inf)
    for j in range(3):
        x = fac.solve(B[:, j])
        assert max_abs(X[:, j] - x) <= tol * max_abs(x)


def test_solve_with_zero_columns():
    A = BlockTridiagonal(*random_blocks(make_rng(8), (2, 1)))

    x = A.solve(np.zeros((3, 0)))

    assert x.shape == (3, 0)


# ------------------------------------------------------ factorization steps


@pytest.mark.parametrize("sizes", SIZES)
def test_pivot_blocks_are_dense_schur_complements(sizes):
    rng = make_rng(9, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    N = A.shape[0]
    o = A.offsets

    fac = A.factor()

    assert isinstance(fac, BlockLUFactorization)
    assert len(fac.pivot_blocks) == len(sizes)
    np.testing.assert_array_equal(fac.pivot_blocks[0], A.diagonal[0])
    for k in range(1, len(sizes)):
        # U_k = A_kk - A_{k,0:k} A_{0:k,0:k}^{-1} A_{0:k,k}, from the dense matrix.
        rows = slice(o[k], o[k + 1])
        lead = dense[: o[k], : o[k]]
        schur = dense[rows, rows] - dense[rows, : o[k]] @ np.linalg.solve(
            lead, dense[: o[k], rows]
        )
        # Two evaluations of the same Schur complement, each off by backward
        # error times cond of the leading block, relative to ||A||.
        tol = 2 * BACKWARD_C * N * EPS * np.linalg.cond(lead, np.inf)
        err = np.linalg.norm(fac.pivot_blocks[k] - schur, np.inf)
        assert err <= tol * np.linalg.norm(dense, np.inf)


@pytest.mark.parametrize("sizes", SIZES)
def test_block_lu_reconstructs_matrix(sizes):
    rng = make_rng(10, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    n, N = len(sizes), A.shape[0]
    U = A.factor().pivot_blocks

    # A = L R with L_k = E_k U_{k-1}^{-1} below a unit diagonal, and R with
    # U_k on the diagonal and F_k above it (BlockLUFactorization notes).
    identity = [np.eye(m) for m in sizes]
    multipliers = [np.linalg.solve(U[k].T, A.lower[k].T).T for k in range(n - 1)]
    no_upper = [np.zeros(f.shape) for f in A.upper]
    no_lower = [np.zeros(e.shape) for e in A.lower]
    L = dense_from_blocks(sizes, identity, multipliers, no_upper)
    R = dense_from_blocks(sizes, list(U), no_lower, list(A.upper))

    # L_k carries the solve's error, cond(U_{k-1}) times backward error.
    cond_u = max(np.linalg.cond(u, np.inf) for u in U)
    err = np.linalg.norm(L @ R - dense, np.inf)
    assert err <= BACKWARD_C * N * EPS * cond_u * np.linalg.norm(dense, np.inf)


@pytest.mark.parametrize("sizes", SIZES)
def test_lu_factors_and_rcond(sizes):
    rng = make_rng(11, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))

    fac = A.factor()

    assert len(fac.lu_factors) == len(fac.rcond) == len(sizes)
    for k, (U, (lu, piv), rcond) in enumerate(
        zip(fac.pivot_blocks, fac.lu_factors, fac.rcond)
    ):
        # The same dgetrf on the same block as SciPy's lu_factor: identical.
        lu_ref, piv_ref = scipy.linalg.lu_factor(U)
        np.testing.assert_array_equal(lu, lu_ref)
        np.testing.assert_array_equal(piv, piv_ref)
        # dgecon under-estimates ||U^{-1}||_1, so rcond >= the exact value
        # (up to rounding); on small random blocks it is within a small
        # factor of it, 10 leaving room.
        exact = 1.0 / (np.linalg.norm(U, 1) * np.linalg.norm(np.linalg.inv(U), 1))
        assert exact * (1 - 1e-8) <= rcond <= 10 * exact
        # Diagonal dominance keeps every block far from the warning level.
        assert rcond > RCOND_WARN


def test_factor_does_not_warn_on_well_conditioned_blocks():
    A = BlockTridiagonal(*random_blocks(make_rng(12), (3, 1, 2)))

    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        A.factor()


# ------------------------------------------------------ hand-checked cases


def test_one_block():
    rng = make_rng(13)
    D = rng.standard_normal((3, 3)) + 4 * np.eye(3)
    A = BlockTridiagonal([D], [], [])
    b = rng.standard_normal(3)

    fac = A.factor()
    x = fac.solve(b)

    assert A.sizes == (3,) and A.offsets == (0, 3)
    np.testing.assert_array_equal(A.to_dense(), D)
    np.testing.assert_array_equal(fac.pivot_blocks[0], D)
    # A single getrf/getrs pair: the same as SciPy's lu_factor/lu_solve.
    x_ref = scipy.linalg.lu_solve(scipy.linalg.lu_factor(D), b)
    np.testing.assert_array_equal(x, x_ref)
    assert scaled_residual(D, x, b) <= BACKWARD_C * 3 * EPS


def test_two_scalar_blocks_by_hand():
    # [[2, 1], [4, 3]] x = [4, 10]: U_1 = 3 - 4 * (1/2) * 1 = 1,
    # f_1 = 10 - 4 * 4 / 2 = 2, x_1 = 2, x_0 = (4 - 1 * 2) / 2 = 1.
    A = BlockTridiagonal([[[2.0]], [[3.0]]], [[[4.0]]], [[[1.0]]])

    fac = A.factor()
    x = fac.solve([4.0, 10.0])

    # All intermediate values are small dyadic numbers: exact arithmetic.
    np.testing.assert_array_equal(fac.pivot_blocks[1], [[1.0]])
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_two_blocks_by_hand():
    # D_0 = diag(2, 4), F_0 = [2, 4]^T, E_1 = [1, 1], D_1 = [6]:
    # U_0^{-1} F_0 = [1, 1]^T, so U_1 = 6 - (1 + 1) = 4.
    # With x = (1, 1, 1), b = (2 + 2, 4 + 4, 1 + 1 + 6) = (4, 8, 8):
    # f_1 = 8 - E_1 U_0^{-1} (4, 8) = 8 - (2 + 2) = 4, s_1 = 4 / 4 = 1,
    # s_0 = U_0^{-1} ((4, 8) - F_0 * 1) = U_0^{-1} (2, 4) = (1, 1).
    diagonal = [np.diag([2.0, 4.0]), np.array([[6.0]])]
    lower = [np.array([[1.0, 1.0]])]
    upper = [np.array([[2.0], [4.0]])]
    A = BlockTridiagonal(diagonal, lower, upper)

    fac = A.factor()
    x = fac.solve(np.array([4.0, 8.0, 8.0]))
    X = fac.solve(np.array([[4.0, 8.0], [8.0, 16.0], [8.0, 16.0]]))

    # Powers of two and small integers only: every step is exact.
    np.testing.assert_array_equal(fac.pivot_blocks[1], [[4.0]])
    np.testing.assert_array_equal(x, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(X, [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    np.testing.assert_array_equal(
        A.to_dense(), [[2.0, 0.0, 2.0], [0.0, 4.0, 4.0], [1.0, 1.0, 6.0]]
    )


def test_integer_blocks_are_stored_as_float64():
    A = BlockTridiagonal([[[2]], [[3]]], [[[4]]], [[[1]]])

    assert all(d.dtype == np.float64 for d in A.diagonal + A.lower + A.upper)
    np.testing.assert_array_equal(A.solve([4, 10]), [1.0, 2.0])


# --------------------------------------------------------- singular pivots


SINGULAR_PIVOT_CASES = {
    # name: (dense matrix, sizes, singular block, zero-pivot position)
    "first block, [[0, 1], [1, 0]]": (
        [[0.0, 1.0], [1.0, 0.0]], (1, 1), 0, 0,
    ),
    "first block, second pivot": (
        [[1.0, 2.0, 1.0], [2.0, 4.0, 0.0], [0.0, 1.0, 0.0]], (2, 1), 0, 1,
    ),
    # U_0 = 1, U_1 = 1 - 1 * 1 * 1 = 0, while det = -1.
    "later block, scalars": (
        [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]], (1, 1, 1), 1, 0,
    ),
    # E_1 = 0, so U_1 = D_1 = [[1, 2], [2, 4]], while det = 2.
    "later block, second pivot": (
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 2.0, 1.0],
            [0.0, 2.0, 4.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ],
        (1, 2, 1),
        1,
        1,
    ),
}


@pytest.mark.parametrize("case", list(SINGULAR_PIVOT_CASES))
def test_singular_pivot_block_raises(case):
    dense, sizes, block, position = SINGULAR_PIVOT_CASES[case]
    dense = np.array(dense)
    A = BlockTridiagonal.from_dense(dense, sizes)
    b = np.ones(len(dense))

    # The whole matrix is fine: a dense pivoted LU solves it.
    assert abs(np.linalg.det(dense)) >= 1.0
    np.linalg.solve(dense, b)

    message = rf"block index {block}, 0-based"
    with pytest.raises(SingularBlockError, match=message) as err:
        A.factor()
    assert err.value.block == block
    assert err.value.position == position
    assert f"position {position} (0-based)" in str(err.value)
    assert isinstance(err.value, np.linalg.LinAlgError)
    with pytest.raises(SingularBlockError):
        A.solve(b)


def test_numerically_singular_block_raises_with_rcond():
    # U_0 = [[1, 1], [1, 1 + 2 eps]]: its LU pivot is 2 eps exactly, so no
    # zero pivot, but rcond = 2 eps / 4 = eps / 2 < RCOND_SINGULAR.
    D = np.array([[1.0, 1.0], [1.0, 1.0 + 2 * EPS]])
    A = BlockTridiagonal([D, np.eye(1)], [np.zeros((1, 2))], [np.zeros((2, 1))])

    with pytest.raises(SingularBlockError, match="rcond") as err:
        A.factor()

    assert err.value.block == 0
    assert err.value.position == 1
    assert err.value.rcond < RCOND_SINGULAR


def test_overflowing_schur_complement_raises():
    # [[1e-200, 1e100], [1e100, 1]] is well conditioned as a whole (det about
    # -1e200, a pivoted LU swaps the rows), but U_1 = 1 - 1e100 * 1e300
    # overflows: block elimination cannot handle it.
    A = BlockTridiagonal([[[1e-200]], [[1.0]]], [[[1e100]]], [[[1e100]]])
    dense = A.to_dense()
    assert np.linalg.cond(dense) < 10

    with pytest.raises(np.linalg.LinAlgError, match=r"U_1 .*overflowed"):
        A.factor()


@pytest.mark.parametrize("via", ["factor", "solve"])
@pytest.mark.parametrize("block", [0, 1])
def test_ill_conditioned_block_warns(block, via):
    # [[1, 1], [1, 1 + 1e-10]] has rcond about 1e-10 / 4, between eps and
    # sqrt(eps); the other block is the identity, so U_1 = D_1 (E_1 = 0).
    bad = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-10]])
    diagonal = [np.eye(2), np.eye(2)]
    diagonal[block] = bad
    A = BlockTridiagonal(diagonal, [np.zeros((2, 2))], [np.ones((2, 2))])

    run = A.factor if via == "factor" else (lambda: A.solve(np.ones(4)))

    with pytest.warns(LinAlgWarning, match=rf"block index {block}, 0-based") as rec:
        result = run()

    assert len(rec) == 1
    assert "rcond" in str(rec[0].message)
    # stacklevel points at the caller, this file, not the library.
    assert rec[0].filename == __file__
    if via == "factor":
        assert RCOND_SINGULAR < result.rcond[block] < RCOND_WARN


# -------------------------------------------------------------- bad inputs


def good_blocks():
    """Valid blocks of sizes (2, 3, 1), made fresh for each use."""
    return random_blocks(make_rng(14), (2, 3, 1))


def replace(blocks, which, index, value):
    """Copy of the (diagonal, lower, upper) lists with one block replaced."""
    lists = [list(b) for b in blocks]
    lists[which][index] = value
    return lists


def with_nan(a, index=0, value=np.nan):
    """A float copy of ``a`` with ``value`` written at ``index``."""
    a = np.array(a, dtype=float)
    a[index] = value
    return a


# name: (make arguments from the good blocks, exception, message pattern)
BAD_CONSTRUCTOR_CASES = {
    "no diagonal blocks": (
        lambda b: ([], [], []),
        ValueError,
        r"^diagonal: expected at least one block, got 0",
    ),
    "lower too short": (
        lambda b: (b[0], b[1][:1], b[2]),
        ValueError,
        r"^lower: expected .* 2 blocks, got 1",
    ),
    "upper too long": (
        lambda b: (b[0], b[1], b[2] + [np.ones((1, 1))]),
        ValueError,
        r"^upper: expected .* 2 blocks, got 3",
    ),
    "diagonal block 1-D": (
        lambda b: replace(b, 0, 1, np.ones(3)),
        ValueError,
        r"^diagonal\[1\]: expected a 2-D array, got shape \(3,\)",
    ),
    "diagonal block not square": (
        lambda b: replace(b, 0, 0, np.ones((2, 3))),
        ValueError,
        r"^diagonal\[0\]: expected a square block, got shape \(2, 3\)",
    ),
    "lower block wrong shape": (
        lambda b: replace(b, 1, 0, np.ones((2, 3))),
        ValueError,
        r"^lower\[0\]: expected shape \(3, 2\), got \(2, 3\)",
    ),
    "upper block wrong shape": (
        lambda b: replace(b, 2, 1, np.ones((1, 3))),
        ValueError,
        r"^upper\[1\]: expected shape \(3, 1\), got \(1, 3\)",
    ),
    "NaN in a lower block": (
        lambda b: replace(b, 1, 1, with_nan(b[1][1], (0, 0))),
        ValueError,
        r"^lower\[1\]: expected finite",
    ),
    "inf in a diagonal block": (
        lambda b: replace(b, 0, 2, with_nan(b[0][2], (0, 0), np.inf)),
        ValueError,
        r"^diagonal\[2\]: expected finite",
    ),
    "complex block": (
        lambda b: replace(b, 2, 0, b[2][0] + 1j),
        TypeError,
        r"^upper\[0\]: .*complex",
    ),
    "string block": (
        lambda b: replace(b, 0, 0, [["a", "b"], ["c", "d"]]),
        TypeError,
        r"^diagonal\[0\]: .*dtype",
    ),
    "ragged block": (
        lambda b: replace(b, 0, 0, [[1.0, 2.0], [3.0]]),
        ValueError,
        r"^diagonal\[0\]: expected a 2-D array",
    ),
    "zero-size block": (
        lambda b: ([np.ones((0, 0))], [], []),
        ValueError,
        r"^diagonal\[0\]: .*zero-size",
    ),
    "single array instead of a list": (
        lambda b: (np.eye(2), [], []),
        TypeError,
        r"^diagonal: expected a sequence",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONSTRUCTOR_CASES))
def test_constructor_rejects_bad_input(case):
    make, error, message = BAD_CONSTRUCTOR_CASES[case]
    args = make(good_blocks())

    with pytest.raises(error, match=message):
        BlockTridiagonal(*args)


BAD_OPERAND_CASES = {
    "too short": (np.ones(5), ValueError, r"\(6,\) or \(6, k\), got \(5,\)"),
    "transposed": (np.ones((3, 6)), ValueError, r"got \(3, 6\)"),
    "3-D": (np.ones((6, 1, 1)), ValueError, r"got \(6, 1, 1\)"),
    "complex": (np.ones(6) * 1j, TypeError, r"complex"),
}


@pytest.mark.parametrize("case", list(BAD_OPERAND_CASES))
def test_solve_and_matvec_reject_bad_operands(case):
    value, error, message = BAD_OPERAND_CASES[case]
    A = BlockTridiagonal(*good_blocks())
    fac = A.factor()

    with pytest.raises(error, match=rf"^b: .*{message}"):
        A.solve(value)
    with pytest.raises(error, match=rf"^b: .*{message}"):
        fac.solve(value)
    with pytest.raises(error, match=rf"^x: .*{message}"):
        A.matvec(value)


def test_solve_rejects_nan_rhs():
    A = BlockTridiagonal(*good_blocks())

    with pytest.raises(ValueError, match=r"^b: expected finite"):
        A.solve(with_nan(np.ones(6), 4))
    with pytest.raises(ValueError, match=r"^b: expected finite"):
        A.factor().solve(with_nan(np.ones((6, 2)), (5, 1), -np.inf))
    with pytest.raises(ValueError, match=r"^x: expected finite"):
        A.matvec(with_nan(np.ones(6)))


BAD_FROM_DENSE_CASES = {
    "not square": (np.ones((3, 4)), (1, 2), ValueError, r"^A: expected a square"),
    "sizes do not sum to N": (np.eye(3), (1, 1), ValueError, r"^sizes: .*\(sum 2\)"),
    "zero size": (np.eye(3), (3, 0), ValueError, r"^sizes: expected positive"),
    "NaN": (with_nan(np.eye(3), (1, 2)), (1, 2), ValueError, r"^A: expected finite"),
    "complex": (np.eye(3) + 0j, (1, 2), TypeError, r"^A: .*complex"),
    "fractional size": (np.eye(3), (1.5, 1.5), TypeError, r"^sizes: .*integers"),
}


@pytest.mark.parametrize("case", list(BAD_FROM_DENSE_CASES))
def test_from_dense_rejects_bad_input(case):
    dense, sizes, error, message = BAD_FROM_DENSE_CASES[case]

    with pytest.raises(error, match=message):
        BlockTridiagonal.from_dense(dense, sizes)


# ------------------------------------------------------------ no aliasing


def test_inputs_are_copied_and_never_modified():
    blocks = good_blocks()
    before = [[b.copy() for b in blocks_list] for blocks_list in blocks]

    A = BlockTridiagonal(*blocks)
    dense = A.to_dense()
    A.solve(np.ones(6))

    for got_list, want_list in zip(blocks, before):
        for got, want in zip(got_list, want_list):
            np.testing.assert_array_equal(got, want)
    # Changing the user's arrays afterwards does not reach the matrix.
    for blocks_list in blocks:
        for b in blocks_list:
            b[...] = 7.0
    np.testing.assert_array_equal(A.to_dense(), dense)


def test_from_dense_does_not_modify_or_alias_input():
    sizes = (2, 3, 1)
    dense = dense_from_blocks(sizes, *good_blocks())
    before = dense.copy()

    A = BlockTridiagonal.from_dense(dense, sizes)
    dense[...] = 0.0

    np.testing.assert_array_equal(A.to_dense(), before)


def test_stored_blocks_and_factors_are_read_only():
    A = BlockTridiagonal(*good_blocks())
    fac = A.factor()

    arrays = [*A.diagonal, *A.lower, *A.upper, *fac.pivot_blocks]
    arrays += [a for pair in fac.lu_factors for a in pair]
    for a in arrays:
        with pytest.raises(ValueError, match="read-only"):
            a[0, ...] = 0
    with pytest.raises(AttributeError):
        A.diagonal = ()
    with pytest.raises(AttributeError):
        fac.pivot_blocks = ()


# ------------------------------------------------- determinant and inertia


def signed_blocks(rng, sizes):
    """Dominant blocks whose block rows are then permuted and maybe negated.

    Permuting or negating the rows of a block row multiplies the determinant
    by the permutation's sign or by (-1)^m_k and leaves the condition number
    alone, so the determinants come with both signs, and dgetrf has to
    interchange rows to undo the permutation.
    """
    diagonal, lower, upper = random_blocks(rng, sizes)
    n = len(sizes)
    for k, m in enumerate(sizes):
        rows = rng.permutation(m)
        sign = rng.choice([-1.0, 1.0])
        diagonal[k] = sign * diagonal[k][rows]
        if k > 0:
            lower[k - 1] = sign * lower[k - 1][rows]
        if k < n - 1:
            upper[k] = sign * upper[k][rows]
    return diagonal, lower, upper


def logdet_tolerance(dense):
    """|d log|det A|| = |tr(A^{-1} dA)| <= N ||A^{-1}|| ||dA||: with a
    backward error of BACKWARD_C N eps on each of the two routes, twice
    N^2 cond(A) BACKWARD_C eps bounds their difference."""
    N = dense.shape[0]
    return 2 * BACKWARD_C * N**2 * EPS * np.linalg.cond(dense)


@pytest.mark.parametrize("sizes", SIZES)
def test_slogdet_matches_numpy(sizes):
    rng = make_rng(15, *sizes)
    A = BlockTridiagonal(*signed_blocks(rng, sizes))
    dense = A.to_dense()

    sign, logabsdet = A.factor().slogdet()

    expected = np.linalg.slogdet(dense)
    assert isinstance(sign, float) and isinstance(logabsdet, float)
    assert sign == expected.sign
    assert abs(logabsdet - expected.logabsdet) <= logdet_tolerance(dense)


def test_slogdet_sees_both_signs_over_the_sizes():
    # Guards the test above against testing only positive determinants.
    signs = {
        BlockTridiagonal(*signed_blocks(make_rng(15, *sizes), sizes))
        .factor()
        .slogdet()[0]
        for sizes in SIZES
    }
    assert signs == {-1.0, 1.0}


SLOGDET_BY_HAND = {
    # name: (diagonal, lower, upper, sign, |det|)
    # det [[2, 1], [4, 3]] = 2; U_1 = 3 - 4 * 1 / 2 = 1.
    "two scalar blocks": ([[[2.0]], [[3.0]]], [[[4.0]]], [[[1.0]]], 1.0, 2.0),
    # U_1 = 4 - 3 * 2 / 1 = -2.
    "negative later pivot": ([[[1.0]], [[4.0]]], [[[3.0]]], [[[2.0]]], -1.0, 2.0),
    # One interchange inside the block: det [[0, 1], [1, 0]] = -1.
    "row interchange": ([[[0.0, 1.0], [1.0, 0.0]]], [], [], -1.0, 1.0),
    # Two interchanges cancel: a cyclic shift of three rows, det = +1 * 2.
    "two interchanges": (
        [[[0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]], [], [], 1.0, 2.0
    ),
}


@pytest.mark.parametrize("case", list(SLOGDET_BY_HAND))
def test_slogdet_by_hand(case):
    diagonal, lower, upper, sign, absdet = SLOGDET_BY_HAND[case]

    got = BlockTridiagonal(diagonal, lower, upper).factor().slogdet()

    # Small integers, no rounding in the LU: exact up to the last log.
    assert got[0] == sign
    assert got[1] == pytest.approx(np.log(absdet), abs=4 * EPS)


def test_slogdet_does_not_overflow():
    # Six 3 x 3 blocks scaled by 1e60: det about 1e1080, beyond float64.
    sizes = (3, 3, 3, 3, 3, 3)
    blocks = signed_blocks(make_rng(16), sizes)
    base = BlockTridiagonal(*blocks)
    big = BlockTridiagonal(*([1e60 * b for b in part] for part in blocks))

    sign, logabsdet = big.factor().slogdet()

    # det(c A) = c^N det A. Scaling rounds each entry once (relative 1e-16),
    # which moves log|det| by about N cond(A) 1e-16: far inside rel=1e-13 of
    # a logarithm near 2500.
    base_sign, base_log = np.linalg.slogdet(base.to_dense())
    assert sign == base_sign
    expected = base_log + 18 * np.log(1e60)
    assert logabsdet == pytest.approx(expected, rel=1e-13)


def random_symmetric_blocks(rng, sizes, coupling):
    """Symmetric indefinite blocks: D_k with eigenvalues of both signs and
    size in [1, 3], E_k of norm about `coupling`, F_k = E_{k+1}^T."""
    n = len(sizes)
    diagonal = []
    for m in sizes:
        Qm, _ = np.linalg.qr(rng.standard_normal((m, m)))
        values = rng.choice([-1.0, 1.0], m) * rng.uniform(1.0, 3.0, m)
        diagonal.append((Qm * values) @ Qm.T)
    lower = [
        coupling * rng.standard_normal((sizes[k + 1], sizes[k])) / np.sqrt(sizes[k])
        for k in range(n - 1)
    ]
    upper = [e.T for e in lower]
    return diagonal, lower, upper


def eigenvalue_counts(dense):
    values = np.linalg.eigvalsh(dense)
    return (int(np.sum(values < 0)), 0, int(np.sum(values > 0))), values


@pytest.mark.parametrize("coupling", [0.3, 2.0])
@pytest.mark.parametrize("sizes", SIZES)
def test_inertia_matches_eigenvalue_counts(sizes, coupling):
    rng = make_rng(17, *sizes, int(10 * coupling))
    A = BlockTridiagonal(*random_symmetric_blocks(rng, sizes, coupling))
    dense = A.to_dense()
    expected, values = eigenvalue_counts(dense)
    # The dense counts are unambiguous: no eigenvalue near rounding of zero.
    assert np.abs(values).min() > 1e-8 * np.abs(values).max()

    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        counts = A.factor().inertia()

    assert counts == expected
    assert all(isinstance(c, int) for c in counts)


def test_inertia_sees_indefinite_matrices():
    # Guards the test above: most of its matrices have both signs.
    mixed = 0
    for sizes in SIZES:
        rng = make_rng(17, *sizes, 20)
        A = BlockTridiagonal(*random_symmetric_blocks(rng, sizes, 2.0))
        n_negative, _, n_positive = A.factor().inertia()
        mixed += n_negative > 0 and n_positive > 0
    assert mixed >= len(SIZES) - 2


def test_inertia_comes_from_the_schur_complements():
    # [[1, 2], [2, 1]] has eigenvalues 3 and -1 while both diagonal blocks are
    # positive: the negative one appears only in U_1 = 1 - 2 * 2 / 1 = -3.
    A = BlockTridiagonal([[[1.0]], [[1.0]]], [[[2.0]]], [[[2.0]]])

    fac = A.factor()

    np.testing.assert_array_equal(fac.pivot_blocks[1], [[-3.0]])
    assert fac.inertia() == (1, 0, 1)


def factor_ignoring_rcond(A):
    """``A.factor(singular_rcond=0)`` without its ill-conditioning warning,
    so that a test sees only the warnings of what it calls next."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        return A.factor(singular_rcond=0.0)


def test_inertia_counts_an_eigenvalue_within_rounding_as_zero_and_warns():
    # U_0 = [[1, 1], [1, 1 + 2 eps]] has eigenvalues about 2 and eps: below
    # m eps max|lambda| = 4 eps, so zero, with a warning that it is doubtful.
    D = np.array([[1.0, 1.0], [1.0, 1.0 + 2 * EPS]])
    A = BlockTridiagonal([D, [[5.0]]], [np.zeros((1, 2))], [np.zeros((2, 1))])
    fac = factor_ignoring_rcond(A)

    with pytest.warns(LinAlgWarning, match=r"block index, 0-based: \{0: 1\}") as rec:
        counts = fac.inertia()

    assert counts == (0, 1, 2)
    assert len(rec) == 1
    # stacklevel points at the caller, this file.
    assert rec[0].filename == __file__


def test_inertia_warns_about_an_eigenvalue_just_outside_the_zero_band():
    # An eigenvalue 100 m eps max|lambda| from zero is counted by its sign,
    # but lies inside the INERTIA_DOUBT_FACTOR band, so the count is flagged.
    small = 100 * 2 * EPS * 1.0
    assert small < INERTIA_DOUBT_FACTOR * 2 * EPS
    A = BlockTridiagonal([np.diag([1.0, -small])], [], [])

    fac = factor_ignoring_rcond(A)

    with pytest.warns(LinAlgWarning, match="inertia counts may be off"):
        counts = fac.inertia()

    assert counts == (1, 0, 1)


def test_inertia_accepts_symmetry_up_to_rounding():
    sizes = (2, 3, 1)
    diagonal, lower, upper = random_symmetric_blocks(make_rng(18), sizes, 1.0)
    # One ulp off in one coupling entry: far below N eps max|A_ij|.
    upper[0] = upper[0].copy()
    upper[0][1, 2] = np.nextafter(upper[0][1, 2], np.inf)
    A = BlockTridiagonal(diagonal, lower, upper)

    expected, _ = eigenvalue_counts(A.to_dense())
    assert A.factor().inertia() == expected


NONSYMMETRIC_CASES = {
    # name: (change to symmetric blocks, block pair named)
    "general matrix": (lambda d, e, f: (d, e, [x + 1.0 for x in f]), r"\(1, 0\)"),
    "coupling only": (
        lambda d, e, f: (d, e, [f[0], 2 * f[1]]), r"\(2, 1\)"
    ),
    "diagonal block only": (
        lambda d, e, f: ([d[0], d[1] + np.triu(np.ones_like(d[1]), 1), d[2]], e, f),
        r"\(1, 1\)",
    ),
}


@pytest.mark.parametrize("case", list(NONSYMMETRIC_CASES))
def test_inertia_rejects_a_nonsymmetric_matrix(case):
    change, pair = NONSYMMETRIC_CASES[case]
    blocks = random_symmetric_blocks(make_rng(19), (2, 3, 2), 1.0)
    A = BlockTridiagonal(*change(*blocks))
    fac = A.factor()

    with pytest.raises(ValueError, match=r"^inertia: expected a symmetric matrix"):
        fac.inertia()
    with pytest.raises(ValueError, match=rf"block pair {pair}"):
        fac.inertia()
    # the determinant does not need symmetry
    assert fac.slogdet()[0] in (-1.0, 1.0)


# ------------------------------------------------------- banded storage


def dense_bandwidths(dense):
    """(kl, ku) of the nonzero entries of a dense matrix, each at least 0."""
    rows, columns = np.nonzero(dense)
    d = rows - columns
    return max(0, int(d.max(initial=0))), max(0, int(-d.min(initial=0)))


def dense_from_band(ab, kl, ku, N):
    """Rebuild the dense matrix from band storage, entry by entry."""
    dense = np.zeros((N, N))
    for j in range(N):
        for i in range(max(0, j - ku), min(N, j + kl + 1)):
            dense[i, j] = ab[kl + ku + i - j, j]
    return dense


def sparse_blocks(rng, sizes, density=0.3):
    """Dominant random blocks with most off-diagonal entries set to zero,
    so that the nonzero pattern is narrower than the block sizes allow."""
    diagonal, lower, upper = random_blocks(rng, sizes)

    def thin(block):
        return block * (rng.random(block.shape) < density)

    lower = [thin(e) for e in lower]
    upper = [thin(f) for f in upper]
    # Keep the dominant diagonal, so the matrix stays well conditioned.
    diagonal = [np.diag(np.diag(d)) + thin(d - np.diag(np.diag(d))) for d in diagonal]
    return diagonal, lower, upper


@pytest.mark.parametrize("sizes", SIZES)
def test_bandwidths_from_sizes(sizes):
    A = BlockTridiagonal(*random_blocks(make_rng(30, *sizes), sizes))

    kl, ku = A.bandwidths()

    # The stated formula, and (random blocks have no zero entries) the
    # bandwidths of the dense nonzero pattern, which tight=True must find.
    pairs = [sizes[k] + sizes[k + 1] - 1 for k in range(len(sizes) - 1)]
    expected = max(pairs) if pairs else sizes[0] - 1
    assert (kl, ku) == (expected, expected)
    assert dense_bandwidths(A.to_dense()) == (kl, ku)
    assert A.bandwidths(tight=True) == (kl, ku)
    assert all(isinstance(w, int) for w in (kl, ku))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("sizes", [(3, 1, 2), (4, 4, 4, 4, 4), (1, 5, 1, 5, 1, 5)])
def test_tight_bandwidths_follow_the_nonzero_pattern(sizes, seed):
    A = BlockTridiagonal(*sparse_blocks(make_rng(31, *sizes, seed), sizes))

    tight = A.bandwidths(tight=True)

    assert tight == dense_bandwidths(A.to_dense())
    assert tight[0] <= A.bandwidths()[0] and tight[1] <= A.bandwidths()[1]


def test_tight_bandwidths_of_a_diagonal_matrix_are_zero():
    A = BlockTridiagonal([np.diag([1.0, 2.0]), [[3.0]]], [np.zeros((1, 2))],
                         [np.zeros((2, 1))])

    assert A.bandwidths() == (2, 2)
    assert A.bandwidths(tight=True) == (0, 0)
    # dgbtrf with kl = ku = 0: a diagonal solve, exact for these numbers.
    fac = A.factor_banded(tight=True)
    assert (fac.kl, fac.ku) == (0, 0)
    np.testing.assert_array_equal(fac.solve([2.0, 4.0, 6.0]), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("tight", [False, True])
@pytest.mark.parametrize("sizes", SIZES)
def test_to_banded_round_trip(sizes, tight):
    rng = make_rng(32, *sizes, tight)
    A = BlockTridiagonal(*sparse_blocks(rng, sizes, density=0.5))
    N = A.shape[0]
    kl, ku = A.bandwidths(tight=tight)

    ab = A.to_banded(kl, ku)

    assert ab.shape == (2 * kl + ku + 1, N)
    assert ab.dtype == np.float64 and ab.flags.f_contiguous
    # Pure copying: the rebuilt matrix equals to_dense exactly.
    np.testing.assert_array_equal(dense_from_band(ab, kl, ku, N), A.to_dense())
    # The kl fill-in rows are zero, and so are the slots outside the matrix.
    assert not ab[:kl].any()
    for j in range(N):
        inside = [kl + ku + i - j for i in range(max(0, j - ku), min(N, j + kl + 1))]
        outside = np.setdiff1d(np.arange(kl, 2 * kl + ku + 1), inside)
        assert not ab[outside, j].any()


@pytest.mark.parametrize("sizes", [(1,), (2, 3, 1), (1, 5, 1, 5, 1, 5)])
def test_to_banded_is_the_layout_of_scipy_solve_banded(sizes):
    rng = make_rng(33, *sizes)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    N = A.shape[0]
    b = rng.standard_normal(N)

    ab = A.to_banded()
    kl, ku = A.bandwidths()
    x = scipy.linalg.solve_banded((kl, ku), ab[kl:], b)

    # ab[kl:] read as SciPy's (l, u) storage must give A's solution: two
    # backward-stable solves, within twice backward error times cond.
    tol = 2 * BACKWARD_C * N * EPS * np.linalg.cond(dense, np.inf)
    x_dense = np.linalg.solve(dense, b)
    assert max_abs(x - x_dense) <= tol * max_abs(x_dense)


def test_to_banded_defaults_and_wider_bands():
    A = BlockTridiagonal(*random_blocks(make_rng(34), (2, 3, 1)))
    N = A.shape[0]
    kl, ku = A.bandwidths()

    np.testing.assert_array_equal(A.to_banded(), A.to_banded(kl, ku))
    # A band wider than needed (even wider than N - 1) holds the same matrix.
    for wide_kl, wide_ku in [(kl + 2, ku), (kl, N + 1), (N, N)]:
        ab = A.to_banded(wide_kl, wide_ku)
        rebuilt = dense_from_band(ab, wide_kl, wide_ku, N)
        np.testing.assert_array_equal(rebuilt, A.to_dense())


def test_to_banded_leaves_out_only_zeros():
    # Coupled only through A[1, 2]: tight bandwidths (0, 1).
    A = BlockTridiagonal([np.eye(2), np.eye(3)], [np.zeros((3, 2))],
                         [[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])

    ab = A.to_banded(0, 1)

    np.testing.assert_array_equal(dense_from_band(ab, 0, 1, 5), A.to_dense())
    with pytest.raises(ValueError, match=r"^ku: expected an integer >= 1, .*got 0"):
        A.to_banded(0, 0)
    # Full 2 x 2 blocks: every entry is nonzero, kl = 2 + 2 - 1 = 3 needed.
    with pytest.raises(ValueError, match=r"^kl: expected an integer >= 3, .*got 1"):
        BlockTridiagonal(*random_blocks(make_rng(35), (2, 2))).to_banded(1, 3)


BAD_BANDWIDTH_CASES = {
    # name: (keyword arguments, exception, message pattern)
    "negative kl": ({"kl": -1}, ValueError, r"^kl: .*non-negative integer, got -1$"),
    "negative ku": ({"ku": -2}, ValueError, r"^ku: .*non-negative integer, got -2$"),
    "fractional kl": ({"kl": 1.5}, TypeError, r"^kl: .*non-negative integer, got 1.5"),
    "boolean ku": ({"ku": True}, TypeError, r"^ku: .*non-negative integer, got True"),
    "string kl": ({"kl": "2"}, TypeError, r"^kl: .*non-negative integer, got '2'"),
}


@pytest.mark.parametrize("case", list(BAD_BANDWIDTH_CASES))
def test_to_banded_rejects_bad_bandwidths(case):
    kwargs, error, message = BAD_BANDWIDTH_CASES[case]
    A = BlockTridiagonal(*good_blocks())

    with pytest.raises(error, match=message):
        A.to_banded(**kwargs)


# --------------------------------------------------------- banded solve


@pytest.mark.parametrize("columns", RHS_COLUMNS)
@pytest.mark.parametrize("sizes", SIZES)
def test_banded_solve_three_ways(sizes, columns):
    rng = make_rng(36, *sizes, columns)
    A = BlockTridiagonal(*random_blocks(rng, sizes))
    dense = A.to_dense()
    N = A.shape[0]
    cond = np.linalg.cond(dense, np.inf)
    b = random_rhs(rng, N, columns)
    b_before = b.copy()

    fac = A.factor_banded()
    x = fac.solve(b)

    assert x.shape == b.shape and x.dtype == np.float64
    np.testing.assert_array_equal(b, b_before)
    # The keyword reaches the same LAPACK calls on the same data: identical.
    np.testing.assert_array_equal(A.solve(b, method="banded"), x)

    # 1. Scaled residual. Partial pivoting keeps every multiplier at most 1
    #    and, on these well-conditioned matrices, the growth of U small, so
    #    the backward error is a modest multiple of N eps, as for block
    #    elimination: the same BACKWARD_C.
    assert scaled_residual(dense, x, b) <= BACKWARD_C * N * EPS

    # 2. Against numpy.linalg.solve and against the block solve: each of the
    #    two answers is within backward error times cond of the exact one.
    forward_tol = 2 * BACKWARD_C * N * EPS * cond
    for other in (np.linalg.solve(dense, b), A.solve(b, method="block")):
        assert max_abs(x - other) <= forward_tol * max_abs(other)

    # 3. A known answer, b = A x_true; rounding b adds a term of that order.
    x_true = random_rhs(rng, N, columns)
    assert max_abs(fac.solve(dense @ x_true) - x_true) <= forward_tol * max_abs(x_true)


@pytest.mark.parametrize("sizes", [(3, 1, 2), (1, 5, 1, 5, 1, 5)])
def test_tight_banded_solve_matches_full_band(sizes):
    rng = make_rng(37, *sizes)
    A = BlockTridiagonal(*sparse_blocks(rng, sizes))
    b = rng.standard_normal((A.shape[0], 2))

    full = A.factor_banded()
    tight = A.factor_banded(tight=True)

    assert (tight.kl, tight.ku) == A.bandwidths(tight=True)
    assert tight.lu.shape[0] <= full.lu.shape[0]
    # The same pivoted elimination (rows beyond the tight kl hold zeros in
    # every column they could pivot), perhaps summed in another order:
    # within twice backward error times cond.
    N = A.shape[0]
    tol = 2 * BACKWARD_C * N * EPS * np.linalg.cond(A.to_dense(), np.inf)
    x = full.solve(b)
    assert max_abs(tight.solve(b) - x) <= tol * max_abs(x)


def test_banded_solve_with_zero_columns():
    fac = BlockTridiagonal(*random_blocks(make_rng(38), (2, 1))).factor_banded()

    assert fac.solve(np.zeros((3, 0))).shape == (3, 0)


def test_banded_factorization_attributes():
    A = BlockTridiagonal(*good_blocks())
    N = A.shape[0]

    fac = A.factor_banded()

    assert isinstance(fac, BandedLUFactorization)
    assert (fac.kl, fac.ku) == A.bandwidths() == (4, 4)
    assert fac.shape == A.shape == (N, N)
    assert fac.lu.shape == (2 * fac.kl + fac.ku + 1, N)
    assert fac.piv.shape == (N,)
    assert fac.matrix is A
    assert (fac.sizes, fac.offsets, fac.n_blocks) == (A.sizes, A.offsets, 3)
    assert "kl=4" in repr(fac)
    for a in (fac.lu, fac.piv):
        with pytest.raises(ValueError, match="read-only"):
            a[0, ...] = 0
    with pytest.raises(AttributeError):
        fac.kl = 0


@pytest.mark.parametrize("sizes", SIZES)
def test_banded_rcond(sizes):
    A = BlockTridiagonal(*signed_blocks(make_rng(39, *sizes), sizes))
    dense = A.to_dense()

    rcond = A.factor_banded().rcond

    # dgbcon under-estimates ||A^{-1}||_1 (rcond >= exact, up to rounding);
    # on these small matrices within a factor 10 of it.
    exact = 1.0 / (np.linalg.norm(dense, 1) * np.linalg.norm(np.linalg.inv(dense), 1))
    assert exact * (1 - 1e-8) <= rcond <= 10 * exact


# ------------------------------------- banded LU where block LU breaks down


def permuted_triangular(rng, sizes, swaps):
    """A row permutation of an upper bidiagonal integer matrix U (diagonal
    +-4, superdiagonal in -2..2), cut into blocks; swaps are row pairs.

    Partial pivoting finds a single nonzero in each remaining column, so
    dgbtrf recovers U with zero multipliers, and a solve with an integer
    right-hand side b = A x_true (x_true integer) is exact: every step is
    an integer sum or a division by 4 that returns an integer.
    """
    N = sum(sizes)
    U = np.diag(rng.choice([-4.0, 4.0], N)) + np.diag(
        rng.integers(-2, 3, N - 1).astype(float), 1
    )
    order = np.arange(N)
    for i, j in swaps:
        order[[i, j]] = order[[j, i]]
    return U[order]


EXACT_BANDED_CASES = {
    # name: (dense matrix, sizes); D_0 is singular in each.
    "[[0, 1], [1, 0]] as two 1 x 1 blocks": (
        np.array([[0.0, 1.0], [1.0, 0.0]]),
        (1, 1),
    ),
    # Row 0 of U moves into block 1, so column 0 of D_0 is zero.
    "four blocks, D_0 with a zero column": (
        permuted_triangular(make_rng(40), (3, 2, 3, 2), [(0, 3), (7, 8)]),
        (3, 2, 3, 2),
    ),
}


@pytest.mark.parametrize("case", list(EXACT_BANDED_CASES))
def test_banded_solves_exactly_where_the_first_pivot_block_is_singular(case):
    dense, sizes = EXACT_BANDED_CASES[case]
    A = BlockTridiagonal.from_dense(dense, sizes)
    N = A.shape[0]
    x_true = make_rng(41).integers(-5, 6, (N, 2)).astype(float)
    b = dense @ x_true  # small integers: exact

    assert np.linalg.matrix_rank(A.diagonal[0]) < sizes[0]
    with pytest.raises(SingularBlockError) as err:
        A.factor()
    assert err.value.block == 0

    fac = A.factor_banded()

    # Integer arithmetic and divisions by powers of two only: exact.
    np.testing.assert_array_equal(fac.solve(b), x_true)
    np.testing.assert_array_equal(fac.solve(b[:, 0]), x_true[:, 0])
    np.testing.assert_array_equal(A.solve(b, method="banded"), x_true)
    # The determinant is read off the same exact U.
    expected = np.linalg.slogdet(dense)
    sign, logabsdet = fac.slogdet()
    assert sign == expected.sign
    assert logabsdet == pytest.approx(expected.logabsdet, abs=4 * N * EPS)


@pytest.mark.parametrize("case", list(SINGULAR_PIVOT_CASES))
def test_banded_solves_the_singular_pivot_block_cases(case):
    dense, sizes, _, _ = SINGULAR_PIVOT_CASES[case]
    dense = np.array(dense)
    A = BlockTridiagonal.from_dense(dense, sizes)
    N = A.shape[0]
    b = np.arange(1.0, N + 1)

    x = A.solve(b, method="banded")

    # Scaled residual, the backward error of a pivoted LU (BACKWARD_C N eps).
    assert scaled_residual(dense, x, b) <= BACKWARD_C * N * EPS
    tol = 2 * BACKWARD_C * N * EPS * np.linalg.cond(dense, np.inf)
    x_dense = np.linalg.solve(dense, b)
    assert max_abs(x - x_dense) <= tol * max_abs(x_dense)


def test_banded_solves_the_overflowing_schur_complement():
    # Regression for the case block elimination refuses (U_1 overflows):
    # the banded LU swaps the two rows, as a dense pivoted LU does.
    A = BlockTridiagonal([[[1e-200]], [[1.0]]], [[[1e100]]], [[[1e100]]])
    dense = A.to_dense()
    b = np.array([1e100, 1.0])

    x = A.solve(b, method="banded")

    # cond(A) < 10, so the forward error is a few eps.
    x_dense = np.linalg.solve(dense, b)
    assert max_abs(x - x_dense) <= 10 * 2 * EPS * max_abs(x_dense)


# ------------------------------------------------------- banded slogdet


@pytest.mark.parametrize("sizes", SIZES)
def test_banded_slogdet_matches_numpy(sizes):
    A = BlockTridiagonal(*signed_blocks(make_rng(15, *sizes), sizes))
    dense = A.to_dense()

    sign, logabsdet = A.factor_banded().slogdet()

    expected = np.linalg.slogdet(dense)
    assert isinstance(sign, float) and isinstance(logabsdet, float)
    assert sign == expected.sign
    # Backward error on both routes, bounded as in logdet_tolerance.
    assert abs(logabsdet - expected.logabsdet) <= logdet_tolerance(dense)
    # And against block elimination, the same bound.
    block_sign, block_log = A.factor().slogdet()
    assert sign == block_sign
    assert abs(logabsdet - block_log) <= logdet_tolerance(dense)


@pytest.mark.parametrize("case", list(SLOGDET_BY_HAND))
def test_banded_slogdet_by_hand(case):
    diagonal, lower, upper, sign, absdet = SLOGDET_BY_HAND[case]

    got = BlockTridiagonal(diagonal, lower, upper).factor_banded().slogdet()

    # Small integers, no rounding in the LU: exact up to the last log.
    assert got[0] == sign
    assert got[1] == pytest.approx(np.log(absdet), abs=4 * EPS)


def test_banded_slogdet_does_not_overflow():
    sizes = (3, 3, 3, 3, 3, 3)
    blocks = signed_blocks(make_rng(16), sizes)
    big = BlockTridiagonal(*([1e60 * b for b in part] for part in blocks))

    sign, logabsdet = big.factor_banded().slogdet()

    # det(c A) = c^N det A; as in test_slogdet_does_not_overflow, scaling
    # moves log|det| by about N cond(A) 1e-16, far inside rel=1e-13.
    base_sign, base_log = np.linalg.slogdet(BlockTridiagonal(*blocks).to_dense())
    assert sign == base_sign
    assert logabsdet == pytest.approx(base_log + 18 * np.log(1e60), rel=1e-13)


# ------------------------------------------------------- banded failures


SINGULAR_MATRIX_CASES = {
    # name: (dense matrix, sizes, row of the zero U(i, i), its block)
    # GEPP takes row 1 as pivot: U(1, 1) = 2 - (1 / 2) * 4 = 0 exactly.
    "[[1, 2], [2, 4]] as two 1 x 1 blocks": ([[1.0, 2.0], [2.0, 4.0]], (1, 1), 1, 1),
    # Column 3 is zero, so it stays zero through steps 0-2: U(3, 3) = 0.
    "zero column in block 1": (
        [
            [4.0, 1.0, 2.0, 0.0, 0.0],
            [1.0, 4.0, 1.0, 0.0, 0.0],
            [2.0, 1.0, 4.0, 0.0, 1.0],
            [1.0, 2.0, 1.0, 0.0, 1.0],
            [0.0, 0.0, 1.0, 0.0, 4.0],
        ],
        (2, 2, 1),
        3,
        1,
    ),
}


@pytest.mark.parametrize("case", list(SINGULAR_MATRIX_CASES))
def test_banded_singular_matrix_raises(case):
    dense, sizes, row, block = SINGULAR_MATRIX_CASES[case]
    A = BlockTridiagonal.from_dense(np.array(dense), sizes)

    with pytest.raises(SingularMatrixError, match=r"exactly singular") as err:
        A.factor_banded()

    assert err.value.row == row and err.value.block == block
    assert err.value.rcond is None
    assert f"row {row} (0-based), in block {block}" in str(err.value)
    assert isinstance(err.value, np.linalg.LinAlgError)
    assert not isinstance(err.value, SingularBlockError)
    with pytest.raises(SingularMatrixError):
        A.solve(np.ones(len(dense)), method="banded")


def test_banded_numerically_singular_matrix_raises_with_rcond():
    # [[1, 1], [1, 1 + 2 eps]]: no interchange, U(1, 1) = 2 eps exactly, and
    # rcond = 2 eps / (2 + 2 eps)^2, about eps / 2 < RCOND_SINGULAR.
    A = BlockTridiagonal([[[1.0]], [[1.0 + 2 * EPS]]], [[[1.0]]], [[[1.0]]])

    with pytest.raises(SingularMatrixError, match=r"numerically singular") as err:
        A.factor_banded()

    assert err.value.row == 1 and err.value.block == 1
    assert err.value.rcond < RCOND_SINGULAR
    assert "rcond" in str(err.value)
    # singular_rcond = 0 accepts it, as for factor().
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        assert A.factor_banded(singular_rcond=0.0).rcond < RCOND_SINGULAR


@pytest.mark.parametrize("via", ["factor_banded", "solve"])
def test_banded_ill_conditioned_matrix_warns(via):
    # [[1, 1], [1, 1 + 1e-10]] has rcond about 1e-10 / 4, between eps and
    # sqrt(eps); as two 1 x 1 blocks block elimination sees no bad block.
    A = BlockTridiagonal([[[1.0]], [[1.0 + 1e-10]]], [[[1.0]]], [[[1.0]]])
    run = A.factor_banded if via == "factor_banded" else (
        lambda: A.solve(np.ones(2), method="banded")
    )

    with pytest.warns(LinAlgWarning, match=r"ill-conditioned.*rcond") as rec:
        run()

    assert len(rec) == 1
    # stacklevel points at the caller, this file.
    assert rec[0].filename == __file__


@pytest.mark.parametrize("value", [-0.1, 1.0, np.nan])
def test_factor_banded_rejects_bad_singular_rcond(value):
    A = BlockTridiagonal(*good_blocks())

    with pytest.raises(ValueError, match=r"^singular_rcond: expected a number in"):
        A.factor_banded(singular_rcond=value)


@pytest.mark.parametrize("method", ["dense", "Banded", "", None, 1])
def test_solve_rejects_unknown_method(method):
    A = BlockTridiagonal(*good_blocks())

    message = rf"^method: expected one of 'block', 'banded', got {method!r}$"
    with pytest.raises(ValueError, match=message):
        A.solve(np.ones(6), method=method)


@pytest.mark.parametrize("case", list(BAD_OPERAND_CASES))
def test_banded_solve_rejects_bad_operands(case):
    value, error, message = BAD_OPERAND_CASES[case]
    A = BlockTridiagonal(*good_blocks())

    with pytest.raises(error, match=rf"^b: .*{message}"):
        A.solve(value, method="banded")
    with pytest.raises(error, match=rf"^b: .*{message}"):
        A.factor_banded().solve(value)
    with pytest.raises(ValueError, match=r"^b: expected finite"):
        A.factor_banded().solve(with_nan(np.ones(6), 2))


def test_banded_path_never_modifies_inputs():
    blocks = good_blocks()
    before = [[b.copy() for b in blocks_list] for blocks_list in blocks]
    A = BlockTridiagonal(*blocks)
    dense = A.to_dense()
    b = np.ones((6, 2))

    ab = A.to_banded()
    A.factor_banded(tight=True).solve(b)
    A.solve(b[:, 0], method="banded")

    np.testing.assert_array_equal(b, np.ones((6, 2)))
    for got_list, want_list in zip(blocks, before):
        for got, want in zip(got_list, want_list):
            np.testing.assert_array_equal(got, want)
    # to_banded returns a fresh array: writing to it leaves the matrix alone.
    ab[...] = 7.0
    np.testing.assert_array_equal(A.to_dense(), dense)
    np.testing.assert_array_equal(A.diagonal[0], blocks[0][0])


# ---------------------------------------------------------- banded cost


def test_banded_memory_is_linear_in_the_number_of_blocks():
    import tracemalloc

    # 2000 blocks of size 30: N = 60000, a dense matrix would need
    # N^2 * 8 bytes = 28.8 GB; the band (kl = ku = 59) needs 85 MB.
    n, m = 2000, 30
    rng = make_rng(42)
    # Entries in [-1, 1] and 3 m + 1 on the diagonal: each row strictly
    # diagonally dominant, so the matrix is well conditioned.
    diagonal = [rng.uniform(-1, 1, (m, m)) + (3 * m + 1) * np.eye(m) for _ in range(n)]
    lower = [rng.uniform(-1, 1, (m, m)) for _ in range(n - 1)]
    upper = [rng.uniform(-1, 1, (m, m)) for _ in range(n - 1)]
    A = BlockTridiagonal(diagonal, lower, upper)
    del diagonal, lower, upper
    N = A.shape[0]
    kl, ku = A.bandwidths()
    band_bytes = (2 * kl + ku + 1) * N * 8
    b = rng.standard_normal(N)

    tracemalloc.start()
    try:
        x = A.solve(b, method="banded")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The band itself plus temporaries smaller than it (the finiteness mask
    # is an eighth of it); the dense matrix would be 300 times the band.
    assert peak <= 2 * band_bytes
    assert 100 * 2 * band_bytes <= N**2 * 8
    # Each row: a diagonal entry in [3 m, 3 m + 2] and 3 m - 1 others of size
    # at most 1, so ||A||_inf <= 6 m + 1, and the dominance margin is at
    # least 1, so ||A^{-1}||_inf <= 1 (Varah) and cond_inf(A) <= 6 m + 1.
    norm_a = 6 * m + 1
    # Scaled residual through matvec, without a dense matrix.
    r = A @ x - b
    assert max_abs(r) <= BACKWARD_C * N * EPS * (norm_a * max_abs(x) + max_abs(b))
    # The block solve, within twice backward error times that cond bound.
    x_block = A.solve(b)
    tol = 2 * BACKWARD_C * N * EPS * norm_a
    assert max_abs(x - x_block) <= tol * max_abs(x_block)
