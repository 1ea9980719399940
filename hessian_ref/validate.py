"""Golden cases for validating other implementations, and the check of their
answers, with every error located to a layer and to its weights or bias.

A case is one ``.npz`` file, readable with NumPy alone
(``numpy.load(path)``); see :data:`CASE_KEYS` for every key. An answer file
has the same name and holds any of the quantities in :data:`QUANTITIES`
(``loss``, ``gradient``, ``hvp``, ``inverse_hvp``, ``hessian``), computed by
the implementation under test from the case's inputs, in hessian_ref's
parameter layout (:mod:`hessian_ref.layouts` converts from others).

Each quantity is judged by its relative error against the expected value,
``||answer - expected|| / ||expected||`` (2-norm; Frobenius for the
Hessian), against the tolerance stored in the case. Where it fails, the error
is split by parameter block: each layer's weights and bias (pairs of blocks
for the Hessian), and the blocks whose own error alone exceeds the tolerance
are named, largest first. A uniform scaling of the answer (a sum where the
mean is expected, say) is recognised and reported as such.
"""

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .augmented import _FactoredSystem, hessian_inverse_product
from .datasets import load_iris
from .dense import autograd_hessian
from .hvp import hessian_vector_product
from .network import MLP

__all__ = [
    "CASE_KEYS",
    "FORMAT_VERSION",
    "QUANTITIES",
    "Case",
    "CaseReport",
    "QuantityReport",
    "Report",
    "case_paths",
    "check_answers",
    "check_directory",
    "export_suite",
    "load_answers",
    "load_case",
    "make_case",
    "parameter_blocks",
    "report_json",
    "save_case",
    "standard_suite",
    "validate",
]

#: Version of the case format written by :func:`save_case`.
FORMAT_VERSION = 1

#: The quantities a case holds and an answer may give.
QUANTITIES = ("loss", "gradient", "hvp", "inverse_hvp", "hessian")

#: Cases with at most this many parameters carry the dense Hessian.
DENSE_HESSIAN_MAX_PARAMS = 400

#: Every key of a case file, and what it holds.
CASE_KEYS = {
    "format_version": "int, the format version (1)",
    "name": "str, the case's name (also its file name)",
    "description": "str, what the case exercises",
    "widths": "int array (h_0, ..., h_L): input, hidden and output widths",
    "activations": "str array, the activation of each hidden layer (L - 1 names)",
    "loss": "str, 'cross_entropy' (softmax, integer labels) or 'squared_error' "
            "(half the squared norm of U - t per sample)",
    "reduction": "str, 'mean' or 'sum' over the batch",
    "layout": "str, the layout of every parameter-indexed array",
    "W_l, b_l": "float arrays, layer l = 1..L: weights (h_l, h_{l-1}) and bias",
    "theta": "float array (P,), the flat parameters in that layout",
    "X": "float array (B, h_0), the batch",
    "targets": "int array (B,) of labels, or float array (B, h_L)",
    "v": "float array (P,), the vector of the products",
    "eps": "float, the damping of (H + eps I)^{-1} v",
    "loss_value": "float, the expected loss (the answer key is 'loss')",
    "gradient": "float array (P,), the expected gradient",
    "hvp": "float array (P,), the expected H v",
    "inverse_hvp": "float array (P,), the expected (H + eps I)^{-1} v",
    "hessian": "float array (P, P), the expected H; only for P <= "
               f"{DENSE_HESSIAN_MAX_PARAMS}",
    "condition": "float, 2-norm condition number of H + eps I (exact from the "
                 "dense H when present, else an estimate)",
    "tolerance_<q>": "float, the relative error quantity q is judged by",
}

LAYOUT = ("hessian_ref: layer by layer, W_l (h_l x h_{l-1}) row-major, then b_l")


@dataclass(frozen=True, eq=False)
class Case:
    """One golden case: a network, its inputs, and the expected quantities.

    ``expected`` and ``tolerance`` map names of :data:`QUANTITIES` to the
    expected value and to the relative error it is judged by.
    """

    name: str
    description: str
    widths: tuple
    activations: tuple
    loss: str
    reduction: str
    theta: np.ndarray
    X: np.ndarray
    targets: np.ndarray
    v: np.ndarray
    eps: float
    expected: dict
    tolerance: dict
    condition: float

    @property
    def net(self):
        """The :class:`~hessian_ref.network.MLP` of the case."""
        return MLP(self.widths, self.activations, self.loss, self.reduction)


