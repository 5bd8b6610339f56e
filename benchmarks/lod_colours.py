"""Merged-node colours: the build's weighted means against colours solved at the node's resolution.

A merged (inner) node's splat takes the opacity x footprint weighted mean of its members'
colours: the average of the finer level over its voxel. Drawn together, merged splats overlap
(their axes are widened to keep coverage), so one might expect their render to wash out and
colours solved against that overlap to keep contrast. This benchmark measures it. The demo
world's full-detail splats are built into two stores, the same but for the merged colours:

- means: the build as it is;
- solved: each merged node's colours c minimize ||W c - m||^2 + lam ||c - m||^2 with c in [0, 1]
  (FISTA, --iters steps), where m are the weighted means (the finer level averaged at the node's
  resolution, its voxel side) and W blends the node's splats at their centres the way compositing
  does on a surface: row-normalized opacity x Gaussian weights of each splat and its neighbours in
  the 3x3x3 voxels around it, every Gaussian widened by the renderer's 0.3 px^2 low-pass at one
  pixel per voxel side.

Then it renders the demo's descent (1280x720, the default splat budget) from both and prints, per
altitude band, the worst and mean PSNR of the LOD frames against a render of every full-detail
splat, and each build's time.

    python benchmarks/lod_colours.py [--demo-dir earth3d_demo] [--frames 36] [--lam 0.05 --iters 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from flythrough import BANDS, _ensure_demo

import earth3d
import earth3d.store
import earth3d.store.tasks as build_tasks
from earth3d.gaussians import SH_C0
from earth3d.geometry import paths
from earth3d.geometry.gaussian_math import covariance_nb
from earth3d.renderers import default_renderer
from earth3d.stream import Stream

OFFSETS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])


def voxel_neighbours(rel: np.ndarray, side: float) -> np.ndarray:
    """(m, 27) index of the splat in each of the 3x3x3 voxels around each splat's voxel (-1: none)."""
    ijk = np.floor(rel / side).astype(np.int64)
    ijk -= ijk.min(axis=0) - 1
    dims = ijk.max(axis=0) + 2
    key = (ijk[:, 0] * dims[1] + ijk[:, 1]) * dims[2] + ijk[:, 2]
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    out = np.full((len(rel), 27), -1, np.int64)
    for o, (a, b, c) in enumerate(OFFSETS):
        q = ((ijk[:, 0] + a) * dims[1] + ijk[:, 1] + b) * dims[2] + ijk[:, 2] + c
        at = np.minimum(np.searchsorted(sorted_keys, q), len(key) - 1)
        hit = sorted_keys[at] == q
        out[hit, o] = order[at[hit]]
    return out


def blend_weights(rel, cov6, opacity, nb, filter_var) -> np.ndarray:
    """(m, 27) row-normalized opacity x Gaussian weights of each neighbour at each splat's centre."""
    c = cov6.astype(np.float64).copy()
    c[:, [0, 3, 5]] += filter_var
    a, b, e, d, f, g = (c[:, i] for i in range(6))  # xx, xy, xz, yy, yz, zz
    cof = np.stack([d * g - f * f, e * f - b * g, b * f - e * d, a * g - e * e, b * e - a * f, a * d - b * b], 1)
    inv = cof / (a * cof[:, 0] + b * cof[:, 1] + e * cof[:, 2])[:, None]
    w = np.zeros(nb.shape)
    for o in range(nb.shape[1]):
        ok = nb[:, o] >= 0
        j = nb[ok, o]
        x, y, z = (rel[ok] - rel[j]).T
        iv = inv[j]
        q = iv[:, 0] * x * x + iv[:, 3] * y * y + iv[:, 5] * z * z + 2 * (iv[:, 1] * x * y + iv[:, 2] * x * z
                                                                          + iv[:, 4] * y * z)
        w[ok, o] = opacity[j] * np.exp(-0.5 * q)
    return w / np.maximum(w.sum(axis=1, keepdims=True), 1e-30)


