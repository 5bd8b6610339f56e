"""CesiumJS loads and draws exported 3D Tiles tilesets (SPZ-compressed Gaussian splats in the explicit and
the implicit-tiling layouts, textured terrain meshes) in headless Chromium, through the project's viewer
page, and the image matches our own renderer, without seams. Needs node/npm and a Chromium
(`apt-get install chromium`); skips, saying which is missing, otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from affine import Affine
from conftest import data_path

import earth3d
from earth3d.export import write_terrain_tileset, write_tileset
from earth3d.export.viewer import CESIUM_PACKAGE, npm_cache, serve
from earth3d.geometry import Camera
from earth3d.raster import GeoRaster
from earth3d.renderers.cpu import CpuRenderer
from earth3d.store import build_store

NPM_DIR = npm_cache()
PACKAGES = [CESIUM_PACKAGE, "playwright-core@1.65.1"]

# Opens the page, waits for the tileset to report all tiles loaded, then until the drawn image stops
# changing (splat textures are built in web workers after loading), and saves a screenshot.
_CHECK_JS = """
import { chromium } from "playwright-core";
const [url, shot, browserPath] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: browserPath, headless: true,
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 480, height: 360 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => { if (m.type() === "error" && m.text()) errors.push(m.text()); });
await page.goto(url);
const lit = () => page.evaluate(() => {
  const src = document.querySelector("canvas");
  const c = document.createElement("canvas");
  c.width = src.width; c.height = src.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let y = 0; y < c.height - 40; y++) {  // leave out the credit logo along the bottom
    for (let x = 0; x < c.width; x++) {
      const i = 4 * (y * c.width + x);
      if (d[i] + d[i + 1] + d[i + 2] > 30) n++;
    }
  }
  return n;
});
let status = { state: "loading" }, last = -1, stable = 0;
const t0 = Date.now();
while (Date.now() - t0 < 120000) {
  await page.waitForTimeout(500);
  status = await page.evaluate(() => window.earth3dStatus);
  if (status.state === "error") break;
  if (status.state !== "ready") continue;
  const n = await lit();
  stable = n > 0 && n === last ? stable + 1 : 0;
  last = n;
  if (stable >= 4) break;
}
await page.screenshot({ path: shot });
const camera = await page.evaluate(() => {
  const c = window.earth3dViewer.camera, v = (p) => [p.x, p.y, p.z];
  return { position: v(c.positionWC), direction: v(c.directionWC), up: v(c.upWC), right: v(c.rightWC),
           fovy: c.frustum.fovy };
});
console.log(JSON.stringify({ status, errors, camera }));
await browser.close();
"""


@pytest.fixture(scope="module")
def browser_tools() -> tuple[Path, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium found (apt-get install chromium)")
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for CesiumJS and playwright-core")
    modules = NPM_DIR / "node_modules"
    if not all((modules / p.rsplit("@", 1)[0]).is_dir() for p in PACKAGES):
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NPM_DIR), *PACKAGES],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not npm install {PACKAGES}: {exc}")
    script = NPM_DIR / "earth3d_cesium_check.mjs"
    if not script.exists() or script.read_text() != _CHECK_JS:
        script.write_text(_CHECK_JS)
    return NPM_DIR, chromium


@pytest.mark.parametrize("content", ["splats", "splats-implicit", "terrain"])
def test_cesium_draws_exported_tileset(tmp_path, browser_tools, content):
    npm_dir, chromium = browser_tools
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = earth3d.read_raster(data_path("pairs", "duluth_drone", "dtm.tif"),
                                data_path("pairs", "duluth_drone", "orthophoto.tif"))
    r0, c0, n = 40, 40, 120
    crop = GeoRaster(r.rgb[r0:r0 + n, c0:c0 + n], r.height[r0:r0 + n, c0:c0 + n], r.valid[r0:r0 + n, c0:c0 + n],
                     r.transform @ Affine.translation(c0, r0), r.crs, r.vertical_datum, r.source)
    splats = earth3d.lift(crop, walls=False)
    if content.startswith("splats"):
        build_store([splats], tmp_path / "store", leaf_cap=2000)
        layout = "implicit" if content == "splats-implicit" else "explicit"
        write_tileset(tmp_path / "store", tmp_path / "tiles", compression="spz", layout=layout)
    else:
        write_terrain_tileset(crop, tmp_path / "tiles", tile_cells=32)

    cesium = npm_dir / "node_modules" / "cesium" / "Build" / "Cesium"
    server = serve(tmp_path / "tiles", cesium, port=0, background=True)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        shot = tmp_path / "cesium.png"
        out = subprocess.run(["node", str(npm_dir / "earth3d_cesium_check.mjs"), url, str(shot), chromium],
                             capture_output=True, text=True, timeout=240, cwd=npm_dir)
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"]["state"] == "ready", report
    assert report["status"]["tiles"] > 0
    assert not [e for e in report["errors"] if "splat" in e.lower() or "error" in e.lower()], report["errors"]

    img = iio.imread(shot)[..., :3].astype(np.float64) / 255.0
    drawn = img.sum(axis=-1) > 30 / 255.0
    drawn[-40:, :] = False  # the credit logo along the bottom
    assert drawn.mean() > 0.02, "the splats cover too little of the view"
    # what is drawn has the orthophoto's colours (not blank, not a single flat colour)
    ortho = crop.rgb[crop.valid]
    assert np.abs(img[drawn].mean(axis=0) - ortho.mean(axis=0)).max() < 0.12
    assert img[drawn].std(axis=0).min() > 0.03

    # and it is the scene where it belongs: our own renderer, from CesiumJS's camera, draws the same image
    # (of the splats; the terrain mesh carries the same orthophoto)
    cam = report["camera"]
    rotation = np.stack([cam["right"], -np.asarray(cam["up"]), cam["direction"]], axis=1)
    camera = Camera.from_pose(np.asarray(cam["position"]), rotation, img.shape[1], img.shape[0],
                              np.degrees(cam["fovy"]))
    ours = CpuRenderer().render(splats, camera).rgb.numpy()
    both = drawn | (ours.sum(axis=-1) > 30 / 255.0)
    corr = np.corrcoef(img[both].mean(axis=-1), ours[both].mean(axis=-1))[0, 1]
    assert corr > 0.8, f"CesiumJS's image and ours differ (correlation {corr:.2f})"
    # and without seams: no thin dark lines across the drawn surface (CesiumJS renders splats in float32
    # relative to the center of the tileset's root volume; an implicit root volume centered on the earth's
    # center left them quantized to ~0.5 m, which drew dark lines across the surface)
    seams = _thin_dark_lines(img, drawn, ours)
    assert seams < 1e-3, f"{seams:.2%} of the drawn surface lies on thin dark lines that our renderer does not draw"


def _thin_dark_lines(img: np.ndarray, drawn: np.ndarray, ours: np.ndarray, reach: int = 3, margin: int = 6) -> float:
    """Share of the drawn surface's inner pixels (`margin` px from its edge) that are much darker (< 0.6x)
    than both pixels `reach` px away along a row or a column (lines 1-5 px wide), where our own image of
    the same view has no such line within 2 px: seams, not the dark texture (shadows, crowns) of the scene."""
    from scipy.ndimage import binary_dilation

    inner = drawn.copy()
    for axis in (0, 1):
        for shift in range(1, margin + 1):
            inner &= np.roll(drawn, shift, axis) & np.roll(drawn, -shift, axis)

    def lines(image: np.ndarray) -> np.ndarray:
        lum = image.mean(axis=-1)
        found = np.zeros(lum.shape, bool)
        for axis in (0, 1):
            found |= lum < 0.6 * np.minimum(np.roll(lum, reach, axis), np.roll(lum, -reach, axis))
        return found

    own = binary_dilation(lines(ours), iterations=2)
    return float((inner & lines(img) & ~own).sum() / max(inner.sum(), 1))


def test_thin_dark_line_detector_finds_seams_and_ignores_shared_texture():
    rng = np.random.default_rng(0)
    scene = 0.3 + 0.4 * rng.random((120, 160, 3))
    scene[40:42, 20:90] *= 0.3  # a dark shadow line that both renderers draw
    drawn = np.ones(scene.shape[:2], bool)
    assert _thin_dark_lines(scene, drawn, scene) == 0.0
    seamed = scene.copy()
    seamed[:, 80] *= 0.3  # a one-pixel seam down the middle that only one of them draws
    seamed[60, :] *= 0.3
    assert _thin_dark_lines(seamed, drawn, scene) > 5e-3