def parameter_blocks(widths):
    """``[(label, slice)]`` of the flat layout: each layer's weights, then bias.

    Labels read ``"layer 2 weights"``, layers counted from 1.
    """
    blocks, start = [], 0
    for l in range(1, len(widths)):
        n_in, n_out = widths[l - 1], widths[l]
        blocks.append((f"layer {l} weights", slice(start, start + n_in * n_out)))
        start += n_in * n_out
        blocks.append((f"layer {l} bias", slice(start, start + n_out)))
        start += n_out
    return blocks


# -- making cases -----------------------------------------------------------------


def _tolerances(condition, P, depth):
    """The relative error each quantity is judged by.

    Two careful float64 implementations differ by rounding only. The loss,
    gradient, ``H v`` and ``H`` are sums of products along the chain, whose
    rounding grows with the depth and the number of terms: ``1e-10``
    leaves a factor of about 1e3 over what we measure between the structured
    products and the autograd Hessian on these cases (up to about 1e-13).
    A backward-stable solve of ``(H + eps I) x = v`` is accurate to about
    ``condition * eps_mach`` times a modest factor; ``100 P`` covers any
    LU with partial pivoting, capped at ``1e-2`` (beyond that no digit is
    trusted, and the case says so through its condition number).
    """
    u = np.finfo(float).eps
    products = max(1e-10, 1e-12 * depth)
    return {
        "loss": products,
        "gradient": products,
        "hvp": products,
        "hessian": products,
        "inverse_hvp": float(min(1e-2, max(1e-10, 100 * P * condition * u))),
    }


def make_case(name, description, net, theta, X, targets, v, eps):
    """A :class:`Case` with every quantity computed by hessian_ref.

    The inverse product is the structured solve (``method="auto"``, refined
    to a backward error near machine precision); with ``P <=
    DENSE_HESSIAN_MAX_PARAMS`` it is also checked against the dense solve
    with the autograd Hessian, which the case then carries, and the
    condition number is exact.
    """
    theta = net.check_params(theta)
    X, targets = net.check_batch(X, targets)
    P = net.n_params
    expected = {
        "loss": np.float64(net.loss(theta, X, targets)),
        "gradient": net.gradient(theta, X, targets),
        "hvp": hessian_vector_product(net, theta, X, targets, v),
        "inverse_hvp": hessian_inverse_product(net, theta, X, targets, v, eps),
    }
    if P <= DENSE_HESSIAN_MAX_PARAMS:
        H = autograd_hessian(net, theta, X, targets)
        H = 0.5 * (H + H.T)
        expected["hessian"] = H
        A = H + eps * np.eye(P)
        condition = float(np.linalg.cond(A))
        tolerance = _tolerances(condition, P, net.depth)
        dense = np.linalg.solve(A, v)
        gap = _relative_error(expected["inverse_hvp"], dense)
        if not gap <= tolerance["inverse_hvp"]:
            raise ArithmeticError(
                f"case {name}: the structured and dense inverse products differ "
                f"by {gap:.1e}, above the tolerance {tolerance['inverse_hvp']:.1e}")
    else:
        lin = net.linearize(theta, X, targets)
        condition = _FactoredSystem(lin, eps, "banded").condition_estimate()
        tolerance = _tolerances(condition, P, net.depth)
    return Case(name, description, net.widths, net.activations, net.loss_name,
                net.reduction, theta, X, targets, np.asarray(v, dtype=float),
                float(eps), expected, tolerance, condition)


def _problem(widths, activation, loss, batch, seed, gain=1.0, reduction="mean"):
    rng = np.random.default_rng(seed)
    net = MLP(widths, activation, loss, reduction)
    theta = net.init(seed=seed, gain=gain, bias_scale=0.3)
    X = rng.standard_normal((batch, widths[0]))
    if loss == "cross_entropy":
        targets = rng.integers(0, widths[-1], size=batch)
    else:
        targets = rng.standard_normal((batch, widths[-1]))
    return net, theta, X, targets, rng.standard_normal(net.n_params)