def solve_colours(rel, quats, scales, opacity, means, side, lam: float, iters: int) -> np.ndarray:
    """Colours in [0, 1] whose blend at the splat centres gives `means` (see the module docstring)."""
    nb = voxel_neighbours(rel, side)
    w = blend_weights(rel, covariance_nb(quats, scales), opacity.astype(np.float64), nb, 0.3 * side * side)
    safe = np.maximum(nb, 0)

    def blend(c):
        return np.einsum("mo,moc->mc", w, np.where(nb[..., None] >= 0, c[safe], 0.0))

    def adjoint(r):
        out = np.zeros_like(r)
        for k in range(3):
            out[:, k] = np.bincount(safe.ravel(), (w * r[:, k, None] * (nb >= 0)).ravel(), len(r))
        return out

    c = y = means.copy()
    s = 1.0
    step = 1.0 / (1.5 * (1.0 + lam))  # rows sum to 1: the blend's norm is about 1
    for _ in range(iters):
        grad = adjoint(blend(y) - means) + lam * (y - means)
        nxt = np.clip(y - step * grad, 0.0, 1.0)
        s_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * s * s))
        y, c, s = nxt + (s - 1.0) / s_next * (nxt - c), nxt, s_next
    return c


def solving_merge(lam: float, iters: int):
    """`merge_splats` followed by the colour solve of its merged splats (DC term; SH rest kept)."""
    merge = build_tasks.merge_splats

    def merged_and_solved(splats, cell_min, side, *args, **kw):
        merged, error, res = merge(splats, cell_min, side, *args, **kw)
        if len(merged) > 1:
            dc = merged.sh[:, 0, :].astype(np.float64)
            rgb = np.clip(SH_C0 * dc + 0.5, 0.0, 1.0)
            solved = solve_colours(merged.pos - cell_min, merged.quats, merged.scales, merged.opacities, rgb, error,
                                   lam, iters)
            merged.sh[:, 0, :] = (dc + (solved - rgb) / SH_C0).astype(np.float32)
        return merged, error, res

    return merged_and_solved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo-dir", type=Path, default=Path("earth3d_demo"))
    ap.add_argument("--frames", type=int, default=36)
    ap.add_argument("--lam", type=float, default=0.05, help="weight of the pull toward the weighted means")
    ap.add_argument("--iters", type=int, default=10)
    args = ap.parse_args()
    _ensure_demo(args.demo_dir)
    meta = json.loads((args.demo_dir / "path.json").read_text())
    demo = earth3d.store.open_store(args.demo_dir / meta["store"])
    leaves = demo.read_leaves()
    leaf_cap = demo.info()["leaf_cap"]
    lon, lat = meta["street_lonlat"]
    cams = paths.descent(lon, lat, args.frames, ground_m=meta["ground_m"], heading_deg=meta["heading_deg"],
                         street_distance_m=meta["street_m"], width=1280, height=720)
    alts = np.array([c.geodetic()[2] for c in cams]) - meta["ground_m"]
    renderer = default_renderer()
    with tempfile.TemporaryDirectory(prefix="e3d-lod-colours-") as tmp:
        stores, merge = {}, build_tasks.merge_splats
        for name, patched in (("means", merge), ("solved", solving_merge(args.lam, args.iters))):
            build_tasks.merge_splats = patched
            try:
                t0 = time.perf_counter()
                stores[name] = earth3d.store.build_store([leaves], Path(tmp) / f"{name}.e3d", leaf_cap=leaf_cap)
                print(f"{name}: built {len(leaves)} splats in {time.perf_counter() - t0:.1f} s")
            finally:
                build_tasks.merge_splats = merge
        psnr = {name: np.zeros(len(cams)) for name in stores}
        streams = {name: Stream(store) for name, store in stores.items()}
        for i, cam in enumerate(cams):
            full = renderer.render(leaves.rebased(cam.position), cam).rgb.numpy()
            for name, stream in streams.items():
                lod = earth3d.render(stream, cam, renderer).rgb.numpy()
                psnr[name][i] = 10 * np.log10(1.0 / max(float(np.mean((lod - full) ** 2)), 1e-12))
        for stream in streams.values():
            stream.close()
    print(f"\nPSNR of the LOD frames against full detail, dB (lam {args.lam}, {args.iters} iterations)")
    print(f"{'altitude band':<18}{'means worst':>12}{'mean':>7}{'solved worst':>14}{'mean':>7}")
    for lo, hi, band in BANDS:
        sel = (alts >= lo) & (alts < hi)
        if sel.any():
            print(f"{band:<18}{psnr['means'][sel].min():>12.2f}{psnr['means'][sel].mean():>7.2f}"
                  f"{psnr['solved'][sel].min():>14.2f}{psnr['solved'][sel].mean():>7.2f}")
    print(f"whole descent: means {psnr['means'].mean():.2f} dB, solved {psnr['solved'].mean():.2f} dB")


if __name__ == "__main__":
    main()
