"""Figures, one function each; every function writes PNG and SVG files.

Only the figures and the command line draw or print; the numbers come from
the library. The figures of measured sweeps take plain dicts of numbers, so
they can be drawn (and tested) from synthetic data.

Every function writes ``{stem}.png`` (150 dpi) and ``{stem}.svg`` and
returns the two paths; the same input gives byte-identical files.
"""

import numbers
import os
from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse
from matplotlib.colors import LogNorm

from .augmented import augmented_system, pivot_matrix, pivot_permutation

__all__ = [
    "loglog_slope",
    "plot_bench",
    "plot_eps_sweep",
    "plot_memory_vs_depth",
    "plot_pivot_examples",
    "plot_solution_overlay",
    "plot_sparsity_of_H_and_K",
    "plot_sparsity_of_K",
    "plot_time_vs_depth",
    "plot_time_vs_width",
    "sparse_augmented",
]

MACHINE_EPS = float(np.finfo(float).eps)
MIB = 2.0**20

# one look per solver route, shared by every sweep figure
ROUTES = {
    "structured": {"label": "structured solve", "color": "tab:blue", "marker": "o"},
    "dense": {"label": "dense solve", "color": "tab:orange", "marker": "s"},
    "cg": {"label": "Krylov (MINRES on Hv)", "color": "tab:green", "marker": "^"},
}


def sparse_augmented(lin, eps):
    """``K`` (original order) and ``K'`` (pivoted) as sparse CSR matrices.

    ``K'`` is assembled from the blocks of :func:`augmented_system`; ``K`` is
    recovered as ``Pi^T K' Pi``.

    Returns
    -------
    K, K_pivoted : scipy.sparse.csr_matrix
    sizes : tuple of int
        Diagonal block sizes ``p_l + 2 a_l`` of ``K'``.
    """
    Kp = augmented_system(lin, eps)
    n = Kp.n_blocks
    grid = [[None] * n for _ in range(n)]
    for k in range(n):
        grid[k][k] = scipy.sparse.csr_matrix(Kp.diagonal[k])
        if k > 0:
            grid[k][k - 1] = scipy.sparse.csr_matrix(Kp.lower[k - 1])
            grid[k - 1][k] = scipy.sparse.csr_matrix(Kp.upper[k - 1])
    K_pivoted = scipy.sparse.bmat(grid, format="csr")
    perm = pivot_permutation(lin.p, lin.a[1:])
    inverse = np.argsort(perm)
    K = K_pivoted[inverse][:, inverse]
    return K.tocsr(), K_pivoted, Kp.sizes


def _occupancy(A, pixels):
    """A square image, 1 where a pixel covers a nonzero entry of sparse `A`.

    At most one pixel per entry: with more pixels than rows, single entries
    would land on isolated pixels and dense blocks would look dotted.
    """
    coo = A.tocoo()
    keep = coo.data != 0
    n = A.shape[0]
    pixels = min(pixels, n)
    rows = (coo.row[keep] * pixels) // n
    cols = (coo.col[keep] * pixels) // n
    image = np.zeros((pixels, pixels))
    image[rows, cols] = 1.0
    return image


def _save(fig, stem):
    """Write ``{stem}.png`` and ``{stem}.svg``, close `fig`, return the paths."""
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    paths = [f"{stem}.png", f"{stem}.svg"]
    engine = fig.get_layout_engine()
    if engine is not None:
        # lay out once and freeze, so both files share one layout (and the
        # second save does not repeat the work)
        engine.execute(fig)
        fig.set_layout_engine("none")
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    # no date and fixed element ids, so the same figure gives the same file
    with matplotlib.rc_context({"svg.hashsalt": "hessian-ref"}):
        fig.savefig(paths[1], metadata={"Date": None})
    plt.close(fig)
    return paths


def _pattern_panel(ax, M, edges, label, pixels):
    """Draw the nonzero pattern of sparse square `M` with red lines at `edges`."""
    n = M.shape[0]
    ax.imshow(_occupancy(M, pixels), cmap="Greys", vmin=0, vmax=1,
              extent=(0, n, n, 0), interpolation="nearest")
    for e in edges:
        ax.axhline(e, color="tab:red", lw=0.6)
        ax.axvline(e, color="tab:red", lw=0.6)
    ax.set_title(f"{label}\n{M.nnz:,} nonzeros of {n:,} x {n:,}", fontsize=10)
    ax.set_xlabel("column (unknown index)")
    ax.set_ylabel("row (equation index)")


