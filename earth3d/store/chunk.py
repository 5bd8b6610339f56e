"""The chunk file: one node's splats in one contiguous, checksummed file.

Layout (little-endian, see docs/FORMAT.md): a 240-byte header (HEADER below),
then column blocks of float32: means (N, 3) as offsets from the header's float64
origin, quats (N, 4) wxyz, scales (N, 3) std-devs in metres, opacities (N,),
sh (N, K, 3); from version 2, when the header's flags have FLAG_LABELS, then
instances (N,) int64 and labels (N,) uint8 (earth3d.classes ids). Version 1
chunks (no labels) are still read, as splats without labels. The header's
`checksum` is BLAKE2b-128 over the whole file with the checksum field zeroed,
so a chunk validates itself (resume) and against its index entry (reads).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..errors import ChunkError
from ..gaussians import Gaussians
from .fs import Location, file_size
from .keys import Key, as_key, key_name

FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)  # version 1: no labels; its chunks and stores are read without them
CHUNK_MAGIC = b"E3DCHUNK"
FLAG_LEAF = 1
FLAG_LABELS = 2

HEADER = np.dtype([
    ("magic", "S8"), ("version", "<u4"), ("level", "<u4"), ("xyz", "<u4", (3,)), ("count", "<u4"),
    ("sh_k", "<u4"), ("flags", "<u4"), ("reserved", "<u4", (2,)), ("origin", "<f8", (3,)),
    ("bmin", "<f8", (3,)), ("bmax", "<f8", (3,)), ("error", "<f8"), ("obb_center", "<f8", (3,)),
    ("obb_half_axes", "<f8", (3, 3)), ("checksum", "V16"),
])
assert HEADER.itemsize == 240
_CHECKSUM_AT = HEADER.itemsize - HEADER["checksum"].itemsize  # the checksum is the last field


@dataclass
class Splats:
    """Splats as plain arrays: absolute float64 ECEF positions plus float32 attributes.

    The store's building works on these (spilling, splitting by position, merging: absolute
    float64 positions need no origin bookkeeping and numba takes numpy); every other stage
    passes `earth3d.Gaussians`. `from_gaussians` and `to_gaussians` are the only conversions,
    built on `Gaussians.arrays` and `Gaussians.from_arrays`.
    """

    pos: np.ndarray  # (N, 3) float64 ECEF
    quats: np.ndarray  # (N, 4) float32 wxyz
    scales: np.ndarray  # (N, 3) float32
    opacities: np.ndarray  # (N,) float32
    sh: np.ndarray  # (N, K, 3) float32
    labels: np.ndarray | None = None  # (N,) uint8 class ids, or None
    instances: np.ndarray | None = None  # (N,) int64 instance ids, or None (set together with labels)

    def __post_init__(self) -> None:
        n = len(self)
        if (self.labels is None) != (self.instances is None):
            if self.labels is None:
                self.labels = np.zeros(n, np.uint8)
            else:
                self.instances = np.zeros(n, np.int64)

    def __len__(self) -> int:
        return int(self.pos.shape[0])

    @classmethod
    def from_gaussians(cls, gaussians: Gaussians, sh_degree: int | None = None) -> "Splats":
        """The splats of `gaussians` with absolute positions, SH padded or cut to `sh_degree` (default: theirs)."""
        g = gaussians if sh_degree is None else gaussians.with_sh_degree(sh_degree)
        a = g.arrays()
        sem = g.label_arrays() or (None, None)
        return cls(a.means.astype(np.float64) + g.origin, a.quats, a.scales, a.opacities, a.sh, *sem)

    def to_gaussians(self, origin) -> Gaussians:
        """These splats as `Gaussians` with offsets from the float64 ECEF `origin` (rounded once to float32)."""
        origin = np.asarray(origin, dtype=np.float64).reshape(3)
        return Gaussians.from_arrays(origin, self.pos - origin, self.quats, self.scales, self.opacities, self.sh,
                                     self.labels, self.instances)

    def take(self, index) -> "Splats":
        """The splats at `index` (a slice, integer array or boolean mask)."""
        sem = (None, None) if self.labels is None or self.instances is None else (
            self.labels[index], self.instances[index])
        return Splats(self.pos[index], self.quats[index], self.scales[index], self.opacities[index], self.sh[index],
                      *sem)

    @staticmethod
    def concat(parts: list["Splats"]) -> "Splats":
        """The parts one after another (same SH size); labels when any part has them (0 for the others)."""
        fields = ("pos", "quats", "scales", "opacities", "sh")
        out = Splats(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))
        if any(p.labels is not None for p in parts):
            out.labels = np.concatenate([p.labels if p.labels is not None else np.zeros(len(p), np.uint8)
                                         for p in parts])
            out.instances = np.concatenate([p.instances if p.instances is not None else np.zeros(len(p), np.int64)
                                            for p in parts])
        return out


def checksum(data: bytes | bytearray | memoryview) -> bytes:
    """BLAKE2b-128 of a chunk's bytes with the header's checksum field taken as zeros."""
    h = hashlib.blake2b(digest_size=16)
    view = memoryview(data)
    h.update(view[:_CHECKSUM_AT])
    h.update(bytes(16))
    h.update(view[_CHECKSUM_AT + 16:])
    return h.digest()


def payload_size(count: int, sh_k: int, labels: bool = False) -> int:
    """Bytes after the header for `count` splats with `sh_k` SH coefficients each (and labels)."""
    return 4 * count * (3 + 4 + 3 + 1 + 3 * sh_k) + (9 * count if labels else 0)


def encode(key: Key, splats: Splats, origin: np.ndarray, bounds, error: float, leaf: bool) -> bytes:
    """The bytes of a chunk file (header with checksum + payload)."""
    n, k = len(splats), splats.sh.shape[1]
    head = np.zeros((), HEADER)
    head["magic"], head["version"], head["level"], head["xyz"] = CHUNK_MAGIC, FORMAT_VERSION, key[0], key[1:]
    labelled = splats.labels is not None
    head["count"], head["sh_k"] = n, k
    head["flags"] = (FLAG_LEAF if leaf else 0) | (FLAG_LABELS if labelled else 0)
    head["origin"], head["bmin"], head["bmax"], head["error"] = origin, bounds.bmin, bounds.bmax, error
    head["obb_center"], head["obb_half_axes"] = bounds.center, bounds.half_axes
    means = (splats.pos - origin).astype(np.float32)
    blocks = [means, splats.quats, splats.scales, splats.opacities, splats.sh]
    parts = [head.tobytes()] + [np.ascontiguousarray(b, dtype="<f4").tobytes() for b in blocks]
    if labelled:
        parts += [np.ascontiguousarray(splats.instances, dtype="<i8").tobytes(),
                  np.ascontiguousarray(splats.labels, dtype="u1").tobytes()]
    buf = bytearray(b"".join(parts))
    buf[_CHECKSUM_AT:_CHECKSUM_AT + 16] = checksum(buf)
    return bytes(buf)


def read_bytes(path: Location, key: Key, expected_size: int | None = None) -> bytearray:
    """All bytes of a chunk with one read; clear errors for missing or truncated files."""
    try:
        size = file_size(path)
    except FileNotFoundError:
        raise ChunkError(key, path, "chunk file is missing") from None
    if expected_size is not None and size != expected_size:
        raise ChunkError(key, path, f"chunk has {size} bytes, the index says {expected_size} (truncated or replaced)")
    buf = bytearray(size)
    with path.open("rb") as f:
        # UPath.open is typed as returning BinaryIO, but local and fsspec files both have readinto
        got = f.readinto(buf)  # type: ignore[attr-defined]
    if got != size:
        raise ChunkError(key, path, f"read {got} of {size} bytes")
    return buf


def parse_header(buf: bytes | bytearray, key: Key, path: Location) -> np.void:
    """The header, checked for magic, version, key and size."""
    if len(buf) < HEADER.itemsize:
        raise ChunkError(key, path, f"chunk has {len(buf)} bytes, shorter than its {HEADER.itemsize}-byte header")
    head = np.frombuffer(bytes(buf[:HEADER.itemsize]), HEADER)[0]
    if head["magic"] != CHUNK_MAGIC:
        raise ChunkError(key, path, f"not an earth3d chunk (magic {bytes(head['magic'])!r})")
    if head["version"] not in READ_VERSIONS:
        raise ChunkError(key, path, f"chunk format version {int(head['version'])}, "
                                    f"this reader reads versions {', '.join(map(str, READ_VERSIONS))}")
    got_key = as_key((head["level"], *head["xyz"]))
    if got_key != tuple(key):
        raise ChunkError(key, path, f"chunk header names node {key_name(got_key)}")
    want = HEADER.itemsize + payload_size(int(head["count"]), int(head["sh_k"]), has_labels(head))
    if len(buf) != want:
        raise ChunkError(key, path, f"chunk has {len(buf)} bytes, its header implies {want} (truncated)")
    return head


def has_labels(head: np.void) -> bool:
    """Whether a chunk (by its header) carries labels and instances (version 2 with FLAG_LABELS)."""
    return int(head["version"]) >= 2 and bool(int(head["flags"]) & FLAG_LABELS)


def verify(buf: bytearray, head: np.void, key: Key, path: Location, expected: bytes | None = None) -> None:
    """Check the BLAKE2b checksum against the header's and, if given, the index's."""
    digest = checksum(buf)
    if digest != bytes(head["checksum"]):
        raise ChunkError(key, path, f"checksum mismatch: header {bytes(head['checksum']).hex()}, "
                                    f"bytes {digest.hex()} (corrupt)")
    if expected is not None and digest != expected:
        raise ChunkError(key, path, f"checksum mismatch: index {expected.hex()}, "
                                    f"chunk {digest.hex()} (stale or replaced)")


def decode(buf: bytearray, head: np.void) -> dict[str, np.ndarray]:
    """Zero-copy views of the payload blocks: float32 means (relative to head['origin']), quats,
    scales, opacities, sh, and for chunks with labels int64 `instances` and uint8 `labels`.
    """
    n, k = int(head["count"]), int(head["sh_k"])
    shapes = {"means": (n, 3), "quats": (n, 4), "scales": (n, 3), "opacities": (n,), "sh": (n, k, 3)}
    out, offset = {}, HEADER.itemsize
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = np.frombuffer(buf, "<f4", size, offset).reshape(shape)
        offset += 4 * size
    if has_labels(head):
        out["instances"] = np.frombuffer(buf, "<i8", n, offset)
        out["labels"] = np.frombuffer(buf, "u1", n, offset + 8 * n)
    return out


def splats_of(arr: dict[str, np.ndarray], head: np.void) -> Splats:
    """The decoded arrays of a chunk as Splats with absolute float64 positions (labels if it has them)."""
    pos = arr["means"].astype(np.float64) + head["origin"]
    return Splats(pos, arr["quats"], arr["scales"], arr["opacities"], arr["sh"], arr.get("labels"),
                  arr.get("instances"))


def load(path: Location, key: Key, expected_size: int | None = None, expected_checksum: bytes | None = None):
    """(header, arrays) of a chunk, fully validated."""
    buf = read_bytes(path, key, expected_size)
    head = parse_header(buf, key, path)
    verify(buf, head, key, path, expected_checksum)
    return head, decode(buf, head)


def valid_header(path: Location, key: Key) -> np.void | None:
    """The header of an existing chunk that passes every check, else None (used to resume builds)."""
    try:
        buf = read_bytes(path, key)
        head = parse_header(buf, key, path)
        verify(buf, head, key, path)
        return head
    except ChunkError:
        return None
