"""Refine splats against posed images: colours (and, on a CUDA device, opacities and optionally geometry).

Two paths, one call (`refine`):

- CPU (always available): for fixed geometry every rendered pixel is linear in the splat
  colours, `rgb = W c + T bg`, with W the compositing weights (alpha x transmittance) of
  the renderer's projection and per-pixel rules (`renderers.projection`,
  `renderers.torch_reference`). The weights of each training view are gathered as a sparse
  matrix and the colours solve the bounded least-squares problem

      min_c  sum_views || W_v c - (image_v - T_v bg) ||^2 + lam || c - c0 ||^2,  0 <= c <= 1,

  by accelerated projected gradient (FISTA) with the per-splat steps of the majorizer
  diag(W^T W 1) (as the lift-time solve in `colour_solve`). Splats no view sees keep c0.
  Memory: the weights of all training views (about 30 entries a pixel).
- CUDA (when `device` is a CUDA device and gsplat is installed): gsplat's differentiable
  rasterizer and Adam on the degree-0 SH colour and the opacity logits, and on means and
  log-scales when `geometry=True`.

Views: `images[i]` (H, W, 3) float in [0, 1] seen by `cameras[i]`. Every `holdout_every`-th
view is held back: not fitted, and the PSNR there is reported before and after.

Datasets on disk (`read_dataset` / `write_dataset`): a folder with PNG images and a nerfstudio
`transforms.json` (`fl_x`, `fl_y`, `cx`, `cy`, `w`, `h`, `frames[].file_path`,
`frames[].transform_matrix`: camera-to-world, OpenGL axes: x right, y up, z backwards), whose
world frame is ECEF axes translated to `earth3d_origin_ecef` (float64, metres; [0, 0, 0] if absent),
or the local axes `earth3d_enu_to_ecef` (columns east, north, up) of an `earth3d.dataset` folder.

Example:
    >>> from earth3d.refine import read_dataset, refine
    >>> images, cameras = read_dataset("views/")
    >>> result = refine(gaussians, images, cameras)
    >>> result.psnr_before, result.psnr_after  # held-out views, dB
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .errors import DependencyError, InputError, InputFileError
from .gaussians import SH_C0, Gaussians, rgb_to_sh0
from .geometry import Camera
from .renderers.projection import EPS2D, project_gaussians
from .renderers.torch_reference import MAX_BATCH_ELEMENTS, tile_intersections

__all__ = [
    "RefineResult",
    "psnr",
    "read_dataset",
    "refine",
    "refine_store",
    "view_weights",
    "write_dataset",
]

TILE = 16
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


@dataclass
class RefineResult:
    """The refined splats and the mean PSNR (dB) of the held-out views before and after."""

    gaussians: Gaussians
    psnr_before: float
    psnr_after: float
    train_views: list[int] = field(default_factory=list)
    held_out_views: list[int] = field(default_factory=list)
    path: str = "cpu"


# ---------------------------------------------------------------------------- linear model (CPU)
@torch.no_grad()
def view_weights(gaussians: Gaussians, camera: Camera, antialiased: bool = True,
                 eps2d: float = EPS2D) -> tuple[sp.csr_matrix, np.ndarray]:
    """The compositing weights of one view: a sparse (pixels, splats) matrix W, row-major pixels,
    so that the render is `W @ colours + (1 - alpha) * background`, and alpha (pixels,).

    Same projection, tile lists and per-pixel rules as the renderers (gsplat's).
    """
    p_all = project_gaussians(gaussians.to("cpu"), camera, antialiased, eps2d)
    keep = torch.nonzero(p_all.visible).squeeze(1)
    p = p_all[keep]
    ts, width, height = TILE, camera.width, camera.height
    tiles_x, tiles_y = -(-width // ts), -(-height // ts)
    offsets, ids = tile_intersections(p, ts, tiles_x, tiles_y)
    counts = offsets[1:] - offsets[:-1]
    iy, ix = torch.meshgrid(torch.arange(ts), torch.arange(ts), indexing="ij")
    local = torch.stack([ix.reshape(-1), iy.reshape(-1)], -1).float() + 0.5
    rows_out, cols_out, vals_out = [], [], []
    busy = torch.nonzero(counts > 0).squeeze(1)
    busy = busy[torch.argsort(counts[busy])]
    start = 0
    while start < len(busy):
        stop = start + 1
        while stop < len(busy) and (stop - start + 1) * ts * ts * int(counts[busy[stop]]) <= MAX_BATCH_ELEMENTS:
            stop += 1
        tiles = busy[start:stop]
        length = int(counts[tiles].max())
        slot = torch.arange(length)
        valid = slot[None, :] < counts[tiles][:, None]
        gid = ids[(offsets[tiles][:, None] + slot[None, :]).clamp(max=len(ids) - 1)]
        corner = torch.stack([tiles % tiles_x, tiles // tiles_x], -1).float() * ts
        px = corner[:, None, :] + local[None]
        d = p.means2d[gid][:, None, :, :] - px[:, :, None, :]
        con = p.conics[gid][:, None]
        sigma = (0.5 * (con[..., 0] * d[..., 0] ** 2 + con[..., 2] * d[..., 1] ** 2)
                 + con[..., 1] * d[..., 0] * d[..., 1])
        alpha = torch.clamp_max(p.opacities[gid][:, None] * torch.exp(-sigma), 0.999)
        alpha = torch.where((sigma >= 0) & (alpha >= 1.0 / 255.0) & valid[:, None], alpha, 0.0)
        after = torch.cumprod(1.0 - alpha, dim=-1)
        before = torch.cat([torch.ones_like(alpha[..., :1]), after[..., :-1]], dim=-1)
        # gsplat stops a pixel before the splat that would take T to 1e-4 or under
        w = torch.where(torch.cummax((after <= 1e-4).int(), dim=-1).values == 0, alpha * before, 0.0)
        inside = (px[..., 0] < width) & (px[..., 1] < height)  # (B, P)
        b, q, k = torch.nonzero((w > 0) & inside[..., None], as_tuple=True)
        pix = (px[b, q, 1].long() * width + px[b, q, 0].long())
        rows_out.append(pix.numpy())
        cols_out.append(keep[gid[b, k]].numpy())
        vals_out.append(w[b, q, k].numpy())
        start = stop
    n_pix = width * height
    if rows_out:
        rows, cols, vals = np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(vals_out)
    else:
        rows = cols = np.zeros(0, np.int64)
        vals = np.zeros(0, np.float32)
    mat = sp.csr_matrix((vals.astype(np.float64), (rows, cols)), shape=(n_pix, len(gaussians)))
    return mat, np.asarray(mat.sum(axis=1)).ravel()


def _solve_colours(mats: list[sp.csr_matrix], targets: list[np.ndarray], c0: np.ndarray, iterations: int,
                   damping: float) -> np.ndarray:
    """Bounded least squares for the colours (N, 3) by FISTA with per-splat majorizer steps."""
    a = sp.vstack(mats).tocsr()
    at = a.T.tocsr()
    b = np.concatenate(targets)
    diag = at @ (a @ np.ones(a.shape[1])) + damping
    step = (1.0 / diag)[:, None]
    c, z, t = c0.copy(), c0.copy(), 1.0
    for _ in range(iterations):
        grad = at @ (a @ z - b) + damping * (z - c0)
        c_next = np.clip(z - step * grad, 0.0, 1.0)
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        z = c_next + ((t - 1.0) / t_next) * (c_next - c)
        c, t = c_next, t_next
    return c


def _refine_cpu(g: Gaussians, images, cameras, train, iterations, antialiased, background, damping):
    if g.sh_degree != 0:
        raise InputError(f"refine on the CPU solves degree-0 colours; the splats have SH degree {g.sh_degree}")
    bg = np.asarray(background, dtype=np.float64)
    mats, targets = [], []
    for i in train:
        w, alpha = view_weights(g, cameras[i], antialiased)
        img = np.asarray(images[i], dtype=np.float64).reshape(-1, 3)
        mats.append(w)
        targets.append(img - (1.0 - alpha)[:, None] * bg)
    c0 = g.rgb.double().numpy()
    colours = _solve_colours(mats, targets, c0, iterations, damping)
    return Gaussians(g.origin, g.means, g.quats, g.scales, g.opacities, rgb_to_sh0(torch.from_numpy(colours).float()),
                     g.labels, g.instances)


# ---------------------------------------------------------------------------- gsplat (CUDA)
def _refine_gsplat(g: Gaussians, images, cameras, train, iterations, antialiased, background, geometry, lr,
                   device):
    try:
        import gsplat
    except ImportError as exc:
        raise DependencyError("refine on a CUDA device needs gsplat: pip install earth3d[gpu]") from exc
    from .renderers.projection import intrinsics, view_matrix

    dev = torch.device(device)
    g = g.to(dev)
    sh0 = g.sh[:, :1].clone().requires_grad_(True)
    logit = torch.logit(g.opacities.clamp(1e-4, 1 - 1e-4)).clone().requires_grad_(True)
    means = g.means.clone().requires_grad_(geometry)
    log_scales = torch.log(g.scales.clamp_min(1e-9)).clone().requires_grad_(geometry)
    params = [{"params": [sh0], "lr": lr}, {"params": [logit], "lr": 5 * lr}]
    if geometry:
        params += [{"params": [means], "lr": 1e-4 * float(g.scales.median())}, {"params": [log_scales], "lr": lr}]
    opt = torch.optim.Adam(params)
    bg = torch.as_tensor(background, dtype=torch.float32, device=dev)[None]
    views = [(view_matrix(cameras[i], g.origin).to(dev), intrinsics(cameras[i]).to(dev),
              torch.as_tensor(np.asarray(images[i]), dtype=torch.float32, device=dev), cameras[i]) for i in train]
    rest = g.sh[:, 1:]
    for it in range(iterations):
        viewmat, K, img, cam = views[it % len(views)]
        out, alpha, _ = gsplat.rasterization(
            means=means, quats=g.quats, scales=torch.exp(log_scales), opacities=torch.sigmoid(logit),
            colors=torch.cat([sh0, rest], 1), viewmats=viewmat[None], Ks=K[None], width=cam.width,
            height=cam.height, near_plane=cam.near, far_plane=cam.far, sh_degree=g.sh_degree,
            rasterize_mode="antialiased" if antialiased else "classic")
        # The background is composited here, as GsplatRenderer does (gsplat 1.5's packed path
        # rejects a batched `backgrounds`).
        loss = torch.nn.functional.mse_loss(out[0] + (1.0 - alpha[0]) * bg, img)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        sh = torch.cat([sh0, rest], 1)
        sh[:, 0] = ((sh[:, 0] * SH_C0 + 0.5).clamp(0, 1) - 0.5) / SH_C0  # colours stay in [0, 1]
        out_g = Gaussians(g.origin, means.detach(), g.quats, torch.exp(log_scales).detach(),
                          torch.sigmoid(logit).detach(), sh.detach(), g.labels, g.instances)
    return out_g.to("cpu")


# ---------------------------------------------------------------------------- entry point
def psnr(gaussians: Gaussians, images, cameras, views: Sequence[int], renderer=None,
         background=(0.0, 0.0, 0.0)) -> float:
    """Mean PSNR (dB) of the renders of `views` against their images (default: CpuRenderer())."""
    from .renderers import CpuRenderer

    renderer = renderer or CpuRenderer()
    values = []
    for i in views:
        out = renderer.render(gaussians, cameras[i], background).rgb.detach().cpu().numpy().clip(0, 1)
        mse = float(np.mean((out - np.asarray(images[i], dtype=np.float32)) ** 2))
        values.append(10.0 * math.log10(1.0 / max(mse, 1e-12)))
    return float(np.mean(values)) if values else float("nan")


def refine(
    gaussians: Gaussians,
    images: Sequence[np.ndarray],
    cameras: Sequence[Camera],
    *,
    holdout_every: int = 8,
    iterations: int | None = None,
    device: str | torch.device | None = None,
    geometry: bool = False,
    antialiased: bool = True,
    background=(0.0, 0.0, 0.0),
    damping: float = 1e-3,
    lr: float = 0.01,
) -> RefineResult:
    """Fit the splats to posed images; report the held-out views' PSNR before and after.

    Args:
        gaussians: the splats (e.g. all leaves of a store, `Store.read_leaves()`).
        images: (H, W, 3) float images in [0, 1], one per camera.
        cameras: the cameras the images were taken with.
        holdout_every: every n-th view (starting with view 0) is held back for evaluation
            (0: none; then all are fitted and the PSNRs are over the training views).
        iterations: FISTA iterations (CPU, default 60) or Adam steps (CUDA, default 30 per view).
        device: "cpu" or a CUDA device; default: CUDA when available and gsplat is installed.
        geometry: on CUDA, also optimize means and scales.
        antialiased: the rasterize mode the result is meant for (gsplat's "antialiased" or "classic").
        background: the colour behind the splats in the images.
        damping: CPU path: weight of || c - c0 ||^2 (keeps barely-seen splats near their colours).
        lr: CUDA path: Adam learning rate of the colours.

    Returns:
        RefineResult with the refined Gaussians and the held-out PSNRs.

    Raises:
        InputError: images and cameras disagree in number or size, or no view is left to fit.
    """
    if len(images) != len(cameras) or not cameras:
        raise InputError(f"refine needs one image per camera; got {len(images)} images, {len(cameras)} cameras")
    for i, (img, cam) in enumerate(zip(images, cameras, strict=True)):
        if np.shape(img) != (cam.height, cam.width, 3):
            raise InputError(f"image {i} has shape {np.shape(img)}, its camera is {cam.width}x{cam.height} "
                             "(need H x W x 3)")
    held = [i for i in range(len(cameras)) if holdout_every > 0 and i % holdout_every == 0]
    train = [i for i in range(len(cameras)) if i not in held]
    if not train:
        raise InputError(f"holdout_every={holdout_every} leaves no view to fit among {len(cameras)}")
    evaluate = held or train
    if device is None:
        device = "cpu"
        if torch.cuda.is_available():
            try:
                import gsplat  # noqa: F401
                device = "cuda"
            except ImportError:
                pass
    before = psnr(gaussians, images, cameras, evaluate, background=background)
    if torch.device(device).type == "cuda":
        steps = iterations if iterations is not None else 30 * len(train)
        out = _refine_gsplat(gaussians, images, cameras, train, steps, antialiased, background, geometry, lr, device)
        path = "gsplat"
    else:
        out = _refine_cpu(gaussians, images, cameras, train, iterations or 60, antialiased, background, damping)
        path = "cpu"
    after = psnr(out, images, cameras, evaluate, background=background)
    return RefineResult(out, before, after, train, held, path)


# ---------------------------------------------------------------------------- datasets and stores
def write_dataset(folder: str | os.PathLike, images: Sequence[np.ndarray], cameras: Sequence[Camera],
                  origin=None) -> Path:
    """Write PNGs and a nerfstudio transforms.json (see the module docstring) to `folder`."""
    import imageio.v3 as iio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    origin = np.asarray(cameras[0].position if origin is None else origin, dtype=np.float64)
    cam0 = cameras[0]
    frames = []
    if len(images) != len(cameras) or not cameras:
        raise InputError(f"write_dataset needs one image per camera; got {len(images)} and {len(cameras)}")
    for i, (img, cam) in enumerate(zip(images, cameras, strict=True)):
        if (cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy) != (cam0.width, cam0.height, cam0.fx, cam0.fy,
                                                                        cam0.cx, cam0.cy):
            raise InputError(f"camera {i}: write_dataset needs the same intrinsics for every view")
        name = f"images/frame_{i:05d}.png"
        (folder / "images").mkdir(exist_ok=True)
        iio.imwrite(folder / name, (np.clip(np.asarray(img), 0, 1) * 255 + 0.5).astype(np.uint8))
        c2w = np.eye(4)
        c2w[:3, :3] = cam.rotation @ OPENGL_TO_OPENCV
        c2w[:3, 3] = cam.position - origin
        frames.append({"file_path": name, "transform_matrix": c2w.tolist()})
    meta = {"camera_model": "OPENCV", "fl_x": cam0.fx, "fl_y": cam0.fy, "cx": cam0.cx, "cy": cam0.cy,
            "w": cam0.width, "h": cam0.height, "earth3d_origin_ecef": origin.tolist(), "frames": frames}
    (folder / "transforms.json").write_text(json.dumps(meta, indent=1))
    return folder


def read_dataset(folder: str | os.PathLike) -> tuple[list[np.ndarray], list[Camera]]:
    """Images (float [0, 1]) and cameras of a folder with a nerfstudio transforms.json."""
    import imageio.v3 as iio

    folder = Path(folder)
    path = folder / "transforms.json"
    if not path.is_file():
        raise InputFileError(f"{folder}: no transforms.json (a nerfstudio dataset folder is expected)")
    try:
        meta = json.loads(path.read_text())
        origin = np.asarray(meta.get("earth3d_origin_ecef", [0.0, 0.0, 0.0]), dtype=np.float64)
        axes = np.asarray(meta.get("earth3d_enu_to_ecef", np.eye(3)), dtype=np.float64)  # earth3d.dataset's ENU
        images, cameras = [], []
        for f in meta["frames"]:
            img = iio.imread(folder / f["file_path"])
            img = img[..., :3].astype(np.float32) / (65535.0 if img.dtype == np.uint16 else 255.0)
            c2w = np.asarray(f["transform_matrix"], dtype=np.float64)
            w, h = int(f.get("w", meta["w"])), int(f.get("h", meta["h"]))
            fx, fy, cx, cy = (float(f.get(k, meta[k])) for k in ("fl_x", "fl_y", "cx", "cy"))
            cam = Camera(axes @ c2w[:3, 3] + origin, axes @ c2w[:3, :3] @ OPENGL_TO_OPENCV, w, h, fx, fy, cx, cy)
            images.append(img)
            cameras.append(cam)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise InputFileError(f"{path}: not a readable nerfstudio dataset ({exc})") from exc
    return images, cameras


def refine_store(store_path: str | os.PathLike, dataset: str | os.PathLike, out: str | os.PathLike,
                 **options) -> RefineResult:
    """Refine a store's leaf splats against a dataset folder and build the result as a new store at `out`.

    The new store has the same leaf capacity and SH degree; its inner levels are merged afresh.

    Args:
        store_path: The store to refine.
        dataset: A folder of posed images (`write_dataset`'s layout).
        out: Where the refined store is built.
        **options: Passed to `refine` (iterations, learning rates, ...).

    Returns:
        The RefineResult of `refine` (the refined splats; held-out PSNR before and after).
    """
    from . import store as store_mod

    src = store_mod.open_store(store_path)
    images, cameras = read_dataset(dataset)
    result = refine(src.read_leaves(), images, cameras, **options)
    store_mod.build_store([result.gaussians], out, leaf_cap=int(src.meta["leaf_cap"]), sh_degree=src.sh_degree)
    return result
