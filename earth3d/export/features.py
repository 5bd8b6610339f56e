"""Splat classes and instances in glTF: EXT_mesh_features feature IDs with EXT_structural_metadata tables.

A splat primitive of splats that carry labels (`Gaussians.labels`) gets two feature ID sets, each a
vertex attribute with one value per splat, in the splats' order:

- `_FEATURE_ID_0`, label "class": the splat's class id of `earth3d.classes` (UNSIGNED_BYTE), so
  the feature ID *is* the class; `featureCount` is the size of the class table (the ids of the
  table are the features, present in the primitive or not) and property table 0 names them
  (`name`, STRING; `colour`, UINT8 VEC3; one row per id, row 0 "unlabelled").
- `_FEATURE_ID_1`, label "instance": the index of the splat's object among the distinct instance
  ids of the primitive (UNSIGNED_SHORT, or FLOAT up to 2^24 beyond 65535 objects, as the extension's
  implementation note allows), `featureCount` those objects; property table 1 gives each its
  stable int64 `instance` id (0: no object), the id the store, the renderers and datasets use.

Both follow the ratified EXT_mesh_features (featureIds: featureCount, attribute, label,
propertyTable; attribute `_FEATURE_ID_n`: SCALAR, not normalized, each element aligned to 4
bytes, hence a byteStride of 4 for the 1- and 2-byte ids) and EXT_structural_metadata (a schema
with classes "semantic_class" and "object", property tables whose buffer views start at multiples
of 8 bytes, UINT32 string offsets). The extensions are listed in `extensionsUsed` only: a client
that knows neither draws the splats as before.
"""

from __future__ import annotations

import numpy as np

from .glb import FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, GlbBuilder

FEATURES = "EXT_mesh_features"
METADATA = "EXT_structural_metadata"
#: Schema id and class ids of the metadata (identifiers: letters, digits, underscores).
SCHEMA_ID = "earth3d_semantics"
CLASS_TABLE, OBJECT_TABLE = "semantic_class", "object"
_ARRAY_BUFFER = 34962


def _feature_attribute(glb: GlbBuilder, ids: np.ndarray) -> int:
    """A SCALAR feature ID accessor of `ids` (non-negative integers), every element 4-byte aligned:
    uint8 or uint16 in a byteStride-4 view, or float32 (exact up to 2^24).
    """
    n = len(ids)
    top = int(ids.max()) if n else 0
    if top < 2**16:
        dtype, component = (np.uint8, UNSIGNED_BYTE) if top < 256 else (np.uint16, UNSIGNED_SHORT)
        padded = np.zeros((n, 4 // np.dtype(dtype).itemsize), dtype)
        padded[:, 0] = ids
        view = glb.view(padded.tobytes(), _ARRAY_BUFFER, stride=4)
    else:
        if top >= 2**24:
            raise ValueError(f"{top + 1} features: more than a float feature ID holds exactly (2^24)")
        component = FLOAT
        view = glb.view(np.ascontiguousarray(ids, np.float32).tobytes(), _ARRAY_BUFFER)
    glb.doc["accessors"].append({"bufferView": view, "componentType": component, "count": int(n), "type": "SCALAR"})
    return len(glb.doc["accessors"]) - 1


def _schema() -> dict:
    return {"id": SCHEMA_ID, "name": "earth3d semantic classes and objects",
            "classes": {
                CLASS_TABLE: {"name": "Semantic class", "description": "A class of the earth3d class table "
                              "(docs/CLASSES.md); the feature ID is the class id.",
                              "properties": {"name": {"type": "STRING"},
                                             "colour": {"type": "VEC3", "componentType": "UINT8",
                                                        "description": "Display colour, sRGB 0-255."}}},
                OBJECT_TABLE: {"name": "Object", "description": "A building, car, tree or field parcel.",
                               "properties": {"instance": {"type": "SCALAR", "componentType": "INT64",
                                                           "description": "The object's stable instance id "
                                                                          "(0: no object)."}}}}}


def _class_table(glb: GlbBuilder) -> dict:
    from ..classes import CLASSES

    names = [c.name.encode() for c in CLASSES]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in names])]).astype(np.uint32)
    colours = np.asarray([c.rgb for c in CLASSES], np.uint8)
    return {"class": CLASS_TABLE, "count": len(CLASSES), "properties": {
        "name": {"values": glb.view(b"".join(names), align=8), "stringOffsets": glb.view(offsets.tobytes(), align=8),
                 "stringOffsetType": "UINT32"},
        "colour": {"values": glb.view(colours.tobytes(), align=8)}}}


def add_semantics(glb: GlbBuilder, attributes: dict[str, int], labels: np.ndarray,
                  instances: np.ndarray) -> dict:
    """Add the feature ID attributes of splats' classes and instances to a splat primitive.

    Args:
        glb: the GLB being built (its root gets the metadata schema and property tables).
        attributes: the primitive's attributes (`_FEATURE_ID_0` and `_FEATURE_ID_1` are added).
        labels: (N,) uint8 class ids, in the primitive's splat order.
        instances: (N,) int64 instance ids, in the same order.

    Returns:
        The primitive's `EXT_mesh_features` object.
    """
    from ..classes import N_CLASSES

    labels = np.asarray(labels, np.uint8)
    objects, index = np.unique(np.asarray(instances, np.int64), return_inverse=True)
    glb.use_extension(FEATURES)
    glb.use_extension(METADATA)
    root = glb.doc.setdefault("extensions", {}).setdefault(METADATA, {"schema": _schema(), "propertyTables": []})
    tables = root["propertyTables"]
    tables.append(_class_table(glb))
    tables.append({"class": OBJECT_TABLE, "count": max(len(objects), 1), "properties": {
        "instance": {"values": glb.view((objects if len(objects) else np.zeros(1, np.int64)).astype("<i8").tobytes(),
                                        align=8)}}})
    attributes["_FEATURE_ID_0"] = _feature_attribute(glb, labels)
    attributes["_FEATURE_ID_1"] = _feature_attribute(glb, index.reshape(-1))
    return {"featureIds": [
        {"featureCount": N_CLASSES, "attribute": 0, "label": "class", "propertyTable": len(tables) - 2},
        {"featureCount": max(len(objects), 1), "attribute": 1, "label": "instance", "propertyTable": len(tables) - 1}]}
