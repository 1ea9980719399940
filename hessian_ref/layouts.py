"""Flat parameter layouts: hessian_ref's, and those of other implementations.

hessian_ref flattens the parameters of a network of widths ``h_0, ..., h_L``
(derivation.md section 8, :mod:`hessian_ref.network`) layer by layer, from
the input layer to the head; inside layer ``l`` come first the weights
``W_l`` of shape ``(out, in) = (h_l, h_{l-1})``, flattened row-major, then
the bias ``c_l`` of length ``h_l``. Other implementations that concatenate
their per-layer parameters into one vector differ from this in three
independent ways, which are the three fields of :class:`Layout`:

* ``weights``: the stored matrix is ``W_l`` itself, ``(out, in)`` as in
  PyTorch's ``nn.Linear.weight`` (``"out_in"``), or its transpose, ``(in,
  out)`` as in Flax's ``kernel`` and Haiku's ``w`` (``"in_out"``);
* ``bias``: the bias follows the weights (``"last"``) or precedes them
  (``"first"``);
* ``order``: the stored matrix is flattened row-major (``"C"``, last index
  fastest, NumPy's and PyTorch's default) or column-major (``"F"``, first
  index fastest, as Julia arrays and Eigen's default matrices are stored).

Layers are always concatenated from the input layer to the head, and every
layer has a bias. Two combinations name the same vector: an ``(out, in)``
matrix read column by column visits its entries in the same order as its
``(in, out)`` transpose read row by row, so ``Layout("out_in", b, "F")`` and
``Layout("in_out", b, "C")`` are the same layout, as are
``Layout("out_in", b, "C")`` and ``Layout("in_out", b, "F")``, for either
``b``. The eight layouts therefore give four different vectors (fewer when a
layer has width 1, where row- and column-major coincide).

Everything that is indexed by the parameters converts the same way: the
parameters ``theta``, a gradient, a Hessian-vector product ``H v`` or
``(H + eps I)^{-1} v`` (:func:`convert`, one vector or a stack of columns),
and the Hessian itself, whose rows and columns are both parameter indices
(:func:`convert_matrix`). A conversion is a permutation, so it is exact:
no arithmetic is done on the values.

Worked example: one layer of widths ``(2, 3)``, so ``W`` is ``3 x 2``, ``c``
has 3 entries and ``P = 9``; ``Wkj`` is ``W[k, j]`` (output ``k``, input
``j``; a Flax kernel ``K = W.T`` has ``K[j, k] = W[k, j]``). The parameter at
each position of the vector in four of the layouts::

    layout (weights, bias, order)      positions 0 .. 8
    out_in, last,  C  (hessian_ref)    W00 W01 W10 W11 W20 W21 c0  c1  c2
    out_in, last,  F                   W00 W10 W20 W01 W11 W21 c0  c1  c2
    in_out, last,  C                   W00 W10 W20 W01 W11 W21 c0  c1  c2
    in_out, first, C  (Flax)           c0  c1  c2  W00 W10 W20 W01 W11 W21

``perm = permutation((2, 3), HESSIAN_REF, layout)`` lists, for each position
in ``layout``, the hessian_ref position of the parameter found there, so
that ``x_layout = x_hessian_ref[perm]``: the rows above give
``[0, 1, 2, 3, 4, 5, 6, 7, 8]``, ``[0, 2, 4, 1, 3, 5, 6, 7, 8]`` (twice) and
``[6, 7, 8, 0, 2, 4, 1, 3, 5]``. Between two other layouts, ``x_target =
x_source[permutation((2, 3), source, target)]``; from the Flax layout to
hessian_ref's, for instance, the permutation is
``[3, 6, 4, 7, 5, 8, 0, 1, 2]``.
"""

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ._checks import as_array, check_finite, check_real_array
from .network import _check_widths

__all__ = [
    "FLAX_RAVEL_PYTREE",
    "HESSIAN_REF",
    "LAYOUTS",
    "TORCH_PARAMETERS_TO_VECTOR",
    "Layout",
    "convert",
    "convert_matrix",
    "from_layers",
    "permutation",
    "to_layers",
]

_WEIGHTS = ("out_in", "in_out")
_BIAS = ("last", "first")
_ORDER = ("C", "F")


