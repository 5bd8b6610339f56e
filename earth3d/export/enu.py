"""Local frames for exported scenes: ECEF <-> a local ENU frame at a geodetic origin.

Exchange formats (PLY, glTF, SPZ) hold float32 coordinates in a small local
frame, so every export moves splats from their ECEF axes into east-north-up
axes at a geodetic origin, and every import moves them back. Means are shifted
in float64; rotations turn the quaternions and, for degree >= 1, the
spherical-harmonic coefficients (view-dependent colour is defined with
directions in the frame's axes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import InputError
from ..gaussians import Gaussians
from ..geometry import ecef_to_geodetic, enu_basis, geodetic_to_ecef
from ..geometry.gaussian_math import rotate_quats_nb, sh_basis_nb


@dataclass(frozen=True)
class LocalFrame:
    """An ENU frame: geodetic origin (lon, lat in degrees, ellipsoidal height in m), its ECEF point
    and the rotation whose columns are the east, north and up axes in ECEF.
    """

    lon: float
    lat: float
    height: float
    origin_ecef: np.ndarray
    basis: np.ndarray

    @classmethod
    def at(cls, lon: float, lat: float, height: float) -> "LocalFrame":
        """The ENU frame at geodetic (lon, lat in degrees, ellipsoidal height in m), validated."""
        lon, lat, height = check_lonlath((lon, lat, height))
        return cls(lon, lat, height, geodetic_to_ecef(lon, lat, height), enu_basis(lon, lat))

    @classmethod
    def for_gaussians(cls, gaussians: Gaussians, origin_lonlath=None) -> "LocalFrame":
        """The frame at `origin_lonlath`, or at the geodetic point of the splats' own ECEF origin."""
        if origin_lonlath is None:
            origin_lonlath = ecef_to_geodetic(gaussians.origin)
        return cls.at(*check_lonlath(origin_lonlath))

    def georeference(self) -> dict:
        """JSON-ready description of the frame, written beside or inside exported files."""
        return {
            "frame": "ENU",
            "origin_lonlath": [self.lon, self.lat, self.height],
            "origin_ecef": [float(v) for v in self.origin_ecef],
            "crs": "EPSG:4979 origin, EPSG:4978 ECEF",
            "enu_to_ecef": self.basis.tolist(),
        }


def check_lonlath(origin_lonlath) -> tuple[float, float, float]:
    """Validate a geodetic origin (lon, lat, h); raise InputError (a ValueError) naming the bad value."""
    values = np.asarray(origin_lonlath, dtype=np.float64).reshape(-1)
    if values.shape != (3,):
        raise InputError(f"geodetic origin must be (lon, lat, height), got {origin_lonlath!r}")
    lon, lat, h = (float(v) for v in values)
    if not np.all(np.isfinite(values)):
        raise InputError(f"geodetic origin {origin_lonlath!r} is not finite")
    if not -90.0 <= lat <= 90.0:
        raise InputError(f"geodetic origin latitude {lat} is outside [-90, 90] degrees")
    if not -540.0 <= lon <= 540.0:
        raise InputError(f"geodetic origin longitude {lon} is outside [-540, 540] degrees")
    return lon, lat, h


def to_local(gaussians: Gaussians, frame: LocalFrame, axes: np.ndarray | None = None):
    """Splats in `frame` (optionally followed by an axis change `axes`, local = axes @ enu), as numpy.

    Returns float64 means (N, 3), unit quaternions wxyz (N, 4), scales (N, 3), opacities (N,)
    and SH coefficients (N, K, 3), all expressed in the local axes.
    """
    rot = frame.basis.T if axes is None else np.asarray(axes, dtype=np.float64) @ frame.basis.T
    a = gaussians.arrays()  # numpy: cheaper than torch for many small tiles
    offset = np.asarray(gaussians.origin - frame.origin_ecef, dtype=np.float64)
    means = (a.means.astype(np.float64) + offset) @ rot.T
    quats = rotate_quats_nb(a.quats, rot)
    sh = rotate_sh(a.sh.astype(np.float64), rot)
    return means, quats, a.scales.astype(np.float64), a.opacities.astype(np.float64), sh


def from_local(frame: LocalFrame, rot_local_to_enu: np.ndarray, means, quats, scales, opacities, sh) -> Gaussians:
    """Splats given in local axes (local -> ENU by `rot_local_to_enu`) as Gaussians at the frame's ECEF origin."""
    rot = frame.basis @ np.asarray(rot_local_to_enu, dtype=np.float64)
    means_ecef = np.asarray(means, dtype=np.float64) @ rot.T
    return Gaussians.from_arrays(frame.origin_ecef.copy(), means_ecef, rotate_quats_nb(quats, rot), scales, opacities,
                                 rotate_sh(np.asarray(sh, dtype=np.float64), rot))


def rotate_sh(sh: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """SH coefficients (N, K, 3) re-expressed for directions rotated by `rot` (d' = rot @ d).

    Band 0 is invariant; each band l >= 1 turns by its (2l+1)x(2l+1) matrix, found once per call
    by least squares over sample directions (exact: the bands are rotation-invariant subspaces).
    """
    degree = int(round(sh.shape[1] ** 0.5)) - 1
    if degree == 0 or len(sh) == 0:
        return sh.copy()
    out = sh.copy()
    dirs = _sample_directions()
    basis_before = sh_basis_nb(dirs, degree)
    basis_after = sh_basis_nb(dirs @ np.asarray(rot, dtype=np.float64).T, degree)
    for band in range(1, degree + 1):
        lo, hi = band * band, (band + 1) * (band + 1)
        # basis_after = basis_before @ D^T  ->  coefficients c' = D c
        d_t, *_ = np.linalg.lstsq(basis_before[:, lo:hi], basis_after[:, lo:hi], rcond=None)
        out[:, lo:hi, :] = np.einsum("ij,njc->nic", d_t.T, sh[:, lo:hi, :])
    return out


@lru_cache(maxsize=1)
def _sample_directions() -> np.ndarray:
    """Fixed, well-spread unit directions (Fibonacci sphere)."""
    n = 64
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)
