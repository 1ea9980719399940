"""Conversions between flat parameter layouts (hessian_ref.layouts).

The round trips and the algebra (a permutation, ``Pm H Pm^T``) check that
the conversions are consistent; the hand-written index lists, the blocks of
an MLP's parameters and the autograd Hessian of the loss written as a
function of a vector in another layout check that they mean what the module
docstring says.
"""

import dataclasses
import itertools
import re

import autograd
import numpy as np
import pytest
from conftest import make_problem, rel_err

from hessian_ref import MLP, hessian_inverse_product, hessian_vector_product, layouts
from hessian_ref.dense import autograd_hessian, autograd_loss
from hessian_ref.layouts import (
    FLAX_RAVEL_PYTREE,
    HESSIAN_REF,
    LAYOUTS,
    TORCH_PARAMETERS_TO_VECTOR,
    Layout,
    convert,
    convert_matrix,
    from_layers,
    permutation,
    to_layers,
)

# Depth 1 to 4, widths 1 among them (at the input, inside, at the output).
WIDTHS = [
    (1, 1),
    (3, 1),
    (1, 4),
    (2, 3),
    (3, 1, 2),
    (1, 2, 1),
    (2, 3, 1, 4),
    (1, 2, 3, 1),
    (4, 3, 2, 2, 3),
    (2, 1, 3, 1, 2),
]
PAIRS = list(itertools.product(LAYOUTS, repeat=2))


def n_params(widths):
    return sum(o * i + o for i, o in itertools.pairwise(widths))


def layout_id(layout):
    return f"{layout.weights}-{layout.bias}-{layout.order}"


# -- the layouts themselves --------------------------------------------


def test_eight_distinct_layouts_and_the_presets():
    assert len(LAYOUTS) == len(set(LAYOUTS)) == 8
    assert LAYOUTS[0] == HESSIAN_REF == Layout() == Layout("out_in", "last", "C")
    assert TORCH_PARAMETERS_TO_VECTOR == HESSIAN_REF
    assert FLAX_RAVEL_PYTREE == Layout(weights="in_out", bias="first", order="C")
    with pytest.raises(dataclasses.FrozenInstanceError):
        HESSIAN_REF.order = "F"


def test_numpy_strings_are_stored_as_str():
    layout = Layout(np.str_("in_out"), np.str_("first"), np.str_("F"))
    assert type(layout.weights) is str and type(layout.order) is str
    assert layout == Layout("in_out", "first", "F")


# -- round trips and algebra -------------------------------------------


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
def test_there_and_back_is_exactly_the_identity(widths):
    rng = np.random.default_rng(0)
    P = n_params(widths)
    x = rng.standard_normal(P)
    stack = rng.standard_normal((P, 3))
    H = rng.standard_normal((P, P))
    for source, target in PAIRS:
        there = convert(x, widths, source, target)
        assert there.shape == (P,) and there.dtype == np.float64
        np.testing.assert_array_equal(convert(there, widths, target, source), x)
        back = convert(convert(stack, widths, source, target), widths, target, source)
        np.testing.assert_array_equal(back, stack)
        there = convert_matrix(H, widths, source, target)
        np.testing.assert_array_equal(
            convert_matrix(there, widths, target, source), H
        )


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
def test_permutation_is_a_permutation_and_composes(widths):
    P = n_params(widths)
    identity = np.arange(P)
    for source, target in PAIRS:
        perm = permutation(widths, source, target)
        assert perm.shape == (P,) and perm.dtype.kind == "i"
        np.testing.assert_array_equal(np.sort(perm), identity)
        # the way back is the inverse permutation
        np.testing.assert_array_equal(
            perm[permutation(widths, target, source)], identity
        )
        # through any third layout: x_c = x_b[p_bc] = x_a[p_ab][p_bc]
        for middle in LAYOUTS:
            np.testing.assert_array_equal(
                permutation(widths, source, middle)[
                    permutation(widths, middle, target)
                ],
                perm,
            )
    for layout in LAYOUTS:
        np.testing.assert_array_equal(permutation(widths, layout, layout), identity)


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
def test_transposed_and_column_major_is_the_same_vector(widths):
    """(out, in) read by columns is (in, out) read by rows, for either bias."""
    P = n_params(widths)
    for bias in ("last", "first"):
        for order, other in (("C", "F"), ("F", "C")):
            np.testing.assert_array_equal(
                permutation(
                    widths, Layout("out_in", bias, order), Layout("in_out", bias, other)
                ),
                np.arange(P),
            )


