"""City street layout: per-city style, districts, warped local frames and street lines (numba).

A city (seed `cs`) is cut into districts, the Voronoi cells of a jittered
lattice of district centres: a square lattice turned to the city's main
bearing, or for radial cities a polar lattice (rings around the centre), whose
cell borders then run as rings and radials. Every district border carries an
arterial. Inside a district, streets form a two-level jittered grid (collectors
and local streets) in the district's own frame: turned to its bearing and
domain-warped (q + w(q) = R(theta)(p - c), a smooth sinusoidal warp), so streets
curve where the warp is strong. Rows of blocks may be staggered (T-junctions
instead of crossings) and local streets cut half-way (cul-de-sacs). Deep in a city's green
space (`green_space`: large parks, a smooth noise over the city) the streets between park blocks
give way to lawn.

`city_style(cs)` gives the gridness g in [0, 1] of a city: g near 1 is one
straight grid (street-orientation order about 0.9), g near 0 a warped, staggered
and radial pattern of many bearings (order near 0).
"""

from __future__ import annotations

import math

from numba import njit

from .noise import hash2, hash3, noise, rehash, smoothstep, unit

BORDER_HALF_WIDTH = 10.0  # metres: arterials along district borders
GREEN_WAVE = 1500.0  # metres: wavelength of the noise that gathers parks into green space
GREEN_LEVEL = 0.35  # the noise passes this over about a tenth of the city
COLLECTOR_HALF_WIDTH = 7.0
LOCAL_HALF_WIDTH = 4.5
CORE_RADIUS = 1100.0  # metres: districts whose centre lies this close are the historic core


@njit(cache=True)
def city_style(cs):
    """(gridness g, polar lattice 0/1, main bearing rad, district spacing m) of city seed cs."""
    g = unit(rehash(cs, 901))
    polar = 1.0 if unit(rehash(cs, 902)) < 0.6 * (1.0 - g) else 0.0
    theta0 = 0.5 * math.pi * unit(rehash(cs, 903))
    spacing = 650.0 + 450.0 * unit(rehash(cs, 904))
    return g, polar, theta0, spacing


@njit(cache=True)
def _square_centre(i, j, cs, g, c, s, spacing):
    """Centre of square-lattice district (i, j); (c, s): cosine and sine of the main bearing."""
    h = hash3(i, j, 11, cs)
    jit = 0.85 * (1.0 - g) ** 0.7
    a = (i + 0.5 + jit * (unit(h) - 0.5)) * spacing
    b = (j + 0.5 + jit * (unit(rehash(h, 1)) - 0.5)) * spacing
    return c * a - s * b, s * a + c * b


@njit(cache=True)
def ring_count(k):
    """Number of districts on ring k of a polar lattice."""
    return 1 if k == 0 else max(5, int(round(2.0 * math.pi * k)))


@njit(cache=True)
def _polar_centre(k, m, cs, spacing):
    if k == 0:
        return 0.0, 0.0
    n = ring_count(k)
    m = m % n
    h = hash3(k, m, 12, cs)
    rot = 2.0 * math.pi * unit(hash2(k, 13, cs))
    ang = rot + (m + 0.5 + 0.5 * (unit(h) - 0.5)) * 2.0 * math.pi / n
    r = (k + 0.2 * (unit(rehash(h, 1)) - 0.5)) * spacing
    return r * math.cos(ang), r * math.sin(ang)


@njit(cache=True)
def district_centre(i, j, cs, g, polar, theta0, spacing):
    """Centre (m, city frame) of district (i, j): lattice cell, or (ring, index) when polar."""
    if polar > 0.5:
        return _polar_centre(i, j, cs, spacing)
    return _square_centre(i, j, cs, g, math.cos(theta0), math.sin(theta0), spacing)


