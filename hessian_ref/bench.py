"""``hessian-ref bench``: the structured solve against dense, conjugate
gradients and the LAPACK floor, measured side by side in one run.

Routes, each from the network, its parameters and the batch unless said:

* ``structured``: :func:`~hessian_ref.hessian_inverse_product` with block
  elimination, the paper's method, unrefined (``method="block"``,
  ``refine=0``) but judged by its backward error on ``H + eps I``;
* ``unjudged``: the paper's method alone, from the network: linearize,
  build ``K'``, factor it block by block, solve (no backward error, no
  condition estimate);
* ``elimination``: block elimination of an already built ``K'`` and one
  solve, with no judgement: the LAPACK floor's calls and the bookkeeping
  around them (what the floor is compared with);
* ``lapack_floor``: the per-block ``dgetrf``, ``dgetrs`` and ``dgemm`` calls
  that block elimination makes, on random blocks of the same sizes and
  nothing else (:func:`hessian_ref.measure.lapack_floor_seconds`);
* ``dense``: ``H`` materialised from Hessian-vector products, then
  ``numpy.linalg.solve``;
* ``cg``: conjugate gradients on Hessian-vector products to a relative
  residual of ``CG_RTOL``, at most ``CG_MAX_ITERATIONS`` iterations (the
  count and whether it converged are recorded; ``H + eps I`` need not be
  definite, and then CG may fail, which is recorded too);
* ``riccati``: the Riccati sweep of derivation.md section 12 on a built
  linearization, one solve, no judgement (in the depth sweep, and in a
  sweep over Iris batch sizes against ``elimination``, where both are also
  compared with a dense solve);
* ``hvp`` and ``gradient``: one Hessian-vector product and one gradient;
  ``hvp_on_blocks``: the product alone, on the blocks of an existing
  linearization (the two sweeps of derivation.md section 3).

Times are medians of `repeats` runs with the BLAS limited to one thread
(threadpoolctl; the library and thread count are recorded); peak memory is
what ``tracemalloc`` sees NumPy allocate during one run. Nothing here
prints; `progress` reports what runs. The targets of the benchmark are
evaluated by :func:`targets` as ratios from the same run, never as timed
assertions.
"""

import itertools
import os
import platform
import time
import warnings

import numpy as np
from scipy.linalg import LinAlgWarning
from threadpoolctl import threadpool_limits

from .augmented import (
    MACHINE_EPS,
    augmented_system,
    hessian_inverse_product,
    pivot_permutation,
)
from .datasets import load_iris
from .figures import loglog_slope
from .hvp import hessian_vector_product, hvp_from_blocks
from .measure import (
    blas_info,
    dense_damped_hessian,
    dense_inverse_product,
    krylov_inverse_product,
    lapack_floor_seconds,
    median_seconds,
    peak_bytes,
    tall_skinny_problem,
)
from .network import MLP
from .riccati import RiccatiFactorization

__all__ = ["CG_MAX_ITERATIONS", "CG_RTOL", "SETTINGS", "run_bench", "targets"]

#: Relative residual conjugate gradients is run to.
CG_RTOL = 1e-8

#: Most conjugate-gradient iterations per solve.
CG_MAX_ITERATIONS = 5000

#: The sweeps of a full and of a quick run.
SETTINGS = {
    "full": {
        "depths": (8, 16, 32, 64, 128, 256, 512, 1024),
        "widths": (2, 4, 8, 12, 16, 24),
        "batches": (1, 2, 4, 8, 16),
        "iris_batches": (2, 5, 10, 20, 40, 75, 150),
        "dense_max_params": 6000,
        "cg_max_params": 3000,
        "rhs": 32,
    },
    "quick": {
        "depths": (8, 16, 32),
        "widths": (2, 4, 8),
        "batches": (1, 2, 4),
        "iris_batches": (5, 10, 20),
        "dense_max_params": 1000,
        "cg_max_params": 1000,
        "rhs": 4,
    },
}

WIDTH, BATCH, EPS = 4, 2, 1e-2  # Iris-like widths, batch 2


def _sizes(net, batch):
    a = net.state_sizes(batch)[1:]
    return [p + 2 * a_l for p, a_l in zip(net.p, a)]


