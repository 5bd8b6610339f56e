"""`earth3d import-ply`: a 3DGS PLY (local frame + geodetic origin) into a store."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import InputError
from ._common import Common, Report, check_input


@dataclass(kw_only=True)
class ImportPly(Common):
    """Import a 3DGS PLY (local frame + geodetic origin) into a store."""

    ply: Path
    """The PLY file."""
    out: Path
    """Output store folder."""
    origin: tuple[float, float, float] | None = None
    """LON LAT HEIGHT of the PLY's local frame (default: from its .json sidecar)."""
    heading: float = 0.0
    """Turn the scene about the vertical by this many degrees, clockwise from above."""
    up: Literal["z", "y"] | None = None
    """The PLY's up axis (default: the sidecar's, else z)."""
    leaf_cap: int = 32768
    """Most splats in a leaf chunk."""
    overwrite: bool = False
    """Replace an existing store."""

    FLAGS: ClassVar[dict[str, str]] = {"leaf_cap": "--leaf-cap", "heading_deg": "--heading",
                                       "origin_lonlath": "--origin"}

    def run(self) -> None:
        """Read the PLY into its geodetic frame and build a store from it."""
        from ..export import read_ply
        from ..scenarios.store_build import build_store, check_store_output

        check_input(self.ply, "--ply")
        if not math.isfinite(self.heading):
            raise InputError(f"--heading {self.heading}: must be a finite number of degrees")
        if self.leaf_cap < 1:
            raise InputError(f"--leaf-cap {self.leaf_cap} must be at least 1")
        check_store_output(self.out, self.overwrite, flag="--overwrite")
        report = Report(self.quiet)
        with report.stage("read PLY"):
            gaussians = read_ply(self.ply, self.origin, self.heading, self.up)
        st = build_store([gaussians], self.out, overwrite=self.overwrite, leaf_cap=self.leaf_cap, report=report)
        report.say(f"wrote {self.out} ({st.info()['splat_count']} splats)")
