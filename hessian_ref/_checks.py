"""Input checks shared by the public functions; each names the argument."""

import numbers

import numpy as np


def check_finite(name, array):
    """Raise ValueError if `array` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")


def as_array(name, value):
    """`value` as an ndarray; a ragged or unconvertible value names `name`."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name}: expected a rectangular array of numbers, got a "
            f"{type(value).__name__} that NumPy cannot convert ({error})"
        ) from None


def check_real_array(name, value):
    """`value` as a new float64 array; TypeError unless it holds real numbers.

    Integers and floats of any width are accepted and converted; booleans,
    complex numbers, strings, dates and objects are not.
    """
    array = as_array(name, value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {array.dtype}")
    return array.astype(float)


def check_vectors(name, value, n):
    """A finite float64 array of shape ``(n,)`` or ``(n, k)``."""
    array = as_array(name, value)
    if array.ndim not in (1, 2) or array.shape[0] != n:
        raise ValueError(
            f"{name}: expected shape ({n},) or ({n}, k), got {array.shape}"
        )
    array = check_real_array(name, array)
    check_finite(name, array)
    return array


def check_eps(eps, allow_zero=False):
    """`eps` as a float; ``> 0`` (or ``>= 0`` with `allow_zero`) and finite."""
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps: expected a real number, got {eps!r}")
    eps = float(eps)
    bound = ">= 0" if allow_zero else "> 0"
    if not np.isfinite(eps) or eps < 0 or (eps == 0 and not allow_zero):
        raise ValueError(f"eps: expected a finite number {bound}, got {eps!r}")
    return eps
