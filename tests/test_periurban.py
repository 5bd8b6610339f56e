"""Farmland around cities: a ring of fields past the built-up edge, and fingers along corridors out of the city."""

from __future__ import annotations

import math

import numpy as np

from earth3d.classes import CROPLAND
from earth3d.synth import ProceduralWorld
from earth3d.synth import kernel as K
from earth3d.synth import periurban as PU
from earth3d.synth.grid import M_PER_DEG

# seed 2's city in land-use cell (360, 179): radius 3.6 km, in rainforest
SEED, CELL = 2, (360, 179)


def _city():
    s = K.make_seeds(SEED)
    rad, lon, lat, c_seed = K.city_site(*CELL, s, np.empty(K.N_MACRO))
    assert rad > 0.0
    return s, rad, lon, lat, c_seed


def _zone_on_circle(radius_m: float, n: int = 360) -> np.ndarray:
    """city_zone's farmed share at n bearings on a circle around the city (bound far off)."""
    s, rad, lon, lat, c_seed = _city()
    axes = PU.corridor_axes(c_seed, rad)
    out = np.empty(n)
    for k in range(n):
        a = 2.0 * math.pi * k / n
        du, dv = radius_m * math.cos(a), radius_m * math.sin(a)
        x, y, z = K.unit_vector(lon + du / (M_PER_DEG * math.cos(math.radians(lat))), lat + dv / M_PER_DEG)
        out[k] = PU.city_zone(du, dv, x, y, z, rad, 1e9, c_seed, s[K.S_EDGE], axes)[1]
    return out


def test_fields_ring_the_city_and_reach_out_along_corridors():
    """Close past the edge the fields go round the city; farther out only along a few corridors."""
    _, rad, *_ = _city()
    near = _zone_on_circle(rad + 2500.0)
    far = _zone_on_circle(rad + 12_000.0)
    assert np.mean(near > 0.3) > 0.8, np.mean(near > 0.3)
    farmed = far > 0.3
    assert 0.03 < np.mean(farmed) < 0.4, np.mean(farmed)
    # in fingers, not a ring
    runs = int(np.sum(farmed & ~np.roll(farmed, 1)))
    assert 1 <= runs <= PU.CORRIDORS[1] * 3, runs


def test_no_fields_in_the_built_up_city_and_none_past_the_bound():
    s, rad, lon, lat, c_seed = _city()
    x, y, z = K.unit_vector(lon, lat)
    axes = PU.corridor_axes(c_seed, rad)
    dens, peri = PU.city_zone(0.0, 0.0, x, y, z, rad, 15_000.0, c_seed, s[K.S_EDGE], axes)
    assert dens == 1.0 and peri == 0.0
    for a in np.linspace(0.0, 2.0 * math.pi, 24, endpoint=False):
        du, dv = 15_500.0 * math.cos(a), 15_500.0 * math.sin(a)
        assert PU.city_zone(du, dv, x, y, z, rad, 15_000.0, c_seed, s[K.S_EDGE], axes) == (0.0, 0.0)


