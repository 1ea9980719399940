# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Block-tridiagonal elimination, step by step
#
# The method of this project solves `(H + eps I) x = v` by turning it into a
# larger system that is block tridiagonal, and eliminating that system one
# block at a time. This notebook shows the elimination twice:
#
# 1. on a small random block-tridiagonal matrix, with
#    `hessian_ref.block_tridiagonal.BlockTridiagonal`, each pivot block
#    compared with the Schur complement that dense linear algebra gives
#    (derivation.md section 6);
# 2. on a network: the augmented system `K` of derivation.md section 4, the
#    pivot `Pi` of section 5 that makes it block tridiagonal (`K' = Pi K
#    Pi^T`), and its elimination, whose answer is checked against
#    `numpy.linalg.solve(H + eps I, v)`. At the end, the Riccati sweep of
#    section 12, which factors `H + eps I` itself with smaller pivots.
#
# Claims of `paper/claims.md` shown here: C9, C11, C13, C14 (and X3, X4 for
# the sweep). Every comparison with dense computation is an `assert` whose
# tolerance is explained next to it.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

from hessian_ref import MLP, BlockTridiagonal
from hessian_ref.augmented import (
    augmented_system,
    pivot_matrix,
    pivot_permutation,
    solve_from_blocks,
)
from hessian_ref.dense import autograd_hessian, dense_augmented
from hessian_ref.hvp import adjoint_sweep, split_by_layer, tangent_sweep
from hessian_ref.riccati import RiccatiFactorization

START = time.perf_counter()
MACHINE_EPS = np.finfo(float).eps
CHECKS = []  # (what, claim, measured, tolerance), for the summary at the end


def check(what, claim, measured, tolerance):
    """Assert measured <= tolerance, print it, and keep it for the summary."""
    CHECKS.append((what, claim, measured, tolerance))
    print(f"{what}: {measured:.1e}  (tolerance {tolerance:.1e})")
    assert measured <= tolerance, (what, measured, tolerance)


def rel_err(a, b):
    """Largest entry of |a - b|, relative to the largest entry of |b|."""
    return np.abs(a - b).max() / np.abs(b).max()


def draw_blocks(ax, offsets, color="tab:red", lw=0.8):
    """Block boundaries at the given offsets, on both axes."""
    for o in offsets[1:-1]:
        ax.axhline(o - 0.5, color=color, lw=lw)
        ax.axvline(o - 0.5, color=color, lw=lw)


# %% [markdown]
# ## Part 1: a random block-tridiagonal matrix
#
# Four diagonal blocks of sizes 3, 2, 4 and 3 (`N = 12`), with Gaussian
# entries and `2 I` added to the diagonal blocks so that the matrix and its
# pivot blocks are comfortably nonsingular. It is not symmetric.
# `BlockTridiagonal` stores only the three block diagonals
# (`diagonal[k] = D_k`, `lower[k - 1] = E_k` below, `upper[k] = F_k` above;
# blocks numbered from 0 in code).

# %%
rng = np.random.default_rng(6)
sizes = (3, 2, 4, 3)
n = len(sizes)
D = [rng.standard_normal((m, m)) + 2 * np.eye(m) for m in sizes]
E = [rng.standard_normal((sizes[k + 1], sizes[k])) for k in range(n - 1)]
F = [rng.standard_normal((sizes[k], sizes[k + 1])) for k in range(n - 1)]
A = BlockTridiagonal(D, E, F)
Ad = A.to_dense()
o = A.offsets
blocks = [slice(o[k], o[k + 1]) for k in range(n)]
cond_A = np.linalg.cond(Ad)
print(A, " offsets:", o)
print(f"cond_2(A) = {cond_A:.1f}")

