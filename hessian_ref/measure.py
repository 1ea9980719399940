"""Timing, memory and accuracy sweeps behind the scaling and damping claims.

Each sweep returns a plain dict (lists of numbers, NaN where a route was not
run) that :mod:`hessian_ref.claims` judges and :mod:`hessian_ref.figures`
draws. Times are medians of repeated runs of whole routes, each starting
from the network, its parameters and the batch:

* structured: :func:`~hessian_ref.augmented.hessian_inverse_product` with
  block elimination, the paper's method (``method="block"``), unrefined
  (``refine=0``) but judged by its backward error on ``H + eps I``;
* dense: the blocks, ``H`` materialised by Hessian-vector products on the
  identity, then ``numpy.linalg.solve``;
* Krylov: MINRES (symmetric, so it copes with an indefinite ``H + eps I``) on
  a ``LinearOperator`` of ``H + eps I`` built from Hessian-vector products.

Peak memory is what ``tracemalloc`` sees NumPy allocate during one run.
The sweeps run with the BLAS limited to `threads` threads (one by default:
on small blocks a multithreaded OpenBLAS spends more time waking its threads
than computing, which buries the scaling under noise) and record which BLAS
ran. Nothing here prints; `progress` callbacks report what runs.
"""

import itertools
import time
import tracemalloc
import warnings
from functools import partial

import numpy as np
import scipy.linalg.lapack
import scipy.sparse.linalg
from scipy.linalg import LinAlgWarning
from threadpoolctl import threadpool_info, threadpool_limits

from .augmented import hessian_inverse_product, solve_from_blocks
from .block_tridiagonal import SingularBlockError
from .hvp import hessian_vector_product, hvp_from_blocks
from .network import MLP
from .operators import damped_hessian_operator

__all__ = [
    "batch_sweep",
    "blas_info",
    "breakdown_problem",
    "dense_inverse_product",
    "depth_sweep",
    "elimination_flops",
    "eps_sweep",
    "hvp_flops",
    "krylov_inverse_product",
    "lapack_floor_seconds",
    "median_seconds",
    "peak_bytes",
    "tall_skinny_problem",
    "width_sweep",
]

#: Relative residual at which the Krylov route stops in the timing sweeps.
KRYLOV_RTOL = 1e-8


def blas_info():
    """The BLAS libraries loaded (name, version, architecture, threads),
    sorted by name and version so that runs list them in the same order."""
    found = [
        {key: lib.get(key) for key in
         ("internal_api", "version", "architecture", "num_threads", "prefix")}
        for lib in threadpool_info() if lib.get("user_api") == "blas"
    ]
    return sorted(found, key=lambda lib: (str(lib["internal_api"]),
                                          str(lib["version"])))


def median_seconds(f, repeats=3):
    """Median wall-clock time of `repeats` calls of ``f()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def peak_bytes(f):
    """Peak bytes allocated (as traced by ``tracemalloc``) during ``f()``."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(peak - base)


def tall_skinny_problem(depth, width, batch, seed=0, activation="tanh",
                        loss="cross_entropy", n_in=4, n_out=3):
    """A generated deep, narrow network on a random batch.

    ``n_in -> depth x activation(width) -> n_out`` with a seeded orthogonal
    initialisation at gain 1 (so that curvature survives the depth), biases
    of scale 0.1, standard normal inputs and uniform random labels (or
    standard normal regression targets).

    Returns
    -------
    net, theta, X, targets
    """
    rng = np.random.default_rng(seed)
    net = MLP((n_in,) + (width,) * depth + (n_out,), activation, loss)
    theta = net.init(seed=seed, gain=1.0, bias_scale=0.1)
    X = rng.standard_normal((batch, n_in))
    if loss == "cross_entropy":
        targets = rng.integers(0, n_out, size=batch)
    else:
        targets = rng.standard_normal((batch, n_out))
    return net, theta, X, targets