def _check_pixels(pixels):
    """`pixels` as a positive int."""
    if not isinstance(pixels, numbers.Integral) or pixels < 1:
        raise ValueError(f"pixels: expected a positive int, got {pixels!r}")
    return int(pixels)


def plot_sparsity_of_K(lin, eps, stem, title_prefix="", pixels=800):
    """Nonzero pattern of ``K`` before and after the pivot, with block edges.

    Parameters
    ----------
    lin : Linearization
    eps : float
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.
    title_prefix : str
        What network and data the matrix belongs to.
    pixels : int
        Resolution of the occupancy image per axis (at most one pixel per
        row of ``K``).

    Returns
    -------
    list of str
        The files written.
    """
    pixels = _check_pixels(pixels)
    K, K_pivoted, sizes = sparse_augmented(lin, eps)
    P, A = sum(lin.p), sum(lin.a[1:])
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.2))
    _pattern_panel(axes[0], K, [P, P + A], "K: unknowns (x, y, w)", pixels)
    _pattern_panel(
        axes[1], K_pivoted, np.cumsum(sizes)[:-1],
        f"K' = Pi K Pi^T: {len(sizes)} diagonal blocks of size p_l + 2 a_l",
        pixels,
    )
    fig.suptitle(
        f"{title_prefix}sparsity of the augmented system before and after the "
        f"pivot (red: block boundaries; eps = {eps:g})",
        fontsize=11,
    )
    fig.tight_layout()
    return _save(fig, stem)


def plot_sparsity_of_H_and_K(H, lin, eps, stem, title_prefix="", pixels=800):
    """Nonzero patterns of ``H``, ``K`` and ``K'`` side by side.

    The dense Hessian of a network has no exploitable zeros; the augmented
    system ``K`` of derivation.md section 4 is sparse, and the pivot of
    section 5 gathers its nonzeros into a block tridiagonal band.

    Parameters
    ----------
    H : (P, P) ndarray
        The Hessian, e.g. from :func:`hessian_ref.dense.autograd_hessian`.
    lin : Linearization
        The same network and batch; supplies ``K`` and the sizes ``p_l``.
    eps : float
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.
    title_prefix : str
        What network and data the matrices belong to.
    pixels : int
        Resolution of each occupancy image per axis (at most one pixel per
        row of the matrix).

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    ValueError
        If `H` is not ``P x P`` with ``P = sum(lin.p)``.
    """
    P = sum(lin.p)
    H = np.asarray(H, dtype=float)
    if H.shape != (P, P):
        raise ValueError(
            f"H: expected shape ({P}, {P}) to match lin.p (P = {P}), "
            f"got {H.shape}"
        )
    pixels = _check_pixels(pixels)
    K, K_pivoted, sizes = sparse_augmented(lin, eps)
    A = sum(lin.a[1:])

    fig, axes = plt.subplots(1, 3, figsize=(16.5, 6.4), layout="constrained")
    _pattern_panel(
        axes[0], scipy.sparse.csr_matrix(H), np.cumsum(lin.p)[:-1],
        f"H: {len(lin.p)} layers of p_l parameters", pixels,
    )
    _pattern_panel(axes[1], K, [P, P + A], "K: unknowns (x, y, w)", pixels)
    _pattern_panel(
        axes[2], K_pivoted, np.cumsum(sizes)[:-1],
        f"K' = Pi K Pi^T: {len(sizes)} blocks of size p_l + 2 a_l", pixels,
    )
    axes[0].set_xlabel("column (parameter index)")
    axes[0].set_ylabel("row (parameter index)")
    fig.suptitle(
        f"{title_prefix}nonzero pattern of the Hessian H, of the augmented "
        f"system K and of the pivoted K' (red: block boundaries; eps = {eps:g})",
        fontsize=11,
    )
    return _save(fig, stem)


def _example_sizes(L):
    """Per-layer sizes ``p_l``, ``a_l`` of a tiny network-like shape.

    The sizes differ from layer to layer and ``a_L = 1``, as in a network,
    so the pivot is no transposition of equal blocks and ``Pi Pi != I``.
    """
    p = tuple(2 + l % 3 for l in range(L))
    a = tuple(1 + (l + 1) % 3 for l in range(L - 1)) + (1,)
    return p, a