def _indefinite():
    """Squared error far from a fit: ``H`` has negative eigenvalues and
    ``eps = 0.1`` does not make ``H + eps I`` definite."""
    rng = np.random.default_rng(0)
    net = MLP((1, 2, 1), "tanh", "squared_error")
    theta = net.init(seed=0, gain=2.0, bias_scale=1.0)
    X = rng.standard_normal((8, 1))
    t = 3 * rng.standard_normal((8, 1))
    return net, theta, X, t, rng.standard_normal(net.n_params)


def _iris(batch):
    X, y = load_iris()
    rng = np.random.default_rng(1)
    rows = rng.choice(len(y), size=batch, replace=False)
    net = MLP((4, 4, 4, 4, 3), "tanh", "cross_entropy")
    theta = net.init(seed=1)
    return net, theta, X[rows], y[rows], rng.standard_normal(net.n_params)


def _suite_specs():
    """``(name, description, problem builder, eps)`` of the standard suite."""
    return [
        ("softmax-regression", "one layer: softmax regression, no hidden layer",
         lambda: _problem((3, 3), "tanh", "cross_entropy", 4, 1), 1e-2),
        ("linear-regression", "one layer: least squares, no hidden layer",
         lambda: _problem((3, 2), "tanh", "squared_error", 5, 2), 1e-2),
        ("width-1", "hidden layers of width 1",
         lambda: _problem((2, 1, 1, 1, 2), "tanh", "cross_entropy", 3, 3), 1e-2),
        ("batch-1", "a single sample",
         lambda: _problem((4, 5, 5, 3), "sigmoid", "cross_entropy", 1, 4), 1e-2),
        ("tanh-cross-entropy", "two tanh layers, cross-entropy",
         lambda: _problem((4, 6, 6, 3), "tanh", "cross_entropy", 5, 5), 1e-2),
        ("sigmoid-squared-error", "three sigmoid layers, squared error",
         lambda: _problem((3, 5, 5, 5, 2), "sigmoid", "squared_error", 4, 6), 1e-2),
        ("softplus-cross-entropy", "softplus layers of width 8, batch 8",
         lambda: _problem((2, 8, 8, 2), "softplus", "cross_entropy", 8, 7), 1e-2),
        ("identity-squared-error", "a deep linear network",
         lambda: _problem((3, 4, 4, 4, 4, 3), "identity", "squared_error", 2, 8),
         1e-2),
        ("mixed-activations", "a different activation in every hidden layer",
         lambda: _problem((3, 4, 4, 4, 4, 2),
                          ("tanh", "sigmoid", "softplus", "identity"),
                          "cross_entropy", 3, 9), 1e-2),
        ("sum-reduction", "the loss summed over the batch, not averaged",
         lambda: _problem((3, 4, 4, 2), "tanh", "squared_error", 4, 10,
                          reduction="sum"), 1e-2),
        ("wide-8", "width 8, four layers, batch 8, squared error",
         lambda: _problem((8, 8, 8, 8, 4), "softplus", "squared_error", 8, 11),
         1e-1),
        ("eps-large", "well conditioned: eps = 1",
         lambda: _problem((3, 4, 4, 3), "tanh", "cross_entropy", 3, 12), 1.0),
        ("eps-small", ("badly conditioned: eps = 1e-8 (cross-entropy's null "
                       "directions leave cond(H + eps I) near 1e8)"),
         lambda: _problem((3, 4, 4, 3), "tanh", "cross_entropy", 3, 12), 1e-8),
        ("indefinite", "H indefinite and H + eps I too (two negative eigenvalues)",
         _indefinite, 0.1),
        ("large-gain", "orthogonal init at gain 2.5: large curvature",
         lambda: _problem((3, 4, 4, 4, 3), "tanh", "cross_entropy", 3, 13,
                          gain=2.5), 1e-2),
        ("iris-10", "ten Iris flowers through four tanh layers of width 4",
         lambda: _iris(10), 1e-2),
        ("depth-16", "16 tanh layers of width 4, batch 2",
         lambda: _problem((4,) + (4,) * 16 + (3,), "tanh", "cross_entropy", 2, 14),
         1e-2),
        ("depth-32-width-2", "32 sigmoid layers of width 2, squared error",
         lambda: _problem((2,) + (2,) * 32 + (2,), "sigmoid", "squared_error", 2,
                          15), 1e-2),
        ("depth-64", "64 tanh layers of width 3, batch 2",
         lambda: _problem((3,) + (3,) * 64 + (2,), "tanh", "cross_entropy", 2, 16),
         1e-2),
        ("depth-64-width-1", "64 softplus layers of width 1, batch 4",
         lambda: _problem((2,) + (1,) * 64 + (2,), "softplus", "squared_error", 4,
                          17), 1e-1),
    ]


