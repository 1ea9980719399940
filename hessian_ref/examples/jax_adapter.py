"""The golden cases answered by JAX: an independent check of hessian_ref.

:func:`jax_answers` takes a :class:`hessian_ref.validate.Case` and computes
every quantity of :data:`hessian_ref.validate.QUANTITIES` with JAX's
automatic differentiation, in float64, from the case's inputs alone:
``widths``, ``activations``, ``loss``, ``reduction``, ``theta``, ``X``,
``targets``, ``v`` and ``eps``. It never reads ``case.expected`` and uses no
computation of hessian_ref: the network, its activations and its loss are
written again below in ``jax.numpy``, and every derivative comes from
``jax.grad``, ``jax.jvp`` and ``jax.hessian``. Agreement with the case is
therefore agreement between two implementations that share nothing but the
definition of the model:

* hidden layers ``Z_l = act(Z_{l-1} W_l^T + b_l)`` with ``W_l`` of shape
  ``(out, in)``; activations ``tanh``, ``sigmoid``, ``softplus``
  (``log(1 + exp(u))``) and ``identity``;
* a head ``U = Z_{L-1} W_L^T + b_L`` followed by the softmax cross-entropy
  ``logsumexp(U_n) - U_n[y_n]`` (integer labels) or the squared error
  ``(1/2) ||U_n - t_n||^2`` of each sample ``n``;
* the loss is the mean of the per-sample losses over the batch, or their sum
  when ``reduction == "sum"``;
* the flat parameters ``theta`` are hessian_ref's layout: layer by layer,
  ``W_l`` row-major, then ``b_l``.

The quantities:

``loss``, ``gradient``
    The loss and ``jax.grad`` of it.
``hvp``
    ``H v`` forward-over-reverse: ``jax.jvp`` of ``jax.grad``.
``hessian``
    ``jax.hessian`` (forward over reverse), only when ``P <= 400``, the
    cases that carry the dense Hessian.
``inverse_hvp``
    ``(H + eps I)^{-1} v``. When ``P <= dense_limit`` (2000 by default),
    by ``jnp.linalg.solve`` (LU with partial pivoting) on the dense
    ``H + eps I``, ``H`` from ``jax.hessian``. Beyond that, without forming
    ``H``: GMRES (``jax.scipy.sparse.linalg.gmres``, restarted every 500
    steps) with the Hessian-vector product as its operator, asked for a
    relative residual of ``1e-13``. JAX's GMRES reports no convergence
    flag, so the residual ``||(H + eps I) x - v|| / ||v||`` is recomputed;
    above ``1e-11`` (GMRES stagnated, typically on a badly conditioned
    ``H + eps I``) ``inverse_hvp`` is left out of the answers, with a
    :class:`RuntimeWarning`, and the check lists it as not answered. Even
    a small residual bounds the error only by the condition number times
    it, so the case's check, not this module, judges the answer.

JAX is imported only when it is needed, so this module imports without it;
:func:`jax_answers` then raises an :class:`ImportError` that says to
``pip install jax``. JAX's float64 mode (``jax_enable_x64``) is switched on
by :func:`jax_answers` itself, for the whole process, when it first runs.

In Python::

    from hessian_ref.validate import standard_suite, validate
    from hessian_ref.examples.jax_adapter import jax_answers

    report = validate(jax_answers, standard_suite())
    print("\\n".join(report.lines()))

Against case files on disk, one answer file per case, of the same name::

    hessian-ref export CASES_DIR
    python -m hessian_ref.examples.jax_adapter CASES_DIR ANSWERS_DIR
    hessian-ref check CASES_DIR ANSWERS_DIR

(in Python: :func:`hessian_ref.validate.export_suite`, :func:`write_answers`
and :func:`hessian_ref.validate.check_directory`). The standard suite
takes about half a minute on two cores, most of it XLA compiling each
case's functions.
"""

import os
import sys
import warnings

import numpy as np

__all__ = ["DENSE_LIMIT", "HESSIAN_LIMIT", "jax_answers", "main", "write_answers"]

#: The dense Hessian is answered when ``P`` is at most this.
HESSIAN_LIMIT = 400

#: The inverse product is a dense solve when ``P`` is at most this, else GMRES.
DENSE_LIMIT = 2000

#: Relative residual GMRES is asked for.
GMRES_TOL = 1e-13

#: GMRES's answer is given only when its relative residual ``||(H + eps I) x
#: - v|| / ||v||``, recomputed afterwards, is at most this.
GMRES_ACCEPT = 1e-11

#: Krylov dimension between GMRES restarts (at most ``P``).
GMRES_RESTART = 500

#: GMRES stops after about this many times ``P`` Hessian-vector products.
GMRES_PRODUCTS = 10