@njit(cache=True)
def _candidate(t, x, y, cs, g, polar, c, s, spacing, r_x, ang_x):
    """Candidate t of 9 for the district nearest (x, y): (valid, i, j, centre x, centre y)."""
    if polar > 0.5:
        k = int(math.floor(r_x / spacing + 0.5)) - 1 + t // 3
        dm = t % 3 - 1
        if k < 0 or (k == 0 and dm != 0):
            return False, 0, 0, 0.0, 0.0
        n = ring_count(k)
        rot = 2.0 * math.pi * unit(hash2(k, 13, cs))
        m = (int(math.floor(((ang_x - rot) % (2.0 * math.pi)) / (2.0 * math.pi) * n)) + dm) % n
        px, py = _polar_centre(k, m, cs, spacing)
        return True, k, m, px, py
    i = int(math.floor((c * x + s * y) / spacing)) - 1 + t // 3
    j = int(math.floor((-s * x + c * y) / spacing)) - 1 + t % 3
    px, py = _square_centre(i, j, cs, g, c, s, spacing)
    return True, i, j, px, py


@njit(cache=True)
def district_at(x, y, cs, g, polar, theta0, spacing):
    """Nearest district to (x, y) and its borders there.

    Returns (i, j, centre x, centre y, distance to the nearest cell border, the district (ni, nj)
    across that border, its centre x and y, distance to the second nearest border, the district
    (mi, mj) across that one, its centre x and y).
    """
    c, s = math.cos(theta0), math.sin(theta0)
    r_x, ang_x = (math.hypot(x, y), math.atan2(y, x)) if polar > 0.5 else (0.0, 0.0)
    bi, bj, bx, by, d_best = 0, 0, 0.0, 0.0, 1e300
    for t in range(9):
        ok, i, j, px, py = _candidate(t, x, y, cs, g, polar, c, s, spacing, r_x, ang_x)
        if ok:
            d2 = (x - px) ** 2 + (y - py) ** 2
            if d2 < d_best:
                bi, bj, bx, by, d_best = i, j, px, py, d2
    bd, ni, nj, nx, ny = 1e300, bi, bj, bx, by
    bd2, mi, mj, mx, my = 1e300, bi, bj, bx, by
    for t in range(9):
        ok, i, j, px, py = _candidate(t, x, y, cs, g, polar, c, s, spacing, r_x, ang_x)
        if not ok or (i == bi and j == bj):
            continue
        el = math.hypot(px - bx, py - by)
        if el > 1e-9:
            d = ((x - px) ** 2 + (y - py) ** 2 - d_best) / (2.0 * el)
            if d < bd:
                bd2, mi, mj, mx, my = bd, ni, nj, nx, ny
                bd, ni, nj, nx, ny = d, i, j, px, py
            elif d < bd2:
                bd2, mi, mj, mx, my = d, i, j, px, py
    return bi, bj, bx, by, bd, ni, nj, nx, ny, bd2, mi, mj, mx, my