def lapack_floor_seconds(sizes, repeats=3, seed=0):
    """Time of the bare LAPACK work of block elimination on blocks of `sizes`.

    For every block: one ``dgetrf``; towards the next block one ``dgetrs``
    with as many right-hand sides as the next block has rows, and one
    ``dgemm`` for the Schur update; then the two sweeps of a solve with one
    right-hand side. Random, well-conditioned blocks, nothing else around
    them: the floor the structured solve cannot go below.
    """
    rng = np.random.default_rng(seed)
    blocks = [rng.standard_normal((m, m)) + m * np.eye(m) for m in sizes]
    couplings = [rng.standard_normal((m2, m1)) for m1, m2 in itertools.pairwise(sizes)]
    rhs = [rng.standard_normal(m) for m in sizes]

    def run():
        factors = []
        for k, D in enumerate(blocks):
            lu, piv, _ = scipy.linalg.lapack.dgetrf(D)
            factors.append((lu, piv))
            if k + 1 < len(blocks):
                E = couplings[k]
                X, _ = scipy.linalg.lapack.dgetrs(lu, piv, E.T)
                E @ X  # the Schur update's product
        for (lu, piv), r in zip(factors, rhs):
            scipy.linalg.lapack.dgetrs(lu, piv, r)
            scipy.linalg.lapack.dgetrs(lu, piv, r)

    return median_seconds(run, repeats)


def elimination_flops(sizes):
    """Floating-point operations of block elimination on blocks of `sizes`:
    ``2/3 m_k^3`` per LU, ``2 m_k^2 m_(k+1)`` per ``U_k^{-1} F_k`` and
    ``2 m_(k+1)^2 m_k`` per Schur update (the solve sweeps are lower order).
    """
    flops = sum(2 / 3 * m**3 for m in sizes)
    flops += sum(2 * m1 * m1 * m2 + 2 * m2 * m2 * m1
                 for m1, m2 in itertools.pairwise(sizes))
    return float(flops)


def hvp_flops(p, a):
    """Floating-point operations of one Hv with the explicit per-layer blocks
    (``p = p_1..p_L``, ``a = a_0..a_L``): products with ``J_l`` twice,
    ``G_l`` twice, ``Q_l``, ``R_l`` twice and ``S_l`` once per layer."""
    flops = 0
    for l, p_l in enumerate(p):
        a_l, a_in = a[l + 1], a[l]
        flops += 4 * a_l * p_l + 2 * p_l * p_l
        if l > 0:
            flops += 4 * a_l * a_in + 4 * p_l * a_in + 2 * a_in * a_in
    return float(flops)


def _small_tanh_problem(data_seed, init_seed):
    """A three-layer tanh network (widths 2, 3, 3, 2, gain 1.5) on two
    samples of two classes, and its linearization."""
    net = MLP((2, 3, 3, 2), "tanh", "cross_entropy")
    theta = net.init(seed=init_seed, gain=1.5, bias_scale=0.3)
    X = np.random.default_rng(data_seed).standard_normal((2, 2))
    y = np.array([0, 1])
    return net, theta, X, y, net.linearize(theta, X, y)


def breakdown_problem():
    """A network and the damping at which block elimination breaks down.

    A three-layer tanh network (widths 2, 3, 3, 2) on two samples, and the
    ``eps`` at which the first pivot block ``U_1 = D_1`` is singular: exactly
    when ``-eps`` is an eigenvalue of ``Q_1 + J_1^T S_2 J_1`` (derivation.md
    section 6), while ``H + eps I`` is well conditioned there.

    Returns
    -------
    net, theta, X, y, lin, eps
    """
    net, theta, X, y, lin = _small_tanh_problem(data_seed=1, init_seed=3)
    first, second = lin.layers[0], lin.layers[1]
    C = first.Q + first.J.T @ second.S @ first.J
    return net, theta, X, y, lin, float(-np.linalg.eigvalsh(C)[0])


def pivot_breakdown_problem():
    """A network and a damping at which a Riccati pivot is singular while
    ``H + eps I`` is not.

    A three-layer tanh network (widths 2, 3, 3, 2) on two samples, and the
    ``eps`` in ``[0.5, 1]`` where the smallest eigenvalue of the second
    layer's pivot ``Hxx_2`` (derivation.md section 12) changes sign, found by
    bisection to the last bit. The head's pivot is positive definite for
    ``eps > 0``, so one negative eigenvalue of ``H + eps I`` moves there
    from ``Hxx_2`` to ``Hxx_1`` through a pole: the sweep breaks down at a
    point where ``H + eps I`` has condition number about 6.

    Returns
    -------
    net, theta, X, y, lin, eps
    """
    from scipy.optimize import brentq

    from .riccati import RiccatiFactorization

    net, theta, X, y, lin = _small_tanh_problem(data_seed=3, init_seed=3)

    def smallest(eps):
        pivot = RiccatiFactorization(lin, eps).pivots[1]
        return np.linalg.eigvalsh(pivot)[0]

    eps = brentq(smallest, 0.5, 1.0, xtol=1e-300, rtol=4 * np.finfo(float).eps)
    return net, theta, X, y, lin, float(eps)


