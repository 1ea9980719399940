"""A multilayer perceptron as a chain of layers on a batch.

The flat parameter layout (paper/derivation.md section 8), stated once here:
``theta`` is the concatenation over layers ``l = 1..L`` (index ``l - 1`` in
code) of each layer's ``x_l``; inside a layer, the weights ``W_l``
(``out x in``) row-major, then the bias ``c_l``. The batch is sample-major:
``z_l`` is ``Z_l.ravel()`` for ``Z_l`` of shape ``(B, h_l)``. The loss is the
mean over the batch unless the network was built with ``reduction="sum"``.

Hidden layers are :class:`~hessian_ref.layers.Dense`; the last layer is a
loss head that fuses its affine map with the loss, so ``z_L`` is the scalar
loss and ``a_L = 1``.
"""

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import as_array, check_finite, check_real_array
from .activations import Activation, get_activation
from .layers import LOSSES, Dense

__all__ = ["MLP", "LayerBlocks", "Linearization", "check_network"]


@dataclass(frozen=True)
class LayerBlocks:
    """The derivative blocks of one layer at one point (derivation.md section 2).

    Attributes
    ----------
    J : (a_l, p_l) ndarray
        Parameter Jacobian.
    G : (a_l, a_{l-1}) ndarray
        Input Jacobian.
    Q : (p_l, p_l) ndarray
    R : (p_l, a_{l-1}) ndarray
    S : (a_{l-1}, a_{l-1}) ndarray
        Second derivatives of ``b_l . f_l`` with respect to ``(x, x)``,
        ``(x, z)`` and ``(z, z)``.
    b : (a_l,) ndarray
        Backward row vector ``d z_L / d z_l``.
    """

    J: np.ndarray
    G: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    S: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class Linearization:
    """Everything first and second order about one network at one batch.

    Attributes
    ----------
    loss : float
    gradient : (P,) ndarray
    layers : tuple of LayerBlocks
        One per layer, ``l = 1..L`` at index ``l - 1``.
    p : tuple of int
        Parameter counts ``p_l``.
    a : tuple of int
        State sizes ``a_0, a_1, ..., a_L`` (``a_L = 1``), so ``a[l]`` is the
        size of ``z_l``.
    batch : int
        The number of samples ``B`` (``a_l = B h_l`` for ``l < L``).
    """

    loss: float
    gradient: np.ndarray
    layers: tuple
    p: tuple
    a: tuple
    batch: int


def _check_widths(widths):
    """`widths` as a tuple of at least two positive ints."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Iterable):
        raise TypeError(
            f"widths: expected a sequence of positive ints, got {widths!r}"
        )
    widths = tuple(widths)
    if len(widths) < 2:
        raise ValueError(
            f"widths: expected at least 2 entries (input and output), got {widths!r}"
        )
    for value in widths:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"widths: expected positive ints, got {widths!r}")
        if value < 1:
            raise ValueError(f"widths: expected positive ints, got {widths!r}")
    return widths


def _check_overflow(value, l):
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(
            f"theta, X: the forward pass overflowed at layer {l + 1} (non-finite "
            f"values from finite inputs); weights or inputs are too large"
        )


def _describe_sequence(value):
    """A short description of `value` for a message: its type and length."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape}"
    if isinstance(value, Sequence):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def check_network(net):
    """Raise TypeError unless `net` is an :class:`MLP`."""
    if not isinstance(net, MLP):
        raise TypeError(f"net: expected an MLP, got {type(net).__name__}")


