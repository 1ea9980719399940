"""(H + eps I)^{-1} v on degenerate networks, against a dense solve.

Four kinds of degenerate network, on architectures of depth 1 to 5, widths 1
to 5 and batches of 1 to 4, with both losses and every activation, each at
eight ``eps`` from 1e-12 to 1 and with the four solvers
(``method="auto"``, ``"block"``, ``"banded"``, ``"riccati"``):

1. zero weights: ``W_l = 0`` in the first, a middle or the last layer, or in
   all of them;
2. saturated units: tanh and sigmoid layers whose weights are scaled (at most
   ten-fold) and whose biases are set to +35 and -35 in turn, so that every
   preactivation of every sample lies in ``30 <= |u| <= 40`` and
   ``sigma'(u)`` is below 1e-13 (sigmoid) or 1e-25 (tanh);
3. dead units: softplus and sigmoid units whose bias is -50, so that their
   preactivation is below -40 for every sample (value, slope and curvature
   below 5e-18); and identity (deep linear) networks at gain 1, 2 and 3;
4. every one of them at ``eps`` down to 1e-12.

The reference is ``np.linalg.solve(autograd_hessian + eps I, v)``. Each case
first checks that autograd and the Hessian formula evaluated on the
library's own blocks agree on ``H`` to ``REFERENCE_FACTOR eps_mach ||H||``,
so that a disagreement in the solve is the solve's, not the reference's.

What each solve must do, with ``kappa = cond_2(H + eps I)`` (``np.linalg.cond``
of the dense matrix) and ``u = eps_mach``:

- ``kappa u < WELL_POSED = 1e-3``: return ``x`` with
  ``||x - x_dense|| / ||x_dense|| <= TOL_FACTOR kappa u``, ``TOL_FACTOR =
  1e3``. Why: LU with partial pivoting (the dense reference; the banded LU,
  which pivots across the whole band) leaves a backward error of a small
  multiple of ``P u`` on an order-``P`` system, and the forward error is at
  most ``kappa`` times the backward error; with ``P <= 53`` here two such
  answers differ by at most about ``2 * 53 kappa u ~ 1e2 kappa u``, and 1e3
  leaves another factor of ten (it is also the constant of
  ``test_augmented.solve_tolerance``). Measured: the banded LU stays within
  ``1.1 kappa u`` of dense on every case here. ``method="block"`` may raise
  ``SingularBlockError`` instead, and ``"riccati"`` ``SingularPivotError``
  (documented: both pivot only inside layers, so a pivot can be singular
  while ``H + eps I`` is not).
- ``kappa u >= SINGULAR = 1e-1`` (singular to working precision): raise
  ``SingularHessianError`` (any method), ``SingularBlockError``
  (``"block"``) or ``SingularPivotError`` (``"riccati"``), with a message
  that says what is singular.
- in between, either: the library judges singularity by a 1-norm condition
  estimate, which can differ from ``kappa`` by a small factor, so a factor
  of ten either side of the customary ``kappa u = 1e-2`` is accepted both
  ways; a returned answer is held to the same tolerance, which there is
  >= 1 and catches only gross garbage.

A documented ``LinAlgWarning`` beside an answer within tolerance passes; an
answer outside it fails, warned or not. Any other warning or exception, a
``SingularHessianError`` for a well-posed system, or a ``SolveInfo.residual``
that is not the true residual fails too.

An earlier version of the solver failed 138 of these solves (block
elimination returning answers off by up to 1e20 with a small backward error
on ``K'``, ``auto`` keeping such answers, singular systems solved, a
condition estimate fooled by a start vector orthogonal to the range of
``H``); every solve must now do what it must.
"""

import functools
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import MACHINE_EPS, make_problem, rel_err
from scipy.linalg import LinAlgWarning
from threadpoolctl import threadpool_limits

from hessian_ref.augmented import SingularHessianError, hessian_inverse_product
from hessian_ref.block_tridiagonal import SingularBlockError
from hessian_ref.dense import autograd_hessian, hessian_from_blocks
from hessian_ref.layers import LOSSES as LOSS_HEADS
from hessian_ref.riccati import SingularPivotError

