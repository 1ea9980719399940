"""The figures (hessian_ref.figures): files, determinism, refused input.

Whether a figure reads well is judged by eye; here only what every figure
function promises is checked: it writes ``{stem}.png`` and ``{stem}.svg`` of
non-trivial size, returns their paths, gives byte-identical files for the
same input, closes its figure, and refuses malformed input, naming the
problem, before anything is drawn. Sweep figures are fed synthetic numbers
with known log-log slopes.
"""

import copy
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import make_problem

from hessian_ref.augmented import (
    pivot_matrix,
    pivot_permutation,
    solve_from_blocks,
)
from hessian_ref.dense import autograd_hessian
from hessian_ref.figures import (
    _example_sizes,
    _pivot_example,
    loglog_slope,
    plot_eps_sweep,
    plot_memory_vs_depth,
    plot_pivot_examples,
    plot_solution_overlay,
    plot_sparsity_of_H_and_K,
    plot_sparsity_of_K,
    plot_time_vs_depth,
    plot_time_vs_width,
)

rng = np.random.default_rng(4242)
NAN = float("nan")
EPS = 1e-2

# a figure smaller than this has lost its content (an empty 150-dpi canvas
# with axes alone is already several kB)
MIN_BYTES = 5000


@pytest.fixture(scope="module")
def problem():
    """A small network, its Hessian, and both solutions of (H + eps I) x = v."""
    net, theta, X, targets = make_problem(rng, (3, 4, 4, 2), batch=3)
    lin = net.linearize(theta, X, targets)
    H = autograd_hessian(net, theta, X, targets)
    v = rng.standard_normal(net.n_params)
    x_structured = solve_from_blocks(lin, v, EPS)
    x_dense = np.linalg.solve(H + EPS * np.eye(net.n_params), v)
    return lin, H, x_structured, x_dense


def depth_sweep():
    d = np.array([2.0, 4, 8, 16, 32])
    return {
        "depths": [2, 4, 8, 16, 32], "width": 4, "batch": 2,
        "seconds": {"structured": list(1e-3 * d),
                    "dense": [1e-4, 8e-4, NAN, NAN, NAN],  # not run beyond
                    "cg": list(2e-3 * d**1.5)},
    }


def width_sweep():
    return {
        "widths": [2, 4, 8, 16], "depth": 4, "batch": 2,
        "block_sizes": [14, 36, 104, 336],
        "seconds": {"structured": [1e-3, 5e-3, 4e-2, 1.2],
                    "dense": [2e-3, 3e-2, NAN, NAN]},
    }


def memory_sweep():
    d = np.array([2.0, 4, 8, 16])
    return {
        "depths": [2, 4, 8, 16],
        "peak_bytes": {"structured": list(2e5 * d), "dense": list(1e4 * d**2),
                       "cg": [NAN] * 4},
        "band_bytes": list(5e4 * d),
    }


def eps_sweep():
    eps = np.logspace(-6, 0, 7)
    cond = 10.0 / eps
    return {
        "eps": list(eps), "cond": list(cond),
        # an error of exactly 0 cannot be drawn on a log axis; it is left out
        "error": {"structured": list(3e-16 * cond),
                  "dense": [0.0] + list(1e-16 * cond[1:])},
        "cg_iterations": [200, 200, 120, 60, 30, NAN, 8],
        "cg_converged": [False, False, True, True, True, False, True],
    }