@dataclass(frozen=True)
class Layout:
    """Where each parameter of each layer sits in a flat parameter vector.

    For every layer ``l = 1..L`` (inputs ``in = h_{l-1}``, outputs ``out =
    h_l``, weights ``W`` with ``W[k, j]`` the weight from input ``j`` to
    output ``k``, bias ``c``), the layer's ``out * in + out`` parameters
    occupy one contiguous segment of the vector, the segments following one
    another from the input layer to the head. Inside a segment:

    Parameters
    ----------
    weights : {"out_in", "in_out"}
        The matrix that is stored: ``"out_in"``, ``W`` itself, of shape
        ``(out, in)`` (PyTorch's ``nn.Linear.weight``, hessian_ref);
        ``"in_out"``, its transpose ``W.T``, of shape ``(in, out)`` (the
        ``kernel`` of Flax's ``nn.Dense``, the ``w`` of Haiku's
        ``hk.Linear``, with which a layer computes ``x @ K + c`` for
        ``K = W.T``).
    bias : {"last", "first"}
        ``"last"``: the flattened matrix, then the ``out`` entries of the
        bias. ``"first"``: the bias, then the flattened matrix.
    order : {"C", "F"}
        How the stored matrix (of the shape `weights` says) is flattened:
        ``"C"``, row-major, its last index varying fastest (entry ``[r, s]``
        of an ``n_r x n_s`` matrix at ``r * n_s + s``); ``"F"``,
        column-major, its first index varying fastest (at ``r + s * n_r``).
        The bias is a vector and is not affected.

    Notes
    -----
    ``Layout()`` is hessian_ref's own layout, :data:`HESSIAN_REF`. Layouts
    are compared field by field, so ``Layout("out_in", b, "F")`` and
    ``Layout("in_out", b, "C")`` compare unequal although they describe the
    same vector (see the module docstring); :func:`permutation` between them
    is the identity.

    Raises
    ------
    TypeError
        If a field is not a string.
    ValueError
        If a field is not one of its allowed values.
    """

    weights: str = "out_in"
    bias: str = "last"
    order: str = "C"

    def __post_init__(self):
        for name, allowed in (("weights", _WEIGHTS), ("bias", _BIAS),
                              ("order", _ORDER)):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(
                    f"{name}: expected one of {_quoted(allowed)}, got "
                    f"{type(value).__name__} {value!r}"
                )
            if value not in allowed:
                raise ValueError(
                    f"{name}: expected one of {_quoted(allowed)}, got {value!r}"
                )
            # a str subclass (e.g. numpy.str_) is stored as a plain str
            object.__setattr__(self, name, str(value))


def _quoted(values):
    return ", ".join(repr(value) for value in values)


#: hessian_ref's own layout (:mod:`hessian_ref.network`): per layer ``W``
#: ``(out, in)`` row-major, then the bias.
HESSIAN_REF = Layout("out_in", "last", "C")

#: The vector ``torch.nn.utils.parameters_to_vector(model.parameters())``
#: makes of a model whose only parameters are those of ``torch.nn.Linear``
#: layers with bias, such as an ``nn.Sequential`` of them and parameter-free
#: activations: ``parameters()`` yields each layer's ``weight`` (``(out,
#: in)``) before its ``bias``, and each tensor is flattened by ``view(-1)``,
#: which is row-major for the contiguous tensors ``nn.Linear`` creates. The
#: layers come in the order the submodules were registered: the layer order
#: for ``nn.Sequential``, but for a custom module the order of assignment in
#: its ``__init__``, which need not be the order of the forward pass. This
#: is the same layout as :data:`HESSIAN_REF`.
TORCH_PARAMETERS_TO_VECTOR = Layout("out_in", "last", "C")

#: The vector ``jax.flatten_util.ravel_pytree(params)`` makes of the
#: parameters (the ``"params"`` collection of ``model.init``) of a model
#: built of ``flax.linen.Dense`` layers with bias: each layer's
#: parameters are the dict ``{"kernel": (in, out) array, "bias": (out,)
#: array}``, JAX flattens a dict (and Flax's ``FrozenDict``) in the sorted
#: order of its keys, not in insertion order, so ``"bias"`` comes before
#: ``"kernel"``, and ``ravel_pytree`` ravels each array row-major.
#:
#: The same key sorting decides the order of the layers: ``{"Dense_0": ...,
#: "Dense_1": ...}`` flattens in the order of the sorted layer names, which
#: is the layer order only while those names sort that way. Flax's automatic
#: names (``Dense_0``, ``Dense_1``, ... or ``layers_0``, ...) do up to index
#: 9, but ``"Dense_10"`` sorts before ``"Dense_2"``, and explicitly named
#: layers sort by name. This layout describes the vector only when the
#: sorted names are in layer order; otherwise reorder the per-layer
#: segments first.
FLAX_RAVEL_PYTREE = Layout("in_out", "first", "C")

#: All eight layouts, hessian_ref's first.
LAYOUTS = tuple(
    Layout(weights, bias, order)
    for weights in _WEIGHTS for bias in _BIAS for order in _ORDER
)


# -- validation ---------------------------------------------------------


