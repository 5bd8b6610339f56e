"""A minimal CesiumJS page that shows an exported 3D Tiles tileset, and a local server for it.

    earth3d serve TILESET_DIR_OR_STORE        (or: python -m earth3d.export.viewer TILESET_DIR)

serves the page at http://127.0.0.1:8000/ with CesiumJS under /cesium/ and the tileset under /data/.
CesiumJS comes from the npm package `cesium` (pinned: the first version that draws
KHR_gaussian_splatting with SPZ), installed once into a cache folder; no Cesium ion token and no
network imagery are used.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).with_name("index.html")
CESIUM_PACKAGE = "cesium@1.145.0"


def npm_cache() -> Path:
    """Where earth3d keeps its npm packages ($EARTH3D_NPM_CACHE, default ~/.cache/earth3d-npm)."""
    return Path(os.environ.get("EARTH3D_NPM_CACHE", Path.home() / ".cache" / "earth3d-npm"))


def cesium_build(install: bool = True) -> Path:
    """The CesiumJS Build/Cesium folder in the npm cache, installed with npm when missing."""
    folder = npm_cache() / "node_modules" / "cesium" / "Build" / "Cesium"
    if (folder / "Cesium.js").is_file() or not install:
        return folder
    npm_cache().mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(npm_cache()), CESIUM_PACKAGE],
                       check=True, capture_output=True, timeout=900)
    except FileNotFoundError:
        raise RuntimeError(f"the viewer needs CesiumJS ({CESIUM_PACKAGE}) and npm to install it; install Node.js "
                           "and npm, or pass the Build/Cesium folder of a CesiumJS 1.145+ with --cesium") from None
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"npm install {CESIUM_PACKAGE} failed: {detail}") from None
    return folder


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
    ap.add_argument("--cesium", type=Path, default=None, help="CesiumJS Build/Cesium folder (default: npm-installed)")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    server = serve(args.tileset_dir, args.cesium or cesium_build(), args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
