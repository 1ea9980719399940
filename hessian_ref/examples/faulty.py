"""A deliberately wrong implementation, to show what ``check`` reports.

:func:`faulty_answers` starts from a golden case's own expected values and
plants one of the faults of :data:`FAULTS`, each a mistake that real
implementations make:

``"bias-curvature-dropped"``
    The Hessian loses every row and column of the biases (curvature of the
    bias, and its coupling to the weights, left out), so ``H v``,
    ``(H + eps I)^{-1} v`` and ``H`` are wrong.
``"sum-not-mean"``
    The loss is summed over the batch where the case averages it (or
    averaged where the case sums it): loss, gradient, ``H v`` and ``H`` are
    off by the factor ``B``, and the inverse product is ``(B H + eps I)^{-1}
    v``.
``"eps-sign"``
    The damping enters with the wrong sign: ``(H - eps I)^{-1} v``.
``"cross-block-transposed"``
    The coupling of the second layer's weights to every other layer is
    read with the weight index transposed, ``(in, out)`` for ``(out, in)``:
    the Hessian's cross blocks of layer 2 are wrong, and ``H v`` with them.

Only cases that carry the dense Hessian are answered in full; for the others
the faulty implementation gives the loss and gradient only.
"""

import numpy as np

__all__ = ["FAULTS", "faulty_answers"]

#: The planted faults, and the quantities each one spoils.
FAULTS = {
    "bias-curvature-dropped": ("hvp", "inverse_hvp", "hessian"),
    "sum-not-mean": ("loss", "gradient", "hvp", "inverse_hvp", "hessian"),
    "eps-sign": ("inverse_hvp",),
    "cross-block-transposed": ("hvp", "inverse_hvp", "hessian"),
}


def _transposed_weights(widths, layer):
    """Index array that reads layer `layer`'s ``(out, in)`` weights as if
    they were stored ``(in, out)``; identity on every other parameter."""
    from ..validate import parameter_blocks

    P = parameter_blocks(widths)[-1][1].stop
    index = np.arange(P)
    weights = parameter_blocks(widths)[2 * (layer - 1)][1]
    n_out, n_in = widths[layer], widths[layer - 1]
    index[weights] = weights.start + np.arange(n_out * n_in).reshape(
        n_out, n_in).T.ravel()
    return index


def faulty_answers(case, fault):
    """The answers of an implementation with the planted `fault`.

    Parameters
    ----------
    case : hessian_ref.validate.Case
    fault : str
        A key of :data:`FAULTS`.
    """
    if fault not in FAULTS:
        raise ValueError(f"fault: expected one of {sorted(FAULTS)}, got {fault!r}")
    batch = len(case.X)
    scale = 1.0
    if fault == "sum-not-mean":
        scale = batch if case.reduction == "mean" else 1 / batch
    answers = {q: scale * np.asarray(case.expected[q], dtype=float)
               for q in ("loss", "gradient")}
    if "hessian" not in case.expected:
        return answers
    from ..validate import parameter_blocks

    H = scale * np.array(case.expected["hessian"], dtype=float)
    if fault == "bias-curvature-dropped":
        for label, index in parameter_blocks(case.widths):
            if label.endswith("bias"):
                H[index, :] = 0.0
                H[:, index] = 0.0
    elif fault == "cross-block-transposed" and len(case.widths) > 2:
        layer = 2
        index = _transposed_weights(case.widths, layer)
        weights = parameter_blocks(case.widths)[2 * (layer - 1)][1]
        own = np.zeros(len(H), dtype=bool)
        own[weights] = True
        # rows of layer 2's weights, outside layer 2's own block, and mirror
        H[np.ix_(own, ~own)] = H[np.ix_(index[own], ~own)]
        H[np.ix_(~own, own)] = H[np.ix_(own, ~own)].T
    eps = -case.eps if fault == "eps-sign" else case.eps
    answers["hessian"] = H
    answers["hvp"] = H @ case.v
    answers["inverse_hvp"] = np.linalg.solve(H + eps * np.eye(len(H)), case.v)
    return answers
