"""An audited catalogue of bad input to the public API, and of odd but valid input.

Every kind of bad input below is one row of ``CATALOGUE``; its test checks
the exact exception type, that the message reads ``<argument>: expected
<what>, ..., got <what came in>`` (matched with ``pytest.raises(match=...)``
from the start of the message), and, for ``hessian_inverse_product``, that
the error is raised before any work: the forward pass and the linearization
are replaced by tripwires. ``test_catalogue_is_audited`` checks that this
list and the table name the same kinds.

Parameters ``theta`` (of ``hessian_inverse_product``)

* ``theta-wrong-length``: one entry short -> ValueError, expected shape (P,).
* ``theta-not-flat``: a (2, P/2) matrix -> ValueError, expected shape (P,).
* ``theta-nan``: a NaN -> ValueError, names the value and its index.
* ``theta-inf``: an infinity -> ValueError, names the value and its index.
* ``theta-float16``: half precision -> TypeError, float16 is not accepted.
* ``theta-complex``: complex dtype -> TypeError, expected real numbers.
* ``theta-bool``: boolean dtype -> TypeError, expected real numbers.

Weights (``MLP.pack``)

* ``pack-weights-wrong-shape``: a transposed weight matrix -> ValueError.
* ``pack-bias-wrong-shape``: a bias of the wrong length -> ValueError.
* ``pack-wrong-layer-count``: one layer's arrays for a 2-layer net -> ValueError.

Batch ``X``

* ``X-wrong-width``: 4 columns for an input width of 3 -> ValueError.
* ``X-not-2d``: a single sample as a 1-D array -> ValueError.
* ``empty-batch``: shape (0, 3) -> ValueError, expected B >= 1.
* ``X-nan``: a NaN -> ValueError, names the value and its index.
* ``X-inf``: an infinity -> ValueError, names the value and its index.
* ``X-float16``: half precision -> TypeError, float16 is not accepted.
* ``X-complex``: complex dtype -> TypeError, expected real numbers.
* ``X-ragged``: a ragged nested list -> ValueError, expected a rectangular array.

Class labels (softmax cross-entropy)

* ``label-out-of-range``: label 2 with 2 classes -> ValueError, names it.
* ``label-negative``: label -1 -> ValueError, names it and its index.
* ``label-fractional``: 0.5 -> TypeError, names it and its index.
* ``label-whole-float``: 1.0 as a float -> TypeError (not converted silently).
* ``label-wrong-count``: 2 labels for 3 samples -> ValueError.
* ``label-bool``: boolean labels -> TypeError, expected integer labels.

Regression targets (squared error)

* ``targets-wrong-count``: 2 rows of targets for 3 samples -> ValueError.
* ``targets-wrong-width``: 3 targets per sample for 2 outputs -> ValueError.
* ``targets-nan``: a NaN -> ValueError, names the value and its index.
* ``targets-float16``: half precision -> TypeError, float16 is not accepted.

Vector ``v``

* ``v-wrong-length``: P + 1 entries -> ValueError, expected (P,) or (P, k).
* ``v-3d``: shape (P, 1, 1) -> ValueError, expected (P,) or (P, k).
* ``v-nan``: a NaN -> ValueError, names the value and its index.
* ``v-inf``: an infinity -> ValueError, names the value and its index.
* ``v-float16``: half precision -> TypeError, float16 is not accepted.
* ``v-complex``: complex dtype -> TypeError, expected real numbers.

Damping ``eps``

* ``eps-nan``: NaN -> ValueError, expected a finite number.
* ``eps-inf``: infinity -> ValueError, expected a finite number.
* ``eps-negative``: -0.1 -> ValueError, expected a finite number >= 0 or > 0.
* ``eps-array``: a NumPy array of shape (2,) -> TypeError, expected a number.
* ``eps-string``: the string '0.1' -> TypeError, expected a real number.
* ``eps-complex``: 1j -> TypeError, expected a real number.
* ``eps-float16``: a NumPy float16 scalar -> TypeError, expected at least
  single precision.

Network and options

* ``net-not-mlp``: a string passed as ``net`` -> TypeError, expected an MLP.
* ``unknown-activation``: ``MLP(..., activation="relu")`` -> ValueError.
* ``unknown-loss``: ``MLP(..., loss="hinge")`` -> ValueError.
* ``unknown-method``: ``method="lu"`` -> ValueError, expected one of the methods.

Block-tridiagonal matrices (``BlockTridiagonal``)

* ``block-lower-does-not-chain``: ``lower[0]`` of the wrong shape -> ValueError,
  says the blocks do not chain and which diagonal blocks fix its shape.
* ``block-upper-does-not-chain``: the same for ``upper[0]``.

Policy on dtypes, stated once: integers and float32 (and wider floats) are
accepted and computed in float64; float16 is rejected, because half
precision has already lost the digits a float64 reference needs.
``test_odd_valid_arrays_are_accepted_and_never_modified`` checks the other
side of the catalogue: integer arrays, float32, strided, reversed,
Fortran-order and read-only arrays are accepted, give the answer of the
float64 C-contiguous input (bit for bit, except that a Fortran-order ``v``
of several columns changes the BLAS's order of summation, so agrees to
rounding), and are left exactly as they were: values, dtype, shape, strides
and flags.
"""

