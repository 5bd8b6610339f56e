"""read_raster: real DEM + orthophoto pairs, reprojection, colour scaling, vertical datum and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import data_path
from rasterio.warp import Resampling, calculate_default_transform, reproject
from scipy import ndimage

import earth3d
from earth3d.errors import InputFileError
from earth3d.raster import read as read_module


@pytest.fixture(autouse=True)
def _quiet_geoid(monkeypatch):
    """Each test starts as a fresh process would: the one-time geoid warning not yet shown."""
    monkeypatch.setattr(read_module, "_geoid_warned", False)
    warnings.filterwarnings("ignore", message=".*heights are used as ellipsoidal.*")


TRANSFORM = Affine(30, 0, 619395, 0, -30, -410205)


def _write(path, data, crs="EPSG:32622", transform=TRANSFORM, **profile):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype, crs=crs, transform=transform, **profile) as dst:
        dst.write(data)
    return path


def test_same_grid_pair_is_cut_not_resampled():
    dem, ortho = data_path("pairs", "para_landsat5", "srtm.tif"), data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    r = earth3d.read_raster(dem, ortho, stretch=None)
    with rasterio.open(dem) as d, rasterio.open(ortho) as o:
        assert r.shape == d.shape and r.transform == d.transform
        np.testing.assert_array_equal(r.height, d.read(1).astype(np.float32))
        np.testing.assert_allclose(r.rgb, np.moveaxis(o.read(), 0, -1) / 255.0, atol=1e-6)
    assert r.valid.all() and r.crs.to_epsg() == 32622
    assert r.vertical_datum == read_module.ASSUMED_GEOID


def test_percentile_stretch_and_auto():
    dem, ortho = data_path("pairs", "para_landsat5", "srtm.tif"), data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    raw = earth3d.read_raster(dem, ortho, stretch=None)
    stretched = earth3d.read_raster(dem, ortho, stretch=(2, 98))
    assert raw.rgb.max() < 0.75  # raw digital numbers: dark
    for band in range(3):
        lo, hi = np.percentile(stretched.rgb[..., band], [2, 98])
        assert lo == pytest.approx(0.0, abs=0.01) and hi == pytest.approx(1.0, abs=0.01)
        # The stretch is linear in the raw values.
        inside = (stretched.rgb[..., band] > 0) & (stretched.rgb[..., band] < 1)
        slope, intercept = np.polyfit(raw.rgb[..., band][inside], stretched.rgb[..., band][inside], 1)
        np.testing.assert_allclose(slope * raw.rgb[..., band][inside] + intercept, stretched.rgb[..., band][inside],
                                   atol=2e-3)
    auto = earth3d.read_raster(dem, ortho)  # "auto": raw DNs get the (2, 98) stretch
    np.testing.assert_array_equal(auto.rgb, stretched.rgb)
    bright = earth3d.read_raster(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"))
    plain = earth3d.read_raster(data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif"),
                                stretch=None)
    np.testing.assert_array_equal(bright.rgb, plain.rgb)  # full-range imagery is left alone
    with pytest.raises(ValueError, match="stretch"):
        earth3d.read_raster(dem, ortho, stretch=(98, 2))


def test_alpha_band_masks_and_nodata_dem():
    r = earth3d.read_raster(data_path("pairs", "duluth_drone", "dtm.tif"),
                            data_path("pairs", "duluth_drone", "orthophoto.tif"))
    with rasterio.open(data_path("pairs", "duluth_drone", "dtm.tif")) as d:
        dem_valid = d.read(1) != d.nodata
        assert r.transform == d.transform  # the DTM is the finer grid: the lifting grid is its grid
    assert 0.3 < r.valid.mean() < 0.9
    assert not (r.valid & ~dem_valid).any()  # nodata heights are masked
    assert np.isnan(r.height[~r.valid]).all() and np.isfinite(r.height[r.valid]).all()
    assert (r.rgb[~r.valid] == 0).all()


def test_four_band_alpha_vs_nir(tmp_path):
    dem = data_path("pairs", "para_landsat5", "srtm.tif")
    with rasterio.open(data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")) as o:
        rgb, profile = o.read(), {"transform": o.transform, "crs": o.crs}
    fourth = np.full(rgb.shape[1:], 255, dtype=np.uint8)
    fourth[:40, :50] = 0
    path = tmp_path / "rgba.tif"
    _write(path, np.concatenate([rgb, fourth[None]]), photometric="RGB", alpha="YES", **profile)
    with rasterio.open(path) as ds:
        assert ds.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    r = earth3d.read_raster(dem, path)
    assert not r.valid[:40, :50].any() and r.valid[40:, 50:].all()
    # Four bands without an alpha interpretation (as NAIP's R, G, B, NIR): the 4th is ignored.
    nir = _write(tmp_path / "rgbn.tif", np.concatenate([rgb, fourth[None]]), photometric="MINISBLACK", **profile)
    with rasterio.open(nir) as ds:
        assert rasterio.enums.ColorInterp.alpha not in ds.colorinterp
    r = earth3d.read_raster(dem, nir)
    assert r.valid.all()


def test_reprojection_onto_finer_ortho_grid():
    """rmnp: DEM and image in EPSG:4326 on different grids; the lifting grid is the image's (finer)."""
    dem_path, rgb_path = data_path("pairs", "rmnp", "dem.tif"), data_path("pairs", "rmnp", "rgb.tif")
    r = earth3d.read_raster(dem_path, rgb_path, stretch=None)
    with rasterio.open(dem_path) as d, rasterio.open(rgb_path) as o:
        assert r.resolution == pytest.approx(o.res)
        left, bottom, right, top = r.bounds()
        assert left >= d.bounds.left - 1e-9 and right <= d.bounds.right + 1e-9
        assert bottom >= d.bounds.bottom - 1e-9 and top <= d.bounds.top + 1e-9
        assert right - left > d.bounds.right - d.bounds.left - 2 * o.res[0]
        # On the image's own grid lines, so the colours are the image's pixels.
        col0, row0 = ~o.transform @ (r.transform.c, r.transform.f)
        assert col0 == pytest.approx(round(col0), abs=1e-6) and row0 == pytest.approx(round(row0), abs=1e-6)
        window = o.read(window=((round(row0), round(row0) + r.shape[0]), (round(col0), round(col0) + r.shape[1])))
        np.testing.assert_allclose(r.rgb[r.valid], np.moveaxis(window, 0, -1)[r.valid] / 255.0, atol=1e-6)
        # Heights: the DEM interpolated bilinearly at the cell centers.
        dem = d.read(1).astype(np.float64)
        x, y = r.cell_centers()
        cols, rows = ~d.transform @ (x, y)
        expect = ndimage.map_coordinates(dem, [rows - 0.5, cols - 0.5], order=1, mode="nearest")
        inner = (rows > 1) & (rows < d.height - 1) & (cols > 1) & (cols < d.width - 1) & r.valid
        np.testing.assert_allclose(r.height[inner], expect[inner], atol=0.05)


