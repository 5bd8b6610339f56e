"""How the kernels' idle worker threads wait: asleep, not spinning (`OMP_WAIT_POLICY=PASSIVE`).

earth3d's parallel kernels run on numba's thread pool, OpenMP's where numba finds it (as with
the wheels on PyPI). OpenMP's default lets a worker that has finished its share spin on its core
until the next parallel region, and that spinning is CPU time taken from whatever else the
process runs on those cores: the dataset writer threads that encode the previous view's files
while the next one renders, the prefetch of the streamed chunks, the user's own threads.
Sleeping instead costs a wake-up of some microseconds a region, nothing against kernels of
milliseconds. Measured on 2 cores
(`benchmarks/render_cpu.py`, `benchmarks/synth.py`, `benchmarks/dataset.py`): wall times of
rendering and synthesis unchanged, their CPU time 5-50 % lower, and a dataset's encoding fills
the cores the renderer leaves idle (the Duluth views with every map took 1.50x the time of RGB
alone with spinning workers, 1.35-1.38x with sleeping ones, both with the tile order of the time).

The variable is read when the OpenMP runtime loads, so `install()` runs when earth3d is
imported, before numba or torch start it; a value the user has set is kept.
"""

from __future__ import annotations

import os

__all__ = ["install"]


def install() -> None:
    """Set `OMP_WAIT_POLICY=PASSIVE` in this process's environment unless it is already set."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
