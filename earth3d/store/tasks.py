"""Building a store as independent per-node tasks.

The build runs in four phases, each a set of tasks that only read what earlier
phases wrote, so any scheduler (a loop, a process pool, Dask) can run them:

1. `ingest(plan, i, source)`: one task per source; produces its Gaussians once
   and spills them, grouped by bucket cell (a fixed octree level), to
   `build/spill/<i>/`.
2. `leaf_tasks(plan)` then `build_leaf(plan, task)`: one task per bucket group;
   splits cells while they hold more than `leaf_cap` splats and writes the leaves.
3. `parent_tasks(plan)` then `build_parent(plan, key, children)`: level by level
   from the deepest, each inner node merges its children's chunks.
4. `finalize(plan)`: writes the subtree index files and, last, `store.json`.

Every file is written to a temporary name and renamed; a task whose outputs
exist and pass their checksums is skipped, so a killed build run again
resumes and produces the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence, Union

import numpy as np

from ..errors import ChunkError, InputError, OutputExistsError, StoreError
from ..gaussians import Gaussians
from ..geometry.gaussian_math import sh_degree_of
from . import chunk as chunkfile
from .chunk import FORMAT_VERSION, Splats
from .fs import Location, check_build_target, file_size, location, remove_tree, write_atomic
from .identity import UNKNOWN
from .index import ENTRY, write_index
from .keys import (
    CUBE_SIDE_M,
    MAX_LEVEL,
    SUBTREE_LEVELS,
    Key,
    cell_center,
    cell_coords,
    cell_min,
    cell_size,
    child,
    octant_of,
    pack,
    parent,
    subtree_root,
    unpack,
)
from .layout import META_FILE, STORE_FORMAT, WORK_FOLDER, chunk_path, index_path
from .merge import merge_splats, splat_bounds

Source = Union[Gaussians, Callable[[], Gaussians]]

__all__ = [
    "BUCKET_SPLATS",
    "MAX_BUCKET_LEVEL",
    "SPILL_FIELDS",
    "BuildPlan",
    "Source",
    "LeafTask",
    "build_leaf",
    "build_parent",
    "finalize",
    "ingest",
    "leaf_tasks",
    "parent_tasks",
    "plan",
    "read_splats",
]

BUCKET_SPLATS = 16  # a bucket cell holds about this many leaf_caps of terrain
MAX_BUCKET_LEVEL = 20
MAX_SCALE_M = 1e6  # the largest splat standard deviation a store takes (a ~1000 km splat)


@dataclass(frozen=True)
class BuildPlan:
    """Settings shared by every task of one build, persisted in build/plan.json."""

    out: Location
    leaf_cap: int
    sh_k: int | None = None
    bucket_level: int | None = None
    sources: tuple[str, ...] | None = None  # the sources' identities (earth3d.store.identity), in order

    @property
    def work(self) -> Location:
        """The build's work folder (spill files, plan, progress markers)."""
        return self.out / WORK_FOLDER

    def chunk_path(self, key: Key) -> Location:
        """The chunk file of node `key` in the store being built."""
        return chunk_path(self.out, key)

    @property
    def fixed(self) -> tuple[int, int]:
        """(sh_k, bucket_level), once the first ingested source has fixed them.

        Raises:
            StoreError: no source has been ingested yet.
        """
        if self.sh_k is None or self.bucket_level is None:
            raise StoreError(f"{self.out}: the build has no SH size and bucket level yet; ingest a source first")
        return self.sh_k, self.bucket_level

    def save(self) -> None:
        """Write the plan to build/plan.json (atomically)."""
        write_atomic(self.work / "plan.json", json.dumps(
            {"leaf_cap": self.leaf_cap, "sh_k": self.sh_k, "bucket_level": self.bucket_level,
             "sources": None if self.sources is None else list(self.sources)}).encode())


