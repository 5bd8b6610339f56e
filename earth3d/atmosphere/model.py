"""The atmosphere's parameters and the maths of Bruneton's precomputed single scattering.

The model is Bruneton & Neyret 2008, "Precomputed Atmospheric Scattering", in the form of
Bruneton's 2017 reference implementation (https://github.com/ebruneton/precomputed_atmospheric_scattering):
a spherical planet under a spherical shell of air; Rayleigh and Mie scattering with exponential
density profiles, ozone absorption with a tent profile; three wavelengths (680, 550, 440 nm) taken
as the display's red, green and blue. Only single scattering is kept.

Why precomputed tables (Bruneton) and not a per-pixel ray march: the tables do not depend on the
sun, the camera or the view, so they are computed once per atmosphere (and cached on disk), and a
frame costs a handful of table lookups per sample whatever the altitude, from street level to
orbit (Hillaire 2020's sky-view table only covers cameras inside the atmosphere; above it he ray
marches per pixel). Sky radiance to a point at distance d is S(x, v) - T(x, p) S(p, v) with S the
single-scattering table and T the transmittance, which gives the aerial perspective of every
pixel from two lookups.

Functions here work on torch tensors of any shape, broadcasting, in the parameterizations of the
2017 code: `transmittance_uv`, `scattering_uvwz` and their inverses. Distances are metres,
positions relative to the planet's center.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InputError

RGB = tuple[float, float, float]

# Table sizes (those of Bruneton's 2017 demo).
TRANSMITTANCE_MU, TRANSMITTANCE_R = 256, 64
SCATTERING_R, SCATTERING_MU, SCATTERING_MU_S, SCATTERING_NU = 32, 128, 32, 8
IRRADIANCE_MU_S, IRRADIANCE_R = 64, 16


@dataclass(frozen=True)
class Atmosphere:
    """Physical parameters (SI units: metres and 1/m), defaults for the Earth's clear sky.

    Rayleigh: scale height 8 km, scattering 5.8e-6, 13.5e-6, 33.1e-6 /m at 680, 550, 440 nm
    (Bruneton & Neyret 2008). Mie: scale height 1.2 km, scattering 21e-6 /m, extinction
    scattering / 0.9, Cornette-Shanks phase with g = 0.76. Ozone: absorption 0.650e-6, 1.881e-6,
    0.085e-6 /m at its peak, a tent from 10 to 40 km centered at 25 km (Bruneton 2017, Hillaire 2020).
    `solar_irradiance` is relative (the display's white); `min_sun_cosine` is the lowest sun
    (cos of the sun zenith angle, 102 degrees) the tables cover: lower suns give a dark sky.
    """

    bottom_radius: float = 6_371_000.0
    top_radius: float = 6_471_000.0
    rayleigh_scattering: RGB = (5.8e-6, 13.5e-6, 33.1e-6)
    rayleigh_scale_height: float = 8_000.0
    mie_scattering: RGB = (21e-6, 21e-6, 21e-6)
    mie_extinction: RGB = (21e-6 / 0.9, 21e-6 / 0.9, 21e-6 / 0.9)
    mie_scale_height: float = 1_200.0
    mie_g: float = 0.76
    ozone_absorption: RGB = (0.650e-6, 1.881e-6, 0.085e-6)
    ozone_center: float = 25_000.0
    ozone_half_width: float = 15_000.0
    solar_irradiance: RGB = (1.0, 1.0, 1.0)
    sun_angular_radius: float = 0.004675
    min_sun_cosine: float = -0.2079116908177593  # cos(102 degrees)

    def __post_init__(self) -> None:
        if not 0.0 < self.bottom_radius < self.top_radius:
            raise InputError(f"atmosphere radii {self.bottom_radius} (bottom) and {self.top_radius} (top) "
                             "must satisfy 0 < bottom < top")
        for name in ("rayleigh_scattering", "mie_scattering", "mie_extinction", "ozone_absorption", "solar_irradiance"):
            value = getattr(self, name)
            if len(value) != 3 or not all(math.isfinite(v) and v >= 0.0 for v in value):
                raise InputError(f"atmosphere {name}={value} must be three finite non-negative numbers")
            object.__setattr__(self, name, tuple(float(v) for v in value))
        for name in ("rayleigh_scale_height", "mie_scale_height", "ozone_half_width", "sun_angular_radius"):
            if not getattr(self, name) > 0.0:
                raise InputError(f"atmosphere {name}={getattr(self, name)} must be positive")
        if not -1.0 < self.mie_g < 1.0:
            raise InputError(f"atmosphere mie_g={self.mie_g} must be in (-1, 1)")
        if not -1.0 <= self.min_sun_cosine < 0.0:
            raise InputError(f"atmosphere min_sun_cosine={self.min_sun_cosine} must be in [-1, 0)")

    @property
    def horizon_length(self) -> float:
        """H: the distance to the top of the atmosphere along a horizontal ray from the ground."""
        return math.sqrt(self.top_radius ** 2 - self.bottom_radius ** 2)


def _vec(values: RGB, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def extinction(atm: Atmosphere, h: torch.Tensor) -> torch.Tensor:
    """Extinction coefficient (..., 3) in 1/m at heights `h` (m above the bottom)."""
    h = h.unsqueeze(-1)
    rayleigh = torch.exp(-h / atm.rayleigh_scale_height) * _vec(atm.rayleigh_scattering, h)
    mie = torch.exp(-h / atm.mie_scale_height) * _vec(atm.mie_extinction, h)
    ozone = (1.0 - (h - atm.ozone_center).abs() / atm.ozone_half_width).clamp_min(0.0) * _vec(atm.ozone_absorption, h)
    return rayleigh + mie + ozone


# ---------------------------------------------------------------------------------- geometry
def distance_to_top(atm: Atmosphere, r: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Distance from radius r along zenith cosine mu to the top of the atmosphere."""
    disc = r * r * (mu * mu - 1.0) + atm.top_radius ** 2
    return (-r * mu + torch.sqrt(disc.clamp_min(0.0))).clamp_min(0.0)


def distance_to_bottom(atm: Atmosphere, r: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Distance from radius r along zenith cosine mu to the ground (meaningful where the ray hits it)."""
    disc = r * r * (mu * mu - 1.0) + atm.bottom_radius ** 2
    return (-r * mu - torch.sqrt(disc.clamp_min(0.0))).clamp_min(0.0)


def intersects_ground(atm: Atmosphere, r: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Whether the ray from radius r along zenith cosine mu meets the planet."""
    return (mu < 0.0) & (r * r * (mu * mu - 1.0) + atm.bottom_radius ** 2 >= 0.0)


def coord_from_unit(x: torch.Tensor, n: int) -> torch.Tensor:
    """Unit range to texture coordinate, with texel centers at 0 and 1 of the range."""
    return 0.5 / n + x * (1.0 - 1.0 / n)


def unit_from_coord(u: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of `coord_from_unit`."""
    return (u - 0.5 / n) / (1.0 - 1.0 / n)


# ------------------------------------------------------------------------ transmittance (r, mu)
def transmittance_uv(atm: Atmosphere, r: torch.Tensor, mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(u along mu, v along r) of the transmittance table for rays that do not hit the ground."""
    big_h = atm.horizon_length
    rho = torch.sqrt((r * r - atm.bottom_radius ** 2).clamp_min(0.0))
    d = distance_to_top(atm, r, mu)
    d_min = atm.top_radius - r
    d_max = rho + big_h
    x_mu = (d - d_min) / (d_max - d_min).clamp_min(1e-9)
    return coord_from_unit(x_mu, TRANSMITTANCE_MU), coord_from_unit(rho / big_h, TRANSMITTANCE_R)


def transmittance_r_mu(atm: Atmosphere, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of `transmittance_uv`: (r, mu) of texture coordinates."""
    big_h = atm.horizon_length
    rho = big_h * unit_from_coord(v, TRANSMITTANCE_R)
    r = torch.sqrt(rho * rho + atm.bottom_radius ** 2)
    d_min = atm.top_radius - r
    d_max = rho + big_h
    d = d_min + unit_from_coord(u, TRANSMITTANCE_MU) * (d_max - d_min)
    mu = torch.where(d == 0.0, torch.ones_like(d), (big_h ** 2 - rho * rho - d * d) / (2.0 * r * d.clamp_min(1e-9)))
    return r, mu.clamp(-1.0, 1.0)


# ------------------------------------------------------------ scattering (r, mu, mu_s, nu)
def _mu_s_extent(atm: Atmosphere) -> tuple[float, float, float]:
    d_min = atm.top_radius - atm.bottom_radius
    d_max = atm.horizon_length
    r, mu = atm.bottom_radius, atm.min_sun_cosine
    big_d = -r * mu + math.sqrt(max(r * r * (mu * mu - 1.0) + atm.top_radius ** 2, 0.0))
    return d_min, d_max, (big_d - d_min) / (d_max - d_min)


def scattering_uvwz(atm: Atmosphere, r, mu, mu_s, nu, ground) -> tuple[torch.Tensor, ...]:
    """(u_nu, u_mu_s, u_mu, u_r) texture coordinates of the 4D scattering table."""
    big_h = atm.horizon_length
    rb = atm.bottom_radius
    rho = torch.sqrt((r * r - rb * rb).clamp_min(0.0))
    u_r = coord_from_unit(rho / big_h, SCATTERING_R)
    r_mu = r * mu
    disc = r_mu * r_mu - r * r + rb * rb
    half = SCATTERING_MU // 2
    # Rays hitting the ground: distance to the ground, mapped to [0, 0.5].
    d_g = -r_mu - torch.sqrt(disc.clamp_min(0.0))
    dmin_g, dmax_g = r - rb, rho
    x_g = torch.where(dmax_g == dmin_g, torch.zeros_like(d_g), (d_g - dmin_g) / (dmax_g - dmin_g).clamp_min(1e-9))
    u_g = 0.5 - 0.5 * coord_from_unit(x_g.clamp(0.0, 1.0), half)
    # Other rays: distance to the top, mapped to [0.5, 1].
    d_s = -r_mu + torch.sqrt((disc + big_h * big_h).clamp_min(0.0))
    dmin_s, dmax_s = atm.top_radius - r, rho + big_h
    x_s = (d_s - dmin_s) / (dmax_s - dmin_s).clamp_min(1e-9)
    u_s = 0.5 + 0.5 * coord_from_unit(x_s.clamp(0.0, 1.0), half)
    u_mu = torch.where(ground, u_g, u_s)
    d_min, d_max, big_a = _mu_s_extent(atm)
    d = distance_to_top(atm, torch.full_like(mu_s, rb), mu_s)
    a = (d - d_min) / (d_max - d_min)
    u_mu_s = coord_from_unit(((1.0 - a / big_a).clamp_min(0.0) / (1.0 + a)), SCATTERING_MU_S)
    u_nu = (nu + 1.0) / 2.0
    return u_nu, u_mu_s, u_mu, u_r


def scattering_r_mu_mu_s_nu(atm: Atmosphere, u_nu, u_mu_s, u_mu, u_r) -> tuple[torch.Tensor, ...]:
    """Inverse of `scattering_uvwz` at texel centers: (r, mu, mu_s, nu, ground)."""
    big_h = atm.horizon_length
    rb = atm.bottom_radius
    rho = big_h * unit_from_coord(u_r, SCATTERING_R)
    r = torch.sqrt(rho * rho + rb * rb)
    half = SCATTERING_MU // 2
    ground = u_mu < 0.5
    # ground branch
    dmin_g, dmax_g = r - rb, rho
    d_g = dmin_g + (dmax_g - dmin_g) * unit_from_coord(1.0 - 2.0 * u_mu, half)
    mu_g = torch.where(d_g == 0.0, -torch.ones_like(d_g), -(rho * rho + d_g * d_g) / (2.0 * r * d_g.clamp_min(1e-9)))
    # sky branch
    dmin_s, dmax_s = atm.top_radius - r, rho + big_h
    d_s = dmin_s + (dmax_s - dmin_s) * unit_from_coord(2.0 * u_mu - 1.0, half)
    mu_sk = torch.where(d_s == 0.0, torch.ones_like(d_s),
                        (big_h ** 2 - rho * rho - d_s * d_s) / (2.0 * r * d_s.clamp_min(1e-9)))
    mu = torch.where(ground, mu_g, mu_sk).clamp(-1.0, 1.0)
    x_mu_s = unit_from_coord(u_mu_s, SCATTERING_MU_S)
    d_min, d_max, big_a = _mu_s_extent(atm)
    a = (big_a - x_mu_s * big_a) / (1.0 + x_mu_s * big_a)
    d = d_min + torch.clamp(a, max=big_a) * (d_max - d_min)
    mu_s = torch.where(d == 0.0, torch.ones_like(d), (big_h ** 2 - d * d) / (2.0 * rb * d.clamp_min(1e-9)))
    mu_s = mu_s.clamp(-1.0, 1.0)
    nu = (u_nu * 2.0 - 1.0).clamp(-1.0, 1.0)
    # nu is bounded by the angles of the view and sun to the zenith.
    spread = torch.sqrt(((1.0 - mu * mu) * (1.0 - mu_s * mu_s)).clamp_min(0.0))
    nu = torch.minimum(torch.maximum(nu, mu * mu_s - spread), mu * mu_s + spread)
    return r, mu, mu_s, nu, ground


# --------------------------------------------------------------------------------- phases
def rayleigh_phase(nu: torch.Tensor) -> torch.Tensor:
    """Rayleigh phase function of the scattering angle's cosine."""
    return 3.0 / (16.0 * math.pi) * (1.0 + nu * nu)


def mie_phase(g: float, nu: torch.Tensor) -> torch.Tensor:
    """Cornette-Shanks phase function, as in Bruneton's code."""
    k = 3.0 / (8.0 * math.pi) * (1.0 - g * g) / (2.0 + g * g)
    return k * (1.0 + nu * nu) / (1.0 + g * g - 2.0 * g * nu).clamp_min(1e-9) ** 1.5


def smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    """GLSL's smoothstep."""
    t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