def _check_layout(name, layout):
    if not isinstance(layout, Layout):
        raise TypeError(
            f"{name}: expected a Layout, got {type(layout).__name__} {layout!r}"
        )


def _n_params(widths):
    return sum(o * i + o for i, o in pairwise(widths))


def _check_shape(name, value, shapes, what, widths):
    """`value` as a new finite float64 array whose shape is in `shapes`.

    `shapes` holds tuples whose entries are ints or None (any size).
    """
    array = as_array(name, value)
    fits = any(
        array.ndim == len(shape)
        and all(s is None or s == n for s, n in zip(shape, array.shape))
        for shape in shapes
    )
    if not fits:
        raise ValueError(
            f"{name}: expected {what} for widths {widths} (P = "
            f"{_n_params(widths)} parameters), got shape {array.shape}"
        )
    array = check_real_array(name, array)
    check_finite(name, array)
    return array


def _check_common(widths, layouts):
    """`widths` as a tuple of Python ints; each named layout a Layout."""
    widths = tuple(int(h) for h in _check_widths(widths))
    for name, layout in layouts:
        _check_layout(name, layout)
    return widths


# -- the permutations ---------------------------------------------------


def _index(widths, layout):
    """``idx`` with ``x_layout = x_hessian_ref[idx]`` (arguments checked)."""
    parts = []
    start = 0
    for n_in, n_out in pairwise(widths):
        W = start + np.arange(n_out * n_in).reshape(n_out, n_in)
        stored = W if layout.weights == "out_in" else W.T
        weights = stored.ravel(order=layout.order)
        bias = start + n_out * n_in + np.arange(n_out)
        parts.extend((bias, weights) if layout.bias == "first" else (weights, bias))
        start += n_out * n_in + n_out
    return np.concatenate(parts)


def _permutation(widths, source, target):
    source_index = _index(widths, source)
    inverse = np.empty_like(source_index)
    inverse[source_index] = np.arange(source_index.size)
    return inverse[_index(widths, target)]


def permutation(widths, source, target):
    """The index array that reorders a `source` vector into `target` layout.

    Parameters
    ----------
    widths : sequence of int
        ``(h_0, ..., h_L)``, as for :class:`~hessian_ref.network.MLP`.
    source, target : Layout

    Returns
    -------
    perm : (P,) int ndarray
        A permutation of ``0 .. P-1`` with ``x_target = x_source[perm]``:
        ``perm[q]`` is the position in the `source` vector of the parameter
        that `target` puts at position ``q``. The permutation matrix ``Pm``
        with ``Pm[q, perm[q]] = 1`` maps `source` vectors to `target` ones.
        A new array on every call.

    Raises
    ------
    TypeError, ValueError
        If `widths` is not a sequence of at least two positive ints, or
        `source` or `target` is not a :class:`Layout`.

    Examples
    --------
    >>> permutation((2, 3), HESSIAN_REF, FLAX_RAVEL_PYTREE).tolist()
    [6, 7, 8, 0, 2, 4, 1, 3, 5]
    """
    widths = _check_common(widths, (("source", source), ("target", target)))
    return _permutation(widths, source, target)


def convert(x, widths, source, target):
    """A vector, or a stack of vectors, indexed by the parameters, reordered.

    For anything whose entries follow the parameters: the parameters
    themselves, a gradient, ``H v``, ``(H + eps I)^{-1} v``.

    Parameters
    ----------
    x : (P,) or (P, k) array_like
        One vector in the `source` layout, or ``k`` of them as columns.
        Integers and float32 are accepted and converted to float64.
    widths : sequence of int
        ``(h_0, ..., h_L)``.
    source, target : Layout

    Returns
    -------
    (P,) or (P, k) ndarray
        A new float64 array, ``x[perm]`` for ``perm = permutation(widths,
        source, target)``: the same values, in the `target` layout. `x` is
        not written to.

    Raises
    ------
    TypeError, ValueError
        On bad `widths`, `source` or `target` (as :func:`permutation`), or if
        `x` is not of shape ``(P,)`` or ``(P, k)``, holds non-finite values,
        or is not an array of real numbers of at least single precision.
    """
    widths = _check_common(widths, (("source", source), ("target", target)))
    P = _n_params(widths)
    x = _check_shape("x", x, ((P,), (P, None)), f"shape ({P},) or ({P}, k)", widths)
    return x[_permutation(widths, source, target)]


