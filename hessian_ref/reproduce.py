"""The main job: the whole structured path on Iris, checked against dense.

A tall-skinny tanh network is trained for a short, seeded run of gradient
descent on the full standardised Iris batch, so that its Hessian is the one
of a real training point, and every structured quantity is compared with its
dense counterpart. Nothing here prints; :mod:`hessian_ref.cli` does.
"""

import itertools
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import LinAlgWarning

from .augmented import solve_from_blocks
from .datasets import load_iris
from .dense import (
    autograd_gradient,
    autograd_hessian,
    autograd_loss,
    finite_difference_hvp,
    hessian_from_blocks,
)
from .hvp import hvp_from_blocks
from .network import MLP

__all__ = ["Check", "IrisRun", "cell", "check_iris", "checks_table",
           "layer_block_norms", "train_on_iris"]

MACHINE_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Check:
    """One comparison: what was measured, against which tolerance.

    ``kind`` says how `measured` is judged: ``"at most"`` `tolerance` (errors),
    ``"at least"`` `tolerance` (lower bounds), or ``"between"`` `lower` and
    `tolerance` (a fitted slope, say). A non-finite measurement fails.
    """

    quantity: str
    measured: float
    tolerance: float
    why: str
    kind: str = "at most"
    lower: float = None

    @property
    def passed(self):
        if not np.isfinite(self.measured):
            return False
        if self.kind == "at least":
            return bool(self.measured >= self.tolerance)
        if self.kind == "between":
            return bool(self.lower <= self.measured <= self.tolerance)
        return bool(self.measured <= self.tolerance)

    @property
    def bound(self):
        """The tolerance as text: ``<= 1e-10``, ``>= 1``, ``in [0.8, 1.25]``."""
        if self.kind == "at least":
            return f">= {self.tolerance:.1e}"
        if self.kind == "between":
            return f"in [{self.lower:g}, {self.tolerance:g}]"
        return f"<= {self.tolerance:.1e}"


@dataclass
class IrisRun:
    """What :func:`check_iris` measured; `lin` is the network's Linearization."""

    net: MLP
    theta: np.ndarray
    lin: object
    eps: float
    checks: list
    train_losses: list
    hessian_norm: float
    eigenvalue_range: tuple
    block_norms: list
    condition: float
    pivot_rcond: tuple
    timings: dict = field(default_factory=dict)


def train_on_iris(depth=16, width=4, steps=3000, lr=0.02, seed=0, progress=None):
    """A tall-skinny tanh MLP after seeded full-batch gradient descent on Iris.

    Parameters
    ----------
    depth : int
        Number of hidden layers, each `width` wide (plus the softmax head).
    width : int
    steps : int
        Gradient-descent steps on the mean cross-entropy.
    lr : float
        Step size. The default keeps the sharpness ``||H||_2`` (about 33)
        well below ``2 / lr``: at larger steps gradient descent runs at the
        edge of stability, where it is chaotic and a change in the last bit
        of one gradient leads to a different network.
    seed : int
        Seed of the orthogonal initialisation (gain 1, zero biases), which
        keeps signals and curvature alive through the depth.
    progress : callable, optional
        Called as ``progress(step, loss)`` after every step.

    Returns
    -------
    net : MLP
    theta : (P,) ndarray
    X : (150, 4) ndarray
    y : (150,) ndarray
    losses : list of float
    """
    X, y = load_iris()
    net = MLP((4,) + (width,) * depth + (3,), "tanh", "cross_entropy")
    theta = net.init(seed=seed, gain=1.0, bias_scale=0.0)
    losses = []
    for step in range(steps):
        losses.append(net.loss(theta, X, y))
        theta = theta - lr * net.gradient(theta, X, y)
        if progress is not None:
            progress(step, losses[-1])
    losses.append(net.loss(theta, X, y))
    return net, theta, X, y, losses