def test_ortho_in_another_crs_is_reprojected(tmp_path):
    """The Landsat composite warped to lon/lat comes back onto the SRTM's UTM grid."""
    dem, ortho = data_path("pairs", "para_landsat5", "srtm.tif"), data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    with rasterio.open(ortho) as o:
        transform, w, h = calculate_default_transform(o.crs, "EPSG:4326", o.width, o.height, *o.bounds)
        warped = np.full((3, h, w), 255, dtype=np.uint8)
        reproject(o.read(), warped, src_transform=o.transform, src_crs=o.crs, dst_transform=transform,
                  dst_crs="EPSG:4326", resampling=Resampling.bilinear, dst_nodata=255)
    path = _write(tmp_path / "ll.tif", warped, crs="EPSG:4326", transform=transform, nodata=255)
    ref = earth3d.read_raster(dem, ortho, stretch=None)
    r = earth3d.read_raster(dem, path, stretch=None)
    assert r.crs.to_epsg() == 32622
    assert 29.0 < r.resolution[0] <= 30.0 and 29.0 < r.resolution[1] <= 30.0
    x, y = r.cell_centers()
    cols, rows = ~ref.transform @ (x, y)
    sampled = np.stack([ndimage.map_coordinates(ref.rgb[..., b], [rows - 0.5, cols - 0.5], order=1)
                        for b in range(3)], -1)
    inner = ndimage.binary_erosion(r.valid, iterations=3)
    assert inner.mean() > 0.8
    rmse = np.sqrt(np.mean((r.rgb[inner] - sampled[inner]) ** 2))
    assert rmse < 0.02, rmse