def test_four_different_vectors_unless_a_width_is_one():
    perms = {tuple(permutation((2, 3, 2), HESSIAN_REF, t)) for t in LAYOUTS}
    assert len(perms) == 4
    # with every matrix a row or a column, only the bias position matters
    perms = {tuple(permutation((1, 3, 1), HESSIAN_REF, t)) for t in LAYOUTS}
    assert len(perms) == 2


@pytest.mark.parametrize("widths", [(1, 1), (2, 3), (3, 1, 2), (2, 3, 1, 4)], ids=str)
def test_convert_matrix_is_Pm_H_PmT(widths):
    rng = np.random.default_rng(1)
    P = n_params(widths)
    H = rng.standard_normal((P, P))
    x = rng.standard_normal((P, 2))
    for source, target in PAIRS:
        perm = permutation(widths, source, target)
        Pm = np.zeros((P, P))
        Pm[np.arange(P), perm] = 1.0
        np.testing.assert_array_equal(Pm @ Pm.T, np.eye(P))
        np.testing.assert_array_equal(
            convert_matrix(H, widths, source, target), Pm @ H @ Pm.T
        )
        np.testing.assert_array_equal(convert(x, widths, source, target), Pm @ x)


@pytest.mark.parametrize("widths", WIDTHS, ids=str)
def test_to_layers_and_from_layers_round_trip(widths):
    rng = np.random.default_rng(2)
    net = MLP(widths)
    theta = net.init(seed=3)
    for layout in LAYOUTS:
        vector = convert(theta, widths, HESSIAN_REF, layout)
        layers = to_layers(vector, widths, layout)
        # always (out, in), whatever the layout stores: MLP.unpack's blocks
        assert len(layers) == len(widths) - 1
        for (W, c), (W_net, c_net) in zip(layers, net.unpack(theta)):
            np.testing.assert_array_equal(W, W_net)
            np.testing.assert_array_equal(c, c_net)
        np.testing.assert_array_equal(from_layers(layers, widths, layout), vector)
        # and the other way round, from arbitrary per-layer arrays
        fresh = [
            (rng.standard_normal((o, i)), rng.standard_normal(o))
            for i, o in itertools.pairwise(widths)
        ]
        again = to_layers(from_layers(fresh, widths, layout), widths, layout)
        for (W, c), (W0, c0) in zip(again, fresh):
            np.testing.assert_array_equal(W, W0)
            np.testing.assert_array_equal(c, c0)


# -- what the layouts mean ---------------------------------------------

# widths (2, 3): hessian_ref order W00 W01 W10 W11 W20 W21 c0 c1 c2 = 0..8
ONE_LAYER = {
    Layout("out_in", "last", "C"): [0, 1, 2, 3, 4, 5, 6, 7, 8],
    # W by columns: W00 W10 W20 W01 W11 W21, then c
    Layout("out_in", "last", "F"): [0, 2, 4, 1, 3, 5, 6, 7, 8],
    # c, then W by rows
    Layout("out_in", "first", "C"): [6, 7, 8, 0, 1, 2, 3, 4, 5],
    # kernel K = W.T (2 x 3) by rows: K00 K01 K02 K10 K11 K12 = W00 W10 W20 ...
    Layout("in_out", "last", "C"): [0, 2, 4, 1, 3, 5, 6, 7, 8],
    # K by columns: K00 K10 K01 K11 K02 K12 = W00 W01 W10 W11 W20 W21
    Layout("in_out", "last", "F"): [0, 1, 2, 3, 4, 5, 6, 7, 8],
    # Flax: bias, then kernel by rows
    Layout("in_out", "first", "C"): [6, 7, 8, 0, 2, 4, 1, 3, 5],
    Layout("in_out", "first", "F"): [6, 7, 8, 0, 1, 2, 3, 4, 5],
}

# widths (2, 2, 1): layer 1 W00 W01 W10 W11 c0 c1 = 0..5; layer 2 W00 W01 c0 = 6..8
TWO_LAYERS = {
    Layout("out_in", "last", "C"): [0, 1, 2, 3, 4, 5, 6, 7, 8],
    Layout("out_in", "last", "F"): [0, 2, 1, 3, 4, 5, 6, 7, 8],
    Layout("out_in", "first", "C"): [4, 5, 0, 1, 2, 3, 8, 6, 7],
    # Flax: c, kernel (2 x 2) by rows; c, kernel (2 x 1) by rows
    Layout("in_out", "first", "C"): [4, 5, 0, 2, 1, 3, 8, 6, 7],
}


