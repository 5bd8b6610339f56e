"""refine: splat colours fitted to posed images (CPU linear solve; gsplat on CUDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_path
from rasterio.transform import Affine

import earth3d
import earth3d.store
from earth3d.geometry import Camera, crs_to_ecef
from earth3d.raster import GeoRaster
from earth3d.refine import read_dataset, refine, view_weights, write_dataset
from earth3d.renderers import CpuRenderer


def _fine_and_coarse() -> tuple[GeoRaster, GeoRaster]:
    """A 64 x 64 fully valid crop of the Duluth drone pair, and the same area at half resolution (2 x 2 means)."""
    r = earth3d.read_raster(data_path("pairs", "duluth_drone", "dtm.tif"),
                            data_path("pairs", "duluth_drone", "orthophoto.tif"), vertical_datum="ellipsoid")
    r0, c0, n = 110, 70, 64
    assert r.valid[r0:r0 + n, c0:c0 + n].all()
    t = r.transform @ Affine.translation(c0, r0)
    fine = GeoRaster(r.rgb[r0:r0 + n, c0:c0 + n].copy(), r.height[r0:r0 + n, c0:c0 + n].copy(),
                     np.ones((n, n), bool), t, r.crs, "ellipsoid")
    half = lambda a: a.reshape(n // 2, 2, n // 2, 2, *a.shape[2:]).mean(axis=(1, 3))  # noqa: E731
    coarse = GeoRaster(half(fine.rgb).astype(np.float32), half(fine.height).astype(np.float32),
                       np.ones((n // 2, n // 2), bool), t @ Affine.scale(2), r.crs, "ellipsoid")
    return fine, coarse


def _views(r: GeoRaster, count: int, size: int = 64) -> list[Camera]:
    """`count` cameras around the crop's center, 40-70 deg down, `size` px square, 50 deg field of view."""
    h, w = r.shape
    x, y = r.transform @ (w / 2, h / 2)
    ground = float(np.median(r.height))
    target = crs_to_ecef(r.crs, x, y, ground)
    up = crs_to_ecef(r.crs, x, y, ground + 1.0) - target
    east = crs_to_ecef(r.crs, x + 1.0, y, ground) - target
    east -= (east @ up) * up
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    extent = max(r.resolution) * w
    cams = []
    for i in range(count):
        heading, pitch = 2 * np.pi * i / count, np.radians(40 + 30 * ((i * 7) % count) / count)
        back = -np.cos(pitch) * (np.sin(heading) * east + np.cos(heading) * north) + np.sin(pitch) * up
        eye = target + back * 0.8 * extent
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, up)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        f = size / 2 / np.tan(np.radians(25))
        cams.append(Camera(eye, np.stack([right, down, forward], axis=1), size, size, f, f, size / 2, size / 2))
    return cams


def test_view_weights_reproduce_the_render():
    fine, _ = _fine_and_coarse()
    g = earth3d.lift(fine)
    cam = _views(fine, 3)[1]
    w, alpha = view_weights(g, cam)
    linear = (w @ g.rgb.double().numpy()).reshape(cam.height, cam.width, 3)
    out = CpuRenderer().render(g, cam)
    assert np.abs(linear - out.rgb.numpy()).max() < 2e-3
    assert np.abs(alpha.reshape(cam.height, cam.width) - out.alpha.numpy()).max() < 2e-3


