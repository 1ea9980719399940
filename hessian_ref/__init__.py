"""hessian_ref: a NumPy/SciPy reference for the damped inverse Hessian-vector
product of tall-skinny networks (arXiv 2601.06096), every step checkable
against dense computation."""

from .network import MLP

__all__ = ["MLP"]
__version__ = "0.1.0"