def _pivot_example(p, a, bidiagonal, rng):
    """``K`` as a 3 x 3 grid of big blocks (x, y, w), each L x L blocks.

    Every big block is block diagonal, or block lower bidiagonal if
    `bidiagonal`; the nonzero blocks hold seeded standard normal numbers.
    """
    groups = (p, a, a)
    ends = np.cumsum([0, sum(p), sum(a)])
    starts = [e + np.concatenate([[0], np.cumsum(g)]) for e, g in zip(ends, groups)]
    n = sum(p) + 2 * sum(a)
    K = np.zeros((n, n))
    for g in range(3):
        for h in range(3):
            for l in range(len(p)):
                for m in (l - 1, l) if bidiagonal else (l,):
                    if m < 0:
                        continue
                    rows = slice(starts[g][l], starts[g][l + 1])
                    cols = slice(starts[h][m], starts[h][m + 1])
                    K[rows, cols] = rng.standard_normal((groups[g][l], groups[h][m]))
    return K


def _block_names(p, a, pivoted):
    """Names and centres of the unknown blocks, in original or pivoted order."""
    L = len(p)
    original = [(f"{g}{l + 1}", s[l]) for g, s in zip("xyw", (p, a, a))
                for l in range(L)]
    if pivoted:
        by_name = dict(original)
        order = [f"{g}{l + 1}" for l in range(L) for g in "xyw"]
        original = [(name, by_name[name]) for name in order]
    sizes = np.array([size for _, size in original])
    centres = np.cumsum(sizes) - sizes / 2
    return [name for name, _ in original], centres


def _pivot_panel(ax, K, p, a, pivoted, norm, title):
    """Heat map of ``|K|`` (zeros white) with block boundaries and names."""
    n = K.shape[0]
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_equal(np.abs(K), 0.0), cmap=cmap, norm=norm,
                      extent=(0, n, n, 0), interpolation="nearest")
    L = len(p)
    if pivoted:
        # thick: layer blocks of size p_l + 2 a_l; thin: x_l | y_l | w_l
        starts = np.cumsum([0] + [pl + 2 * al for pl, al in zip(p, a)])
        thick = starts[1:-1]
        thin = np.concatenate([[s + pl, s + pl + al]
                               for s, pl, al in zip(starts, p, a)])
    else:
        # thick: the groups x | y | w; thin: layers inside each group
        thick = np.cumsum([sum(p), sum(a)])
        thin = np.concatenate([e + np.cumsum(g)[:-1]
                               for e, g in zip((0, sum(p), sum(p) + sum(a)),
                                               (p, a, a))])
    for e in thin:
        ax.axhline(e, color="0.55", lw=0.5)
        ax.axvline(e, color="0.55", lw=0.5)
    for e in thick:
        ax.axhline(e, color="black", lw=1.6)
        ax.axvline(e, color="black", lw=1.6)
    names, centres = _block_names(p, a, pivoted)
    if L <= 8:
        fontsize = 8 if L <= 4 else 6
        ax.set_xticks(centres, names, fontsize=fontsize, rotation=90)
        ax.set_yticks(centres, names, fontsize=fontsize)
        ax.tick_params(length=0)
        ax.set_xlabel("columns: unknown blocks (width = number of unknowns)")
        ax.set_ylabel("rows: equation blocks (height = number of equations)")
    else:
        ax.set_xlabel("column (unknown index)")
        ax.set_ylabel("row (equation index)")
    ax.set_title(title, fontsize=10)
    return image


