"""numba twins of the table lookups in `tables.py`, for the per-frame evaluations on the CPU.

The torch code allocates a tensor per operation, which for the few tens of thousands of rays of a
frame costs more than the arithmetic; these kernels do one pass per ray with scalars. They follow
`model.py` and `tables.py` line for line (a test checks that both agree).
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import njit, prange

from .model import SCATTERING_MU, SCATTERING_MU_S, SCATTERING_NU, SCATTERING_R, TRANSMITTANCE_MU, TRANSMITTANCE_R
from .tables import Tables

# P: bottom, top, H, mu_s d_min, d_max, A, mie g, sun angular radius, irradiance rgb (8..10)


@njit(inline="always", fastmath=True)
def _coord(x, n):
    return 0.5 / n + x * (1.0 - 1.0 / n)


@njit(inline="always", fastmath=True)
def _axis(u, n):
    f = min(max(u * n - 0.5, 0.0), n - 1.0)
    i = min(int(f), max(n - 2, 0))
    return i, f - i


@njit(fastmath=True)
def _bilinear(tex, u, v, out):
    h, w, c_n = tex.shape
    i, a = _axis(u, w)
    j, b = _axis(v, h)
    for c in range(c_n):
        out[c] = ((tex[j, i, c] * (1 - a) + tex[j, i + 1, c] * a) * (1 - b)
                  + (tex[j + 1, i, c] * (1 - a) + tex[j + 1, i + 1, c] * a) * b)


@njit(fastmath=True)
def _trilinear_add(tex, x, y, z, weight, out):
    d, h, w, c_n = tex.shape
    i, a = _axis(x, w)
    j, b = _axis(y, h)
    k, e = _axis(z, d)
    for c in range(c_n):
        lo = ((tex[k, j, i, c] * (1 - a) + tex[k, j, i + 1, c] * a) * (1 - b)
              + (tex[k, j + 1, i, c] * (1 - a) + tex[k, j + 1, i + 1, c] * a) * b)
        hi = ((tex[k + 1, j, i, c] * (1 - a) + tex[k + 1, j, i + 1, c] * a) * (1 - b)
              + (tex[k + 1, j + 1, i, c] * (1 - a) + tex[k + 1, j + 1, i + 1, c] * a) * b)
        out[c] += weight * (lo * (1 - e) + hi * e)


@njit(inline="always", fastmath=True)
def _dist_top(p, r, mu):
    disc = r * r * (mu * mu - 1.0) + p[1] * p[1]
    return max(-r * mu + math.sqrt(max(disc, 0.0)), 0.0)


@njit(fastmath=True)
def _tau_top(depth, p, r, mu, out):
    rho = math.sqrt(max(r * r - p[0] * p[0], 0.0))
    d = _dist_top(p, r, mu)
    d_min = p[1] - r
    d_max = rho + p[2]
    x_mu = (d - d_min) / max(d_max - d_min, 1e-9)
    _bilinear(depth, _coord(x_mu, TRANSMITTANCE_MU), _coord(rho / p[2], TRANSMITTANCE_R), out)


@njit(fastmath=True)
def _optical_depth(depth, p, r, mu, d, ground, out, tmp):
    r_d = min(max(math.sqrt(max(d * d + 2.0 * r * mu * d + r * r, 0.0)), p[0]), p[1])
    mu_d = min(max((r * mu + d) / r_d, -1.0), 1.0)
    if ground:
        _tau_top(depth, p, r_d, -mu_d, out)
        _tau_top(depth, p, r, -mu, tmp)
    else:
        _tau_top(depth, p, r, mu, out)
        _tau_top(depth, p, r_d, mu_d, tmp)
    for c in range(3):
        out[c] = max(out[c] - tmp[c], 0.0)


@njit(fastmath=True)
def _scattering(scat, p, r, mu, mu_s, nu, ground, out):
    rb, big_h = p[0], p[2]
    rho = math.sqrt(max(r * r - rb * rb, 0.0))
    u_r = _coord(rho / big_h, SCATTERING_R)
    r_mu = r * mu
    disc = r_mu * r_mu - r * r + rb * rb
    half = SCATTERING_MU // 2
    if ground:
        d = -r_mu - math.sqrt(max(disc, 0.0))
        dmin, dmax = r - rb, rho
        x = 0.0 if dmax == dmin else (d - dmin) / max(dmax - dmin, 1e-9)
        u_mu = 0.5 - 0.5 * _coord(min(max(x, 0.0), 1.0), half)
    else:
        d = -r_mu + math.sqrt(max(disc + big_h * big_h, 0.0))
        dmin, dmax = p[1] - r, rho + big_h
        x = (d - dmin) / max(dmax - dmin, 1e-9)
        u_mu = 0.5 + 0.5 * _coord(min(max(x, 0.0), 1.0), half)
    d_s = _dist_top(p, rb, mu_s)
    a = (d_s - p[3]) / (p[4] - p[3])
    u_mu_s = _coord(max(1.0 - a / p[5], 0.0) / (1.0 + a), SCATTERING_MU_S)
    tex_x = (nu + 1.0) / 2.0 * (SCATTERING_NU - 1)
    k = min(max(math.floor(tex_x), 0.0), SCATTERING_NU - 2.0)
    lerp = tex_x - k
    for c in range(6):
        out[c] = 0.0
    _trilinear_add(scat, (k + u_mu_s) / SCATTERING_NU, u_mu, u_r, 1.0 - lerp, out)
    _trilinear_add(scat, (k + 1.0 + u_mu_s) / SCATTERING_NU, u_mu, u_r, lerp, out)


@njit(inline="always", fastmath=True)
def _phased(p, s, mu_s, nu, c):
    ray_phase = 3.0 / (16.0 * math.pi) * (1.0 + nu * nu)
    g = p[6]
    mie_phase = (3.0 / (8.0 * math.pi) * (1.0 - g * g) / (2.0 + g * g) * (1.0 + nu * nu)
                 / max(1.0 + g * g - 2.0 * g * nu, 1e-9) ** 1.5)
    t = min(max(mu_s / 0.01, 0.0), 1.0)
    return p[8 + c] * (s[c] * ray_phase + s[3 + c] * t * t * (3.0 - 2.0 * t) * mie_phase)


@njit(fastmath=True)
def _irradiance(depth, irr, p, r, mu_s, out, tmp):
    sin_h = p[0] / r
    cos_h = -math.sqrt(max(1.0 - sin_h * sin_h, 0.0))
    edge = sin_h * p[7]
    t = min(max((mu_s - cos_h + edge) / (2.0 * edge), 0.0), 1.0)
    visible = t * t * (3.0 - 2.0 * t)
    _tau_top(depth, p, r, mu_s, tmp)
    n_mu_s, n_r = irr.shape[1], irr.shape[0]
    u = 0.5 / n_mu_s + (mu_s * 0.5 + 0.5) * (1.0 - 1.0 / n_mu_s)
    v = 0.5 / n_r + (r - p[0]) / (p[1] - p[0]) * (1.0 - 1.0 / n_r)
    _bilinear(irr, u, v, out)
    for c in range(3):
        out[c] += p[8 + c] * math.exp(-tmp[c]) * visible * max(mu_s, 0.0)


_CHUNK = 256  # rays per parallel task: scratch arrays are allocated per chunk, not per ray


def _sky_py(depth, scat, p, r, mu, mu_s, nu, ground, out):  # pragma: no cover - numba
    """Out (N, 3): single-scattered radiance of whole rays."""
    n = r.shape[0]
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        s = np.empty(6)
        for i in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)):
            _scattering(scat, p, r[i], mu[i], mu_s[i], nu[i], ground[i], s)
            for c in range(3):
                out[i, c] = _phased(p, s, mu_s[i], nu[i], c)


def _point_py(depth, scat, irr, p, r, mu, mu_s, nu, d, ground, out):  # pragma: no cover - numba
    """Out (N, 9): in-scattered radiance, optical depth, irradiance at the point."""
    n = r.shape[0]
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        s = np.empty(6)
        sp = np.empty(6)
        tau = np.empty(3)
        tmp = np.empty(3)
        e = np.empty(3)
        for i in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)):
            ri, mui, musi, nui, di = r[i], mu[i], mu_s[i], nu[i], d[i]
            r_p = min(max(math.sqrt(max(di * di + 2.0 * ri * mui * di + ri * ri, 0.0)), p[0]), p[1])
            mu_p = min(max((ri * mui + di) / r_p, -1.0), 1.0)
            mu_s_p = min(max((ri * musi + di * nui) / r_p, -1.0), 1.0)
            _optical_depth(depth, p, ri, mui, di, ground[i], tau, tmp)
            _scattering(scat, p, ri, mui, musi, nui, ground[i], s)
            _scattering(scat, p, r_p, mu_p, mu_s_p, nui, ground[i], sp)
            for c in range(3):
                t = math.exp(-tau[c])
                s[c] = max(s[c] - t * sp[c], 0.0)
                s[3 + c] = max(s[3 + c] - t * sp[3 + c], 0.0)
            _irradiance(depth, irr, p, r_p, mu_s_p, e, tmp)
            for c in range(3):
                out[i, c] = _phased(p, s, musi, nui, c)
                out[i, 3 + c] = tau[c]
                out[i, 6 + c] = e[c]


def _along_py(depth, scat, irr, p, r, mu, mu_s, nu, ground, d, out):  # pragma: no cover - numba
    """Out (N, K, 9): `_point_py` at distances d (N, K) along each ray, the terms at the ray's start
    (its whole-ray scattering, its optical depth to the top) computed once per ray.
    """
    n, n_k = d.shape
    for chunk in prange((n + 15) // 16):
        s0 = np.empty(6)
        s = np.empty(6)
        sp = np.empty(6)
        tau0 = np.empty(3)
        tau = np.empty(3)
        tmp = np.empty(3)
        e = np.empty(3)
        for i in range(chunk * 16, min((chunk + 1) * 16, n)):
            ri, mui, musi, nui, gi = r[i], mu[i], mu_s[i], nu[i], ground[i]
            _scattering(scat, p, ri, mui, musi, nui, gi, s0)
            _tau_top(depth, p, ri, -mui if gi else mui, tau0)
            for k in range(n_k):
                di = d[i, k]
                r_p = min(max(math.sqrt(max(di * di + 2.0 * ri * mui * di + ri * ri, 0.0)), p[0]), p[1])
                mu_p = min(max((ri * mui + di) / r_p, -1.0), 1.0)
                mu_s_p = min(max((ri * musi + di * nui) / r_p, -1.0), 1.0)
                # _optical_depth with the start's term reused
                r_d = r_p
                mu_d = min(max((ri * mui + di) / r_d, -1.0), 1.0)
                if gi:
                    _tau_top(depth, p, r_d, -mu_d, tmp)
                    for c in range(3):
                        tau[c] = max(tmp[c] - tau0[c], 0.0)
                else:
                    _tau_top(depth, p, r_d, mu_d, tmp)
                    for c in range(3):
                        tau[c] = max(tau0[c] - tmp[c], 0.0)
                _scattering(scat, p, r_p, mu_p, mu_s_p, nui, gi, sp)
                for c in range(3):
                    t = math.exp(-tau[c])
                    s[c] = max(s0[c] - t * sp[c], 0.0)
                    s[3 + c] = max(s0[3 + c] - t * sp[3 + c], 0.0)
                _irradiance(depth, irr, p, r_p, mu_s_p, e, tmp)
                for c in range(3):
                    out[i, k, c] = _phased(p, s, musi, nui, c)
                    out[i, k, 3 + c] = tau[c]
                    out[i, k, 6 + c] = e[c]


def _background_py(depth, scat, irr, p, geo, rot, px, py, shade, skip, out, classes):  # noqa: C901  # pragma: no cover
    """The background of pixel rays in one pass (`frame._background`'s numpy code, per ray).

    geo: camera position on the atmosphere's sphere (0..2), per-axis scale (3..5), sun direction
    there (6..8), fx, fy, cx, cy (9..12), fill-ground radius (13, < 0: none), grazing limit (14,
    < 0: no grazing class). shade: albedo (0..2), k (3..5), 1 / E_ref (6..8).
    Out (N, 3) display-linear radiance; classes (N,) 0 miss, 1 sky, 2 fill ground, 3 grazing sky.
    Fill-ground rays marked 1 in skip (N,) and all rays marked 2 are classified but not shaded
    (their out is NaN).
    """
    n = px.shape[0]
    top = p[1]
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        s = np.empty(6)
        sp = np.empty(6)
        tau = np.empty(3)
        tmp = np.empty(3)
        e = np.empty(3)
        for i in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)):
            qx = (px[i] - geo[11]) / geo[9]
            qy = (py[i] - geo[12]) / geo[10]
            qn = math.sqrt(qx * qx + qy * qy + 1.0)
            v0 = (rot[0, 0] * qx + rot[0, 1] * qy + rot[0, 2]) / qn * geo[3]
            v1 = (rot[1, 0] * qx + rot[1, 1] * qy + rot[1, 2]) / qn * geo[4]
            v2 = (rot[2, 0] * qx + rot[2, 1] * qy + rot[2, 2]) / qn * geo[5]
            vn = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
            v0, v1, v2 = v0 / vn, v1 / vn, v2 / vn
            r0 = math.sqrt(geo[0] * geo[0] + geo[1] * geo[1] + geo[2] * geo[2])
            rmu0 = v0 * geo[0] + v1 * geo[1] + v2 * geo[2]
            hits = True
            enter = 0.0
            if r0 > top:
                disc = rmu0 * rmu0 - (r0 * r0 - top * top)
                hits = disc >= 0.0 and rmu0 < 0.0
                enter = -rmu0 - math.sqrt(max(disc, 0.0)) if hits else 0.0
            r = top if (hits and enter > 0) else r0
            rmu = rmu0 + enter
            mu = min(max(rmu / r, -1.0), 1.0)
            vs = v0 * geo[6] + v1 * geo[7] + v2 * geo[8]
            mu_s = min(max((geo[0] * geo[6] + geo[1] * geo[7] + geo[2] * geo[8] + enter * vs) / r, -1.0), 1.0)
            nu = min(max(vs, -1.0), 1.0)
            ground = mu < 0.0 and r * r * (mu * mu - 1.0) + p[0] * p[0] >= 0.0
            hits_g = False
            d_g = 0.0
            rg = geo[13]
            if rg >= 0.0:
                disc_g = rmu * rmu - r * r + rg * rg
                hits_g = disc_g >= 0.0 and rmu < 0.0 and r >= rg and hits
                d_g = -rmu - math.sqrt(max(disc_g, 0.0))
            for c in range(3):
                out[i, c] = 0.0
            if skip[i] == 2:  # the class only
                for c in range(3):
                    out[i, c] = np.nan
                classes[i] = 2 if hits_g else (1 if hits else 0)
                if hits and not hits_g and geo[14] >= 0.0:
                    if (r * math.sqrt(1.0 - mu * mu) if mu < 0.0 else r) < geo[14]:
                        classes[i] = 3
                continue
            if hits_g and skip[i]:
                for c in range(3):
                    out[i, c] = np.nan
                classes[i] = 2
            elif hits_g:
                r_p = min(max(math.sqrt(max(d_g * d_g + 2.0 * r * mu * d_g + r * r, 0.0)), p[0]), p[1])
                mu_p = min(max((r * mu + d_g) / r_p, -1.0), 1.0)
                mu_s_p = min(max((r * mu_s + d_g * nu) / r_p, -1.0), 1.0)
                _optical_depth(depth, p, r, mu, d_g, ground, tau, tmp)
                _scattering(scat, p, r, mu, mu_s, nu, ground, s)
                _scattering(scat, p, r_p, mu_p, mu_s_p, nu, ground, sp)
                for c in range(3):
                    t = math.exp(-tau[c])
                    s[c] = max(s[c] - t * sp[c], 0.0)
                    s[3 + c] = max(s[3 + c] - t * sp[3 + c], 0.0)
                _irradiance(depth, irr, p, r_p, mu_s_p, e, tmp)
                for c in range(3):
                    ins = np.float32(_phased(p, s, mu_s, nu, c))
                    out[i, c] = (np.float32(shade[c]) * np.float32(e[c]) * np.float32(shade[6 + c])
                                 * np.float32(math.exp(-np.float32(tau[c]))) + ins * np.float32(shade[3 + c]))
                classes[i] = 2
            elif hits:
                _scattering(scat, p, r, mu, mu_s, nu, ground, s)
                for c in range(3):
                    out[i, c] = np.float32(_phased(p, s, mu_s, nu, c)) * np.float32(shade[3 + c])
                classes[i] = 1
                if geo[14] >= 0.0:
                    impact = r * math.sqrt(1.0 - mu * mu) if mu < 0.0 else r
                    if impact < geo[14]:
                        classes[i] = 3
            else:
                classes[i] = 0


# One thread below this many rays: on a busy machine a parallel launch can cost more CPU time in
# waiting threads than a few tens of thousands of lookups take on one.
_PARALLEL_RAYS = 200_000


def serial_and_parallel(py_func):
    """Two njit dispatchers of `py_func`, one thread and prange, cached apart: numba's cache index
    ignores the `parallel` flag, so one function compiled both ways would share one entry.
    """
    out = []
    for suffix, parallel in (("serial", False), ("parallel", True)):
        f = types.FunctionType(py_func.__code__, py_func.__globals__, f"{py_func.__name__}_{suffix}",
                               py_func.__defaults__, py_func.__closure__)
        f.__qualname__ = f"{py_func.__qualname__}_{suffix}"
        out.append(njit(parallel=parallel, fastmath=True, cache=True)(f))
    return tuple(out)


_sky_serial, _sky_parallel = serial_and_parallel(_sky_py)
_point_serial, _point_parallel = serial_and_parallel(_point_py)
_background_serial, _background_parallel = serial_and_parallel(_background_py)
_along_serial, _along_parallel = serial_and_parallel(_along_py)


def sky_kernel(depth, scat, p, r, mu, mu_s, nu, ground, out) -> None:
    """Out (N, 3): single-scattered radiance of whole rays (channel-last tables, see `_arrays`)."""
    (_sky_parallel if len(r) >= _PARALLEL_RAYS else _sky_serial)(depth, scat, p, r, mu, mu_s, nu, ground, out)


def point_kernel(depth, scat, irr, p, r, mu, mu_s, nu, d, ground, out) -> None:
    """Out (N, 9): in-scattered radiance, optical depth, irradiance at the point."""
    (_point_parallel if len(r) >= _PARALLEL_RAYS else _point_serial)(depth, scat, irr, p, r, mu, mu_s, nu, d,
                                                                      ground, out)


def _params(tabs: Tables) -> np.ndarray:
    from .model import _mu_s_extent

    atm = tabs.atm
    d_min, d_max, big_a = _mu_s_extent(atm)
    return np.array([atm.bottom_radius, atm.top_radius, atm.horizon_length, d_min, d_max, big_a, atm.mie_g,
                     atm.sun_angular_radius, *atm.solar_irradiance], dtype=np.float64)


_CHANNEL_LAST: dict[int, tuple] = {}


def _arrays(tabs: Tables):
    """The tables as channel-last float32 arrays (a lookup reads one cache line per corner, not one
    per channel), made once per table set.
    """
    key = id(tabs.scattering_table)
    hit = _CHANNEL_LAST.get(key)
    if hit is None or hit[0] is not tabs.scattering_table:
        f = lambda t: np.ascontiguousarray(np.moveaxis(t.numpy(), 0, -1), dtype=np.float32)  # noqa: E731
        hit = (tabs.scattering_table, f(tabs.depth_table), f(tabs.scattering_table), f(tabs.irradiance_table))
        if len(_CHANNEL_LAST) > 8:
            _CHANNEL_LAST.clear()
        _CHANNEL_LAST[key] = hit
    return hit[1:]


def sky_radiance(tabs: Tables, r, mu, mu_s, nu, ground) -> np.ndarray:
    """Sky radiance (N, 3) of whole rays (numpy float64 in, float64 out)."""
    depth, scat, _ = _arrays(tabs)
    out = np.empty((len(r), 3))
    f = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
    sky_kernel(depth, scat, _params(tabs), f(r), f(mu), f(mu_s), f(nu), np.ascontiguousarray(ground, dtype=np.bool_),
               out)
    return out


def to_point(tabs: Tables, r, mu, mu_s, nu, d, ground) -> np.ndarray:
    """(N, 9): in-scattered radiance, optical depth and irradiance at the end of each segment."""
    depth, scat, irr = _arrays(tabs)
    out = np.empty((len(r), 9))
    f = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
    point_kernel(depth, scat, irr, _params(tabs), f(r), f(mu), f(mu_s), f(nu), f(d),
                 np.ascontiguousarray(ground, dtype=np.bool_), out)
    return out


def along_rays(tabs: Tables, r, mu, mu_s, nu, ground, d) -> np.ndarray:
    """(N, K, 9): `to_point` for K distances d (N, K) along each of N rays (r, mu, mu_s, nu, ground (N,))."""
    depth, scat, irr = _arrays(tabs)
    d = np.ascontiguousarray(d, dtype=np.float64)
    out = np.empty((*d.shape, 9))
    f = lambda x: np.ascontiguousarray(x, dtype=np.float64).ravel()  # noqa: E731
    kernel = _along_parallel if d.size >= _PARALLEL_RAYS else _along_serial
    kernel(depth, scat, irr, _params(tabs), f(r), f(mu), f(mu_s), f(nu),
           np.ascontiguousarray(ground, dtype=np.bool_).ravel(), d, out)
    return out


def background_rays(tabs: Tables, geo: np.ndarray, rotation: np.ndarray, px: np.ndarray, py: np.ndarray,
                    shade: np.ndarray, skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Background radiance (N, 3) float32 and class (N,) of the rays through pixel coordinates px, py
    (see `_background_py` for geo, shade and skip: 1 leaves fill ground unshaded, 2 any ray).
    """
    depth, scat, irr = _arrays(tabs)
    f = lambda x: np.ascontiguousarray(x, dtype=np.float64).ravel()  # noqa: E731
    px, py = f(px), f(py)
    out = np.empty((len(px), 3), dtype=np.float32)
    classes = np.empty(len(px), dtype=np.int64)
    kernel = _background_parallel if len(px) >= _PARALLEL_RAYS else _background_serial
    skip = np.zeros(len(px), dtype=np.uint8) if skip is None else np.ascontiguousarray(skip, dtype=np.uint8).ravel()
    kernel(depth, scat, irr, _params(tabs), f(geo), np.ascontiguousarray(rotation, dtype=np.float64), px, py,
           f(shade), skip, out, classes)
    return out, classes


@njit(fastmath=True, cache=True)
def cell_extreme(alpha, cy, cx, nh, nw, largest):  # pragma: no cover - numba
    """(nh, nw): the smallest (or with `largest`, the largest) alpha of the pixels of each cell (pixel
    row y in cell row cy[y], column x in cx[x]; both non-decreasing). Cells start at 1 (smallest) or
    0 (largest); the largest is taken as the smallest of the negated values.
    """
    sign = np.float32(-1.0 if largest else 1.0)
    start = np.float32(-0.0 if largest else 1.0)
    out = np.full((nh, nw), start, dtype=np.float32)
    h, w = alpha.shape
    col = np.full(w, start, dtype=np.float32)
    for y in range(h):
        for x in range(w):  # column extreme over the cell's rows (vectorizes)
            col[x] = min(col[x], sign * alpha[y, x])
        if y == h - 1 or cy[y + 1] != cy[y]:
            j = cy[y]
            for x in range(w):
                out[j, cx[x]] = min(out[j, cx[x]], col[x])
                col[x] = start
    return sign * out


@njit(fastmath=True, cache=True)
def fill_from_lattice(background, classes, skip, step):  # pragma: no cover - numba
    """Bilinear fill of the skipped fill-ground points (class 2) of background (hs, ws, 3) from the
    points every `step` (and the last row and column); returns the skipped points whose four
    lattice corners are not all fill ground (left as they are).
    """
    hs, ws = classes.shape
    bad = np.zeros((hs, ws), dtype=np.bool_)
    for y in range(hs):
        y0 = (y // step) * step
        y1 = min(y0 + step, hs - 1)
        ay = (y - y0) / max(y1 - y0, 1)
        for x in range(ws):
            if not skip[y, x] or classes[y, x] != 2:
                continue
            x0 = (x // step) * step
            x1 = min(x0 + step, ws - 1)
            if classes[y0, x0] != 2 or classes[y0, x1] != 2 or classes[y1, x0] != 2 or classes[y1, x1] != 2:
                bad[y, x] = True
                continue
            ax = (x - x0) / max(x1 - x0, 1)
            for c in range(3):
                top = background[y0, x0, c] * (1 - ax) + background[y0, x1, c] * ax
                bottom = background[y1, x0, c] * (1 - ax) + background[y1, x1, c] * ax
                background[y, x, c] = top * (1 - ay) + bottom * ay
    return bad