def _band_bytes(sizes):
    off_diagonal = sum(x * y for x, y in itertools.pairwise(sizes))
    return 8 * (sum(s * s for s in sizes) + 2 * off_diagonal)


def _elimination(lin, v, eps):
    """Bare block elimination from a linearization: ``x`` only."""
    return _factor_and_solve(*_pivoted_system(lin, v, eps))


def _pivoted_system(lin, v, eps):
    """``K'``, its right-hand side ``Pi (v, 0, 0)`` and the pivot."""
    P = sum(lin.p)
    K = augmented_system(lin, eps)
    rhs = np.zeros(K.shape[0])
    rhs[:P] = v
    perm = pivot_permutation(lin.p, lin.a[1:])
    return K, rhs[perm], perm, P


def _factor_and_solve(K, rhs, perm, P):
    """Block elimination of a built ``K'`` and one solve: the LAPACK floor's
    calls, and the bookkeeping around them."""
    s = np.empty(K.shape[0])
    s[perm] = K.factor().solve(rhs)
    return s[:P]


def _depth_point(depth, repeats, dense_max, cg_max):
    net, theta, X, t = tall_skinny_problem(depth, WIDTH, BATCH)
    v = np.random.default_rng(depth).standard_normal(net.n_params)
    lin = net.linearize(theta, X, t)
    system = _pivoted_system(lin, v, EPS)
    sizes = _sizes(net, BATCH)
    P = net.n_params
    routes = {
        "structured": lambda: hessian_inverse_product(net, theta, X, t, v, EPS,
                                                      method="block", refine=0),
        "unjudged": lambda: _elimination(net.linearize(theta, X, t), v, EPS),
        "elimination": lambda: _factor_and_solve(*system),
        "riccati": lambda: RiccatiFactorization(lin, EPS).solve(v),
        "hvp": lambda: hessian_vector_product(net, theta, X, t, v),
        "hvp_on_blocks": lambda: hvp_from_blocks(lin, v),
        "gradient": lambda: net.gradient(theta, X, t),
    }
    point = {"depth": depth, "n_params": P, "block_size": max(sizes),
             "band_bytes": _band_bytes(sizes), "seconds": {}, "peak_bytes": {}}
    for name, f in routes.items():
        point["seconds"][name] = median_seconds(f, repeats)
    point["seconds"]["lapack_floor"] = lapack_floor_seconds(sizes, repeats)
    for name in ("structured", "elimination"):
        point["peak_bytes"][name] = peak_bytes(routes[name])
    if P <= dense_max:
        dense = lambda: dense_inverse_product(net, theta, X, t, v, EPS)
        point["seconds"]["dense"] = median_seconds(dense, repeats)
        point["peak_bytes"]["dense"] = peak_bytes(dense)
    if P <= cg_max:
        start = time.perf_counter()
        _, iterations, converged = krylov_inverse_product(
            net, theta, X, t, v, EPS, rtol=CG_RTOL, maxiter=CG_MAX_ITERATIONS,
            method="cg")
        point["seconds"]["cg"] = time.perf_counter() - start
        point["cg_iterations"], point["cg_converged"] = iterations, converged
    return point


def _floor_point(depth, width, batch, seed, repeats):
    """Block elimination of a built ``K'`` and its LAPACK floor, for one
    generated network: ``(n_params, block_size, seconds)``."""
    net, theta, X, t = tall_skinny_problem(depth, width, batch)
    v = np.random.default_rng(seed).standard_normal(net.n_params)
    system = _pivoted_system(net.linearize(theta, X, t), v, EPS)
    sizes = _sizes(net, batch)
    return net.n_params, max(sizes), {
        "elimination": median_seconds(lambda: _factor_and_solve(*system), repeats),
        "lapack_floor": lapack_floor_seconds(sizes, repeats)}


def _width_point(width, repeats):
    n_params, block_size, seconds = _floor_point(4, width, BATCH, width, repeats)
    return {"width": width, "n_params": n_params, "block_size": block_size,
            "seconds": seconds}


def _batch_point(batch, repeats):
    _, block_size, seconds = _floor_point(16, WIDTH, batch, batch, repeats)
    return {"batch": batch, "block_size": block_size, "seconds": seconds}


