"""A minimal GLB (binary glTF 2.0) builder: one binary buffer, aligned views, typed accessors."""

from __future__ import annotations

import json
import struct

import numpy as np

FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
_COMPONENTS: dict[np.dtype, int] = {np.dtype("float32"): FLOAT, np.dtype("uint8"): UNSIGNED_BYTE,
               np.dtype("uint16"): UNSIGNED_SHORT, np.dtype("uint32"): UNSIGNED_INT}


class GlbBuilder:
    """Collects buffer views and accessors into one binary chunk and writes the GLB container."""

    def __init__(self) -> None:
        self.doc: dict = {"asset": {"version": "2.0", "generator": "earth3d"}, "accessors": [], "bufferViews": []}
        self._chunks: list[bytes] = []
        self._length = 0

    def view(self, data: bytes, target: int | None = None, *, align: int = 4, stride: int | None = None) -> int:
        """Append raw bytes as a buffer view starting at a multiple of `align` bytes (with
        `byteStride` `stride` when given); returns its index.
        """
        pad = (-self._length) % align
        if pad:
            self._chunks.append(b"\0" * pad)
            self._length += pad
        view = {"buffer": 0, "byteOffset": self._length, "byteLength": len(data)}
        if stride is not None:
            view["byteStride"] = stride
        if target is not None:
            view["target"] = target
        self._chunks.append(bytes(data))
        self._length += len(data)
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, array: np.ndarray | None, *, count: int | None = None, width: int | None = None,
                 component: int = FLOAT, normalized: bool = False, minmax: bool = False,
                 target: int | None = ARRAY_BUFFER, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> int:
        """An accessor over `array` (N,) or (N, C), stored in its own view; or, with `array=None`,
        an accessor of `count` x `width` `component`s with no data (filled by an extension).
        """
        if array is None:
            if count is None or width is None:
                raise ValueError("an accessor without data needs its count and width")
            acc = {"componentType": component, "count": int(count), "type": _TYPES[width]}
            if normalized:
                acc["normalized"] = True
        else:
            array = np.ascontiguousarray(array)
            width = 1 if array.ndim == 1 else array.shape[1]
            acc = {"bufferView": self.view(array.tobytes(), target), "componentType": _COMPONENTS[array.dtype],
                   "count": int(array.shape[0]), "type": _TYPES[width]}
            if normalized:
                acc["normalized"] = True
            if minmax and len(array):
                flat = array.reshape(len(array), -1)
                bounds = (flat.min(axis=0), flat.max(axis=0))
        if bounds is not None:
            acc["min"], acc["max"] = [_json_number(v) for v in bounds[0]], [_json_number(v) for v in bounds[1]]
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def use_extension(self, name: str, required: bool = False) -> None:
        for key in ("extensionsUsed",) + (("extensionsRequired",) if required else ()):
            names = self.doc.setdefault(key, [])
            if name not in names:
                names.append(name)

    def to_bytes(self) -> bytes:
        """The GLB file: 12-byte header, JSON chunk (space padded), BIN chunk (zero padded)."""
        doc = dict(self.doc)
        binary = b"".join(self._chunks)
        binary += b"\0" * ((-len(binary)) % 4)
        if binary:
            doc["buffers"] = [{"byteLength": len(binary)}]
        for key in ("accessors", "bufferViews"):
            if not doc[key]:
                del doc[key]
        text = json.dumps(doc, separators=(",", ":")).encode()
        text += b" " * ((-len(text)) % 4)
        total = 12 + 8 + len(text) + (8 + len(binary) if binary else 0)
        out = [struct.pack("<III", 0x46546C67, 2, total), struct.pack("<II", len(text), 0x4E4F534A), text]
        if binary:
            out += [struct.pack("<II", len(binary), 0x004E4942), binary]
        return b"".join(out)


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """Split a GLB into its JSON document and binary chunk (for tests and tools)."""
    magic, version, total = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67 or version != 2 or total != len(data):
        raise ValueError("not a glTF 2.0 binary (bad GLB header)")
    length, kind = struct.unpack_from("<II", data, 12)
    if kind != 0x4E4F534A:
        raise ValueError("GLB does not start with a JSON chunk")
    doc = json.loads(data[20:20 + length])
    binary = b""
    if 20 + length < len(data):
        blen, _ = struct.unpack_from("<II", data, 20 + length)
        binary = data[28 + length:28 + length + blen]
    return doc, binary


def accessor_array(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """The data of an accessor with a buffer view (tightly packed or with a `byteStride`), as a numpy array."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype({v: k for k, v in _COMPONENTS.items()}[acc["componentType"]])
    width = {v: k for k, v in _TYPES.items()}[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride", dtype.itemsize * width)
    if acc["count"] == 0:
        return np.zeros((0, width) if width > 1 else 0, dtype)
    size = stride * (acc["count"] - 1) + dtype.itemsize * width
    rows = np.frombuffer(binary, np.uint8, count=size, offset=start)
    arr = np.lib.stride_tricks.as_strided(rows, (acc["count"], dtype.itemsize * width), (stride, 1)).copy()
    arr = arr.view(dtype)
    return arr if width > 1 else arr[:, 0]


def _json_number(v) -> float | int:
    return int(v) if np.issubdtype(type(v), np.integer) else float(v)
