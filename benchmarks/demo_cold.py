"""First-run benchmark: `earth3d demo` with an empty numba cache, with and without the second process.

On a fresh install numba compiles every kernel on first use. `earth3d demo` compiles the
lifting, building and rendering kernels in a second process while it synthesizes
(`earth3d.scenarios.prewarm`). This script runs the demo twice in fresh subprocesses, each with
its own empty NUMBA_CACHE_DIR: once as it is, once with the second process turned off (its
`kernels_cached` check made to say "cached"), the baseline first. It prints each run's stage
times, its wall-clock seconds and the ratio. The bar: the first run within 3 minutes on 2 cores.

    python benchmarks/demo_cold.py            # two cold demos: about 5-6 minutes on 2 cores
    python benchmarks/demo_cold.py --quick    # the demo's quick preview
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import sys
import earth3d.scenarios.prewarm as prewarm
if sys.argv[1] == "off":
    prewarm.kernels_cached = lambda: True
from earth3d.cli import main
sys.exit(main(sys.argv[2:]))
"""


def cold_demo(mode: str, folder: Path, extra: list[str]) -> tuple[float, str]:
    """Wall seconds of one demo run with an empty numba cache, and its timings line."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / f"numba-{mode}"))
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUN, mode, "demo", "--out", str(folder / f"demo-{mode}"), *extra],
                         env=env, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t
    return wall, next((line for line in out.splitlines() if line.startswith("timings:")), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the demo's quick preview")
    args = ap.parse_args()
    extra = ["--quick"] if args.quick else []
    with tempfile.TemporaryDirectory(prefix="e3d-bench-cold-") as tmp:
        folder = Path(tmp)
        base, base_line = cold_demo("off", folder, extra)
        new, new_line = cold_demo("on", folder, extra)
    print(f"without the second process: {base:.1f} s wall\n  {base_line}")
    print(f"with it:                    {new:.1f} s wall\n  {new_line}")
    print(f"ratio {new / base:.2f} (bar: the first run within 180 s on 2 cores)")


if __name__ == "__main__":
    main()