def plan(out_path: str | os.PathLike | Location, *, leaf_cap: int = 32768, bucket_level: int | None = None,
         sh_degree: int | None = None, sources: Sequence[str] | None = None, restart: bool = False,
         on_change: Literal["refuse", "restart"] = "refuse") -> BuildPlan:
    """Start or resume a build in `out_path` (a folder or fsspec URL). An interrupted build's
    settings are kept; settings given here that contradict them are refused. An interrupted build
    is resumed only when it was of the same sources: their identities (`earth3d.store.identity`,
    by content) are recorded in the plan and compared here.

    Args:
        out_path: Where the store is built.
        leaf_cap: Most splats in a leaf node.
        bucket_level: Octree level of the ingest buckets (default: chosen from the data).
        sh_degree: SH degree of the stored splats (default: that of the sources).
        sources: The identities of the sources, in order (None: not checked).
        restart: Discard whatever is at `out_path` (an unfinished build or a store) and start clean.
        on_change: What to do when an unfinished build of other sources is there: "refuse"
            (an InputError) or "restart" (discard it and start clean).

    Returns:
        The build plan, recorded under the build's work folder.

    Raises:
        InputError: An option is out of range or contradicts the interrupted build's, or the
            interrupted build was of other sources (with on_change="refuse").
        OutputError: `out_path` holds something other than a store or an unfinished build.
    """
    if leaf_cap < 1:
        raise InputError(f"leaf_cap={leaf_cap} must be >= 1")
    if bucket_level is not None and not 1 <= bucket_level <= MAX_BUCKET_LEVEL:
        raise InputError(f"bucket_level={bucket_level} must be in [1, {MAX_BUCKET_LEVEL}]")
    if on_change not in ("refuse", "restart"):
        raise InputError(f"on_change={on_change!r} must be 'refuse' or 'restart'")
    out = location(out_path)
    check_build_target(out)
    ids = None if sources is None else tuple(sources)
    if restart:
        remove_tree(out)  # check_build_target made sure it holds only a store or a build
    state = out / WORK_FOLDER / "plan.json"
    if state.is_file():
        try:
            saved = json.loads(state.read_text())
        except (ValueError, UnicodeDecodeError):
            saved = None  # torn by a crash before its rename: nothing resumable was recorded with it
        changed = None if saved is None else _changed_sources(saved.get("sources"), ids)
        if saved is None or (changed is not None and on_change == "restart"):
            remove_tree(out)
        elif changed is not None:
            raise InputError(f"{out}: holds an unfinished build of other sources ({changed}); "
                             "build into another folder, or start it over (restart=True)")
        else:
            asked = {"leaf_cap": leaf_cap, "bucket_level": bucket_level,
                     "sh_k": None if sh_degree is None else (sh_degree + 1) ** 2}
            for name, value in asked.items():
                if value is not None and saved[name] is not None and saved[name] != value:
                    raise InputError(f"{out}: an interrupted build with {name}={saved[name]} is there; "
                                     f"resume it with the same {name}, not {value}, or use another folder")
            return BuildPlan(out, leaf_cap, saved["sh_k"], saved["bucket_level"], ids)
    elif (out / META_FILE).is_file() and on_change == "restart":
        remove_tree(out)
    elif (out / META_FILE).is_file():
        raise OutputExistsError(f"{out}: holds a finished store; build into another folder, or replace it "
                                "(restart=True)")
    (out / WORK_FOLDER).mkdir(parents=True, exist_ok=True)
    p = BuildPlan(out, leaf_cap, None if sh_degree is None else (sh_degree + 1) ** 2, bucket_level, ids)
    p.save()
    return p


def _changed_sources(saved: list | None, asked: tuple[str, ...] | None) -> str | None:
    """How the sources asked for differ from an interrupted build's (None: the same, or not checked)."""
    if asked is None:
        return None
    if saved is None:
        return "its sources were not recorded"
    if len(saved) != len(asked):
        return f"{len(saved)} sources there, {len(asked)} now"
    for i, (a, b) in enumerate(zip(saved, asked, strict=True)):
        if a != b or UNKNOWN in (a, b):
            why = "cannot be identified" if UNKNOWN in (a, b) else "other files, changed files or other settings"
            return f"source {i}: {why}"
    return None


# ---------------------------------------------------------------------------- phase 1: ingest
SPILL_FIELDS = ("pos", "quats", "scales", "opacities", "sh")


def _spill_widths(sh_k: int) -> list[tuple[str, np.dtype, tuple]]:
    """Spill files hold, for c splats, the blocks pos f64 (c, 3), quats f32 (c, 4),
    scales f32 (c, 3), opacities f32 (c,), sh f32 (c, K, 3), labels u8 (c,) and instances
    i64 (c,) (zeros for sources without labels), back to back.
    """
    return [("pos", np.dtype("<f8"), (3,)), ("quats", np.dtype("<f4"), (4,)), ("scales", np.dtype("<f4"), (3,)),
            ("opacities", np.dtype("<f4"), ()), ("sh", np.dtype("<f4"), (sh_k, 3)), ("labels", np.dtype("u1"), ()),
            ("instances", np.dtype("<i8"), ())]


