"""Labelled multi-view datasets of a world or a store, for nerfstudio, COLMAP and segmentation trainers.

- `presets`: cameras that match sensors (satellite, aerial oblique, drone orbit and grid, street level),
  N views over a region with a seed (`sample_cameras`, `PresetOptions`, `PRESETS`);
- `writer`: the dataset folder (images, depth, normals, labels, instances, transforms.json, sparse/0,
  georef.json), written whole or not at all (`write`);
- `nerfstudio`, `colmap`, `georef`: the three descriptions of the same cameras;
- `read`: images and cameras back from a dataset folder (`read`), its instance maps (`read_instances`).

Example:
    >>> import earth3d.dataset                                                   # doctest: +SKIP
    >>> from earth3d.synth import ProceduralWorld                                # doctest: +SKIP
    >>> earth3d.dataset.write(ProceduralWorld(0), (7.44, 46.94, 7.46, 46.96), "drone", 24, 640, 480,
    ...                       "views")                                           # doctest: +SKIP
"""

from .georef import LocalFrame
from .presets import PRESETS, PresetOptions, sample_cameras
from .read import read, read_instances
from .writer import write

__all__ = ["LocalFrame", "PRESETS", "PresetOptions", "read", "read_instances", "sample_cameras", "write"]