@njit(cache=True)
def district_params(i, j, cx, cy, cs, g, polar, theta0, spacing):
    """Street pattern of one district.

    Returns (seed, bearing, A1, k1, ph1, A2, k2, ph2, collector spacing, local spacing lo/hi along
    the first axis, lo/hi along the second, stagger probability, cul-de-sac probability,
    industrial 0/1): the warp is q_a + A1 sin(k1 q_b + ph1), q_b + A2 sin(k2 q_a + ph2).
    """
    dh = hash3(i, j, 21, cs)
    r = math.hypot(cx, cy)
    core = r < CORE_RADIUS
    aligned = unit(rehash(dh, 1)) < g
    if polar > 0.5:
        theta = math.atan2(cy, cx) + 0.25 * (1.0 - g) * (unit(rehash(dh, 2)) - 0.5)
    elif aligned:
        theta = theta0
    else:
        theta = theta0 + (0.5 * math.pi) * (unit(rehash(dh, 2)) - 0.5) * (1.0 - 0.5 * g)
    organic = (1.0 - g) * (1.0 if core else 0.35 + 0.65 * unit(rehash(dh, 3)))
    # warp: gradient A k up to 0.4 (bearings turn by up to ~22 degrees) over 0.4-1.2 km
    lam1 = 400.0 + 800.0 * unit(rehash(dh, 4))
    lam2 = 400.0 + 800.0 * unit(rehash(dh, 5))
    k1, k2 = 2.0 * math.pi / lam1, 2.0 * math.pi / lam2
    A1 = organic * 0.4 * unit(rehash(dh, 6)) ** 0.5 / k1
    A2 = organic * 0.4 * unit(rehash(dh, 7)) ** 0.5 / k2
    ph1 = 2.0 * math.pi * unit(rehash(dh, 8))
    ph2 = 2.0 * math.pi * unit(rehash(dh, 9))
    suburb = (not core) and unit(rehash(dh, 10)) < 0.3 + 0.5 * min(r / 6000.0, 1.0)
    if core:
        lo_a, hi_a, lo_b, hi_b = 60.0, 120.0, 55.0, 110.0
    elif suburb:  # long blocks of houses: 60-90 m deep, 150-260 m long
        lo_a, hi_a, lo_b, hi_b = 150.0, 260.0, 60.0, 90.0
    else:
        lo_a, hi_a, lo_b, hi_b = 85.0, 160.0, 75.0, 140.0
    coll = 380.0 + 300.0 * unit(rehash(dh, 11))
    stagger = 0.1 + (1.0 - g) * (0.6 if core else 0.3)
    cds = 0.04 + (1.0 - g) * (0.4 if suburb else 0.08)
    ind = 1.0 if (not core and not suburb and unit(rehash(dh, 12)) < 0.22) else 0.0
    return (dh, theta, A1, k1, ph1, A2, k2, ph2, coll, lo_a, hi_a, lo_b, hi_b, stagger, cds, ind)


@njit(cache=True)
def warp_forward(qa, qb, A1, k1, ph1, A2, k2, ph2):
    """Turned district coordinates of frame point (qa, qb)."""
    return qa + A1 * math.sin(k1 * qb + ph1), qb + A2 * math.sin(k2 * qa + ph2)


@njit(cache=True)
def warp_inverse(pa, pb, A1, k1, ph1, A2, k2, ph2):
    """Frame point (qa, qb) whose warp is (pa, pb) (Newton), and the Jacobian determinant there."""
    if A1 == 0.0 and A2 == 0.0:
        return pa, pb, 1.0
    qa = pa - A1 * math.sin(k1 * pb + ph1)
    qb = pb - A2 * math.sin(k2 * pa + ph2)
    det = 1.0
    for _ in range(2):
        s1, c1 = math.sin(k1 * qb + ph1), math.cos(k1 * qb + ph1)
        s2, c2 = math.sin(k2 * qa + ph2), math.cos(k2 * qa + ph2)
        fa = qa + A1 * s1 - pa
        fb = qb + A2 * s2 - pb
        jab, jba = A1 * k1 * c1, A2 * k2 * c2
        det = 1.0 - jab * jba
        qa -= (fa - jab * fb) / det
        qb -= (fb - jba * fa) / det
    return qa, qb, det


@njit(cache=True)
def collector(k, axis, seed, coll):
    """Position of collector line k along one axis."""
    return k * coll + (unit(hash2(k, axis, seed)) - 0.5) * 0.3 * coll


@njit(cache=True)
def n_local(k, axis, seed, coll, lo, hi):
    """Number of blocks between collectors k and k + 1."""
    a0, a1 = collector(k, axis, seed, coll), collector(k + 1, axis, seed, coll)
    sp = lo + (hi - lo) * unit(hash2(k, axis + 2, seed))
    return max(1, int(round((a1 - a0) / sp)))