def standard_suite(progress=None):
    """The standard cases (about twenty): depth 1 to 64, width 1 to 8, batch
    1 to 10, every activation, both losses and reductions, well and badly
    conditioned ``eps``, an indefinite Hessian.

    `progress`, if given, is called with each case's name before it is made.
    """
    cases = []
    for name, description, build, eps in _suite_specs():
        if progress is not None:
            progress(name)
        cases.append(make_case(name, description, *build(), eps))
    return cases


# -- files -------------------------------------------------------------------------


def save_case(case, directory):
    """Write `case` to ``directory/<name>.npz``; returns the path."""
    arrays = {
        "format_version": np.int64(FORMAT_VERSION),
        "name": np.str_(case.name),
        "description": np.str_(case.description),
        "widths": np.asarray(case.widths, dtype=np.int64),
        "activations": np.asarray(case.activations, dtype=str),
        "loss": np.str_(case.loss),
        "reduction": np.str_(case.reduction),
        "layout": np.str_(LAYOUT),
        "theta": case.theta,
        "X": case.X,
        "targets": case.targets,
        "v": case.v,
        "eps": np.float64(case.eps),
        "condition": np.float64(case.condition),
    }
    for l, (W, b) in enumerate(case.net.unpack(case.theta), start=1):
        arrays[f"W_{l}"], arrays[f"b_{l}"] = W, b
    for quantity, value in case.expected.items():
        arrays["loss_value" if quantity == "loss" else quantity] = value
    for quantity, tolerance in case.tolerance.items():
        arrays[f"tolerance_{quantity}"] = np.float64(tolerance)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{case.name}.npz")
    np.savez(path, **arrays)
    return path


def load_case(path):
    """The :class:`Case` stored at `path` (written by :func:`save_case`)."""
    with np.load(path, allow_pickle=False) as data:
        version = int(data["format_version"]) if "format_version" in data else None
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: expected a case of format version "
                             f"{FORMAT_VERSION}, got {version}")
        expected = {q: (data["loss_value"] if q == "loss" else data[q])
                    for q in QUANTITIES
                    if ("loss_value" if q == "loss" else q) in data}
        tolerance = {q: float(data[f"tolerance_{q}"]) for q in expected}
        return Case(str(data["name"]), str(data["description"]),
                    tuple(int(h) for h in data["widths"]),
                    tuple(str(a) for a in data["activations"]), str(data["loss"]),
                    str(data["reduction"]), data["theta"], data["X"],
                    data["targets"], data["v"], float(data["eps"]), expected,
                    tolerance, float(data["condition"]))


def export_suite(directory, cases=None, progress=None):
    """Write `cases` (default: :func:`standard_suite`) to `directory`; returns
    the paths written."""
    if cases is None:
        cases = standard_suite(progress)
    return [save_case(case, directory) for case in cases]


def load_answers(path):
    """The quantities an answer file holds, as a dict of float64 arrays.

    Keys outside :data:`QUANTITIES` are refused, so that a misspelt key is
    not silently left unchecked.
    """
    with np.load(path, allow_pickle=False) as data:
        unknown = sorted(set(data.files) - set(QUANTITIES))
        if unknown:
            raise ValueError(f"{path}: expected keys among {QUANTITIES}, got "
                             f"{unknown}")
        return {key: np.asarray(data[key], dtype=float) for key in data.files}


# -- checking ----------------------------------------------------------------------


def _relative_error(answer, expected):
    norm = np.linalg.norm(expected)
    error = np.linalg.norm(answer - expected)
    return float(error / norm) if norm > 0 else float(error)


