"""hessian_ref: a NumPy/SciPy reference for the damped inverse Hessian-vector
product of tall-skinny networks (arXiv 2601.06096), every step checkable
against dense computation."""

from .augmented import hessian_inverse_product
from .block_tridiagonal import BlockTridiagonal, SingularBlockError
from .hvp import hessian_vector_product
from .network import MLP

__all__ = [
    "MLP",
    "BlockTridiagonal",
    "SingularBlockError",
    "hessian_inverse_product",
    "hessian_vector_product",
]
__version__ = "0.1.0"