@pytest.mark.parametrize("layout", list(ONE_LAYER), ids=layout_id)
def test_hand_written_index_lists_one_layer(layout):
    expected = ONE_LAYER[layout]
    assert permutation((2, 3), HESSIAN_REF, layout).tolist() == expected
    # the entries of hessian_ref's vector numbered 0..8 land where listed
    assert convert(np.arange(9), (2, 3), HESSIAN_REF, layout).tolist() == expected


@pytest.mark.parametrize("layout", list(TWO_LAYERS), ids=layout_id)
def test_hand_written_index_lists_two_layers(layout):
    expected = TWO_LAYERS[layout]
    assert permutation((2, 2, 1), HESSIAN_REF, layout).tolist() == expected


def test_hand_written_index_list_between_two_other_layouts():
    # Flax (2, 3): c0 c1 c2 W00 W10 W20 W01 W11 W21 at positions 0..8; PyTorch
    # wants W00 W01 W10 W11 W20 W21 c0 c1 c2
    assert permutation((2, 3), FLAX_RAVEL_PYTREE, TORCH_PARAMETERS_TO_VECTOR
                       ).tolist() == [3, 6, 4, 7, 5, 8, 0, 1, 2]
    # and the other way round
    assert permutation((2, 3), TORCH_PARAMETERS_TO_VECTOR, FLAX_RAVEL_PYTREE
                       ).tolist() == [6, 7, 8, 0, 2, 4, 1, 3, 5]


@pytest.mark.parametrize("widths", [(3, 4, 2), (1, 3, 1, 2), (2, 1, 3)], ids=str)
def test_in_out_blocks_are_the_transposed_weights(widths):
    net = MLP(widths)
    theta = net.init(seed=4)
    blocks = net.unpack(theta)
    for bias in ("last", "first"):
        vector = convert(theta, widths, HESSIAN_REF, Layout("in_out", bias, "C"))
        for l, (i, o) in enumerate(itertools.pairwise(widths)):
            segment = vector[net.offsets[l]:net.offsets[l + 1]]
            kernel_at = slice(0, i * o) if bias == "last" else slice(o, o + i * o)
            bias_at = slice(i * o, i * o + o) if bias == "last" else slice(0, o)
            np.testing.assert_array_equal(
                segment[kernel_at].reshape(i, o), blocks[l][0].T
            )
            np.testing.assert_array_equal(segment[bias_at], blocks[l][1])
        # column-major (out, in) blocks read back with order="F" give W itself
        vector = convert(theta, widths, HESSIAN_REF, Layout("out_in", bias, "F"))
        for l, (i, o) in enumerate(itertools.pairwise(widths)):
            segment = vector[net.offsets[l]:net.offsets[l + 1]]
            start = 0 if bias == "last" else o
            np.testing.assert_array_equal(
                segment[start:start + o * i].reshape(o, i, order="F"), blocks[l][0]
            )


def _ravel_sorted(tree):
    """What the FLAX_RAVEL_PYTREE docstring says ravel_pytree does, in NumPy:
    dicts in sorted key order, each array row-major."""
    if isinstance(tree, dict):
        return np.concatenate([_ravel_sorted(tree[key]) for key in sorted(tree)])
    return np.ravel(tree, order="C")


def test_presets_follow_their_stated_rules():
    widths = (3, 4, 4, 2)
    net = MLP(widths)
    theta = net.init(seed=5)
    blocks = net.unpack(theta)
    # parameters() of Linear layers: weight (out, in) .view(-1), then bias
    torch_like = np.concatenate([np.concatenate([W.ravel(), c]) for W, c in blocks])
    np.testing.assert_array_equal(
        convert(theta, widths, HESSIAN_REF, TORCH_PARAMETERS_TO_VECTOR), torch_like
    )
    # Flax: {"Dense_l": {"kernel": W.T, "bias": c}}, keys sorted at every level
    params = {
        f"Dense_{l}": {"kernel": W.T, "bias": c} for l, (W, c) in enumerate(blocks)
    }
    np.testing.assert_array_equal(
        convert(theta, widths, HESSIAN_REF, FLAX_RAVEL_PYTREE), _ravel_sorted(params)
    )