def _iris_batch_point(batch, repeats):
    """Block elimination against the Riccati sweep on `batch` Iris flowers
    (drawn without replacement) through 16 tanh layers of width 4, both from
    a built linearization with one right-hand side, and both against a dense
    solve (``error``, relative to ``cond(H + eps I) eps_mach``)."""
    X, y = load_iris()
    rows = np.random.default_rng(0).permutation(len(y))[:batch]
    net = MLP((4,) + (4,) * 16 + (3,), "tanh", "cross_entropy")
    theta = net.init(seed=0)
    lin = net.linearize(theta, X[rows], y[rows])
    v = np.random.default_rng(batch).standard_normal(net.n_params)
    system = _pivoted_system(lin, v, EPS)
    riccati = lambda: RiccatiFactorization(lin, EPS).solve(v)
    x_block, x_riccati = _factor_and_solve(*system), riccati()
    A = dense_damped_hessian(lin, EPS)
    x_dense = np.linalg.solve(A, v)
    cond = float(np.linalg.cond(A))

    def error(x):
        return float(np.linalg.norm(x - x_dense) / np.linalg.norm(x_dense)
                     / (cond * MACHINE_EPS))

    return {"batch": batch, "block_size": max(_sizes(net, batch)),
            "pivot_size": max(net.p), "condition": cond,
            "difference": float(np.linalg.norm(x_riccati - x_block)
                                / np.linalg.norm(x_block)),
            "error": {"elimination": error(x_block), "riccati": error(x_riccati)},
            "seconds": {
                "elimination": median_seconds(lambda: _factor_and_solve(*system),
                                              repeats),
                "riccati": median_seconds(riccati, repeats)}}


def _many_rhs(k, repeats):
    net, theta, X, t = tall_skinny_problem(64, WIDTH, BATCH)
    V = np.random.default_rng(0).standard_normal((net.n_params, k))

    def together():
        hessian_inverse_product(net, theta, X, t, V, EPS, method="block", refine=0)

    def one_by_one():
        for j in range(k):
            hessian_inverse_product(net, theta, X, t, V[:, j], EPS, method="block",
                                    refine=0)

    return {"rhs": k, "depth": 64, "seconds": {
        "together": median_seconds(together, repeats),
        "one_by_one": median_seconds(one_by_one, repeats)}}


def run_bench(quick=False, repeats=3, progress=None, threads=1):
    """Run every sweep; returns a JSON-ready dict (see the module docstring).

    Parameters
    ----------
    quick : bool
        Small sweeps (seconds), for tests.
    repeats : int
        Runs per timing; the median is kept.
    progress : callable, optional
        Called with a short description of each step.
    threads : int
        BLAS threads.
    """
    settings = SETTINGS["quick" if quick else "full"]
    say = progress if progress is not None else (lambda _: None)
    start = time.perf_counter()
    with threadpool_limits(limits=threads, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        result = {
            "quick": quick, "repeats": repeats, "eps": EPS, "width": WIDTH,
            "batch": BATCH,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "numpy": np.__version__, "blas": blas_info()},
            "depth": [], "width_sweep": [], "batch_sweep": [],
        }
        for depth in settings["depths"]:
            say(f"depth {depth}")
            result["depth"].append(_depth_point(depth, repeats,
                                                settings["dense_max_params"],
                                                settings["cg_max_params"]))
        for width in settings["widths"]:
            say(f"width {width}")
            result["width_sweep"].append(_width_point(width, repeats))
        for batch in settings["batches"]:
            say(f"batch {batch}")
            result["batch_sweep"].append(_batch_point(batch, repeats))
        result["iris_batch"] = []
        for batch in settings["iris_batches"]:
            say(f"Iris batch {batch}: block elimination and the Riccati sweep")
            result["iris_batch"].append(_iris_batch_point(batch, repeats))
        say(f"{settings['rhs']} right-hand sides")
        result["many_rhs"] = _many_rhs(settings["rhs"], repeats)
    result["targets"] = targets(result)
    result["seconds_total"] = time.perf_counter() - start
    return result


def _target(name, measured, bound, kind, detail):
    passed = measured <= bound if kind == "at most" else measured >= bound
    return {"target": name, "measured": float(measured), "bound": float(bound),
            "kind": kind, "passed": bool(passed), "detail": detail}


