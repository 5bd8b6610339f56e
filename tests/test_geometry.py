
import numpy as np
import pytest
import torch

from earth3d.geometry import (
    Camera,
    covariance,
    decompose_covariance,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_to_ecef,
    geodetic_to_ecef,
    quat_to_rotmat,
    rotmat_to_quat,
)


def test_geodetic_ecef_round_trip():
    pts = np.array([[0, 0, 0], [150, 60, 1234.5], [-179.9, -89.5, -50], [45, 90, 10]], dtype=float)
    ecef = geodetic_to_ecef(pts[:, 0], pts[:, 1], pts[:, 2])
    assert np.allclose(ecef[0], [6378137.0, 0, 0])
    back = ecef_to_geodetic(ecef)
    assert np.allclose(back[:3], pts[:3], atol=1e-8)
    assert np.isclose(back[3, 2], 10, atol=1e-6)


def test_enu_round_trip_and_axes():
    enu = np.array([[10.0, -20.0, 30.0]])
    xyz = enu_to_ecef(150, 60, 100, enu)
    assert np.allclose(ecef_to_enu(150, 60, 100, xyz), enu, atol=1e-6)
    up = enu_to_ecef(150, 60, 100, [[0, 0, 1000.0]])
    assert np.isclose(ecef_to_geodetic(up)[0, 2], 1100.0, atol=1e-3)


def test_camera_heading_pitch_conventions():
    nadir = Camera.from_geodetic(0, 0, 100)
    assert np.allclose(nadir.forward, [-1, 0, 0], atol=1e-12)  # straight down at (0, 0)
    assert np.allclose(nadir.rotation[:, 1], [0, 0, -1], atol=1e-12)  # image down is south
    east = Camera.from_geodetic(0, 0, 100, heading_deg=90, pitch_deg=0)
    assert np.allclose(east.forward, [0, 1, 0], atol=1e-12)  # ECEF +y is east at (0, 0)
    rolled = Camera.from_geodetic(0, 0, 100, heading_deg=0, pitch_deg=0, roll_deg=90)
    assert np.allclose(rolled.rotation[:, 0], [-1, 0, 0], atol=1e-12)  # right side goes down


def test_look_at_points_at_target():
    cam = Camera.look_at((10.0, 45.0, 1000.0), (10.01, 45.0, 0.0))
    d = geodetic_to_ecef(10.01, 45.0, 0.0) - cam.position
    assert np.allclose(cam.forward, d / np.linalg.norm(d))
    assert abs(cam.rotation[:, 0] @ (geodetic_to_ecef(10, 45, 1) - geodetic_to_ecef(10, 45, 0))) < 1e-9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lon_deg=float("nan"), lat_deg=0, alt_m=10), "lon_deg=nan"),
        (dict(lon_deg=0, lat_deg=0, alt_m=-13_000), "alt_m=-13000"),
        (dict(lon_deg=0, lat_deg=91, alt_m=10), "lat_deg=91"),
    ],
)
def test_bad_camera(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Camera.from_geodetic(**kwargs)


def test_camera_below_ellipsoid_by_pose():
    with pytest.raises(ValueError, match="below the ellipsoid"):
        Camera.from_pose(geodetic_to_ecef(0, 0, -20_000), np.eye(3), 64, 64, 60)


def test_covariance_round_trip():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(100, 4, generator=g, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    s = torch.rand(100, 3, generator=g, dtype=torch.float64) + 0.1
    cov = covariance(q, s)
    q2, s2 = decompose_covariance(cov)
    assert torch.allclose(covariance(q2, s2), cov, atol=1e-9)
    assert torch.allclose(quat_to_rotmat(rotmat_to_quat(quat_to_rotmat(q))), quat_to_rotmat(q), atol=1e-9)
