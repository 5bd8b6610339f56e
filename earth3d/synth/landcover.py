"""Land cover with texture: forest canopies, field parcels, grass, soil and rock (numba, per pixel).

Everything here is a function of the position (u, v) in the metric frame of a
land-use cell and of the pixel size `res`, averaged over the pixel footprint so
that a coarse pixel is close to the mean of the finer pixels inside it:

- band_texture: 2D gradient-noise octaves from a top wavelength down to the pixel,
  each weighted by its mean attenuation over a res x res box (band limit);
- canopy: a forest canopy of individual crowns on a jittered lattice (gaps where a lattice
  site holds no tree), each a sunlit Gaussian dome with its shadow cast down-sun, averaged
  exactly over the pixel box (products of erf integrals; for pixels far smaller than a crown,
  a Gaussian of variance s^2 + res^2/12), at any pixel size up to CROWN_EXACT; coarser pixels
  get the expected mean plus noise with the standard deviation of a box average of the crown
  field (a scale-dependent variance term);
- fields: farmland parcels in districts of a few km, each with its own orientation
  and parcel size (large on plains, small on hills), the parcel colours drawn from
  the colours of real NAIP fields (FIELD_PALETTE), crop rows as stripes whose box
  average is exact (sinc), and tracks between parcels; parcels not farmed keep the
  natural cover, so woodlots and cut clearings have straight, sharp edges.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .noise import NOISE2_STD, hash2, noise2, rehash, smoothstep, unit

# Median colours of homogeneous 60 m blocks of land in the NAIP North Dakota orthophoto
# (2020-08-31), clustered with k-means: `python examples/field_palette.py -k 16` prints them.
FIELD_PALETTE = np.array([
    [0.198, 0.312, 0.237], [0.235, 0.366, 0.263], [0.266, 0.364, 0.266], [0.220, 0.347, 0.254],
    [0.231, 0.314, 0.246], [0.256, 0.385, 0.267], [0.296, 0.384, 0.281], [0.337, 0.407, 0.297],
    [0.249, 0.340, 0.256], [0.387, 0.429, 0.322], [0.273, 0.402, 0.276], [0.437, 0.454, 0.356],
    [0.307, 0.424, 0.289], [0.193, 0.264, 0.221], [0.220, 0.282, 0.235], [0.554, 0.554, 0.426],
])
# Harvested, ploughed and fallow parcels (bare soil, stubble), brighter and browner than the
# August greens of the palette; a share SOIL_SHARE of the parcels take one of these.
SOIL_PALETTE = np.array([[0.52, 0.47, 0.38], [0.40, 0.34, 0.27], [0.62, 0.58, 0.46], [0.46, 0.42, 0.33]])
SOIL_SHARE = 0.4
_PALETTE_MEAN = np.array([FIELD_PALETTE[:, i].mean() for i in range(3)])
TRACK_RGB = np.array([0.50, 0.48, 0.40])
HEDGE_RGB = np.array([0.10, 0.15, 0.08])
HEDGE_SHARE = 0.33
CROWN_EXACT = 12.0  # pixels up to this size (m) sum individual crowns; coarser ones use the statistics
CROWN_SIGMA = 0.26  # crown std as a fraction of the lattice spacing (mean, before the 0.7-1.3 jitter)
SHADOW = 0.8  # depth of a crown's cast shadow relative to its sunlit dome
CROWN_GAIN = 2.0  # brightness of a crown canopy signal in the forest colour (1 + CROWN_GAIN * canopy)
# a crown's own shade: at tint +1 yellower and lighter (a broadleaf in full leaf), at -1 bluer and darker
# (a conifer); the forest colour's channels are multiplied by 1 + CROWN_TINT * tint
CROWN_TINT = np.array([0.25, 0.12, 0.0])
SUN_U, SUN_V = -0.7071, 0.7071  # direction to the sun (north-west), as in shading.SUN_AZIMUTH_DEG
_E_SIG2 = 1.03  # E[(0.7 + 0.6 U)^2]
_E_SIG4 = 1.1  # about E[(0.7 + 0.6 U)^4]
_E_B2 = 1.0 + 0.16 / 3.0  # E[b^2] for b = 0.6 + 0.8 U
FINE_M = 6.0  # texture octaves below this wavelength are leaves, tufts and clods


@njit(cache=True)
def band_weight(lam, res):
    """Mean attenuation of a wave of length lam by a res x res box (as relief.octave_table)."""
    t = lam / res
    return math.exp(-0.5 / (t * t)) * smoothstep(0.6, 1.1, t)


@njit(cache=True)
def band_weights(res, lam_top, lam_min):
    """Band weights (band_weight) of the octaves band_texture sums at cell size res: from lam_top, halving,
    down to lam_min while the octave is resolved (longer than 0.6 res). The same for every pixel of a tile.
    """
    n = 0
    lam = lam_top
    while lam >= lam_min and lam > 0.6 * res:
        lam *= 0.5
        n += 1
    out = np.empty(n)
    lam = lam_top
    for o in range(n):
        out[o] = band_weight(lam, res)
        lam *= 0.5
    return out


@njit(inline="always")
def octave_noise(u, v, lam, o, seed):
    """Octave `o` (wavelength `lam` metres) of the noise band_texture sums at (u, v): its own seed and offset."""
    s = seed + np.uint64(o) * np.uint64(0x9E3779B97F4A7C15)
    off = unit(s) * 1000.0
    return noise2(u / lam + off, v / lam - off, s)


@njit(cache=True)
def band_texture(u, v, lam_top, weights, seed):
    """Octaves of 2D noise from lam_top down (halving), band-limited to the pixel size.

    `weights` = band_weights(res, lam_top, lam_min) of the pixel size res. Each octave has unit
    standard deviation before its band weight, so the sum of n resolved octaves has a standard
    deviation of about sqrt(n) (power spectrum slope 2, like most natural images). Returns
    (octaves >= FINE_M, octaves < FINE_M).
    """
    lam = lam_top
    coarse = 0.0
    fine = 0.0
    for o in range(weights.shape[0]):
        val = weights[o] * octave_noise(u, v, lam, o, seed)
        if lam >= FINE_M:
            coarse += val
        else:
            fine += val
        lam *= 0.5
    return coarse / NOISE2_STD, fine / NOISE2_STD


@njit(cache=True)
def _gauss_int(a, b, c, s):
    """Integral over [a, b] of exp(-(x - c)^2 / (2 s^2))."""
    r = s * 1.4142135623730951
    return s * 1.2533141373155001 * (math.erf((b - c) / r) - math.erf((a - c) / r))


@njit(cache=True)
def _canopy_mean(cover):
    return cover * 2.0 * math.pi * CROWN_SIGMA * CROWN_SIGMA * _E_SIG2 * (1.0 - SHADOW)


@njit(cache=True)
def canopy(u, v, res, spacing, cover, seed):
    """(brightness, tint) of a canopy of crowns averaged over the res x res pixel at (u, v).

    Crowns sit on a jittered lattice of `spacing` metres; a site holds a tree with
    probability `cover` (the rest are gaps). The brightness (zero mean) is about -0.5
    (gap, shadow) to +0.8 (sunlit crown top) at fine pixels, tending to noise of decreasing
    amplitude (about 1/res) at coarse ones. The tint is each tree's own shade (-1..1, zero
    mean) weighted by its sunlit dome, about -1..1 on a crown top: neighbouring trees differ
    in colour as species, age and health do; pixels coarser than CROWN_EXACT get none.
    """
    s = spacing
    if res > CROWN_EXACT:
        # statistics of the box average: Var = density * E[b^2] * pi * E[sig^4 / sig'^2] * (1 + SHADOW^2)
        sig = CROWN_SIGMA * s
        s2 = sig * sig + res * res / 12.0
        var = cover / (s * s) * _E_B2 * math.pi * sig ** 4 * _E_SIG4 / s2 * (1.0 + SHADOW * SHADOW)
        n = noise2(u / (0.77 * res), v / (0.77 * res), seed ^ np.uint64(0x5A5A)) / NOISE2_STD
        return math.sqrt(var) * n, 0.0
    sig_max = CROWN_SIGMA * s * 1.3
    reach = 2.8 * math.sqrt(sig_max * sig_max + res * res / 12.0) + 1.1 * sig_max
    i0 = int(math.floor((u - reach) / s))
    i1 = int(math.floor((u + reach) / s))
    j0 = int(math.floor((v - reach) / s))
    j1 = int(math.floor((v + reach) / s))
    acc, tint = 0.0, 0.0
    r12 = res * res / 12.0
    half = 0.5 * res
    inv_a = 1.0 / (res * res)
    m16 = np.uint64(0xFFFF)
    for i in range(i0, i1 + 1):
        for j in range(j0, j1 + 1):
            # one hash per lattice site, cut into bit fields: presence, position, brightness, size
            h = hash2(i, j, seed)
            if float(h & m16) * (1.0 / 65536.0) >= cover:
                continue
            cu = (i + 0.1 + 0.8 * float((h >> np.uint64(16)) & m16) * (1.0 / 65536.0)) * s
            cv = (j + 0.1 + 0.8 * float((h >> np.uint64(32)) & m16) * (1.0 / 65536.0)) * s
            sig = CROWN_SIGMA * s * (0.7 + 0.6 * float(h >> np.uint64(56)) * (1.0 / 256.0))
            b = 0.6 + 0.8 * float((h >> np.uint64(48)) & np.uint64(0xFF)) * (1.0 / 256.0)
            hue = 2.0 * unit(rehash(h, 1)) - 1.0  # the tree's own shade: its species, age and health
            lu, lv = cu + 0.25 * sig * SUN_U, cv + 0.25 * sig * SUN_V
            su, sv = cu - 1.1 * sig * SUN_U, cv - 1.1 * sig * SUN_V
            if res > 1.5 * sig:
                # exact box average of the Gaussians: products of 1D erf integrals
                lit = _gauss_int(u - half, u + half, lu, sig) * _gauss_int(v - half, v + half, lv, sig)
                dark = _gauss_int(u - half, u + half, su, sig) * _gauss_int(v - half, v + half, sv, sig)
                acc += (b * lit - SHADOW * dark) * inv_a
                tint += hue * b * lit * inv_a
            else:
                # pixels much smaller than the crown: a Gaussian of variance sig^2 + res^2 / 12 is the box average
                sg2 = sig * sig
                s2 = sg2 + r12
                k = sg2 / s2
                cut = 7.84 * s2  # (2.8 sigma')^2: beyond it a bump adds under 2% of its peak
                du, dv = u - lu, v - lv
                d2 = du * du + dv * dv
                if d2 < cut:
                    lit = b * k * math.exp(-d2 / (2.0 * s2))
                    acc += lit
                    tint += hue * lit
                du, dv = u - su, v - sv
                d2 = du * du + dv * dv
                if d2 < cut:
                    acc -= SHADOW * k * math.exp(-d2 / (2.0 * s2))
    return acc - _canopy_mean(cover), tint


@njit(cache=True)
def _ov(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


@njit(cache=True)
def _jline(k, spacing, jit, seed):
    return (k + (unit(hash2(k, 7, seed)) - 0.5) * jit) * spacing


@njit(cache=True)
def _jcell(x, spacing, jit, seed):
    k = int(math.floor(x / spacing))
    if x < _jline(k, spacing, jit, seed):
        k -= 1
    elif x >= _jline(k + 1, spacing, jit, seed):
        k += 1
    return k


@njit(cache=True)
def _sinc(x):
    return 1.0 if abs(x) < 1e-9 else math.sin(x) / x


DISTRICT_M = 2500.0
DISTRICT_WARP = 0.4  # district borders wander by up to this share of DISTRICT_M (as roads and streams do)


@njit(cache=True)
def fields(u, v, res, scale, theta, farm, seed, out):
    """Farmland parcels averaged over the res x res pixel at (u, v) of a land-use cell.

    The cell is cut into districts of about DISTRICT_M (a jittered lattice whose borders wander:
    each coordinate is shifted by a noise of the other before the lattice is read, so they run as
    curves, not as straight north-south and east-west lines); each turns the cell's orientation
    `theta` (radians) by up to +-25 degrees and scales the parcel size `scale` (m) by 0.6-1.5.
    Parcels are rows of jittered height cut into jittered columns; a parcel is farmed when its
    hash falls under `farm` (0..1).
    Writes out[0:3] = summed colour of the farmed part of the pixel, out[3] = its area
    fraction, out[4] = crop-row relief (zero mean, for shading nothing; brightness),
    out[F_PARCEL] = instance id of the farmed parcel covering most of the pixel (0 if none)
    when `out` has that slot.
    """
    for c in range(5):
        out[c] = 0.0
    with_id = out.shape[0] > F_PARCEL
    if with_id:
        out[F_PARCEL] = 0.0
    best = 0.0
    # district of the pixel centre (its orientation and scale hold for the whole pixel)
    dw = 1.5 * DISTRICT_M  # the wavelength of the borders' wander
    warp = DISTRICT_WARP * DISTRICT_M / (2.0 * NOISE2_STD)
    di = _jcell(u + warp * noise2(v / dw, 0.37, seed ^ np.uint64(0xD1)), DISTRICT_M, 0.5, seed)
    dj = _jcell(v + warp * noise2(u / dw, 0.71, seed ^ np.uint64(0xD2)), DISTRICT_M, 0.5, seed ^ np.uint64(3))
    dh = hash2(di, dj, seed ^ np.uint64(0xD15))
    th = theta + 0.9 * (unit(dh) - 0.5)
    sc = scale * (0.6 + 0.9 * unit(rehash(dh, 1)))
    ct, st = math.cos(th), math.sin(th)
    a = ct * u + st * v
    b = -st * u + ct * v
    # small parcels (hills) follow the land: their boundaries wander by up to a fifth of a parcel
    wamp = 0.35 * sc * (1.0 - smoothstep(150.0, 350.0, sc))
    if wamp > 0.0:
        lw = 3.0 * sc
        a += wamp * noise2(u / lw + 17.3, v / lw, dh ^ np.uint64(0xA)) / NOISE2_STD * 0.5
        b += wamp * noise2(u / lw, v / lw - 5.1, dh ^ np.uint64(0xB)) / NOISE2_STD * 0.5
    half = 0.5 * res
    a0, a1, b0, b1 = a - half, a + half, b - half, b + half
    row_h = sc
    track = min(1.5 + 0.004 * sc, 4.0)  # half width of the tracks and field margins
    r = _jcell(b0, row_h, 0.6, dh)
    area = res * res
    while True:
        ra, rb = _jline(r, row_h, 0.6, dh), _jline(r + 1, row_h, 0.6, dh)
        if ra > b1:
            break
        ovv = _ov(b0, b1, ra, rb)
        rs = dh ^ hash2(r, 11, dh)
        col_w = sc * (0.5 + 1.5 * unit(rs))
        c = _jcell(a0, col_w, 0.6, rs)
        while ovv > 0.0:
            ca, cb = _jline(c, col_w, 0.6, rs), _jline(c + 1, col_w, 0.6, rs)
            if ca > a1:
                break
            fh = hash2(c, r, rs)
            if unit(fh) < farm:
                w_all = ovv * _ov(a0, a1, ca, cb)
                # a third of the parcels are lined with a row of trees (shelterbelt, hedge), the rest with a track
                hedge = unit(rehash(fh, 5)) < HEDGE_SHARE
                m = 2.5 * track if hedge else track
                w_in = _ov(b0, b1, ra + m, rb - m) * _ov(a0, a1, ca + m, cb - m)
                edge_rgb = HEDGE_RGB if hedge else TRACK_RGB
                e0, e1, e2 = edge_rgb[0], edge_rgb[1], edge_rgb[2]
                if unit(rehash(fh, 1)) < SOIL_SHARE:
                    k = int(rehash(fh, 2) % np.uint64(SOIL_PALETTE.shape[0]))
                    c0, c1, c2 = SOIL_PALETTE[k, 0], SOIL_PALETTE[k, 1], SOIL_PALETTE[k, 2]
                else:
                    k = int(rehash(fh, 2) % np.uint64(FIELD_PALETTE.shape[0]))
                    c0, c1, c2 = FIELD_PALETTE[k, 0], FIELD_PALETTE[k, 1], FIELD_PALETTE[k, 2]
                s = 0.7 + 0.6 * unit(rehash(fh, 3))
                # crop rows along the parcel's long side: a stripe whose box average is exact
                period = 0.8 + 2.5 * unit(rehash(fh, 4))
                along_a = (cb - ca) > (rb - ra)
                x = (b if along_a else a) * 2.0 * math.pi / period
                rows = 0.12 * math.cos(x) * _sinc(math.pi * res / period) * (1.0 - smoothstep(0.5, 1.0, res / period))
                s *= 1.0 + rows
                out[0] += w_in * c0 * s + (w_all - w_in) * e0
                out[1] += w_in * c1 * s + (w_all - w_in) * e1
                out[2] += w_in * c2 * s + (w_all - w_in) * e2
                out[3] += w_all
                if with_id and w_in > best:
                    best = w_in
                    out[F_PARCEL] = float((fh >> np.uint64(12)) | np.uint64(1))
            c += 1
        r += 1
    for c in range(4):
        out[c] /= area


_GRASS = np.array([0.43, 0.45, 0.27])
_MEADOW = np.array([0.36, 0.42, 0.22])
_WETLAND = np.array([0.20, 0.26, 0.15])
_WOODS = np.array([0.18, 0.26, 0.13])
_OPEN = 0.55 * _GRASS + 0.45 * _MEADOW
_TUNDRA = np.array([0.36, 0.36, 0.28])
_SCREE = np.array([0.46, 0.45, 0.40])
TEX_TOP_M, TEX_MIN_M = 1024.0, 0.5
# crown lattice spacing (m) of boreal, temperate and tropical forest
CROWN_SPACING = np.array([4.5, 7.0, 10.0])
CROWN_STEP_M = 0.5


@njit(cache=True)
def cell_frame(ci, cj, hill, mtn, seed):
    """(orientation rad, parcel size m) of the fields of land-use cell (ci, cj).

    Large parcels (300-700 m) on plains, small ones (60-150 m) in hills (`hill`, `mtn`: the landform
    weights at the cell centre); the orientation is random per cell (some regions keep to the meridians).
    """
    h = hash2(ci, cj, seed)
    theta = 0.0 if unit(h) < 0.3 else math.pi * unit(rehash(h, 1))
    rough = min(hill + mtn, 1.0)
    scale = math.exp(math.log(500.0) + (math.log(90.0) - math.log(500.0)) * rough) * (0.7 + 0.6 * unit(rehash(h, 2)))
    return theta, scale


TERRACE_RISE_M = 2.5  # height of one terrace step
# Slots of `cover`'s buffer after the colour ones: the cover fractions the class raster is made of.
F_PARCEL, F_FOREST, F_WET, F_ALPINE, F_SCREE, F_CROP = range(5, 11)
N_BUF = 11


@njit(cache=True)
def terraces(u, v, h, res, slope, seed, out):
    """Colour of terraced fields (out[0:3]) on ground of height h and slope `slope`; returns their visibility.

    Terraces are the bands between contours of the height itself, every TERRACE_RISE_M, so they follow
    the hillside; each band has its own crop colour per plot of about 120 m and a darker riser at its
    lower edge. A pixel spanning many steps (res * slope > TERRACE_RISE_M) sees their mean: the bands
    fade out with the number of steps per pixel.
    """
    q = h / TERRACE_RISE_M
    k = math.floor(q)
    f = q - k
    # plots of about 120 m along each step
    fh = hash2(np.int64(k), np.int64(math.floor(u / 120.0)) * 7919 + np.int64(math.floor(v / 120.0)), seed)
    c = int(fh % np.uint64(FIELD_PALETTE.shape[0]))
    riser = 1.0 - smoothstep(0.0, 0.18, f)
    vis = 1.0 - smoothstep(0.3, 1.0, res * slope / TERRACE_RISE_M)
    s = (0.85 + 0.3 * unit(rehash(fh, 1))) * (1.0 - 0.45 * riser)
    for i in range(3):
        mean = _PALETTE_MEAN[i] * 0.93
        out[i] = mean + (FIELD_PALETTE[c, i] * s - mean) * vis
    return vis


@njit(cache=True)
def frame_textures(frames, seeds, nfr, res, spacing, forest, tex_w):
    """Ground texture octaves (coarse, fine), crown brightness and tint over the pixel's texture frames.

    Textures live in the tangent frame of a land-use cell and its seed, so a cell's texture
    does not continue into the next one; near a cell's edge the kernel passes the neighbours'
    frames too (`frames[k]` = u, v, weight; `seeds[k]`). The noise octaves of all `nfr` frames
    are mixed by weight, divided by the root of the summed squared weights so that they keep
    their contrast across the band where they cross-fade; crowns are objects, so each frame's
    lattice holds trees with a probability scaled by its weight: the density of whole crowns,
    not their brightness, changes across the band.
    """
    coarse, fine, crowns, tint, norm = 0.0, 0.0, 0.0, 0.0, 0.0
    for k in range(nfr):
        wk = frames[k, 2]
        if wk <= 0.0:
            continue
        c, f = band_texture(frames[k, 0], frames[k, 1], TEX_TOP_M, tex_w, seeds[k])
        coarse += wk * c
        fine += wk * f
        if forest:
            b, t = canopy(frames[k, 0], frames[k, 1], res, spacing, 0.85 * wk, seeds[k] ^ np.uint64(0xC40))
            crowns += b
            tint += t
        norm += wk * wk
    norm = 1.0 / math.sqrt(norm)
    return coarse * norm, fine * norm, crowns, tint


@njit(cache=True)
def cover(frames, seeds, nfr, res, bw, farm, terrace, h, slope, t, w, patch, theta, scale, nat, buf, tex_w):
    """Textured land cover of a pixel over the biome colour `nat` (modified in place).

    `frames`, `seeds`, `nfr`: the pixel's texture frames (frame_textures); the first is its own
    land-use cell's, whose position (u, v) and seed the fields and terraces follow.
    bw: biome weights (kernel.biome_weights), farm: farmland suitability 0..1,
    terrace: share of steep ground terraced 0..1, h: height m, slope: expected
    slope, t: temperature C, w: moisture 0..1, patch: 3 km patch noise of the
    kernel, (theta, scale): the fields frame of the land-use cell (cell_frame),
    buf: N_BUF floats; on return buf[F_*] hold the cover fractions (forest, wet flats,
    alpine, scree share of alpine, farmed) and the parcel instance id; tex_w: band_weights(res, TEX_TOP_M,
    TEX_MIN_M) (once per tile). Returns the texture signal (about unit std at
    fine pixels) for the kernel's rock, snow and shallow-water colours.
    """
    # crowns: spacing by forest type, in CROWN_STEP_M steps: a spacing that drifts with the biome
    # weights (so with height) shears the lattice far from the frame's origin into stripes along contours
    tot = bw[3] + bw[4] + bw[8] + bw[5] + bw[7]
    spacing = (bw[3] * CROWN_SPACING[0] + (bw[4] + bw[5] + bw[7]) * CROWN_SPACING[1] + bw[8] * CROWN_SPACING[2]) / (
        tot + 1e-9)
    spacing = max(CROWN_STEP_M * round(spacing / CROWN_STEP_M), CROWN_SPACING[0])
    any_forest = tot > 0.0
    coarse, fine, crowns, tint = frame_textures(frames, seeds, nfr, res, spacing, any_forest, tex_w)
    u, v, seed = frames[0, 0], frames[0, 1], seeds[0]
    coarse /= 2.8
    fine /= 2.0
    tex = coarse + fine
    # above the tree line (about 0-4 C): alpine meadow, tundra, scree and rock
    alpine = smoothstep(4.0, -1.0, t + 2.5 * coarse)
    forest = (bw[3] + bw[4] + bw[8]) * (1.0 - alpine)
    # natural openings in forests (meadows, bogs) and woods in open land, with edges as
    # sharp as the pixel allows (the patch noise changes by about 1.5 per 3 km)
    e = max(0.025, 0.75 * res / 3000.0)
    edge = patch + 0.08 * tex
    opening = forest * smoothstep(0.42 - e, 0.42 + e, edge)
    woods = (bw[5] + bw[7]) * (1.0 - alpine) * (1.0 - smoothstep(-0.45 - e, -0.45 + e, edge))
    fcov = min(max(forest - opening + woods, 0.0), 1.0)
    # wet flats: bogs and marshes in openings and in moist lowland
    wet = smoothstep(0.75, 0.9, w) * (1.0 - smoothstep(0.01, 0.04, slope)) * smoothstep(0.1, 0.3, patch)
    if fcov <= 0.0:
        crowns, tint = 0.0, 0.0
    g_crown = 1.0 + CROWN_GAIN * crowns
    # deep shadows stop short of black (rarely reached: the floor keeps coarse pixels the mean of fine ones)
    g_crown = max(g_crown, 0.25)
    g_forest = g_crown * max(1.0 + 0.35 * coarse + 0.75 * fine, 0.3)
    g_open = 1.0 + 0.08 * coarse + 0.1 * fine
    # scree and bare rock above the tree line on steep ground, lichen-grey and patchy
    scree = alpine * smoothstep(0.12, 0.45, slope + 0.1 * coarse)
    g_alpine = max(1.0 + 0.4 * coarse + 0.25 * fine, 0.3)
    for c in range(3):
        # openings in forest take a meadow colour; woods in open land take a forest colour
        base_open = nat[c] + (_OPEN[c] - nat[c]) * (0.6 * forest * (1.0 - woods))
        base_forest = nat[c] + (_WOODS[c] - nat[c]) * (1.0 - min(forest / 0.5, 1.0))
        col = fcov * base_forest * g_forest * (1.0 + CROWN_TINT[c] * tint) + (1.0 - fcov) * base_open * g_open
        alp = _TUNDRA[c] + (_SCREE[c] - _TUNDRA[c]) * scree
        col += alpine * (1.0 - fcov) * (alp * g_alpine - col)
        col += wet * (_WETLAND[c] * (1.0 + 0.4 * tex) - col)
        nat[c] = col
    # terraced hillsides
    terr = terrace * (1.0 - alpine) * smoothstep(0.1, 0.18, slope) * (1.0 - smoothstep(0.5, 0.7, slope))
    if terr > 0.01:
        terraces(u, v, h, res, slope, seed ^ np.uint64(0x7E4), buf)
        for c in range(3):
            nat[c] += terr * (buf[c] * (1.0 + 0.05 * coarse + 0.05 * fine) - nat[c])
    buf[F_FOREST], buf[F_WET], buf[F_ALPINE], buf[F_SCREE] = fcov, wet, alpine * (1.0 - fcov), scree
    buf[F_CROP], buf[F_PARCEL] = terr if terr > 0.01 else 0.0, 0.0
    # farmland parcels
    if farm > 0.01:
        fields(u, v, min(res, 1500.0), scale, theta, farm, seed ^ np.uint64(0xF1E1D), buf)
        fa = buf[3]
        if fa > 0.0:
            # within-field patches (soil moisture, lodging, weeds) with edges as sharp as the pixel allows
            ep = max(0.04, 0.3 * res / 64.0)
            g = 1.0 + 0.03 * coarse + 0.03 * fine + 0.22 * (smoothstep(0.25 - ep, 0.25 + ep, coarse) - 0.4)
            for c in range(3):
                nat[c] = nat[c] * (1.0 - fa) + buf[c] * g
            buf[F_CROP] = fa + (1.0 - fa) * buf[F_CROP]
    return tex
