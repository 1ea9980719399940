"""The SciPy linear operators of hessian_ref.operators against dense algebra.

Tolerances, with their reasons:

- ``H x``: rounding on both sides, and ``||H x||`` can fall below
  ``||H|| ||x||`` by cancellation, so errors are measured against
  ``||H||_2 ||x||``: ``1e-12`` (as in tests/test_hvp.py).
- ``(H + eps I)^{-1} x``: forward error up to ``cond`` times the backward
  error, which the library lets reach ``1e3 N eps_mach``; so
  ``max(1e-10, 1e3 cond eps_mach)`` (as in tests/test_augmented.py).
- ``cg`` stops at ``||r|| <= rtol ||b||``, so its forward error is at most
  ``cond * rtol``; with ``rtol = 1e-12``, ``10 cond 1e-12`` leaves room.
- The same sweeps on the same blocks give the same bits: such results are
  compared exactly.

A ``LinAlgWarning`` is a ``RuntimeWarning``, which setup.cfg turns into an
error, so every product below is also checked to raise none.
"""

import numpy as np
import pytest
from conftest import (
    MACHINE_EPS,
    SHAPES,
    assert_curvature_alive,
    make_problem,
    plant_wrong_entry,
    rel_err,
)
from scipy.linalg import LinAlgWarning
from scipy.sparse.linalg import LinearOperator, cg, minres

from hessian_ref import MLP, hessian_inverse_product, hessian_vector_product
from hessian_ref.block_tridiagonal import BlockTridiagonal, SingularBlockError
from hessian_ref.dense import autograd_hessian
from hessian_ref.measure import breakdown_problem
from hessian_ref.operators import (
    damped_hessian_operator,
    hessian_operator,
    inverse_operator,
)

rng = np.random.default_rng(808)
ACTS = ["tanh", "sigmoid", "softplus", "identity"]
LOSSES = ["cross_entropy", "squared_error"]
EPS = [1e-3, 0.1, 1.0]


def solve_tolerance(A):
    return max(1e-10, 1e3 * np.linalg.cond(A) * MACHINE_EPS)


def assert_symmetric_products(op, n):
    """rmatvec, rmatmat, .T and .H are the operator's own products."""
    v = rng.standard_normal(n)
    V = rng.standard_normal((n, 2))
    np.testing.assert_array_equal(op.rmatvec(v), op.matvec(v))
    np.testing.assert_array_equal(op.rmatmat(V), op.matmat(V))
    np.testing.assert_array_equal(op.T @ v, op @ v)
    np.testing.assert_array_equal(op.H @ v, op @ v)
    np.testing.assert_array_equal(op.adjoint().matvec(v), op.matvec(v))


# ------------------------------------------------------------------ H


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_hessian_operator_matches_dense(widths, batch, activation, loss):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    H = autograd_hessian(net, theta, X, t)
    P = net.n_params

    op = hessian_operator(net, theta, X, t)

    assert isinstance(op, LinearOperator)
    assert op.shape == (P, P) and op.dtype == np.float64
    V = rng.standard_normal((P, 3))
    scale = np.linalg.norm(H, 2) * np.linalg.norm(V, axis=0)
    HV = op.matmat(V)
    assert HV.shape == (P, 3)
    assert np.all(np.linalg.norm(HV - H @ V, axis=0) < 1e-12 * scale)
    Hv = op.matvec(V[:, 0])
    assert Hv.shape == (P,)
    assert np.linalg.norm(Hv - H @ V[:, 0]) < 1e-12 * scale[0]
    # the same sweeps as hessian_vector_product, on the same blocks
    np.testing.assert_array_equal(Hv, hessian_vector_product(net, theta, X, t,
                                                             V[:, 0]))
    assert op.matvec(V[:, :1]).shape == (P, 1)
    assert_symmetric_products(op, P)


