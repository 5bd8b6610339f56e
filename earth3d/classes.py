"""Semantic classes: one table of class ids, names and colours for rasters, splats and label maps.

Generators write a class raster (`GeoRaster.classes`, uint8 ids from this table) beside the
orthophoto, lifting gives each splat its cell's class (`Gaussians.labels`), the store keeps
them, and renderers return the class of the splat that contributes most to each pixel
(`RenderOutput.label`). Id 0 means "unlabelled": nothing drawn, no data, or a source
without classes. The table (also in docs/CLASSES.md):

==  =================  ===============  =============================================
id  name               colour (RGB)     what
==  =================  ===============  =============================================
0   unlabelled         0, 0, 0          nothing drawn, no data, no class source
1   water              40, 90, 200      sea, lakes, rivers
2   forest             20, 110, 30      tree cover outside cities
3   grass              130, 200, 80     grassland, pasture, meadow, tundra, lawn, park
4   cropland           230, 200, 70     farmland parcels and terraces
5   bare               150, 120, 90     bare ground, rock, scree, desert
6   sand               240, 220, 160    beaches and dunes
7   snow_ice           240, 250, 255    snow, glaciers, sea ice
8   wetland            80, 150, 140     bogs, marshes
9   shrub              160, 160, 60     shrubland, savanna scrub
10  road               70, 70, 75       carriageways and their markings
11  paved              170, 160, 150    sidewalks, plazas, commercial yards, other paved
12  roof               200, 60, 50      building roofs
13  wall               120, 30, 90      building walls (vertical splats of a roof's jump)
14  tree               0, 200, 120      urban tree crowns
15  car                250, 0, 250      cars (parked and on the road)
16  built              190, 100, 100    built-up area (land-cover rasters without detail)
==  =================  ===============  =============================================
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["CLASSES", "N_CLASSES", "WORLDCOVER", "SemanticClass", "class_colours", "class_id", "class_names",
           "colour_instances", "colour_labels",
           "UNLABELLED", "WATER", "FOREST", "GRASS", "CROPLAND", "BARE", "SAND", "SNOW_ICE", "WETLAND", "SHRUB",
           "ROAD", "PAVED", "ROOF", "WALL", "TREE", "CAR", "BUILT"]


class SemanticClass(NamedTuple):
    """One class of the table: uint8 `id`, short `name` and display colour `rgb` (0-255)."""

    id: int
    name: str
    rgb: tuple[int, int, int]


CLASSES: tuple[SemanticClass, ...] = (
    SemanticClass(0, "unlabelled", (0, 0, 0)),
    SemanticClass(1, "water", (40, 90, 200)),
    SemanticClass(2, "forest", (20, 110, 30)),
    SemanticClass(3, "grass", (130, 200, 80)),
    SemanticClass(4, "cropland", (230, 200, 70)),
    SemanticClass(5, "bare", (150, 120, 90)),
    SemanticClass(6, "sand", (240, 220, 160)),
    SemanticClass(7, "snow_ice", (240, 250, 255)),
    SemanticClass(8, "wetland", (80, 150, 140)),
    SemanticClass(9, "shrub", (160, 160, 60)),
    SemanticClass(10, "road", (70, 70, 75)),
    SemanticClass(11, "paved", (170, 160, 150)),
    SemanticClass(12, "roof", (200, 60, 50)),
    SemanticClass(13, "wall", (120, 30, 90)),
    SemanticClass(14, "tree", (0, 200, 120)),
    SemanticClass(15, "car", (250, 0, 250)),
    SemanticClass(16, "built", (190, 100, 100)),
)
(UNLABELLED, WATER, FOREST, GRASS, CROPLAND, BARE, SAND, SNOW_ICE, WETLAND, SHRUB, ROAD, PAVED, ROOF, WALL, TREE, CAR,
 BUILT) = range(17)
N_CLASSES = len(CLASSES)
# ESA WorldCover 10 m land-cover codes -> class ids (for `--class-map worldcover`).
WORLDCOVER = {10: FOREST, 20: SHRUB, 30: GRASS, 40: CROPLAND, 50: BUILT, 60: BARE, 70: SNOW_ICE, 80: WATER,
              90: WETLAND, 95: WETLAND, 100: GRASS}
assert all(c.id == i for i, c in enumerate(CLASSES))


def class_colours() -> np.ndarray:
    """Palette (256, 3) uint8 for label PNGs: row `id` is the class's colour, unused ids black.

    Example:
        >>> class_colours()[class_id("water")].tolist()
        [40, 90, 200]
    """
    pal = np.zeros((256, 3), dtype=np.uint8)
    for c in CLASSES:
        pal[c.id] = c.rgb
    return pal


def colour_labels(label) -> np.ndarray:
    """An (H, W) class-id map (numpy or torch) as an (H, W, 3) uint8 image in the table's colours."""
    ids = np.asarray(label.cpu() if hasattr(label, "cpu") else label).astype(np.uint8)
    return class_colours()[ids]


def colour_instances(instance) -> np.ndarray:
    """An (H, W) instance-id map as an (H, W, 3) uint8 image: one hashed colour per id, black for 0."""
    ids = np.asarray(instance.cpu() if hasattr(instance, "cpu") else instance).astype(np.uint64)
    h = (ids * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    rgb = np.stack([(h >> np.uint64(16)) & np.uint64(255), (h >> np.uint64(8)) & np.uint64(255),
                    h & np.uint64(255)], axis=-1).astype(np.uint8) | np.uint8(0x20)
    rgb[ids == 0] = 0
    return rgb


def class_names() -> list[str]:
    """Names of the classes, indexed by id."""
    return [c.name for c in CLASSES]


def class_id(name: str) -> int:
    """The id of the class called `name`.

    Raises:
        InputError: no class has that name.
    """
    from .errors import InputError

    for c in CLASSES:
        if c.name == name:
            return c.id
    raise InputError(f"unknown class {name!r}; classes: {', '.join(class_names())}")
