"""Dense layers and fused loss heads, with every derivative derived by hand.

Conventions (paper/derivation.md sections 1, 2 and 8), stated once here:

* A layer maps a batch ``Z`` of shape ``(B, i)`` to ``(B, o)``; as a vector,
  ``z`` is the row-major (sample-major) flattening, so entry ``(n, k)`` sits
  at ``n * o + k``.
* A layer's parameter vector ``x`` holds the weights ``W`` (``o x i``)
  row-major, then the bias ``c`` (``o``): ``W[k, j]`` sits at ``k * i + j``
  and ``c[k]`` at ``o * i + k``. ``p = o * i + o``.
* Every layer is an affine map ``U = Z W^T + 1 c^T`` followed by a function
  of ``U``: an elementwise activation for :class:`Dense`, a scalar loss for
  the heads :class:`SoftmaxCrossEntropy` and :class:`MeanSquaredError`.

For the curvature, derivation.md section 2 looks at the scalar
``phi(z, x) = b . f(z; x)`` with the backward row vector ``b`` held fixed
(``b = 1`` for a head). All three blocks ``Q``, ``R``, ``S`` follow from two
quantities of ``phi`` as a function of ``U``: its gradient ``Delta``
(``B x o``) and its per-sample Hessian ``Lambda`` (``B x o x o``; ``phi`` is a
sum over samples, so there is no coupling between samples). For a dense
layer ``Delta = beta * sigma'(U)`` and ``Lambda_n = diag(beta_n *
sigma''(U_n))``; for a head they are the derivatives of the loss.
"""

import numpy as np

from ._checks import as_array, check_finite, check_real_array
from .activations import get_activation

__all__ = ["LOSSES", "REDUCTIONS", "Dense", "MeanSquaredError", "SoftmaxCrossEntropy"]


def _block_diagonal(blocks):
    """Stack ``(B, r, c)`` blocks into the ``(B r, B c)`` block-diagonal matrix."""
    B, r, c = blocks.shape
    eye = np.eye(B)
    return np.einsum("nm,nrc->nrmc", eye, blocks).reshape(B * r, B * c)