def test_hessian_operator_is_symmetric_in_its_products():
    net, theta, X, t = make_problem(rng, (3, 4, 4, 4, 2), "tanh", "cross_entropy", 4)
    op = hessian_operator(net, theta, X, t)
    for _ in range(5):
        u, v = rng.standard_normal((2, net.n_params))
        assert u @ (op @ v) == pytest.approx(v @ (op @ u), rel=1e-12)


def test_hessian_operator_linearizes_once(monkeypatch):
    calls = []
    linearize = MLP.linearize

    def counting(self, *args):
        calls.append(args)
        return linearize(self, *args)

    monkeypatch.setattr(MLP, "linearize", counting)
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    for make in (hessian_operator, damped_hessian_operator, inverse_operator):
        calls.clear()
        extra = () if make is hessian_operator else (0.1,)
        op = make(net, theta, X, t, *extra)
        for _ in range(3):
            op @ rng.standard_normal(net.n_params)
        op.matmat(rng.standard_normal((net.n_params, 2)))
        op.rmatvec(rng.standard_normal(net.n_params))
        assert len(calls) == 1, make.__name__


# ---------------------------------------------------------- H + eps I


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_damped_operator_matches_dense(widths, batch, loss, eps):
    net, theta, X, t = make_problem(rng, widths, "softplus", loss, batch)
    P = net.n_params
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(P)

    op = damped_hessian_operator(net, theta, X, t, eps)

    assert op.shape == (P, P) and op.dtype == np.float64
    V = rng.standard_normal((P, 2))
    scale = np.linalg.norm(A, 2) * np.linalg.norm(V, axis=0)
    assert np.all(np.linalg.norm(op.matmat(V) - A @ V, axis=0) < 1e-12 * scale)
    assert np.linalg.norm(op @ V[:, 0] - A @ V[:, 0]) < 1e-12 * scale[0]
    assert_symmetric_products(op, P)


@pytest.mark.parametrize("widths, batch", [((3, 4, 2), 4), ((3, 3, 3, 2), 4),
                                           ((2, 5, 3, 4, 2), 3)])
def test_cg_on_the_damped_operator_converges_to_the_dense_solution(widths, batch):
    net, theta, X, t = make_problem(rng, widths, "tanh", "cross_entropy", batch)
    H = autograd_hessian(net, theta, X, t)
    # cg needs H + eps I positive definite: eps past the most negative
    # eigenvalue of H, by a margin that keeps the condition number modest
    eps = 0.1 + 2 * max(0.0, -np.linalg.eigvalsh(H).min())
    A = H + eps * np.eye(net.n_params)
    assert np.linalg.eigvalsh(A).min() > 0
    assert_curvature_alive(H, eps)
    v = rng.standard_normal(net.n_params)

    x, info = cg(damped_hessian_operator(net, theta, X, t, eps), v, rtol=1e-12,
                 maxiter=10 * net.n_params)

    assert info == 0
    assert rel_err(x, np.linalg.solve(A, v)) < 10 * np.linalg.cond(A) * 1e-12


def test_minres_on_an_indefinite_damped_operator():
    # minres needs symmetry only: H + eps I with negative eigenvalues
    r = np.random.default_rng(0)
    net, theta, X, t = make_problem(r, (3, 4, 4, 3), "tanh", "cross_entropy", 4,
                                    gain=2.5)
    eps = 0.5
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    values = np.linalg.eigvalsh(A)
    assert values.min() < 0 < values.max()
    v = r.standard_normal(net.n_params)

    x, info = minres(damped_hessian_operator(net, theta, X, t, eps), v, rtol=1e-12,
                     maxiter=20 * net.n_params)

    assert info == 0
    cond = np.abs(values).max() / np.abs(values).min()
    assert rel_err(x, np.linalg.solve(A, v)) < 10 * cond * 1e-12