class MLP:
    """A multilayer perceptron with a fused loss head.

    Parameters
    ----------
    widths : sequence of int
        ``(h_0, h_1, ..., h_L)``: input width, hidden widths, and the output
        width of the head (number of classes, or of regression targets).
        ``len(widths) - 1`` is the depth ``L``; ``L = 1`` is a single head
        (softmax or linear regression).
    activation : str or sequence of str
        Activation of the hidden layers: one name for all of them, or one
        per hidden layer (``L - 1`` names). See
        :data:`hessian_ref.activations.ACTIVATIONS`.
    loss : {"cross_entropy", "squared_error"}
        Softmax cross-entropy with integer labels, or squared error
        ``(1 / 2) ||U - t||^2`` with targets of shape ``(B, h_L)``.
    reduction : {"mean", "sum"}
        Average the per-sample losses over the batch (the default), or add
        them up. With ``"sum"`` the Hessian is ``B`` times the mean one, so
        ``(H_sum + B eps I)^{-1} v = (H_mean + eps I)^{-1} v / B``.

    Raises
    ------
    ValueError, TypeError
        On widths that are not positive ints, an unknown activation or loss,
        or a wrong number of activations.
    """

    def __init__(self, widths, activation="tanh", loss="cross_entropy",
                 reduction="mean"):
        widths = _check_widths(widths)
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss: expected one of {sorted(LOSSES)}, got {loss!r}")
        n_hidden = len(widths) - 2
        if isinstance(activation, (str, Activation)):
            get_activation(activation)  # an unknown name fails even at depth 1
            activations = (activation,) * n_hidden
        elif isinstance(activation, Sequence):
            activations = tuple(activation)
            if len(activations) != n_hidden:
                raise ValueError(
                    f"activation: expected one name or {n_hidden} names (one per "
                    f"hidden layer), got {len(activations)}"
                )
        else:
            raise TypeError(
                f"activation: expected a name or a sequence of {n_hidden} names, "
                f"got {activation!r}"
            )

        hidden = [
            Dense(widths[l], widths[l + 1], activations[l]) for l in range(n_hidden)
        ]
        head = LOSSES[loss](widths[-2], widths[-1], reduction)
        self.widths = tuple(int(h) for h in widths)
        self.activations = tuple(layer.activation.name for layer in hidden)
        self.loss_name = loss
        self.reduction = head.reduction
        self.layers = (*hidden, head)
        self.p = tuple(layer.n_params for layer in self.layers)
        self.offsets = tuple(np.concatenate([[0], np.cumsum(self.p)]).tolist())
        self.n_params = self.offsets[-1]

    def __repr__(self):
        return (
            f"MLP(widths={self.widths}, activation={self.activations}, "
            f"loss={self.loss_name!r}, reduction={self.reduction!r})"
        )

    @property
    def depth(self):
        """Number of layers ``L``, the head included."""
        return len(self.layers)

    def state_sizes(self, batch):
        """``(a_0, ..., a_L)`` for a batch of `batch` samples; ``a_L = 1``."""
        return tuple(batch * h for h in self.widths[:-1]) + (1,)

    # -- parameters -----------------------------------------------------

    def split(self, theta):
        """Per-layer parts ``x_1 .. x_L`` of `theta` (new arrays; `theta` is
        validated and converted to float64 first, never written to)."""
        theta = self.check_params(theta)
        return [theta[s:e] for s, e in zip(self.offsets[:-1], self.offsets[1:])]

    def unpack(self, theta):
        """Per-layer ``(W_l, c_l)`` of `theta`, as new arrays."""
        return [layer.unpack(x) for layer, x in zip(self.layers, self.split(theta))]

    def pack(self, weights, biases):
        """The flat ``theta`` of per-layer weights ``(out, in)`` and biases."""
        for name, value in (("weights", weights), ("biases", biases)):
            if not isinstance(value, Sequence) or len(value) != self.depth:
                raise ValueError(
                    f"{name}: expected a sequence of {self.depth} arrays (one per "
                    f"layer), got {_describe_sequence(value)}"
                )
        return np.concatenate([
            layer.pack(W, c, name=f"weights[{l}], biases[{l}]")
            for l, (layer, W, c) in enumerate(zip(self.layers, weights, biases))
        ])

    def init(self, seed=0, gain=1.0, bias_scale=0.1):
        """Seeded parameters whose signals and curvature survive the depth.

        Weights are (semi-)orthogonal, scaled by `gain` (``1`` is the critical
        gain of tanh; derivation.md section 10 explains why a careless scale makes
        ``H`` vanish with depth); biases are normal with standard deviation
        `bias_scale`.

        Returns
        -------
        theta : (P,) ndarray

        Raises
        ------
        ValueError, TypeError
            If `seed` is not a non-negative int (or None), or `gain` or
            `bias_scale` is not a finite real number (``gain > 0``,
            ``bias_scale >= 0``).
        """
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
            or seed < 0
        ):
            raise ValueError(f"seed: expected an int >= 0 or None, got {seed!r}")
        for name, value, low in (("gain", gain, 0.0), ("bias_scale", bias_scale, None)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name}: expected a real number, got {value!r}")
            if not np.isfinite(value) or value < 0 or value == low:
                bound = "> 0" if low is not None else ">= 0"
                raise ValueError(
                    f"{name}: expected a finite number {bound}, got {value!r}"
                )
        rng = np.random.default_rng(seed)
        weights, biases = [], []
        for layer in self.layers:
            o, i = layer.n_out, layer.n_in
            A = rng.standard_normal((max(o, i), min(o, i)))
            Qm, Rm = np.linalg.qr(A)
            Qm *= np.sign(np.diag(Rm))  # a uniformly distributed orthogonal factor
            W = Qm if o >= i else Qm.T
            weights.append(gain * W)
            biases.append(bias_scale * rng.standard_normal(o))
        return self.pack(weights, biases)

    # -- validation -----------------------------------------------------

    def check_params(self, theta):
        """`theta` as a float array of shape ``(P,)``, checked finite."""
        theta = check_real_array("theta", theta)
        if theta.shape != (self.n_params,):
            raise ValueError(
                f"theta: expected the flat parameters of shape ({self.n_params},), "
                f"got {theta.shape}"
            )
        check_finite("theta", theta)
        return theta

    def check_batch(self, X, targets):
        """`X` as a ``(B, h_0)`` float array and validated `targets`."""
        X = self.check_input(X)
        targets = self.layers[-1].check_targets(targets, X.shape[0])
        return X, targets

    def check_input(self, X):
        """`X` as a finite ``(B, h_0)`` float64 array with ``B >= 1``."""
        X = as_array("X", X)
        if X.ndim != 2 or X.shape[1] != self.widths[0] or X.shape[0] < 1:
            raise ValueError(
                f"X: expected a batch of shape (B, {self.widths[0]}) with B >= 1, "
                f"got {X.shape}"
            )
        X = check_real_array("X", X)
        check_finite("X", X)
        return X

    # -- passes ---------------------------------------------------------

    def _inputs(self, xs, X):
        """Layer inputs ``Z_0 .. Z_{L-1}`` by the forward pass."""
        Zs = [X]
        for l, (layer, x) in enumerate(zip(self.layers[:-1], xs[:-1])):
            with np.errstate(over="ignore", invalid="ignore"):
                Zs.append(layer.forward(x, Zs[-1]))
            _check_overflow(Zs[-1], l)
        return Zs

    def _head_value(self, xs, Zs, targets):
        with np.errstate(over="ignore", invalid="ignore"):
            loss = self.layers[-1].forward(xs[-1], Zs[-1], targets)
        _check_overflow(loss, self.depth - 1)
        return loss

    def loss(self, theta, X, targets):
        """The loss of the batch (mean or sum over samples, see `reduction`)."""
        xs = self.split(theta)
        X, targets = self.check_batch(X, targets)
        return self._head_value(xs, self._inputs(xs, X), targets)

    def activations_of(self, theta, X):
        """Hidden activations ``Z_1 .. Z_{L-1}`` (each ``(B, h_l)``) for input `X`."""
        xs = self.split(theta)
        return self._inputs(xs, self.check_input(X))[1:]

    def gradient(self, theta, X, targets):
        """Gradient of the loss by one backward pass (claim C1).

        ``b_L = 1``, ``b_{l-1} = b_l G_l``, ``g_l = b_l J_l``; the products
        with the hidden layers' ``J_l`` and ``G_l`` are taken without forming
        them.

        Returns
        -------
        g : (P,) ndarray
        """
        xs = self.split(theta)
        X, targets = self.check_batch(X, targets)
        Zs = self._inputs(xs, X)
        J, G = self.layers[-1].jacobians(xs[-1], Zs[-1], targets)
        grads = [J[0]]
        b = G[0]
        for l in range(self.depth - 2, -1, -1):
            g_l, b = self.layers[l].vjp(xs[l], Zs[l], b)
            grads.insert(0, g_l)
        return np.concatenate(grads)

    def _backward(self, theta, X, targets):
        """Forward pass, then every ``J_l``, ``G_l`` and ``b_l`` going back."""
        xs = self.split(theta)
        X, targets = self.check_batch(X, targets)
        Zs = self._inputs(xs, X)
        L = self.depth

        jacobians = [None] * L
        jacobians[-1] = self.layers[-1].jacobians(xs[-1], Zs[-1], targets)
        bs = [None] * L
        bs[-1] = np.ones(1)
        for l in range(L - 2, -1, -1):
            # derivation.md section 1: b_{l-1} = b_l G_l, with G of the layer above
            bs[l] = bs[l + 1] @ jacobians[l + 1][1]
            jacobians[l] = self.layers[l].jacobians(xs[l], Zs[l])
        grad = np.concatenate([b @ J for b, (J, _) in zip(bs, jacobians)])
        return grad, xs, Zs, bs, jacobians, targets

    def linearize(self, theta, X, targets):
        """Loss, gradient and every layer's blocks ``J, G, Q, R, S``.

        Parameters
        ----------
        theta : (P,) ndarray
        X : (B, h_0) ndarray
        targets : (B,) int ndarray or (B, h_L) ndarray

        Returns
        -------
        Linearization
        """
        grad, xs, Zs, bs, jacobians, targets = self._backward(theta, X, targets)
        layers = []
        for l, layer in enumerate(self.layers):
            J, G = jacobians[l]
            # the head's backward vector is b_L = 1; it takes the targets instead
            extra = targets if layer.is_head else bs[l]
            Q, R, S = layer.curvature(xs[l], Zs[l], extra)
            layers.append(LayerBlocks(J=J, G=G, Q=Q, R=R, S=S, b=bs[l]))
        return Linearization(
            loss=self._head_value(xs, Zs, targets),
            gradient=grad,
            layers=tuple(layers),
            p=self.p,
            a=self.state_sizes(Zs[0].shape[0]),
            batch=Zs[0].shape[0],
        )
