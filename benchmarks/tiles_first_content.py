"""Time to first content of splat 3D Tiles in CesiumJS (headless Chromium), before and after a change.

A store of >= 10^6 splats (the Duluth drone survey resampled to --resolution metres) is exported as 3D
Tiles, explicit and implicit, by this checkout and, as the baseline of the same run, by the earth3d of
git revision --before (exported in a subprocess from `git archive` of that revision). Each tileset is
served from 127.0.0.1 and opened in the project's viewer page (earth3d.export.viewer) by headless
Chromium, at CesiumJS's default maximumScreenSpaceError (16) and at the viewer's full detail (1); the
script records every request for the tileset's files and samples the drawn canvas every ~100 ms (less
often while CesiumJS's main thread is busy). It prints, per tileset: tile requests (content GLBs and
subtree files) made before the first non-empty frame, the time from tileset.json's arrival to that frame,
the time to a stable frame (the drawn image unchanged for 3 s once CesiumJS reports all tiles loaded) and
the requests up to it, and the ratios after / before.

    python benchmarks/tiles_first_content.py [--before 627b8e4] [--resolution 0.06] [--sse 16 1] [--repeat 3]

Each load is repeated --repeat times, before and after alternating, and the medians are printed.

Needs node/npm and Chromium (as tests/test_cesium.py). Times are wall-clock times of a software-rendered
(SwiftShader) browser: on a loaded machine compare the ratios and request counts, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import earth3d
from earth3d.export import write_tileset
from earth3d.export.viewer import CESIUM_PACKAGE, npm_cache, serve
from earth3d.store import build_store, open_store

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EARTH3D_TEST_DATA", REPO.parent / "shared" / "data"))
PACKAGES = [CESIUM_PACKAGE, "playwright-core@1.65.1"]

_PROBE_JS = """
import { chromium } from "playwright-core";
const [url, browserPath, limitMs] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: browserPath, headless: true,
  args: ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 480, height: 360 } });
const t0 = Date.now();
const requests = [];
page.on("requestfinished", (r) => {
  const u = r.url();
  if (u.includes("/data/")) requests.push({ path: u.split("/data/")[1], t: Date.now() - t0 });
});
await page.goto(url);
const lit = () => page.evaluate(() => {
  const src = document.querySelector("canvas");
  if (!src) return 0;
  const c = document.createElement("canvas");
  c.width = src.width; c.height = src.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(src, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height - 40).data;  // less the credit logo along the bottom
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 30) n++;
  return n;
});
const samples = [];
let stableSince = null, last = -1;
while (Date.now() - t0 < Number(limitMs)) {
  await page.waitForTimeout(100);
  const status = await page.evaluate(() => window.earth3dStatus);
  const n = await lit();
  const t = Date.now() - t0;
  samples.push({ t, n, state: status.state });
  if (status.state === "error") break;
  if (n > 0 && n === last && status.state === "ready") {
    if (stableSince === null) stableSince = samples[samples.length - 2].t;
    if (t - stableSince >= 3000) break;
  } else {
    stableSince = null;
  }
  last = n;
}
console.log(JSON.stringify({ requests, samples, stableSince }));
await browser.close();
"""


def browser_tools() -> tuple[Path, str]:
    """The npm folder with CesiumJS and playwright-core (installed on first use) and a Chromium binary."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not shutil.which("npm"):
        sys.exit("needs Chromium and node/npm (apt-get install chromium nodejs npm)")
    npm = npm_cache()
    if not all((npm / "node_modules" / p.rsplit("@", 1)[0]).is_dir() for p in PACKAGES):
        npm.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(npm), *PACKAGES], check=True)
    script = npm / "earth3d_first_content.mjs"
    if not script.exists() or script.read_text() != _PROBE_JS:
        script.write_text(_PROBE_JS)
    return npm, chromium


def duluth_store(workdir: Path, resolution: float) -> Path:
    """The Duluth survey resampled to `resolution` m, lifted and built into a store (once per workdir)."""
    path = workdir / f"duluth_{resolution:g}m"
    if not (path / "store.json").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raster = earth3d.read_raster(DATA / "pairs" / "duluth_drone" / "dtm.tif",
                                         DATA / "pairs" / "duluth_drone" / "orthophoto.tif", resolution=resolution)
        build_store([earth3d.lift(raster, walls=False)], path)
    return path