def plot_pivot_examples(stem, L=4, seed=0):
    """The pivot of derivation.md section 5 on two small random examples.

    Each example is a 3 x 3 grid of big blocks (unknown groups ``x, y, w``),
    each big block made of ``L x L`` blocks whose sizes are ``p_l`` (x) and
    ``a_l`` (y, w), different per layer. In example (a) every big block is
    block diagonal, in (b) block lower bidiagonal. The pivot
    ``K' = K[perm][:, perm]`` with ``perm = pivot_permutation(p, a)`` turns
    them into an ``L x L`` grid of blocks of size ``p_l + 2 a_l`` that is
    block diagonal (a) or block lower bidiagonal (b).

    Parameters
    ----------
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.
    L : int
        Number of layers, ``L >= 1``.
    seed : int
        Seed of the generator that fills the nonzero blocks.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    ValueError
        If `L` is not a positive int or `seed` not a non-negative int.

    Notes
    -----
    Panels show ``|entries|`` on a logarithmic colour scale; exact zeros are
    white. Block names are written on the axes for ``L <= 8``.
    """
    if not isinstance(L, numbers.Integral) or L < 1:
        raise ValueError(f"L: expected a positive int, got {L!r}")
    if not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    p, a = _example_sizes(int(L))
    rng = np.random.default_rng(int(seed))
    perm = pivot_permutation(p, a)
    examples = [_pivot_example(p, a, bidiagonal, rng) for bidiagonal in (False, True)]
    Pi = pivot_matrix(p, a)
    involution = np.array_equal(Pi @ Pi, np.eye(perm.size))

    magnitudes = np.abs(np.concatenate([K.ravel() for K in examples]))
    norm = LogNorm(vmin=magnitudes[magnitudes > 0].min(), vmax=magnitudes.max())
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 10.5), layout="constrained")
    shapes = [("a", "block diagonal"), ("b", "block lower bidiagonal")]
    for row, (K, (tag, shape)) in enumerate(zip(examples, shapes)):
        _pivot_panel(axes[row, 0], K, p, a, False, norm,
                     f"({tag}) before: K, each of its 3 x 3 big blocks\n"
                     f"(x, y, w) is {shape} in L x L")
        image = _pivot_panel(axes[row, 1], K[perm][:, perm], p, a, True, norm,
                             f"({tag}) after: K' = K[perm][:, perm] is {shape}\n"
                             f"in L x L blocks of size p_l + 2 a_l")
    fig.colorbar(image, ax=axes, shrink=0.6, label="|entry| (white: exactly 0)")
    relation = "Pi Pi = I" if involution else "Pi Pi != I"
    fig.suptitle(
        f"The pivot on two random examples with L = {L}: p = {p}, a = {a}\n"
        f"{relation} for these sizes (thick lines: big blocks; thin: the "
        f"blocks inside them)",
        fontsize=11,
    )
    return _save(fig, stem)


def _check_sizes(name, sizes):
    """`sizes` as a tuple of positive ints."""
    try:
        values = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name}: expected a sequence of positive ints, "
                         f"got {sizes!r}") from None
    if not values or not all(isinstance(v, numbers.Integral) and v > 0
                             for v in values):
        raise ValueError(f"{name}: expected a non-empty sequence of positive "
                         f"ints, got {values!r}")
    return tuple(int(v) for v in values)


def _layer_edges(ax, p, labels):
    """Dotted vertical lines between layers; with `labels`, names above."""
    edges = np.concatenate([[0], np.cumsum(p)])
    for e in edges[1:-1]:
        ax.axvline(e - 0.5, color="0.5", lw=0.8, ls=":")
    if labels and len(p) <= 12:
        top = ax.get_xaxis_transform()
        for l in range(len(p)):
            ax.text((edges[l] + edges[l + 1] - 1) / 2, 1.01, f"layer {l + 1}",
                    transform=top, ha="center", va="bottom", fontsize=8)


def plot_solution_overlay(x_structured, x_dense, p, stem, title_prefix=""):
    """The structured and the dense ``(H + eps I)^{-1} v`` entry by entry.

    Top: both solutions against the parameter index, with the layer
    boundaries given by `p`. Bottom: ``|x_structured - x_dense|`` on a
    logarithmic axis; the relative error is in the title.

    Parameters
    ----------
    x_structured, x_dense : (P,) ndarray
        The two solutions of ``(H + eps I) x = v``.
    p : sequence of int
        Parameter counts ``p_1 .. p_L``, summing to ``P``.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.
    title_prefix : str
        What network, data and ``eps`` the solutions belong to.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    ValueError
        If the solutions are not finite vectors of length ``sum(p)``.
    """
    p = _check_sizes("p", p)
    P = sum(p)
    xs = np.asarray(x_structured, dtype=float)
    xd = np.asarray(x_dense, dtype=float)
    for name, x in (("x_structured", xs), ("x_dense", xd)):
        if x.shape != (P,):
            raise ValueError(f"{name}: expected shape ({P},) = (sum(p),), "
                             f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name}: contains NaN or infinity")
    difference = np.abs(xs - xd)
    scale = np.linalg.norm(xd)
    if scale > 0:
        error = f"relative error ||x_s - x_d|| / ||x_d|| = " \
                f"{np.linalg.norm(xs - xd) / scale:.2e}"
    else:
        error = f"x_dense = 0, ||x_s - x_d|| = {np.linalg.norm(xs - xd):.2e}"

    index = np.arange(P)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, layout="constrained",
        gridspec_kw={"height_ratios": [2, 1]},
    )
    top.plot(index, xd, color="0.6", lw=2.5, label="dense solve (line)")
    top.plot(index, xs, ls="none", marker="o", ms=3, color="tab:blue",
             label="structured solve (dots)")
    top.axhline(0, color="0.85", lw=0.6, zorder=0)
    top.set_ylabel("x_i = [(H + eps I)^-1 v]_i\n(units of v / H)")
    top.legend(loc="best", fontsize=9)
    _layer_edges(top, p, labels=True)

    shown = difference > 0
    if shown.any():
        bottom.semilogy(index[shown], difference[shown], ls="none", marker=".",
                        ms=4, color="tab:red", label="|x_structured - x_dense|")
        bottom.axhline(MACHINE_EPS * np.abs(xd).max(), color="0.4", ls="--",
                       lw=0.8, label="eps_mach * max |x_dense|")
        # room above the points for a one-row legend
        low, high = difference[shown].min(), difference[shown].max()
        bottom.set_ylim(low / 3, high * (high / low) ** 0.5 * 3)
        bottom.legend(loc="upper center", ncol=2, fontsize=9)
    else:
        bottom.set_yscale("log")
        bottom.text(0.5, 0.5, "the two solutions agree exactly",
                    transform=bottom.transAxes, ha="center", va="center")
    _layer_edges(bottom, p, labels=False)
    bottom.set_ylabel("|difference|\n(units of v / H)")
    bottom.set_xlabel("parameter index i (0-based; layers in order, weights "
                      "row-major then bias)")
    bottom.set_xlim(-0.5, P - 0.5)
    fig.suptitle(f"{title_prefix}structured against dense solution of "
                 f"(H + eps I) x = v\n{error}", fontsize=11)
    return _save(fig, stem)