class _Affine:
    """What every layer shares: the affine map, its layout and curvature."""

    def __init__(self, n_in, n_out):
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name}: expected a positive int, got {value!r}")
            if value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value}")
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.n_params = self.n_out * self.n_in + self.n_out

    def unpack(self, x):
        """Views ``W`` (``(o, i)``) and ``c`` (``(o,)``) of the parameters `x`."""
        x = self._check_params(x)
        o, i = self.n_out, self.n_in
        return x[: o * i].reshape(o, i), x[o * i :]

    def pack(self, W, c, name="W, c"):
        """The flat parameter vector of weights `W` and bias `c`."""
        W = check_real_array(name, W)
        c = check_real_array(name, c)
        if W.shape != (self.n_out, self.n_in) or c.shape != (self.n_out,):
            raise ValueError(
                f"{name}: expected shapes {(self.n_out, self.n_in)} and "
                f"{(self.n_out,)}, got {W.shape} and {c.shape}"
            )
        check_finite(name, W)
        check_finite(name, c)
        return np.concatenate([W.ravel(), c])

    def _check_params(self, x):
        x = check_real_array("x", x)
        if x.shape != (self.n_params,):
            raise ValueError(
                f"x: expected the layer's parameters of shape ({self.n_params},), "
                f"got {x.shape}"
            )
        return x

    def _check_input(self, Z):
        Z = check_real_array("Z", Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_in:
            raise ValueError(
                f"Z: expected a batch of shape (B, {self.n_in}), got {Z.shape}"
            )
        return Z

    def _preactivation(self, x, Z):
        W, c = self.unpack(x)
        return Z @ W.T + c

    def _param_tangent(self, Z):
        """``T`` of shape ``(B, o, p)`` with ``T[n, k] = dU[n, k] / dx``."""
        B = Z.shape[0]
        o = self.n_out
        eye = np.eye(o)
        # U[n, k] = sum_j W[k, j] Z[n, j] + c[k]: row k of W sees Z[n], c[k] sees 1
        T_W = np.einsum("kq,nj->nkqj", eye, Z).reshape(B, o, o * self.n_in)
        T_c = np.broadcast_to(eye, (B, o, o))
        return np.concatenate([T_W, T_c], axis=2)

    def _weight_selector(self):
        """``E`` of shape ``(o, i, p)`` with ``E[k, j] = dW[k, j] / dx``."""
        o, i = self.n_out, self.n_in
        E_W = np.eye(o * i).reshape(o, i, o * i)
        return np.concatenate([E_W, np.zeros((o, i, o))], axis=2)

    def _curvature(self, x, Z, Delta, Lam):
        """``Q, R, S`` of ``phi`` from its ``U``-gradient and ``U``-Hessian."""
        W, _ = self.unpack(x)
        B = Z.shape[0]
        p = self.n_params
        T = self._param_tangent(Z)

        # Q = sum_n T_n^T Lambda_n T_n: U is linear in x, so only Lambda enters
        LT = np.einsum("nkl,nlq->nkq", Lam, T)
        Q = T.reshape(-1, p).T @ LT.reshape(-1, p)

        # S_n = W^T Lambda_n W: block diagonal over samples
        LW = Lam @ W
        S = _block_diagonal(np.einsum("kj,nkl->njl", W, LW))

        # R[x_p, z_(m, j)] = sum_kl T[m,k,p] Lambda_m[k,l] W[l,j]
        #                    + sum_k Delta[m,k] dW[k,j]/dx_p  (from Z W^T itself)
        R = np.einsum("mkp,mkj->pmj", T, LW)
        R += np.einsum("mk,kjp->pmj", Delta, self._weight_selector())
        return Q, R.reshape(p, B * self.n_in), S


class Dense(_Affine):
    """A dense layer ``f(Z; x) = sigma(Z W^T + 1 c^T)``.

    Parameters
    ----------
    n_in, n_out : int
        Input width ``i`` and output width ``o``.
    activation : str
        One of ``"tanh"``, ``"sigmoid"``, ``"softplus"``, ``"identity"``.
    """

    is_head = False

    def __init__(self, n_in, n_out, activation="tanh"):
        super().__init__(n_in, n_out)
        self.activation = get_activation(activation)

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, {self.activation.name!r})"

    def forward(self, x, Z):
        """Output ``sigma(U)`` of shape ``(B, o)`` for input `Z` ``(B, i)``."""
        Z = self._check_input(Z)
        return self.activation.value(self._preactivation(x, Z))

    def jacobians(self, x, Z):
        """Parameter and input Jacobians of the flattened output.

        Returns
        -------
        J : (B o, p) ndarray
            ``d f / d x``.
        G : (B o, B i) ndarray
            ``d f / d z``, block diagonal over samples,
            ``G_n = diag(sigma'(U_n)) W``.
        """
        Z = self._check_input(Z)
        W, _ = self.unpack(x)
        B = Z.shape[0]
        d1 = self.activation.d1(self._preactivation(x, Z))

        J = (d1[:, :, None] * self._param_tangent(Z)).reshape(B * self.n_out, -1)
        G = _block_diagonal(d1[:, :, None] * W)
        return J, G

    def vjp(self, x, Z, b):
        """The products ``b J`` and ``b G`` without forming ``J`` or ``G``.

        Parameters
        ----------
        x : (p,) ndarray
        Z : (B, i) ndarray
        b : (B o,) ndarray

        Returns
        -------
        bJ : (p,) ndarray
        bG : (B i,) ndarray
        """
        Z = self._check_input(Z)
        W, _ = self.unpack(x)
        Delta = b.reshape(Z.shape[0], self.n_out) * self.activation.d1(
            self._preactivation(x, Z)
        )
        # dU/dW[k, j] = Z[:, j] in row k, dU/dc[k] = 1, dU/dZ = W
        bJ = np.concatenate([(Delta.T @ Z).ravel(), Delta.sum(axis=0)])
        return bJ, (Delta @ W).ravel()

    def curvature(self, x, Z, b):
        """Second derivatives of ``phi = b . f(z; x)`` with `b` held fixed.

        Parameters
        ----------
        x : (p,) ndarray
        Z : (B, i) ndarray
        b : (B o,) ndarray
            Backward row vector ``d z_L / d z_l`` of this layer's output.

        Returns
        -------
        Q : (p, p) ndarray
        R : (p, B i) ndarray
        S : (B i, B i) ndarray
        """
        Z = self._check_input(Z)
        B, o = Z.shape[0], self.n_out
        b = np.asarray(b, dtype=float)
        if b.shape != (B * o,):
            raise ValueError(f"b: expected shape ({B * o},), got {b.shape}")
        U = self._preactivation(x, Z)
        beta = b.reshape(B, o)

        Delta = beta * self.activation.d1(U)
        Gamma = beta * self.activation.d2(U)
        Lam = Gamma[:, :, None] * np.eye(o)
        return self._curvature(x, Z, Delta, Lam)


