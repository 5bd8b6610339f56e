"""The one Gaussian-maths core: real SH (degrees 0-3), quaternions and rotations, covariances.

Every function comes as a plain torch reference and a numba twin beside it (suffix ``_nb``, numpy
in and out); tests/test_gaussian_math.py checks each pair agrees. Lifting, the renderers, the
store's merging and the exporters all call these, and numba kernels elsewhere call the per-element
kernels (`quat_rotmat`, `rotmat_quat`, `quat_mul`, `sh_basis_row`, `sh_color_row`) directly.

numba re-validates a cached function against its own file only: after editing a kernel here,
delete the cached ``*.nbi``/``*.nbc`` files under earth3d/ so that the kernels calling it (in this
package, and `_project_into` in earth3d/renderers/cpu.py) are recompiled.

Example:
    >>> import torch
    >>> from earth3d.geometry.gaussian_math import covariance, decompose_covariance
    >>> q, s = torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([[1.0, 2.0, 3.0]])
    >>> decompose_covariance(covariance(q, s))[1]
    tensor([[1., 2., 3.]])
"""

from .covariance import (
                         PACKED,
                         covariance,
                         covariance_nb,
                         decompose_covariance,
                         decompose_covariance_nb,
                         pack_covariance,
)
from .rotation import (
                         quat_mul,
                         quat_multiply,
                         quat_rotmat,
                         quat_to_rotmat,
                         quat_to_rotmat_nb,
                         rotate_quats,
                         rotate_quats_nb,
                         rotmat_quat,
                         rotmat_to_quat,
                         rotmat_to_quat_nb,
)
from .sh import MAX_DEGREE, SH_C0, eval_sh, eval_sh_nb, sh_basis, sh_basis_nb, sh_basis_row, sh_color_row, sh_degree_of

__all__ = [
    "MAX_DEGREE", "PACKED", "SH_C0", "covariance", "covariance_nb", "decompose_covariance", "decompose_covariance_nb",
    "eval_sh", "eval_sh_nb", "pack_covariance", "quat_mul", "quat_multiply", "quat_rotmat", "quat_to_rotmat",
    "quat_to_rotmat_nb", "rotate_quats", "rotate_quats_nb", "rotmat_quat", "rotmat_to_quat", "rotmat_to_quat_nb",
    "sh_basis", "sh_basis_nb", "sh_basis_row", "sh_color_row", "sh_degree_of",
]
