"""Camera paths: endpoints, monotone log-altitude descent, smoothness, constant speed, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from earth3d.errors import InputFileError
from earth3d.geometry import geodetic_to_ecef
from earth3d.geometry.paths import Waypoint, descent, orbit, read_waypoints, waypoint_path


def _positions(cams):
    return np.array([c.position for c in cams])


def _geodetic(cams):
    return np.array([c.geodetic() for c in cams])


def _angles_between(rots):
    """Rotation angle (rad) between consecutive camera orientations."""
    rel = np.einsum("nji,njk->nik", rots[:-1], rots[1:])
    return np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1))


def test_orbit_circles_the_target_at_radius_and_altitude():
    lon, lat, h = -105.6, 40.35, 3000.0
    cams = orbit(lon, lat, h, radius_m=2000.0, altitude_m=800.0, n_frames=36, width=64, height=48)
    assert len(cams) == 36 and all(c.width == 64 and c.height == 48 for c in cams)
    target = geodetic_to_ecef(lon, lat, h)
    geo = _geodetic(cams)
    np.testing.assert_allclose(geo[:, 2], h + 800.0, atol=1e-3)
    enu_up = np.array([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                       np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))])
    offsets = _positions(cams) - target
    horizontal = offsets - np.outer(offsets @ enu_up, enu_up)
    np.testing.assert_allclose(np.linalg.norm(horizontal, axis=1), 2000.0, rtol=2e-3)
    # Every camera looks at the target.
    to_target = -offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("ni,ni->n", to_target, np.array([c.forward for c in cams])), 1.0, atol=1e-9)
    # Evenly spaced in angle, and the loop closes with the same step.
    steps = np.linalg.norm(np.diff(np.vstack([_positions(cams), _positions(cams[:1])]), axis=0), axis=1)
    np.testing.assert_allclose(steps, steps.mean(), rtol=1e-3)
    assert np.degrees(_angles_between(np.array([c.rotation for c in cams]))).max() < 12.0


def test_orbit_with_fixed_pitch():
    cams = orbit(10.0, 45.0, 0.0, radius_m=500.0, altitude_m=100.0, n_frames=4, pitch_deg=-20.0)
    for c in cams:
        lon, lat, _ = c.geodetic()
        up = np.array([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                       np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))])
        assert np.degrees(np.arcsin(c.forward @ up)) == pytest.approx(-20.0, abs=1e-6)


def test_descent_endpoints_and_monotone_log_altitude():
    ground = 120.0
    cams = descent(-49.9, -3.75, 120, ground_m=ground, heading_deg=30.0, street_distance_m=150.0,
                   street_fraction=0.25, width=64, height=48)
    geo = _geodetic(cams)
    assert np.all(np.isfinite(geo)) and np.all(np.isfinite(np.array([c.rotation for c in cams])))
    alt = geo[:, 2] - ground
    assert alt[0] == pytest.approx(2_000_000.0, rel=1e-6)
    assert alt[-1] == pytest.approx(2.0, abs=1e-3)
    n_down = 120 - 30
    log_alt = np.log(alt[:n_down])
    assert np.all(np.diff(log_alt) < 0), "altitude must fall at every frame of the descent"
    # Eased on a log scale: gentle at both ends, fastest in the middle, no jump.
    steps = -np.diff(log_alt)
    assert steps[0] < 0.2 * steps.max() and steps[-1] < 0.2 * steps.max()
    assert steps.max() < 2.0 * np.log(1e6) / n_down
    # The top of the descent looks straight down; the street part looks ahead at the end pitch.
    down = -geodetic_to_ecef(geo[0, 0], geo[0, 1], 0.0)
    assert cams[0].forward @ (down / np.linalg.norm(down)) > 0.99
    # Street: level flight over the requested distance along the heading.
    np.testing.assert_allclose(alt[n_down - 1:], 2.0, atol=1e-3)
    street = np.linalg.norm(cams[-1].position - cams[n_down - 1].position)
    assert street == pytest.approx(150.0, rel=1e-3)
    east, north = np.array([c.forward for c in cams[-1:]])[0] @ _enu(geo[-1])[:, :2]
    assert np.degrees(np.arctan2(east, north)) == pytest.approx(30.0, abs=0.01)


def _enu(geo):
    from earth3d.geometry import enu_basis
    return enu_basis(geo[0], geo[1])


def test_descent_is_smooth():
    cams = descent(2.35, 48.85, 200, ground_m=35.0, width=64, height=48)
    pos = _positions(cams)
    geo = _geodetic(cams)
    alt = geo[:, 2] - 35.0
    # Frame-to-frame moves relative to the altitude stay small (no jump on screen) ...
    n_down = 200 - int(round(0.3 * 200))
    move = np.linalg.norm(np.diff(pos[:n_down], axis=0), axis=1) / alt[1:n_down]
    assert move.max() < 0.3
    # ... and the orientation turns gradually.
    assert np.degrees(_angles_between(np.array([c.rotation for c in cams]))).max() < 5.0
    # Velocity changes gently where the descent hands over to the street.
    vel = np.diff(pos, axis=0)
    speed = np.linalg.norm(vel, axis=1)
    assert np.all(np.abs(np.diff(speed)) <= 0.35 * speed.max() + 1e-9)


def test_descent_follows_a_ground_function():
    def ground(lon, lat):  # a 10 m ramp along the street
        return 50.0 + 10.0 * np.clip((lat - 48.8500) / 0.0015, 0.0, 1.0)

    cams = descent(2.35, 48.85, 80, ground_m=ground, heading_deg=0.0, street_distance_m=200.0)
    geo = _geodetic(cams)
    assert np.all(geo[:, 2] - ground(geo[:, 0], geo[:, 1]) >= 2.0 - 1e-6)
    assert np.all(np.isfinite(geo))


def test_waypoint_path_passes_endpoints_at_constant_speed():
    wps = [Waypoint(-105.70, 40.30, 4500.0), Waypoint(-105.62, 40.36, 3800.0, heading=90.0, pitch=-40.0),
           Waypoint(-105.55, 40.32, 5000.0), Waypoint(-105.50, 40.40, 4200.0)]
    cams = waypoint_path(wps, 60, width=64, height=48)
    geo = _geodetic(cams)
    np.testing.assert_allclose(geo[0], [-105.70, 40.30, 4500.0], atol=1e-6)
    np.testing.assert_allclose(geo[-1], [-105.50, 40.40, 4200.0], atol=1e-6)
    steps = np.linalg.norm(np.diff(_positions(cams), axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.01
    # Smooth: position second differences are small next to the steps, orientations turn gradually.
    # A kinked polyline would show jerks as large as its accelerations.
    accel = np.diff(_positions(cams), 2, axis=0)
    jerk = np.linalg.norm(np.diff(accel, axis=0), axis=1)
    assert np.linalg.norm(accel, axis=1).max() < 0.5 * steps.mean()
    assert jerk.max() < 0.5 * np.linalg.norm(accel, axis=1).max()
    assert np.degrees(_angles_between(np.array([c.rotation for c in cams]))).max() < 10.0


def test_waypoint_path_between_distant_points_stays_above_ground():
    cams = waypoint_path([Waypoint(0.0, 0.0, 10_000.0), Waypoint(60.0, 30.0, 10_000.0)], 30)
    np.testing.assert_allclose(_geodetic(cams)[:, 2], 10_000.0, atol=1.0)


def test_waypoint_path_screen_speed_slows_down_near_the_ground():
    wps = [Waypoint(10.0, 45.0, 20_000.0), Waypoint(10.02, 45.0, 1000.0), Waypoint(10.04, 45.0, 100.0)]
    cams = waypoint_path(wps, 80, speed="screen", ground_m=0.0)
    geo = _geodetic(cams)
    steps = np.linalg.norm(np.diff(_positions(cams), axis=0), axis=1)
    per_height = steps / (0.5 * (geo[1:, 2] + geo[:-1, 2]))
    assert per_height.std() / per_height.mean() < 0.05
    assert steps[0] > 20 * steps[-1]


def test_read_waypoints_csv_and_json(tmp_path):
    csv_path = tmp_path / "w.csv"
    csv_path.write_text("lon,lat,height,heading,pitch\n10,45,500,,\n10.01,45.01,400,90,-30\n")
    wps = read_waypoints(csv_path)
    assert wps[0] == Waypoint(10.0, 45.0, 500.0) and wps[1].heading == 90.0 and wps[1].pitch == -30.0
    json_path = tmp_path / "w.json"
    json_path.write_text(json.dumps([{"lon": 10, "lat": 45, "height": 500}, {"lon": 10.1, "lat": 45, "height": 500}]))
    assert len(read_waypoints(json_path)) == 2


@pytest.mark.parametrize("call, match", [
    (lambda: orbit(0, 0, 0, radius_m=-1, altitude_m=10, n_frames=4), "radius"),
    (lambda: orbit(0, 95, 0, radius_m=10, altitude_m=10, n_frames=4), "lat"),
    (lambda: descent(0, 0, 1), "n_frames"),
    (lambda: descent(0, 0, 10, end_altitude_m=5e6), "altitudes"),
    (lambda: descent(0, 0, 10, end_pitch_deg=10.0), "end_pitch"),
    (lambda: waypoint_path([Waypoint(0, 0, 10)], 5), "at least 2"),
    (lambda: waypoint_path([Waypoint(0, 0, 10), Waypoint(0, 0, 10)], 5), "same position"),
    (lambda: waypoint_path([Waypoint(0, 0, 10), Waypoint(0.1, 0, 10)], 5, speed="screen", ground_m=50.0),
     "below the ground"),
    (lambda: Waypoint(0, float("nan"), 10), "not finite"),
])
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_waypoints_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_waypoints(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat\n1,2\n3,4\n")
    with pytest.raises(InputFileError, match=r"bad.csv.*height"):
        read_waypoints(bad)
