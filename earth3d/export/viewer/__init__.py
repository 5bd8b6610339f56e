"""A minimal CesiumJS page that shows an exported 3D Tiles tileset, and a local server for it.

    python -m earth3d.export.viewer TILESET_DIR --cesium path/to/node_modules/cesium/Build/Cesium

serves the page at http://127.0.0.1:8000/ with CesiumJS under /cesium/ and the tileset under /data/
(CesiumJS comes from the npm package `cesium`; nothing is copied).
"""

from __future__ import annotations

import argparse
import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).with_name("index.html")


class _Handler(SimpleHTTPRequestHandler):
    """Static files from three roots: the page, /cesium/ and /data/."""

    def __init__(self, *args, tileset_dir: Path, cesium_dir: Path, **kwargs):
        self._roots = {"/cesium/": cesium_dir, "/data/": tileset_dir}
        super().__init__(*args, directory=str(PAGE.parent), **kwargs)

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, root in self._roots.items():
            if clean.startswith(prefix):
                rel = Path(os.path.normpath("/" + clean[len(prefix):])).relative_to("/")
                return str(root / rel)
        return super().translate_path(path)

    def log_message(self, *args) -> None:  # keep the console quiet
        pass


def serve(tileset_dir: str | os.PathLike, cesium_dir: str | os.PathLike, port: int = 8000,
          background: bool = False) -> ThreadingHTTPServer:
    """Serve the viewer on 127.0.0.1:`port` (0 picks a free port); in a daemon thread when `background`."""
    tileset_dir, cesium_dir = Path(tileset_dir), Path(cesium_dir)
    if not (tileset_dir / "tileset.json").is_file():
        raise FileNotFoundError(f"{tileset_dir}: no tileset.json")
    if not (cesium_dir / "Cesium.js").is_file():
        raise FileNotFoundError(f"{cesium_dir}: not a CesiumJS build folder (no Cesium.js)")
    handler = functools.partial(_Handler, tileset_dir=tileset_dir.resolve(), cesium_dir=cesium_dir.resolve())
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    if background:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    ap = argparse.ArgumentParser(description="Show an earth3d 3D Tiles tileset in CesiumJS.")
    ap.add_argument("tileset_dir", type=Path)
    ap.add_argument("--cesium", type=Path, required=True, help="CesiumJS Build/Cesium folder (npm package cesium)")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    server = serve(args.tileset_dir, args.cesium, args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
