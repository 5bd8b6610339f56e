"""Coordinate frames: geodetic (EPSG:4979), ECEF (EPSG:4978), local ENU and raster CRSs.

All datum and projection work goes through pyproj. The only hand-written maths
here is the ENU basis, which is a rotation (the ellipsoid normal), not a
projection.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

GEODETIC_CRS = CRS.from_epsg(4979)
ECEF_CRS = CRS.from_epsg(4978)
WGS84_A = 6378137.0
WGS84_B = 6356752.314245179


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def transformer(src: CRS | str | int, dst: CRS | str | int) -> Transformer:
    """A cached, always-xy pyproj transformer between two CRSs."""
    return _transformer(CRS.from_user_input(src).to_wkt(), CRS.from_user_input(dst).to_wkt())


def geodetic_to_ecef(lon_deg, lat_deg, h_m) -> np.ndarray:
    """Longitude/latitude (degrees) and ellipsoidal height (m) to ECEF metres, shape (..., 3).

    Args:
        lon_deg: Longitude, degrees (scalar or array).
        lat_deg: Latitude, degrees (broadcast with `lon_deg`).
        h_m: Ellipsoidal height above WGS84, metres (broadcast).

    Returns:
        float64 ECEF coordinates (EPSG:4978), shape (..., 3).
    """
    x, y, z = transformer(GEODETIC_CRS, ECEF_CRS).transform(
        np.asarray(lon_deg, dtype=np.float64),
        np.asarray(lat_deg, dtype=np.float64),
        np.asarray(h_m, dtype=np.float64),
    )
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1).astype(np.float64)


def ecef_to_geodetic(xyz) -> np.ndarray:
    """ECEF metres (..., 3) to (..., 3) of longitude, latitude (degrees), ellipsoidal height (m).

    Args:
        xyz: ECEF coordinates (EPSG:4978), metres, shape (..., 3).

    Returns:
        float64 (..., 3): longitude, latitude in degrees and ellipsoidal height in metres.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    lon, lat, h = transformer(ECEF_CRS, GEODETIC_CRS).transform(xyz[..., 0], xyz[..., 1], xyz[..., 2])
    return np.stack(np.broadcast_arrays(lon, lat, h), axis=-1).astype(np.float64)


def crs_to_ecef(crs: CRS | str | int, x, y, z) -> np.ndarray:
    """Points in any horizontal CRS with heights in metres to ECEF (..., 3).

    A 2D CRS is promoted to 3D, so heights are taken as ellipsoidal heights of
    that CRS's datum; vertical-datum handling is the caller's concern.
    """
    src = CRS.from_user_input(crs)
    if not src.is_geographic or len(src.axis_info) < 3:
        src = src.to_3d()
    xs, ys, zs = transformer(src, ECEF_CRS).transform(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), np.asarray(z, dtype=np.float64)
    )
    return np.stack(np.broadcast_arrays(xs, ys, zs), axis=-1).astype(np.float64)


def enu_basis(lon_deg, lat_deg) -> np.ndarray:
    """Rotation (..., 3, 3) whose columns are the local east, north and up axes in ECEF."""
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    sl, cl = np.sin(lon), np.cos(lon)
    sp, cp = np.sin(lat), np.cos(lat)
    east = np.stack([-sl, cl, np.zeros_like(sl)], axis=-1)
    north = np.stack([-sp * cl, -sp * sl, cp], axis=-1)
    up = np.stack([cp * cl, cp * sl, sp], axis=-1)
    return np.stack([east, north, up], axis=-1)


def enu_to_ecef(origin_lon: float, origin_lat: float, origin_h: float, enu) -> np.ndarray:
    """Points in the ENU frame anchored at a geodetic origin to ECEF (..., 3)."""
    origin = geodetic_to_ecef(origin_lon, origin_lat, origin_h)
    return origin + np.asarray(enu, dtype=np.float64) @ enu_basis(origin_lon, origin_lat).T


def ecef_to_enu(origin_lon: float, origin_lat: float, origin_h: float, xyz) -> np.ndarray:
    """ECEF points (..., 3) to the ENU frame anchored at a geodetic origin."""
    origin = geodetic_to_ecef(origin_lon, origin_lat, origin_h)
    return (np.asarray(xyz, dtype=np.float64) - origin) @ enu_basis(origin_lon, origin_lat)
