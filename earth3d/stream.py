"""Streaming a store: the screen-space-error cut for a camera, a byte-budget chunk cache,
background loading and prefetch along a camera path.

The cut starts at the roots; a node outside the view frustum is dropped, a
node whose screen-space error `error * viewport_height / (2 * distance *
tan(fovy / 2))` is at most `sse_threshold_px` (or a leaf) is drawn, any other
node is replaced by its children (3D Tiles REPLACE refinement). Refinement goes
in order of decreasing SSE under an optional splat budget (splats per pixel, as
Potree's point budget, over at least `BUDGET_MIN_PIXELS`): grazing views of huge
worlds stay bounded. Distances and frustum tests use each node's oriented
bounding box (thin for terrain, so the distance is not underestimated as an
ECEF-aligned box would), in float64 relative to the camera.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np

from .errors import InputError
from .gaussians import Gaussians
from .geometry import Camera
from .nodes import NodeTable
from .store import Store
from .store.keys import Key, parent

__all__ = [
    "BUDGET_MIN_PIXELS",
    "CUT_MEMO",
    "OCCLUDER_RADIUS_M",
    "CutStats",
    "Stream",
    "below_horizon",
    "box_corners",
    "distance_to_box",
    "frustum_planes",
    "screen_coverage",
    "screen_space_error",
    "visible",
]

Mode = Literal["complete", "interactive"]
# The polar radius less the deepest ocean trench: every surface point lies outside this sphere.
OCCLUDER_RADIUS_M = 6_356_752.0 - 11_000.0
CUT_MEMO = 16  # cuts remembered per stream: the prefetched views ahead and the current one
#: The splat budget counts at least this many pixels (a 1280x720 frame's). A cut near the ground
#: holds coarse nodes all around the camera whatever the frame's size (the visible siblings of the
#: node holding the camera, at each level of the octree: 145k of the 227k splats of a 640x360
#: street view of the demo world at one per pixel), so a smaller frame's own pixel count left the
#: buildings across the street coarse, smudged grey walls without windows.
BUDGET_MIN_PIXELS = 1280 * 720


def _view_key(camera: Camera) -> tuple:
    """What a cut depends on in a camera: pose and intrinsics, as hashable values."""
    return (camera.position.tobytes(), camera.rotation.tobytes(), camera.width, camera.height, camera.fx,
            camera.fy, camera.cx, camera.cy, camera.near, camera.far)


@dataclass
class CutStats:
    """What the last `select` drew: nodes of the SSE cut, nodes drawn (interactive mode may
    draw coarser ancestors), splats, cut nodes still loading, cache bytes, nodes tested,
    nodes left coarser than the SSE rule asks because of the splat budget.
    """

    cut_nodes: int = 0
    drawn_nodes: int = 0
    splats: int = 0
    missing: int = 0
    cache_bytes: int = 0
    visited: int = 0
    budget_limited: int = 0


def frustum_planes(camera: Camera) -> np.ndarray:
    """Inward normals (5, 3) in camera axes of the left, right, top, bottom and near planes
    (the near plane's offset is handled separately).
    """
    w, h = camera.width, camera.height
    return np.array([
        [1.0, 0.0, camera.cx / camera.fx],
        [-1.0, 0.0, (w - camera.cx) / camera.fx],
        [0.0, 1.0, camera.cy / camera.fy],
        [0.0, -1.0, (h - camera.cy) / camera.fy],
        [0.0, 0.0, 1.0],
    ])


def box_corners(center: np.ndarray, half_axes: np.ndarray) -> np.ndarray:
    """The 8 corners (N, 8, 3) of oriented boxes (N, 3) centers, (N, 3, 3) half-axis columns."""
    signs = np.array([[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)], dtype=np.float64) * 2 - 1
    return center[:, None, :] + np.einsum("kj,nij->nki", signs, half_axes)


def below_horizon(camera: Camera, corners_rel: np.ndarray, radius: float = OCCLUDER_RADIUS_M) -> np.ndarray:
    """Boolean (N,) of boxes (camera-relative corners (N, 8, 3)) hidden behind a sphere of
    `radius` at the earth's center. The points hidden by a sphere, seen from outside it,
    include the convex set inside its tangent cone and beyond the plane of the tangent
    circle; a box whose 8 corners are all in that set is hidden.
    """
    to_center = -camera.position
    dist = float(np.linalg.norm(to_center))
    if dist <= radius:
        return np.zeros(corners_rel.shape[0], dtype=bool)
    u = to_center / dist
    along = corners_rel @ u  # (N, 8) distance along the view of the center
    cos_half = np.sqrt(dist * dist - radius * radius) / dist  # the tangent cone's half-angle
    in_cone = along >= cos_half * np.linalg.norm(corners_rel, axis=2)
    beyond = along >= (dist * dist - radius * radius) / dist
    return np.all(in_cone & beyond, axis=1)


def visible(camera: Camera, center: np.ndarray, half_axes: np.ndarray) -> np.ndarray:
    """Boolean (N,) of oriented boxes neither wholly outside the view frustum nor wholly
    behind the earth (horizon culling against a sphere inside every surface).
    """
    corners = box_corners(center - camera.position, half_axes)  # float64, camera-relative
    cam = corners @ camera.rotation  # (N, 8, 3) in camera axes
    d = cam @ frustum_planes(camera).T  # (N, 8, 5)
    d[..., 4] -= camera.near
    return ~np.any(np.all(d < 0, axis=1), axis=1) & ~below_horizon(camera, corners)


def screen_coverage(camera: Camera, center: np.ndarray, half_axes: np.ndarray) -> np.ndarray:
    """Pixels (N,) of the image covered by the rectangle around oriented boxes' projected corners
    (the whole image for a box reaching the camera's near plane).
    """
    cam = box_corners(center - camera.position, half_axes) @ camera.rotation  # (N, 8, 3) camera axes
    z = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = camera.fx * cam[..., 0] / z + camera.cx
        y = camera.fy * cam[..., 1] / z + camera.cy
    w = np.clip(x.max(axis=1), 0, camera.width) - np.clip(x.min(axis=1), 0, camera.width)
    h = np.clip(y.max(axis=1), 0, camera.height) - np.clip(y.min(axis=1), 0, camera.height)
    return np.where(np.all(z > camera.near, axis=1), w * h, float(camera.width * camera.height))


def distance_to_box(point: np.ndarray, center: np.ndarray, half_axes: np.ndarray) -> np.ndarray:
    """Distances (N,) from a point to oriented boxes (0 inside)."""
    lengths = np.linalg.norm(half_axes, axis=1)  # (N, 3): half-length of each axis column
    units = half_axes / np.maximum(lengths, 1e-300)[:, None, :]
    local = np.einsum("nij,ni->nj", units, point - center)  # the point in box axes
    gap = np.maximum(np.abs(local) - lengths, 0.0)
    return np.sqrt((gap * gap).sum(axis=1))


def screen_space_error(camera: Camera, error: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Pixels: error * viewport_height / (2 * distance * tan(fovy / 2)) (= error * fy / distance)."""
    scale = camera.height / (2.0 * np.tan(camera.fov_y_rad / 2.0))
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(distance > 0, error * scale / np.maximum(distance, 1e-300), np.inf)


class Stream:
    """Selects, loads and caches the chunks a camera needs from a `Store`.

    Args:
        store: The store, or the path or URL of one.
        cache_bytes: Most bytes of decoded chunks kept in memory (least recently used go first).
        sse_threshold_px: A node whose screen-space error is at most this many pixels is drawn
            instead of its children.
        mode: "complete" waits for every chunk of a cut; "interactive" draws what is loaded.
        threads: Threads loading chunks in the background.
        splat_budget_per_pixel: Most splats per image pixel a cut holds (refinements of the
            largest error first), the pixels counted as at least `BUDGET_MIN_PIXELS`; None for
            no budget.

    Raises:
        InputError: An option is out of range.

    Example:
        >>> with Stream(open_store("world.e3d")) as stream:  # doctest: +SKIP
        ...     g = stream.select(camera)
    """

    def __init__(self, store: Store | str, cache_bytes: int = 1 << 30, sse_threshold_px: float = 1.0,
                 mode: Mode = "complete", threads: int = 2, splat_budget_per_pixel: float | None = 1.0):
        if not isinstance(store, Store):
            store = Store(store)
        if mode not in ("complete", "interactive"):
            raise InputError(f"mode={mode!r} must be 'complete' or 'interactive'")
        if not sse_threshold_px > 0:
            raise InputError(f"sse_threshold_px={sse_threshold_px} must be positive")
        if splat_budget_per_pixel is not None and not splat_budget_per_pixel > 0:
            raise InputError(f"splat_budget_per_pixel={splat_budget_per_pixel} must be positive or None")
        if cache_bytes < 0 or threads < 1:
            raise InputError(f"cache_bytes={cache_bytes} must be >= 0 and threads={threads} >= 1")
        self.store, self.cache_bytes, self.mode = store, int(cache_bytes), mode
        self.sse_threshold_px = float(sse_threshold_px)
        self.splat_budget_per_pixel = splat_budget_per_pixel
        self._cache: OrderedDict[Key, Gaussians] = OrderedDict()
        self._cached_bytes = 0
        self._pending: dict[Key, Future] = {}
        self._failed: dict[Key, Exception] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="earth3d-stream")
        self._nodes = NodeTable(store)
        self._cuts: OrderedDict[tuple, tuple[list[Key], int, int]] = OrderedDict()
        self.last = CutStats()

    # ------------------------------------------------------------------ selection
    def _tests(self, camera: Camera, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(visible, sse, refinement priority) of node rows, in one vectorized call. The priority
        is the SSE times the pixels the node covers: the error a refinement removes from the image.
        """
        t = self._nodes
        center, half_axes = t.center[rows], t.half_axes[rows]
        vis = visible(camera, center, half_axes)
        sse = screen_space_error(camera, t.error[rows], distance_to_box(camera.position, center, half_axes))
        return vis, sse, sse * screen_coverage(camera, center, half_axes)

    def cut(self, camera: Camera) -> list[Key]:
        """The nodes to draw for `camera`: visible, and SSE under the threshold or leaves.

        Nodes are refined in order of decreasing priority: SSE times the pixels the node
        covers, so that with a splat budget the refinements that remove the most error from
        the image come first (a large SSE at the horizon, where a node covers a few rows, waits
        for the street in front of the camera). A node whose refinement would take the splats
        of the cut over the budget is drawn itself (its SSE stays above the threshold; counted
        in `last.budget_limited`). The children of every node that may be refined are tested
        together, a whole frontier per numpy call.
        """
        budget = (math.inf if self.splat_budget_per_pixel is None
                  else self.splat_budget_per_pixel * max(camera.width * camera.height, BUDGET_MIN_PIXELS))
        t, tau = self._nodes, self.sse_threshold_px
        heap: list[tuple[float, int]] = []  # (-priority, row) of nodes that may be refined
        chosen: list[int] = []

        def place(rows: np.ndarray, sse: np.ndarray, priority: np.ndarray) -> None:
            for q, e, p in zip(rows.tolist(), sse.tolist(), priority.tolist(), strict=False):
                if t.leaf[q] or e <= tau:
                    chosen.append(q)
                else:
                    heapq.heappush(heap, (-p, q))

        roots = t.rows(self.store.root_keys())
        vis, sse, priority = self._tests(camera, roots)
        place(roots[vis], sse[vis], priority[vis])
        total = int(t.count[roots[vis]].sum())
        visited, limited = len(roots), 0
        kids: dict[int, tuple] = {}  # row -> (visible children, their sse, priority, splats)
        while heap:
            _, r = heapq.heappop(heap)
            if r not in kids:  # test the children of every node that may yet be refined, at once
                batch = [r] + [q for _, q in heap if q not in kids]
                lists = [t.children(q) for q in batch]
                rows = np.concatenate(lists)
                visited += len(rows)
                kv, ks, kp = self._tests(camera, rows)
                at = 0
                for q, lst in zip(batch, lists, strict=False):
                    v = kv[at:at + len(lst)]
                    part = slice(at, at + len(lst))
                    kids[q] = (lst[v], ks[part][v], kp[part][v], int(t.count[lst[v]].sum()))
                    at += len(lst)
            rows, sse, priority, n_kids = kids[r]
            if total - int(t.count[r]) + n_kids > budget:
                chosen.append(r)
                limited += 1
                continue
            total += n_kids - int(t.count[r])
            place(rows, sse, priority)
        self.last.visited, self.last.budget_limited = visited, limited
        return [t.keys[r] for r in chosen]

    def _remembered_cut(self, camera: Camera) -> list[Key]:
        """`cut`, remembered for the last few views: `prefetch` cuts each view ahead of the
        path several frames in a row, then `select` draws it; this costs one cut per view.
        """
        memo = (_view_key(camera), self.sse_threshold_px, self.splat_budget_per_pixel)
        hit = self._cuts.get(memo)
        if hit is not None:
            self._cuts.move_to_end(memo)
            keys, self.last.visited, self.last.budget_limited = hit
            return keys
        keys = self.cut(camera)
        self._cuts[memo] = (keys, self.last.visited, self.last.budget_limited)
        while len(self._cuts) > CUT_MEMO:
            self._cuts.popitem(last=False)
        return keys

    def select(self, camera: Camera) -> Gaussians:
        """The splats of the cut, concatenated and rebased onto the camera position.

        "complete" waits for every chunk of the cut; "interactive" draws what is
        loaded and stands in the nearest loaded ancestor for chunks still loading.

        Args:
            camera: The view the cut is chosen for.

        Returns:
            The splats to draw, with their origin at the camera position; `self.last` holds the
            cut's statistics (CutStats).

        Raises:
            ChunkError: A chunk of the cut is missing or corrupt ("complete" mode).
        """
        keys = self._remembered_cut(camera)
        if self.mode == "complete":
            futures = {k: self._request(k) for k in keys}
            wait(futures.values())
            parts = {k: f.result() for k, f in futures.items()}  # re-raises load errors
            drawn, missing = keys, 0
        else:
            parts, missing = {}, 0
            for k in keys:
                g = self._cached(k)
                if g is None:
                    missing += 1
                    with self._lock:
                        failed = self._failed.pop(k, None)
                    if failed is not None:
                        raise failed
                    self._request(k)
                    a = self._loaded_ancestor(k)
                    if a is not None:
                        parts[a] = self._cached(a)
                else:
                    parts[k] = g
            drawn = [k for k in parts if not self._has_drawn_ancestor(k, parts)]
        gs = [parts[k] for k in drawn if parts[k] is not None and len(parts[k])]
        out = Gaussians.concat(gs, camera.position, self.store.sh_degree)
        self.last = CutStats(len(keys), len(drawn), len(out), missing, self._cached_bytes, self.last.visited,
                             self.last.budget_limited)
        return out

    def prefetch(self, cameras: Iterable[Camera], max_splats: int | None = None) -> int:
        """Start loading the cuts of upcoming views, nearest view first, up to the cache budget
        and at most `max_splats` splats of chunks not yet loaded or queued; returns nodes queued.

        Called once per frame with the views ahead and a quota, it spreads a path's loads over
        its frames (a descent needs most of its chunks within a few frames) instead of loading
        them all in the frames where the views first change.
        """
        budget, queued = self.cache_bytes, 0
        splats = math.inf if max_splats is None else max_splats
        t = self._nodes
        for cam in cameras:
            for k in self._remembered_cut(cam):
                with self._lock:
                    known = k in self._cache or k in self._pending
                if known:
                    continue
                r = t.row(k)
                size, n = int(t.nbytes[r]), int(t.count[r])
                if size > budget or n > splats:
                    return queued
                budget -= size
                splats -= n
                self._request(k)
                queued += 1
        return queued

    # ------------------------------------------------------------------ cache
    def _cached(self, key: Key) -> Gaussians | None:
        with self._lock:
            g = self._cache.get(key)
            if g is not None:
                self._cache.move_to_end(key)
            return g

    def _loaded_ancestor(self, key: Key) -> Key | None:
        while key[0] > 0:
            key = parent(key)
            if self._cached(key) is not None:
                return key
        return None

    @staticmethod
    def _has_drawn_ancestor(key: Key, drawn: dict) -> bool:
        while key[0] > 0:
            key = parent(key)
            if key in drawn:
                return True
        return False

    def _request(self, key: Key) -> Future:
        with self._lock:
            g = self._cache.get(key)
            if g is not None:
                self._cache.move_to_end(key)
                done: Future = Future()
                done.set_result(g)
                return done
            fut = self._pending.get(key)
            if fut is None:
                fut = self._pool.submit(self._load, key)
                self._pending[key] = fut
            return fut

    def _load(self, key: Key) -> Gaussians:
        try:
            g = self.store.read(key)
        except Exception as exc:
            with self._lock:
                self._failed[key] = exc  # reported by the next interactive select that needs it
            raise
        finally:
            with self._lock:
                self._pending.pop(key, None)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = g
                self._cached_bytes += g.nbytes()
                self._evict()
        return g

    def _evict(self) -> None:
        while self._cached_bytes > self.cache_bytes and self._cache:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.nbytes()

    @property
    def cached_bytes(self) -> int:
        """Bytes of the chunks in the cache."""
        return self._cached_bytes

    def cached_keys(self) -> list[Key]:
        """Keys of the cached chunks, least recently used first."""
        with self._lock:
            return list(self._cache)

    def close(self) -> None:
        """Stop the loader threads (pending loads are cancelled)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
