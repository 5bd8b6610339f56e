"""Renderers: projection against gsplat's reference maths, compositing against a
per-pixel brute force, relative-to-camera precision far from (0, 0, 0), backends."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import rasterio
import torch

from earth3d import Camera, Gaussians
from earth3d.geometry import covariance, enu_basis, geodetic_to_ecef, rotmat_to_quat
from earth3d.geometry.gaussian_math import eval_sh
from earth3d.renderers import CpuRenderer, GsplatRenderer, Renderer, RenderOutput, cpu, default_renderer
from earth3d.renderers.projection import (
    intrinsics,
    perspective_project,
    project_gaussians,
    view_matrix,
    world_to_camera,
)
from earth3d.renderers.torch_reference import TorchTileRenderer

LON, LAT = 150.0, 60.0  # far from (0, 0, 0) and from the axes


def random_scene(n: int, seed: int, width: int = 64, height: int = 64, sh_degree: int = 0,
                 spread: float = 1.0, dist: tuple[float, float] = (20.0, 160.0)) -> tuple[Gaussians, Camera]:
    """Random splats in front of an oblique camera 100 m above 150E 60N."""
    rng = np.random.default_rng(seed)
    cam = Camera.from_geodetic(LON, LAT, 100.0, heading_deg=20.0, pitch_deg=-40.0,
                               width=width, height=height, fov_y_deg=50.0)
    dist = rng.uniform(dist[0], dist[1], n)
    lateral = rng.uniform(-0.5, 0.5, (n, 2)) * dist[:, None] * spread
    pts_cam = np.stack([lateral[:, 0], lateral[:, 1], dist], axis=1)
    origin = geodetic_to_ecef(LON, LAT, 0.0)
    ecef = cam.position + pts_cam @ cam.rotation.T
    quats = rng.normal(size=(n, 4))
    scales = np.exp(rng.uniform(np.log(0.05), np.log(3.0), (n, 3)))
    opac = np.where(rng.uniform(size=n) < 0.3, 1.0, rng.uniform(0.05, 1.0, n))  # some fully opaque
    k = (sh_degree + 1) ** 2
    sh = rng.normal(scale=0.6, size=(n, k, 3))
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    g = Gaussians(origin, t(ecef - origin), t(quats), t(scales), t(opac), t(sh))
    return g, cam


@pytest.fixture
def gsplat_impl():
    """gsplat's pure-PyTorch reference implementation (runs on the CPU)."""
    return pytest.importorskip("gsplat.cuda._torch_impl")


# ---------------------------------------------------------------------------------------- projection
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_projection_matches_gsplat(dtype, gsplat_impl):
    g, cam = random_scene(3000, seed=1, width=320, height=200, spread=1.6)
    viewmat = torch.as_tensor(cam.world_to_camera(g.origin), dtype=dtype)
    K = torch.as_tensor(cam.intrinsics(), dtype=dtype)
    covars = covariance(g.quats.to(dtype), g.scales.to(dtype))
    radii_ref, m2d_ref, depth_ref, conic_ref, comp_ref = gsplat_impl._fully_fused_projection(
        g.means.to(dtype), covars, viewmat[None], K[None], cam.width, cam.height,
        eps2d=0.3, near_plane=cam.near, far_plane=cam.far, calc_compensations=True)
    radii_ref, m2d_ref, depth_ref, conic_ref, comp_ref = (
        x[0] for x in (radii_ref, m2d_ref, depth_ref, conic_ref, comp_ref))

    means_c, covars_c = world_to_camera(g.means.to(dtype), covars, viewmat)
    radii, m2d, depth, conic, comp = perspective_project(means_c, covars_c, K, cam.width, cam.height, 0.3,
                                                         cam.near, cam.far)

    vis_ref = (radii_ref > 0).all(-1)
    vis = (radii > 0).all(-1)
    assert 0.2 * len(g) < int(vis_ref.sum()) < len(g)  # some splats are culled, most are not
    assert torch.equal(vis, vis_ref)
    rtol = 1e-4
    torch.testing.assert_close(m2d[vis], m2d_ref[vis], rtol=rtol, atol=1e-3)
    torch.testing.assert_close(depth[vis], depth_ref[vis], rtol=rtol, atol=0)
    scale = conic_ref[vis].abs().amax(-1, keepdim=True)
    torch.testing.assert_close(conic[vis] / scale, conic_ref[vis] / scale, rtol=rtol, atol=rtol)
    torch.testing.assert_close(comp[vis], comp_ref[vis], rtol=rtol, atol=1e-6)
    # radii are ceil()s: equal except where the float sits on an integer
    assert (radii[vis] - radii_ref[vis]).abs().max() <= 1
    assert (radii[vis] == radii_ref[vis]).float().mean() > 0.999