# -- Hessians and Hessian-vector products in other layouts -------------


@pytest.mark.parametrize(
    "widths, loss",
    [((3, 4, 2), "cross_entropy"), ((2, 3, 1, 2), "squared_error"),
     ((1, 2, 1), "squared_error")],
    ids=str,
)
def test_hessian_in_another_layout_is_the_permuted_autograd_hessian(widths, loss):
    rng = np.random.default_rng(6)
    net, theta, X, targets = make_problem(rng, widths, loss=loss, batch=4)
    P = net.n_params
    H = autograd_hessian(net, theta, X, targets)
    f = autograd_loss(net, X, targets)
    v = rng.standard_normal(P)
    V = rng.standard_normal((P, 3))
    Hv = hessian_vector_product(net, theta, X, targets, v)
    HV = hessian_vector_product(net, theta, X, targets, V)
    eps = 0.1
    x_inv = hessian_inverse_product(net, theta, X, targets, v, eps)
    for layout in LAYOUTS:
        back = permutation(widths, layout, HESSIAN_REF)
        theta_t = convert(theta, widths, HESSIAN_REF, layout)

        def loss_t(t, back=back):
            """The same loss, as a function of the vector in `layout`."""
            return f(t[back])

        H_t = autograd.hessian(loss_t)(theta_t)
        expected = convert_matrix(H, widths, HESSIAN_REF, layout)
        assert np.max(np.abs(H_t - expected)) <= 1e-14 * np.max(np.abs(H))
        np.testing.assert_allclose(
            autograd.grad(loss_t)(theta_t),
            convert(net.gradient(theta, X, targets), widths, HESSIAN_REF, layout),
            rtol=0, atol=1e-14 * np.max(np.abs(net.gradient(theta, X, targets))),
        )
        # the products commute with the conversion
        v_t = convert(v, widths, HESSIAN_REF, layout)
        V_t = convert(V, widths, HESSIAN_REF, layout)
        assert rel_err(convert(Hv, widths, HESSIAN_REF, layout), H_t @ v_t) < 1e-12
        assert rel_err(convert(HV, widths, HESSIAN_REF, layout), H_t @ V_t) < 1e-12
        assert rel_err(
            convert(x_inv, widths, HESSIAN_REF, layout),
            np.linalg.solve(H_t + eps * np.eye(P), v_t),
        ) < 1e-10


# -- bad input ---------------------------------------------------------

W2 = (2, 3)
P2 = 9
GOOD = np.arange(P2, dtype=float)
GOOD_LAYERS = [(np.zeros((3, 2)), np.zeros(3))]
for _array in (GOOD, *GOOD_LAYERS[0]):
    _array.flags.writeable = False


def with_value(index, value):
    array = np.array(GOOD)
    array[index] = value
    return array


def bad(kind, call, error, argument, expected, got):
    """One bad input: the message reads ``<argument>: expected <...>, got <...>``."""
    pattern = f"^{re.escape(argument)}: expected {re.escape(expected)}.*, got "
    pattern += re.escape(got)
    return pytest.param(call, error, pattern, id=kind)


