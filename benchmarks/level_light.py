"""Light across levels: the mean linear light of the same box at every cell size, this generator and a baseline.

A coarser image of a place sums the light of what a finer one shows: the mean of the linear
(decoded sRGB) values of a box should not change with the cell size. This prints it for a box on
a city centre (default: the demo's city, seed 0) and for the same box without cities (the land
cover under it), at 0.5 to 60 m, and its ratio to the 0.5 m figure; then the same for a baseline
revision on the same boxes. Each world runs in a process of its own, so that no cache of one
world serves the other.

    python benchmarks/level_light.py [--seed 0] [--lonlat 10.27892 0.29173] [--half 0.006] [--baseline a982d9d]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_checkout import baseline_checkout  # noqa: E402

RESOLUTIONS = (0.5, 2.0, 10.0, 30.0, 60.0)
#: The revision before the city's surfaces were mixed in linear light.
DEFAULT_REVISION = "a982d9d"


def measure(seed: int, lon: float, lat: float, half: float, cities: bool) -> list[float]:
    """Mean linear light (grey: the mean of the three channels) per cell size."""
    from earth3d.synth import ProceduralWorld

    bbox = (lon - half, lat - half, lon + half, lat + half)
    world = ProceduralWorld(seed, cities=cities)
    light = []
    for res in RESOLUTIONS:
        c = np.clip(world.generate(bbox=bbox, resolution_m=res).rgb.astype(np.float64), 0.0, 1.0)
        # decoded here, not with earth3d.synth.srgb: the baseline revision may not have it
        light.append(float(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).mean()))
    return light


def in_process(args, cities: bool, checkout: str | None = None) -> list[float] | None:
    """`measure` in a process of its own (each world alone in it), of this tree or of `checkout`."""
    cmd = [sys.executable, __file__, "--json", "--seed", str(args.seed), "--lonlat", *map(str, args.lonlat),
           "--half", str(args.half)] + ([] if cities else ["--no-cities"])
    env = dict(os.environ, PYTHONPATH=checkout) if checkout else None
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{checkout or 'this tree'} failed:\n{r.stderr[-2000:]}")
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def report(title: str, figures: dict) -> None:
    print(f"\n{title}")
    print(f"{'box':<22}" + "".join(f"{f'{r:g} m':>9}" for r in RESOLUTIONS) + f"{'60 m / 0.5 m':>14}")
    for name, light in figures.items():
        print(f"{name:<22}" + "".join(f"{v:>9.4f}" for v in light) + f"{light[-1] / light[0]:>14.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lonlat", type=float, nargs=2, default=(10.27892, 0.29173), help="the box's centre")
    ap.add_argument("--half", type=float, default=0.006, help="the box's half size, degrees")
    ap.add_argument("--baseline", default=DEFAULT_REVISION, help="a revision or a folder ('' for none)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one world in a subprocess
    ap.add_argument("--no-cities", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.seed, *args.lonlat, args.half, not args.no_cities)))
        return
    print(f"mean linear light of a {2 * args.half:g} deg box at {args.lonlat[0]:g}, {args.lonlat[1]:g}, "
          f"seed {args.seed}")
    runs = {"this generator": None} | ({f"baseline {args.baseline}": baseline_checkout(args.baseline)}
                                       if args.baseline else {})
    found = {}
    for title, checkout in runs.items():
        figures = {name: in_process(args, cities, checkout)
                   for name, cities in (("city", True), ("land without cities", False))}
        if all(v is not None for v in figures.values()):
            report(title, figures)
            found[title] = figures
    if len(found) == 2:
        this, base = found.values()
        print("\nthis / baseline at 60 m: " + ", ".join(f"{k} {this[k][-1] / base[k][-1]:.3f}" for k in this))


if __name__ == "__main__":
    main()
