"""The common 3DGS PLY format: export in a local ENU frame, and import of PLYs placed on the globe.

File layout (binary little endian, one `vertex` element, float32 properties), as written by the
reference 3DGS code and read by most viewers and tools:

    x y z                 mean, metres, local frame
    nx ny nz              zeros (unused normals)
    f_dc_0..2             SH DC coefficient (r, g, b)
    f_rest_0..M-1         higher SH coefficients, channel-major: all red coefficients, then green,
                          then blue (M = 3 * ((degree + 1)^2 - 1))
    opacity               logit of the opacity
    scale_0..2            log of the per-axis standard deviation
    rot_0..3              unit quaternion w, x, y, z

Frame: the local frame is east-north-up (x east, y north, z up) at a geodetic origin. The
origin is written to a sidecar `<file>.json` (e.g. `scene.ply.json`) holding `origin_lonlath`
(longitude, latitude in degrees, ellipsoidal height in metres, EPSG:4979), `origin_ecef` (EPSG:4978
metres), `frame` ("ENU") and `up` ("z"). Tools that know nothing of the sidecar still see a
z-up scene in metres.

Import accepts PLYs from other tools (for instance nerfstudio's `ns-export gaussian-splat`):
their frame is taken as z-up ENU (x east, y north, z up) unless `up="y"` says it is y-up
(x east, y up, z south), then turned by `heading_deg` (clockwise from north, the direction the
file's +y axis (z-up) or -z axis (y-up) should face) and placed at the geodetic origin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from ..atomic import check_output, write_bytes_atomic, write_json_atomic
from ..errors import InputError, InputNotFoundError
from ..gaussians import Gaussians
from .enu import LocalFrame, check_lonlath, from_local, to_local

SIDECAR_FORMAT = "earth3d.ply-georef/1"
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_EPS = 1e-6
#: What an imported splat may be: standard deviations within this range (metres; the log of it
#: is stored) and a mean within this distance of the file's origin.
SCALE_RANGE_M = (1e-7, 1e6)
MAX_OFFSET_M = 2e7
# Local file axes -> ENU for each supported up axis.
_UP_AXES = {
    "z": np.eye(3),
    "y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),  # (x, y, z) = (E, U, S)
}


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the geo-reference of a PLY lives: `<file>.json`."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def ply_dtype(sh_degree: int, labels: bool = False) -> np.dtype:
    """The vertex record: 3DGS's float properties, then (with `labels`) `label` (uchar, class id of
    earth3d.classes) and `instance` (double, an integer id exact below 2**53).
    """
    n_rest = 3 * ((sh_degree + 1) ** 2 - 1)
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(n_rest)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    return np.dtype([(n, "<f4") for n in names] + ([("label", "u1"), ("instance", "<f8")] if labels else []))


_WRITE_TYPES = {"<f4": "float", "u1": "uchar", "|u1": "uchar", "<f8": "double"}


def write_ply(gaussians: Gaussians, path: str | os.PathLike, origin_lonlath=None, overwrite: bool = False) -> Path:
    """Write `gaussians` as a 3DGS PLY in the local ENU frame, plus the `<file>.json` sidecar.

    Args:
        gaussians: The splats.
        path: The .ply file.
        origin_lonlath: The geodetic origin (lon, lat in degrees, ellipsoidal height in m) of the ENU frame
            (default: the geodetic point of the splats' ECEF origin).
        overwrite: Replace existing files.

    Returns:
        The PLY path.

    Raises:
        OutputExistsError: The PLY or its sidecar exists and `overwrite` is False.

    Example:
        >>> write_ply(earth3d.lift(raster), "scene.ply")  # doctest: +SKIP
    """
    path = check_output(path, overwrite, make_parent=False, flag="overwrite=True")
    side = check_output(sidecar_path(path), overwrite, make_parent=False, flag="overwrite=True")
    frame = LocalFrame.for_gaussians(gaussians, origin_lonlath)
    means, quats, scales, opacities, sh = to_local(gaussians, frame)
    sem = gaussians.label_arrays()
    records = np.zeros(len(means), dtype=ply_dtype(gaussians.sh_degree, labels=sem is not None))
    if sem is not None:
        records["label"], records["instance"] = sem[0], sem[1].astype(np.float64)
    for i, axis in enumerate("xyz"):
        records[axis] = means[:, i]
    for c in range(3):
        records[f"f_dc_{c}"] = sh[:, 0, c]
    rest = sh[:, 1:, :].transpose(0, 2, 1).reshape(len(sh), -1)  # channel-major, as the 3DGS code writes
    for i in range(rest.shape[1]):
        records[f"f_rest_{i}"] = rest[:, i]
    alpha = np.clip(opacities, _EPS, 1 - _EPS)
    records["opacity"] = np.log(alpha / (1 - alpha))
    log_scales = np.log(np.maximum(scales, 1e-12))
    for i in range(3):
        records[f"scale_{i}"] = log_scales[:, i]
    for i in range(4):
        records[f"rot_{i}"] = quats[:, i]
    header = ["ply", "format binary_little_endian 1.0",
              f"comment earth3d: local ENU frame (x east, y north, z up, metres); origin in {side.name}",
              f"element vertex {len(records)}"]
    header += [f"property {_WRITE_TYPES[records.dtype[name].str]} {name}" for name in records.dtype.names]
    header += ["end_header"]
    write_bytes_atomic(path, [("\n".join(header) + "\n").encode("ascii"), records.tobytes()])
    write_json_atomic(side, {"format": SIDECAR_FORMAT, **frame.georeference(), "up": "z", "file": path.name,
                             "count": len(records), "sh_degree": gaussians.sh_degree})
    return path


def read_ply(path: str | os.PathLike, origin_lonlath: Sequence[float] | None = None, heading_deg: float = 0.0,
             up: str | None = None) -> Gaussians:
    """Read a 3DGS PLY and place it on the globe.

    Args:
        path: The .ply file (binary or ascii, one `vertex` element with the 3DGS properties).
        origin_lonlath: The geodetic origin (lon, lat in degrees, ellipsoidal height in m) of the
            file's frame; default: the one in the `<file>.json` sidecar (one of them is required).
        heading_deg: Turns the scene about the vertical, clockwise seen from above.
        up: "z" (default; ENU) or "y" (east, up, south); default: the sidecar's, else "z".

    Returns:
        The splats, with their ECEF origin at `origin_lonlath`.

    Raises:
        InputNotFoundError: No such file (a FileNotFoundError).
        InputError: No geodetic origin, an unknown `up`, a heading that is not finite, a malformed
            PLY or sidecar, or splats that are not finite, with scales outside `SCALE_RANGE_M` or
            means farther than `MAX_OFFSET_M` from the origin (the message names the property).

    Example:
        >>> g = read_ply("point_cloud.ply", origin_lonlath=(7.45, 46.95, 540.0))  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: no such PLY file")
    sidecar = _read_sidecar(path)
    if origin_lonlath is None:
        if sidecar is None:
            raise InputError(f"{path}: no geodetic origin: pass origin_lonlath=(lon, lat, h) "
                             f"or put a sidecar {sidecar_path(path).name} beside it")
        origin_lonlath = sidecar["origin_lonlath"]
    if not np.isfinite(heading_deg):
        raise InputError(f"heading_deg={heading_deg}: the heading must be a finite number of degrees")
    up = up or (sidecar or {}).get("up", "z")
    if up not in _UP_AXES:
        raise InputError(f"up must be 'z' or 'y', got {up!r}")
    frame = LocalFrame.at(*check_lonlath(origin_lonlath))
    records = read_ply_records(path)
    means, quats, scales, opacities, sh = _splat_arrays(records, path)
    h = np.radians(heading_deg)
    heading = np.array([[np.cos(h), np.sin(h), 0.0], [-np.sin(h), np.cos(h), 0.0], [0.0, 0.0, 1.0]])
    g = from_local(frame, heading @ _UP_AXES[up], means, quats, scales, opacities, sh)
    if records.dtype.names is not None and "label" in records.dtype.names and "instance" in records.dtype.names:
        g.labels = torch.from_numpy(records["label"].astype(np.uint8))
        g.instances = torch.from_numpy(records["instance"].astype(np.int64))
    return g


def read_ply_records(path: Path) -> np.ndarray:
    """The `vertex` element of a PLY (binary little/big endian or ascii) as a numpy structured array.

    Args:
        path: The PLY file.

    Returns:
        One record per vertex, with one field per `property` of the header.

    Raises:
        ValueError: The file is not a PLY, its header is malformed, or its body is truncated.
    """
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise InputError(f"{path}: not a PLY file (no 'ply' magic line)")
        fmt, elements = _read_ply_header(f, path)
        if fmt not in ("binary_little_endian", "binary_big_endian", "ascii"):
            raise InputError(f"{path}: unsupported PLY format {fmt!r}")
        if not elements or elements[0][0] != "vertex":
            raise InputError(f"{path}: PLY has no leading 'vertex' element")
        _, count, props = elements[0]
        order = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(name, order + code) for name, code in props])
        _check_count(f, path, count, dtype.itemsize if fmt != "ascii" else 2 * len(props))
        if fmt == "ascii":
            data = np.loadtxt(f, dtype=np.float64, max_rows=count, ndmin=2)
            if data.shape != (count, len(props)):
                raise InputError(f"{path}: ascii PLY body has shape {data.shape}, expected {(count, len(props))}")
            return np.rec.fromarrays(data.T, dtype=dtype)
        body = f.read(count * dtype.itemsize)
        if len(body) < count * dtype.itemsize:
            raise InputError(f"{path}: PLY body is truncated ({len(body)} of {count * dtype.itemsize} bytes)")
        return np.frombuffer(body, dtype=dtype)


