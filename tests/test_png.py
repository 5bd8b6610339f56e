"""The dataset's PNG writer: lossless for every image kind, readable by imageio and Pillow; instance maps as indices."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

import earth3d.dataset.png
from earth3d.classes import class_colours
from earth3d.dataset.maps import index_instances
from earth3d.dataset.png import png_bytes, save_label_pngs, save_png


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
@pytest.mark.parametrize("shape, dtype", [((37, 53), np.uint8), ((37, 53, 3), np.uint8), ((37, 53), np.uint16),
                                          ((1, 1), np.uint8), ((5, 1, 3), np.uint8)])
def test_png_round_trips_in_imageio_and_pillow(shape, dtype, deflate, tmp_path, monkeypatch):
    if deflate == "zlib":  # the fallback without the isal package
        monkeypatch.setattr(earth3d.dataset.png, "_isal", None)
    elif earth3d.dataset.png._isal is None:
        pytest.skip("isal is not installed (the dataset extra)")
    rng = np.random.default_rng(0)
    image = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    image[: shape[0] // 2] = image[0]  # runs as well as noise
    assert np.array_equal(iio.imread(png_bytes(image)), image)
    with Image.open(io.BytesIO(png_bytes(image))) as im:
        assert np.array_equal(np.asarray(im).astype(dtype), image)
    assert np.array_equal(iio.imread(save_png(tmp_path / "a.png", image)), image)


def test_label_pngs_share_pixels_ids_and_colours(tmp_path):
    ids = np.random.default_rng(1).integers(0, 17, (40, 30)).astype(np.uint8)
    save_label_pngs(tmp_path / "ids.png", tmp_path / "colour.png", ids, class_colours())
    assert np.array_equal(iio.imread(tmp_path / "ids.png"), ids)
    assert np.array_equal(iio.imread(tmp_path / "colour.png"), class_colours()[ids])  # the palette applied
    with Image.open(tmp_path / "colour.png") as im:
        assert im.mode == "P" and np.array_equal(np.asarray(im), ids)
        assert np.array_equal(np.asarray(im.convert("RGB")), class_colours()[ids])


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4, 4, 3), np.uint16), np.zeros((0, 4), np.uint8)])
def test_png_refuses_what_it_cannot_write(bad):
    with pytest.raises(ValueError, match="PNG image of shape"):
        png_bytes(bad)


def test_instance_index_round_trips_and_refuses_more_than_16_bits():
    rng = np.random.default_rng(2)
    table = np.concatenate([[0, -1, -(2**63), 2**63 - 1], rng.integers(1, 2**62, 3000)])  # negative and extreme ids
    instance = table[rng.integers(0, len(table), (90, 120))]
    instance[:, 40:70] = table[5]  # runs along rows
    index, ids = index_instances(instance)
    assert index.dtype == np.uint16 and ids.dtype == np.int64 and ids[0] == 0
    assert np.array_equal(ids[index], instance) and len(ids) == len(np.unique(np.append(instance, 0)))
    assert index_instances(np.arange(1, 65536).reshape(255, 257)) is not None  # 65,535 ids and none: fits
    assert index_instances(np.arange(1, 65537).reshape(256, 256)) is None