def convert_matrix(H, widths, source, target):
    """A matrix indexed by the parameters on both sides (a Hessian), reordered.

    Parameters
    ----------
    H : (P, P) array_like
        Rows and columns in the `source` layout.
    widths : sequence of int
        ``(h_0, ..., h_L)``.
    source, target : Layout

    Returns
    -------
    (P, P) ndarray
        A new float64 array, ``H[perm][:, perm] = Pm H Pm^T`` for ``perm =
        permutation(widths, source, target)`` and its permutation matrix
        ``Pm``: rows and columns in the `target` layout, so that
        ``convert_matrix(H) @ convert(v)`` is ``convert(H @ v)`` (to
        rounding: the sums run in another order). `H` is not written to.

    Raises
    ------
    TypeError, ValueError
        On bad `widths`, `source` or `target`, or if `H` is not of shape
        ``(P, P)``, holds non-finite values, or is not an array of real
        numbers of at least single precision.
    """
    widths = _check_common(widths, (("source", source), ("target", target)))
    P = _n_params(widths)
    H = _check_shape("H", H, ((P, P),), f"shape ({P}, {P})", widths)
    perm = _permutation(widths, source, target)
    return H[np.ix_(perm, perm)]


# -- per-layer arrays ---------------------------------------------------


def to_layers(theta, widths, layout):
    """The weights and biases of each layer of a flat vector in `layout`.

    Parameters
    ----------
    theta : (P,) array_like
        Flat parameters (or a gradient, ...) in `layout`.
    widths : sequence of int
        ``(h_0, ..., h_L)``.
    layout : Layout

    Returns
    -------
    list of (W, c)
        One pair per layer, from the input layer to the head: ``W`` of shape
        ``(out, in)``, in hessian_ref's orientation whatever `layout`
        stores, and ``c`` of shape ``(out,)``. New float64 arrays, sharing
        no memory with `theta` or with one another.

    Raises
    ------
    TypeError, ValueError
        On bad `widths` or `layout`, or if `theta` is not of shape ``(P,)``,
        holds non-finite values, or is not an array of real numbers of at
        least single precision.
    """
    widths = _check_common(widths, (("layout", layout),))
    P = _n_params(widths)
    theta = _check_shape("theta", theta, ((P,),), f"shape ({P},)", widths)
    theta = theta[_permutation(widths, layout, HESSIAN_REF)]
    layers = []
    start = 0
    for n_in, n_out in pairwise(widths):
        middle = start + n_out * n_in
        W = theta[start:middle].reshape(n_out, n_in).copy()
        c = theta[middle:middle + n_out].copy()
        layers.append((W, c))
        start = middle + n_out
    return layers


def from_layers(layers, widths, layout):
    """The flat vector in `layout` of each layer's weights and bias.

    The inverse of :func:`to_layers`.

    Parameters
    ----------
    layers : sequence of (W, c)
        One pair per layer, from the input layer to the head: ``W`` of shape
        ``(out, in)`` (hessian_ref's orientation, whatever `layout` stores)
        and ``c`` of shape ``(out,)``.
    widths : sequence of int
        ``(h_0, ..., h_L)``.
    layout : Layout

    Returns
    -------
    (P,) ndarray
        A new float64 vector in `layout`. The arrays in `layers` are not
        written to.

    Raises
    ------
    TypeError, ValueError
        On bad `widths` or `layout`; if `layers` is not a sequence of ``L``
        pairs; or if an array is of the wrong shape, holds non-finite
        values, or is not an array of real numbers of at least single
        precision.
    """
    widths = _check_common(widths, (("layout", layout),))
    L = len(widths) - 1
    if not _is_sequence(layers) or len(layers) != L:
        raise ValueError(
            f"layers: expected a sequence of {L} (W, c) pairs (one per layer) for "
            f"widths {widths}, got {_describe(layers)}"
        )
    parts = []
    for l, ((n_in, n_out), pair) in enumerate(zip(pairwise(widths), layers)):
        if not _is_sequence(pair) or len(pair) != 2:
            raise ValueError(
                f"layers[{l}]: expected a (W, c) pair, got {_describe(pair)}"
            )
        W = _check_part(f"layers[{l}][0]", pair[0], (n_out, n_in), "W", widths)
        c = _check_part(f"layers[{l}][1]", pair[1], (n_out,), "c", widths)
        parts.extend((W.ravel(), c))
    return np.concatenate(parts)[_permutation(widths, HESSIAN_REF, layout)]


def _check_part(name, value, shape, what, widths):
    array = as_array(name, value)
    if array.shape != shape:
        raise ValueError(
            f"{name}: expected {what} of shape {shape} for widths {widths}, got "
            f"shape {array.shape}"
        )
    array = check_real_array(name, array)
    check_finite(name, array)
    return array


def _is_sequence(value):
    """True for a list, tuple or other sequence that is not a string."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _describe(value):
    """A short description of `value` for a message: its type and size."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape}"
    if _is_sequence(value):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, numbers.Number):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__