import re

import numpy as np
import pytest

from hessian_ref import (
    MLP,
    BlockTridiagonal,
    hessian_inverse_product,
    hessian_vector_product,
)

# One small problem shared by the rows: P = (4*3 + 4) + (2*4 + 2) = 26. The
# arrays are read-only, so a row that wrote to them would fail loudly.
NET = MLP((3, 4, 2))
SQUARED = MLP((3, 4, 2), loss="squared_error")
P = NET.n_params
THETA = NET.init(seed=0)
X = np.random.default_rng(1).standard_normal((3, 3))
Y = np.array([0, 1, 1])
T = np.random.default_rng(2).standard_normal((3, 2))
V = np.ones(P)
W0, W1 = np.zeros((4, 3)), np.zeros((2, 4))
C0, C1 = np.zeros(4), np.zeros(2)
for _array in (THETA, X, Y, T, V, W0, W1, C0, C1):
    _array.flags.writeable = False

HALF = "half precision is not accepted because it has already lost the digits a "
HALF += "float64 reference needs"
AT_LEAST_SINGLE = "integers or floats of at least single precision (float32, float64)"


def solve(net=NET, theta=THETA, X=X, targets=Y, v=V, eps=0.1, **options):
    """A call of hessian_inverse_product with the good problem, some of it replaced."""
    return lambda: hessian_inverse_product(net, theta, X, targets, v, eps, **options)


def solve_squared(targets):
    """The same call on the squared-error network with other targets."""
    return solve(net=SQUARED, targets=targets)


def with_value(array, index, value):
    """A float copy of `array` with `value` at `index`."""
    array = np.array(array, dtype=float)
    array[index] = value
    return array


def case(kind, call, error, argument, expected, got, more=None):
    """One row: the call, the exception type, and the three parts of the message.

    `argument` starts the message, `expected` follows ``": expected "``, `got`
    follows ``", got "`` later on, and `more` (if given) anywhere after that.
    """
    pattern = f"^{re.escape(argument)}: expected {re.escape(expected)}.*, got "
    pattern += re.escape(got)
    if more is not None:
        pattern += ".*" + re.escape(more)
    return pytest.param(call, error, pattern, id=kind)