def test_project_gaussians_uses_camera_relative_view():
    g, cam = random_scene(500, seed=2)
    proj = project_gaussians(g, cam, antialiased=True)
    viewmat = view_matrix(cam, g.origin)
    # float64 check of the depths from absolute ECEF positions
    ecef = g.means_ecef()
    depth64 = (ecef - cam.position) @ cam.rotation[:, 2]
    np.testing.assert_allclose(proj.depths.numpy(), depth64, rtol=1e-5)
    assert viewmat.dtype == torch.float32 and intrinsics(cam).shape == (3, 3)
    classic = project_gaussians(g, cam, antialiased=False)
    assert torch.all(proj.opacities <= classic.opacities + 1e-7)
    assert torch.any(proj.opacities < 0.99 * classic.opacities)


@pytest.mark.parametrize("antialiased", [True, False])
def test_numba_projection_matches_torch_projection(antialiased):
    g, cam = random_scene(3000, seed=11, width=320, height=200, spread=1.6)
    ref = project_gaussians(g, cam, antialiased, dtype=torch.float64)
    f32 = lambda t: np.ascontiguousarray(t.numpy(), dtype=np.float32)  # noqa: E731
    rec = cpu._project(f32(g.means), f32(g.quats), f32(g.scales), f32(g.opacities),
                       cam.world_to_camera(g.origin), cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height,
                       0.3, cam.near, cam.far, antialiased)
    vis = ref.visible.numpy()
    np.testing.assert_array_equal(rec[:, cpu.EXT_X] >= 0, vis)
    r = rec[vis]
    np.testing.assert_allclose(r[:, [cpu.MX, cpu.MY]], ref.means2d[vis].numpy(), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(r[:, cpu.DEPTH], ref.depths[vis].numpy(), rtol=1e-6)
    conics = ref.conics[vis].numpy()
    scale = np.abs(conics).max(-1, keepdims=True)
    np.testing.assert_allclose(r[:, [cpu.CA, cpu.CB, cpu.CC]] / scale, conics / scale, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r[:, cpu.OP], ref.opacities[vis].numpy(), rtol=1e-5, atol=1e-6)
    # extents bound the alpha >= 1/255 region and never exceed gsplat's radius
    assert np.all(r[:, [cpu.EXT_X, cpu.EXT_Y]] <= ref.radii[vis].numpy() + 0.02)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_sh_matches_gsplat(degree, gsplat_impl):
    rng = np.random.default_rng(degree)
    k = (degree + 1) ** 2
    sh = torch.as_tensor(rng.normal(size=(400, k, 3)), dtype=torch.float32)
    dirs = torch.as_tensor(rng.normal(size=(400, 3)) * 50, dtype=torch.float32)
    ref = torch.clamp_min(gsplat_impl._spherical_harmonics(degree, dirs, sh) + 0.5, 0.0)
    torch.testing.assert_close(eval_sh(sh, dirs), ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------- compositing
def brute_force(g: Gaussians, cam: Camera, antialiased: bool, background) -> tuple[np.ndarray, ...]:
    """Every pixel against every splat, sorted by depth, gsplat's per-pixel rules (no tiles), float64."""
    p = project_gaussians(g, cam, antialiased, dtype=torch.float64)
    p = p[p.visible]
    order = torch.sort(p.depths.float(), stable=True).indices  # float32 depth keys, ties in splat order
    p = p[order]
    ys, xs = torch.meshgrid(torch.arange(cam.height, dtype=torch.float64),
                            torch.arange(cam.width, dtype=torch.float64), indexing="ij")
    px = torch.stack([xs.reshape(-1) + 0.5, ys.reshape(-1) + 0.5], -1)  # (P, 2)
    d = p.means2d[None, :, :] - px[:, None, :]  # (P, N, 2)
    a, b, c = p.conics.unbind(-1)
    sigma = 0.5 * (a * d[..., 0] ** 2 + c * d[..., 1] ** 2) + b * d[..., 0] * d[..., 1]
    alpha = torch.clamp_max(p.opacities * torch.exp(-sigma), 0.999)
    alpha = torch.where((sigma >= 0) & (alpha >= 1.0 / 255.0), alpha, torch.zeros_like(alpha))
    trans_after = torch.cumprod(1.0 - alpha, dim=1)
    keep = trans_after > 1e-4  # a splat whose next T would be <= 1e-4 ends the pixel before it is added
    trans_before = torch.cat([torch.ones_like(alpha[:, :1]), trans_after[:, :-1]], dim=1)
    w = torch.where(keep, alpha * trans_before, torch.zeros_like(alpha))
    acc = w.sum(1)
    rgb = w @ p.colors + (1 - acc)[:, None] * torch.as_tensor(background, dtype=torch.float64)
    depth = torch.where(acc > 0, (w @ p.depths) / acc.clamp(min=1e-10), torch.zeros_like(acc))
    hw = (cam.height, cam.width)
    return rgb.reshape(*hw, 3).numpy(), depth.reshape(hw).numpy(), acc.reshape(hw).numpy()


@pytest.mark.parametrize("antialiased", [True, False])
@pytest.mark.parametrize("seed", [3, 4])
def test_cpu_renderer_matches_brute_force(antialiased, seed):
    g, cam = random_scene(300, seed=seed, width=64, height=48, sh_degree=1, dist=(5.0, 40.0))
    bg = (0.2, 0.4, 0.9)
    out = CpuRenderer(antialiased=antialiased).render(g, cam, background=bg)
    rgb, depth, alpha = brute_force(g, cam, antialiased, bg)
    assert isinstance(out, RenderOutput) and out.rgb.shape == (48, 64, 3) and out.rgb.dtype == torch.float32
    assert 0.3 < alpha.mean() < 0.999 and (alpha > 0.999).any()  # overlapping splats reach the T cut
    np.testing.assert_allclose(out.alpha.numpy(), alpha, atol=1e-5)
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-5)
    np.testing.assert_allclose(out.depth.numpy(), depth, rtol=1e-5, atol=1e-3)
    assert out.n_splats == int(project_gaussians(g, cam).visible.sum())


def test_needle_splats_match_brute_force():
    """Long thin splats close to the camera give ill-conditioned conics."""
    rng = np.random.default_rng(13)
    n = 60
    g, cam = random_scene(n, seed=13, width=64, height=48, dist=(1.0, 6.0))
    scales = torch.as_tensor(np.stack([rng.uniform(20.0, 60.0, n), np.full(n, 1e-4), np.full(n, 1e-4)], 1),
                             dtype=torch.float32)
    g = Gaussians(g.origin, g.means, g.quats, scales, torch.full((n,), 0.9), g.sh)
    out = CpuRenderer(antialiased=False).render(g, cam)
    rgb, _, alpha = brute_force(g, cam, False, (0.0, 0.0, 0.0))
    assert alpha.mean() > 0.05
    # float32 sigma (as in gsplat) loses ~1e-4 here; a missed pixel would be off by >= 1/255
    np.testing.assert_allclose(out.alpha.numpy(), alpha, atol=1e-3)
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-3)


