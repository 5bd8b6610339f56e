"""`earth3d serve`: a store or a 3D Tiles tileset in CesiumJS on http://127.0.0.1:PORT/."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from ..errors import InputError
from ._common import Common, Report, check_input


@dataclass(kw_only=True)
class Serve(Common):
    """Show a store or a 3D Tiles tileset in CesiumJS on http://127.0.0.1:PORT/ (no ion token, no network
    imagery). A store is exported to a temporary tileset first; CesiumJS is npm-installed once.
    """

    target: tyro.conf.Positional[Path]
    """A store folder, or a folder holding tileset.json."""
    port: int = 8000
    """Port on 127.0.0.1 (0: any free port)."""
    cesium: Path | None = None
    """CesiumJS Build/Cesium folder (default: the npm package, installed into ~/.cache/earth3d-npm)."""
    compression: Literal["spz", "none"] = "spz"
    """Splat tiles of a store: SPZ-compressed or plain floats."""

    def run(self) -> None:
        """Export a store to a temporary tileset if need be, then serve it until Ctrl-C."""
        from ..export import write_tileset
        from ..export.viewer import cesium_build, serve

        check_input(self.target, "store or tileset folder")
        if not 0 <= self.port <= 65535:
            raise InputError(f"--port {self.port} is not a port number")
        report = Report(self.quiet)
        with contextlib.ExitStack() as cleanup:
            tiles = self.target
            if not (tiles / "tileset.json").is_file():
                if not (tiles / "store.json").is_file():
                    raise InputError(f"{tiles} holds neither tileset.json nor an earth3d store (store.json)")
                tiles = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="earth3d-serve-"))) / "tiles"
                with report.stage("export 3D Tiles"):
                    write_tileset(self.target, tiles, None if self.compression == "none" else "spz")
            with report.stage("CesiumJS"):
                cesium = self.cesium or cesium_build()
            server = serve(tiles, cesium, self.port)
            print(f"serving {self.target} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
            try:
                server.serve_forever()
            finally:
                server.server_close()