@njit(cache=True)
def street_block(x, axis, seed, coll, lo, hi):
    """Index (k, j) of the block interval containing coordinate x along one axis."""
    k = int(math.floor(x / coll))
    if x < collector(k, axis, seed, coll):
        k -= 1
    elif x >= collector(k + 1, axis, seed, coll):
        k += 1
    a0, a1 = collector(k, axis, seed, coll), collector(k + 1, axis, seed, coll)
    n = n_local(k, axis, seed, coll, lo, hi)
    j = min(n - 1, max(0, int(math.floor((x - a0) / (a1 - a0) * n))))
    return k, j


@njit(cache=True)
def block_edges(k, j, axis, seed, coll, lo, hi):
    """Centrelines (x0, x1) bounding block interval (k, j), their half-widths and the count n."""
    a0, a1 = collector(k, axis, seed, coll), collector(k + 1, axis, seed, coll)
    n = n_local(k, axis, seed, coll, lo, hi)
    step = (a1 - a0) / n
    x0, x1 = a0 + j * step, a0 + (j + 1) * step
    h0 = COLLECTOR_HALF_WIDTH if j == 0 else LOCAL_HALF_WIDTH
    h1 = COLLECTOR_HALF_WIDTH if j == n - 1 else LOCAL_HALF_WIDTH
    return x0, x1, h0, h1, n


@njit(cache=True)
def next_block(k, j, n):
    """The block interval after (k, j)."""
    return (k + 1, 0) if j + 1 >= n else (k, j + 1)


@njit(cache=True)
def row_offset(kv, jv, seed, stagger, lo):
    """Shift of the first-axis streets in row (kv, jv): staggered rows meet the cross street in T-junctions."""
    h = hash3(kv, jv, 31, seed)
    if unit(h) >= stagger:
        return 0.0
    return (unit(rehash(h, 1)) - 0.5) * lo


@njit(cache=True)
def cut_fraction(ku, ju, kv, jv, seed, cds, n_u):
    """Where the local street on the west side of block (ku, ju, kv, jv) ends (1: it does not)."""
    if ju == 0:  # collectors are never cut
        return 1.0
    h = hash3(ku * 4096 + ju, kv * 4096 + jv, 32, seed)
    if unit(h) >= cds:
        return 1.0
    return 0.35 + 0.3 * unit(rehash(h, 1))


@njit(cache=True)
def green_seed(cs):
    """The seed of city `cs`'s green space (`green_share`)."""
    return rehash(cs, 906)


@njit(cache=True)
def green_share(u, v, gseed):
    """Chance (0..1) that the block centred at (u, v) (city frame, m) is a park: 1 inside the city's green space.

    Parks gather: a city's green space is where a noise of GREEN_WAVE metres passes GREEN_LEVEL:
    large parks and wooded strips of some hundred metres to a few km that cover about a tenth of
    the city, as in real cities (they show from 10 km up as green patches, where parks spread one
    block at a time average out to grey). The blocks' own chance (`city._blocks`) frays their edges.
    """
    f = 1.0 / GREEN_WAVE
    return smoothstep(GREEN_LEVEL - 0.05, GREEN_LEVEL + 0.05, noise(u * f, v * f, 0.37, gseed))


@njit(cache=True)
def green_space(qa, qb, width, depth, origin, gseed):
    """(green_share of the block centred at (qa, qb) in its district's frame, whether it and its west
    neighbour are both deep in the green space, whether it and its south neighbour are).

    `width` and `depth`: the block's street-to-street size (the neighbours' centres lie that far
    west and south); `origin` (cx, cy, cos, sin): the district's centre in the city frame and its
    bearing (the district's warp is left aside: a few tens of metres against a 1.5 km noise).
    """
    c, s = origin[2], origin[3]
    u, v = origin[0] + c * qa - s * qb, origin[1] + s * qa + c * qb
    green = green_share(u, v, gseed)
    if green < 1.0:
        return green, False, False
    return (green, green_share(u - c * width, v - s * width, gseed) >= 1.0,
            green_share(u + s * depth, v - c * depth, gseed) >= 1.0)