@dataclass(frozen=True)
class QuantityReport:
    """How one quantity of one case fared.

    ``locations`` lists ``(block, error)`` for the parameter blocks (or pairs
    of blocks, for the Hessian) whose own error, relative to the norm of the
    whole expected quantity, exceeds the tolerance, largest first.
    ``scale`` is the factor ``c`` when the answer is ``c`` times the expected
    value to within the tolerance (``c != 1``), else ``None``.
    """

    quantity: str
    error: float
    tolerance: float
    locations: tuple = ()
    scale: float = None
    problem: str = ""
    cause: str = ""

    @property
    def passed(self):
        return not self.problem and self.error <= self.tolerance

    def message(self):
        """One line in words."""
        if self.problem:
            return f"{self.quantity}: {self.problem}"
        verdict = "ok" if self.passed else "FAILS"
        text = (f"{self.quantity}: relative error {self.error:.1e} "
                f"(tolerance {self.tolerance:.1e}) {verdict}")
        if self.scale is not None:
            text += (f"; the answer is {self.scale:.6g} times the expected "
                     f"value")
        if self.cause:
            text += f"; {self.cause}"
        if self.locations:
            shown = ", ".join(f"{block} ({error:.1e})"
                              for block, error in self.locations[:4])
            more = len(self.locations) - 4
            text += f"; located at {shown}" + (f" and {more} more" if more > 0 else "")
        return text


@dataclass(frozen=True)
class CaseReport:
    """The reports of the quantities of one case."""

    case: str
    quantities: tuple
    not_checked: tuple = ()
    problem: str = ""

    @property
    def passed(self):
        return (not self.problem and bool(self.quantities)
                and all(q.passed for q in self.quantities))

    def failures(self):
        return [q for q in self.quantities if not q.passed]


@dataclass(frozen=True)
class Report:
    """The outcome of checking an implementation on a set of cases."""

    cases: tuple = field(default_factory=tuple)

    @property
    def passed(self):
        return bool(self.cases) and all(c.passed for c in self.cases)

    def checked(self):
        """``(case, quantity)`` pairs that were checked."""
        return [(c.case, q.quantity) for c in self.cases for q in c.quantities]

    def failures(self):
        """``(case, QuantityReport)`` of every failing quantity, and
        ``(case, None)`` for a case that could not be checked at all."""
        out = []
        for c in self.cases:
            if c.problem or not c.quantities:
                out.append((c.case, None))
            out.extend((c.case, q) for q in c.failures())
        return out

    def lines(self):
        """The report in words, a line per case and quantity."""
        out = []
        for c in self.cases:
            out.append(f"{c.case}: {'ok' if c.passed else 'FAILS'}")
            if c.problem:
                out.append(f"  {c.problem}")
            out.extend(f"  {q.message()}" for q in c.quantities)
            if c.not_checked:
                out.append(f"  not answered: {', '.join(c.not_checked)}")
        n_failed = sum(not c.passed for c in self.cases)
        out.append(f"{len(self.cases) - n_failed} of {len(self.cases)} cases pass")
        return out

    def to_json(self):
        """A JSON-ready dict of the whole report."""
        return {
            "passed": self.passed,
            "cases": [{
                "case": c.case,
                "passed": c.passed,
                "problem": c.problem,
                "not_checked": list(c.not_checked),
                "quantities": [{
                    "quantity": q.quantity,
                    "passed": q.passed,
                    "relative_error": q.error,
                    "tolerance": q.tolerance,
                    "scale": q.scale,
                    "problem": q.problem,
                    "locations": [{"block": block, "error": error}
                                  for block, error in q.locations],
                    "message": q.message(),
                } for q in c.quantities],
            } for c in self.cases],
        }


def _located(answer, expected, blocks, tolerance, norm):
    """Blocks whose error, over `norm`, exceeds `tolerance`, largest first."""
    errors = []
    for label, index in blocks:
        error = float(np.linalg.norm(answer[index] - expected[index]) / norm)
        if error > tolerance:
            errors.append((label, error))
    return tuple(sorted(errors, key=lambda item: -item[1]))


def _scale(answer, expected, tolerance):
    """``c`` if ``answer`` is ``c * expected`` to within `tolerance` and
    ``c`` is not 1 to within it; else ``None``."""
    e, a = np.ravel(expected), np.ravel(answer)
    denominator = float(e @ e)
    if denominator == 0:
        return None
    c = float(a @ e) / denominator
    fits = np.linalg.norm(a - c * e) <= tolerance * np.linalg.norm(c * e)
    return c if fits and abs(c - 1) > tolerance else None