def dense_damped_hessian(lin, eps):
    """``H + eps I`` materialised from ``P`` Hessian-vector products on the
    blocks of `lin`, symmetrised."""
    H = hvp_from_blocks(lin, np.eye(sum(lin.p)))
    H = 0.5 * (H + H.T)
    H[np.diag_indices_from(H)] += eps
    return H


def dense_inverse_product(net, theta, X, targets, v, eps):
    """``(H + eps I)^{-1} v`` the dense way: materialise ``H``, then solve."""
    return np.linalg.solve(dense_damped_hessian(net.linearize(theta, X, targets),
                                                eps), v)


def krylov_inverse_product(net, theta, X, targets, v, eps, rtol=KRYLOV_RTOL,
                           maxiter=None, method="minres"):
    """``(H + eps I)^{-1} v`` by a Krylov method on Hessian-vector products.

    `method` is ``"minres"`` (symmetric, copes with an indefinite
    ``H + eps I``) or ``"cg"`` (conjugate gradients, which needs it
    positive definite); `maxiter` defaults to ``2 P``.

    Returns
    -------
    x : (P,) ndarray
    iterations : int
    converged : bool
    """
    solvers = {"minres": scipy.sparse.linalg.minres, "cg": scipy.sparse.linalg.cg}
    A = damped_hessian_operator(net, theta, X, targets, eps)
    count = [0]

    def callback(_):
        count[0] += 1

    maxiter = maxiter if maxiter is not None else 2 * net.n_params
    x, info = solvers[method](A, v, rtol=rtol, maxiter=maxiter, callback=callback)
    return x, count[0], info == 0


def _routes(net, theta, X, targets, v, eps):
    return {
        "structured": partial(hessian_inverse_product, net, theta, X, targets, v, eps,
                              method="block", refine=0),
        "dense": lambda: dense_inverse_product(net, theta, X, targets, v, eps),
        "cg": lambda: krylov_inverse_product(net, theta, X, targets, v, eps),
        "hvp": lambda: hessian_vector_product(net, theta, X, targets, v),
        "gradient": lambda: net.gradient(theta, X, targets),
    }


def depth_sweep(depths, width=4, batch=2, eps=1e-2, dense_max_params=3000,
                krylov_max_params=3000, repeats=3, progress=None, threads=1):
    """Time and peak memory of each route against depth.

    The dense route is run while ``P <= dense_max_params`` and the Krylov
    route while ``P <= krylov_max_params``; beyond, their entries are NaN.
    The BLAS runs with `threads` threads.

    Returns
    -------
    dict
        ``depths``, ``width``, ``batch``, ``eps``, ``n_params``,
        ``block_sizes`` (largest ``p_l + 2 a_l``), ``seconds`` and
        ``peak_bytes`` (each a dict of lists keyed by route: ``structured``,
        ``dense``, ``cg``; ``seconds`` also ``hvp`` and ``gradient``),
        ``band_bytes`` (storage of the blocks of ``K'``), ``cg_iterations``,
        ``cg_converged`` and ``blas`` (see :func:`blas_info`). The Krylov
        time is of one run (it is long and steady), the others are medians.
    """
    with threadpool_limits(limits=threads, user_api="blas"):
        return _depth_sweep(depths, width, batch, eps, dense_max_params,
                            krylov_max_params, repeats, progress)