def _check_count(f: BinaryIO, path: Path, count: int, least_bytes: int) -> None:
    """Refuse a vertex count the file is too short to hold, before allocating anything for it."""
    left = os.fstat(f.fileno()).st_size - f.tell()
    if count * least_bytes > left:
        raise InputError(f"{path}: PLY body is truncated: the header claims {count} vertices (at least "
                         f"{count * least_bytes} bytes), the file holds {left} bytes after it")


_PlyElement = tuple[str, int, list[tuple[str, str]]]


def _read_ply_header(f: BinaryIO, path: Path) -> tuple[str | None, list[_PlyElement]]:
    """The header lines after the magic up to `end_header`: the format and the elements with their properties."""
    fmt: str | None = None
    elements: list[_PlyElement] = []
    while True:
        line = f.readline()
        if not line:
            raise InputError(f"{path}: PLY header has no end_header line")
        words = line.decode("ascii", errors="replace").split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "end_header":
            return fmt, elements
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            elements[-1][2].append(_ply_property(words, elements[-1][0], path))
        else:
            raise InputError(f"{path}: malformed PLY header line {line.decode(errors='replace').strip()!r}")


def _ply_property(words: list[str], element: str, path: Path) -> tuple[str, str]:
    """One scalar `property TYPE NAME` header line as (name, numpy type code)."""
    if words[1] == "list":
        raise InputError(f"{path}: list property {words[-1]!r} in element {element!r} is not supported")
    if len(words) != 3:
        raise InputError(f"{path}: malformed PLY property line {' '.join(words)!r}")
    if words[1] not in _PLY_TYPES:
        raise InputError(f"{path}: unknown PLY property type {words[1]!r} for {words[-1]!r}")
    return words[2], _PLY_TYPES[words[1]]


