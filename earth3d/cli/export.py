"""`earth3d export`: splats to PLY, GLB or SPZ, or a store to an OGC 3D Tiles 1.1 tileset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ..errors import InputError
from ..gaussians import Gaussians
from ._common import Common, Report, check_input, check_new


@dataclass(kw_only=True)
class Export(Common):
    """Export splats to PLY, GLB or SPZ (a store's leaves, or a lifted DEM + orthophoto), or a store to
    an OGC 3D Tiles 1.1 tileset (its levels of detail as tiles).
    """

    out: Path
    """Output: a .ply (3DGS PLY + .json sidecar), .glb (KHR_gaussian_splatting) or .spz file, or a folder
    (no suffix) for a 3D Tiles tileset."""
    store: Path | None = None
    """A store (PLY/GLB/SPZ: its full-detail leaves; 3D Tiles: its whole tree)."""
    dem: Path | None = None
    """A DEM GeoTIFF, lifted (instead of --store; not for 3D Tiles)."""
    ortho: Path | None = None
    """An orthophoto GeoTIFF draped on --dem."""
    resolution: float | None = None
    """Lifting cell size for --dem, in the DEM CRS's units."""
    origin: tuple[float, float, float] | None = None
    """LON LAT HEIGHT of the local ENU frame (default: the splats' own origin)."""
    compression: Literal["auto", "none", "spz"] = "auto"
    """GLB and 3D Tiles: SPZ-compressed splats or plain floats (auto: plain GLB, SPZ tiles)."""
    max_splats: int = 20_000_000
    """Refuse to gather more splats than this into one file."""
    tiles_layout: Literal["auto", "explicit", "implicit"] = "auto"
    """3D Tiles: every tile in tileset.json, or implicit tiling (OCTREE subtree files; auto: for large stores)."""
    overwrite: bool = False
    """Replace existing outputs."""

    FLAGS: ClassVar[dict[str, str]] = {"resolution": "--resolution"}

    def run(self) -> None:
        """Write the splats (or the store's tiles) in the format the --out suffix names."""
        from .. import export

        suffix = self.out.suffix.lower()
        if suffix not in ("", ".ply", ".glb", ".spz"):
            raise InputError(f"--out {self.out}: the format comes from the suffix: .ply, .glb, .spz, "
                             "or none for a 3D Tiles folder")
        report = Report(self.quiet)
        if suffix == "":
            if self.store is None:
                raise InputError("3D Tiles export needs --store (the tiles are the store's levels of detail)")
            check_input(self.store, "--store")
            check_new(self.out / "tileset.json", self.overwrite)
            compression = None if self.compression == "none" else "spz"
            with report.stage("export 3D Tiles"):
                target = export.write_tileset(self.store, self.out, compression, self.origin,
                                              overwrite=self.overwrite, layout=self.tiles_layout)
            report.say(f"wrote {target}")
            return
        check_new(self.out, self.overwrite)
        gaussians = self._gaussians(report)
        with report.stage("export"):
            if suffix == ".ply":
                export.write_ply(gaussians, self.out, self.origin, overwrite=self.overwrite)
            elif suffix == ".glb":
                compression = "spz" if self.compression == "spz" else None
                export.write_splats_glb(gaussians, self.out, self.origin, compression, overwrite=self.overwrite)
            else:
                export.write_spz(gaussians, self.out, self.origin, overwrite=self.overwrite)
        report.say(f"wrote {self.out} ({len(gaussians)} splats)")

    def _gaussians(self, report: Report) -> Gaussians:
        from ..scenarios.sources import lifted_raster
        from ..store import open_store

        if (self.store is None) == (self.dem is None):
            raise InputError("give exactly one of --store or --dem (with an optional --ortho)")
        if self.dem is not None:
            check_input(self.dem, "--dem")
            if self.ortho is not None:
                check_input(self.ortho, "--ortho")
            with report.stage("read + lift"):
                return lifted_raster(self.dem, self.ortho, self.resolution)
        assert self.store is not None
        check_input(self.store, "--store")
        st = open_store(self.store)
        total = st.info()["splat_count"]
        if total > self.max_splats:
            raise InputError(f"--store {self.store} holds {total} splats, over --max-splats {self.max_splats}")
        with report.stage("read leaves"):
            return st.read_leaves()