def _depth_sweep(depths, width, batch, eps, dense_max_params, krylov_max_params,
                 repeats, progress):
    """The body of :func:`depth_sweep`, under its thread limit."""
    out = {
        "blas": blas_info(),
        "depths": [int(d) for d in depths], "width": width, "batch": batch,
        "eps": eps, "n_params": [], "block_sizes": [], "band_bytes": [],
        "cg_iterations": [], "cg_converged": [],
        "seconds": {k: [] for k in ("structured", "dense", "cg", "hvp", "gradient")},
        "peak_bytes": {k: [] for k in ("structured", "dense", "cg")},
    }
    for depth in depths:
        if progress is not None:
            progress(f"depth {depth}")
        net, theta, X, t = tall_skinny_problem(depth, width, batch)
        v = np.random.default_rng(depth).standard_normal(net.n_params)
        routes = _routes(net, theta, X, t, v, eps)
        P = net.n_params
        a = net.state_sizes(batch)[1:]
        sizes = [p + 2 * a_l for p, a_l in zip(net.p, a)]
        out["n_params"].append(P)
        out["block_sizes"].append(max(sizes))
        off_diagonal = sum(x * y for x, y in itertools.pairwise(sizes))
        out["band_bytes"].append(8 * (sum(s * s for s in sizes) + 2 * off_diagonal))
        run = {
            "structured": True,
            "dense": P <= dense_max_params,
            "cg": P <= krylov_max_params,
            "hvp": True,
            "gradient": True,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinAlgWarning)
            for name, f in routes.items():
                if not run[name]:
                    out["seconds"][name].append(float("nan"))
                    if name in out["peak_bytes"]:
                        out["peak_bytes"][name].append(float("nan"))
                    continue
                if name == "cg":
                    # slow and steady: one timed run, which also counts iterations
                    start = time.perf_counter()
                    _, iterations, converged = f()
                    out["seconds"][name].append(time.perf_counter() - start)
                    out["cg_iterations"].append(iterations)
                    out["cg_converged"].append(bool(converged))
                else:
                    out["seconds"][name].append(median_seconds(f, repeats))
                if name in out["peak_bytes"]:
                    out["peak_bytes"][name].append(peak_bytes(f))
            if not run["cg"]:
                out["cg_iterations"].append(float("nan"))
                out["cg_converged"].append(False)
    return out


def width_sweep(widths, depth=4, batch=2, eps=1e-2, dense_max_params=3000,
                repeats=3, progress=None, threads=1):
    """Time of the structured and dense routes against layer width.

    Returns
    -------
    dict
        ``widths``, ``depth``, ``batch``, ``eps``, ``n_params``,
        ``block_sizes`` (largest ``p_l + 2 a_l``), ``max_a_p`` (largest
        ``p_l`` or ``a_l``), ``flops`` (``structured`` elimination and one
        ``hvp``, counted from the sizes) and ``seconds`` with lists keyed
        ``structured``, ``dense``, ``hvp`` and ``lapack_floor``, and
        ``blas``. The BLAS runs with `threads` threads.
    """
    with threadpool_limits(limits=threads, user_api="blas"):
        return _width_sweep(widths, depth, batch, eps, dense_max_params, repeats,
                            progress)


def _width_sweep(widths, depth, batch, eps, dense_max_params, repeats, progress):
    """The body of :func:`width_sweep`, under its thread limit."""
    out = {
        "blas": blas_info(),
        "widths": [int(w) for w in widths], "depth": depth, "batch": batch,
        "eps": eps, "n_params": [], "block_sizes": [], "max_a_p": [],
        "flops": {"structured": [], "hvp": []},
        "seconds": {"structured": [], "dense": [], "hvp": [], "lapack_floor": [],
                    "hvp_on_blocks": [], "solve_on_blocks": []},
    }
    for width in widths:
        if progress is not None:
            progress(f"width {width}")
        net, theta, X, t = tall_skinny_problem(depth, width, batch)
        v = np.random.default_rng(width).standard_normal(net.n_params)
        routes = _routes(net, theta, X, t, v, eps)
        a_all = net.state_sizes(batch)
        a = a_all[1:]
        sizes = [p + 2 * a_l for p, a_l in zip(net.p, a)]
        out["n_params"].append(net.n_params)
        out["block_sizes"].append(max(sizes))
        out["max_a_p"].append(max(max(net.p), max(a)))
        out["flops"]["structured"].append(elimination_flops(sizes))
        out["flops"]["hvp"].append(hvp_flops(net.p, a_all))
        out["seconds"]["lapack_floor"].append(lapack_floor_seconds(sizes, repeats))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinAlgWarning)
            for name in ("structured", "hvp"):
                out["seconds"][name].append(median_seconds(routes[name], repeats))
            # the two products alone, on blocks already built
            lin = net.linearize(theta, X, t)
            out["seconds"]["hvp_on_blocks"].append(
                median_seconds(partial(hvp_from_blocks, lin, v), repeats))
            out["seconds"]["solve_on_blocks"].append(
                median_seconds(partial(solve_from_blocks, lin, v, eps, refine=0),
                               repeats))
            dense = (median_seconds(routes["dense"], repeats)
                     if net.n_params <= dense_max_params else float("nan"))
            out["seconds"]["dense"].append(dense)
    return out


