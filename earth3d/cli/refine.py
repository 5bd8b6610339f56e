"""`earth3d refine`: a store's splat colours (and opacities, on a GPU) fitted to posed images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ._common import Common, Report, check_input


@dataclass(kw_only=True)
class Refine(Common):
    """Refine a store against a dataset of posed images (PNGs + transforms.json) into a new store."""

    store: Path
    """The store to refine."""
    dataset: Path
    """A folder of images with a nerfstudio transforms.json (`earth3d.refine.write_dataset` writes one)."""
    out: Path
    """Output store folder."""
    holdout_every: int = 8
    """Every this-many-th view is held out and only measured (PSNR before and after)."""
    iterations: int | None = None
    """Solver iterations (default: the path's own)."""
    device: Literal["cpu", "cuda"] | None = None
    """cpu: a colour-only linear solve; cuda: gsplat's differentiable rasterizer (default: cuda if present)."""
    geometry: bool = False
    """On cuda, also optimize positions and scales."""
    classic: bool = False
    """Fit for the classic (not antialiased) rasterizer."""
    overwrite: bool = False
    """Replace an existing store."""

    FLAGS: ClassVar[dict[str, str]] = {"holdout_every": "--holdout-every"}

    def run(self) -> None:
        """Read the store's leaves and the dataset, refine, and build the result as a new store."""
        from ..refine import read_dataset, refine
        from ..scenarios.store_build import build_store, check_store_output
        from ..store import open_store

        check_input(self.store, "--store")
        check_input(self.dataset, "--dataset")
        check_store_output(self.out, self.overwrite, flag="--overwrite")
        report = Report(self.quiet)
        with report.stage("read"):
            source = open_store(self.store)
            splats = source.read_leaves()
            images, cameras = read_dataset(self.dataset)
        with report.stage("refine"):
            result = refine(splats, images, cameras, holdout_every=self.holdout_every, iterations=self.iterations,
                            device=self.device, geometry=self.geometry, antialiased=not self.classic)
        build_store([result.gaussians], self.out, overwrite=self.overwrite,
                    leaf_cap=int(source.meta["leaf_cap"]), report=report)
        report.say(f"wrote {self.out}: {result.path} refinement; held-out views {result.held_out_views}: "
                   f"PSNR {result.psnr_before:.2f} -> {result.psnr_after:.2f} dB")
