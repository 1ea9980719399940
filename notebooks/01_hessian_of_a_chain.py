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
# # The Hessian of a chain
#
# A network is a chain of layers: layer `l` maps its input `z_{l-1}` and its
# parameters `x_l` to its output `z_l`. This notebook takes one small network
# apart along that chain and puts its Hessian back together from per-layer
# pieces:
#
# 1. each layer's first derivatives `J_l`, `G_l` and second-derivative blocks
#    `Q_l`, `R_l`, `S_l` (derivation.md sections 1 and 2), checked against
#    autograd;
# 2. the same pieces stacked into the big sparse matrices `J`, `M`, `Q`, `R`,
#    `S` and the shift `Sh` (derivation.md section 3);
# 3. the Hessian formula built from them, compared with the dense Hessian
#    that autograd computes from the loss (claim C3 of `paper/claims.md`);
# 4. the Hessian-vector product by one forward and one backward sweep,
#    without forming `H` (claims C5 and C6).
#
# Notation is that of `paper/derivation.md`: layers `l = 1..L` in the text,
# index `l - 1` in Python. Every comparison with a dense computation is an
# `assert` with a tolerance whose size is explained next to it.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from matplotlib.colors import LogNorm

from hessian_ref import MLP, hessian_vector_product
from hessian_ref.dense import (
    autograd_gradient,
    autograd_hessian,
    autograd_layer_blocks,
    chain_matrices,
    finite_difference_hvp,
    hessian_from_blocks,
)
from hessian_ref.hvp import split_by_layer, tangent_sweep

START = time.perf_counter()
MACHINE_EPS = np.finfo(float).eps


def rel_err(a, b):
    """Largest entry of |a - b|, relative to the largest entry of |b|."""
    return np.abs(a - b).max() / np.abs(b).max()


CHECKS = []  # (what, claim, measured, tolerance), for the summary at the end


def check(what, claim, measured, tolerance):
    """Assert measured <= tolerance, print it, and keep it for the summary."""
    CHECKS.append((what, claim, measured, tolerance))
    print(f"{what}: {measured:.1e}  (tolerance {tolerance:g})")
    assert measured <= tolerance, (what, measured, tolerance)


# %% [markdown]
# ## The network and the batch
#
# Three inputs, two hidden `tanh` layers of width 4, and a softmax
# cross-entropy head over 2 classes: `MLP((3, 4, 4, 2))`, so `L = 3` layers.
# The head fuses the last affine map with the loss, so its output `z_3` is
# the scalar loss (the mean over the batch). Five samples, drawn from a seeded
# generator; the weights come from `MLP.init`, which draws orthogonal matrices
# at the critical gain of `tanh` so that the curvature reaches every layer
# (derivation.md section 10).

# %%
net = MLP((3, 4, 4, 2), activation="tanh", loss="cross_entropy")
theta = net.init(seed=0)
rng = np.random.default_rng(2601)
B = 5
X = rng.standard_normal((B, 3))
labels = rng.integers(0, 2, size=B)

lin = net.linearize(theta, X, labels)
L = net.depth
P = net.n_params
print(net)
print(f"L = {L} layers, B = {B} samples, P = {P} parameters, loss = {lin.loss:.6f}")
print("labels:", labels)

# %% [markdown]
# ## Sizes along the chain
#
# The whole batch travels as one vector: `z_l` is the `B x h_l` array of
# activations flattened sample by sample, so it has `a_l = B h_l` entries
# (and `a_L = 1`, the loss). Layer `l` has `p_l = h_l (h_{l-1} + 1)`
# parameters (weights row-major, then bias). The blocks of layer `l` have the
# shapes below (derivation.md sections 1 and 2):
#
# | block | shape | meaning |
# | --- | --- | --- |
# | `J_l` | `a_l x p_l` | `d z_l / d x_l` |
# | `G_l` | `a_l x a_{l-1}` | `d z_l / d z_{l-1}` |
# | `Q_l` | `p_l x p_l` | `d^2 phi_l / dx dx` |
# | `R_l` | `p_l x a_{l-1}` | `d^2 phi_l / dx dz` |
# | `S_l` | `a_{l-1} x a_{l-1}` | `d^2 phi_l / dz dz` |
#
# with `phi_l = b_l . f_l(z_{l-1}; x_l)`, where `b_l = d z_L / d z_l` is the
# backward row vector (frozen at its value from the backward pass).

