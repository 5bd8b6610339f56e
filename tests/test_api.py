"""The public API surface: every public name listed here, and the main entry points documented.

A name that disappears from a module's `__all__` (or from the module) fails `test_public_names`;
a new one fails it too until it is added here, so that the surface changes only on purpose.
`test_entry_point_docs` checks, with `inspect`, that each main entry point has a Google-style
docstring with an `Args:` section when it takes arguments and a `Returns:` section when it returns
something (a class: `Args:` for its constructor's arguments).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap

import pytest

PUBLIC = {
    "earth3d": ["Camera", "GeoRaster", "Gaussians", "__version__", "lift", "read_raster", "render"],
    "earth3d.errors": [
        "ChunkError", "DependencyError", "Earth3dError", "InputError", "InputFileError", "InputNotFoundError",
        "OutputError", "OutputExistsError", "StoreError",
    ],
    "earth3d.geometry": [
        "Camera", "ECEF_CRS", "GEODETIC_CRS", "Waypoint", "covariance", "crs_to_ecef", "decompose_covariance",
        "descent", "ecef_to_enu", "ecef_to_geodetic", "enu_basis", "enu_to_ecef", "geodetic_to_ecef", "orbit",
        "quat_to_rotmat", "read_waypoints", "rotmat_to_quat", "transformer", "waypoint_path",
    ],
    "earth3d.raster": ["GeoRaster", "read_raster"],
    "earth3d.car_sides": ["CAR_GLASS", "ROOF_M", "SILL_M", "TYRE", "TYRE_M", "car_bodies", "car_side_colours"],
    "earth3d.facades": [
        "FLOOR_M", "GLASS", "LINTEL_M", "MATERIALS", "PARAPET_M", "SHOP_M", "SHOP_SHARE", "SHOP_SILL_M",
        "SHOP_TOP_M", "SILL_M", "TOWER_M", "TOWER_MATERIALS", "WINDOWLESS", "BuildingAxes", "building_axes",
        "facade_colours", "glass_share", "wall_positions",
    ],
    "earth3d.renderers": ["CpuRenderer", "GsplatRenderer", "RenderOutput", "Renderer", "default_renderer"],
    "earth3d.store": [
        "CUBE_SIDE_M", "FORMAT_VERSION", "Key", "Splats", "Store", "build_store", "cell_center", "cell_size",
        "open_store",
    ],
    "earth3d.store.tasks": [
        "BUCKET_SPLATS", "BuildPlan", "LeafTask", "MAX_BUCKET_LEVEL", "SPILL_FIELDS", "Source", "build_leaf",
        "build_parent", "finalize", "ingest", "leaf_tasks", "parent_tasks", "plan", "read_splats",
    ],
    "earth3d.stream": [
        "BUDGET_MIN_PIXELS", "CUT_MEMO", "CutStats", "OCCLUDER_RADIUS_M", "Stream", "below_horizon", "box_corners",
        "distance_to_box", "frustum_planes", "screen_coverage", "screen_space_error", "visible",
    ],
    "earth3d.scenarios": [
        "DEMO_LEVELS", "GroundFn", "Level", "POSTER_ALTITUDE_M", "PREFETCH_FRAMES", "PREFETCH_SPLATS_PER_PIXEL",
        "PathFrame", "QUICK_LEVELS", "RasterScene", "Report", "STREET_DETAIL_M", "Scene", "StoreScene",
        "build_lifted_store", "build_nested_store",
        "build_store", "check_store_output", "find_street", "frame_near_altitude", "level_bbox", "lifted_raster",
        "make_world", "nested_rasters", "open_raster_scene", "open_store_scene", "raster_center", "raster_ground",
        "render", "render_flythrough", "render_path", "street_descent", "street_detail", "street_detail_level",
        "synthesized",
    ],
    "earth3d.atmosphere": ["Atmosphere", "Sky", "Sun", "Tables", "apply_atmosphere", "tables"],
    "earth3d.export": [
        "LocalFrame", "read_ply", "read_spz", "write_ply", "write_splats_glb", "write_spz", "write_terrain_glb",
        "write_terrain_tileset", "write_tileset",
    ],
    "earth3d.dataset": ["LocalFrame", "PRESETS", "PresetOptions", "read", "read_instances", "sample_cameras", "write"],
    "earth3d.refine": [
        "RefineResult", "psnr", "read_dataset", "refine", "refine_store", "view_weights",
        "write_dataset",
    ],
    "earth3d.synth": [
        "BIOMES", "EarthWorld", "FittedGenerator", "FittedModel", "LEVELS", "ProceduralWorld", "RasterSource",
        "TileGenerator", "place", "tile_bbox", "tile_for_lonlat",
    ],
}

# Main public entry points, "module:qualified.name".
ENTRY_POINTS = [
    "earth3d:lift",
    "earth3d:read_raster",
    "earth3d:render",
    "earth3d.gaussians:Gaussians.save",
    "earth3d.gaussians:Gaussians.load",
    "earth3d.gaussians:Gaussians.from_arrays",
    "earth3d.geometry:Camera.from_geodetic",
    "earth3d.geometry:Camera.look_at",
    "earth3d.geometry:geodetic_to_ecef",
    "earth3d.geometry:ecef_to_geodetic",
    "earth3d.geometry.paths:descent",
    "earth3d.geometry.paths:orbit",
    "earth3d.geometry.paths:waypoint_path",
    "earth3d.geometry.paths:read_waypoints",
    "earth3d.raster.write:write_raster",
    "earth3d.renderers:CpuRenderer.render",
    "earth3d.renderers:GsplatRenderer.render",
    "earth3d.renderers:default_renderer",
    "earth3d.store:build_store",
    "earth3d.store:open_store",
    "earth3d.store:Store.read",
    "earth3d.store:Store.info",
    "earth3d.store.tasks:plan",
    "earth3d.stream:Stream",
    "earth3d.stream:Stream.select",
    "earth3d.scenarios:render_path",
    "earth3d.scenarios:render_flythrough",
    "earth3d.scenarios:build_nested_store",
    "earth3d.scenarios:street_descent",
    "earth3d.scenarios:find_street",
    "earth3d.export:write_tileset",
    "earth3d.export:write_ply",
    "earth3d.export:read_ply",
    "earth3d.export:write_spz",
    "earth3d.export:read_spz",
    "earth3d.export:write_splats_glb",
    "earth3d.export:write_terrain_glb",
    "earth3d.export:write_terrain_tileset",
    "earth3d.refine:refine",
    "earth3d.dataset:write",
    "earth3d.dataset:read",
    "earth3d.dataset:read_instances",
    "earth3d.dataset:sample_cameras",
    "earth3d.refine:refine_store",
    "earth3d.atmosphere:apply_atmosphere",
    "earth3d.synth:ProceduralWorld.generate",
    "earth3d.synth:EarthWorld.generate",
    "earth3d.synth:place",
    "earth3d.synth:RasterSource",
    "earth3d.synth:FittedGenerator.fit",
]


def _resolve(entry: str):
    module_name, qualname = entry.split(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    return obj


def _arguments(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = inspect.signature(target).parameters
    return [n for n in params if n not in ("self", "cls")]


def _returns_value(fn) -> bool:
    """Whether a function returns something: its annotation, else a `return <value>`/`yield` in its body."""
    annotation = inspect.signature(fn).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None")
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    return any((isinstance(n, ast.Return) and n.value is not None) or isinstance(n, (ast.Yield, ast.YieldFrom))
               for n in ast.walk(tree))


def _doc_problems(obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return ["no docstring"]
    problems = []
    if _arguments(obj) and "\nArgs:\n" not in f"\n{doc}\n":
        problems.append("no Args: section")
    if not inspect.isclass(obj) and _returns_value(obj) and "\nReturns:\n" not in f"\n{doc}\n" \
            and "\nYields:\n" not in f"\n{doc}\n":
        problems.append("no Returns: section")
    return problems


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names(module_name):
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{module_name} has no __all__"
    missing = [n for n in PUBLIC[module_name] if not hasattr(module, n)]
    assert not missing, f"{module_name} lost public names: {missing}"
    assert sorted(exported) == sorted(PUBLIC[module_name]), (
        f"{module_name}.__all__ changed: added {sorted(set(exported) - set(PUBLIC[module_name]))}, "
        f"removed {sorted(set(PUBLIC[module_name]) - set(exported))}; update tests/test_api.py on purpose")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_entry_point_docs(entry):
    problems = _doc_problems(_resolve(entry))
    assert not problems, f"{entry}: {', '.join(problems)}"