REDUCTIONS = ("mean", "sum")


class _Head(_Affine):
    """A final layer: the affine map fused with a loss over the batch.

    `reduction` is ``"mean"`` (the default: the loss is averaged over the
    batch, so every derivative carries a factor ``1 / B``) or ``"sum"``.
    Subclasses give the per-sample losses and their ``U``-derivatives.
    """

    is_head = True

    def __init__(self, n_in, n_out, reduction="mean"):
        super().__init__(n_in, n_out)
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ValueError(
                f"reduction: expected one of {REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def _weight(self, batch):
        return 1.0 / batch if self.reduction == "mean" else 1.0

    def _loss(self, U, targets):
        return float(self._weight(U.shape[0]) * np.sum(self._sample_losses(U, targets)))

    def _loss_derivatives(self, U, targets):
        w = self._weight(U.shape[0])
        Delta, Lam = self._sample_derivatives(U, targets)
        return w * Delta, w * Lam

    def forward(self, x, Z, targets):
        """The scalar loss of the batch `Z` ``(B, i)``."""
        Z = self._check_input(Z)
        targets = self.check_targets(targets, Z.shape[0])
        return self._loss(self._preactivation(x, Z), targets)

    def jacobians(self, x, Z, targets):
        """Gradients of the loss as ``1``-row Jacobians.

        Returns
        -------
        J : (1, p) ndarray
            ``d loss / d x``.
        G : (1, B i) ndarray
            ``d loss / d z``, the flattening of ``Delta W``.
        """
        Z = self._check_input(Z)
        targets = self.check_targets(targets, Z.shape[0])
        W, _ = self.unpack(x)
        Delta, _ = self._loss_derivatives(self._preactivation(x, Z), targets)

        J = np.einsum("nk,nkp->p", Delta, self._param_tangent(Z))[None, :]
        G = (Delta @ W).reshape(1, -1)
        return J, G

    def curvature(self, x, Z, targets):
        """``Q``, ``R``, ``S`` of the loss (``b_L = 1``), shaped as for `Dense`."""
        Z = self._check_input(Z)
        targets = self.check_targets(targets, Z.shape[0])
        Delta, Lam = self._loss_derivatives(self._preactivation(x, Z), targets)
        return self._curvature(x, Z, Delta, Lam)


def _softmax_parts(U):
    """For each row of `U`: ``E = exp(U - max)``, its sum ``s`` and
    ``others[i] = sum_{j != i} E_j``, each summed directly, so that
    ``1 - p_i = others_i / s`` keeps its relative accuracy even when ``p_i``
    is within rounding of 1 (a saturated softmax)."""
    E = np.exp(U - U.max(axis=1, keepdims=True))
    others = E @ (1.0 - np.eye(U.shape[1]))
    return E, E.sum(axis=1, keepdims=True), others


def _float_label_detail(y):
    """The end of the message on labels `y` of a non-integer dtype.

    For float labels: the first one that is not a whole number or, if all of
    them are, how to pass them; empty for any other dtype.
    """
    if y.dtype.kind != "f" or y.size == 0:
        return ""
    whole = np.isfinite(y) & (y == np.round(y))
    if not np.all(whole):
        index = int(np.flatnonzero(~whole)[0])
        return f" ({y[index]} at index {index} is not a whole number)"
    return " holding whole numbers; pass them as targets.astype(int)"


class SoftmaxCrossEntropy(_Head):
    """Affine map to ``o`` logits, then the softmax cross-entropy.

    ``loss = (1/B) sum_n (logsumexp(U_n) - U_n[y_n])`` (without ``1/B`` for
    ``reduction="sum"``). Targets are integer class labels of shape ``(B,)``
    in ``0 .. o-1``.
    """

    def __repr__(self):
        return (f"SoftmaxCrossEntropy({self.n_in}, {self.n_out}, "
                f"reduction={self.reduction!r})")

    def check_targets(self, targets, batch):
        """Validated labels as an int array of shape ``(batch,)``."""
        y = as_array("targets", targets)
        if y.shape != (batch,):
            raise ValueError(
                f"targets: expected class labels of shape ({batch},), got {y.shape}"
            )
        if y.dtype.kind not in "iu":
            raise TypeError(
                f"targets: expected integer class labels, got dtype "
                f"{y.dtype}{_float_label_detail(y)}"
            )
        if batch and (y.min() < 0 or y.max() >= self.n_out):
            index = int(np.flatnonzero((y < 0) | (y >= self.n_out))[0])
            raise ValueError(
                f"targets: expected labels in 0..{self.n_out - 1}, got "
                f"{y[index]} at index {index}"
            )
        return y

    def _sample_losses(self, U, y):
        # -log p_y = log(s / E_y): as log1p(others_y / E_y) when p_y >= 1/2,
        # which keeps the relative accuracy of a loss near 0, and as
        # log(s) + max - U_y otherwise (then the loss is at least log 2)
        rows = np.arange(U.shape[0])
        E, s, others = _softmax_parts(U)
        E_y, others_y = E[rows, y], others[rows, y]
        confident = E_y >= others_y
        ratio = np.divide(others_y, E_y, out=np.zeros_like(E_y), where=confident)
        spread = np.log(s[:, 0]) + U.max(axis=1) - U[rows, y]
        return np.where(confident, np.log1p(ratio), spread)

    def _sample_derivatives(self, U, y):
        # Delta = p - e_y and Lam = diag(p) - p p^T, with 1 - p_y and
        # p_i (1 - p_i) formed from the sums of the other probabilities
        B, o = U.shape
        E, s, others = _softmax_parts(U)
        P, complement = E / s, others / s
        Delta = P.copy()
        Delta[np.arange(B), y] = -complement[np.arange(B), y]
        Lam = -P[:, :, None] * P[:, None, :]
        diagonal = np.arange(o)
        Lam[:, diagonal, diagonal] = P * complement
        return Delta, Lam


class MeanSquaredError(_Head):
    """Affine map to ``o`` outputs, then ``(1 / 2B) sum_n ||U_n - t_n||^2``
    (``1 / 2`` for ``reduction="sum"``).

    Targets are real arrays of shape ``(B, o)``.
    """

    def __repr__(self):
        return (f"MeanSquaredError({self.n_in}, {self.n_out}, "
                f"reduction={self.reduction!r})")

    def check_targets(self, targets, batch):
        """Validated targets as a float array of shape ``(batch, o)``."""
        t = check_real_array("targets", targets)
        if t.shape != (batch, self.n_out):
            raise ValueError(
                f"targets: expected regression targets of shape "
                f"({batch}, {self.n_out}), got {t.shape}"
            )
        check_finite("targets", t)
        return t

    def _sample_losses(self, U, t):
        return 0.5 * np.sum((U - t) ** 2, axis=1)

    def _sample_derivatives(self, U, t):
        B, o = U.shape
        return U - t, np.broadcast_to(np.eye(o), (B, o, o))


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "squared_error": MeanSquaredError}