def test_small_dem_reads_only_its_part_of_a_large_ortho(tmp_path):
    dem_path = data_path("pairs", "para_landsat5", "srtm.tif")
    ortho_path = data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    with rasterio.open(dem_path) as d:
        window = rasterio.windows.Window(100, 120, 40, 30)
        small = _write(tmp_path / "small.tif", d.read(1, window=window), transform=d.window_transform(window))
    r = earth3d.read_raster(small, ortho_path, stretch=None)
    with rasterio.open(ortho_path) as o:
        np.testing.assert_array_equal(r.rgb, np.moveaxis(o.read(window=window), 0, -1).astype(np.float32) / 255.0)
    assert r.shape == (30, 40)


@pytest.mark.parametrize("dtype, scale", [("uint16", 257.0), ("float32", 1 / 255.0)])
def test_uint16_and_float_orthophotos(tmp_path, dtype, scale):
    dem, ortho = data_path("pairs", "para_landsat5", "srtm.tif"), data_path("pairs", "para_landsat5", "rgb_b3b2b1.tif")
    ref = earth3d.read_raster(dem, ortho, stretch=None)
    with rasterio.open(ortho) as o:
        path = _write(tmp_path / f"{dtype}.tif", (o.read() * scale).astype(dtype), transform=o.transform, crs=o.crs)
    r = earth3d.read_raster(dem, path, stretch=None)  # scaled by the type's range (float: taken as [0, 1])
    np.testing.assert_allclose(r.rgb, ref.rgb, atol=1e-6)
    stretched = earth3d.read_raster(dem, path, stretch=(2, 98))
    np.testing.assert_allclose(stretched.rgb, earth3d.read_raster(dem, ortho, stretch=(2, 98)).rgb, atol=1e-5)


def test_naip_rgb_nir_with_a_flat_dem(tmp_path):
    """NAIP: four bands (R, G, B, NIR) without colour interpretation; NIR must not become alpha."""
    naip = data_path("ortho", "north_dakota_naip_2020.tif")
    with rasterio.open(naip) as o:
        dem = _write(tmp_path / "flat.tif", np.full((72, 93), 450.0, np.float32), crs=o.crs,
                     transform=Affine(50, 0, o.bounds.left, 0, -50, o.bounds.top))
        rgb = np.moveaxis(o.read([1, 2, 3]), 0, -1) / 255.0
    r = earth3d.read_raster(dem, naip, stretch=None)
    assert r.resolution == (5.0, 5.0) and r.valid.all()  # the ortho is finer: lifted at 5 m
    np.testing.assert_allclose(r.rgb, rgb[: r.shape[0], : r.shape[1]], atol=1e-6)


def test_bahamas_nodata_corners_and_coarse_lonlat_dem(tmp_path):
    """A lon/lat DEM under a UTM image: the lifting grid is lon/lat at the image's finer resolution,
    and the image's nodata corners (value 0 in every band) are masked."""
    ortho = data_path("ortho", "bahamas_landsat7_rgb.tif")
    dem = _write(tmp_path / "sea.tif", np.zeros((30, 30), np.float32), crs="EPSG:4326",
                 transform=Affine(0.1, 0, -78.9, 0, -0.1, 25.5))
    r = earth3d.read_raster(dem, ortho, vertical_datum="ellipsoid")
    assert r.crs.to_epsg() == 4326
    assert 0.0025 < r.resolution[0] < 0.0035 and 0.0025 < r.resolution[1] < 0.0035  # ~300 m in degrees
    assert 0.3 < r.valid.mean() < 0.95  # the rotated scene's empty corners are masked
    assert not r.valid[0, 0] and not r.valid[-1, -1]


def test_dem_only_colours_from_terrain():
    for name, margin in (("bigtujunga_utm11_30m.tif", 0.1), ("fort_worth_3arcsec.tif", 0.01)):
        r = earth3d.read_raster(data_path("dem", name))
        assert r.valid.all() and r.rgb.min() >= 0 and r.rgb.max() <= 1 and r.rgb.std() > 0.02
        # Hillshade: slopes facing the north-west light are brighter than those facing away.
        d_row, d_col = np.gradient(r.height.astype(np.float64))  # rows run south, columns east
        facing = (d_col > 2) & (d_row > 2)  # rising to the south-east: the slope faces the light
        away = (d_col < -2) & (d_row < -2)
        assert facing.sum() > 100 and away.sum() > 100
        assert r.rgb[facing].mean() > r.rgb[away].mean() + margin, name
    sea = earth3d.read_raster(data_path("dem", "celtic_sea_topobathy_1arcmin.tif"))
    below, above = sea.height < -20, sea.height > 20
    assert (sea.rgb[below][:, 2] > sea.rgb[below][:, 0]).mean() > 0.99  # blue sea
    assert (sea.rgb[above][:, 1] > sea.rgb[above][:, 2]).mean() > 0.9  # mostly green land