def layer_block_norms(H, p):
    """Spectral norms of the diagonal blocks ``H_ll`` of `H` (sizes `p`)."""
    at = np.concatenate([[0], np.cumsum(p)])
    return [float(np.linalg.norm(H[s:e, s:e], 2)) for s, e in itertools.pairwise(at)]


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check_iris(eps=1e-2, depth=16, width=4, steps=3000, seed=0, progress=None):
    """Train on Iris, then compare every structured quantity with dense.

    Parameters
    ----------
    eps : float
        Damping of the inverse product.
    depth, width, steps, seed
        As :func:`train_on_iris`.
    progress : callable, optional
        Called as ``progress(stage)`` with a short description before each
        stage, and as ``progress(step, loss)`` during training.

    Returns
    -------
    IrisRun
    """
    say = progress if progress is not None else (lambda *args: None)
    timings = {}

    say("training")
    t0 = time.perf_counter()
    net, theta, X, y, losses = train_on_iris(depth, width, steps, seed=seed,
                                             progress=say)
    timings["training"] = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(net.n_params)
    P = net.n_params

    say("structured path: blocks, Hv, (H + eps I)^{-1} v")
    t0 = time.perf_counter()
    lin = net.linearize(theta, X, y)
    Hv = hvp_from_blocks(lin, v)
    with warnings.catch_warnings():
        # reported through pivot_rcond instead
        warnings.simplefilter("ignore", LinAlgWarning)
        x, info = solve_from_blocks(lin, v, eps, return_info=True)
    timings["structured"] = time.perf_counter() - t0

    say("dense oracles: autograd Hessian, Hessian formula from blocks, dense solve")
    t0 = time.perf_counter()
    H = autograd_hessian(net, theta, X, y)
    H_formula = hessian_from_blocks(lin)
    A = H + eps * np.eye(P)
    x_dense = np.linalg.solve(A, v)
    eigenvalues = np.linalg.eigvalsh(A) - eps
    timings["dense"] = time.perf_counter() - t0

    norm_H = float(max(abs(eigenvalues[0]), abs(eigenvalues[-1])))
    shifted = np.abs(eigenvalues + eps)
    cond = float(shifted.max() / shifted.min())
    blocks = layer_block_norms(H, net.p)
    lin_size = P + 2 * sum(lin.a[1:])
    solve_tol = max(1e-10, 1e3 * cond * MACHINE_EPS)
    d = rng.standard_normal(P)
    d /= np.linalg.norm(d)
    h = 1e-5
    loss_fd = (net.loss(theta + h * d, X, y) - net.loss(theta - h * d, X, y)) / (2 * h)
    HvFD = finite_difference_hvp(net, theta, X, y, v)
    # the residual uses the sweeps of Hv, which share no code with the solve
    residual = hvp_from_blocks(lin, x) + eps * x - v

    checks = [
        Check("loss: structured vs autograd",
              abs(lin.loss - autograd_loss(net, X, y)(theta)) / lin.loss, 1e-13,
              "same formula, different code: rounding only"),
        Check("gradient: backward pass vs autograd",
              _rel(lin.gradient, autograd_gradient(net, theta, X, y)), 1e-11,
              "exact both ways; rounding over 17 layers"),
        Check("gradient: directional, vs central differences",
              abs(lin.gradient @ d - loss_fd) / np.linalg.norm(lin.gradient), 1e-6,
              "O(h^2) truncation and O(eps/h) rounding at h = 1e-5"),
        Check("Hv: two sweeps vs dense autograd H v",
              np.linalg.norm(Hv - H @ v) / (norm_H * np.linalg.norm(v)), 1e-11,
              "exact both ways; scaled by ||H|| ||v|| against cancellation"),
        Check("Hv: two sweeps vs central differences of the gradient",
              _rel(HvFD, Hv), 1e-6, "O(h^2) truncation and O(eps/h) rounding"),
        Check("H: formula of derivation.md section 3 vs autograd",
              _rel(H_formula, H), 1e-11, "exact both ways; rounding only"),
        Check("H: symmetry of the autograd Hessian", _rel(H.T, H), 1e-13,
              "the network is twice differentiable"),
        Check("(H + eps I)^{-1} v: block solve vs dense solve",
              _rel(x, x_dense), solve_tol,
              f"max(1e-10, 1e3 cond eps_mach) with cond = {cond:.2e}"),
        Check("K' s' = r': backward error of the block solve", info.backward_error,
              1e3 * lin_size * MACHINE_EPS,
              f"1e3 N eps_mach, N = {lin_size}: what a stable solve leaves"),
        Check("(H + eps I) x - v: residual by Hv, relative to ||v||",
              float(np.linalg.norm(residual) / np.linalg.norm(v)), solve_tol,
              "a backward-stable solve leaves about cond * eps_mach"),
        Check("curvature guard: ||H||_2 / eps", norm_H / eps, 1.0,
              "H must not be negligible against eps I (derivation.md sec. 10)",
              "at least"),
        Check("curvature guard: min_l ||H_ll||_2 / eps", min(blocks) / eps, 1e-2,
              "no layer's curvature may vanish against eps", "at least"),
    ]
    return IrisRun(
        net=net,
        theta=theta,
        lin=lin,
        eps=eps,
        checks=checks,
        train_losses=losses,
        hessian_norm=norm_H,
        eigenvalue_range=(float(eigenvalues[0]), float(eigenvalues[-1])),
        block_norms=blocks,
        condition=cond,
        pivot_rcond=info.rcond,
        timings=timings,
    )


def cell(text):
    """`text` made safe for a Markdown table cell (``|`` escaped)."""
    return str(text).replace("|", "\\|")


def checks_table(checks):
    """The checks as a Markdown table."""
    lines = [
        "| quantity | measured | tolerance | pass | why this tolerance |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        lines.append(
            f"| {cell(c.quantity)} | {c.measured:.3e} | {c.bound} | "
            f"{'yes' if c.passed else 'NO'} | {cell(c.why)} |"
        )
    return "\n".join(lines)