# %% [markdown]
# ### The elimination
#
# Block elimination (the block Thomas algorithm, derivation.md section 6) is
# Gaussian elimination done one block column at a time:
#
#     U_0 = D_0,    U_k = D_k - E_k U_{k-1}^{-1} F_{k-1}.
#
# `A.factor()` returns a `BlockLUFactorization` holding the pivot blocks
# `U_k` (`pivot_blocks`), their LAPACK LU factors (`lu_factors`, partial
# pivoting inside the block only) and condition estimates (`rcond`).
#
# Dense counterpart. Eliminating the first `o_k` unknowns of a matrix
# leaves, in the remaining rows and columns, the Schur complement
# `A_22 - A_21 A_11^{-1} A_12` of its leading `o_k x o_k` block `A_11`. Its
# leading `m_k x m_k` block is the `k`-th pivot. Because `A` is block
# tridiagonal, only `F_{k-1}` and `E_k` connect block `k` with the eliminated
# ones, so this dense Schur complement must equal `U_k`. We form it with
# `numpy.linalg.solve` on the whole leading block, ignoring the structure.
#
# Tolerance: each route applies the inverse of the eliminated part once (the
# library through the LU factors of `U_{k-1}`, the dense route through a
# solve with `A_11`) and then a product, so each carries an error of about
# `cond(A_11) eps_mach` relative to the entries involved; we allow
# `100 cond(A_11) eps_mach` relative to the largest entry of `U_k` (100 for
# the constants and the size of the products). `U_0 = D_0` is copied, so it
# must match exactly.

# %%
factorization = A.factor()


def dense_schur_pivot(M, offsets, k):
    """Dense reference: the Schur complement of M's leading o_k x o_k block,
    restricted to block k; and cond(leading block)."""
    head, rows = slice(0, offsets[k]), slice(offsets[k], offsets[k + 1])
    if offsets[k] == 0:
        return M[rows, rows].copy(), 1.0
    A11 = M[head, head]
    schur = M[rows, rows] - M[rows, head] @ np.linalg.solve(A11, M[head, rows])
    return schur, np.linalg.cond(A11)


np.set_printoptions(precision=4, suppress=True, linewidth=100)
for k in range(n):
    U = factorization.pivot_blocks[k]
    schur, cond_lead = dense_schur_pivot(Ad, o, k)
    print(f"\nstep {k}: pivot block U_{k} ({sizes[k]} x {sizes[k]}), "
          f"rcond estimate {factorization.rcond[k]:.2f}")
    print(U)
    tol = 100 * cond_lead * MACHINE_EPS if k else 0.0
    what = (f"U_{k} vs dense Schur complement of A[:{o[k]}, :{o[k]}]" if k
            else "U_0 vs D_0 (nothing eliminated yet)")
    check(what, "section 6", rel_err(U, schur), tol)

# %% [markdown]
# ### Why not just call `scipy.linalg.lu`?
#
# `scipy.linalg.lu(A)` factors `A = P L U` with partial pivoting: at each
# step it takes the largest entry of the current column as the pivot, from
# any row below, including rows of later blocks. The block elimination above
# never exchanges rows between blocks; it is Gaussian elimination with row
# exchanges only inside a block. That restriction keeps every factor in the
# blocks of `A`'s band, one small dense factorization per block (so the cost
# is linear in the number of blocks), and it is also why the pivot blocks
# are exactly the successive Schur complements.
#
# Two dense computations make this concrete:
#
# - `scipy.linalg.lu` on the whole matrix does move rows across blocks here
#   (printed below), so its factors cannot be cut into the `U_k`. Its
#   determinant must still agree with `prod_k det U_k`, which is what
#   `factorization.slogdet()` returns (claim X3 uses this on `K'`).
# - Scalar Gaussian elimination without any row exchange, a few lines of
#   dense reference code, gives `A = L_s U_s`; cut into blocks, the product
#   of its diagonal blocks `L_s[k, k] U_s[k, k]` is the Schur complement at
#   step `k`, so it must equal `U_k`.
#
# Tolerances: a relative perturbation of size `eps_mach` of `A` moves its
# determinant by at most about `N cond(A) eps_mach` relative (see part 3),
# so we allow `100 N cond(A) eps_mach` between the two factorizations. The
# exchange-free elimination has no stability guarantee, but the pivots here
# are of order one; we allow the same `100 cond(A_11) eps_mach` as above.

# %%
Pm, Ls, Us = scipy.linalg.lu(Ad)
source_row = Pm.argmax(axis=0)  # row i of L U is row source_row[i] of A
block_of = np.searchsorted(o, np.arange(o[-1]), side="right") - 1
moved = [(i, int(source_row[i])) for i in range(o[-1])
         if block_of[i] != block_of[source_row[i]]]
