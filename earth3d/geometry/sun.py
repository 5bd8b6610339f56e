"""The sun's direction: from a UTC date and time (NOAA's solar position algorithm) or from a local
azimuth and elevation.

Conventions:

- The result is a unit vector in ECEF (EPSG:4978) pointing from the Earth towards the sun. The
  sun is treated as infinitely far, so the direction is the same for every point of the planet
  (parallax is 4e-5 rad) and is taken through the Earth's center (the subsolar point).
- Azimuth is in degrees clockwise from north (north 0, east 90, south 180, west 270) and
  elevation in degrees above the local horizon, the plane normal to the ellipsoid's (geodetic)
  up at the place. Elevations are geometric: no refraction correction (refraction lifts the sun
  by about 0.5 degrees at the horizon and by under 0.02 degrees above 45 degrees).
- Times are UTC. A naive `datetime` (no tzinfo) is read as UTC; an aware one is converted. Strings
  are ISO 8601 ("2024-06-21T18:00", "2024-06-21T18:00Z", "2024-06-21T12:00-06:00").

The algorithm is the one behind NOAA's Solar Calculator and its spreadsheets
(https://gml.noaa.gov/grad/solcalc/calcdetails.html), a low-precision form of Meeus,
*Astronomical Algorithms* (2nd ed., ch. 25 and 28): the sun's apparent longitude from its mean
longitude and anomaly, the obliquity of the ecliptic, then the declination and the equation of
time. It is good to about 0.01 degrees in declination and a few seconds in the equation of time
for years 1800-2100, far finer than a rendering needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from ..errors import InputError
from .frames import enu_basis

_UNIX_EPOCH_JD = 2440587.5
_J2000_JD = 2451545.0


def to_utc(when: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive means UTC) or an ISO 8601 string.

    Raises:
        InputError: the string is not an ISO 8601 date and time.
    """
    if isinstance(when, str):
        text = when.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"time {when!r} is not an ISO 8601 date and time "
                             "(for example 2024-06-21T18:00Z)") from exc
    if not isinstance(when, datetime):
        raise InputError(f"time {when!r} must be a datetime or an ISO 8601 string")
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def julian_day(when: datetime | str) -> float:
    """Julian day (UTC used for TT: the 69 s difference moves the sun by 0.0008 degrees)."""
    return _UNIX_EPOCH_JD + to_utc(when).timestamp() / 86400.0


def declination_and_equation_of_time(when: datetime | str) -> tuple[float, float]:
    """The sun's apparent declination (degrees) and the equation of time (minutes) at `when`.

    NOAA's spreadsheet formulas (Meeus, low precision).

    Example:
        >>> decl, eqt = declination_and_equation_of_time("1992-10-13T00:00Z")  # Meeus ex. 25.a, 28.b
        >>> round(decl, 2), round(eqt, 1)
        (-7.79, 13.7)
    """
    jc = (julian_day(when) - _J2000_JD) / 36525.0
    mean_long = math.radians((280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360.0)
    mean_anom = math.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    center = (math.sin(mean_anom) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
              + math.sin(2 * mean_anom) * (0.019993 - 0.000101 * jc)
              + math.sin(3 * mean_anom) * 0.000289)
    omega = math.radians(125.04 - 1934.136 * jc)
    app_long = math.radians(math.degrees(mean_long) + center - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliq = 23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    obliq = math.radians(mean_obliq + 0.00256 * math.cos(omega))
    decl = math.degrees(math.asin(math.sin(obliq) * math.sin(app_long)))
    y = math.tan(obliq / 2.0) ** 2
    eqt = 4.0 * math.degrees(
        y * math.sin(2 * mean_long) - 2 * ecc * math.sin(mean_anom)
        + 4 * ecc * y * math.sin(mean_anom) * math.cos(2 * mean_long)
        - 0.5 * y * y * math.sin(4 * mean_long) - 1.25 * ecc * ecc * math.sin(2 * mean_anom))
    return decl, eqt


def subsolar_point(when: datetime | str) -> tuple[float, float]:
    """(lon, lat) in degrees of the point where the sun is at the zenith at `when`."""
    utc = to_utc(when)
    decl, eqt = declination_and_equation_of_time(utc)
    minutes = utc.hour * 60.0 + utc.minute + (utc.second + utc.microsecond * 1e-6) / 60.0
    # True solar time at Greenwich is minutes + eqt; the sun is overhead where the hour angle is 0.
    lon = (180.0 - (minutes + eqt) / 4.0 + 180.0) % 360.0 - 180.0
    return lon, decl


def sun_direction(when: datetime | str) -> np.ndarray:
    """Unit ECEF vector towards the sun at `when` (UTC)."""
    lon, lat = np.radians(subsolar_point(when))
    return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])


