"""Property tests: random architectures, damping and weight scales.

For every drawn problem, ``hessian_inverse_product`` (``method="auto"``)
either leaves a small normwise backward error on ``H + eps I`` and agrees
with a dense solve within that backward error times the condition number, or
refuses because ``H + eps I`` is singular to working precision.

Tolerances: ``"auto"`` accepts a block solve whose backward error on
``H + eps I`` is at most ``BACKWARD_ERROR_FACTOR * P * eps_mach`` (measured
with 1-norm estimates), so the backward error measured here in 2-norms gets
a factor 10 for the change of norm, and the forward error (at most the
condition number times the backward error, to first order) the same bound
times ``cond(H + eps I)``.
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import LinAlgWarning

from hessian_ref import MLP, hessian_inverse_product
from hessian_ref.augmented import BACKWARD_ERROR_FACTOR, SingularHessianError
from hessian_ref.dense import autograd_hessian

MACHINE_EPS = np.finfo(float).eps

problems = st.fixed_dictionaries({
    "depth": st.integers(1, 8),
    "widths": st.lists(st.integers(1, 6), min_size=9, max_size=9),
    "batch": st.integers(1, 4),
    "activation": st.sampled_from(["tanh", "sigmoid", "softplus", "identity"]),
    "loss": st.sampled_from(["cross_entropy", "squared_error"]),
    "log_eps": st.floats(-8, 2),
    "gain": st.floats(0.1, 3.0),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems)
def test_auto_solve_matches_dense_or_refuses_a_singular_matrix(case):
    rng = np.random.default_rng(case["seed"])
    widths = tuple(case["widths"][:case["depth"] + 1])
    if case["loss"] == "cross_entropy" and widths[-1] == 1:
        widths = widths[:-1] + (2,)
    net = MLP(widths, case["activation"], case["loss"])
    theta = net.init(seed=case["seed"], gain=case["gain"], bias_scale=0.3)
    X = rng.standard_normal((case["batch"], widths[0]))
    if case["loss"] == "cross_entropy":
        t = rng.integers(0, widths[-1], size=case["batch"])
    else:
        t = rng.standard_normal((case["batch"], widths[-1]))
    eps = 10.0 ** case["log_eps"]
    v = rng.standard_normal(net.n_params)
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    cond = np.linalg.cond(A)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LinAlgWarning)
            x, info = hessian_inverse_product(net, theta, X, t, v, eps,
                                              return_info=True)
    except SingularHessianError:
        # refused: only when H + eps I is singular to working precision
        assert cond * MACHINE_EPS > 1e-4, f"refused at cond = {cond:.1e}"
        return
    accepted = 10 * BACKWARD_ERROR_FACTOR * net.n_params * MACHINE_EPS
    eta = np.linalg.norm(A @ x - v) / (np.linalg.norm(A, 2) * np.linalg.norm(x)
                                       + np.linalg.norm(v))
    assert eta <= accepted, (eta, info)
    expected = np.linalg.solve(A, v)
    error = np.linalg.norm(x - expected) / np.linalg.norm(expected)
    assert error <= max(1e-10, cond * accepted), (error, cond, info)
    N = net.n_params + 2 * sum(net.state_sizes(case["batch"])[1:])
    if info.method == "riccati":
        # the sweep solves H + eps I without K': it has no backward error there
        assert np.isnan(info.backward_error)
    else:
        assert info.backward_error <= BACKWARD_ERROR_FACTOR * N * MACHINE_EPS