LOSSES = ("cross_entropy", "squared_error")
assert set(LOSSES) == set(LOSS_HEADS)
METHODS = ("auto", "block", "banded", "riccati")
EPS = (1e-12, 3e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0)

#: Forward error allowed, in units of ``cond_2(H + eps I) * eps_mach``
#: (module docstring).
TOL_FACTOR = 1e3
#: ``cond_2(H + eps I) * eps_mach`` below this: the answer must match dense.
WELL_POSED = 1e-3
#: ``cond_2(H + eps I) * eps_mach`` at or above this: the solve must refuse.
SINGULAR = 1e-1
#: autograd's Hessian and the formula on the library's blocks must agree to
#: this many ``eps_mach ||H||_2``: both are rounding-level evaluations of
#: the same second derivatives, so a larger gap means the reference is off.
REFERENCE_FACTOR = 1e2

# (widths, batch): depth 1 to 5, widths 1 to 5, batches 1 to 4
ARCHS = (
    ((3, 2), 4),
    ((2, 3, 2), 1),
    ((3, 1, 2), 2),
    ((2, 4, 3, 2), 3),
    ((3, 2, 5, 2, 3), 2),
    ((2, 3, 3, 3, 3, 2), 4),
)
ACTIVATIONS = ("tanh", "sigmoid", "softplus", "identity")


@dataclass(frozen=True)
class Case:
    """One degenerate network: an architecture, an activation, a loss, and
    what is done to its parameters (``kind`` with its ``layers``/``gain``)."""

    kind: str          # "zero", "saturated", "dead", "identity"
    variant: str       # which layers, in words, for the test id
    widths: tuple
    batch: int
    activation: str
    loss: str
    layers: tuple = ()
    gain: float = 1.0
    seed: int = None   # None: seeded by the name

    @property
    def name(self):
        arch = "x".join(map(str, self.widths)) + f"-B{self.batch}"
        act = self.activation if len(self.widths) > 2 else "none"
        seed = "" if self.seed is None else f"-seed{self.seed}"
        return f"{self.kind}-{self.variant}-{arch}-{act}-{self.loss}{seed}"


