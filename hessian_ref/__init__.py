"""hessian_ref: a NumPy/SciPy reference for the damped inverse Hessian-vector
product of tall-skinny networks (arXiv 2601.06096), every step checkable
against dense computation."""

from .augmented import (
    InaccurateSolveError,
    SingularHessianError,
    damped_hessian_inertia,
    damped_hessian_slogdet,
    hessian_inverse_product,
)
from .block_tridiagonal import (
    BlockTridiagonal,
    SingularBlockError,
    SingularMatrixError,
)
from .hvp import hessian_vector_product
from .network import MLP
from .operators import damped_hessian_operator, hessian_operator, inverse_operator
from .riccati import SingularPivotError, riccati_inertia, riccati_slogdet

__all__ = [
    "MLP",
    "BlockTridiagonal",
    "InaccurateSolveError",
    "SingularBlockError",
    "SingularHessianError",
    "SingularMatrixError",
    "SingularPivotError",
    "damped_hessian_inertia",
    "damped_hessian_operator",
    "damped_hessian_slogdet",
    "hessian_inverse_product",
    "hessian_operator",
    "hessian_vector_product",
    "inverse_operator",
    "riccati_inertia",
    "riccati_slogdet",
]
__version__ = "0.1.0"