def _spill_bytes_per_splat(sh_k: int) -> int:
    return sum(dt.itemsize * int(np.prod(shape)) for _, dt, shape in _spill_widths(sh_k))


def _choose_bucket_level(splats: Splats, leaf_cap: int) -> int:
    """A bucket level whose cells hold ~BUCKET_SPLATS leaf_caps of surface at this splat spacing."""
    spacing = 2.0 * float(np.median(np.sort(splats.scales, axis=1)[:, 1])) if len(splats) else 1.0
    side = max(spacing, 1e-3) * math.sqrt(BUCKET_SPLATS * leaf_cap)
    return int(min(max(round(math.log2(CUBE_SIDE_M / side)), 1), MAX_BUCKET_LEVEL))


def ingest(p: BuildPlan, index: int, source: Source) -> tuple[BuildPlan, dict[int, int]]:
    """Spill source `index` into bucket files (skipped if already done). Returns the plan
    (its sh_k and bucket level are fixed by the first source) and {bucket: count}.
    """
    marker = p.work / "spill" / f"{index:06d}.json"
    if marker.is_file():
        return p, {int(k): v for k, v in json.loads(marker.read_text()).items()}
    g = source() if callable(source) else source
    if not isinstance(g, Gaussians):
        raise TypeError(f"source {index} gave {type(g).__name__}, expected earth3d.Gaussians")
    if p.sh_k is None or p.bucket_level is None:
        sh_k = p.sh_k or int(g.sh.shape[1])
        probe = Splats.from_gaussians(g[: min(len(g), 100_000)], sh_degree_of(sh_k))
        p = BuildPlan(p.out, p.leaf_cap, sh_k, p.bucket_level or _choose_bucket_level(probe, p.leaf_cap), p.sources)
        p.save()
    sh_k, bucket_level = p.fixed
    splats = Splats.from_gaussians(g, sh_degree_of(sh_k))
    _check_splats(splats, index)
    if splats.labels is None:
        splats.labels, splats.instances = np.zeros(len(splats), np.uint8), np.zeros(len(splats), np.int64)
    counts: dict[int, int] = {}
    if len(splats):
        buckets = pack(bucket_level, cell_coords(splats.pos, bucket_level))
        order = np.argsort(buckets, kind="stable")
        ids, starts, sizes = np.unique(buckets[order], return_index=True, return_counts=True)
        fields = [np.ascontiguousarray(getattr(splats, f)[order], dtype=dt) for f, dt, _ in _spill_widths(sh_k)]
        folder = p.work / "spill" / f"{index:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        for b, s, c in zip(ids.tolist(), starts.tolist(), sizes.tolist(), strict=False):
            write_atomic(folder / f"{b}.bin", b"".join(a[s:s + c].data.cast("B") for a in fields))
            counts[b] = c
    write_atomic(marker, json.dumps({str(k): v for k, v in counts.items()}).encode())
    return p, counts


def _check_splats(s: Splats, index: int) -> None:
    for name in SPILL_FIELDS:
        a = getattr(s, name)
        if not np.all(np.isfinite(a)):
            raise InputError(f"source {index}: Gaussians.{name} has non-finite values")
    if len(s) and (s.scales.min() < 0 or s.opacities.min() < 0 or s.opacities.max() > 1):
        raise InputError(f"source {index}: negative scales or opacities outside [0, 1]")
    if len(s) and float(s.scales.max()) > MAX_SCALE_M:
        raise InputError(f"source {index}: Gaussians.scales up to {float(s.scales.max()):.3g} m; a splat may be "
                         f"at most {MAX_SCALE_M:g} m across (std-dev)")
    if len(s) and float(np.abs(s.pos).max()) > CUBE_SIDE_M / 2:
        raise InputError(f"source {index}: Gaussians.pos up to {float(np.abs(s.pos).max()):.3g} m from the "
                         f"Earth's centre, outside the store's cube (half side {CUBE_SIDE_M / 2:g} m)")


# ---------------------------------------------------------------------------- phase 2: leaves
@dataclass(frozen=True)
class LeafTask:
    """Build the leaves under `key` from the spilled buckets `buckets` (packed at the bucket level)."""

    key: Key
    buckets: tuple[int, ...]


def _bucket_counts(p: BuildPlan) -> dict[int, int]:
    total: dict[int, int] = defaultdict(int)
    markers: list[Location] = sorted((p.work / "spill").glob("*.json"), key=str)
    for marker in markers:
        for b, c in json.loads(marker.read_text()).items():
            total[int(b)] += c
    return total


