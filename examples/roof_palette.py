"""Derive the roof colour palette of earth3d.synth.city_blocks from real urban imagery.

Reads the 0.3 m WorldView-3 tile of north Las Vegas (flat commercial roofs) and
its road centrelines. Cuts the image into 3 m blocks and keeps the homogeneous
ones that are not road (farther than 12 m from a centreline), not asphalt (far
from the median colour near centrelines), not vegetation (green above red and
blue), not in shadow, not the open desert north of the arterial and not the burnt-in
watermarks at the bottom: the insides of roofs. Clusters their median colours with k-means and prints the centres and
shares, most common first; city_blocks.ROOF_FLAT holds the printed array.

    python examples/roof_palette.py [--image ../shared/data/urban/las_vegas_commercial_0p3m_rgb.tif] [-k 8]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio


def road_distance_mask(shape: tuple[int, int], transform, roads: Path, radius_m: float) -> np.ndarray:
    """Pixels within radius_m of a road centreline (sampled every pixel along each line)."""
    h, w = shape
    res_deg = abs(transform.e)
    res_m = res_deg * 111_320.0
    r = int(round(radius_m / res_m))
    mask = np.zeros(shape, bool)
    inv = ~transform
    for feat in json.loads(roads.read_text())["features"]:
        geom = feat["geometry"]
        lines = geom["coordinates"] if geom["type"] == "MultiLineString" else [geom["coordinates"]]
        for line in lines:
            pts = np.array(line)[:, :2]
            for a, b in zip(pts[:-1], pts[1:], strict=True):
                n = int(np.hypot(*(b - a)) / res_deg) + 2
                for t in np.linspace(0.0, 1.0, n):
                    col, row = inv * tuple(a + t * (b - a))
                    r0, c0 = int(row), int(col)
                    mask[max(r0 - r, 0):min(r0 + r + 1, h), max(c0 - r, 0):min(c0 + r + 1, w)] = True
    return mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="../shared/data/urban/las_vegas_commercial_0p3m_rgb.tif")
    ap.add_argument("--roads", default="../shared/data/urban/las_vegas_roads.geojson")
    ap.add_argument("-k", type=int, default=8)
    ap.add_argument("--block", type=int, default=10, help="block size in pixels (0.3 m each)")
    args = ap.parse_args()
    with rasterio.open(args.image) as f:
        img = f.read().astype(np.float64) / 255.0
        transform = f.transform
    rgb = img[:3]
    h, w = rgb.shape[1:]
    near = road_distance_mask((h, w), transform, Path(args.roads), 12.0)
    asphalt = np.median(rgb[:, road_distance_mask((h, w), transform, Path(args.roads), 2.0)], axis=1)
    valid = ~near
    valid[int(0.9 * h):] = False  # watermarks along the bottom
    valid[: int(0.38 * h)] = False  # open desert north of the arterial
    b = args.block
    hb, wb = h // b, w // b
    blocks = rgb[:, : hb * b, : wb * b].reshape(3, hb, b, wb, b).transpose(1, 3, 2, 4, 0).reshape(-1, b * b, 3)
    ok = valid[: hb * b, : wb * b].reshape(hb, b, wb, b).all(axis=(1, 3)).ravel()
    med = np.median(blocks, axis=1)
    spread = blocks.std(axis=1).mean(axis=1)
    lum = med @ np.array([0.299, 0.587, 0.114])
    green = (med[:, 1] > med[:, 0] + 0.02) & (med[:, 1] > med[:, 2])
    keep = (ok & (spread < np.percentile(spread[ok], 50)) & ~green & (lum > 0.3)
            & (np.abs(med - asphalt).sum(axis=1) > 0.12))
    x = med[keep]
    rng = np.random.default_rng(0)
    cent = x[rng.choice(len(x), args.k, replace=False)]
    for _ in range(50):
        lab = np.argmin(((x[:, None] - cent[None]) ** 2).sum(-1), axis=1)
        cent = np.array([x[lab == i].mean(0) if (lab == i).any() else cent[i] for i in range(args.k)])
    share = np.bincount(lab, minlength=args.k) / len(lab)
    order = np.argsort(-share)
    print(f"# {keep.sum()} homogeneous roof blocks of {b * 0.3:.1f} m from {args.image}; "
          f"asphalt {np.round(asphalt, 3).tolist()}")
    print("ROOF_FLAT = np.array([")
    for i in order:
        print(f"    [{cent[i, 0]:.3f}, {cent[i, 1]:.3f}, {cent[i, 2]:.3f}],  # share {share[i]:.3f}")
    print("])")


if __name__ == "__main__":
    main()