def test_rendered_cropland_follows_the_corridors():
    """In a rendered 250 m tile the cropland 9-14 km from the centre lies in a few bearings."""
    _, rad, lon, lat, _ = _city()
    n, res = 160, 250.0
    dlat = n * res / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat))
    tile = ProceduralWorld(SEED).generate(bbox=(lon - dlon / 2, lat - dlat / 2, lon + dlon / 2, lat + dlat / 2),
                                          resolution_m=res)
    yy, xx = (np.mgrid[0:n, 0:n] + 0.5 - n / 2) * res
    dist = np.hypot(xx, yy)
    bearing = np.degrees(np.arctan2(-yy, xx)) % 360.0
    crop = tile.classes[:n, :n] == CROPLAND
    assert crop[dist < rad + 3000.0].mean() > 0.3
    ring = (dist > rad + 5500.0) & (dist < rad + 10_500.0)
    sector = (bearing[ring] // 20).astype(int)
    share = np.bincount(sector, weights=crop[ring], minlength=18) / np.bincount(sector, minlength=18)
    assert share.max() > 0.25 and share.max() > 4.0 * np.median(share), np.round(share, 2)


def test_the_city_grows_out_along_its_corridors():
    """The built-up city is a star, not a disc: along its corridors it reaches farther than between them."""
    s, rad, lon, lat, c_seed = _city()
    axes = PU.corridor_axes(c_seed, rad)
    cos_lat = math.cos(math.radians(lat))

    def extent(a: float) -> float:
        """The farthest distance along bearing a (rad from east) where the city is still drawn."""
        far = 0.0
        for r in np.arange(0.2, PU.BUILT_REACH, 0.02) * rad:
            du, dv = r * math.cos(a), r * math.sin(a)
            x, y, z = K.unit_vector(lon + du / (M_PER_DEG * cos_lat), lat + dv / M_PER_DEG)
            if PU.city_zone(du, dv, x, y, z, rad, 1e9, c_seed, s[K.S_EDGE], axes)[0] > K.BUILT_DENS:
                far = r
        return far

    bearings = np.radians(np.arange(0.0, 360.0, 5.0))
    reach = np.array([extent(a) for a in bearings])
    # a corridor wanders sideways as it leaves: its finger lies within 30 degrees of its bearing
    off = [np.abs((bearings - math.atan2(sk, ck) + math.pi) % (2.0 * math.pi) - math.pi) for ck, sk, _ in axes]
    along = np.array([reach[d <= math.radians(30.0)].max() for d in off])
    print(f"radius {rad:.0f} m; fingers reach {np.round(along / rad, 2)} radii, the median bearing "
          f"{np.median(reach) / rad:.2f}")
    assert np.median(along) > 1.3 * np.median(reach)


def test_city_streets_of_a_small_box_are_those_of_a_large_one():
    """The streets API builds a city's graph only as far as the box needs: the streets in a small box
    inside the city run where the city-wide query's streets run (arterials may be cut into other
    pieces: their vertices follow the graph's radius)."""
    from scipy.spatial import cKDTree

    world = ProceduralWorld(SEED)
    _, rad, lon, lat, _ = _city()
    small = (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    d = PU.BUILT_REACH * rad / M_PER_DEG

    def points(box, step_m):
        """Points every step_m metres along the city's streets with a vertex in the small box (m)."""
        out = []
        for st in world.streets(box):
            xy = (st.lonlat - [lon, lat]) * [M_PER_DEG * math.cos(math.radians(lat)), M_PER_DEG]
            inside = ((st.lonlat[:, 0] >= small[0]) & (st.lonlat[:, 0] <= small[2]) & (st.lonlat[:, 1] >= small[1])
                      & (st.lonlat[:, 1] <= small[3]))
            if st.kind in ("arterial", "local") and inside.any():
                for p, q in zip(xy[:-1], xy[1:], strict=True):
                    t = np.linspace(0.0, 1.0, max(2, int(np.hypot(*(q - p)) / step_m) + 1))[:, None]
                    out.append(p + t * (q - p))
        return np.concatenate(out)

    a, b = points(small, 1.0), points((lon - d, lat - d, lon + d, lat + d), 1.0)
    gap_ab, gap_ba = cKDTree(b).query(a)[0], cKDTree(a).query(b)[0]
    print(f"{len(a)} and {len(b)} points; farthest from the other query {gap_ab.max():.2f} and {gap_ba.max():.2f} m")
    assert len(a) > 10_000 and gap_ab.max() < 1.0 and gap_ba.max() < 1.0


def test_cities_lie_anywhere_in_their_cells_but_stay_inside():
    """Small cities lie up to 0.35 cells off their cell's centre (no lattice: before, every city stood
    within 0.2), larger ones nearer it; each city's built-up density is 0 at its cell's border."""
    s = K.make_seeds(1)
    buf = np.empty(K.N_MACRO)
    offsets, checked = [], 0
    for ci in range(360, 400):
        for cj in range(145, 175):
            rad, lon, lat, c_seed = K.city_site(ci, cj, s, buf)
            if rad == 0.0:
                continue
            c_seed = np.uint64(c_seed)  # (numba returns it as a Python int)
            lon0, lat0 = -180.0 + (ci + 0.5) * K.CELL_DEG, -90.0 + (cj + 0.5) * K.CELL_DEG
            offsets.append(max(abs(lon - lon0), abs(lat - lat0)) / K.CELL_DEG)
            # on the cell's border nearest the centre, in every direction from it, nothing is built
            bound = K.zone_bound(ci, cj, lon, lat)
            edge = bound + PU.PERI_MARGIN_M
            cos_lat = math.cos(math.radians(lat))
            axes = PU.corridor_axes(c_seed, rad)
            for a in np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False):
                du, dv = edge * math.cos(a), edge * math.sin(a)
                x, y, z = K.unit_vector(lon + du / (M_PER_DEG * cos_lat), lat + dv / M_PER_DEG)
                assert PU.city_zone(du, dv, x, y, z, rad, bound, c_seed, s[K.S_EDGE], axes)[0] < 1e-9
            checked += 1
    offsets = np.array(offsets)
    print(f"{checked} cities; offsets from the cell centre: median {np.median(offsets):.3f}, "
          f"{np.mean(offsets > 0.2):.0%} beyond 0.2 cells, max {offsets.max():.3f}")
    assert checked > 100 and offsets.max() <= 0.35 and np.mean(offsets > 0.2) > 0.3