FIGURES = {
    "pivot_examples": lambda stem, pr: plot_pivot_examples(stem, L=2, seed=3),
    "sparsity_of_K": lambda stem, pr: plot_sparsity_of_K(pr[0], EPS, stem, "t: "),
    "sparsity_of_H_and_K": lambda stem, pr: plot_sparsity_of_H_and_K(
        pr[1], pr[0], EPS, stem, "t: "),
    "solution_overlay": lambda stem, pr: plot_solution_overlay(
        pr[2], pr[3], pr[0].p, stem, "t: "),
    "time_vs_depth": lambda stem, pr: plot_time_vs_depth(depth_sweep(), stem),
    "time_vs_width": lambda stem, pr: plot_time_vs_width(width_sweep(), stem),
    "memory_vs_depth": lambda stem, pr: plot_memory_vs_depth(memory_sweep(), stem),
    "eps_sweep": lambda stem, pr: plot_eps_sweep(eps_sweep(), stem),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_writes_png_and_svg_byte_identically(name, problem, tmp_path):
    draw = FIGURES[name]
    first = draw(str(tmp_path / "first" / name), problem)
    second = draw(str(tmp_path / "second" / name), problem)

    stem = tmp_path / "first" / name
    assert first == [f"{stem}.png", f"{stem}.svg"]
    png, svg = (Path(path).read_bytes() for path in first)
    assert png.startswith(b"\x89PNG") and len(png) > MIN_BYTES
    assert b"<svg" in svg and len(svg) > MIN_BYTES
    for a, b in zip(first, second):
        assert Path(a).read_bytes() == Path(b).read_bytes(), f"{a} differs from {b}"
    assert plt.get_fignums() == [], "the figure was left open"


def without(sweep, *path):
    """A deep copy of `sweep` with the key at `path` deleted."""
    out = copy.deepcopy(sweep)
    inner = out
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return out


SWEEPS = [
    (plot_time_vs_depth, depth_sweep, ("depths", "width", "batch", "seconds"),
     ("seconds", ("structured", "dense", "cg"))),
    (plot_time_vs_width, width_sweep,
     ("widths", "depth", "batch", "block_sizes", "seconds"),
     ("seconds", ("structured", "dense"))),
    (plot_memory_vs_depth, memory_sweep, ("depths", "peak_bytes"),
     ("peak_bytes", ("structured", "dense", "cg"))),
    (plot_eps_sweep, eps_sweep,
     ("eps", "error", "cond", "cg_iterations", "cg_converged"),
     ("error", ("structured", "dense"))),
]
MISSING = [(plot, make, (key,)) for plot, make, keys, _ in SWEEPS for key in keys]
MISSING += [(plot, make, (outer, route))
            for plot, make, _, (outer, routes) in SWEEPS for route in routes]


@pytest.mark.parametrize("plot, make, path", MISSING,
                         ids=[f"{p.__name__}-{'.'.join(k)}" for p, _, k in MISSING])
def test_sweep_without_a_key_is_refused_naming_it(plot, make, path, tmp_path):
    with pytest.raises(ValueError, match=f"missing key '{path[-1]}'"):
        plot(without(make(), *path), str(tmp_path / "fig"))
    assert list(tmp_path.iterdir()) == [], "a refused sweep wrote a file"
    assert plt.get_fignums() == []


@pytest.mark.parametrize("plot, make", [(s[0], s[1]) for s in SWEEPS])
def test_sweep_that_is_not_a_dict_is_refused(plot, make, tmp_path):
    with pytest.raises(TypeError, match="expected a dict, got list"):
        plot([make()], str(tmp_path / "fig"))


@pytest.mark.parametrize("plot, make, key", [
    (plot_time_vs_depth, depth_sweep, ("seconds", "cg")),
    (plot_time_vs_width, width_sweep, ("block_sizes",)),
    (plot_memory_vs_depth, memory_sweep, ("band_bytes",)),
    (plot_eps_sweep, eps_sweep, ("cond",)),
    (plot_eps_sweep, eps_sweep, ("cg_converged",)),
])
def test_sweep_list_of_the_wrong_length_is_refused(plot, make, key, tmp_path):
    sweep = make()
    inner = sweep
    for k in key[:-1]:
        inner = inner[k]
    inner[key[-1]] = inner[key[-1]][:-1]
    with pytest.raises(ValueError, match=key[-1]):
        plot(sweep, str(tmp_path / "fig"))


def test_sweep_with_a_nonpositive_axis_value_is_refused(tmp_path):
    sweep = depth_sweep()
    sweep["depths"][0] = 0
    with pytest.raises(ValueError, match="depths.*logarithmic axis"):
        plot_time_vs_depth(sweep, str(tmp_path / "fig"))


def test_cg_converged_must_hold_booleans(tmp_path):
    sweep = eps_sweep()
    sweep["cg_converged"] = [1.0] * len(sweep["eps"])
    with pytest.raises(ValueError, match="cg_converged.*booleans"):
        plot_eps_sweep(sweep, str(tmp_path / "fig"))


def test_solution_overlay_refuses_lengths_that_do_not_match_p(problem, tmp_path):
    lin, _, xs, xd = problem
    with pytest.raises(ValueError, match=r"x_dense: expected shape \(46,\)"):
        plot_solution_overlay(xs, xd[:-1], lin.p, str(tmp_path / "fig"))
    with pytest.raises(ValueError, match="p: expected a non-empty sequence"):
        plot_solution_overlay(xs, xd, (0, 46), str(tmp_path / "fig"))


def test_sparsity_of_H_and_K_refuses_an_H_of_the_wrong_size(problem, tmp_path):
    lin, H, _, _ = problem
    with pytest.raises(ValueError, match=r"H: expected shape \(46, 46\)"):
        plot_sparsity_of_H_and_K(H[:-1, :-1], lin, EPS, str(tmp_path / "fig"))


def test_pivot_examples_refuses_a_nonpositive_depth(tmp_path):
    with pytest.raises(ValueError, match="L: expected a positive int"):
        plot_pivot_examples(str(tmp_path / "fig"), L=0)


@pytest.mark.parametrize("L", [1, 2, 4, 7])
def test_pivot_examples_show_what_their_titles_claim(L):
    # derivation.md section 5: block diagonal / lower bidiagonal x, y, w blocks
    # become block diagonal / lower bidiagonal in blocks of p_l + 2 a_l
    p, a = _example_sizes(L)
    assert a[-1] == 1
    perm = pivot_permutation(p, a)
    edges = np.concatenate([[0], np.cumsum([pl + 2 * al for pl, al in zip(p, a)])])
    for bidiagonal in (False, True):
        Kp = _pivot_example(p, a, bidiagonal, np.random.default_rng(0))[perm][:, perm]
        for k in range(L):
            for m in range(L):
                block = Kp[edges[k]:edges[k + 1], edges[m]:edges[m + 1]]
                inside = k == m or (bidiagonal and k == m + 1)
                assert np.all(block != 0) if inside else np.all(block == 0), (k, m)
    Pi = pivot_matrix(p, a)
    assert np.array_equal(Pi @ Pi, np.eye(perm.size)) == (L == 1)


def test_loglog_slope_recovers_a_power_law():
    x = np.array([1.0, 2, 5, 10, 100, 1e3])
    assert loglog_slope(x, 3 * x**2) == pytest.approx(2.0, abs=1e-12)
    assert loglog_slope(x, 0.5 / x) == pytest.approx(-1.0, abs=1e-12)
    assert loglog_slope(list(x), list(7 + 0 * x)) == pytest.approx(0.0, abs=1e-12)


def test_loglog_slope_ignores_nan_infinite_and_nonpositive_points():
    x = np.array([1.0, 2, 4, 8, 16, NAN, 32])
    y = 3 * x**2
    y[[1, 4]] = [NAN, np.inf]
    x[3] = -8.0
    assert loglog_slope(x, y) == pytest.approx(2.0, abs=1e-12)


def test_loglog_slope_is_nan_with_fewer_than_two_distinct_points():
    assert np.isnan(loglog_slope([2.0, 2.0, 3.0], [1.0, 4.0, NAN]))
    assert np.isnan(loglog_slope([1.0, 2, 4], [5.0, 0.0, -1.0]))
    assert np.isnan(loglog_slope([], []))


def test_loglog_slope_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="got 3 and 2"):
        loglog_slope([1, 2, 3], [1, 2])