# %%
print(f"{'l':>2} {'layer':<20} {'h_(l-1)->h_l':>12} {'p_l':>4} {'a_(l-1)':>7} "
      f"{'a_l':>4}   {'J_l':>7} {'G_l':>7} {'Q_l':>7} {'R_l':>7} {'S_l':>7}")
for l, (layer, blk) in enumerate(zip(net.layers, lin.layers)):
    if layer.is_head:
        kind = "head (cross-entropy)"
    else:
        kind = f"Dense ({layer.activation.name})"
    shapes = [f"{m.shape[0]}x{m.shape[1]}" for m in (blk.J, blk.G, blk.Q, blk.R, blk.S)]
    print(f"{l + 1:>2} {kind:<20} {f'{layer.n_in}->{layer.n_out}':>12} "
          f"{lin.p[l]:>4} {lin.a[l]:>7} {lin.a[l + 1]:>4}   "
          + " ".join(f"{s:>7}" for s in shapes))
print(f"P = sum p_l = {sum(lin.p)},  A = a_1 + ... + a_L = {sum(lin.a[1:])}")

# %% [markdown]
# ## Each layer's blocks against autograd
#
# `net.linearize` computes every block from hand-derived closed forms
# (derivation.md section 2). `hessian_ref.dense.autograd_layer_blocks`
# differentiates an independent autograd transcription of the same layer,
# at the same input `Z_{l-1}`, parameters `x_l` and backward vector `b_l`.
# It also returns the mixed block in the other order of differentiation,
# `R_zx = d/dx (d phi / dz)`, which must be `R^T` (claim C4).
#
# Tolerance: both sides are exact formulas evaluated in float64, so they
# differ only by rounding, a few `eps_mach = 2.2e-16` relative to the
# largest entry of the block. We allow `1e-12`, about a thousand times that,
# relative to the largest entry.

# %%
TOL_BLOCK = 1e-12
xs = net.split(theta)
Zs = [X] + net.activations_of(theta, X)
print("relative max-norm differences, ours vs autograd:")
columns = ("J", "G", "Q", "R", "S", "R - R_zx^T")
print(f"{'l':>2}  " + "  ".join(f"{k:>9}" for k in columns))
block_errors, mixed_errors = [], []
for l, (layer, blk) in enumerate(zip(net.layers, lin.layers)):
    if layer.is_head:
        ref = autograd_layer_blocks(layer, xs[l], Zs[l], targets=labels)
    else:
        ref = autograd_layer_blocks(layer, xs[l], Zs[l], b=blk.b)
    errors = [rel_err(getattr(blk, k), ref[k]) for k in "JGQRS"]
    block_errors += errors
    mixed_errors.append(rel_err(ref["R_zx"].T, ref["R"]))
    print(f"{l + 1:>2}  " + "  ".join(f"{e:9.1e}" for e in errors + mixed_errors[-1:]))
check("worst block J_l, G_l, Q_l, R_l, S_l vs autograd", "section 2",
      max(block_errors), TOL_BLOCK)
check("worst R_l vs (d/dx d phi/dz)^T, autograd", "C4", max(mixed_errors), TOL_BLOCK)

# %% [markdown]
# The gradient is the backward recursion `b_L = 1`, `b_{l-1} = b_l G_l`,
# `g_l = b_l J_l` (claim C1); `lin.gradient` holds it. The same tolerance and
# the same reason apply.

# %%
g_ref = autograd_gradient(net, theta, X, labels)
err_grad = rel_err(lin.gradient, g_ref)
g_from_blocks = np.concatenate([blk.b @ blk.J for blk in lin.layers])
err_grad_blocks = rel_err(g_from_blocks, g_ref)
check("gradient (backward pass) vs autograd", "C1", err_grad, TOL_BLOCK)
check("b_l J_l from the blocks vs autograd", "C1", err_grad_blocks, TOL_BLOCK)