def loglog_slope(x, y):
    """Least-squares slope ``s`` of ``log y = a + s log x``.

    Parameters
    ----------
    x, y : (n,) array_like
        Points; those where either value is NaN, infinite, zero or negative
        are left out.

    Returns
    -------
    float
        The fitted slope, or NaN when fewer than two distinct ``x`` remain.

    Raises
    ------
    ValueError
        If `x` and `y` differ in shape.
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float)
    if y.size != x.size:
        raise ValueError(f"x, y: expected the same number of points, got "
                         f"{x.size} and {y.size}")
    y = y.ravel()
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    if np.unique(lx).size < 2:
        return float("nan")
    # centred normal equation of the straight-line fit: slope = cov / var
    lx = lx - lx.mean()
    return float(lx @ (ly - ly.mean()) / (lx @ lx))


def _require(mapping, keys, where):
    """Raise if `mapping` is no mapping or lacks any of `keys`, naming them."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{where}: expected a dict, got {type(mapping).__name__}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(
            f"{where}: missing key {', '.join(map(repr, missing))}; expected "
            f"keys {', '.join(map(repr, keys))}, got "
            f"{', '.join(map(repr, mapping)) or 'none'}"
        )


def _values(mapping, key, where, n=None):
    """``mapping[key]`` as a float vector, of length `n` if given."""
    try:
        values = np.asarray(mapping[key], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}[{key!r}]: expected a list of numbers, got "
                         f"{mapping[key]!r}") from None
    if values.ndim != 1 or (n is not None and values.size != n):
        expected = "a list" if n is None else f"{n} values"
        raise ValueError(f"{where}[{key!r}]: expected {expected}, got shape "
                         f"{values.shape}")
    return values


def _axis(sweep, key):
    """``sweep[key]``: a non-empty vector of finite positive numbers."""
    values = _values(sweep, key, "sweep")
    if values.size == 0 or not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"sweep[{key!r}]: expected finite positive numbers for "
                         f"a logarithmic axis, got {values.tolist()}")
    return values


def _routes(sweep, key, routes, n):
    """``sweep[key][route]`` for each route, as float vectors of length `n`."""
    _require(sweep[key], routes, f"sweep[{key!r}]")
    return {r: _values(sweep[key], r, f"sweep[{key!r}]", n) for r in routes}


def _int(sweep, key):
    """``sweep[key]`` as a positive int."""
    value = sweep[key]
    if not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"sweep[{key!r}]: expected a positive int, got {value!r}")
    return int(value)


def _slope_label(label, x, y):
    """``label`` with the fitted log-log slope, or why there is none."""
    if not np.any(np.isfinite(y) & (y > 0)):
        return f"{label} (not run)"
    s = loglog_slope(x, y)
    return f"{label}, slope {s:.2f}" if np.isfinite(s) else f"{label}, slope n/a"


def _loglog_route(ax, x, y, label, **style):
    """One route on log-log axes, its slope in the legend; skips bad points."""
    keep = np.isfinite(y) & (y > 0)
    ax.loglog(x[keep], y[keep], label=_slope_label(label, x, y), lw=1.4, ms=6,
              **style)


