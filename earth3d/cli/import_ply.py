"""`earth3d import-ply`: a 3DGS PLY (local frame + geodetic origin) into a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

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

    FLAGS: ClassVar[dict[str, str]] = {"leaf_cap": "--leaf-cap"}

    def run(self) -> None:
        """Read the PLY into its geodetic frame and build a store from it."""
        from ..export import read_ply
        from ..scenarios.store_build import build_store, check_store_output

        check_input(self.ply, "--ply")
        check_store_output(self.out, self.overwrite, flag="--overwrite")
        report = Report(self.quiet)
        with report.stage("read PLY"):
            gaussians = read_ply(self.ply, self.origin, self.heading, self.up)
        st = build_store([gaussians], self.out, overwrite=self.overwrite, leaf_cap=self.leaf_cap, report=report)
        report.say(f"wrote {self.out} ({st.info()['splat_count']} splats)")
