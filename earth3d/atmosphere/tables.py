"""The precomputed tables (optical depth, single scattering, sky irradiance) and lookups into them.

`tables(atm, device)` computes them once per atmosphere (about a second or two of CPU for the
defaults) and keeps them in memory and in an on-disk cache (`$EARTH3D_CACHE_DIR`, else
`~/.cache/earth3d`), keyed by the parameters. They do not depend on the sun: single scattering is
tabulated over the sun's zenith cosine and its angle to the view, so one set serves every sun.

Lookups take torch tensors of any shape (float32 or float64) and use `grid_sample` (bilinear in
2D, trilinear in 3D, texel centers as in OpenGL), so they run on the CPU or on a CUDA device.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import write_bytes_atomic
from .model import (
    IRRADIANCE_MU_S,
    IRRADIANCE_R,
    SCATTERING_MU,
    SCATTERING_MU_S,
    SCATTERING_NU,
    SCATTERING_R,
    TRANSMITTANCE_MU,
    TRANSMITTANCE_R,
    Atmosphere,
    _vec,
    distance_to_bottom,
    distance_to_top,
    extinction,
    mie_phase,
    rayleigh_phase,
    scattering_r_mu_mu_s_nu,
    scattering_uvwz,
    smoothstep,
    transmittance_r_mu,
    transmittance_uv,
)

_FORMAT = 1
_TRANSMITTANCE_SAMPLES = 500
_SCATTERING_SAMPLES = 40


def _sample2d(tex: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup in `tex` (C, H, W) at texture coordinates u (along W), v (along H): (..., C)."""
    shape = u.shape
    grid = torch.stack([u.reshape(-1) * 2.0 - 1.0, v.reshape(-1) * 2.0 - 1.0], dim=-1).to(tex.dtype)
    out = F.grid_sample(tex[None], grid[None, None], mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T.reshape(*shape, tex.shape[0])


def _sample3d(tex: torch.Tensor, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup in `tex` (C, D, H, W) at x (along W), y (along H), z (along D): (..., C)."""
    shape = x.shape
    grid = torch.stack([x.reshape(-1), y.reshape(-1), z.reshape(-1)], dim=-1).to(tex.dtype) * 2.0 - 1.0
    out = F.grid_sample(tex[None], grid[None, None, None], mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0, 0].T.reshape(*shape, tex.shape[0])


@dataclass
class Tables:
    """The atmosphere's tables on one device.

    depth_table: (3, TRANSMITTANCE_R, TRANSMITTANCE_MU), optical depth to the top of the atmosphere;
    scattering_table: (6, SCATTERING_R, SCATTERING_MU, SCATTERING_NU * SCATTERING_MU_S), Rayleigh then
    Mie single scattering without their phase functions (radiance per unit solar irradiance);
    irradiance_table: (3, IRRADIANCE_R, IRRADIANCE_MU_S), the sky's (not the sun's) irradiance on a
    horizontal surface.
    """

    atm: Atmosphere
    depth_table: torch.Tensor
    scattering_table: torch.Tensor
    irradiance_table: torch.Tensor

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> "Tables":
        """The tables on another device or dtype."""
        return Tables(self.atm, self.depth_table.to(device, dtype), self.scattering_table.to(device, dtype),
                      self.irradiance_table.to(device, dtype))

    # ----------------------------------------------------------------- transmittance
    def optical_depth_to_top(self, r: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Optical depth (..., 3) from radius r along zenith cosine mu to the top (not hitting the ground)."""
        u, v = transmittance_uv(self.atm, r, mu)
        return _sample2d(self.depth_table, u, v)

    def optical_depth(self, r, mu, d, ground) -> torch.Tensor:
        """Optical depth (..., 3) over the first `d` metres of the ray (r, mu); `ground` says the ray
        hits the ground (then the segment is read backwards, Bruneton's GetTransmittance).
        """
        atm = self.atm
        r_d = torch.sqrt(d * d + 2.0 * r * mu * d + r * r).clamp(atm.bottom_radius, atm.top_radius)
        mu_d = ((r * mu + d) / r_d).clamp(-1.0, 1.0)
        a = self.optical_depth_to_top(torch.where(ground, r_d, r), torch.where(ground, -mu_d, mu))
        b = self.optical_depth_to_top(torch.where(ground, r, r_d), torch.where(ground, -mu, mu_d))
        return (a - b).clamp_min(0.0)

    def sun_transmittance(self, r: torch.Tensor, mu_s: torch.Tensor) -> torch.Tensor:
        """Transmittance (..., 3) towards the sun, times the fraction of its disc above the horizon."""
        atm = self.atm
        sin_h = atm.bottom_radius / r
        cos_h = -torch.sqrt((1.0 - sin_h * sin_h).clamp_min(0.0))
        edge = sin_h * atm.sun_angular_radius
        t = ((mu_s - cos_h + edge) / (2.0 * edge)).clamp(0.0, 1.0)
        visible = t * t * (3.0 - 2.0 * t)
        return torch.exp(-self.optical_depth_to_top(r, mu_s)) * visible.unsqueeze(-1)

    # ----------------------------------------------------------------- scattering
    def scattering_at(self, r, mu, mu_s, nu, ground) -> tuple[torch.Tensor, torch.Tensor]:
        """(Rayleigh, Mie) single scattering (..., 3) each, without phase functions."""
        u_nu, u_mu_s, u_mu, u_r = scattering_uvwz(self.atm, r, mu, mu_s, nu, ground)
        tex_x = u_nu * (SCATTERING_NU - 1)
        k = torch.floor(tex_x).clamp(0, SCATTERING_NU - 2)
        lerp = (tex_x - k).unsqueeze(-1)
        s0 = _sample3d(self.scattering_table, (k + u_mu_s) / SCATTERING_NU, u_mu, u_r)
        s1 = _sample3d(self.scattering_table, (k + 1.0 + u_mu_s) / SCATTERING_NU, u_mu, u_r)
        s = s0 * (1.0 - lerp) + s1 * lerp
        return s[..., :3], s[..., 3:]

    def sky_irradiance(self, r: torch.Tensor, mu_s: torch.Tensor) -> torch.Tensor:
        """Irradiance (..., 3) of the sky alone on a horizontal surface at r, sun zenith cosine mu_s."""
        atm = self.atm
        u = 0.5 / IRRADIANCE_MU_S + (mu_s * 0.5 + 0.5) * (1.0 - 1.0 / IRRADIANCE_MU_S)
        x_r = (r - atm.bottom_radius) / (atm.top_radius - atm.bottom_radius)
        v = 0.5 / IRRADIANCE_R + x_r * (1.0 - 1.0 / IRRADIANCE_R)
        return _sample2d(self.irradiance_table, u, v)

    def irradiance_at(self, r: torch.Tensor, mu_s: torch.Tensor) -> torch.Tensor:
        """Sun plus sky irradiance (..., 3) on a horizontal surface, per unit solar irradiance times it."""
        sun = _vec(self.atm.solar_irradiance, r)
        direct = sun * self.sun_transmittance(r, mu_s) * mu_s.clamp_min(0.0).unsqueeze(-1)
        return direct + self.sky_irradiance(r, mu_s)

    def radiance(self, r, mu, mu_s, nu, ground) -> torch.Tensor:
        """Single-scattered sky radiance (..., 3) along the whole ray (to the ground or to space)."""
        ray, mie = self.scattering_at(r, mu, mu_s, nu, ground)
        return self._phase(ray, mie, mu_s, nu)

    def _phase(self, ray, mie, mu_s, nu) -> torch.Tensor:
        sun = _vec(self.atm.solar_irradiance, ray)
        # Bruneton's fix for Mie artefacts with the sun below the horizon.
        mie = mie * smoothstep(0.0, 0.01, mu_s).unsqueeze(-1)
        return sun * (ray * rayleigh_phase(nu).unsqueeze(-1) + mie * mie_phase(self.atm.mie_g, nu).unsqueeze(-1))

    def radiance_to_point(self, r, mu, mu_s, nu, d, ground) -> tuple[torch.Tensor, ...]:
        """In-scattered radiance over the first `d` metres of the ray and what is at its end.

        Returns (radiance (..., 3), optical depth (..., 3), r_p, mu_s_p): the point's radius and
        sun zenith cosine, for lighting it.
        """
        atm = self.atm
        r_p = torch.sqrt(d * d + 2.0 * r * mu * d + r * r).clamp(atm.bottom_radius, atm.top_radius)
        mu_p = ((r * mu + d) / r_p).clamp(-1.0, 1.0)
        mu_s_p = ((r * mu_s + d * nu) / r_p).clamp(-1.0, 1.0)
        tau = self.optical_depth(r, mu, d, ground)
        t = torch.exp(-tau)
        ray, mie = self.scattering_at(r, mu, mu_s, nu, ground)
        ray_p, mie_p = self.scattering_at(r_p, mu_p, mu_s_p, nu, ground)
        inscatter = self._phase((ray - t * ray_p).clamp_min(0.0), (mie - t * mie_p).clamp_min(0.0), mu_s, nu)
        return inscatter, tau, r_p, mu_s_p


# ------------------------------------------------------------------------- precomputation
def optical_depth_table(atm: Atmosphere) -> torch.Tensor:
    """Optical depth to the top of the atmosphere (3, R, MU), trapezoids over 500 samples per ray."""
    dt = torch.float64
    u = (torch.arange(TRANSMITTANCE_MU, dtype=dt) + 0.5) / TRANSMITTANCE_MU
    v = (torch.arange(TRANSMITTANCE_R, dtype=dt) + 0.5) / TRANSMITTANCE_R
    r, mu = transmittance_r_mu(atm, u[None, :], v[:, None])
    d_end = distance_to_top(atm, r, mu)
    s = torch.linspace(0.0, 1.0, _TRANSMITTANCE_SAMPLES + 1, dtype=dt)
    t = d_end[..., None] * s  # (R, MU, S)
    h = torch.sqrt(t * t + 2.0 * r[..., None] * mu[..., None] * t + r[..., None] ** 2) - atm.bottom_radius
    ext = extinction(atm, h)  # (R, MU, S, 3)
    w = torch.full_like(s, 1.0 / _TRANSMITTANCE_SAMPLES)
    w[0] = w[-1] = 0.5 / _TRANSMITTANCE_SAMPLES
    tau = (ext * w[:, None]).sum(dim=-2) * d_end[..., None]
    return tau.permute(2, 0, 1).contiguous()


def _scattering_table(atm: Atmosphere, tables: Tables) -> torch.Tensor:
    dt = torch.float32  # the integrand is smooth: single precision is plenty, and twice as fast
    t32 = tables.to("cpu", dt)
    u_nu = torch.arange(SCATTERING_NU, dtype=torch.float64) / (SCATTERING_NU - 1)
    u_mu_s = (torch.arange(SCATTERING_MU_S, dtype=torch.float64) + 0.5) / SCATTERING_MU_S
    u_mu = (torch.arange(SCATTERING_MU, dtype=torch.float64) + 0.5) / SCATTERING_MU
    out = torch.empty(6, SCATTERING_R, SCATTERING_MU, SCATTERING_NU * SCATTERING_MU_S, dtype=torch.float64)
    rayleigh = _vec(atm.rayleigh_scattering, u_mu)
    mie_s = _vec(atm.mie_scattering, u_mu)
    w = torch.full((_SCATTERING_SAMPLES + 1,), 1.0 / _SCATTERING_SAMPLES, dtype=dt)
    w[0] = w[-1] = 0.5 / _SCATTERING_SAMPLES
    frac = torch.linspace(0.0, 1.0, _SCATTERING_SAMPLES + 1, dtype=torch.float64)
    for i in range(SCATTERING_R):  # one radius slab at a time bounds the memory
        u_r = torch.full((1,), (i + 0.5) / SCATTERING_R, dtype=torch.float64)
        g = torch.meshgrid(u_nu, u_mu_s, u_mu, u_r, indexing="ij")
        r, mu, mu_s, nu, ground = (x[..., 0] for x in scattering_r_mu_mu_s_nu(atm, *g))  # (NU, MU_S, MU)
        d_end = torch.where(ground, distance_to_bottom(atm, r, mu), distance_to_top(atm, r, mu))
        d = d_end[..., None] * frac  # (..., S)
        r_, mu_, mu_s_, nu_, gr_ = (x[..., None] for x in (r, mu, mu_s, nu, ground))
        r_d = torch.sqrt(d * d + 2.0 * r_ * mu_ * d + r_ * r_).clamp(atm.bottom_radius, atm.top_radius)
        mu_d = ((r_ * mu_ + d) / r_d).clamp(-1.0, 1.0)
        mu_s_d = ((r_ * mu_s_ + d * nu_) / r_d).clamp(-1.0, 1.0)
        # Optical depth from the texel's point: one lookup per sample (Bruneton's GetTransmittance).
        start = t32.optical_depth_to_top(r.to(dt), torch.where(ground, -mu, mu).to(dt))[..., None, :]
        at = t32.optical_depth_to_top(r_d.to(dt), torch.where(gr_, -mu_d, mu_d).to(dt))
        tau = torch.where(gr_[..., None], at - start, start - at).clamp_min(0.0)
        trans = torch.exp(-tau) * t32.sun_transmittance(r_d.to(dt), mu_s_d.to(dt))
        h = (r_d - atm.bottom_radius).to(dt)[..., None]
        ray = (trans * torch.exp(-h / atm.rayleigh_scale_height) * w[:, None]).sum(dim=-2)
        mie = (trans * torch.exp(-h / atm.mie_scale_height) * w[:, None]).sum(dim=-2)
        scale = d_end[..., None]
        slab = torch.cat([ray * scale * rayleigh, mie * scale * mie_s], dim=-1)  # (NU, MU_S, MU, 6)
        out[:, i] = slab.permute(3, 2, 0, 1).reshape(6, SCATTERING_MU, SCATTERING_NU * SCATTERING_MU_S)
    return out


def _irradiance_table(atm: Atmosphere, tables: Tables) -> torch.Tensor:
    dt = torch.float64
    n_theta, n_phi = 16, 32
    x_mu_s = (torch.arange(IRRADIANCE_MU_S, dtype=dt) + 0.5) / IRRADIANCE_MU_S
    x_r = (torch.arange(IRRADIANCE_R, dtype=dt) + 0.5) / IRRADIANCE_R
    mu_s = (unit_mu := (x_mu_s - 0.5 / IRRADIANCE_MU_S) / (1 - 1 / IRRADIANCE_MU_S)) * 2.0 - 1.0
    del unit_mu
    r = atm.bottom_radius + (x_r - 0.5 / IRRADIANCE_R) / (1 - 1 / IRRADIANCE_R) * (atm.top_radius - atm.bottom_radius)
    theta = (torch.arange(n_theta, dtype=dt) + 0.5) * (math.pi / 2) / n_theta
    phi = (torch.arange(n_phi, dtype=dt) + 0.5) * (2 * math.pi) / n_phi
    rr, ms, th, ph = torch.meshgrid(r, mu_s, theta, phi, indexing="ij")
    mu = torch.cos(th)
    nu = torch.sin(th) * torch.cos(ph) * torch.sqrt((1 - ms * ms).clamp_min(0)) + mu * ms
    ground = torch.zeros_like(mu, dtype=torch.bool)
    radiance = tables.radiance(rr, mu, ms, nu, ground)
    d_omega = (torch.sin(th) * (math.pi / 2 / n_theta) * (2 * math.pi / n_phi)).unsqueeze(-1)
    e = (radiance * mu.unsqueeze(-1) * d_omega).sum(dim=(2, 3))  # (R, MU_S, 3)
    return e.permute(2, 0, 1).contiguous()


def compute_tables(atm: Atmosphere) -> Tables:
    """All three tables for `atm`, in float64 on the CPU (no cache)."""
    with torch.no_grad():
        empty = torch.zeros(1, 1, 1, dtype=torch.float64)
        t = Tables(atm, optical_depth_table(atm), torch.zeros(6, 1, 1, 1, dtype=torch.float64), empty.expand(3, 1, 1))
        t.scattering_table = _scattering_table(atm, t)
        t.irradiance_table = _irradiance_table(atm, t)
    return t


def _cache_dir() -> Path:
    return Path(os.environ.get("EARTH3D_CACHE_DIR") or Path.home() / ".cache" / "earth3d")


def _key(atm: Atmosphere) -> str:
    sizes = (TRANSMITTANCE_MU, TRANSMITTANCE_R, SCATTERING_R, SCATTERING_MU, SCATTERING_MU_S, SCATTERING_NU,
             IRRADIANCE_MU_S, IRRADIANCE_R, _TRANSMITTANCE_SAMPLES, _SCATTERING_SAMPLES, _FORMAT)
    return hashlib.sha1(repr((sorted(asdict(atm).items()), sizes)).encode()).hexdigest()[:16]


_MEMORY: dict[tuple, Tables] = {}


def tables(atm: Atmosphere | None = None, device: torch.device | str = "cpu",
           dtype: torch.dtype = torch.float32) -> Tables:
    """The tables for `atm` (default: the Earth's) on `device`, from memory, disk or computed."""
    atm = atm or Atmosphere()
    key = (atm, str(device), dtype)
    if key in _MEMORY:
        return _MEMORY[key]
    base = (atm, "cpu", torch.float64)
    if base not in _MEMORY:
        path = _cache_dir() / f"atmosphere-{_key(atm)}.npz"
        loaded = None
        try:
            with np.load(path) as z:
                loaded = Tables(atm, *(torch.from_numpy(z[n]) for n in ("optical_depth", "scattering", "irradiance")))
        except (OSError, KeyError, ValueError):
            loaded = None
        if loaded is None:
            loaded = compute_tables(atm)
            buf = io.BytesIO()
            np.savez(buf, optical_depth=loaded.depth_table.numpy(), scattering=loaded.scattering_table.numpy(),
                     irradiance=loaded.irradiance_table.numpy())
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(path, buf.getvalue())
            except OSError:
                pass  # an unwritable cache only costs the recomputation next time
        _MEMORY[base] = loaded
    _MEMORY[key] = _MEMORY[base].to(device, dtype)
    return _MEMORY[key]