def _value_ticks(axis, values):
    """Ticks of a log axis at the swept values, written plainly."""
    values = np.unique(values)
    if values.size > 12:
        return
    axis.set_ticks(values, [f"{v:g}" for v in values])
    axis.set_minor_locator(matplotlib.ticker.NullLocator())


def _finish_panel(axes, xlabel, ylabel, title, legend_loc, legend_size=8,
                  title_size=10):
    """Labels, a light grid, the legend and the title of one panel."""
    axes.grid(True, which="major", color="0.9", lw=0.6)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend(loc=legend_loc, fontsize=legend_size)
    axes.set_title(title, fontsize=title_size)


def plot_time_vs_depth(sweep, stem):
    """Wall time of one solve against depth, one line per route.

    Parameters
    ----------
    sweep : dict
        ``{"depths": [L, ...], "width": int, "batch": int,
        "seconds": {"structured": [...], "dense": [...], "cg": [...]}}``,
        one time per depth and route, NaN where a route was not run.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    TypeError, ValueError
        If `sweep` is no dict, lacks a key (the message names it) or its
        lists differ in length from ``depths``.

    Notes
    -----
    The legend gives the least-squares slope of ``log t`` on ``log L``
    (:func:`loglog_slope`); derivation.md section 6 predicts 1 for the
    structured solve.
    """
    _require(sweep, ("depths", "width", "batch", "seconds"), "sweep")
    depths = _axis(sweep, "depths")
    width, batch = _int(sweep, "width"), _int(sweep, "batch")
    seconds = _routes(sweep, "seconds", ("structured", "dense", "cg"), depths.size)

    fig, ax = plt.subplots(figsize=(7.5, 5.5), layout="constrained")
    for route, t in seconds.items():
        _loglog_route(ax, depths, t, **ROUTES[route])
    _value_ticks(ax.xaxis, depths)
    eps = sweep.get("eps", "n/a")
    _finish_panel(ax, "depth L (layers)", "time (s)",
                  f"Time of one solve of (H + eps I) x = v against depth\n"
                  f"(width {width}, batch {batch}, eps = {eps}; slope fitted "
                  f"over all points shown)", "upper left", 9, 11)
    return _save(fig, stem)


def plot_time_vs_width(sweep, stem):
    """Wall time of one solve against the block size ``p_l + 2 a_l``.

    Parameters
    ----------
    sweep : dict
        ``{"widths": [h, ...], "depth": int, "batch": int,
        "block_sizes": [p_l + 2 a_l, ...],
        "seconds": {"structured": [...], "dense": [...]}}``, one entry per
        width, NaN where a route was not run.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    TypeError, ValueError
        If `sweep` is no dict, lacks a key (the message names it) or its
        lists differ in length from ``widths``.

    Notes
    -----
    Each point is annotated with its width ``h``; the legend gives the
    fitted log-log slope, which derivation.md section 6 puts at 3 for the
    structured solve once the factorizations dominate.
    """
    _require(sweep, ("widths", "depth", "batch", "block_sizes", "seconds"), "sweep")
    widths = _axis(sweep, "widths")
    depth, batch = _int(sweep, "depth"), _int(sweep, "batch")
    sizes = _values(sweep, "block_sizes", "sweep", widths.size)
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ValueError(f"sweep['block_sizes']: expected finite positive "
                         f"numbers, got {sizes.tolist()}")
    seconds = _routes(sweep, "seconds", ("structured", "dense"), widths.size)

    fig, ax = plt.subplots(figsize=(7.5, 5.5), layout="constrained")
    for route, t in seconds.items():
        _loglog_route(ax, sizes, t, **ROUTES[route])
    with np.errstate(invalid="ignore"):
        highest = np.fmax(*[np.where(t > 0, t, np.nan) for t in seconds.values()])
    for h, size, t in zip(widths, sizes, highest):
        if np.isfinite(t):
            ax.annotate(f"h = {h:g}", (size, t), textcoords="offset points",
                        xytext=(0, 9), ha="center", fontsize=8, color="0.3")
    ax.margins(x=0.08, y=0.15)
    _value_ticks(ax.xaxis, sizes)
    _finish_panel(ax, "block size p_l + 2 a_l (unknowns per diagonal block of K')",
                  "time (s)",
                  f"Time of one solve against block size, widths h annotated\n"
                  f"(depth {depth}, batch {batch}; slope fitted over all points "
                  f"shown)", "upper left", 9, 11)
    return _save(fig, stem)