def _import_jax():
    """``(jax, jax.numpy)`` with float64 switched on; a clear ImportError
    without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as error:
        raise ImportError(
            "hessian_ref.examples.jax_adapter needs JAX, which is not "
            "installed: pip install jax") from error
    jax.config.update("jax_enable_x64", True)
    if jnp.zeros(1).dtype != jnp.float64:
        raise RuntimeError("JAX did not switch to float64 (jax_enable_x64)")
    return jax, jnp


def _activation(jnp, name):
    """The activation called `name`, written in forms that stay finite and
    differentiable to second order for any real input."""
    if name == "tanh":
        return jnp.tanh
    if name == "identity":
        return lambda u: u
    if name == "sigmoid":
        def sigmoid(u):
            # exp only of non-positive numbers; each branch sees a clamped
            # input so that the branch not taken has finite derivatives
            pos = jnp.where(u >= 0, u, 0.0)
            neg = jnp.where(u < 0, u, 0.0)
            e = jnp.exp(neg)
            return jnp.where(u >= 0, 1.0 / (1.0 + jnp.exp(-pos)), e / (1.0 + e))
        return sigmoid
    if name == "softplus":
        def softplus(u):
            # log(1 + e^u) = u + log(1 + e^-u) for u > 0
            pos = jnp.where(u > 0, u, 0.0)
            neg = jnp.where(u > 0, 0.0, u)
            return jnp.where(u > 0, pos + jnp.log1p(jnp.exp(-pos)),
                             jnp.log1p(jnp.exp(neg)))
        return softplus
    raise ValueError(f"activations: expected tanh, sigmoid, softplus or "
                     f"identity, got {name!r}")


def _loss_function(jax, jnp, case):
    """The loss of `case` as a function of the flat parameters."""
    widths = tuple(int(h) for h in case.widths)
    depth = len(widths) - 1
    if len(case.activations) != depth - 1:
        raise ValueError(f"activations: expected {depth - 1} names, got "
                         f"{len(case.activations)}")
    for name in case.activations:
        _activation(jnp, str(name))  # an unknown name fails here
    X = jnp.asarray(np.asarray(case.X, dtype=np.float64))
    batch = X.shape[0]
    if case.reduction not in ("mean", "sum"):
        raise ValueError(f"reduction: expected 'mean' or 'sum', got "
                         f"{case.reduction!r}")
    weight = 1.0 / batch if case.reduction == "mean" else 1.0

    if case.loss == "cross_entropy":
        labels = jnp.asarray(np.asarray(case.targets, dtype=np.int64))

        def sample_losses(U):
            # log-sum-exp shifted by the row maximum; the shift is a constant
            # for differentiation (it cancels exactly)
            m = jax.lax.stop_gradient(jnp.max(U, axis=1, keepdims=True))
            lse = m[:, 0] + jnp.log(jnp.sum(jnp.exp(U - m), axis=1))
            return lse - jnp.take_along_axis(U, labels[:, None], axis=1)[:, 0]
    elif case.loss == "squared_error":
        t = jnp.asarray(np.asarray(case.targets, dtype=np.float64))

        def sample_losses(U):
            return 0.5 * jnp.sum((U - t) ** 2, axis=1)
    else:
        raise ValueError(f"loss: expected 'cross_entropy' or 'squared_error', "
                         f"got {case.loss!r}")

    # Consecutive hidden layers of one shape and one activation form a run,
    # applied by one lax.scan over their stacked parameters (contiguous in
    # theta): a deep network is then a small program, which XLA compiles
    # quickly, where an unrolled one takes minutes and gigabytes.
    runs, start = [], 0
    for l in range(depth - 1):
        n_in, n_out = widths[l], widths[l + 1]
        key = (n_in, n_out, str(case.activations[l]))
        if runs and runs[-1][0] == key:
            runs[-1][2] += 1
        else:
            runs.append([key, start, 1])
        start += (n_in + 1) * n_out
    head_start = start

    def affine(Z, x, n_in, n_out):
        W = x[:n_out * n_in].reshape(n_out, n_in)  # row-major (out, in)
        return Z @ W.T + x[n_out * n_in:]

    def loss(theta):
        Z = X
        for (n_in, n_out, name), first, count in runs:
            act = _activation(jnp, name)
            size = (n_in + 1) * n_out
            block = theta[first:first + count * size].reshape(count, size)
            if count == 1:
                Z = act(affine(Z, block[0], n_in, n_out))
            else:
                def step(Z, x, act=act, n_in=n_in, n_out=n_out):
                    return act(affine(Z, x, n_in, n_out)), None
                Z, _ = jax.lax.scan(step, Z, block)
        U = affine(Z, theta[head_start:], widths[-2], widths[-1])
        return weight * jnp.sum(sample_losses(U))

    n_params = sum((widths[l] + 1) * widths[l + 1] for l in range(depth))
    return loss, n_params


def jax_answers(case, dense_limit=DENSE_LIMIT, hessian_limit=HESSIAN_LIMIT):
    """Every quantity of `case`, computed by JAX from the case's inputs.

    Parameters
    ----------
    case : hessian_ref.validate.Case
        Only ``widths``, ``activations``, ``loss``, ``reduction``, ``theta``,
        ``X``, ``targets``, ``v`` and ``eps`` are read.
    dense_limit : int
        ``inverse_hvp`` is a dense solve for ``P <= dense_limit``, else GMRES
        on Hessian-vector products, left out when GMRES does not converge
        (see the module docstring).
    hessian_limit : int
        ``hessian`` is answered only for ``P <= hessian_limit``.

    Returns
    -------
    dict
        ``loss`` (float64 scalar), ``gradient``, ``hvp``, ``inverse_hvp``
        (``(P,)`` float64 arrays) and, for ``P <= hessian_limit``,
        ``hessian`` (``(P, P)``), as NumPy arrays.

    Raises
    ------
    ImportError
        Without JAX.

    Warns
    -----
    RuntimeWarning
        When GMRES stagnates and ``inverse_hvp`` is left out.
    """
    jax, jnp = _import_jax()
    loss, n_params = _loss_function(jax, jnp, case)
    theta = jnp.asarray(np.asarray(case.theta, dtype=np.float64))
    v = jnp.asarray(np.asarray(case.v, dtype=np.float64))
    if theta.shape != (n_params,) or v.shape != (n_params,):
        raise ValueError(f"theta, v: expected shape ({n_params},) for widths "
                         f"{tuple(case.widths)}, got {theta.shape} and "
                         f"{v.shape}")
    eps = float(case.eps)

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    gradient = jax.grad(loss)
    hvp = jax.jit(lambda u: jax.jvp(gradient, (theta,), (u,))[1])

    value, grad = value_and_grad(theta)
    answers = {
        "loss": np.float64(value),
        "gradient": np.asarray(grad, dtype=np.float64),
        "hvp": np.asarray(hvp(v), dtype=np.float64),
    }
    H = None
    if n_params <= max(hessian_limit, dense_limit):
        H = jax.jit(jax.hessian(loss))(theta)
    if n_params <= hessian_limit:
        answers["hessian"] = np.asarray(H, dtype=np.float64)
    if n_params <= dense_limit:
        x = jnp.linalg.solve(H + eps * jnp.eye(n_params), v)
        answers["inverse_hvp"] = np.asarray(x, dtype=np.float64)
    else:
        x, residual = _gmres(jax, jnp, hvp, v, eps, n_params)
        if residual <= GMRES_ACCEPT:
            answers["inverse_hvp"] = np.asarray(x, dtype=np.float64)
        else:
            warnings.warn(
                f"case {case.name}: GMRES reached a relative residual of "
                f"{residual:.1e} only (above {GMRES_ACCEPT:.0e}), so "
                f"inverse_hvp is left unanswered; raise dense_limit above "
                f"P = {n_params} to solve densely", RuntimeWarning,
                stacklevel=2)
    return answers


def _gmres(jax, jnp, hvp, v, eps, n_params):
    """``(x, relative residual)`` of restarted GMRES on ``(H + eps I) x = v``,
    the residual recomputed with the Hessian-vector product."""
    def damped(u):
        return hvp(u) + eps * u

    from jax.scipy.sparse.linalg import gmres

    restart = min(n_params, GMRES_RESTART)
    maxiter = max(1, -(-GMRES_PRODUCTS * n_params // restart))
    x, _ = gmres(
        damped, v, tol=GMRES_TOL, atol=0.0, restart=restart, maxiter=maxiter,
        solve_method="incremental")
    residual = float(jnp.linalg.norm(damped(x) - v) / jnp.linalg.norm(v))
    return x, residual


def write_answers(cases, answers_dir, progress=None):
    """Answer every case file in `cases` (a directory, or one file) into
    `answers_dir`, one ``.npz`` of the same name per case; returns the paths
    written. `progress`, if given, is called with each case file's path."""
    from hessian_ref.validate import case_paths, load_case

    os.makedirs(answers_dir, exist_ok=True)
    written = []
    for path in case_paths(os.fspath(cases)):
        if progress is not None:
            progress(path)
        answers = jax_answers(load_case(path))
        out = os.path.join(answers_dir, os.path.basename(path))
        np.savez(out, **answers)
        written.append(out)
    return written


def main(argv=None):
    """``python -m hessian_ref.examples.jax_adapter CASES_DIR ANSWERS_DIR``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m hessian_ref.examples.jax_adapter",
        description="Answer golden case files with JAX, one answers .npz per "
                    "case; check them with hessian-ref check CASES_DIR "
                    "ANSWERS_DIR.")
    parser.add_argument("cases", metavar="CASES_DIR",
                        help="a directory of case .npz files, or one case file")
    parser.add_argument("answers", metavar="ANSWERS_DIR",
                        help="where to write the answer files")
    args = parser.parse_args(argv)
    paths = write_answers(args.cases, args.answers,
                          progress=lambda path: print(path, flush=True))
    print(f"wrote {len(paths)} answer files to {args.answers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