print(f"scipy.linalg.lu: {len(moved)} of {o[-1]} rows come from another block "
      f"(row of L U <- row of A): {moved}")

sign_lu, logdet_lu = factorization.slogdet()
det_blocks = sign_lu * np.exp(logdet_lu)
det_scipy = np.linalg.det(Pm) * np.prod(np.diag(Us))
print(f"det A: prod det U_k = {det_blocks:.10f},  scipy.linalg.lu = {det_scipy:.10f}")
check("prod det U_k vs det from scipy.linalg.lu (relative)", "section 7",
      abs(det_blocks - det_scipy) / abs(det_scipy), 100 * o[-1] * cond_A * MACHINE_EPS)


def lu_without_exchanges(M):
    """Dense reference: Gaussian elimination with no row exchanges, M = L U."""
    U = M.astype(float).copy()
    L = np.eye(len(M))
    for j in range(len(M) - 1):
        L[j + 1:, j] = U[j + 1:, j] / U[j, j]
        U[j + 1:, j:] -= np.outer(L[j + 1:, j], U[j, j:])
    return L, U


Ln, Un = lu_without_exchanges(Ad)
for k in range(n):
    b = blocks[k]
    _, cond_lead = dense_schur_pivot(Ad, o, k)
    err = rel_err(Ln[b, b] @ Un[b, b], factorization.pivot_blocks[k])
    check(f"L_s[{k},{k}] U_s[{k},{k}] (no row exchanges) vs U_{k}", "section 6",
          err, 100 * cond_lead * MACHINE_EPS)

# %% [markdown]
# ### The block factors and the solve
#
# The factorization is `A = L R` (claim C14's block LDU, in the form the
# library stores): `L` is unit block lower bidiagonal with `L_k = E_k
# U_{k-1}^{-1}` below the diagonal, and `R` is block upper bidiagonal with
# `U_k` on the diagonal and `F_k` above it. The library never forms `L`; here
# we assemble both densely (a reference computation) to look at them and to
# check `L R = A`. Tolerance: an entry of `L R - A` from an LU factorization
# is at most about `N eps_mach max|L| max|R|` (`N = 12`); we allow 100 times
# that, relative to `max|A|`.
#
# Solving `A s = r` is then two block-bidiagonal sweeps (derivation.md
# section 6): forward `f_0 = r_0`, `f_k = r_k - E_k U_{k-1}^{-1} f_{k-1}`;
# backward `s_{n-1} = U_{n-1}^{-1} f_{n-1}`,
# `s_k = U_k^{-1} (f_k - F_k s_{k+1})`. Against `numpy.linalg.solve`
# (LAPACK's LU with partial pivoting): a backward-stable solve has a relative
# error of about `cond(A) eps_mach`, so two of them differ by at most about
# twice that; we allow `100 cond(A) eps_mach`.

# %%
Lb = np.eye(o[-1])
Rb = np.zeros_like(Ad)
for k in range(n):
    Rb[blocks[k], blocks[k]] = factorization.pivot_blocks[k]
    if k + 1 < n:
        Rb[blocks[k], blocks[k + 1]] = A.upper[k]
        Lb[blocks[k + 1], blocks[k]] = np.linalg.solve(
            factorization.pivot_blocks[k].T, A.lower[k].T).T
scale = np.abs(Lb).max() * np.abs(Rb).max() * o[-1]
check("max|L R - A| / max|A|", "C14", rel_err(Lb @ Rb, Ad),
      100 * MACHINE_EPS * scale / np.abs(Ad).max())

r = rng.standard_normal(o[-1])
s = factorization.solve(r)
s_dense = np.linalg.solve(Ad, r)
err_solve = np.linalg.norm(s - s_dense) / np.linalg.norm(s_dense)
check("block solve vs numpy.linalg.solve, relative 2-norm", "section 6",
      err_solve, 100 * cond_A * MACHINE_EPS)

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
vmax = np.abs(Ad).max()
cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
for ax, mat, title in ((axes[0], Ad, "A (block tridiagonal)"),
                       (axes[1], Lb, "L: I, and E_k U_(k-1)^-1 below"),
                       (axes[2], Rb, "R: U_k, and F_k above")):
    image = ax.imshow(np.ma.masked_equal(mat, 0.0), cmap=cmap, vmin=-vmax,
                      vmax=vmax, interpolation="nearest")
    draw_blocks(ax, o, color="0.3")
    ax.set_title(title)
    ax.set_xlabel("column index")
    ax.set_ylabel("row index")