def test_equal_depths_keep_splat_order():
    """A flat layer seen straight down: all depths tie, so splat order decides, as in gsplat."""
    rng = np.random.default_rng(12)
    n = 400
    enu = np.concatenate([rng.uniform(-3, 3, (n, 2)), np.zeros((n, 1))], axis=1)
    basis = enu_basis(LON, LAT)
    quat = rotmat_to_quat(torch.as_tensor(basis)).float().expand(n, 4)
    scales = np.concatenate([rng.uniform(0.1, 0.5, (n, 2)), np.full((n, 1), 1e-3)], axis=1)
    g = Gaussians.from_rgb(geodetic_to_ecef(LON, LAT, 0.0), enu @ basis.T, quat, scales,
                           np.full(n, 0.9), rng.uniform(0, 1, (n, 3)))
    cam = Camera.from_geodetic(LON, LAT, 6.0, pitch_deg=-90.0, width=64, height=48)
    depths = project_gaussians(g, cam).depths
    assert torch.unique(depths).numel() < n // 4  # many exact ties
    out = CpuRenderer().render(g, cam)
    rgb, _, alpha = brute_force(g, cam, True, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(out.rgb.numpy(), rgb, atol=1e-5)
    np.testing.assert_allclose(out.alpha.numpy(), alpha, atol=1e-5)


def test_tile_size_does_not_change_the_image():
    g, cam = random_scene(300, seed=5, width=70, height=45, sh_degree=0, dist=(5.0, 40.0))
    a = CpuRenderer(tile_size=16).render(g, cam)
    b = CpuRenderer(tile_size=7).render(g, cam)
    np.testing.assert_allclose(a.rgb.numpy(), b.rgb.numpy(), atol=1e-6)


def test_torch_reference_matches_cpu_renderer():
    g, cam = random_scene(400, seed=6, width=80, height=56, sh_degree=2, dist=(5.0, 40.0))
    for antialiased in (True, False):
        ref = TorchTileRenderer(antialiased=antialiased).render(g, cam, background=(1.0, 1.0, 1.0))
        out = CpuRenderer(antialiased=antialiased).render(g, cam, background=(1.0, 1.0, 1.0))
        # the reference projects in float32, the CPU renderer in float64
        np.testing.assert_allclose(out.rgb.numpy(), ref.rgb.numpy(), atol=5e-5)
        np.testing.assert_allclose(out.alpha.numpy(), ref.alpha.numpy(), atol=5e-5)
        np.testing.assert_allclose(out.depth.numpy(), ref.depth.numpy(), rtol=2e-5, atol=1e-3)


def test_empty_scene_and_bad_background():
    cam = Camera.from_geodetic(LON, LAT, 50.0, width=32, height=24)
    out = CpuRenderer().render(Gaussians.empty(origin=cam.position), cam, background=(0.1, 0.2, 0.3))
    assert out.n_splats == 0 and float(out.alpha.abs().max()) == 0.0
    np.testing.assert_allclose(out.rgb.numpy()[5, 7], [0.1, 0.2, 0.3], atol=1e-7)
    assert float(out.depth.abs().max()) == 0.0
    g, cam = random_scene(10, seed=7)
    with pytest.raises(ValueError, match="background"):
        CpuRenderer().render(g, cam, background=(1.0, 0.0))
    with pytest.raises(ValueError, match="tile_size"):
        CpuRenderer(tile_size=0)


def test_splats_behind_the_camera_are_culled():
    g, cam = random_scene(200, seed=8)
    mirrored = Gaussians(g.origin, 2 * torch.as_tensor(cam.position - g.origin, dtype=torch.float32) - g.means,
                         g.quats, g.scales, g.opacities, g.sh)
    out = CpuRenderer().render(mirrored, cam)
    assert out.n_splats == 0 and float(out.alpha.max()) == 0.0


# ---------------------------------------------------------------------------------------- precision
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def ground_patch(lon: float, lat: float, h: float, texture: np.ndarray, spacing: float = 0.1) -> Gaussians:
    """A flat grid of `spacing` m splats coloured by `texture` (H, W, 3), in the ENU frame at (lon, lat, h)."""
    rows, cols = texture.shape[:2]
    e = (np.arange(cols) - (cols - 1) / 2) * spacing
    n = ((rows - 1) / 2 - np.arange(rows)) * spacing
    ee, nn = np.meshgrid(e, n)
    enu = np.stack([ee.ravel(), nn.ravel(), np.zeros(ee.size)], axis=1)
    basis = enu_basis(lon, lat)
    origin = geodetic_to_ecef(lon, lat, h)
    quat = rotmat_to_quat(torch.as_tensor(basis)).float().expand(len(enu), 4)
    scales = np.tile([0.6 * spacing, 0.6 * spacing, 0.02 * spacing], (len(enu), 1))
    return Gaussians.from_rgb(origin, enu @ basis.T, quat, scales, np.full(len(enu), 0.95), texture.reshape(-1, 3))


def test_street_level_is_as_sharp_far_from_the_origin(data):
    with rasterio.open(data("pairs", "duluth_drone", "orthophoto.tif")) as src:
        texture = src.read((1, 2, 3), window=((70, 134), (70, 134))).transpose(1, 2, 0).astype(np.float32) / 255.0
    h = 150.0
    renders = []
    for lon, lat in ((0.0, 0.0), (LON, LAT)):
        g = ground_patch(lon, lat, h, texture)
        cam = Camera.from_geodetic(lon, lat, h + 2.0, heading_deg=10.0, pitch_deg=-70.0, width=128, height=96)
        renders.append((g, cam, CpuRenderer().render(g, cam)))
    (_, _, near0), (g_far, cam_far, far) = renders
    assert float(near0.alpha.mean()) > 0.9  # the patch fills the view
    assert psnr(near0.rgb.numpy(), far.rgb.numpy()) >= 45.0
    # The same splats stored as absolute float32 ECEF (no float64 origin) lose ~0.5 m: the check can fail.
    coarse = g_far.rebased(np.zeros(3))
    blurred = CpuRenderer().render(coarse, cam_far)
    assert psnr(near0.rgb.numpy(), blurred.rgb.numpy()) < 30.0


# ---------------------------------------------------------------------------------------- backends
def test_default_renderer_matches_the_machine():
    renderer = default_renderer()
    assert isinstance(renderer, Renderer)
    if torch.cuda.is_available():
        assert isinstance(renderer, GsplatRenderer)
    else:
        assert isinstance(renderer, CpuRenderer)


def test_gsplat_renderer_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gsplat", None)
    g, cam = random_scene(10, seed=9)
    with pytest.raises(ImportError, match=r"earth3d\[gpu\]"):
        GsplatRenderer(device="cpu").render(g, cam)


def test_gsplat_renderer_feeds_camera_relative_splats(monkeypatch):
    """GsplatRenderer's arguments, rasterized by a stand-in built on CpuRenderer, give the same image."""
    seen = {}

    def rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, near_plane, far_plane,
                      sh_degree, render_mode, rasterize_mode):
        seen.update(render_mode=render_mode, sh_degree=sh_degree, reach=float(means.abs().max()),
                    translation=float(viewmats[0, :3, 3].abs().max()), dtype=means.dtype)
        K = Ks[0].double().numpy()
        view_cam = Camera(cam.position, viewmats[0, :3, :3].double().numpy().T, width, height,
                          K[0, 0], K[1, 1], K[0, 2], K[1, 2], near_plane, far_plane)
        splats = Gaussians(cam.position, means, quats, scales, opacities, colors)
        out = CpuRenderer(antialiased=rasterize_mode == "antialiased").render(splats, view_cam)  # on black
        return (torch.cat([out.rgb, out.depth[..., None]], -1)[None], out.alpha[None, ..., None],
                {"radii": torch.ones(out.n_splats, 2, dtype=torch.int32)})

    monkeypatch.setitem(sys.modules, "gsplat", type(sys)("gsplat"))
    sys.modules["gsplat"].rasterization = rasterization
    g, cam = random_scene(300, seed=14, width=64, height=48, sh_degree=1, dist=(5.0, 40.0))
    bg = (0.1, 0.5, 0.2)
    for antialiased in (True, False):
        out = GsplatRenderer(antialiased=antialiased, device="cpu").render(g, cam, background=bg)
        ref = CpuRenderer(antialiased=antialiased).render(g, cam, background=bg)
        np.testing.assert_allclose(out.rgb.numpy(), ref.rgb.numpy(), atol=1e-5)
        np.testing.assert_allclose(out.alpha.numpy(), ref.alpha.numpy(), atol=1e-5)
        np.testing.assert_allclose(out.depth.numpy(), ref.depth.numpy(), rtol=1e-5, atol=1e-3)
        assert out.n_splats == ref.n_splats
    assert seen["render_mode"] == "RGB+ED" and seen["sh_degree"] == 1 and seen["dtype"] == torch.float32
    assert seen["translation"] == 0.0 and seen["reach"] < 1000.0  # offsets from the camera, not from the Earth center


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device for gsplat")
@pytest.mark.parametrize("antialiased", [True, False])
def test_gsplat_renderer_matches_cpu(antialiased):
    g, cam = random_scene(2000, seed=10, width=160, height=120, sh_degree=3, dist=(5.0, 60.0))
    bg = (0.3, 0.3, 0.3)
    gpu = GsplatRenderer(antialiased=antialiased).render(g, cam, background=bg)
    ref = CpuRenderer(antialiased=antialiased).render(g, cam, background=bg)
    assert gpu.rgb.is_cuda
    # float32 projection and fast exp on the GPU: rare splats flip at the 1/255 cut, nothing more
    assert psnr(gpu.rgb.cpu().numpy(), ref.rgb.numpy()) > 50.0
    d_alpha = np.abs(gpu.alpha.cpu().numpy() - ref.alpha.numpy())
    assert np.quantile(d_alpha, 0.999) < 1e-3 and d_alpha.max() < 0.02
    valid = ref.alpha.numpy() > 0.5
    d_depth = np.abs(gpu.depth.cpu().numpy() - ref.depth.numpy())[valid] / ref.depth.numpy()[valid]
    assert np.quantile(d_depth, 0.999) < 1e-3


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_tile_order_gives_every_thread_an_equal_share(n_threads):
    """Numba's OpenMP loop hands each thread one contiguous run of the tiles: the order must split
    into runs of equal size and about equal work (within the busiest tile), busiest first in each."""
    pairs = np.random.default_rng(3).integers(0, 5000, 920) * np.linspace(3.0, 0.2, 920)  # busy rows on top
    order = cpu.balanced_tile_order(pairs, n_threads)
    assert sorted(order.tolist()) == list(range(len(pairs)))
    runs = np.array_split(order, n_threads)
    work = [pairs[r].sum() for r in runs]
    assert max(work) - min(work) <= pairs.max()
    for r in runs:
        assert np.all(np.diff(pairs[r]) <= 0)
    halves = np.array_split(np.argsort(-pairs, kind="stable"), 2)  # the old busiest-first order, 2 threads
    assert pairs[halves[0]].sum() > 2 * pairs[halves[1]].sum()  # what it left unbalanced