def _check_quantity(case, quantity, answer):
    expected = np.asarray(case.expected[quantity], dtype=float)
    tolerance = case.tolerance[quantity]
    answer = np.asarray(answer, dtype=float)
    if answer.shape != expected.shape:
        return QuantityReport(quantity, float("inf"), tolerance, problem=(
            f"expected shape {expected.shape}, got {answer.shape}"))
    if not np.all(np.isfinite(answer)):
        return QuantityReport(quantity, float("inf"), tolerance,
                              problem="the answer holds NaN or infinity")
    error = _relative_error(answer, expected)
    if error <= tolerance:
        return QuantityReport(quantity, error, tolerance)
    norm = np.linalg.norm(expected) or 1.0
    blocks = parameter_blocks(case.widths)
    cause = ""
    if quantity == "hessian":
        pairs = [(f"({a}, {b})", np.ix_(range(len(expected))[i],
                                        range(len(expected))[j]))
                 for a, i in blocks for b, j in blocks]
        locations = _located(answer, expected, pairs, tolerance, norm)
        confined = _confinement(answer - expected, blocks, tolerance * norm)
        cause = f"the error lies in the rows and columns of {confined}"
    elif quantity == "loss":
        locations = ()
    else:
        locations = _located(answer, expected, blocks, tolerance, norm)
        if quantity == "inverse_hvp":
            cause = _solve_diagnosis(case, answer, tolerance)
    return QuantityReport(quantity, error, tolerance, locations,
                          _scale(answer, expected, tolerance), cause=cause)


def _confinement(D, blocks, limit):
    """The parameter blocks whose rows and columns hold the error ``D`` of a
    Hessian, in words: one block if it alone does, else every bias or every
    weight matrix if they do, else the fewest blocks found by taking the
    largest rows first ("every block" when that takes all of them). Beyond
    them, ``D`` is below `limit` (Frobenius)."""
    def outside(labels):
        keep = np.ones(len(D), dtype=bool)
        for label, index in blocks:
            if label in labels:
                keep[index] = False
        return np.linalg.norm(D[np.ix_(keep, keep)])

    for label, _ in blocks:
        if outside({label}) <= limit:
            return label
    for part, words in (("bias", "every bias"), ("weights", "every weight matrix")):
        if outside({label for label, _ in blocks if label.endswith(part)}) <= limit:
            return words
    chosen = []
    while outside(set(chosen)) > limit:
        rest = [(label, index) for label, index in blocks if label not in chosen]
        chosen.append(max(rest, key=lambda item: np.linalg.norm(D[item[1]]))[0])
    if len(chosen) == len(blocks) and len(blocks) > 1:
        return "every block"
    return " and ".join(chosen)


def _solve_diagnosis(case, answer, tolerance):
    """What a wrong ``(H + eps I)^{-1} v`` is instead, when the case carries
    ``H``: the solve with ``-eps``, without ``eps``, or with ``B eps``."""
    if "hessian" not in case.expected:
        return ""
    H = np.asarray(case.expected["hessian"], dtype=float)
    I = np.eye(len(H))
    candidates = {
        "eps enters with the wrong sign: the answer is (H - eps I)^{-1} v":
            H - case.eps * I,
        "eps is missing: the answer is H^{-1} v": H,
        "the answer is (H + B eps I)^{-1} v, B the batch size":
            H + len(case.X) * case.eps * I,
        "the answer is (B H + eps I)^{-1} v, B the batch size: the loss is "
        "summed where it should be averaged, or the other way round":
            len(case.X) * H + case.eps * I if case.reduction == "mean"
            else H / len(case.X) + case.eps * I,
    }
    for words, A in candidates.items():
        try:
            x = np.linalg.solve(A, case.v)
        except np.linalg.LinAlgError:
            continue
        if _relative_error(answer, x) <= max(tolerance, 1e-8):
            return words
    return ""


def _from_layout(case, answers, layout):
    """`answers` with every parameter-indexed array moved from `layout` to
    hessian_ref's (arrays of the wrong size are left for the check to name)."""
    from .layouts import HESSIAN_REF, convert, convert_matrix

    P = len(case.theta)
    moved = dict(answers)
    for q in ("gradient", "hvp", "inverse_hvp"):
        if q in moved and np.shape(moved[q]) == (P,):
            moved[q] = convert(moved[q], case.widths, layout, HESSIAN_REF)
    if "hessian" in moved and np.shape(moved["hessian"]) == (P, P):
        moved["hessian"] = convert_matrix(moved["hessian"], case.widths, layout,
                                          HESSIAN_REF)
    return moved