fig.colorbar(image, ax=axes, shrink=0.8, label="entry (grey: exactly 0)")
fig.suptitle("Block LU of a random block-tridiagonal matrix: A = L R, "
             "both factors inside the band (lines: block boundaries)")
plt.show()

# %% [markdown]
# ## Part 2: the same elimination on a network
#
# A network with three hidden `tanh` layers of width 4 and a softmax
# cross-entropy head, on 3 samples: `L = 4` layers, so `K'` will have four
# diagonal blocks. Damping `eps = 0.1`. With these weights `H + eps I` is
# indefinite (it has negative eigenvalues, printed below): the method needs
# `H + eps I` nonsingular, not positive definite.

# %%
net = MLP((3, 4, 4, 4, 2), activation="tanh", loss="cross_entropy")
theta = net.init(seed=0)
B = 3
X = rng.standard_normal((B, 3))
labels = rng.integers(0, 2, size=B)
eps = 0.1

lin = net.linearize(theta, X, labels)
P, L = net.n_params, net.depth
p, a = lin.p, lin.a[1:]
Asum = sum(a)
H = autograd_hessian(net, theta, X, labels)
Heps = H + eps * np.eye(P)
eig = np.linalg.eigvalsh(Heps)
cond_H = np.abs(eig).max() / np.abs(eig).min()
print(net)
print(f"P = {P} parameters, A = a_1 + ... + a_L = {Asum}, eps = {eps}")
print(f"H + eps I: {np.sum(eig < 0)} negative eigenvalues of {P}; "
      f"cond_2 = {cond_H:.0f}")
print(f"{'l':>2} {'p_l':>4} {'a_l':>4} {'p_l + 2 a_l':>12} {'||H_ll||_2':>11}")
x_at = np.concatenate([[0], np.cumsum(p)])
for l in range(L):
    Hll = H[x_at[l]:x_at[l + 1], x_at[l]:x_at[l + 1]]
    print(f"{l + 1:>2} {p[l]:>4} {a[l]:>4} {p[l] + 2 * a[l]:>12} "
          f"{np.linalg.norm(Hll, 2):>11.3f}")

# %% [markdown]
# The last column is each layer's diagonal block of `H`: all well above
# `eps`, so the curvature reaches every layer and the checks below test
# something (derivation.md section 10).
#
# ### The augmented system and the pivot
#
# Naming the two sweeps of the Hessian-vector product as unknowns,
# `y = M^{-1} J x` and `w = M^{-T} Sh^T (R^T x + S Sh y)`, turns
# `(H + eps I) x = v` into `K (x, y, w) = (v, 0, 0)` (derivation.md
# section 4):
#
#     [ Q + eps I     R Sh          J^T ] [x]   [v]
#     [ -J            M             0   ] [y] = [0]
#     [ -Sh^T R^T    -Sh^T S Sh     M^T ] [w]   [0]
#
# `hessian_ref.dense.dense_augmented` builds this `K` densely, unknowns in
# the order `(x, y, w)`. Eliminating `y` and `w` gives back `H + eps I`
# (claim C9): its Schur complement onto `x` is checked against the autograd
# Hessian. Tolerance: the complement solves with the `(y, w)` block, so its
# rounding is about `cond(K_(yw,yw)) eps_mach` relative; we allow 100 times
# that.

# %%
K = dense_augmented(lin, eps)
N = K.shape[0]
xx, rest = slice(0, P), slice(P, N)
schur_x = K[xx, xx] - K[xx, rest] @ np.linalg.solve(K[rest, rest], K[rest, xx])
cond_yw = np.linalg.cond(K[rest, rest])
print(f"K is {N} x {N} (P + 2A = {P} + 2 x {Asum}); cond(K_(yw,yw)) = {cond_yw:.1f}")
check("Schur complement of K onto x vs H_autograd + eps I", "C9",
      rel_err(schur_x, Heps), 100 * cond_yw * MACHINE_EPS)

