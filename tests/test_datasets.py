"""The shipped Iris data."""

import numpy as np

from hessian_ref.datasets import load_iris


def test_iris_raw_numbers_match_the_published_table():
    X, y = load_iris(standardize=False)
    assert X.shape == (150, 4) and y.shape == (150,)
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])
    np.testing.assert_array_equal(X[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(X[-1], [5.9, 3.0, 5.1, 1.8])
    # summary statistics of Fisher's data (min, max, mean to two decimals)
    np.testing.assert_array_equal(X.min(axis=0), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_array_equal(X.max(axis=0), [7.9, 4.4, 6.9, 2.5])
    np.testing.assert_allclose(X.mean(axis=0), [5.84, 3.06, 3.76, 1.20], atol=6e-3)


def test_iris_standardised_features():
    X, y = load_iris()
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-14)
    np.testing.assert_allclose(X.std(axis=0), 1, rtol=1e-14)
    assert y.dtype.kind == "i" and set(y) == {0, 1, 2}