def leaf_tasks(p: BuildPlan) -> list[LeafTask]:
    """Group buckets top-down: a cell with at most leaf_cap splats is one leaf task, a
    bigger cell above the bucket level is split, a bucket cell is one task.
    """
    counts = _bucket_counts(p)
    if not counts:
        return []
    _, B = p.fixed
    ids = np.array(sorted(counts), dtype=np.int64)
    cnt = np.array([counts[i] for i in ids.tolist()], dtype=np.int64)
    coords = unpack(B, ids)
    tasks: list[LeafTask] = []
    stack = [((0, 0, 0, 0), np.arange(len(ids)))]
    while stack:
        key, sel = stack.pop()
        if key[0] == B or cnt[sel].sum() <= p.leaf_cap:
            tasks.append(LeafTask(key, tuple(ids[sel].tolist())))
            continue
        shift = B - key[0] - 1
        bits = (coords[sel] >> shift) & 1
        oct_ = (bits[:, 0] << 2) | (bits[:, 1] << 1) | bits[:, 2]
        for o in range(7, -1, -1):
            part = sel[oct_ == o]
            if len(part):
                stack.append((child(key, o), part))
    return sorted(tasks, key=lambda t: t.key)


def _load_buckets(p: BuildPlan, buckets: Iterable[int]) -> Splats:
    sh_k, _ = p.fixed
    widths = _spill_widths(sh_k)
    per = _spill_bytes_per_splat(sh_k)
    parts = []
    sources = sorted(d for d in (p.work / "spill").iterdir() if d.is_dir())
    for b in buckets:
        for d in sources:
            f = d / f"{b}.bin"
            if f.is_file():
                raw = f.read_bytes()
                c, offset, arrays = len(raw) // per, 0, []
                for _, dt, shape in widths:
                    size = c * int(np.prod(shape))
                    arrays.append(np.frombuffer(raw, dt, size, offset).reshape((c, *shape)))
                    offset += size * dt.itemsize
                parts.append(Splats(*arrays))
    if not parts:
        raise StoreError(f"{p.out}: no spilled splats for buckets {list(buckets)[:4]}")
    out = Splats.concat(parts)
    if out.labels is not None and out.instances is not None and not (out.labels.any() or out.instances.any()):
        out.labels = out.instances = None  # unlabelled sources: chunks without label blocks
    return out


def _write_node(p: BuildPlan, key: Key, splats: Splats, error: float, leaf: bool) -> None:
    path = p.chunk_path(key)
    if chunkfile.valid_header(path, key) is not None:
        return  # written by an earlier run of this build
    data = chunkfile.encode(key, splats, cell_center(key), splat_bounds(splats), error, leaf)
    write_atomic(path, data)


def build_leaf(p: BuildPlan, task: LeafTask) -> list[Key]:
    """Write the leaves of one task; returns their keys (also recorded for resuming)."""
    marker = p.work / "leaves" / f"{task.key[0]}_{task.key[1]}_{task.key[2]}_{task.key[3]}.json"
    if marker.is_file():
        return [tuple(k) for k in json.loads(marker.read_text())]
    splats = _load_buckets(p, task.buckets)
    leaves: list[Key] = []
    stack = [(task.key, np.arange(len(splats)))]
    while stack:
        key, idx = stack.pop()
        if len(idx) <= p.leaf_cap or key[0] >= MAX_LEVEL:
            _write_node(p, key, splats.take(idx), 0.0, leaf=True)
            leaves.append(key)
            continue
        center = cell_center(key)
        pos = splats.pos[idx]
        oct_ = ((pos[:, 0] >= center[0]) * 4 + (pos[:, 1] >= center[1]) * 2 + (pos[:, 2] >= center[2])).astype(np.int64)
        order = np.argsort(oct_, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(oct_, minlength=8))])
        for o in range(7, -1, -1):
            if bounds[o + 1] > bounds[o]:
                stack.append((child(key, o), idx[order[bounds[o]:bounds[o + 1]]]))
    leaves.sort()
    write_atomic(marker, json.dumps(leaves).encode())
    return leaves