def _splat_arrays(records: np.ndarray, path: Path):
    if records.dtype.names is None:
        raise InputError(f"{path}: PLY vertex element has no named properties")
    names = set(records.dtype.names)
    required = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
                "rot_0", "rot_1", "rot_2", "rot_3"]
    n_rest = sum(1 for n in names if n.startswith("f_rest_"))
    k = n_rest // 3 + 1
    if n_rest % 3 or k not in (1, 4, 9, 16):
        raise InputError(f"{path}: {n_rest} f_rest_* fields do not make a full SH degree (expected 0, 9, 24 or 45)")
    rest_names = [f"f_rest_{i}" for i in range(n_rest)]
    for name in required + rest_names:
        if name not in names:
            raise InputError(f"{path}: PLY vertex element has no field {name!r}")
        column = records[name]
        bad = ~np.isfinite(column)
        if bad.any():
            raise InputError(f"{path}: field {name!r} has {int(bad.sum())} non-finite values (NaN or inf)")
    col = lambda *ns: np.stack([records[n].astype(np.float64) for n in ns], axis=-1)  # noqa: E731
    means = col("x", "y", "z")
    quats = col("rot_0", "rot_1", "rot_2", "rot_3")
    norms = np.linalg.norm(quats, axis=-1, keepdims=True)
    if (norms == 0).any():
        raise InputError(f"{path}: fields 'rot_0'..'rot_3' hold {int((norms == 0).sum())} zero quaternions")
    _check_ranges(records, path)
    scales = np.exp(col("scale_0", "scale_1", "scale_2"))
    opacities = 1.0 / (1.0 + np.exp(-records["opacity"].astype(np.float64)))
    sh = np.empty((len(records), k, 3))
    sh[:, 0, :] = col("f_dc_0", "f_dc_1", "f_dc_2")
    if k > 1:
        sh[:, 1:, :] = col(*rest_names).reshape(len(records), 3, k - 1).transpose(0, 2, 1)
    return means, quats / norms, scales, opacities, sh


def _check_ranges(records: np.ndarray, path: Path) -> None:
    """Refuse splats a store cannot hold: scales (stored as logs) outside SCALE_RANGE_M, means
    farther than MAX_OFFSET_M from the origin; the message names the first property at fault.
    """
    lo, hi = np.log(SCALE_RANGE_M[0]), np.log(SCALE_RANGE_M[1])
    for name in ("scale_0", "scale_1", "scale_2"):
        column = records[name].astype(np.float64)
        bad = (column < lo) | (column > hi)
        if bad.any():
            worst = float(column[bad][np.argmax(np.abs(column[bad]))])
            raise InputError(f"{path}: field {name!r} has {int(bad.sum())} values that give scales outside "
                             f"{SCALE_RANGE_M[0]:g}..{SCALE_RANGE_M[1]:g} m (e.g. {worst:g}, a scale of "
                             f"{np.exp(worst):.3g} m; the field holds the log of the scale)")
    for name in ("x", "y", "z"):
        column = records[name].astype(np.float64)
        bad = np.abs(column) > MAX_OFFSET_M
        if bad.any():
            raise InputError(f"{path}: field {name!r} has {int(bad.sum())} values farther than {MAX_OFFSET_M:g} m "
                             f"from the origin (e.g. {float(column[bad][0]):g})")


def _read_sidecar(path: Path) -> dict | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text())
        check_lonlath(meta["origin_lonlath"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{side}: not a readable PLY geo-reference sidecar ({exc})") from None
    return meta
