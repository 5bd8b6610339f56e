"""Derive the crop-parcel colour palette of earth3d.synth.landcover from a real NAIP orthophoto.

Cuts the image into 60 m blocks, keeps the homogeneous land blocks (low colour
spread; water, whose NIR is low, left out: these are the insides of fields),
clusters their median colours with k-means and prints the cluster centres and
their shares, most common first; landcover.FIELD_PALETTE holds the printed array.

    python examples/field_palette.py [--image ../shared/data/ortho/north_dakota_naip_2020.tif] [-k 16]
"""

from __future__ import annotations

import argparse

import numpy as np
import rasterio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="../shared/data/ortho/north_dakota_naip_2020.tif")
    ap.add_argument("-k", type=int, default=16)
    ap.add_argument("--block", type=int, default=12, help="block size in pixels")
    args = ap.parse_args()
    with rasterio.open(args.image) as f:
        img = f.read().astype(np.float64) / 255.0  # R, G, B, NIR
    b = args.block
    c, h, w = img.shape
    blocks = img[:, : h // b * b, : w // b * b].reshape(c, h // b, b, w // b, b)
    blocks = blocks.transpose(1, 3, 2, 4, 0).reshape(-1, b * b, c)
    med = np.median(blocks, axis=1)
    spread = blocks[..., :3].std(axis=1).mean(axis=1)
    keep = (spread < np.percentile(spread, 75)) & (med[:, 3] > med[:, 0] + 0.05)  # homogeneous, not water
    x = med[keep, :3]
    rng = np.random.default_rng(0)
    cent = x[rng.choice(len(x), args.k, replace=False)]
    for _ in range(50):
        lab = np.argmin(((x[:, None] - cent[None]) ** 2).sum(-1), axis=1)
        cent = np.array([x[lab == i].mean(0) if (lab == i).any() else cent[i] for i in range(args.k)])
    share = np.bincount(lab, minlength=args.k) / len(lab)
    order = np.argsort(-share)
    print(f"# {keep.sum()} homogeneous land blocks of {b * 5} m from {args.image}")
    print("FIELD_PALETTE = np.array([")
    for i in order:
        print(f"    [{cent[i, 0]:.3f}, {cent[i, 1]:.3f}, {cent[i, 2]:.3f}],  # share {share[i]:.3f}")
    print("])")


if __name__ == "__main__":
    main()