def plot_memory_vs_depth(sweep, stem):
    """Peak memory of one solve against depth, one line per route.

    Parameters
    ----------
    sweep : dict
        ``{"depths": [L, ...],
        "peak_bytes": {"structured": [...], "dense": [...], "cg": [...]}}``,
        NaN where a route was not run; optionally ``"band_bytes": [...]``,
        the storage of the band of ``K'`` itself, drawn dashed as a
        reference, and ``"width"``, ``"batch"`` (ints) for the title.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    TypeError, ValueError
        If `sweep` is no dict, lacks a key (the message names it) or its
        lists differ in length from ``depths``.
    """
    _require(sweep, ("depths", "peak_bytes"), "sweep")
    depths = _axis(sweep, "depths")
    peak = _routes(sweep, "peak_bytes", ("structured", "dense", "cg"), depths.size)
    band = None
    if "band_bytes" in sweep:
        band = _values(sweep, "band_bytes", "sweep", depths.size)
    shape = ""
    if "width" in sweep and "batch" in sweep:
        shape = f"width {_int(sweep, 'width')}, batch {_int(sweep, 'batch')}; "

    fig, ax = plt.subplots(figsize=(7.5, 5.5), layout="constrained")
    for route, b in peak.items():
        _loglog_route(ax, depths, b / MIB, **ROUTES[route])
    if band is not None:
        _loglog_route(ax, depths, band / MIB, "band of K' (storage)",
                      color="black", ls="--", marker="none")
    _value_ticks(ax.xaxis, depths)
    _finish_panel(ax, "depth L (layers)", "peak memory (MiB)",
                  f"Peak memory of one solve against depth\n"
                  f"({shape}slope fitted over all points shown)", "upper left", 9,
                  11)
    return _save(fig, stem)


def plot_eps_sweep(sweep, stem):
    """Accuracy of the solves and Krylov (MINRES) iterations against damping.

    Left: relative error of the structured and the dense solve (against a
    reference solution, e.g. a known answer) as a function of ``eps``, with
    ``cond(H + eps I) * eps_mach``, the error a backward stable solve may
    leave, as a dashed guide. Right: MINRES iterations against
    ``eps``; runs that did not converge are marked with crosses.

    Parameters
    ----------
    sweep : dict
        ``{"eps": [...], "error": {"structured": [...], "dense": [...]},
        "cond": [...], "cg_iterations": [...], "cg_converged": [bool, ...]}``,
        one entry per ``eps``, NaN where a quantity was not measured.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.

    Returns
    -------
    list of str
        The files written.

    Raises
    ------
    TypeError, ValueError
        If `sweep` is no dict, lacks a key (the message names it), its lists
        differ in length from ``eps`` or ``cg_converged`` holds non-booleans.

    Notes
    -----
    Errors of exactly zero cannot be drawn on a logarithmic axis and are
    left out.
    """
    keys = ("eps", "error", "cond", "cg_iterations", "cg_converged")
    _require(sweep, keys, "sweep")
    eps = _axis(sweep, "eps")
    n = eps.size
    error = _routes(sweep, "error", ("structured", "dense"), n)
    cond = _values(sweep, "cond", "sweep", n)
    iterations = _values(sweep, "cg_iterations", "sweep", n)
    converged = np.asarray(sweep["cg_converged"])
    if converged.shape != (n,) or not all(
            isinstance(c, (bool, np.bool_)) for c in converged.tolist()):
        raise ValueError(f"sweep['cg_converged']: expected {n} booleans, got "
                         f"{sweep['cg_converged']!r}")
    converged = converged.astype(bool)

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.2), layout="constrained")
    for route, e in error.items():
        keep = np.isfinite(e) & (e > 0)
        left.loglog(eps[keep], e[keep], label=ROUTES[route]["label"], lw=1.4,
                    ms=6, color=ROUTES[route]["color"],
                    marker=ROUTES[route]["marker"])
    guide = cond * MACHINE_EPS
    keep = np.isfinite(guide) & (guide > 0)
    left.loglog(eps[keep], guide[keep], color="0.3", ls="--", lw=1.2,
                label="cond(H + eps I) * eps_mach")
    _finish_panel(left, "damping eps (units of H)",
                  "relative error ||x - x_ref|| / ||x_ref|| (dimensionless)",
                  "Relative error of the solves", "best", 9)

    ran = np.isfinite(iterations)
    right.semilogx(eps[ran], iterations[ran], color="0.75", lw=1.0, zorder=1)
    ok, failed = ran & converged, ran & ~converged
    right.semilogx(eps[ok], iterations[ok], ls="none", marker="^", ms=7,
                   color=ROUTES["cg"]["color"], label="MINRES converged")
    right.semilogx(eps[failed], iterations[failed], ls="none", marker="X", ms=9,
                   color="tab:red", label="MINRES stopped at 2P iterations")
    right.set_ylim(bottom=0)
    _finish_panel(right, "damping eps (units of H)", "MINRES iterations (count)",
                  "Iterations of MINRES on Hessian-vector products", "best", 9)
    where = f" ({sweep['setting']})" if "setting" in sweep else ""
    fig.suptitle(f"Damping sweep{where}: accuracy of the structured and dense "
                 "solves, and the work a Krylov solver needs", fontsize=11)
    return _save(fig, stem)