BAD = [
    bad("layout-weights", lambda: Layout(weights="io"), ValueError,
        "weights", "one of 'out_in', 'in_out'", "'io'"),
    bad("layout-bias", lambda: Layout(bias="middle"), ValueError,
        "bias", "one of 'last', 'first'", "'middle'"),
    bad("layout-order", lambda: Layout(order="A"), ValueError,
        "order", "one of 'C', 'F'", "'A'"),
    bad("layout-order-lowercase", lambda: Layout(order="c"), ValueError,
        "order", "one of 'C', 'F'", "'c'"),
    bad("layout-order-none", lambda: Layout(order=None), TypeError,
        "order", "one of 'C', 'F'", "NoneType None"),
    bad("layout-weights-array", lambda: Layout(weights=np.array(["out_in"])),
        TypeError, "weights", "one of 'out_in', 'in_out'", "ndarray"),
    bad("source-not-layout", lambda: convert(GOOD, W2, "torch", HESSIAN_REF),
        TypeError, "source", "a Layout", "str 'torch'"),
    bad("target-not-layout", lambda: permutation(W2, HESSIAN_REF, None),
        TypeError, "target", "a Layout", "NoneType None"),
    bad("layout-not-layout", lambda: to_layers(GOOD, W2, FLAX_RAVEL_PYTREE.order),
        TypeError, "layout", "a Layout", "str 'C'"),
    bad("widths-too-short", lambda: permutation((3,), HESSIAN_REF, HESSIAN_REF),
        ValueError, "widths", "at least 2 entries", "(3,)"),
    bad("widths-zero", lambda: convert(GOOD, (2, 0), HESSIAN_REF, HESSIAN_REF),
        ValueError, "widths", "positive ints", "(2, 0)"),
    bad("widths-negative", lambda: convert(GOOD, (2, -3), HESSIAN_REF, HESSIAN_REF),
        ValueError, "widths", "positive ints", "(2, -3)"),
    bad("widths-float", lambda: convert(GOOD, (2, 3.0), HESSIAN_REF, HESSIAN_REF),
        TypeError, "widths", "positive ints", "(2, 3.0)"),
    bad("widths-bool", lambda: convert(GOOD, (2, True), HESSIAN_REF, HESSIAN_REF),
        TypeError, "widths", "positive ints", "(2, True)"),
    bad("widths-string", lambda: convert(GOOD, "23", HESSIAN_REF, HESSIAN_REF),
        TypeError, "widths", "a sequence of positive ints", "'23'"),
    bad("widths-none", lambda: from_layers(GOOD_LAYERS, None, HESSIAN_REF),
        TypeError, "widths", "a sequence of positive ints", "None"),
    bad("x-wrong-length", lambda: convert(GOOD[:-1], W2, HESSIAN_REF, HESSIAN_REF),
        ValueError, "x", "shape (9,) or (9, k) for widths (2, 3) (P = 9 parameters)",
        "shape (8,)"),
    bad("x-3d", lambda: convert(np.zeros((9, 1, 1)), W2, HESSIAN_REF, HESSIAN_REF),
        ValueError, "x", "shape (9,) or (9, k)", "shape (9, 1, 1)"),
    bad("x-rows-not-P", lambda: convert(np.zeros((3, 9)), W2, HESSIAN_REF,
                                        HESSIAN_REF),
        ValueError, "x", "shape (9,) or (9, k)", "shape (3, 9)"),
    bad("x-nan", lambda: convert(with_value(4, np.nan), W2, HESSIAN_REF,
                                 FLAX_RAVEL_PYTREE),
        ValueError, "x", "finite values", "nan at index 4"),
    bad("x-complex", lambda: convert(GOOD + 1j, W2, HESSIAN_REF, HESSIAN_REF),
        TypeError, "x", "real numbers", "dtype complex128"),
    bad("x-bool", lambda: convert(GOOD > 3, W2, HESSIAN_REF, HESSIAN_REF),
        TypeError, "x", "real numbers", "dtype bool"),
    bad("x-float16", lambda: convert(GOOD.astype(np.float16), W2, HESSIAN_REF,
                                     HESSIAN_REF),
        TypeError, "x", "integers or floats of at least single precision",
        "dtype float16"),
    bad("x-ragged", lambda: convert([[1.0], [1.0, 2.0]], W2, HESSIAN_REF,
                                    HESSIAN_REF),
        ValueError, "x", "a rectangular array of numbers", "a list"),
    bad("H-not-square", lambda: convert_matrix(np.zeros((9, 8)), W2, HESSIAN_REF,
                                               HESSIAN_REF),
        ValueError, "H", "shape (9, 9) for widths (2, 3)", "shape (9, 8)"),
    bad("H-vector", lambda: convert_matrix(GOOD, W2, HESSIAN_REF, HESSIAN_REF),
        ValueError, "H", "shape (9, 9)", "shape (9,)"),
    bad("H-inf", lambda: convert_matrix(np.full((9, 9), np.inf), W2, HESSIAN_REF,
                                        HESSIAN_REF),
        ValueError, "H", "finite values", "inf at index (0, 0) (81 non-finite"),
    bad("theta-stack", lambda: to_layers(np.zeros((9, 2)), W2, HESSIAN_REF),
        ValueError, "theta", "shape (9,) for widths (2, 3)", "shape (9, 2)"),
    bad("theta-wrong-length", lambda: to_layers(np.zeros(10), W2, HESSIAN_REF),
        ValueError, "theta", "shape (9,)", "shape (10,)"),
    bad("layers-wrong-count", lambda: from_layers(GOOD_LAYERS * 2, W2, HESSIAN_REF),
        ValueError, "layers", "a sequence of 1 (W, c) pairs (one per layer)",
        "a list of 2"),
    bad("layers-array", lambda: from_layers(GOOD, W2, HESSIAN_REF),
        ValueError, "layers", "a sequence of 1 (W, c) pairs", "an ndarray of shape"),
    bad("layers-not-pair", lambda: from_layers([GOOD_LAYERS[0][0]], W2,
                                               HESSIAN_REF),
        ValueError, "layers[0]", "a (W, c) pair", "an ndarray of shape (3, 2)"),
    bad("layers-W-transposed",
        lambda: from_layers([(np.zeros((2, 3)), np.zeros(3))], W2, FLAX_RAVEL_PYTREE),
        ValueError, "layers[0][0]", "W of shape (3, 2) for widths (2, 3)",
        "shape (2, 3)"),
    bad("layers-c-wrong-length",
        lambda: from_layers([(np.zeros((3, 2)), np.zeros(2))], W2, HESSIAN_REF),
        ValueError, "layers[0][1]", "c of shape (3,)", "shape (2,)"),
    bad("layers-W-nan",
        lambda: from_layers([(np.full((3, 2), np.nan), np.zeros(3))], W2,
                            HESSIAN_REF),
        ValueError, "layers[0][0]", "finite values", "nan at index (0, 0)"),
]


