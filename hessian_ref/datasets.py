"""Small real data sets shipped with the package."""

from importlib import resources

import numpy as np

__all__ = ["load_iris"]


def load_iris(standardize=True):
    """Fisher's Iris data: 150 flowers, 4 measurements (cm), 3 species.

    Parameters
    ----------
    standardize : bool
        Centre each feature and scale it to unit (population) standard
        deviation.

    Returns
    -------
    X : (150, 4) ndarray
        Sepal length, sepal width, petal length, petal width.
    y : (150,) int ndarray
        Species 0 (setosa), 1 (versicolor), 2 (virginica).
    """
    path = resources.files("hessian_ref") / "data" / "iris.csv"
    with path.open() as f:
        table = np.loadtxt(f, delimiter=",", comments="#", skiprows=4)
    X = table[:, :4]
    y = table[:, 4].astype(int)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y