def batch_sweep(batches, depth=8, width=4, eps=1e-2, repeats=3, progress=None,
                threads=1):
    """Time of the structured solve against the batch size.

    The batch is folded into the state, ``a_l = B h_l``, so the blocks of
    ``K'`` grow with it (the paper's cost analysis leaves this out).

    Returns
    -------
    dict
        ``batches``, ``depth``, ``width``, ``eps``, ``block_sizes`` (largest
        ``p_l + 2 a_l``), ``seconds`` (``structured``) and ``blas``.
    """
    with threadpool_limits(limits=threads, user_api="blas"):
        out = {"blas": blas_info(), "batches": [int(b) for b in batches],
               "depth": depth, "width": width, "eps": eps, "block_sizes": [],
               "seconds": {"structured": []}}
        for batch in batches:
            if progress is not None:
                progress(f"batch {batch}")
            net, theta, X, t = tall_skinny_problem(depth, width, batch)
            v = np.random.default_rng(batch).standard_normal(net.n_params)
            a = net.state_sizes(batch)[1:]
            out["block_sizes"].append(max(p + 2 * a_l for p, a_l in zip(net.p, a)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LinAlgWarning)
                out["seconds"]["structured"].append(median_seconds(
                    partial(hessian_inverse_product, net, theta, X, t, v, eps,
                            method="block", refine=0),
                    repeats))
        return out


def eps_sweep(net, theta, X, targets, H, eps_values, seed=0, progress=None):
    """Accuracy of the structured and dense solves, and Krylov iterations,
    against the damping.

    A known answer ``x_true`` gives ``v = (H + eps I) x_true``; both solves
    are judged against ``x_true``. A structured solve that is refused
    (``SingularBlockError``) records NaN and ``refused = True``.

    Parameters
    ----------
    H : (P, P) ndarray
        The dense Hessian (for ``v``, the dense solve and the conditioning).

    Returns
    -------
    dict
        ``eps``, ``error`` (``structured``, ``dense``), ``cond``,
        ``min_eigenvalue`` (of ``H + eps I``), ``refused``, ``backward_error``,
        ``cg_iterations``, ``cg_converged``.
    """
    lin = net.linearize(theta, X, targets)
    P = net.n_params
    x_true = np.random.default_rng(seed).standard_normal(P)
    eigenvalues = np.linalg.eigvalsh(H)
    out = {"eps": [float(e) for e in eps_values],
           "error": {"structured": [], "dense": []}, "cond": [],
           "min_eigenvalue": [], "refused": [], "backward_error": [],
           "cg_iterations": [], "cg_converged": []}
    for eps in eps_values:
        if progress is not None:
            progress(f"eps {eps:.0e}")
        A = H + eps * np.eye(P)
        v = A @ x_true
        shifted = np.abs(eigenvalues + eps)
        out["cond"].append(float(shifted.max() / shifted.min()))
        out["min_eigenvalue"].append(float(eigenvalues[0] + eps))
        out["error"]["dense"].append(_rel(np.linalg.solve(A, v), x_true))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinAlgWarning)
            try:
                x, info = solve_from_blocks(lin, v, eps, return_info=True, refine=0)
                out["error"]["structured"].append(_rel(x, x_true))
                out["backward_error"].append(info.backward_error)
                out["refused"].append(False)
            except SingularBlockError:
                out["error"]["structured"].append(float("nan"))
                out["backward_error"].append(float("nan"))
                out["refused"].append(True)
        _, iterations, converged = krylov_inverse_product(
            net, theta, X, targets, v, eps, maxiter=2 * P)
        out["cg_iterations"].append(iterations)
        out["cg_converged"].append(bool(converged))
    return out


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