@pytest.mark.parametrize("call, error, pattern", BAD)
def test_bad_input_is_refused_before_any_work(monkeypatch, call, error, pattern):
    def tripwire(*args):
        raise AssertionError("a permutation was built before the checks ended")

    monkeypatch.setattr(layouts, "_index", tripwire)
    with pytest.raises(error, match=pattern):
        call()


# -- inputs are left alone, outputs are new ----------------------------


@pytest.mark.parametrize(
    "make", [
        lambda a: a,
        lambda a: a.astype(np.float32),
        lambda a: np.round(a * 8).astype(np.int64),
        lambda a: np.asfortranarray(a),
        lambda a: np.repeat(a, 2, axis=0)[::2],
    ],
    ids=["float64", "float32", "int64", "fortran", "strided"],
)
def test_inputs_are_not_modified_and_outputs_are_new_float64(make):
    widths = (2, 3, 1, 2)
    P = n_params(widths)
    rng = np.random.default_rng(7)
    x = make(rng.standard_normal(P))
    V = make(rng.standard_normal((P, 2)))
    H = make(rng.standard_normal((P, P)))
    layers = [(make(rng.standard_normal((o, i))), make(rng.standard_normal(o)))
              for i, o in itertools.pairwise(widths)]
    arrays = [x, V, H, *(a for pair in layers for a in pair)]
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    target = FLAX_RAVEL_PYTREE
    results = [
        convert(x, widths, HESSIAN_REF, target),
        convert(V, widths, HESSIAN_REF, target),
        convert_matrix(H, widths, HESSIAN_REF, target),
        from_layers(layers, widths, target),
        *(a for pair in to_layers(x, widths, target) for a in pair),
    ]
    for result in results:
        assert result.dtype == np.float64
        assert result.flags.writeable
        for a in arrays:
            assert not np.shares_memory(result, a)
    for a, copy in zip(arrays, copies):
        assert a.dtype == copy.dtype
        np.testing.assert_array_equal(a, copy)
    # the values are those of the float64 input
    np.testing.assert_array_equal(
        results[0], convert(x.astype(float), widths, HESSIAN_REF, target)
    )
    # results of one call share no memory with one another
    W, c = to_layers(x, widths, target)[0]
    assert not np.shares_memory(W, c)


def test_permutation_is_new_on_every_call():
    first = permutation((2, 3), HESSIAN_REF, FLAX_RAVEL_PYTREE)
    first[:] = 0
    assert permutation((2, 3), HESSIAN_REF, FLAX_RAVEL_PYTREE).tolist() == (
        ONE_LAYER[FLAX_RAVEL_PYTREE]
    )


def test_lists_and_numpy_int_widths_are_accepted():
    widths = [np.int64(2), np.int32(3)]
    assert permutation(widths, HESSIAN_REF, FLAX_RAVEL_PYTREE).tolist() == (
        ONE_LAYER[FLAX_RAVEL_PYTREE]
    )
    assert convert(list(range(9)), widths, HESSIAN_REF, FLAX_RAVEL_PYTREE).tolist() == (
        ONE_LAYER[FLAX_RAVEL_PYTREE]
    )