def plot_bench(result, stem):
    """The benchmark in three panels: time of each route against depth; the
    elimination's time over the LAPACK floor against the block size; and,
    on Iris, block elimination and the Riccati sweep against the batch size.

    Parameters
    ----------
    result : dict
        What :func:`hessian_ref.bench.run_bench` returns.
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.

    Returns
    -------
    list of str
        The files written.
    """
    _require(result, ("depth", "width_sweep", "batch_sweep", "iris_batch", "width",
                      "batch", "eps"), "result")
    points = result["depth"]
    depths = np.array([p["depth"] for p in points], dtype=float)
    looks = {
        "structured": ("structured solve (judged)", "tab:blue", "o"),
        "unjudged": ("structured solve, not judged", "tab:cyan", "D"),
        "elimination": ("block elimination alone", "tab:purple", "v"),
        "riccati": ("Riccati sweep alone", "tab:red", "P"),
        "lapack_floor": ("LAPACK floor", "0.4", "x"),
        "dense": ("dense solve", "tab:orange", "s"),
        "cg": ("conjugate gradients on Hv", "tab:green", "^"),
    }
    fig, (left, right, batch_axes) = plt.subplots(1, 3, figsize=(18, 5.2),
                                                  layout="constrained")
    for route, (label, color, marker) in looks.items():
        t = np.array([p["seconds"].get(route, np.nan) for p in points], dtype=float)
        if np.any(np.isfinite(t)):
            slope = loglog_slope(depths, t)
            left.loglog(depths, t, marker=marker, color=color,
                        label=f"{label} (slope {slope:.2f})")
    _value_ticks(left.xaxis, depths)
    _finish_panel(left, "depth L (layers)", "time of one solve (s)",
                  f"Against depth (width {result['width']}, batch "
                  f"{result['batch']}, eps = {result['eps']:g})", "upper left")
    for key, label, marker in (("depth", "depth sweep", "o"),
                               ("width_sweep", "width sweep", "s"),
                               ("batch_sweep", "batch sweep", "^")):
        sizes = [p["block_size"] for p in result[key]]
        ratios = [p["seconds"]["elimination"] / p["seconds"]["lapack_floor"]
                  for p in result[key]]
        right.semilogx(sizes, ratios, marker=marker, ls="", label=label)
    right.axhline(2, color="0.5", lw=0.8, ls="--")
    right.axhline(5, color="0.5", lw=0.8, ls=":")
    right.axvline(64, color="0.8", lw=0.8)
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.set_ylim(bottom=0)
    _finish_panel(right, "largest block p_l + 2 a_l (rows)",
                  "elimination time / LAPACK floor",
                  "Overhead over the bare LAPACK calls (targets: 5x under 64 "
                  "rows, 2x from 64)", "upper right")
    iris = result["iris_batch"]
    batches = np.array([p["batch"] for p in iris], dtype=float)
    for route, label, color, marker in (
            ("elimination", "block elimination of K'", "tab:purple", "v"),
            ("riccati", "Riccati sweep", "tab:red", "P")):
        t = np.array([p["seconds"][route] for p in iris])
        big = batches >= 10
        slope = loglog_slope(batches[big], t[big]) if big.sum() >= 2 else np.nan
        batch_axes.loglog(batches, t, marker=marker, color=color,
                          label=f"{label} (slope {slope:.2f} from batch 10)")
    _value_ticks(batch_axes.xaxis, batches)
    _finish_panel(batch_axes, "batch size B (Iris flowers)",
                  "time of one factorization and solve (s)",
                  "Iris, 16 tanh layers of width 4: cubic against quadratic "
                  "in B", "upper left")
    return _save(fig, stem)
