"""lift: splats on the terrain surface, faithful to the orthophoto, without holes, walls at jumps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_path
from kornia.metrics import psnr, ssim
from pyproj import CRS
from scipy import ndimage

import earth3d
from earth3d.geometry import Camera, crs_to_ecef, ecef_to_enu, ecef_to_geodetic, enu_basis, quat_to_rotmat, transformer
from earth3d.raster import GeoRaster
from earth3d.renderers import CpuRenderer


def _read(*parts_pairs, **kw):
    return earth3d.read_raster(*(data_path(*p) for p in parts_pairs), vertical_datum="ellipsoid", **kw)


def _para():
    return _read(("pairs", "para_landsat5", "srtm.tif"), ("pairs", "para_landsat5", "rgb_b3b2b1.tif"))


def _duluth():
    return _read(("pairs", "duluth_drone", "dtm.tif"), ("pairs", "duluth_drone", "orthophoto.tif"))


def nadir_camera(r: GeoRaster, altitude_factor: float = 30.0) -> Camera:
    """Straight down over the raster center, one pixel per cell, image axes along the grid's x and -y.

    The camera sits `altitude_factor` scene sizes up, so the view is nearly orthographic:
    relief shifts a pixel by at most relief / altitude * half-width (< 0.1 px here).
    """
    h, w = r.shape
    rx, ry = r.resolution
    cx, cy = r.transform @ (w / 2, h / 2)
    ref = float(np.median(r.height[r.valid]))
    center = crs_to_ecef(r.crs, cx, cy, ref)
    step_x = crs_to_ecef(r.crs, cx + rx, cy, ref) - center
    step_y = crs_to_ecef(r.crs, cx, cy - ry, ref) - center  # one row down the image
    up = crs_to_ecef(r.crs, cx, cy, ref + 1.0) - center
    up /= np.linalg.norm(up)
    right = step_x - (step_x @ up) * up
    right /= np.linalg.norm(right)
    forward = -up
    down = np.cross(forward, right)
    dist = altitude_factor * max(w * np.linalg.norm(step_x), h * np.linalg.norm(step_y))
    return Camera(center + up * dist, np.stack([right, down, forward], axis=1), w, h,
                  dist / np.linalg.norm(step_x), dist / np.linalg.norm(step_y), w / 2, h / 2, near=1.0)


def _metrics(img: torch.Tensor, ref: np.ndarray) -> tuple[float, float]:
    a = img.permute(2, 0, 1)[None].clamp(0, 1)
    b = torch.from_numpy(ref).permute(2, 0, 1)[None]
    return float(psnr(a, b, 1.0)), float(ssim(a, b, 11).mean())


def _largest_valid_square(valid: np.ndarray, margin: int = 2) -> tuple[slice, slice]:
    inner = ndimage.binary_erosion(valid, iterations=margin)
    reach = ndimage.distance_transform_cdt(inner, metric="chessboard")
    i, j = np.unravel_index(reach.argmax(), reach.shape)
    k = int(reach.max()) - 1
    return slice(i - k, i + k + 1), slice(j - k, j + k + 1)


# ---------------------------------------------------------------------- faithful lifting
@pytest.mark.parametrize("pair", ["para", "duluth"])
def test_nadir_render_reproduces_orthophoto(pair):
    """One pixel per cell, straight down: the render matches the lifted grid's colours.

    The comparison samples the splat surface at the cell centers (no 0.3 px screen-space
    low-pass, classic compositing), with the sharp surface splats of `backing`: it checks
    that each cell's colour sits exactly at its cell, so a one-cell misregistration fails it.
    """
    r = _para() if pair == "para" else _duluth()
    g = earth3d.lift(r, backing=True)
    out = CpuRenderer(antialiased=False, eps2d=0.0).render(g, nadir_camera(r))
    rows, cols = (slice(None), slice(None)) if r.valid.all() else _largest_valid_square(r.valid)
    assert (rows.stop or r.shape[0]) - (rows.start or 0) >= 100
    img, ref = out.rgb[rows, cols], r.rgb[rows, cols]
    value_psnr, value_ssim = _metrics(img, ref)
    print(f"\n{pair}: nadir, 1 px per cell, backing splats: PSNR {value_psnr:.2f} dB, SSIM {value_ssim:.4f}")
    assert value_psnr >= 30.0 and value_ssim >= 0.90, (value_psnr, value_ssim)
    # The same comparison one cell off is far worse: the check can tell registration errors.
    shifted, _ = _metrics(img[1:, 1:], ref[:-1, :-1])
    assert shifted < value_psnr - 8.0, shifted
    # With the renderer's own defaults (0.3 px low-pass) and default splats the image is softer but close.
    soft_rgb = CpuRenderer(antialiased=False).render(earth3d.lift(r), nadir_camera(r)).rgb
    soft, soft_ssim = _metrics(soft_rgb[rows, cols], ref)
    print(f"{pair}: one cell off: PSNR {shifted:.2f} dB; default lift + renderer low-pass: "
          f"PSNR {soft:.2f} dB, SSIM {soft_ssim:.4f}")
    assert soft > 18.0


@pytest.mark.parametrize("pair, min_psnr, min_ssim", [("para", 25.5, 0.78), ("duluth", 28.5, 0.89)])
def test_default_lift_and_renderer_reproduce_orthophoto(pair, min_psnr, min_ssim):
    """The defaults a new user gets, nadir at one pixel per cell: solved colours beat copied ones by > 4 dB.

    Copied colours give 21.9 dB (Para) and 24.0 dB (Duluth): the renderer's 0.3 px^2 low-pass and
    antialiased opacity compensation blur them. The solved colours stay in [0, 1].
    """
    r = _para() if pair == "para" else _duluth()
    cam = nadir_camera(r)
    rows, cols = (slice(None), slice(None)) if r.valid.all() else _largest_valid_square(r.valid)
    g = earth3d.lift(r)
    assert len(g) == len(earth3d.lift(r, solve_colours=False))  # one splat per cell, as before
    rgb = (g.sh[:, 0] * earth3d.gaussians.SH_C0 + 0.5).numpy()
    assert rgb.min() >= -1e-6 and rgb.max() <= 1 + 1e-6
    solved = _metrics(CpuRenderer().render(g, cam).rgb[rows, cols], r.rgb[rows, cols])
    copied = _metrics(CpuRenderer().render(earth3d.lift(r, solve_colours=False), cam).rgb[rows, cols],
                      r.rgb[rows, cols])
    print(f"\n{pair}: default lift + CpuRenderer(), nadir 1 px per cell: solved PSNR {solved[0]:.2f} dB "
          f"SSIM {solved[1]:.4f}; copied {copied[0]:.2f} dB SSIM {copied[1]:.4f}")
    assert solved[0] >= min_psnr and solved[1] >= min_ssim, solved
    assert solved[0] > copied[0] + 4.0, (solved, copied)


def test_colour_solve_tiles_agree_and_is_deterministic():
    from earth3d.colour_solve import solve_nadir_colours

    r = _duluth()
    args = (r.rgb, r.valid, r.height.astype(np.float64))
    whole = solve_nadir_colours(*args, sigma=0.8, opacity=0.98, tile=10_000)
    tiled = solve_nadir_colours(*args, sigma=0.8, opacity=0.98, tile=48)
    assert np.abs(whole - tiled).max() < 1e-3  # tile borders do not show
    assert np.array_equal(whole, solve_nadir_colours(*args, sigma=0.8, opacity=0.98, tile=10_000))
    np.testing.assert_array_equal(whole[~r.valid], r.rgb[~r.valid])  # masked cells untouched
    assert np.abs(whole - r.rgb)[r.valid].mean() > 0.01  # it did change the colours
    # Without halo the tiles disagree: the check can fail.
    assert np.abs(whole - solve_nadir_colours(*args, sigma=0.8, opacity=0.98, tile=48, halo=0)).max() > 1e-2


def _close_camera(r: GeoRaster, row: int, col: int, cells_above: float = 3.0) -> Camera:
    """Straight down from `cells_above` cell spacings over cell (row, col), 90 deg field of view."""
    x, y = r.transform @ (col + 0.5, row + 0.5)
    ground = float(r.height[row, col])
    center = crs_to_ecef(r.crs, x, y, ground)
    up = crs_to_ecef(r.crs, x, y, ground + 1.0) - center
    east = crs_to_ecef(r.crs, x + 1.0, y, ground) - center
    right = east - (east @ up) * up
    right /= np.linalg.norm(right)
    down = np.cross(-up, right)
    size = 160
    return Camera(center + up * cells_above * max(r.resolution), np.stack([right, down, -up], axis=1), size, size,
                  size / 2, size / 2, size / 2, size / 2, near=0.01)


def test_close_views_have_no_gaps():
    """3 cell spacings over the ground, default lift and renderer: the terrain covers every pixel."""
    r = _para()
    renderer = CpuRenderer()
    g = earth3d.lift(r)
    thin = earth3d.lift(r, sigma=0.5)
    worst, worst_thin = 1.0, 1.0
    for row, col in ((155, 143), (40, 60), (270, 250)):
        cam = _close_camera(r, row, col)
        worst = min(worst, float(renderer.render(g, cam).alpha.min()))
        worst_thin = min(worst_thin, float(renderer.render(thin, cam).alpha.min()))
    print(f"\nclose views (3 cells up): min alpha {worst:.4f}; with sigma 0.5: {worst_thin:.4f}")
    assert worst >= 0.99, worst
    assert worst_thin < 0.9, worst_thin  # sharper splats leave gaps: the measure can fail


# ---------------------------------------------------------------------- no holes
def _block_hits(r: GeoRaster, cam: Camera, border: int = 2) -> np.ndarray:
    """Pixels whose ray hits the DSM taken as flat-topped columns, at least `border` cells inside.

    Independent of the renderer and of lifting: rays are marched in a local ENU frame at the
    raster center, and (E, N) map to grid (col, row) by an affine map fitted through pyproj
    (over ~0.5 km the curvature and projection error are millimetres).
    """
    h, w = r.shape
    lon, lat, _ = ecef_to_geodetic(crs_to_ecef(r.crs, *(r.transform @ (w / 2, h / 2)), 0.0))
    cols, rows = np.meshgrid(np.linspace(0, w, 9), np.linspace(0, h, 9))
    enu = ecef_to_enu(lon, lat, 0.0, crs_to_ecef(r.crs, *(r.transform @ (cols, rows)), np.zeros_like(cols)))
    en1 = np.c_[enu[..., 0].ravel(), enu[..., 1].ravel(), np.ones(cols.size)]
    to_grid, *_ = np.linalg.lstsq(en1, np.c_[cols.ravel(), rows.ravel()], rcond=None)
    origin = ecef_to_enu(lon, lat, 0.0, cam.position)
    rot = enu_basis(lon, lat).T @ cam.rotation
    v, u = np.mgrid[0:cam.height, 0:cam.width] + 0.5
    rays = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1) @ rot.T
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    top, bottom = np.nanmax(r.height), np.nanmin(r.height)
    t_top = (top - origin[2]) / rays[..., 2]
    t_bottom = (bottom - origin[2]) / rays[..., 2]
    step = 0.2 * min(r.resolution)
    hit = np.zeros(u.shape, dtype=bool)
    at = np.full(u.shape + (2,), -1.0)
    for dt in np.arange(0.0, np.nanmax(t_bottom - t_top) + step, step):  # march down the height slab
        p = origin + (t_top + dt)[..., None] * rays
        grid = np.c_[p[..., 0].ravel(), p[..., 1].ravel(), np.ones(p[..., 0].size)] @ to_grid
        c, rr = grid[:, 0].reshape(u.shape), grid[:, 1].reshape(u.shape)
        inside = (c >= 0) & (c < w) & (rr >= 0) & (rr < h)
        ci, ri = np.clip(c.astype(int), 0, w - 1), np.clip(rr.astype(int), 0, h - 1)
        ground = np.where(r.valid[ri, ci], r.height[ri, ci], -np.inf)
        new = ~hit & inside & (p[..., 2] <= ground)
        at[new] = np.stack([c, rr], -1)[new]
        hit |= new
    return hit & (at[..., 0] >= border) & (at[..., 0] < w - border) & (at[..., 1] >= border) & (at[..., 1] < h - border)


def test_oblique_view_of_dsm_has_no_holes():
    r = _read(("pairs", "alexandria_lidar", "dsm.tif"))
    h, w = r.shape
    cx, cy = r.transform @ (w / 2, h / 2)
    lon, lat, _ = ecef_to_geodetic(crs_to_ecef(r.crs, cx, cy, 0.0))
    ground = float(np.median(r.height))
    heading = np.radians(30.0)
    back = np.array([-np.sin(heading), -np.cos(heading), 1.0]) * 150.0 / np.sqrt(2)  # 45 deg down, 150 m away
    eye = ecef_to_geodetic(crs_to_ecef(r.crs, cx, cy, ground) + enu_basis(lon, lat) @ back)
    cam = Camera.look_at(tuple(eye), (lon, lat, ground), 320, 240, 50.0)
    terrain = _block_hits(r, cam)
    assert terrain.mean() > 0.95

    renderer = CpuRenderer(antialiased=False)
    with_walls = earth3d.lift(r)
    without = earth3d.lift(r, walls=False)
    assert len(with_walls) > len(without) == r.valid.sum()
    covered = (renderer.render(with_walls, cam).alpha.numpy()[terrain] >= 0.99).mean()
    covered_without = (renderer.render(without, cam).alpha.numpy()[terrain] >= 0.99).mean()
    print(f"\nalexandria 45 deg oblique, alpha >= 0.99 on terrain pixels: walls {covered:.4f}, "
          f"no walls {covered_without:.4f}")
    assert covered >= 0.995, covered
    assert covered_without < 0.98 and covered_without < covered - 0.02, covered_without
    # Sharper splats leave the background showing between cell centers: the measure can fail.
    thin = (renderer.render(earth3d.lift(r, sigma=0.5), cam).alpha.numpy()[terrain] >= 0.99).mean()
    print(f"sigma 0.5: {thin:.4f}")
    assert thin < 0.9, thin
    # Sharp surface splats over a sunk backing layer: no holes either, also with opacity compensation.
    backed = earth3d.lift(r, backing=True)
    assert len(backed) == len(with_walls) + r.valid.sum()
    covered = (renderer.render(backed, cam).alpha.numpy()[terrain] >= 0.99).mean()
    # gsplat's "antialiased" mode scales opacities down (by up to ~5% for 2-3 px splats).
    covered_aa = (CpuRenderer(antialiased=True).render(backed, cam).alpha.numpy()[terrain] >= 0.99).mean()
    print(f"backing: {covered:.4f} (antialiased renderer {covered_aa:.4f})")
    assert covered >= 0.995, covered
    assert covered_aa >= 0.99, covered_aa


# ---------------------------------------------------------------------- geometry
def test_splats_sit_on_the_terrain_at_cell_centers():
    r = _para()
    g = earth3d.lift(r, walls=False, solve_colours=False)
    assert len(g) == r.valid.sum()
    x, y = r.cell_centers()
    to_grid = transformer("EPSG:4978", CRS(r.crs).to_3d())
    gx, gy, gh = to_grid.transform(*g.means_ecef().T)
    np.testing.assert_allclose(gx, x[r.valid], atol=0.01)
    np.testing.assert_allclose(gy, y[r.valid], atol=0.01)
    np.testing.assert_allclose(gh, r.height[r.valid], atol=0.01)
    assert np.abs(g.means.numpy()).max() < 10_000  # float32 offsets from a nearby float64 origin
    assert torch.all(g.opacities > 0.9) and torch.allclose(g.rgb, torch.from_numpy(r.rgb[r.valid]), atol=1e-5)

    # The thin axis is the surface normal, computed here from the DEM gradient in the local frame.
    rot = quat_to_rotmat(g.quats.double()).numpy()
    thin = np.take_along_axis(rot, g.scales.argmin(1).numpy()[:, None, None].repeat(3, 1), axis=2)[..., 0]
    d_row, d_col = np.gradient(r.height.astype(np.float64), 30.0)
    lon, lat, _ = ecef_to_geodetic(g.means_ecef()).T
    east, north = d_col[r.valid], -d_row[r.valid]  # UTM grid ~ east/north here (convergence < 0.1 deg)
    normal_enu = np.stack([-east, -north, np.ones_like(east)], -1)
    normal_enu /= np.linalg.norm(normal_enu, axis=-1, keepdims=True)
    normal = np.einsum("nij,nj->ni", enu_basis(lon, lat), normal_enu)
    # Away from the border and from cliffs (a jump over one cell: there lifting takes one-sided tangents).
    jump = np.zeros(r.shape, bool)
    jump[:, 1:] |= np.abs(np.diff(r.height, axis=1)) > 30.0
    jump[1:, :] |= np.abs(np.diff(r.height, axis=0)) > 30.0
    inner = ndimage.binary_erosion(~ndimage.binary_dilation(jump, iterations=2), iterations=1)[r.valid]
    assert inner.mean() > 0.98
    cos = np.abs(np.sum(thin * normal, axis=-1))[inner]
    assert np.degrees(np.arccos(np.clip(cos.min(), -1, 1))) < 1.0
    # In-plane standard deviations: sigma times the 30 m cell.
    in_plane = np.sort(g.scales.numpy(), axis=1)[:, 1:]
    flat = (np.abs(east) < 0.01) & (np.abs(north) < 0.01)
    np.testing.assert_allclose(in_plane[flat], 0.8 * 30.0, rtol=0.01)
    assert (g.scales.min(1).values < 0.05 * 30).all()


def test_geographic_crs_cells_in_metres():
    r = _read(("pairs", "rmnp", "dem.tif"), ("pairs", "rmnp", "rgb.tif"))
    g = earth3d.lift(r, walls=False, sigma=0.5)
    # 0.0015 deg cells at 40.35 N: ~127 m east-west, ~167 m north-south.
    lat = 40.35
    dx = (np.radians(0.0015) * 6378137.0 * np.cos(np.radians(lat))
          / np.sqrt(1 - 0.00669438 * np.sin(np.radians(lat)) ** 2))
    dy = np.radians(0.0015) * 6335439.0 / (1 - 0.00669438 * np.sin(np.radians(lat)) ** 2) ** 1.5
    rot = quat_to_rotmat(g.quats.double()).numpy()
    lon_c, lat_c, _ = ecef_to_geodetic(g.means_ecef()[len(g) // 2])
    east, north, _ = enu_basis(lon_c, lat_c).T
    # Footprint extent along east/north from the covariance: sqrt(e^T C e).
    cov = rot * g.scales.double().numpy()[:, None, :] ** 2 @ rot.transpose(0, 2, 1)
    sd_e = np.sqrt(np.einsum("i,nij,j->n", east, cov, east))
    sd_n = np.sqrt(np.einsum("i,nij,j->n", north, cov, north))
    slope = np.hypot(*np.gradient(r.height))
    flat = (slope < 1.0)[r.valid]
    assert flat.sum() > 50
    np.testing.assert_allclose(np.median(sd_e[flat]), 0.5 * dx, rtol=0.02)
    np.testing.assert_allclose(np.median(sd_n[flat]), 0.5 * dy, rtol=0.02)


def test_masked_cells_produce_no_splats():
    r = _duluth()
    assert not r.valid.all()
    g = earth3d.lift(r, walls=False)
    assert len(g) == r.valid.sum()
    # Every splat lies over a valid cell.
    to_grid = transformer("EPSG:4978", CRS(r.crs).to_3d())
    x, y, _ = to_grid.transform(*g.means_ecef().T)
    cols, rows = ~r.transform @ (x, y)
    assert r.valid[rows.astype(int), cols.astype(int)].all()
    # Masking more cells removes exactly those splats.
    valid = r.valid.copy()
    valid[:, : r.shape[1] // 2] = False
    half = earth3d.lift(GeoRaster(r.rgb, r.height, valid, r.transform, r.crs, r.vertical_datum), walls=False)
    assert len(half) == valid.sum()
    assert len(earth3d.lift(r, walls=False, backing=True)) == 2 * r.valid.sum()


def test_walls_stand_on_height_jumps():
    r = _read(("pairs", "alexandria_lidar", "dsm.tif"))
    surface = earth3d.lift(r, walls=False)
    full = earth3d.lift(r)
    walls = full[len(surface):]
    assert len(walls) > 1000
    rot = quat_to_rotmat(walls.quats.double()).numpy()
    thin_axis = walls.scales.argmin(1).numpy()
    normal = np.take_along_axis(rot, thin_axis[:, None, None].repeat(3, 1), axis=2)[..., 0]
    means = walls.means_ecef()
    up = means / np.linalg.norm(means, axis=1, keepdims=True)
    assert np.abs(np.sum(normal * up, axis=1)).max() < 0.02  # vertical walls: horizontal normals
    # Walls fill the jump: their heights lie between the DSM's extremes and they are darker than roofs.
    _, _, h = transformer("EPSG:4978", CRS(r.crs).to_3d()).transform(*means.T)
    assert h.min() >= np.nanmin(r.height) - 0.1 and h.max() <= np.nanmax(r.height) + 0.1
    assert walls.rgb.mean() < surface.rgb.mean()
    # A flat raster with one raised block gets walls on its four sides, from ground to roof.
    height = np.zeros((20, 20), np.float32)
    height[8:12, 8:12] = 10.0
    block = GeoRaster(np.full((20, 20, 3), 0.5, np.float32), height, np.ones((20, 20), bool),
                      r.transform, r.crs, "ellipsoid")
    g = earth3d.lift(block)
    wall = g[400:]
    _, _, wh = transformer("EPSG:4978", CRS(r.crs).to_3d()).transform(*wall.means_ecef().T)
    assert len(wall) == 16 * 5  # 16 boundary edges, 10 m at 2 m cells: 5 layers each
    np.testing.assert_allclose(np.sort(np.unique(np.round(wh, 3))), [1, 3, 5, 7, 9], atol=1e-3)



def test_cell_between_two_jumps_keeps_a_cell_sized_splat():
    """A cell with height jumps on both sides (a ledge between street and roof) gets a level, cell-sized splat."""
    r = _read(("pairs", "alexandria_lidar", "dsm.tif"))
    height = np.zeros((20, 20), np.float32)
    height[:, 10] = 15.0  # a one-cell ledge, 7.5 cells above the street and below the roof
    height[:, 11:] = 30.0
    ridge = GeoRaster(np.full((20, 20, 3), 0.5, np.float32), height, np.ones((20, 20), bool),
                      r.transform, r.crs, "ellipsoid")
    surface = earth3d.lift(ridge, walls=False)
    assert float(surface.scales.max()) < 2.0 * max(r.resolution)

def test_bad_parameters():
    r = _para()
    for kw in ({"opacity": 0.0}, {"opacity": 1.5}, {"sigma": -1.0}, {"thickness": 0.0},
               {"sigma": 0.4, "backing": True}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            earth3d.lift(r, **kw)
    tiny = GeoRaster(r.rgb[:1], r.height[:1], r.valid[:1], r.transform, r.crs)
    with pytest.raises(ValueError, match="at least 2 x 2"):
        earth3d.lift(tiny)
    empty = GeoRaster(r.rgb, r.height, np.zeros_like(r.valid), r.transform, r.crs)
    with pytest.raises(ValueError, match="no valid cells"):
        earth3d.lift(empty)