def _zero_cases():
    cases = []
    for i, (widths, batch) in enumerate(ARCHS):
        L = len(widths) - 1
        variants = {"first": (0,), "middle": (L // 2,), "last": (L - 1,),
                    "all": tuple(range(L))}
        if L == 1:  # the head is first, last and all layers at once
            variants = {"all": (0,)}
        seen = set()
        for j, (variant, layers) in enumerate(variants.items()):
            if layers in seen or (variant == "middle" and L < 3):
                continue
            seen.add(layers)
            # activations rotate so that each meets both losses and each variant
            pairs = [(ACTIVATIONS[(i + j) % 4], "cross_entropy"),
                     (ACTIVATIONS[(i + j + 2) % 4], "squared_error")]
            for activation, loss in pairs:
                cases.append(Case("zero", variant, widths, batch, activation, loss,
                                  layers))
    return cases


def _saturated_cases():
    cases = []
    for i, (widths, batch) in enumerate(ARCHS):
        L = len(widths) - 1
        if L < 2:
            continue
        variants = {"first": (0,), "all": tuple(range(L - 1))}
        if L == 2:
            del variants["all"]
        for j, (variant, layers) in enumerate(variants.items()):
            first = ("tanh", "sigmoid")[(i + j) % 2]
            second = ("sigmoid", "tanh")[(i + j) % 2]
            for activation, loss in ((first, LOSSES[0]), (second, LOSSES[1])):
                cases.append(Case("saturated", variant, widths, batch, activation,
                                  loss, layers))
    return cases


def _dead_cases():
    cases = []
    for i, (widths, batch) in enumerate(ARCHS):
        L = len(widths) - 1
        if L < 2:
            continue
        # (hidden layer, units): every other unit of the first hidden layer,
        # and every unit of the last one
        variants = {"some-first": (0, tuple(range(0, widths[1], 2))),
                    "all-last": (L - 2, tuple(range(widths[L - 1])))}
        if variants["some-first"] == variants["all-last"]:
            del variants["some-first"]
        for j, (variant, layers) in enumerate(variants.items()):
            first = ("softplus", "sigmoid")[(i + j) % 2]
            second = ("sigmoid", "softplus")[(i + j) % 2]
            for activation, loss in ((first, LOSSES[0]), (second, LOSSES[1])):
                cases.append(Case("dead", variant, widths, batch, activation, loss,
                                  layers))
    return cases


def _identity_cases():
    # deep linear networks. With squared error ||H|| grows like gain^(2(L-1)):
    # at gain 2 and 3, H + 1e-12 I of depth 3 to 5 spans the band around
    # cond * eps_mach = 1e-2 and beyond. (With cross-entropy a large gain
    # saturates the softmax instead: H shrinks by cancellation and autograd's
    # H stops being a reference, so cross-entropy stays at gain 1.)
    cases = []
    for widths, batch in ARCHS:
        if len(widths) < 3:
            continue
        for loss in LOSSES:
            cases.append(Case("identity", "gain1", widths, batch, "identity", loss))
        if len(widths) > 3:
            cases.append(Case("identity", "gain2", widths, batch, "identity",
                              "squared_error", gain=2.0))
        cases.append(Case("identity", "gain3", widths, batch, "identity",
                          "squared_error", gain=3.0))
    return cases


def _seeded_cases():
    # found by sweeping seeds 0..15 of zero-weight networks (all weights, or
    # the last layer's; the three deepest architectures, every activation,
    # both losses) with method="auto" at eps = 1e-12, 1e-8, 1e-4: of 2304 solves,
    # auto kept a block-elimination answer more than 1e4 cond * eps_mach away
    # from dense 13 times, every one with all weights zero, cross-entropy and
    # eps = 1e-8, never with a warning. These are the two worst.
    return [
        Case("zero", "all", (2, 4, 3, 2), 3, "sigmoid", "cross_entropy",
             (0, 1, 2), seed=11),
        Case("zero", "all", (2, 3, 3, 3, 3, 2), 4, "tanh", "cross_entropy",
             (0, 1, 2, 3, 4), seed=7),
    ]


CASES = (_zero_cases() + _saturated_cases() + _dead_cases() + _identity_cases()
         + _seeded_cases())
assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Blocks of a few dozen rows: a second BLAS thread costs more to wake
    than it saves (README, Results); this keeps the module at a few seconds."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# -- building the networks ----------------------------------------------------


def _layer_inputs(net, theta, X):
    """Inputs ``Z_0 .. Z_{L-1}`` of every layer, and the preactivations
    ``U_1 .. U_{L-1}`` of the hidden layers."""
    Zs, Us = [X], []
    for layer, (W, c) in zip(net.layers[:-1], net.unpack(theta)[:-1]):
        Us.append(Zs[-1] @ W.T + c)
        Zs.append(layer.activation.value(Us[-1]))
    return Zs, Us


def _saturate(net, theta, X, layers):
    """Scale the weights of `layers` (hidden) by at most ten and set their
    biases to alternately +35 and -35, so that ``30 <= |u| <= 40``."""
    weights, biases = map(list, zip(*net.unpack(theta)))
    Z = X
    for l, layer in enumerate(net.layers[:-1]):
        if l in layers:
            spread = np.abs(Z @ weights[l].T).max(axis=0)
            scale = np.minimum(10.0, 5.0 / np.maximum(spread, 1e-300))
            weights[l] = scale[:, None] * weights[l]
            biases[l] = 35.0 * (-1.0) ** np.arange(layer.n_out)
        Z = layer.activation.value(Z @ weights[l].T + biases[l])
    return net.pack(weights, biases)


@functools.cache
def _problem(case):
    """``net, theta, X, targets, v`` of a case; seeded by its name."""
    seed = zlib.crc32(case.name.encode()) if case.seed is None else case.seed
    rng = np.random.default_rng(seed)
    net, theta, X, targets = make_problem(rng, case.widths, case.activation,
                                          case.loss, case.batch, gain=case.gain)
    weights, biases = map(list, zip(*net.unpack(theta)))
    if case.kind == "zero":
        for l in case.layers:
            weights[l] = np.zeros_like(weights[l])
        theta = net.pack(weights, biases)
    elif case.kind == "saturated":
        theta = _saturate(net, theta, X, case.layers)
        _, Us = _layer_inputs(net, theta, X)
        for l in case.layers:
            magnitude = np.abs(Us[l])
            assert np.all((magnitude >= 30 - 1e-9) & (magnitude <= 40 + 1e-9))
    elif case.kind == "dead":
        l, units = case.layers
        biases[l] = biases[l].copy()
        biases[l][list(units)] = -50.0
        theta = net.pack(weights, biases)
        _, Us = _layer_inputs(net, theta, X)
        assert np.all(Us[l][:, list(units)] < -40)
    v = rng.standard_normal(net.n_params)
    return net, theta, X, targets, v


@functools.cache
def _hessian(case):
    """autograd's ``H``, checked against the Hessian formula on the blocks."""
    net, theta, X, targets, _ = _problem(case)
    H = autograd_hessian(net, theta, X, targets)
    from_blocks = hessian_from_blocks(net.linearize(theta, X, targets))
    norm = np.linalg.norm(H, 2)
    gap = np.linalg.norm(H - from_blocks, 2)
    assert gap <= REFERENCE_FACTOR * MACHINE_EPS * norm, (
        f"{case.name}: autograd and the block formula disagree on H by {gap:.1e} "
        f"(||H||_2 = {norm:.1e}); the dense reference is not trustworthy here")
    # the degenerate network keeps some curvature (derivation.md section 10):
    # at small eps, H + eps I is not just eps I
    assert norm > 1e-2, f"{case.name}: ||H||_2 = {norm:.1e}"
    return H


@dataclass(frozen=True)
class Reference:
    """The dense ``A = H + eps I``, its 2-norm condition number and
    ``A^{-1} v``."""

    cond: float
    x: np.ndarray
    A: np.ndarray


@functools.cache
def _reference(case, eps):
    H = _hessian(case)
    A = H + eps * np.eye(len(H))
    v = _problem(case)[4]
    return Reference(float(np.linalg.cond(A)), np.linalg.solve(A, v), A)


# -- judging one solve --------------------------------------------------------


def _refusal(error, method):
    """``"documented"``, ``"unclear"`` (a documented type whose message does
    not say what is singular) or ``"unexpected"`` (any other exception).

    ``"auto"`` and ``"banded"`` refuse with SingularHessianError; ``"block"``
    with SingularBlockError and ``"riccati"`` with SingularPivotError, or
    either with SingularHessianError when it judges the whole ``H + eps I``
    singular."""
    message = str(error)
    if isinstance(error, SingularHessianError):
        clear = "singular to working precision" in message and "eps" in message
    elif isinstance(error, SingularBlockError) and method == "block":
        clear = "pivot block of layer" in message and "singular" in message
    elif isinstance(error, SingularPivotError) and method == "riccati":
        clear = "Riccati pivot" in message and "singular" in message
    else:
        return "unexpected"
    return "documented" if clear else "unclear"


#: What each verdict of ``judge`` other than "ok" means.
VERDICTS = {
    "quiet-wrong": "quiet wrong answer",
    "warned-wrong": "wrong answer behind only a LinAlgWarning",
    "no-raise": "no refusal of a singular H + eps I",
    "needless-refusal": "H + eps I called singular while well posed",
    "unclear-error": "refusal with an unclear message",
    "unexpected-error": "unexpected error",
    "unexpected-warning": "unexpected warning",
    "wrong-info": "SolveInfo.residual is not the true residual",
}

_SOLVERS = {"block": "block elimination", "banded": "the banded LU",
            "riccati": "the Riccati sweep"}


def judge(case, eps, method):
    """``(verdict, detail)``: ``"ok"`` or a key of ``VERDICTS``, and what was
    measured, in words."""
    net, theta, X, targets, v = _problem(case)
    ref = _reference(case, eps)
    level = ref.cond * MACHINE_EPS
    tol = TOL_FACTOR * level
    conditioning = f"cond {ref.cond:.1e}, cond*eps_mach {level:.1e}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            x, info = hessian_inverse_product(net, theta, X, targets, v, eps,
                                              method=method, return_info=True)
        except np.linalg.LinAlgError as error:  # judged here; others propagate
            text = f"{type(error).__name__}: {str(error)[:200]}"
            kind = _refusal(error, method)
            if kind != "documented":
                return f"{kind}-error", f"raised {text} ({conditioning})"
            if isinstance(error, SingularHessianError) and level < WELL_POSED:
                return "needless-refusal", f"raised {text} ({conditioning})"
            return "ok", f"refused: {text} ({conditioning})"
    others = [w for w in caught if not issubclass(w.category, LinAlgWarning)]
    if others:
        return "unexpected-warning", (
            f"{others[0].category.__name__}: {str(others[0].message)[:160]} "
            f"({conditioning})")
    warned = any(issubclass(w.category, LinAlgWarning) for w in caught)
    err = rel_err(x, ref.x) if np.all(np.isfinite(x)) else np.inf
    ran = _SOLVERS[info.method]
    if method == "auto":
        kept = info.method == "riccati"
        ran = f"auto kept {ran}" if kept else f"auto fell back to {ran}"
    how = (f"{ran}, backward error on K' {info.backward_error:.1e}, "
           + ("then a LinAlgWarning" if warned else "no error, no warning"))
    if level >= SINGULAR:
        return "no-raise", (f"{conditioning} >= {SINGULAR:g}, yet it returned "
                            f"an answer (rel err {err:.1e} vs dense); {how}")
    if not err <= tol:
        return ("warned-wrong" if warned else "quiet-wrong"), (
            f"rel err {err:.1e} vs dense, tolerance {tol:.1e} ({conditioning}); "
            f"{how}")
    # the SolveInfo residual, from the Hessian-vector product, must be the
    # true one up to rounding of the two products
    true_residual = np.linalg.norm(ref.A @ x - v) / np.linalg.norm(v)
    slack = (REFERENCE_FACTOR * MACHINE_EPS * np.linalg.norm(ref.A, 2)
             * np.linalg.norm(x) / np.linalg.norm(v))
    if not abs(info.residual - true_residual) <= slack:
        return "wrong-info", (f"SolveInfo.residual {info.residual:.1e}, true "
                              f"{true_residual:.1e} ({conditioning})")
    return "ok", f"rel err {err:.1e} vs dense, tolerance {tol:.1e}; {how}"