def direction_from_horizon(azimuth_deg: float, elevation_deg: float, lon_deg: float, lat_deg: float) -> np.ndarray:
    """Unit ECEF vector for a local azimuth (clockwise from north) and elevation at (lon, lat).

    Raises:
        InputError: a value is not finite or the elevation is outside [-90, 90].
    """
    for name, value in (("azimuth", azimuth_deg), ("elevation", elevation_deg), ("lon", lon_deg), ("lat", lat_deg)):
        if not math.isfinite(float(value)):
            raise InputError(f"sun {name}={value} is not finite")
    if not -90.0 <= elevation_deg <= 90.0:
        raise InputError(f"sun elevation {elevation_deg} degrees is outside [-90, 90]")
    if not -90.0 <= lat_deg <= 90.0:
        raise InputError(f"latitude {lat_deg} is outside [-90, 90]")
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    enu = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
    return enu_basis(lon_deg, lat_deg) @ enu


def horizon_angles(direction, lon_deg: float, lat_deg: float) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of an ECEF direction seen from (lon, lat)."""
    e, n, u = np.asarray(direction, dtype=np.float64) @ enu_basis(lon_deg, lat_deg)
    return float(math.degrees(math.atan2(e, n)) % 360.0), float(math.degrees(math.atan2(u, math.hypot(e, n))))


def solar_position(when: datetime | str, lon_deg: float, lat_deg: float) -> tuple[float, float]:
    """The sun's (azimuth, elevation) in degrees seen from (lon, lat) at `when` (UTC).

    Example:
        >>> az, el = solar_position("2024-03-20T12:00Z", 0.0, 40.0)  # near the March equinox
        >>> round(el)
        50
    """
    return horizon_angles(sun_direction(when), lon_deg, lat_deg)


@dataclass(frozen=True)
class Sun:
    """Where the sun is: a unit ECEF vector from the Earth towards it.

    Example:
        >>> sun = Sun.at("2024-06-21T18:00Z")                       # a date and time (UTC)
        >>> sun = Sun.from_horizon(250.0, 10.0, -105.6, 40.3)       # azimuth/elevation at a place
    """

    direction: np.ndarray

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, dtype=np.float64).reshape(3)
        norm = float(np.linalg.norm(d))
        if not np.all(np.isfinite(d)) or norm == 0.0:
            raise InputError(f"sun direction {d.tolist()} must be a finite non-zero vector")
        object.__setattr__(self, "direction", d / norm)

    @classmethod
    def at(cls, when: datetime | str) -> "Sun":
        """The sun at a UTC date and time (NOAA's algorithm)."""
        return cls(sun_direction(when))

    @classmethod
    def from_horizon(cls, azimuth_deg: float, elevation_deg: float, lon_deg: float, lat_deg: float) -> "Sun":
        """The sun at a local azimuth (degrees clockwise from north) and elevation above (lon, lat)."""
        return cls(direction_from_horizon(azimuth_deg, elevation_deg, lon_deg, lat_deg))

    def horizon_angles(self, lon_deg: float, lat_deg: float) -> tuple[float, float]:
        """(azimuth, elevation) in degrees of this sun seen from (lon, lat)."""
        return horizon_angles(self.direction, lon_deg, lat_deg)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sun) and bool(np.array_equal(self.direction, other.direction))

    def __hash__(self) -> int:
        return hash(tuple(self.direction.tolist()))