# ------------------------------------------------------ (H + eps I)^{-1}


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("widths, batch", SHAPES)
def test_inverse_operator_matches_dense_solve(widths, batch, activation, loss, eps):
    net, theta, X, t = make_problem(rng, widths, activation, loss, batch)
    P = net.n_params
    H = autograd_hessian(net, theta, X, t)
    assert_curvature_alive(H, eps)
    A = H + eps * np.eye(P)
    tol = solve_tolerance(A)

    op = inverse_operator(net, theta, X, t, eps)

    assert op.shape == (P, P) and op.dtype == np.float64
    V = rng.standard_normal((P, 3))
    expected = np.linalg.solve(A, V)
    X_op = op.matmat(V)
    assert X_op.shape == (P, 3)
    for k in range(3):
        assert rel_err(X_op[:, k], expected[:, k]) < tol
    x = op @ V[:, 0]
    assert x.shape == (P,)
    assert rel_err(x, expected[:, 0]) < tol
    # the very solve of hessian_inverse_product, on the same factors
    np.testing.assert_array_equal(x, hessian_inverse_product(
        net, theta, X, t, V[:, 0], eps, method="block"))


def test_inverse_operator_factors_once(monkeypatch):
    calls = []
    factor = BlockTridiagonal.factor

    def counting(self, *args, **kwargs):
        calls.append(self)
        return factor(self, *args, **kwargs)

    monkeypatch.setattr(BlockTridiagonal, "factor", counting)
    net, theta, X, t = make_problem(rng, (3, 4, 4, 2), "tanh", "cross_entropy", 3)
    P = net.n_params

    op = inverse_operator(net, theta, X, t, 0.1)
    assert len(calls) == 1
    first = [op @ rng.standard_normal(P) for _ in range(3)]
    op.matmat(rng.standard_normal((P, 4)))
    op.rmatvec(rng.standard_normal(P))
    op.T @ rng.standard_normal(P)

    assert len(calls) == 1
    assert all(np.all(np.isfinite(x)) for x in first)


def test_inverse_operator_inverts_the_damped_operator():
    net, theta, X, t = make_problem(rng, (3, 3, 3, 3, 2), "tanh", "squared_error", 3)
    eps = 0.05
    damped = damped_hessian_operator(net, theta, X, t, eps)
    inverse = inverse_operator(net, theta, X, t, eps)
    A = autograd_hessian(net, theta, X, t) + eps * np.eye(net.n_params)
    x_true = rng.standard_normal(net.n_params)

    # a known answer, through Hv and back
    assert rel_err(inverse @ (damped @ x_true), x_true) < solve_tolerance(A)
    # and symmetric, to the accuracy of the solves
    u, v = rng.standard_normal((2, net.n_params))
    assert u @ (inverse @ v) == pytest.approx(v @ (inverse @ u),
                                              rel=solve_tolerance(A))
    assert_symmetric_products(inverse, net.n_params)


def test_the_inverse_is_an_exact_preconditioner_for_cg():
    net, theta, X, t = make_problem(rng, (3, 4, 4, 2), "tanh", "cross_entropy", 4)
    H = autograd_hessian(net, theta, X, t)
    eps = 0.1 + 2 * max(0.0, -np.linalg.eigvalsh(H).min())  # as above
    steps = []
    v = rng.standard_normal(net.n_params)

    x, info = cg(damped_hessian_operator(net, theta, X, t, eps), v, rtol=1e-10,
                 M=inverse_operator(net, theta, X, t, eps),
                 callback=lambda xk: steps.append(1))

    assert info == 0
    assert len(steps) <= 2  # one step solves M A x = M b with M A = I
    A = H + eps * np.eye(net.n_params)
    assert rel_err(x, np.linalg.solve(A, v)) < 10 * np.linalg.cond(A) * 1e-10


def near_singular_pivot():
    """The breakdown network of ``hessian_ref.measure.breakdown_problem``."""
    net, theta, X, y, _, eps = breakdown_problem()
    return net, theta, X, y, eps