def export_before(revision: str, store: Path, out: Path, layout: str) -> None:
    """Export `store` with the earth3d of git `revision` (in a subprocess, from `git archive`)."""
    src = out.parent / f"src_{revision}"
    if not src.exists():
        src.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "earth3d"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(src, filter="data")
    code = ("import sys; from earth3d.export import write_tileset; "
            "write_tileset(sys.argv[1], sys.argv[2], layout=sys.argv[3], overwrite=True)")
    subprocess.run([sys.executable, "-c", code, str(store), str(out), layout], check=True,
                   env={**os.environ, "PYTHONPATH": str(src)}, cwd=out.parent)


def probe(tiles: Path, npm: Path, chromium: str, limit_s: float, sse: float) -> dict:
    """Open `tiles` in the viewer page (maximumScreenSpaceError `sse`); the figures of one load, times in ms
    from the arrival of tileset.json.
    """
    server = serve(tiles, npm / "node_modules" / "cesium" / "Build" / "Cesium", port=0, background=True)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/?sse={sse:g}"
        out = subprocess.run(["node", str(npm / "earth3d_first_content.mjs"), url, chromium, str(int(limit_s * 1000))],
                             capture_output=True, text=True, timeout=limit_s + 120, cwd=npm, check=True)
    finally:
        server.shutdown()
    run = json.loads(out.stdout.strip().splitlines()[-1])
    start = next(r["t"] for r in run["requests"] if r["path"].endswith("tileset.json"))
    first = next((s["t"] - start for s in run["samples"] if s["n"] > 0), None)
    stable = run["stableSince"] - start if run["stableSince"] is not None else None
    tile_files = [r for r in run["requests"] if r["path"].endswith((".glb", ".subtree"))]
    before = lambda t: sum(r["t"] - start <= t for r in tile_files) if t is not None else None  # noqa: E731
    return {"first_ms": first, "stable_ms": stable, "requests_first": before(first), "requests_stable": before(stable),
            "requests_total": len(tile_files)}


def median(values: list) -> float | None:
    """The median of the values that are not None (None when all are)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    mid = len(known) // 2
    return known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="627b8e4", help="git revision whose export is the baseline")
    ap.add_argument("--resolution", type=float, default=0.06, help="resampled ground resolution (m)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "earth3d_ttfc")
    ap.add_argument("--limit", type=float, default=150.0, help="seconds allowed per page load")
    ap.add_argument("--sse", type=float, nargs="+", default=[16.0, 1.0], help="maximumScreenSpaceError values")
    ap.add_argument("--repeat", type=int, default=3, help="loads per tileset and sse (medians are printed)")
    args = ap.parse_args()
    npm, chromium = browser_tools()
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = duluth_store(args.workdir, args.resolution)
    info = open_store(store).info()
    print(f"store: {info['splat_count']:,} splats, {info['node_count']} nodes, levels {info['levels']}")
    rows = {}
    for layout in ("explicit", "implicit"):
        for which in ("before", "after"):
            out = args.workdir / f"{which}_{layout}"
            if which == "after":
                write_tileset(store, out, layout=layout, overwrite=True)
            else:
                export_before(args.before, store, out, layout)
        for sse in args.sse:
            runs: dict = {"before": [], "after": []}
            for _ in range(args.repeat):  # alternating, so that a change in the machine's load hits both
                for which in ("before", "after"):
                    runs[which].append(probe(args.workdir / f"{which}_{layout}", npm, chromium, args.limit, sse))
            for which in ("before", "after"):
                rows[which, layout, sse] = r = {k: median([run[k] for run in runs[which]]) for k in runs[which][0]}
                print(f"{layout:8s} sse {sse:g} {which:6s}: {r['requests_first']} tile requests before the first "
                      f"frame, first frame {r['first_ms']} ms, stable frame {r['stable_ms']} ms after "
                      f"{r['requests_stable']} requests ({r['requests_total']} in all)  [median of {args.repeat}: "
                      f"first frame {[run['first_ms'] for run in runs[which]]}]", flush=True)
    for layout, sse in ((layout, sse) for layout in ("explicit", "implicit") for sse in args.sse):
        b, a = rows["before", layout, sse], rows["after", layout, sse]
        def ratio(k: str, a: dict = a, b: dict = b) -> str:
            return f"{a[k] / b[k]:.2f}" if a[k] and b[k] else "n/a"

        print(f"{layout:8s} sse {sse:g} after/before: first frame x{ratio('first_ms')}, stable frame "
              f"x{ratio('stable_ms')}, tile requests before the first frame {b['requests_first']} -> "
              f"{a['requests_first']}")


if __name__ == "__main__":
    main()
