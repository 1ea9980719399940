"""Figures, one function each; every function writes PNG and SVG files.

Only the figures and the command line draw or print; the numbers come from
the library.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse

from .augmented import augmented_system, pivot_permutation

__all__ = ["plot_sparsity_of_K", "sparse_augmented"]


def sparse_augmented(lin, eps):
    """``K`` (original order) and ``K'`` (pivoted) as sparse CSR matrices.

    ``K'`` is assembled from the blocks of :func:`augmented_system`; ``K`` is
    recovered as ``Pi^T K' Pi``.

    Returns
    -------
    K, K_pivoted : scipy.sparse.csr_matrix
    sizes : tuple of int
        Diagonal block sizes ``p_l + 2 a_l`` of ``K'``.
    """
    Kp = augmented_system(lin, eps)
    n = Kp.n_blocks
    grid = [[None] * n for _ in range(n)]
    for k in range(n):
        grid[k][k] = scipy.sparse.csr_matrix(Kp.diagonal[k])
        if k > 0:
            grid[k][k - 1] = scipy.sparse.csr_matrix(Kp.lower[k - 1])
            grid[k - 1][k] = scipy.sparse.csr_matrix(Kp.upper[k - 1])
    K_pivoted = scipy.sparse.bmat(grid, format="csr")
    perm = pivot_permutation(lin.p, lin.a[1:])
    inverse = np.argsort(perm)
    K = K_pivoted[inverse][:, inverse]
    return K.tocsr(), K_pivoted, Kp.sizes


def _occupancy(A, pixels):
    """A ``pixels x pixels`` image: 1 where a pixel covers a nonzero entry."""
    coo = A.tocoo()
    keep = coo.data != 0
    n = A.shape[0]
    rows = (coo.row[keep] * pixels) // n
    cols = (coo.col[keep] * pixels) // n
    image = np.zeros((pixels, pixels))
    image[rows, cols] = 1.0
    return image


def _save(fig, stem):
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    paths = [f"{stem}.png", f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, metadata={"Software": None})
    # no date and fixed element ids, so the same figure gives the same file
    with matplotlib.rc_context({"svg.hashsalt": "hessian-ref"}):
        fig.savefig(paths[1], metadata={"Date": None})
    plt.close(fig)
    return paths


def plot_sparsity_of_K(lin, eps, stem, title_prefix="", pixels=800):
    """Nonzero pattern of ``K`` before and after the pivot, with block edges.

    Parameters
    ----------
    lin : Linearization
    eps : float
    stem : str
        Output path without extension; ``.png`` and ``.svg`` are written.
    title_prefix : str
        What network and data the matrix belongs to.
    pixels : int
        Resolution of the occupancy image per axis.

    Returns
    -------
    list of str
        The files written.
    """
    K, K_pivoted, sizes = sparse_augmented(lin, eps)
    n = K.shape[0]
    P, A = sum(lin.p), sum(lin.a[1:])
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.2))
    panels = [
        (axes[0], K, [P, P + A], "K: unknowns (x, y, w)"),
        (axes[1], K_pivoted, np.cumsum(sizes)[:-1],
         f"K' = Pi K Pi^T: {len(sizes)} diagonal blocks of size p_l + 2 a_l"),
    ]
    for ax, M, edges, label in panels:
        ax.imshow(_occupancy(M, pixels), cmap="Greys", vmin=0, vmax=1,
                  extent=(0, n, n, 0), interpolation="nearest")
        for e in edges:
            ax.axhline(e, color="tab:red", lw=0.6)
            ax.axvline(e, color="tab:red", lw=0.6)
        ax.set_title(f"{label}\n{M.nnz:,} nonzeros of {n:,} x {n:,}", fontsize=10)
        ax.set_xlabel("column (unknown index)")
        ax.set_ylabel("row (equation index)")
    fig.suptitle(
        f"{title_prefix}sparsity of the augmented system before and after the "
        f"pivot (red: block boundaries; eps = {eps:g})",
        fontsize=11,
    )
    fig.tight_layout()
    return _save(fig, stem)