# ---------------------------------------------------------------------------- phase 3: parents
def parent_tasks(nodes: Iterable[Key]) -> list[list[tuple[Key, list[Key]]]]:
    """(parent, children) tasks grouped by level, deepest first, above the given nodes."""
    by_level: dict[int, set[Key]] = defaultdict(set)
    for k in nodes:
        by_level[k[0]].add((k[0], k[1], k[2], k[3]))
    if not by_level:
        return []
    levels = []
    for level in range(max(by_level), 0, -1):
        kids: dict[Key, list[Key]] = defaultdict(list)
        for k in sorted(by_level[level]):
            kids[parent(k)].append(k)
        by_level[level - 1].update(kids)
        levels.append(sorted(kids.items()))
    return levels


def read_splats(root: Location, key: Key, verify: bool = True) -> tuple[Splats, np.void]:
    """A chunk's splats with absolute float64 positions, and its header (validated; without
    the checksum pass when `verify` is False: a build's own chunks were checked when written
    or when a resumed build found them).
    """
    path = chunk_path(root, key)
    if verify:
        head, arr = chunkfile.load(path, key)
    else:
        buf = chunkfile.read_bytes(path, key)
        head = chunkfile.parse_header(buf, key, path)
        arr = chunkfile.decode(buf, head)
    return chunkfile.splats_of(arr, head), head


def build_parent(p: BuildPlan, key: Key, children: list[Key]) -> None:
    """Merge the children's chunks into this inner node's chunk (skipped if already valid)."""
    path = p.chunk_path(key)
    if chunkfile.valid_header(path, key) is not None:
        return
    parts, child_error = [], 0.0
    for k in children:
        s, head = read_splats(p.out, k, verify=False)
        parts.append(s)
        child_error = max(child_error, float(head["error"]))
    merged, error, _ = merge_splats(Splats.concat(parts), cell_min(key), cell_size(key[0]))
    _write_node(p, key, merged, max(error, child_error), leaf=False)


# ---------------------------------------------------------------------------- phase 4: index
def finalize(p: BuildPlan, nodes: Iterable[Key], *, keep_work: bool = False) -> None:
    """Write the subtree index files and store.json from the chunk headers."""
    nodes = sorted({(k[0], k[1], k[2], k[3]) for k in nodes})
    if not nodes:
        raise InputError(f"{p.out}: the sources hold no splats; nothing to store")
    entries = np.zeros(len(nodes), ENTRY)
    for i, key in enumerate(nodes):
        path = p.chunk_path(key)
        with path.open("rb") as f:
            head = np.frombuffer(f.read(chunkfile.HEADER.itemsize), chunkfile.HEADER)[0]
        if (int(head["level"]), *map(int, head["xyz"])) != key:
            raise ChunkError(key, path, "the chunk header names another node")
        e = entries[i]
        e["level"], e["xyz"], e["count"], e["error"] = key[0], key[1:], head["count"], head["error"]
        for field in ("flags", "bmin", "bmax", "obb_center", "obb_half_axes", "checksum"):
            e[field] = head[field]
        e["nbytes"] = file_size(path)
    index_of = {k: i for i, k in enumerate(nodes)}
    for key in nodes:
        if key[0] > 0:
            entries[index_of[parent(key)]]["child_mask"] |= np.uint8(1 << octant_of(key))
    groups: dict[Key, list[int]] = defaultdict(list)
    for i, key in enumerate(nodes):
        groups[subtree_root(key)].append(i)
    index_bytes = 0
    for root, rows in groups.items():
        path = index_path(p.out, root)
        write_index(path, entries[rows])
        index_bytes += file_size(path)
    leaves = entries["flags"] & chunkfile.FLAG_LEAF != 0
    meta = {
        "format": STORE_FORMAT,
        "version": FORMAT_VERSION,
        "cube": {"side_m": CUBE_SIDE_M, "center_ecef_m": [0.0, 0.0, 0.0]},
        "subtree_levels": SUBTREE_LEVELS,
        "sh_degree": sh_degree_of(p.fixed[0]),
        "leaf_cap": p.leaf_cap,
        "levels": [int(entries["level"].min()), int(entries["level"].max())],
        "node_count": len(nodes),
        "leaf_count": int(leaves.sum()),
        "splat_count_leaves": int(entries["count"][leaves].sum()),
        "splat_count_total": int(entries["count"].sum()),
        "chunk_bytes": int(entries["nbytes"].sum()),
        "index_bytes": index_bytes,
        "extent": {"bmin": entries["bmin"][leaves].min(axis=0).tolist(),
                   "bmax": entries["bmax"][leaves].max(axis=0).tolist()},
        "roots": [list(k) for k in nodes if k[0] == 0],
    }
    write_atomic(p.out / META_FILE, json.dumps(meta, indent=1).encode())
    if not keep_work:
        remove_tree(p.work)