def test_vertical_datum_warning_once_and_declared(tmp_path):
    dem = data_path("pairs", "para_landsat5", "srtm.tif")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = earth3d.read_raster(dem)
        earth3d.read_raster(dem)
        earth3d.read_raster(data_path("pairs", "rmnp", "dem.tif"))
    geoid = [w for w in caught if "ellipsoidal heights" in str(w.message)]
    assert len(geoid) == 1 and "100 m" in str(geoid[0].message) and "srtm.tif" in str(geoid[0].message)
    assert first.vertical_datum == "geoid (assumed EGM96), not corrected"
    read_module._geoid_warned = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        declared = earth3d.read_raster(dem, vertical_datum="ellipsoid")
    assert declared.vertical_datum == "ellipsoid" and not caught
    # A compound CRS with a geoid height whose grid PROJ does not have: recorded, not silently used.
    read_module._geoid_warned = False
    with rasterio.open(dem) as d:
        path = _write(tmp_path / "compound.tif", d.read(1), crs=rasterio.crs.CRS.from_user_input("EPSG:32622+5773"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = earth3d.read_raster(path)
    assert r.crs.to_epsg() == 32622
    if r.vertical_datum.startswith("ellipsoid"):  # a geoid grid is installed: heights converted
        assert not np.allclose(r.height, declared.height)
    else:
        geoid = [w for w in caught if "ellipsoidal heights" in str(w.message)]
        assert "EGM96" in r.vertical_datum and "not corrected" in r.vertical_datum and len(geoid) == 1
    with pytest.raises(ValueError, match="vertical_datum"):
        earth3d.read_raster(dem, vertical_datum="geoid")


# ---------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="nope.tif"):
        earth3d.read_raster(tmp_path / "nope.tif")
    with pytest.raises(InputFileError, match="ortho.tif"):
        earth3d.read_raster(data_path("pairs", "para_landsat5", "srtm.tif"), tmp_path / "ortho.tif")


def test_not_a_raster(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("this is not a GeoTIFF\n")
    with pytest.raises(InputFileError, match=r"notes\.tif.*not a readable raster"):
        earth3d.read_raster(text)


def test_raster_without_crs(tmp_path):
    path = tmp_path / "nocrs.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _write(path, np.ones((8, 8), dtype=np.float32), crs=None)
    with pytest.raises(InputFileError, match=r"nocrs\.tif has no CRS"):
        earth3d.read_raster(path)


def test_no_overlap(tmp_path):
    far = _write(tmp_path / "far.tif", np.full((3, 10, 10), 100, dtype=np.uint8),
                 transform=Affine(30, 0, 700000, 0, -30, -300000))
    with pytest.raises(ValueError, match=r"do not overlap"):
        earth3d.read_raster(data_path("pairs", "para_landsat5", "srtm.tif"), far)


def test_all_nodata_dem(tmp_path):
    path = _write(tmp_path / "empty.tif", np.full((10, 10), -9999, dtype=np.float32), nodata=-9999)
    with pytest.raises(InputFileError, match=r"empty\.tif has no valid cells"):
        earth3d.read_raster(path)
    nan = _write(tmp_path / "nan.tif", np.full((10, 10), np.nan, dtype=np.float32))
    with pytest.raises(InputFileError, match=r"nan\.tif has no valid cells"):
        earth3d.read_raster(nan)


def test_wrong_band_count(tmp_path):
    two = _write(tmp_path / "two.tif", np.full((2, 10, 10), 100, dtype=np.uint8))
    with pytest.raises(InputFileError, match=r"two\.tif has 2 band\(s\)"):
        earth3d.read_raster(data_path("pairs", "para_landsat5", "srtm.tif"), two)
    five = _write(tmp_path / "five.tif", np.full((5, 10, 10), 100, dtype=np.uint8))
    r = earth3d.read_raster(data_path("pairs", "para_landsat5", "srtm.tif"), five, rgb_bands=(3, 2, 1))
    assert r.shape == (10, 10)