def check_answers(case, answers, layout=None):
    """A :class:`CaseReport` for `answers` (a dict of quantities) on `case`.

    `layout` (a :class:`hessian_ref.layouts.Layout`) is the parameter layout
    of the answers; default hessian_ref's.
    """
    unknown = sorted(set(answers) - set(QUANTITIES))
    if unknown:
        return CaseReport(case.name, (), problem=(
            f"expected answers among {QUANTITIES}, got unknown keys {unknown}"))
    if layout is not None:
        answers = _from_layout(case, answers, layout)
    reports = tuple(_check_quantity(case, q, answers[q])
                    for q in QUANTITIES if q in answers and q in case.expected)
    not_checked = tuple(q for q in QUANTITIES
                        if q in case.expected and q not in answers)
    problem = "" if reports else "no quantity was answered"
    return CaseReport(case.name, reports, not_checked, problem)


def case_paths(cases_dir):
    """`cases_dir` itself if it is a file, else the ``.npz`` files in it,
    sorted; FileNotFoundError names what is missing."""
    if os.path.isfile(cases_dir):
        return [cases_dir]
    if not os.path.isdir(cases_dir):
        raise FileNotFoundError(f"cases: expected a case file or a directory of "
                                f"them, got {cases_dir!r}, which does not exist")
    paths = sorted(os.path.join(cases_dir, f) for f in os.listdir(cases_dir)
                   if f.endswith(".npz"))
    if not paths:
        raise FileNotFoundError(f"cases: expected .npz case files in {cases_dir!r}, "
                                f"found none")
    return paths


def check_directory(cases_dir, answers_dir, layout=None):
    """Check the answer files in `answers_dir` against the cases in
    `cases_dir` (a directory or one case file): a :class:`Report`. A case
    without an answer file fails. `layout` as in :func:`check_answers`."""
    reports = []
    for path in case_paths(cases_dir):
        case = load_case(path)
        answer_path = os.path.join(answers_dir, os.path.basename(path))
        if not os.path.isfile(answer_path):
            reports.append(CaseReport(case.name, (), problem=(
                f"no answer file {answer_path}")))
            continue
        try:
            answers = load_answers(answer_path)
        except ValueError as error:
            reports.append(CaseReport(case.name, (), problem=str(error)))
            continue
        reports.append(check_answers(case, answers, layout))
    return Report(tuple(reports))


def validate(implementation, cases=None, layout=None):
    """Check `implementation` on `cases`; returns a :class:`Report`.

    Parameters
    ----------
    implementation : callable
        Called with each :class:`Case`; returns a dict holding any of
        :data:`QUANTITIES`, computed from the case's ``widths``,
        ``activations``, ``loss``, ``reduction``, ``theta`` (hessian_ref
        layout), ``X``, ``targets``, ``v`` and ``eps``.
    cases : sequence of Case, or str, optional
        The cases, or a directory of case files; default
        :func:`standard_suite`.
    layout : hessian_ref.layouts.Layout, optional
        The parameter layout of the implementation's answers, as in
        :func:`check_answers` (default: hessian_ref's own).
    """
    if not callable(implementation):
        raise TypeError(f"implementation: expected a callable taking a Case, got "
                        f"{type(implementation).__name__}")
    if cases is None:
        cases = standard_suite()
    elif isinstance(cases, (str, os.PathLike)):
        cases = [load_case(path) for path in case_paths(os.fspath(cases))]
    reports = []
    for case in cases:
        answers = implementation(case)
        if not isinstance(answers, dict):
            reports.append(CaseReport(case.name, (), problem=(
                f"expected the implementation to return a dict, got "
                f"{type(answers).__name__}")))
            continue
        reports.append(check_answers(case, answers, layout))
    return Report(tuple(reports))


def report_json(report, path):
    """Write ``report.to_json()`` to `path`."""
    with open(path, "w") as handle:
        json.dump(report.to_json(), handle, indent=2)
