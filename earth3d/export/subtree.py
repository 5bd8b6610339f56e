"""3D Tiles 1.1 implicit-tiling subtree files (binary `.subtree`) for octrees.

A subtree covers `subtree_levels` levels below its root tile. It holds three availability bitstreams
(tiles, contents, child subtrees), each bit set for an available element, and optionally a property
table of tile metadata for the available tiles. Bit order: level by level (level offset
(8^l - 1) / 7), within a level by Morton index, interleaving the tile's local x, y, z bits with x in
the lowest bit; bits are packed least significant first. A bitstream whose bits are all equal is
written as a constant instead.

Binary layout (little-endian): magic "subt" (u32 0x74627573), version u32 = 1, JSON length u64,
binary length u64; then the JSON chunk padded with spaces and the binary chunk padded with zeros,
both to 8 bytes. Every buffer view starts on an 8-byte boundary of the internal buffer.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

MAGIC = 0x74627573
VERSION = 1


def level_offset(level: int) -> int:
    """Index of the first bit of a local level in tile and content availability (octree)."""
    return ((1 << (3 * level)) - 1) // 7


def tile_bits(subtree_levels: int) -> int:
    """Length of tile and content availability in bits: the tiles of `subtree_levels` levels."""
    return level_offset(subtree_levels)


def morton3(x: np.ndarray, y: np.ndarray, z: np.ndarray, levels: int) -> np.ndarray:
    """Morton indices of local octree coordinates below 2^levels (x in the lowest bit)."""
    x, y, z = (np.asarray(v, dtype=np.int64) for v in (x, y, z))
    out = np.zeros(np.broadcast(x, y, z).shape, dtype=np.int64)
    for b in range(levels):
        out |= ((x >> b) & 1) << (3 * b) | ((y >> b) & 1) << (3 * b + 1) | ((z >> b) & 1) << (3 * b + 2)
    return out


def encode_subtree(tiles: np.ndarray, contents: np.ndarray, children: np.ndarray,
                   tile_table: tuple[str, dict[str, np.ndarray]] | None = None) -> bytes:
    """The bytes of a binary subtree file.

    `tiles`, `contents`: bool availability in bit order (length `tile_bits`); `children`: bool child
    subtree availability (8^subtree_levels). `tile_table`: (class name, {property: values}) of tile
    metadata, each values array holding one row per available tile in bit order (stored as its dtype).
    """
    binary = bytearray()
    views: list[dict] = []

    def view(data: bytes) -> int:
        binary.extend(b"\0" * (-len(binary) % 8))
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data)})
        binary.extend(data)
        return len(views) - 1

    def availability(bits: np.ndarray) -> dict:
        bits = np.asarray(bits, dtype=bool)
        count = int(bits.sum())
        if count in (0, len(bits)):
            return {"constant": int(count > 0), "availableCount": count}
        return {"bitstream": view(np.packbits(bits, bitorder="little").tobytes()), "availableCount": count}

    doc: dict = {"tileAvailability": availability(tiles), "contentAvailability": [availability(contents)],
                 "childSubtreeAvailability": availability(children)}
    if tile_table is not None:
        name, properties = tile_table
        count = int(np.asarray(tiles, dtype=bool).sum())
        table: dict[str, Any] = {"class": name, "count": count, "properties": {}}
        for prop, values in properties.items():
            values = np.ascontiguousarray(values)
            if len(values) != count:
                raise ValueError(f"tile property {prop!r} has {len(values)} rows for {count} available tiles")
            table["properties"][prop] = {"values": view(values.astype(values.dtype.newbyteorder("<")).tobytes())}
        doc["propertyTables"] = [table]
        doc["tileMetadata"] = 0
    binary.extend(b"\0" * (-len(binary) % 8))
    if binary:
        doc["buffers"] = [{"byteLength": len(binary)}]
        doc["bufferViews"] = views
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<IIQQ", MAGIC, VERSION, len(text), len(binary)) + text + bytes(binary)


def decode_subtree(data: bytes, subtree_levels: int, source: str = "subtree") -> dict:
    """Parse a binary subtree: {"json", "tiles", "contents", "children"} (bool arrays in bit order)
    and "views" (the bytes of each buffer view of the internal buffer).
    """
    if len(data) < 24:
        raise ValueError(f"{source}: shorter than the 24-byte subtree header")
    magic, version, json_len, bin_len = struct.unpack_from("<IIQQ", data, 0)
    if magic != MAGIC or version != VERSION:
        raise ValueError(f"{source}: not a version-1 subtree (magic {magic:#x}, version {version})")
    if json_len % 8 or bin_len % 8 or 24 + json_len + bin_len != len(data):
        raise ValueError(f"{source}: chunk lengths {json_len} + {bin_len} do not fit {len(data)} bytes "
                         "on 8-byte bounds")
    doc = json.loads(data[24:24 + json_len])
    binary = data[24 + json_len:]
    views = [binary[v["byteOffset"]:v["byteOffset"] + v["byteLength"]] for v in doc.get("bufferViews", [])]

    def bits(avail: dict, n: int) -> np.ndarray:
        if "constant" in avail:
            return np.full(n, bool(avail["constant"]))
        packed = np.frombuffer(views[avail["bitstream"]], np.uint8)
        return np.unpackbits(packed, count=n, bitorder="little").astype(bool)

    n = tile_bits(subtree_levels)
    return {"json": doc, "views": views, "tiles": bits(doc["tileAvailability"], n),
            "contents": bits(doc["contentAvailability"][0], n) if "contentAvailability" in doc else np.zeros(n, bool),
            "children": bits(doc["childSubtreeAvailability"], 1 << (3 * subtree_levels))}