CATALOGUE = [
    # -- theta
    case("theta-wrong-length", solve(theta=THETA[:-1]), ValueError,
         "theta", f"the flat parameters of shape ({P},)", f"({P - 1},)"),
    case("theta-not-flat", solve(theta=THETA.reshape(2, P // 2)), ValueError,
         "theta", f"the flat parameters of shape ({P},)", f"(2, {P // 2})"),
    case("theta-nan", solve(theta=with_value(THETA, 5, np.nan)), ValueError,
         "theta", "finite values", "nan at index 5"),
    case("theta-inf", solve(theta=with_value(THETA, 7, -np.inf)), ValueError,
         "theta", "finite values", "-inf at index 7"),
    case("theta-float16", solve(theta=THETA.astype(np.float16)), TypeError,
         "theta", AT_LEAST_SINGLE, "dtype float16", HALF),
    case("theta-complex", solve(theta=THETA + 0j), TypeError,
         "theta", "real numbers", "dtype complex128"),
    case("theta-bool", solve(theta=np.ones(P, dtype=bool)), TypeError,
         "theta", "real numbers", "dtype bool"),
    # -- weights
    case("pack-weights-wrong-shape", lambda: NET.pack([W0.T, W1], [C0, C1]),
         ValueError, "weights[0], biases[0]", "shapes (4, 3) and (4,)",
         "(3, 4) and (4,)"),
    case("pack-bias-wrong-shape", lambda: NET.pack([W0, W1], [C0, C0]),
         ValueError, "weights[1], biases[1]", "shapes (2, 4) and (2,)",
         "(2, 4) and (4,)"),
    case("pack-wrong-layer-count", lambda: NET.pack([W0], [C0]), ValueError,
         "weights", "a sequence of 2 arrays (one per layer)", "a list of 1"),
    # -- X
    case("X-wrong-width", solve(X=np.zeros((3, 4))), ValueError,
         "X", "a batch of shape (B, 3) with B >= 1", "(3, 4)"),
    case("X-not-2d", solve(X=X[0]), ValueError,
         "X", "a batch of shape (B, 3) with B >= 1", "(3,)"),
    case("empty-batch", solve(X=np.zeros((0, 3)), targets=np.zeros(0, dtype=int)),
         ValueError, "X", "a batch of shape (B, 3) with B >= 1", "(0, 3)"),
    case("X-nan", solve(X=with_value(X, (1, 2), np.nan)), ValueError,
         "X", "finite values", "nan at index (1, 2)"),
    case("X-inf", solve(X=np.full((3, 3), np.inf)), ValueError,
         "X", "finite values", "inf at index (0, 0) (9 non-finite entries)"),
    case("X-float16", solve(X=X.astype(np.float16)), TypeError,
         "X", AT_LEAST_SINGLE, "dtype float16", HALF),
    case("X-complex", solve(X=X + 1j), TypeError,
         "X", "real numbers", "dtype complex128"),
    case("X-ragged", solve(X=[[1.0, 2.0, 3.0], [1.0]]), ValueError,
         "X", "a rectangular array of numbers", "a list that NumPy cannot convert"),
    # -- class labels
    case("label-out-of-range", solve(targets=np.array([0, 1, 2])), ValueError,
         "targets", "labels in 0..1", "2 at index 2"),
    case("label-negative", solve(targets=np.array([0, -1, 1])), ValueError,
         "targets", "labels in 0..1", "-1 at index 1"),
    case("label-fractional", solve(targets=np.array([0.0, 0.5, 1.0])), TypeError,
         "targets", "integer class labels",
         "dtype float64 (0.5 at index 1 is not a whole number)"),
    case("label-whole-float", solve(targets=np.array([0.0, 1.0, 1.0])), TypeError,
         "targets", "integer class labels", "dtype float64 holding whole numbers",
         "targets.astype(int)"),
    case("label-wrong-count", solve(targets=np.array([0, 1])), ValueError,
         "targets", "class labels of shape (3,)", "(2,)"),
    case("label-bool", solve(targets=np.array([True, False, True])), TypeError,
         "targets", "integer class labels", "dtype bool"),
    # -- regression targets
    case("targets-wrong-count", solve_squared(T[:2]), ValueError,
         "targets", "regression targets of shape (3, 2)", "(2, 2)"),
    case("targets-wrong-width", solve_squared(np.zeros((3, 3))), ValueError,
         "targets", "regression targets of shape (3, 2)", "(3, 3)"),
    case("targets-nan", solve_squared(with_value(T, (0, 1), np.nan)), ValueError,
         "targets", "finite values", "nan at index (0, 1)"),
    case("targets-float16", solve_squared(T.astype(np.float16)), TypeError,
         "targets", AT_LEAST_SINGLE, "dtype float16", HALF),
    # -- v
    case("v-wrong-length", solve(v=np.ones(P + 1)), ValueError,
         "v", f"shape ({P},) or ({P}, k)", f"({P + 1},)"),
    case("v-3d", solve(v=np.ones((P, 1, 1))), ValueError,
         "v", f"shape ({P},) or ({P}, k)", f"({P}, 1, 1)"),
    case("v-nan", solve(v=with_value(V, 3, np.nan)), ValueError,
         "v", "finite values", "nan at index 3"),
    case("v-inf", solve(v=with_value(np.ones((P, 2)), (4, 1), np.inf)), ValueError,
         "v", "finite values", "inf at index (4, 1)"),
    case("v-float16", solve(v=V.astype(np.float16)), TypeError,
         "v", AT_LEAST_SINGLE, "dtype float16", HALF),
    case("v-complex", solve(v=V * 1j), TypeError,
         "v", "real numbers", "dtype complex128"),
    # -- eps (0 is allowed: H itself, refused only when singular)
    case("eps-nan", solve(eps=np.nan), ValueError, "eps", "a finite number", "nan"),
    case("eps-inf", solve(eps=np.inf), ValueError, "eps", "a finite number", "inf"),
    case("eps-negative", solve(eps=-0.1), ValueError,
         "eps", "a finite number", "-0.1"),
    case("eps-array", solve(eps=np.array([0.1, 0.2])), TypeError,
         "eps", "a real number", "array([0.1, 0.2])"),
    case("eps-string", solve(eps="0.1"), TypeError,
         "eps", "a real number", "'0.1'"),
    case("eps-complex", solve(eps=1j), TypeError, "eps", "a real number", "1j"),
    case("eps-float16", solve(eps=np.float16(0.1)), TypeError,
         "eps", "a number of at least single precision", "float16"),
    # -- network and options
    case("net-not-mlp", solve(net="MLP((3, 4, 2))"), TypeError,
         "net", "an MLP", "str"),
    case("unknown-activation", lambda: MLP((3, 4, 2), activation="relu"),
         ValueError, "activation",
         "one of ['identity', 'sigmoid', 'softplus', 'tanh']", "'relu'"),
    case("unknown-loss", lambda: MLP((3, 4, 2), loss="hinge"), ValueError,
         "loss", "one of ['cross_entropy', 'squared_error']", "'hinge'"),
    case("unknown-method", solve(method="lu"), ValueError,
         "method", "one of (", "'lu'"),
    # -- block-tridiagonal matrices: sizes (2, 3), so lower[0] is 3 x 2
    case("block-lower-does-not-chain",
         lambda: BlockTridiagonal([np.eye(2), np.eye(3)], [np.ones((2, 2))],
                                  [np.ones((2, 3))]),
         ValueError, "lower[0]", "shape (3, 2)", "(2, 2)",
         "the blocks do not chain: lower[0] sits in the rows of diagonal[1] "
         "(3 x 3) and the columns of diagonal[0] (2 x 2)"),
    case("block-upper-does-not-chain",
         lambda: BlockTridiagonal([np.eye(2), np.eye(3)], [np.ones((3, 2))],
                                  [np.ones((3, 2))]),
         ValueError, "upper[0]", "shape (2, 3)", "(3, 2)",
         "the blocks do not chain: upper[0] sits in the rows of diagonal[0] "
         "(2 x 2) and the columns of diagonal[1] (3 x 3)"),
]


def _tripwire(*args, **kwargs):
    raise AssertionError("work began before the inputs were checked")


@pytest.mark.parametrize("call, error, pattern", CATALOGUE)
def test_bad_input_is_rejected_by_name(call, error, pattern, monkeypatch):
    # the forward pass (every MLP computation starts there) and the
    # linearization must not run: every check comes first
    monkeypatch.setattr(MLP, "_inputs", _tripwire)
    monkeypatch.setattr(MLP, "linearize", _tripwire)
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert type(caught.value) is error  # not merely a subclass


def test_tripwires_catch_work(monkeypatch):
    # without this, a row that never reached the checks would prove nothing
    monkeypatch.setattr(MLP, "_inputs", _tripwire)
    monkeypatch.setattr(MLP, "linearize", _tripwire)
    with pytest.raises(AssertionError, match="work began"):
        solve()()
    with pytest.raises(AssertionError, match="work began"):
        NET.loss(THETA, X, Y)


def test_catalogue_is_audited():
    listed = re.findall(r"^\* ``([\w-]+)``:", __doc__, flags=re.MULTILINE)
    tested = [row.id for row in CATALOGUE]
    assert len(set(tested)) == len(tested), "a kind is tested twice"
    assert len(set(listed)) == len(listed), "a kind is listed twice"
    assert listed == tested, "the docstring and the table list different kinds"
    assert len(tested) >= 22


def test_shared_problem_is_valid():
    # the rows above change one thing each in a problem that must itself pass
    x = hessian_inverse_product(NET, THETA, X, Y, V, 0.1)
    assert x.shape == (P,) and np.all(np.isfinite(x))
    assert np.all(np.isfinite(hessian_inverse_product(SQUARED, THETA, X, T, V, 0.1)))
    BlockTridiagonal([np.eye(2), np.eye(3)], [np.ones((3, 2))], [np.ones((2, 3))])
    assert NET.pack([W0, W1], [C0, C1]).shape == (P,)


# ------------------------------------------------ odd but valid input


ODD_NET = MLP((3, 5, 4, 2))
ODD_SQUARED = MLP((3, 5, 4, 2), loss="squared_error")
ODD_P = ODD_NET.n_params


def _integers():
    rng = np.random.default_rng(21)
    return {
        "theta": rng.integers(-1, 2, ODD_P),                  # int64 weights
        "X": rng.integers(-2, 3, (6, 3)),                     # int64 batch
        "targets": rng.integers(0, 2, 6).astype(np.uint8),
        "v": rng.integers(-3, 4, ODD_P).astype(np.int32),
    }


def _strided():
    rng = np.random.default_rng(22)
    bases = {
        "theta": ODD_NET.init(seed=3, bias_scale=0.3).repeat(2),
        "X": rng.standard_normal((6, 6)),
        "targets": rng.integers(0, 2, 12),
        "v": rng.standard_normal(3 * ODD_P),
    }
    views = {"theta": bases["theta"][::2], "X": bases["X"][:, ::2],
             "targets": bases["targets"][::2], "v": bases["v"][::3]}
    return views, bases


def _reversed():
    rng = np.random.default_rng(23)
    bases = {
        "theta": ODD_NET.init(seed=4, bias_scale=0.3),
        "X": rng.standard_normal((6, 3)),
        "targets": rng.integers(0, 2, 6),
        "v": rng.standard_normal((ODD_P, 2)),
    }
    views = {"theta": bases["theta"][::-1], "X": bases["X"][::-1, ::-1],
             "targets": bases["targets"][::-1], "v": bases["v"][::-1, ::-1]}
    return views, bases


def _fortran():
    rng = np.random.default_rng(24)
    return {
        "theta": ODD_NET.init(seed=5, bias_scale=0.3),
        "X": np.asfortranarray(rng.standard_normal((6, 3))),
        "targets": np.asfortranarray(rng.standard_normal((6, 2))),
        "v": np.asfortranarray(rng.standard_normal((ODD_P, 3))),
    }


def _float32():
    rng = np.random.default_rng(25)
    arrays = {
        "theta": ODD_NET.init(seed=6, bias_scale=0.3),
        "X": rng.standard_normal((6, 3)),
        "targets": rng.standard_normal((6, 2)),
        "v": rng.standard_normal(ODD_P),
    }
    return {name: a.astype(np.float32) for name, a in arrays.items()}


def _read_only():
    arrays = _integers()
    arrays["theta"] = arrays["theta"] * 0.5
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


# name: (network, make the inputs -> (inputs, bases whose views they are),
#        whether the answer must agree to the last bit)
# A Fortran-order v of several columns is converted to a Fortran-order float64
# array, and the BLAS then adds up the products of hessian_vector_product in
# another order: the answer agrees to rounding (about 1e-16), not to the bit.
ODD_CASES = {
    "integer arrays (int64 theta and X, int32 v, uint8 labels)":
        (ODD_NET, lambda: (_integers(), {}), True),
    "strided views (X[:, ::2], theta[::2], v[::3], labels[::2])":
        (ODD_NET, _strided, True),
    "reversed views (negative strides, v of shape (P, 2))":
        (ODD_NET, _reversed, True),
    "Fortran order (X, regression targets, v of shape (P, 3))":
        (ODD_SQUARED, lambda: (_fortran(), {}), False),
    "float32 arrays (computed in float64)":
        (ODD_SQUARED, lambda: (_float32(), {}), True),
    "read-only arrays": (ODD_NET, lambda: (_read_only(), {}), True),
}


def _snapshot(array):
    flags = ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED")
    return (array.copy(order="K"), array.dtype, array.shape, array.strides,
            {flag: array.flags[flag] for flag in flags})


def _plain(name, array):
    """A float64 (labels: int64) C-contiguous copy of the values of `array`."""
    dtype = np.int64 if name == "targets" and array.dtype.kind in "iu" else float
    return np.array(array, dtype=dtype, order="C", copy=True)


@pytest.mark.parametrize("case_name", list(ODD_CASES))
def test_odd_valid_arrays_are_accepted_and_never_modified(case_name):
    net, make, bitwise = ODD_CASES[case_name]
    inputs, bases = make()
    watched = {**inputs, **{f"base of {name}": a for name, a in bases.items()}}
    before = {name: _snapshot(a) for name, a in watched.items()}
    plain = {name: _plain(name, a) for name, a in inputs.items()}
    assert not any(np.shares_memory(plain[name], a) for name, a in inputs.items())

    args = [inputs[name] for name in ("theta", "X", "targets", "v")]
    plain_args = [plain[name] for name in ("theta", "X", "targets", "v")]
    for f, extra in ((hessian_inverse_product, (0.1,)), (hessian_vector_product, ())):
        answer = f(net, *args, *extra)
        expected = f(net, *plain_args, *extra)
        assert answer.dtype == np.float64 and answer.shape == plain["v"].shape
        assert np.all(np.isfinite(answer))
        if bitwise:  # the same computation on the same float64 values
            np.testing.assert_array_equal(answer, expected)
        else:
            error = np.linalg.norm(answer - expected) / np.linalg.norm(expected)
            assert error <= 1e-14, f"{f.__name__}: {error:.2e}"
        assert not any(np.shares_memory(answer, a) for a in watched.values())

    for name, a in watched.items():
        copy, dtype, shape, strides, flags = before[name]
        assert a.dtype == dtype and a.shape == shape and a.strides == strides, name
        assert {flag: a.flags[flag] for flag in flags} == flags, name
        np.testing.assert_array_equal(a, copy, err_msg=name)