# %% [markdown]
# ## What the blocks look like
#
# The batch shows up as sparsity. In a dense layer, output `(n, k)` (sample
# `n`, unit `k`) depends only on unit `k`'s own weights and bias, so each row
# of `J_l` has `h_{l-1} + 1` nonzeros; and samples do not mix inside a layer,
# so `G_l` and `S_l` are block diagonal over samples, with `B` blocks of
# `h_l x h_{l-1}` and `h_{l-1} x h_{l-1}`. `Q_l` and `R_l` sum over every
# sample, since the parameters are shared. `Q_l` of a dense layer is block
# diagonal over units instead: a unit's weights and its bias; in the flat
# layout all biases come last, hence the stripes. The grey lines mark samples
# on the axes of `z` and units on the parameter axes (the last group of
# `h_l` columns is the biases).
#
# Below: the five blocks of layer 2, the hidden layer whose input is itself
# an activation, drawn as the magnitude of every entry on a log scale, white
# where the entry is exactly zero.

# %%
l = 1  # layer 2
blk, layer = lin.layers[l], net.layers[l]
h_in, h_out = layer.n_in, layer.n_out
panels = [("J_2", blk.J, "parameter of layer 2", "entry of z_2"),
          ("G_2", blk.G, "entry of z_1", "entry of z_2"),
          ("Q_2", blk.Q, "parameter of layer 2", "parameter of layer 2"),
          ("R_2", blk.R, "entry of z_1", "parameter of layer 2"),
          ("S_2", blk.S, "entry of z_1", "entry of z_1")]
every = np.concatenate([np.abs(m[m != 0]) for _, m, _, _ in panels])
norm = LogNorm(vmin=every.min(), vmax=every.max())
cmap = plt.get_cmap("viridis").with_extremes(bad="white")

z1_lines = range(h_in, B * h_in, h_in)        # samples on the axis of z_1
z2_lines = range(h_out, B * h_out, h_out)     # samples on the axis of z_2
unit_lines = range(h_in, h_out * h_in + 1, h_in)  # units' weights, then biases
lines = {"J_2": (z2_lines, unit_lines), "G_2": (z2_lines, z1_lines),
         "Q_2": (unit_lines, unit_lines), "R_2": (unit_lines, z1_lines),
         "S_2": (z1_lines, z1_lines)}

fig, axes = plt.subplots(1, 5, figsize=(12, 2.9), layout="constrained")
for ax, (name, m, xlabel, ylabel) in zip(axes, panels):
    image = ax.imshow(np.ma.masked_equal(np.abs(m), 0.0), cmap=cmap, norm=norm,
                      interpolation="nearest")
    ax.set_title(f"{name}  ({m.shape[0]} x {m.shape[1]})")
    ax.set_xlabel(f"{xlabel} (index)", fontsize=9)
    ax.set_ylabel(f"{ylabel} (index)", fontsize=9)
    row_lines, col_lines = lines[name]
    for r in row_lines:
        ax.axhline(r - 0.5, color="0.6", lw=0.6)
    for c in col_lines:
        ax.axvline(c - 0.5, color="0.6", lw=0.6)
fig.colorbar(image, ax=axes, shrink=0.8, label="|entry| (log scale; white: exactly 0)")
fig.suptitle("The blocks of layer 2: J_2, G_2 and S_2 are sparse because samples "
             "do not mix inside a layer")
plt.show()

for name, m, _, _ in panels:
    print(f"{name}: {np.count_nonzero(m):4d} nonzeros of {m.size:4d} entries")

# %% [markdown]
# ## The chain as big sparse matrices
#
# Stack the layers (derivation.md section 3), with `A = a_1 + ... + a_L`:
#
# - `J = blockdiag(J_l)`, `A x P`;
# - `M`, `A x A`: identity blocks on the diagonal and `-G_l` at block
#   `(l, l-1)`. It is unit lower block-bidiagonal, so `det M = 1` (claim C2),
#   and `M y = J x` is the forward sweep: `y_l = J_l x_l + G_l y_{l-1}` is the
#   total change of `z_l` along a parameter step `x`;
# - `Q`, `R`, `S`: block diagonal in the `Q_l`, `R_l`, `S_l`;
# - the shift `Sh` hands layer `l` its input `z_{l-1}`; row block 1 is zero
#   because the data `z_0` do not depend on the parameters (so `G_1`, `R_1`
#   and `S_1` never enter the Hessian).
#
# `hessian_ref.dense.chain_matrices` builds them densely. Below, their
# nonzero patterns, with the layer boundaries drawn in red.