@pytest.mark.parametrize("product", ["matvec", "matmat"])
def test_inverse_operator_warns_at_the_caller_of_the_product(monkeypatch, product):
    # a wrong entry in K' makes every unrefined product warn
    net, theta, X, y = make_problem(np.random.default_rng(5), (3, 4, 2), batch=3)
    plant_wrong_entry(monkeypatch, factor=1 + 1e-9)
    op = inverse_operator(net, theta, X, y, 0.1, refine=0)
    v = np.ones(net.n_params)
    operand = v if product == "matvec" else v[:, None]

    with pytest.warns(LinAlgWarning, match="backward error of .* on H \\+ eps I") as rec:
        getattr(op, product)(operand)

    assert rec[0].filename == __file__


def test_inverse_operator_refuses_a_broken_down_solve():
    net, theta, X, y, eps = near_singular_pivot()
    with pytest.raises(SingularBlockError, match="pivot block of layer 1 is singular"):
        inverse_operator(net, theta, X, y, eps) @ np.ones(net.n_params)


# ------------------------------------------------------------- arguments


OPERATORS = [
    (hessian_operator, ()),
    (damped_hessian_operator, (0.1,)),
    (inverse_operator, (0.1,)),
]


@pytest.mark.parametrize("make, extra", OPERATORS)
def test_bad_problems_are_named_before_any_product(make, extra):
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    with pytest.raises(TypeError, match="net: expected an MLP"):
        make("net", theta, X, t, *extra)
    with pytest.raises(ValueError, match=r"theta: expected .* \(26,\), got \(25,\)"):
        make(net, theta[:-1], X, t, *extra)
    with pytest.raises(ValueError, match=r"X: expected a batch of shape \(B, 3\)"):
        make(net, theta, X[:, :2], t, *extra)
    with pytest.raises(ValueError, match="targets: expected labels in 0..1, got 7"):
        make(net, theta, X, np.array([0, 7]), *extra)


@pytest.mark.parametrize(
    "eps, error, message",
    [
        (-1.0, ValueError, "eps: expected a finite number >= 0, got -1.0"),
        (np.inf, ValueError, "eps: expected a finite number >= 0"),
        (None, TypeError, "eps: expected a real number, got None"),
    ],
)
@pytest.mark.parametrize("make", [damped_hessian_operator, inverse_operator])
def test_bad_eps_is_named(make, eps, error, message):
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    with pytest.raises(error, match=message):
        make(net, theta, X, t, eps)


@pytest.mark.parametrize("make, extra", OPERATORS)
def test_bad_vectors_are_named(make, extra):
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    op = make(net, theta, X, t, *extra)
    with pytest.raises(TypeError, match="x: expected real numbers, got dtype complex"):
        op @ (np.ones(26) * 1j)
    with pytest.raises(ValueError, match="x: expected finite values"):
        op @ np.full(26, np.nan)
    with pytest.raises(ValueError, match="dimension mismatch"):
        op @ np.ones(25)
    # integers are converted, as everywhere in hessian_ref
    np.testing.assert_array_equal(op @ np.ones(26, dtype=int), op @ np.ones(26))


@pytest.mark.parametrize("make, extra", OPERATORS)
def test_inputs_are_not_modified_nor_kept(make, extra):
    net, theta, X, t = make_problem(rng, (3, 4, 2), "tanh", "cross_entropy", 3)
    v = rng.standard_normal(net.n_params)
    copies = [a.copy() for a in (theta, X, t, v)]

    op = make(net, theta, X, t, *extra)
    before = op @ v
    theta += 1.0  # changing the caller's arrays afterwards
    X *= 2.0

    np.testing.assert_array_equal(v, copies[3])
    np.testing.assert_array_equal(t, copies[2])
    np.testing.assert_array_equal(op @ v, before)


def test_empty_block_of_vectors():
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    for make, extra in OPERATORS:
        op = make(net, theta, X, t, *extra)
        assert op.matmat(np.zeros((26, 0))).shape == (26, 0)


def test_repr_names_the_operator():
    net, theta, X, t = make_problem(rng, (3, 4, 2), batch=2)
    assert repr(hessian_operator(net, theta, X, t)) == (
        "<26x26 Hessian operator, float64>")
    assert "eps = 0.1" in repr(inverse_operator(net, theta, X, t, 0.1))