def _params():
    params = []
    for case in CASES:
        for eps in EPS:
            for method in METHODS:
                params.append(pytest.param(case, eps, method,
                                           id=f"{case.name}-eps{eps:.0e}-{method}"))
    return params


@pytest.mark.parametrize("case, eps, method", _params())
def test_degenerate_solve_matches_dense_or_refuses(case, eps, method):
    verdict, detail = judge(case, eps, method)
    assert verdict == "ok", f"{VERDICTS[verdict]}: {detail}"


# -- the advice of a block-elimination refusal --------------------------------

CASE_BY_NAME = {case.name: case for case in CASES}

#: Well-posed systems (cond * eps_mach < WELL_POSED) that method="block"
#: refuses at eps = 1e-12: a whole stretch of the network has no curvature
#: (zero weights, or a deep linear network at tiny eps), so a pivot block is
#: singular for every small eps, not only where eps meets an eigenvalue.
REFUSED_AT_1E_12 = (
    "zero-last-2x3x2-B1-identity-cross_entropy",
    "zero-all-2x4x3x2-B3-softplus-cross_entropy",
    "identity-gain1-2x4x3x2-B3-identity-cross_entropy",
)


@pytest.mark.parametrize("name", REFUSED_AT_1E_12)
def test_block_refusal_names_the_solvers_that_work(name):
    case, eps = CASE_BY_NAME[name], 1e-12
    net, theta, X, targets, v = _problem(case)
    assert _reference(case, eps).cond * MACHINE_EPS < WELL_POSED
    with pytest.raises(SingularBlockError,
                       match="method='auto' or 'banded' \\(pivoting across blocks\\)"):
        hessian_inverse_product(net, theta, X, targets, v, eps, method="block")
    for method in ("auto", "banded"):
        verdict, detail = judge(case, eps, method)
        assert verdict == "ok" and not detail.startswith("refused"), detail