def targets(result):
    """The benchmark's targets, each as a ratio or slope from `result`."""
    points = result["depth"]
    depths = np.array([p["depth"] for p in points], dtype=float)

    def series(route, key="seconds"):
        return np.array([p[key].get(route, np.nan) for p in points], dtype=float)

    out = []
    deep = depths >= 16
    for route, words in (("structured", "linear in depth"),
                         ("riccati", "the Riccati sweep, linear in depth")):
        out.append(_target(
            f"{route} time against depth (16 and deeper): log-log slope",
            loglog_slope(depths[deep], series(route)[deep]), 1.1, "at most",
            words))
    for route, words in (("unjudged", "the paper's method alone"),
                         ("structured", ("judged: residual, norm and condition "
                                         "estimates by Hessian-vector products "
                                         "and solves"))):
        dense_ratio = series("dense") / series(route)
        where = [k for k, d in enumerate(depths)
                 if d == 256 and np.isfinite(dense_ratio[k])]
        k = where[0] if where else int(np.nanargmax(
            np.where(np.isfinite(dense_ratio), depths, -1)))
        out.append(_target(
            f"dense time / {route} time at depth {int(depths[k])}", dense_ratio[k],
            100.0, "at least", f"{words}; the target is set at depth 256"))
    for label, pts, bound in (
            ("blocks of 64 rows or more", [p for p in result["width_sweep"]
                                           + result["batch_sweep"]
                                           if p["block_size"] >= 64], 2.0),
            ("blocks under 64 rows", [p for p in result["depth"]
                                      + result["width_sweep"]
                                      + result["batch_sweep"]
                                      if p["block_size"] < 64], 5.0)):
        ratios = [p["seconds"]["elimination"] / p["seconds"]["lapack_floor"]
                  for p in pts]
        if ratios:
            out.append(_target(
                f"elimination time / LAPACK floor, {label} (worst)", max(ratios),
                bound, "at most", f"over {len(ratios)} networks"))
    peaks = series("structured", "peak_bytes")
    band = np.array([p["band_bytes"] for p in points], dtype=float)
    out.append(_target("structured peak memory against depth: log-log slope",
                       loglog_slope(depths[deep], peaks[deep]), 1.1, "at most",
                       "linear in depth"))
    out.append(_target("structured peak memory / band storage of K' (worst)",
                       float(np.nanmax(peaks / band)), 3.0, "at most",
                       "the blocks, their factors and the products"))
    out.append(_target("Hessian-vector product time / gradient time (worst)",
                       float(np.nanmax(series("hvp") / series("gradient"))), 3.0,
                       "at most", "from the network: building every layer's "
                       "blocks (Q_l is p_l x p_l) is most of it"))
    out.append(_target("Hessian-vector product on built blocks / gradient (worst)",
                       float(np.nanmax(series("hvp_on_blocks")
                                       / series("gradient"))), 3.0,
                       "at most", "the two sweeps alone"))
    iris = result["iris_batch"]
    batches = np.array([p["batch"] for p in iris], dtype=float)
    block = np.array([p["seconds"]["elimination"] for p in iris])
    riccati = np.array([p["seconds"]["riccati"] for p in iris])
    out.append(_target(
        f"Iris, 16 layers: block elimination / Riccati sweep at batch "
        f"{int(batches[-1])}", block[-1] / riccati[-1], 50.0, "at least",
        f"pivots of {iris[-1]['pivot_size']} rows instead of "
        f"{iris[-1]['block_size']}"))
    worst = {route: max(p["error"][route] for p in iris)
             for route in ("elimination", "riccati")}
    out.append(_target(
        "Iris, 16 layers: Riccati error against dense / (cond eps_mach), worst "
        "batch", worst["riccati"], 100.0, "at most",
        f"block elimination: {worst['elimination']:.1f}; a backward-stable "
        f"solve stays within a small multiple of 1"))
    big = batches >= 10
    out.append(_target("Riccati time against batch (10 and more): log-log slope",
                       loglog_slope(batches[big], riccati[big]), 2.2, "at most",
                       f"block elimination: {loglog_slope(batches[big], block[big]):.2f}"))
    many = result["many_rhs"]
    out.append(_target(
        f"{many['rhs']} right-hand sides together / one by one",
        many["seconds"]["together"] / many["seconds"]["one_by_one"], 0.5,
        "at most", "one factorization shared"))
    return out
