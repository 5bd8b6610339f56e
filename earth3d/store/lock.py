"""One writer per output: a lock file beside the output, naming its owner.

`output_lock(out)` creates `.NAME.lock` in the output's folder with exclusive creation (`O_EXCL`
on a local disk, mode "xb" on an fsspec filesystem that supports it, else a write followed by a
read-back) and holds it while the block runs. The file holds the owner's pid, host, process start
time and when it was taken. A second writer finds it and is refused with one line naming the owner.
A lock left by a killed process on this host (its pid no longer runs, or now runs another process)
is stale: it is taken over. A lock taken on another host is never broken; the message says which
file to remove once that build is known to be dead.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "world.e3d"
    >>> with output_lock(out):
    ...     pass
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import OutputError
from .fs import Location, is_local, location, remove_tree
from .layout import WORK_FOLDER

__all__ = ["OutputLockedError", "lock_path", "output_lock", "writing"]


class OutputLockedError(OutputError):
    """Another process is writing the output (its lock file is there and its owner is alive)."""


def lock_path(out: Location) -> Location:
    """The lock file of output `out`: `.NAME.lock` beside it."""
    return out.parent / f".{out.name}.lock"


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, from /proc), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid()),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "token": uuid.uuid4().hex}


def _young(path: Location, seconds: float = 10.0) -> bool:
    """Whether `path` was written less than `seconds` ago (an empty lock its owner is still writing)."""
    try:
        mtime = path.stat().st_mtime if is_local(path) else path.fs.info(path.path).get("mtime")  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return False
    mtime = getattr(mtime, "timestamp", lambda: mtime)()
    return mtime is not None and time.time() - float(mtime) < seconds


def _alive(owner: dict) -> bool:
    """Whether the owner of a lock may still run: always for another host's, else by its pid."""
    if not owner:
        return False
    if owner.get("host") != socket.gethostname():
        return True
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = owner.get("start")
    return start is None or _start_time(pid) in (None, start)


def _create(path: Location, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists (True when this call created it)."""
    if is_local(path):
        try:
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True
    fs = path.fs  # type: ignore[union-attr]
    try:
        with fs.open(path.path, "xb") as f:  # type: ignore[union-attr]
            f.write(data)
        return True
    except FileExistsError:
        return False
    except (NotImplementedError, ValueError, TypeError):
        pass  # no exclusive create here: write unless present, then check that ours is the one there
    if fs.exists(path.path):  # type: ignore[union-attr]
        return False
    fs.pipe_file(path.path, data)  # type: ignore[union-attr]
    return fs.cat_file(path.path) == data  # type: ignore[union-attr]


def _read(path: Location) -> dict | None:
    try:
        owner = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _remove(path: Location) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def output_lock(out: str | os.PathLike | Location) -> Iterator[Location]:
    """Hold the lock of output `out` (a folder or fsspec URL) while the block runs.

    Args:
        out: the output that is about to be written.

    Yields:
        The lock file's location.

    Raises:
        OutputLockedError: another live process holds the lock (the message names it and the lock file).
        OutputError: the lock file cannot be created (e.g. a read-only folder).
    """
    out = location(out)
    path = lock_path(out)
    owner = _owner()
    data = json.dumps(owner).encode()
    if is_local(path):
        Path(str(path.parent)).mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            if _create(path, data):
                break
        except OSError as exc:
            raise OutputError(f"{out}: cannot create its lock file {path} ({exc.strerror or exc})") from None
        held = _read(path)
        if held is None:
            continue  # released meanwhile: try again
        if not held and _young(path):
            held = {"pid": "?", "host": "?", "since": "just now"}  # being written by its owner right now
        if _alive(held):
            raise OutputLockedError(
                f"{out}: another build is writing it (pid {held.get('pid')} on {held.get('host')}, since "
                f"{held.get('since')}); wait for it to finish, or remove {path} if that build is dead")
        if _read(path) == held:
            _remove(path)  # stale: its owner died on this host, or the file was left empty
    else:
        raise OutputLockedError(f"{out}: its lock file {path} keeps coming back; another build is starting there")
    try:
        yield path
    finally:
        if (_read(path) or {}).get("token") == owner["token"]:
            _remove(path)


def _resumable(out: Location) -> bool:
    """Whether an unfinished build at `out` holds work a rerun would resume (a spilled source)."""
    spill = out / WORK_FOLDER / "spill"
    try:
        return spill.is_dir() and any(p.name.endswith(".json") for p in spill.iterdir())
    except OSError:
        return False


def _only_work(out: Location) -> bool:
    """Whether `out` holds nothing but a build's work folder (no store, nothing of anyone else's)."""
    try:
        return {p.name for p in out.iterdir()} <= {WORK_FOLDER}
    except OSError:
        return False


@contextmanager
def writing(out: str | os.PathLike | Location) -> Iterator[Location]:
    """Hold the lock of a store being built at `out`; when the build fails, remove the folder if this
    call created it (or it holds only a build's work folder) and nothing resumable was written
    there: a build refused before its first source was spilled leaves nothing behind.

    Args:
        out: the store folder or fsspec URL.

    Yields:
        `out` as a location.

    Raises:
        OutputLockedError: another live process is building there.
    """
    out = location(out)
    with output_lock(out):
        created = not out.exists()
        try:
            yield out
        except BaseException:
            if out.exists() and not _resumable(out) and (created or _only_work(out)):
                remove_tree(out)
            raise
