"""The `earth3d` command line (tyro): thin commands that call the library's stages.

    earth3d demo                          procedural world -> store -> orbit-to-street flythrough mp4
    earth3d synth  --bbox W S E N         procedural region -> GeoTIFF orthophoto + DEM + preview PNG
    earth3d build  --dem D.tif --ortho O.tif --out world.e3d  [--workers N | --scheduler tcp://..]
    earth3d render --store world.e3d --lon .. --lat .. --alt .. --out view.png
    earth3d fly    --store world.e3d --path descent --out flight.mp4
    earth3d export --store world.e3d --out scene.ply | scene.glb | tiles/
    earth3d import-ply --ply scene.ply --origin LON LAT HEIGHT --out world.e3d
    earth3d refine --store world.e3d --dataset views/ --out refined.e3d
    earth3d dataset --synth W S E N --preset drone --views 24 --out views/   (or --store S --bbox W S E N)
    earth3d info   world.e3d
    earth3d serve  world.e3d | tiles/     CesiumJS viewer on http://127.0.0.1:8000/

Errors are one line on stderr and a non-zero exit status; `--debug` shows the traceback.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import warnings
from typing import Annotated, Sequence, Union

import tyro

from ..errors import Earth3dError
from ._common import Common
from .build import Build
from .dataset import Dataset
from .demo import Demo
from .export import Export
from .fly import Fly
from .import_ply import ImportPly
from .info import Info
from .refine import Refine
from .render import Render
from .serve import Serve
from .synth import Synth

#: Subcommand name -> its options dataclass (whose `run()` does the work).
COMMANDS: dict[str, type[Common]] = {
    "demo": Demo, "synth": Synth, "build": Build, "render": Render, "fly": Fly, "export": Export,
    "import-ply": ImportPly, "info": Info, "serve": Serve, "refine": Refine, "dataset": Dataset,
}
#: What a user's input can make fail: reported in one line. Anything else is a bug: a traceback.
INPUT_ERRORS = (Earth3dError, OSError, ValueError)


def _parse(argv: Sequence[str] | None) -> Common:
    """The command of `argv`; a bad command line exits with status 2 and one line on stderr."""
    twice = _repeated_option(sys.argv[1:] if argv is None else argv)
    if twice is not None:  # tyro (argparse) would keep the last one silently
        print(f"earth3d: error: {twice} is given more than once: give it once (an option of several values "
              f"takes them all after one {twice}) (earth3d COMMAND --help lists the options)", file=sys.stderr)
        raise SystemExit(2)
    union = Union[tuple(Annotated[cls, tyro.conf.subcommand(name)] for name, cls in COMMANDS.items())]  # type: ignore[valid-type]
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return tyro.cli(union, args=argv, prog="earth3d", description=__doc__,  # type: ignore[call-overload]
                            config=(tyro.conf.FlagCreatePairsOff,))
    except SystemExit as exc:
        if exc.code in (0, None):
            sys.stderr.write(said.getvalue())
            raise
        print(f"earth3d: error: {_one_line(said.getvalue())}", file=sys.stderr)
        raise SystemExit(2) from None


def _repeated_option(argv: Sequence[str]) -> str | None:
    """The first option (--name, or --name=value) that `argv` gives twice, up to a bare `--`; else None."""
    seen: set[str] = set()
    for arg in argv:
        if arg == "--":
            break
        if arg.startswith("--") and arg[2:3].isalpha():
            name = arg.split("=", 1)[0].replace("_", "-")
            if name in seen:
                return name
            seen.add(name)
    return None


def _one_line(usage_error: str) -> str:
    """The boxed usage error of tyro as one line: the first section of the box (what is wrong)."""
    title, sections = "", [[]]  # type: tuple[str, list[list[str]]]
    for raw in usage_error.splitlines():
        line = raw.strip()
        if line[:1] in ("╭", "╰", "+"):  # the top (with the title) or the bottom of a drawn box
            title = title or line.strip("╭╮╰╯+-─ ")
            continue
        inner = line.strip("│| ")
        if inner and set(inner) <= set("─-"):
            sections.append([])  # a rule between sections
        elif inner:
            sections[-1].append(inner)
    texts = [" ".join(" ".join(lines).split()) for lines in sections if lines]
    if not title and len(texts) > 1:  # no box (not a terminal): the title is a section of its own
        title = texts.pop(0)
    text = (texts[0] if texts else title or "bad command line").split(" Got errors:")[0]
    if title and title.lower() not in text.lower():
        text = f"{title.lower()}: {text}"
    return re.sub(r"\[/?bold\]", "", text) + " (earth3d COMMAND --help lists the options)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run one command, and report a failure of the input as one line.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0, 1 when the input was at fault (an `Earth3dError`, or an OSError or
        ValueError from reading the inputs), 130 on Ctrl-C.

    Raises:
        SystemExit: for a bad command line (tyro prints the usage) or --help.
        Exception: any other failure (a bug) propagates with its traceback, as does every failure
            with --debug.

    Example:
        >>> main(["info", "world.e3d", "--json"])                            # doctest: +SKIP
        0
    """
    command = _parse(argv)
    show_warning = warnings.showwarning
    if not command.debug:
        warnings.showwarning = _one_line_warning
    try:
        command.run()
    except KeyboardInterrupt:
        print("earth3d: interrupted", file=sys.stderr)
        return 130
    except INPUT_ERRORS as exc:
        if command.debug:
            raise
        message = command.in_flags(" ".join(str(exc).split())) or type(exc).__name__
        print(f"earth3d: error: {message}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show_warning
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"earth3d: warning: {' '.join(str(message).split())}", file=sys.stderr)


__all__ = ["COMMANDS", "main"]