# %%
m = chain_matrices(lin)
x_at = np.concatenate([[0], np.cumsum(lin.p)])
out_at = np.concatenate([[0], np.cumsum(lin.a[1:])])
in_at = np.concatenate([[0], np.cumsum(lin.a[:-1])])
axes_of = {"J": (out_at, x_at), "M": (out_at, out_at), "Q": (x_at, x_at),
           "R": (x_at, in_at), "S": (in_at, in_at), "Sh": (in_at, out_at)}
labels_of = {"P": "parameter index", "A": "output index (z_1..z_L)",
             "A_in": "input index (z_0..z_(L-1))"}
kinds = {"J": ("A", "P"), "M": ("A", "A"), "Q": ("P", "P"), "R": ("P", "A_in"),
         "S": ("A_in", "A_in"), "Sh": ("A_in", "A")}

fig, axes = plt.subplots(2, 3, figsize=(11, 7.5), layout="constrained")
for ax, name in zip(axes.flat, ["J", "M", "Q", "R", "S", "Sh"]):
    mat = m[name]
    ax.imshow(mat != 0, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    rows, cols = axes_of[name]
    for r in rows[1:-1]:
        ax.axhline(r - 0.5, color="tab:red", lw=0.7)
    for c in cols[1:-1]:
        ax.axvline(c - 0.5, color="tab:red", lw=0.7)
    ax.set_title(f"{name}  ({mat.shape[0]} x {mat.shape[1]})")
    ax.set_ylabel(labels_of[kinds[name][0]])
    ax.set_xlabel(labels_of[kinds[name][1]])
fig.suptitle("Nonzero patterns of the chain matrices (black: nonzero entry; "
             "red: layer boundaries)")
plt.show()

sign, logdet = np.linalg.slogdet(m["M"])
assert sign > 0
check("|log det M| (det M = 1)", "C2", abs(logdet), 1e-12)
upper = np.triu(m["M"], 1)
check("largest |entry| of M above its diagonal", "C2", np.abs(upper).max(), 0.0)

# %% [markdown]
# `det M = 1` holds up to rounding of the LU behind `slogdet`: `M` is unit
# lower triangular, so its determinant is exactly 1 and `slogdet` should
# return `log det M` within a few `eps_mach`; the `1e-12` bound leaves room.
# Nothing is ever stored above the diagonal of `M`, so that check has
# tolerance 0.
#
# ## The Hessian formula
#
# Differentiating the gradient `g = e_L^T M^{-1} J` once more gives
# (derivation.md section 3, the paper's claim C3)
#
#     H = Q + R Sh M^{-1} J + (R Sh M^{-1} J)^T + J^T M^{-T} Sh^T S Sh M^{-1} J.
#
# Write `T = Sh M^{-1} J` (`A_in x P`): column `j` of `M^{-1} J` is how every
# activation moves when parameter `j` moves, and `Sh` turns outputs into
# layer inputs. Then `H = Q + R T + (R T)^T + T^T S T`: a parameter-parameter
# term, two mixed terms and a Gauss-Newton-like term through the activations.
# Here the four terms are computed densely, as a small reference computation
# (one triangular solve with `M`), and their sum is compared with the
# library's `hessian_from_blocks`, which evaluates the same formula.

# %%
# dense reference: the four terms of the formula
MinvJ = scipy.linalg.solve_triangular(m["M"], m["J"], lower=True, unit_diagonal=True)
T = m["Sh"] @ MinvJ
terms = {"Q": m["Q"], "R Sh M^-1 J": m["R"] @ T, "(R Sh M^-1 J)^T": (m["R"] @ T).T,
         "J^T M^-T Sh^T S Sh M^-1 J": T.T @ m["S"] @ T}
H_terms = sum(terms.values())

H_formula = hessian_from_blocks(lin)
err_terms = rel_err(H_terms, H_formula)
check("sum of the four terms vs hessian_from_blocks", "C3", err_terms, 1e-13)

# %% [markdown]
# The two are the same arithmetic in a slightly different order, so they
# agree to rounding (`1e-13` relative, a few hundred `eps_mach`).
#
# Now the real test: autograd differentiates the loss twice, through an
# independent transcription of the network (`autograd_hessian`), sharing no
# derivative code with the blocks. Tolerance: both are exact, so they differ
# by rounding, which grows with the number of operations along the chain
# (a product of `L` Jacobians, sums over `B` samples) but stays within a few
# hundred `eps_mach` of `||H||` here; `1e-12` relative leaves room.

# %%
TOL_HESSIAN = 1e-12
t0 = time.perf_counter()
H_auto = autograd_hessian(net, theta, X, labels)
t_auto = time.perf_counter() - t0
err_H = rel_err(H_formula, H_auto)
asym = np.abs(H_formula - H_formula.T).max() / np.abs(H_formula).max()
print(f"(autograd took {t_auto:.2f} s for a {P} x {P} Hessian)")
check("Hessian formula vs autograd", "C3", err_H, TOL_HESSIAN)
check("max|H - H^T| / max|H| of the formula", "C19", asym, TOL_HESSIAN)

# %% [markdown]
# Section 10 of derivation.md warns that a comparison passes vacuously when
# the curvature has died out in the early layers. Here every diagonal block
# `H_ll` is of order one, so the comparison tests something in every layer.

# %%
for l in range(L):
    s = slice(x_at[l], x_at[l + 1])
    print(f"layer {l + 1}: ||H_ll||_2 = {np.linalg.norm(H_auto[s, s], 2):.3f}")
print(f"||H||_2 = {np.linalg.norm(H_auto, 2):.3f}")

# %% [markdown]
# The Hessian itself, three ways: assembled from the blocks, from autograd,
# and their difference (on its own colour scale: entries of about `1e-16`). The red
# lines separate the parameters of the three layers; inside each layer the
# weights come first (row-major), then the bias.

# %%
def draw_layers(ax, at):
    for s in at[1:-1]:
        ax.axhline(s - 0.5, color="tab:red", lw=0.8)
        ax.axvline(s - 0.5, color="tab:red", lw=0.8)


vmax = np.abs(H_auto).max()
diff = H_formula - H_auto
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
for ax, mat, title in ((axes[0], H_formula, "H from the blocks (formula)"),
                       (axes[1], H_auto, "H by autograd")):
    image = ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_title(title)
fig.colorbar(image, ax=axes[:2], shrink=0.85,
             label="H_ij = d^2 loss / dtheta_i dtheta_j (nats)")
dmax = np.abs(diff).max()
image = axes[2].imshow(diff, cmap="RdBu_r", vmin=-dmax, vmax=dmax)
axes[2].set_title("difference (formula - autograd)")
fig.colorbar(image, ax=axes[2], shrink=0.85, label="difference (nats)")
for ax in axes:
    draw_layers(ax, x_at)
    ax.set_xlabel("parameter index")
    ax.set_ylabel("parameter index")
plt.show()

# %% [markdown]
# The four terms of the formula separately, on one colour scale. `Q` is block
# diagonal (a layer's own curvature). `R Sh M^{-1} J` is strictly block lower
# triangular: `R_l` couples layer `l`'s parameters to its input, which
# depends only on the layers before it; its transpose fills the upper
# triangle. The last term, the curvature of later layers seen through the
# change of the activations, fills the blocks of the two hidden layers; its
# rows and columns of the head's parameters are zero, since no layer input
# depends on them (the column block of the head in `T = Sh M^{-1} J` is
# zero). These patterns are checked below with tolerance 0: they come from
# products with blocks that are exactly zero, so no rounding enters.

# %%
vmax = max(np.abs(t).max() for t in terms.values())
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6), layout="constrained")
for ax, (name, term) in zip(axes, terms.items()):
    image = ax.imshow(term, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    draw_layers(ax, x_at)
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("parameter index")
    ax.set_ylabel("parameter index")
fig.colorbar(image, ax=axes, shrink=0.85, label="entry (nats)")
fig.suptitle("H = Q + R Sh M^-1 J + (R Sh M^-1 J)^T + J^T M^-T Sh^T S Sh M^-1 J")
plt.show()

RT = terms["R Sh M^-1 J"]
on_or_above = max(np.abs(RT[x_at[l]:x_at[l + 1], x_at[l]:]).max() for l in range(L))
head = slice(x_at[-2], x_at[-1])
gn = terms["J^T M^-T Sh^T S Sh M^-1 J"]
check("R Sh M^-1 J on or above the block diagonal, max |entry|", "C3", on_or_above, 0.0)
check("last term on the head's rows and columns, max |entry|", "C3",
      max(np.abs(gn[head]).max(), np.abs(gn[:, head]).max()), 0.0)

# %% [markdown]
# ## The Hessian-vector product without forming H
#
# `H v` needs only two sweeps along the chain (derivation.md section 3,
# `hessian_ref.hvp`):
#
# - tangent (forward): `y_1 = J_1 v_1`, `y_l = J_l v_l + G_l y_{l-1}`, which
#   is `y = M^{-1} J v` (claim C6);
# - adjoint (backward): `w_L = 0`,
#   `w_l = R_{l+1}^T v_{l+1} + S_{l+1} y_l + G_{l+1}^T w_{l+1}`;
# - `(H v)_l = Q_l v_l + R_l y_{l-1} + J_l^T w_l`.
#
# Each sweep touches each layer once, so the cost is linear in depth
# (claim C5). Below, the tangent sweep against the dense triangular solve
# `M^{-1} J v`, and `hessian_vector_product` against the dense `H @ v`, for
# one vector and for a block of three. Tolerance: rounding only, `1e-12`
# relative as above. A third, independent check uses central differences of
# the gradient, `(g(theta + h v) - g(theta - h v)) / 2h`: truncation error
# `O(h^2)` and rounding `O(eps_mach / h)`, about `1e-10` at the default
# `h = 1e-5`; we allow `1e-6`.

# %%
v = rng.standard_normal(P)
ys = tangent_sweep(lin, split_by_layer(lin, v))
err_tangent = rel_err(np.concatenate(ys), MinvJ @ v)

Hv = hessian_vector_product(net, theta, X, labels, v)
err_hv = rel_err(Hv, H_auto @ v)

V3 = rng.standard_normal((P, 3))
err_hv3 = rel_err(hessian_vector_product(net, theta, X, labels, V3), H_auto @ V3)

err_fd = rel_err(finite_difference_hvp(net, theta, X, labels, v), H_auto @ v)

check("tangent sweep vs M^-1 J v (dense)", "C6", err_tangent, 1e-12)
check("Hv (two sweeps) vs H_autograd @ v", "C5", err_hv, 1e-12)
check("H V, three vectors, vs H_autograd @ V", "C5", err_hv3, 1e-12)
check("central differences of the gradient vs H_autograd @ v", "C5", err_fd, 1e-6)

# %%
fig, ax = plt.subplots(figsize=(10, 3.6))
idx = np.arange(P)
ax.plot(idx, H_auto @ v, "o", ms=7, mfc="none", color="tab:orange",
        label="dense: H_autograd @ v")
ax.plot(idx, Hv, ".", ms=5, color="tab:blue",
        label="two sweeps: hessian_vector_product")
for s in x_at[1:-1]:
    ax.axvline(s - 0.5, color="tab:red", lw=0.8)
ax.set_xlabel("parameter index (red: layer boundaries)")
ax.set_ylabel("(H v)_j (nats)")
ax.set_title(f"H v without forming H, against the dense product "
             f"(relative difference {err_hv:.0e})")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ## Summary
#
# Every comparison of this notebook, with its claim of `paper/claims.md`
# (or the section of derivation.md it checks) and its tolerance. Notebook 2
# turns the two sweeps into unknowns and solves `(H + eps I) x = v` in time
# linear in depth.

# %%
print(f"{'check':<56} {'claim':>9} {'measured':>9} {'tolerance':>9}")
for what, claim, measured, tolerance in CHECKS:
    print(f"{what:<56} {claim:>9} {measured:9.1e} {tolerance:9.0e}")
print(f"\nnotebook ran in {time.perf_counter() - START:.1f} s")