def test_refine_on_cpu_raises_held_out_psnr(tmp_path):
    """Views of a store lifted at full resolution refine one lifted at half resolution: >= 2 dB on held-out views.

    The views have about 1.3 px per coarse cell (0.7 per fine cell); 12 views, every 4th held out.
    """
    fine, coarse = _fine_and_coarse()
    cams = _views(fine, 12, size=32)
    renderer = CpuRenderer()
    truth = earth3d.lift(fine)
    images = [renderer.render(truth, c).rgb.numpy().clip(0, 1) for c in cams]
    write_dataset(tmp_path / "views", images, cams)
    images, cams = read_dataset(tmp_path / "views")  # through the dataset format (8-bit PNGs)
    start = earth3d.lift(coarse)
    result = refine(start, images, cams, holdout_every=4, device="cpu")
    print(f"\nrefine (CPU): held-out views {result.held_out_views}: PSNR {result.psnr_before:.2f} -> "
          f"{result.psnr_after:.2f} dB")
    assert result.path == "cpu" and result.held_out_views == [0, 4, 8]
    assert result.psnr_after >= result.psnr_before + 2.0
    rgb = result.gaussians.sh[:, 0] * earth3d.gaussians.SH_C0 + 0.5
    assert float(rgb.min()) >= -1e-6 and float(rgb.max()) <= 1 + 1e-6
    assert torch.equal(result.gaussians.means, start.means) and len(result.gaussians) == len(start)


def test_refine_store_writes_a_new_store(tmp_path):
    from earth3d.refine import refine_store

    fine, coarse = _fine_and_coarse()
    cams = _views(fine, 6, size=32)
    truth = earth3d.lift(fine)
    write_dataset(tmp_path / "views", [CpuRenderer().render(truth, c).rgb.numpy().clip(0, 1) for c in cams], cams)
    earth3d.store.build_store([earth3d.lift(coarse)], tmp_path / "coarse.e3d", leaf_cap=256)
    result = refine_store(tmp_path / "coarse.e3d", tmp_path / "views", tmp_path / "refined.e3d", holdout_every=3,
                          device="cpu")
    src, out = earth3d.store.open_store(tmp_path / "coarse.e3d"), earth3d.store.open_store(tmp_path / "refined.e3d")
    assert out.info()["splat_count"] == src.info()["splat_count"] and out.info()["leaf_cap"] == 256
    assert result.psnr_after > result.psnr_before
    refined = out.read_leaves()
    assert not torch.allclose(refined.sh, src.read_leaves().sh)  # colours changed, the store is new

def test_refine_rejects_mismatched_inputs():
    fine, _ = _fine_and_coarse()
    g = earth3d.lift(fine)
    cams = _views(fine, 2)
    with pytest.raises(ValueError, match="one image per camera"):
        refine(g, [np.zeros((64, 64, 3))], cams)
    with pytest.raises(ValueError, match="shape"):
        refine(g, [np.zeros((32, 64, 3))] * 2, cams)
    with pytest.raises(ValueError, match="no view to fit"):
        refine(g, [np.zeros((64, 64, 3))] * 2, cams, holdout_every=1)


@pytest.mark.gpu
def test_refine_with_gsplat_raises_held_out_psnr():
    gsplat = pytest.importorskip("gsplat")  # noqa: F841
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    fine, coarse = _fine_and_coarse()
    cams = _views(fine, 12, size=32)
    truth = earth3d.lift(fine)
    images = [CpuRenderer().render(truth, c).rgb.numpy().clip(0, 1) for c in cams]
    result = refine(earth3d.lift(coarse), images, cams, holdout_every=4, device="cuda")
    print(f"\nrefine (gsplat): PSNR {result.psnr_before:.2f} -> {result.psnr_after:.2f} dB")
    assert result.path == "gsplat"
    assert result.psnr_after >= result.psnr_before + 1.0


def test_refine_command_builds_a_new_store_and_refuses_to_overwrite(tmp_path, capsys):
    from earth3d.cli import main

    fine, coarse = _fine_and_coarse()
    cams = _views(fine, 6, size=32)
    truth = earth3d.lift(fine)
    write_dataset(tmp_path / "views", [CpuRenderer().render(truth, c).rgb.numpy().clip(0, 1) for c in cams], cams)
    earth3d.store.build_store([earth3d.lift(coarse)], tmp_path / "coarse.e3d", leaf_cap=256)
    args = ["refine", "--store", str(tmp_path / "coarse.e3d"), "--dataset", str(tmp_path / "views"),
            "--out", str(tmp_path / "refined.e3d"), "--holdout-every", "3", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert earth3d.store.open_store(tmp_path / "refined.e3d").info()["splat_count"] > 0
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("earth3d: error:") and "--overwrite" in err[-1]
