"""A baseline generator for the benchmarks: an earlier revision of this repository, exported once.

`--baseline` takes a folder holding a checkout, or a git revision of this repository (exported
with `git archive` into a temporary folder that lives as long as the process). The default
revision is the last one before the drained relief and the textured land cover.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The generator before relief that drains and textured land cover.
DEFAULT_REVISION = "bf9cfdd"


def baseline_checkout(spec: str) -> str:
    """A folder holding the baseline's `earth3d` package: `spec` itself, or revision `spec` exported."""
    if os.path.isdir(spec):
        return spec
    folder = tempfile.mkdtemp(prefix="earth3d-baseline-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", spec, "earth3d"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {spec}: neither a folder nor a revision of {REPO} "
                         f"({archive.stderr.decode(errors='replace').strip()})")
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    return folder


def default_data() -> str:
    """The shared real rasters: $EARTH3D_TEST_DATA, else ../shared/data beside the repository."""
    return os.environ.get("EARTH3D_TEST_DATA", str(REPO.parent / "shared" / "data"))