# %% [markdown]
# The pivot reorders unknowns and equations from
# `(x_1..x_L, y_1..y_L, w_1..w_L)` to `(x_1, y_1, w_1, ..., x_L, y_L, w_L)`
# (derivation.md section 5). `pivot_permutation(p, a)` gives it as an index
# array `perm` (`s' = s[perm]`), `pivot_matrix(p, a)` as the matrix `Pi`
# (`s' = Pi s`), and `augmented_system(lin, eps)` builds the pivoted
# `K' = Pi K Pi^T` directly from the layers' blocks as a `BlockTridiagonal`,
# never forming `K`. The three must agree exactly: they move the same
# numbers without arithmetic (tolerance 0; claims C11 and C13). `Pi` is a
# permutation, so `Pi^{-1} = Pi^T`; it is not its own inverse here, since
# the blocks differ in size (claim C12, erratum E2 of derivation.md).

# %%
perm = pivot_permutation(p, a)
Pi = pivot_matrix(p, a)
Kp = augmented_system(lin, eps)
Kp_dense = Kp.to_dense()
print(Kp, " (sizes p_l + 2 a_l)")
check("max|Pi K Pi^T - K'|", "C11", np.abs(Pi @ K @ Pi.T - Kp_dense).max(), 0.0)
check("max|K[perm][:, perm] - K'|", "C11",
      np.abs(K[perm][:, perm] - Kp_dense).max(), 0.0)
check("max|Pi Pi^T - I|", "C12", np.abs(Pi @ Pi.T - np.eye(N)).max(), 0.0)
print(f"max|Pi Pi - I| = {np.abs(Pi @ Pi - np.eye(N)).max():.0f}  "
      f"(not an involution as a matrix)")
outside = Kp_dense.copy()
for k in range(L):
    lo, hi = Kp.offsets[max(k - 1, 0)], Kp.offsets[min(k + 2, L)]
    outside[Kp.offsets[k]:Kp.offsets[k + 1], lo:hi] = 0.0
check("max|entry of K' outside the block-tridiagonal band|", "C13",
      np.abs(outside).max(), 0.0)

# %% [markdown]
# The nonzero patterns: `K` in its original order (the groups `x | y | w`
# split by blue lines, layers by dotted grey lines), the permutation `Pi`,
# and `K'` with its four diagonal blocks of `p_l + 2 a_l` rows (red). In `K`
# each of the nine big blocks is block diagonal or bidiagonal over layers
# (claim C10); after the pivot every nonzero sits in the band.

# %%
x_end, y_end = P, P + Asum
layer_edges = np.concatenate([x_at, P + np.cumsum([0, *a]),
                              P + Asum + np.cumsum([0, *a])])
fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), layout="constrained")
axes[0].imshow(K != 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
for e in np.unique(layer_edges)[1:-1]:
    axes[0].axhline(e - 0.5, color="0.6", lw=0.5, ls=":")
    axes[0].axvline(e - 0.5, color="0.6", lw=0.5, ls=":")
draw_blocks(axes[0], [0, x_end, y_end, N], color="tab:blue", lw=1.0)
axes[0].set_title(f"K, unknowns (x, y, w): {np.count_nonzero(K)} nonzeros")
axes[1].imshow(Pi != 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
axes[1].set_title("Pi: s' = Pi s  (one 1 per row)")
axes[2].imshow(Kp_dense != 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
draw_blocks(axes[2], Kp.offsets, color="tab:red", lw=1.0)
axes[2].set_title(f"K' = Pi K Pi^T: blocks of {', '.join(map(str, Kp.sizes))} rows")
axis_names = [("equation", "unknown"), ("position in s'", "position in s"),
              ("equation (pivoted)", "unknown (pivoted)")]
for ax, (row, col) in zip(axes, axis_names):
    ax.set_xlabel(f"{col} index")
    ax.set_ylabel(f"{row} index")
fig.suptitle(f"The augmented system before and after the pivot "
             f"(black: nonzero; N = P + 2A = {N})")
plt.show()

# %% [markdown]
# ### Eliminating K'
#
# The same `factor()` as in part 1, now on `K'`. Each pivot block is again
# compared with the dense Schur complement of `K'` (same tolerance,
# `100 cond(leading block) eps_mach`). The reciprocal condition estimates of
# the pivot blocks, printed too, are much smaller than in part 1. Part of
# that is scaling: a block holds `Q_l + eps I` next to identity blocks and
# the curvature couplings, rows of very different sizes. Part of it is
# structural: `U_1` is singular exactly when `-eps` is an eigenvalue of
# `Q_1 + J_1^T S_2 J_1`, an indefinite matrix, and the later `U_l` have their
# own bad values of `eps` (derivation.md section 6, claim C18), while
# `H + eps I` can be perfectly well conditioned there. Block elimination
# pivots only inside blocks and cannot avoid such a pivot; part 3 comes back
# to it. Here every pivot block is far from singular, so `factor()` warns
# about none.

# %%
fac_K = Kp.factor()
for k in range(L):
    schur, cond_lead = dense_schur_pivot(Kp_dense, Kp.offsets, k)
    print(f"layer {k + 1}: U_{k} is {Kp.sizes[k]} x {Kp.sizes[k]}, "
          f"rcond {fac_K.rcond[k]:.1e}, cond of the eliminated block {cond_lead:.1e}")
    tol = 100 * cond_lead * MACHINE_EPS if k else 0.0
    check(f"  U_{k} vs dense Schur complement of K'", "C14",
          rel_err(fac_K.pivot_blocks[k], schur), tol)

# %% [markdown]
# ### The solve, and the x-part of its answer
#
# The right-hand side is `r = (v, 0, 0)` in the original order; pivoted, it
# is `r[perm]`. Solve `K' s' = r[perm]`, un-pivot with `Pi^T` (`s[perm] =
# s'`), and the first `P` entries of `s` are `x = (H + eps I)^{-1} v`. The
# other two parts are the sweeps of the Hessian-vector product at `x`:
# `y = M^{-1} J x` is the tangent sweep, `w` the adjoint sweep.
#
# Tolerances. `x` against `numpy.linalg.solve(H_autograd + eps I, v)`: a
# backward-stable solve of `H + eps I` has a relative error of about
# `cond(H + eps I) eps_mach`; we allow `100 cond(H + eps I) eps_mach`, the
# scale the project's golden cases use (without their extra factor `P`).
# `y` and `w` against the two sweeps run on the computed `x`: they are the
# same linear maps as the rows of `K` that define them, so they agree to the
# accuracy of the solve, and the same bound applies relative to their size.

# %%
v = rng.standard_normal(P)
r = np.zeros(N)
r[:P] = v
s_pivoted = fac_K.solve(r[perm])
s = np.empty(N)
s[perm] = s_pivoted  # s = Pi^T s'
x, y, w = s[:P], s[P:P + Asum], s[P + Asum:]

x_dense = np.linalg.solve(Heps, v)
tol_x = 100 * cond_H * MACHINE_EPS
err_block = np.linalg.norm(x - x_dense) / np.linalg.norm(x_dense)
check("x from block elimination of K' vs numpy.linalg.solve(H + eps I, v)",
      "C14", err_block, tol_x)
print(f"  = {err_block / (cond_H * MACHINE_EPS):.2f} cond(H + eps I) eps_mach")

xs = split_by_layer(lin, x)
ys = tangent_sweep(lin, xs)
ws = adjoint_sweep(lin, xs, ys)
check("y part vs tangent sweep M^-1 J x", "section 4",
      np.linalg.norm(y - np.concatenate(ys)) / np.linalg.norm(y), tol_x)
check("w part vs adjoint sweep", "section 4",
      np.linalg.norm(w - np.concatenate(ws)) / np.linalg.norm(w), tol_x)

# %% [markdown]
# The library packs these steps (build `K'`, factor, solve, un-pivot) into
# `solve_from_blocks(lin, v, eps, method="block")` and, from the network,
# `hessian_inverse_product`. It also judges the answer on `H + eps I`
# itself, through the Hessian-vector product (backward error, iterative
# refinement if needed); `return_info=True` reports how it went.

# %%
x_lib, info_block = solve_from_blocks(lin, v, eps, method="block", return_info=True)
err_lib = np.linalg.norm(x_lib - x_dense) / np.linalg.norm(x_dense)
print(f"method={info_block.method!r}: backward error on H + eps I "
      f"{info_block.hessian_backward_error:.1e}, refinement steps "
      f"{info_block.refinement_steps}")
check("solve_from_blocks(method='block') vs numpy.linalg.solve", "C14",
      err_lib, tol_x)

# %% [markdown]
# ## Part 3: the Riccati sweep, the alternative
#
# Block elimination factors `K'` from the first layer on, with pivot blocks
# of `p_l + 2 a_l` rows. The Riccati sweep (derivation.md section 12, claim
# X4; beyond the paper) reads the same system as a control problem along the
# layers and eliminates `y` and `w` analytically. What it factors is
# `H + eps I` itself, from the last layer back, as a block `L D L^T` with
# pivots `Hxx_l` of only `p_l` rows:
#
#     Hxx_l = Q_l + eps I + J_l^T V_l J_l,   V_{l-1} = Hyy_l - Hxy_l^T Hxx_l^{-1} Hxy_l.
#
# Dense counterpart: order the parameters by layer and eliminate from the
# last layer back. The first pivot is the head's diagonal block of
# `H + eps I`; the pivot of layer `l` is block `(l, l)` of the Schur
# complement of `H + eps I` onto the layers up to `l`. Tolerance as for the
# Schur complements above, with the block of the layers eliminated so far.
# Then its answer against `numpy.linalg.solve`, with the tolerance used for
# block elimination.
#
# Two by-products of either factorization, in time linear in depth (claim
# X3 and section 12). The determinant: `det(H + eps I)` is the product of
# the determinants of the Riccati pivots, and also of the pivot blocks `U_l`
# of `K'` (since `det M = 1`). A relative perturbation of size `eps_mach` of
# a matrix `A` of order `n` moves `log |det A|` by `trace(A^{-1} dA)`, at most
# about `n cond(A) eps_mach`; we allow 100 times that, with `A = H + eps I`
# for the sweep and `A = K'` for the blocks. The inertia: by Sylvester's law
# the negative eigenvalues of `H + eps I` are those of the pivots, counted
# together; an integer, compared exactly. It is also why the sweep factors
# some pivots by LU and not Cholesky here: `H + eps I` is indefinite, so
# some pivots must be.

# %%
sweep = RiccatiFactorization(lin, eps)
print(f"{'l':>2} {'Riccati pivot':>14} {'pivot block of K':>18}' {'kind':>9} "
      f"{'rcond':>8}")
for l in range(L):
    print(f"{l + 1:>2} {p[l]:>9} rows {Kp.sizes[l]:>14} rows {sweep.kinds[l]:>9} "
          f"{sweep.rcond[l]:8.1e}")

for l in range(L - 1, -1, -1):
    rows = slice(x_at[l], x_at[l + 1])
    later = slice(x_at[l + 1], P)
    if l == L - 1:
        schur, cond_later = Heps[rows, rows], 1.0
    else:
        schur = Heps[rows, rows] - Heps[rows, later] @ np.linalg.solve(
            Heps[later, later], Heps[later, rows])
        cond_later = np.linalg.cond(Heps[later, later])
    check(f"Riccati pivot of layer {l + 1} vs dense Schur complement of H + eps I",
          "X4", rel_err(sweep.pivots[l], schur), 100 * cond_later * MACHINE_EPS)

x_sweep = sweep.solve(v)
err_sweep = np.linalg.norm(x_sweep - x_dense) / np.linalg.norm(x_dense)
check("x from the Riccati sweep vs numpy.linalg.solve(H + eps I, v)", "X4",
      err_sweep, tol_x)
print(f"  = {err_sweep / (cond_H * MACHINE_EPS):.2f} cond(H + eps I) eps_mach")

x_ric, info_ric = solve_from_blocks(lin, v, eps, method="riccati", return_info=True)
print(f"method={info_ric.method!r}: backward error on H + eps I "
      f"{info_ric.hessian_backward_error:.1e}, refinement steps "
      f"{info_ric.refinement_steps}")
check("solve_from_blocks(method='riccati') vs numpy.linalg.solve", "X4",
      np.linalg.norm(x_ric - x_dense) / np.linalg.norm(x_dense), tol_x)

sign_r, logdet_r = sweep.slogdet()
sign_k, logdet_k = fac_K.slogdet()
sign_d, logdet_d = np.linalg.slogdet(Heps)
assert sign_r == sign_k == sign_d
cond_Kp = np.linalg.cond(Kp_dense)
print(f"log|det(H + eps I)| = {logdet_d:.6f} (dense), sign {sign_d:+.0f}; "
      f"cond(K') = {cond_Kp:.0f}")
check("log|det(H + eps I)|: Riccati pivots vs dense", "X3",
      abs(logdet_r - logdet_d), 100 * P * cond_H * MACHINE_EPS)
check("log|det(H + eps I)|: pivot blocks U_l of K' vs dense", "X3",
      abs(logdet_k - logdet_d), 100 * N * cond_Kp * MACHINE_EPS)
negative, zero, positive = sweep.inertia()
print(f"inertia from the Riccati pivots: {negative} negative, {zero} zero, "
      f"{positive} positive; dense eigvalsh: {np.sum(eig < 0)} negative")
check("negative eigenvalues: Riccati pivots minus dense", "X4",
      abs(negative - np.sum(eig < 0)), 0)

# %%
idx = np.arange(P)
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
ax = axes[0]
ax.plot(idx, x_dense, "o", ms=8, mfc="none", color="tab:orange",
        label="dense: numpy.linalg.solve")
ax.plot(idx, x, ".", ms=6, color="tab:blue", label="block elimination of K'")
ax.plot(idx, x_sweep, "x", ms=4, color="k", label="Riccati sweep")
ax.set_xlabel("parameter index (red: layer boundaries)")
ax.set_ylabel("x_j = ((H + eps I)^-1 v)_j (dimensionless)")
ax.set_title("The answer three ways")
low, high = ax.get_ylim()
ax.set_ylim(low, high + 0.35 * (high - low))
ax.legend(loc="upper center", fontsize=8, ncols=2)
ax = axes[1]
scale_x = np.linalg.norm(x_dense)
ax.semilogy(idx, np.abs(x - x_dense) / scale_x + 1e-20, ".", color="tab:blue",
            label="block elimination of K'")
ax.semilogy(idx, np.abs(x_sweep - x_dense) / scale_x + 1e-20, "x", ms=4,
            color="k", label="Riccati sweep")
ax.axhline(cond_H * MACHINE_EPS, color="tab:green", ls="--",
           label="cond(H + eps I) eps_mach")
ax.axhline(tol_x, color="tab:red", ls=":", label="tolerance, 100 cond eps_mach")
ax.set_xlabel("parameter index (red: layer boundaries)")
ax.set_ylabel("|x_j - x_dense_j| / ||x_dense||_2 (dimensionless)")
ax.set_title("Difference from the dense solve, entry by entry")
ax.set_ylim(top=1e-9)
ax.legend(loc="upper center", fontsize=8, ncols=2)
for ax in axes:
    for e in x_at[1:-1]:
        ax.axvline(e - 0.5, color="tab:red", lw=0.8)
plt.show()

# %% [markdown]
# Which to use. Both are linear in depth. Block elimination is the paper's
# method and works on any block-tridiagonal `K'`; the sweep's pivots have
# `p_l` rows instead of `p_l + 2 a_l`, so with the batch folded into
# `a_l = B h_l` it is quadratic in the batch where block elimination is
# cubic (99 times faster on the full Iris batch, README "Performance").
# Neither pivots across layers, so each can meet a singular pivot while
# `H + eps I` is fine: `hessian_inverse_product(..., method="auto")` runs the
# sweep and falls back to a banded LU with partial pivoting across the band
# (`BlockTridiagonal.factor_banded`, LAPACK `dgbtrf`) when a pivot is
# singular or the answer does not pass its check on `H + eps I`.
#
# ## Summary
#
# Every comparison of this notebook, with the claim of `paper/claims.md` (or
# the section of derivation.md) it checks and its tolerance.

# %%
print(f"{'check':<72} {'claim':>9} {'measured':>9} {'tolerance':>9}")
for what, claim, measured, tolerance in CHECKS:
    print(f"{what.strip():<72} {claim:>9} {measured:9.1e} {tolerance:9.1e}")
print(f"\nnotebook ran in {time.perf_counter() - START:.1f} s")
