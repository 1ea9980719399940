"""Input checks shared by the public functions; each names the argument."""

import numbers

import numpy as np


def check_finite(name, array):
    """Raise ValueError if `array` holds NaN or infinity.

    The message gives the first non-finite entry, its index, and how many
    there are.
    """
    finite = np.isfinite(array)
    if np.all(finite):
        return
    bad = np.argwhere(~finite)
    first = tuple(int(i) for i in bad[0])
    value = float(np.asarray(array)[first])
    index = first[0] if len(first) == 1 else first
    where = f" at index {index}" if first else ""
    count = f" ({len(bad)} non-finite entries)" if len(bad) > 1 else ""
    raise ValueError(f"{name}: expected finite values, got {value}{where}{count}")


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

    Integers of any width, float32, float64 and wider floats are accepted and
    converted to a new float64 array (float32 data are computed in float64,
    exactly as their float64 values would be). float16 is not accepted:
    half precision keeps about three decimal digits, so the data have
    already lost the digits a float64 reference needs, and converting them
    would only hide that. Booleans, complex numbers, strings, dates and
    objects are not accepted either.

    Parameters
    ----------
    name : str
        The argument's name, for the messages.
    value : array_like

    Returns
    -------
    ndarray
        A new float64 array of the shape of `value`; `value` is never
        written to.

    Raises
    ------
    TypeError
        On float16, or a dtype that does not hold real numbers.
    ValueError
        If `value` cannot be converted to an array (ragged nesting).
    """
    array = as_array(name, value)
    if array.dtype == np.float16:
        raise TypeError(
            f"{name}: expected integers or floats of at least single precision "
            f"(float32, float64), got dtype float16; half precision is not "
            f"accepted because it has already lost the digits a float64 "
            f"reference needs"
        )
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
    if isinstance(eps, np.float16):
        raise TypeError(f"eps: expected a number of at least single precision, "
                        f"got float16 {float(eps)!r}, which has already lost the "
                        f"digits a float64 reference needs")
    eps = float(eps)
    bound = ">= 0" if allow_zero else "> 0"
    if not np.isfinite(eps) or eps < 0 or (eps == 0 and not allow_zero):
        raise ValueError(f"eps: expected a finite number {bound}, got {eps!r}")
    return eps
