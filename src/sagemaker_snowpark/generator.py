"""Generate the workshop's three tables by the published AI4I 2020 rules, any size, seeded.

AI4I 2020 Predictive Maintenance (S. Matzka, UCI dataset 601, doi 10.24432/C5HS5C, CC BY 4.0) is
itself synthetic. Its published rules, as applied here:

- product quality L, M, H with probability 50, 30, 20 % and a variant-specific serial number;
- air temperature: a random walk normalised to a standard deviation of 2 K around 300 K;
- process temperature: air temperature + 10 K + a random walk normalised to a 1 K deviation;
- torque: normal around 40 Nm with a 10 Nm deviation, no negative values;
- rotational speed: from the machine's power, with normal noise. The published text gives no
  formula, so the speed-torque curve is the one fitted to the published data set
  (rpm = 855 + 30972 / (torque + 7.6), noise deviation 54 rpm);
- tool wear: H, M and L products add 5, 3 and 2 minutes to the tool in use;
- failures: TWF, the tool reaches its end of life at a random wear of 200-240 min and fails
  there in 51 of 120 cases (else it is replaced); HDF, process - air temperature below 8.6 K and
  speed below 1380 rpm; PWF, power below 3500 W or above 9000 W; OSF, tool wear x torque above
  11,000 / 12,000 / 13,000 min Nm for L / M / H; RNF, 0.1 % at random. MACHINE_FAILURE is 1
  when any of them is.

The workshop adds a city per machine (CITY_UDF) and each city's average humidity (HUMIDITY). Here
cities are assigned uniformly and humidity is drawn per city, so humidity carries no failure
signal (in the workshop's own copy it does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

QUALITY_SHARES = {"L": 0.5, "M": 0.3, "H": 0.2}
TOOL_WEAR_PER_PROCESS = {"L": 2, "M": 3, "H": 5}
OVERSTRAIN_LIMIT_MIN_NM = {"L": 11_000, "M": 12_000, "H": 13_000}
# The other failure rules' bounds; data.documented_failure_modes applies the same ones in Snowflake.
TOOL_END_OF_LIFE_MIN = (200, 240)  # a tool's end of life falls in this range of wear
HEAT_DISSIPATION_MAX_DIFF_K = 8.6  # with speed under the next bound, heat dissipation fails
HEAT_DISSIPATION_MAX_SPEED_RPM = 1380
POWER_RANGE_W = (3500, 9000)  # outside it, a power failure
TOOL_FAILS_AT_END_OF_LIFE = 51 / 120
RANDOM_FAILURE_RATE = 0.001

CITIES = (
    "Amsterdam",
    "Athens",
    "Auckland",
    "Bangkok",
    "Barcelona",
    "Berlin",
    "Bogota",
    "Boston",
    "Buenos Aires",
    "Cairo",
    "Cape Town",
    "Chicago",
    "Copenhagen",
    "Dakar",
    "Delhi",
    "Dubai",
    "Dublin",
    "Hanoi",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Johannesburg",
    "Karachi",
    "Lagos",
    "Lima",
    "Lisbon",
    "London",
    "Madrid",
    "Manila",
    "Melbourne",
    "Mexico City",
    "Montreal",
    "Mumbai",
    "Nairobi",
    "Osaka",
    "Oslo",
    "Paris",
    "Prague",
    "Quito",
    "Reykjavik",
    "Rome",
    "Santiago",
    "Seoul",
    "Singapore",
    "Stockholm",
    "Sydney",
    "Taipei",
    "Tokyo",
    "Toronto",
    "Vienna",
)

MAINTENANCE_COLUMNS = (
    "UDI",
    "PRODUCT_ID",
    "TYPE",
    "AIR_TEMPERATURE_K",
    "PROCESS_TEMPERATURE",
    "ROTATIONAL_SPEED_RPM",
    "TORQUE_NM",
    "TOOL_WEAR_MIN",
    "MACHINE_FAILURE",
    "TWF",
    "HDF",
    "PWF",
    "OSF",
    "RNF",
)


@dataclass(frozen=True)
class WorkshopData:
    """The three source tables, shaped like the workshop's CSV files."""

    maintenance: pd.DataFrame
    city_udi: pd.DataFrame
    humidity: pd.DataFrame


def _normalised_random_walk(rng: np.random.Generator, n: int, std: float) -> np.ndarray:
    walk = np.cumsum(rng.standard_normal(n))
    spread = walk.std()
    return (walk - walk.mean()) / (spread if spread > 0 else 1.0) * std


def _positive_normal(rng: np.random.Generator, n: int, mean: float, std: float) -> np.ndarray:
    values = rng.normal(mean, std, n)
    negative = values <= 0
    while negative.any():  # redraw, so the shape stays normal instead of piling up at zero
        values[negative] = rng.normal(mean, std, negative.sum())
        negative = values <= 0
    return values


def _tool_wear(rng: np.random.Generator, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wear of the tool in use before each process, and the processes where a tool wore out."""
    n = len(quality)
    increments = np.select(
        [quality == q for q in TOOL_WEAR_PER_PROCESS], list(TOOL_WEAR_PER_PROCESS.values())
    )
    wear = np.empty(n, dtype=np.int64)
    end_of_life = np.zeros(n, dtype=bool)
    # A tool lasts at most 240 / 2 + 1 processes; one slice per tool keeps this vectorised.
    longest_life = 240 // min(TOOL_WEAR_PER_PROCESS.values()) + 1
    start = 0
    while start < n:
        limit = rng.integers(TOOL_END_OF_LIFE_MIN[0], TOOL_END_OF_LIFE_MIN[1] + 1)
        steps = increments[start : start + longest_life - 1]
        tool = np.concatenate(([0], np.cumsum(steps)))[: min(longest_life, n - start)]
        worn = np.flatnonzero(tool >= limit)
        length = worn[0] + 1 if worn.size else len(tool)
        wear[start : start + length] = tool[:length]
        if worn.size:
            end_of_life[start + length - 1] = True
        start += length
    return wear, end_of_life


def generate(rows: int = 10_000, seed: int = 42) -> WorkshopData:
    """Generate `rows` machines' records; the same rows and seed give the same data."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)

    quality = rng.choice(list(QUALITY_SHARES), size=rows, p=list(QUALITY_SHARES.values()))
    serial = rng.integers(10_000, 60_000, size=rows)
    air = 300.0 + _normalised_random_walk(rng, rows, 2.0)
    process = air + 10.0 + _normalised_random_walk(rng, rows, 1.0)
    torque = _positive_normal(rng, rows, 40.0, 10.0)
    speed = 855.0 + 30_972.0 / (torque + 7.6) + rng.normal(0.0, 54.0, rows)
    wear, end_of_life = _tool_wear(rng, quality)

    # Round as the published data set does, then apply the failure rules to what is published.
    air, process, torque = air.round(1), process.round(1), torque.round(1)
    speed = speed.round().astype(np.int64)
    power_w = torque * speed * 2 * np.pi / 60
    strain_limit = np.select(
        [quality == q for q in OVERSTRAIN_LIMIT_MIN_NM], list(OVERSTRAIN_LIMIT_MIN_NM.values())
    )
    twf = end_of_life & (rng.random(rows) < TOOL_FAILS_AT_END_OF_LIFE)
    hdf = ((process - air) < HEAT_DISSIPATION_MAX_DIFF_K) & (speed < HEAT_DISSIPATION_MAX_SPEED_RPM)
    pwf = (power_w < POWER_RANGE_W[0]) | (power_w > POWER_RANGE_W[1])
    osf = wear * torque > strain_limit
    rnf = rng.random(rows) < RANDOM_FAILURE_RATE
    failure = twf | hdf | pwf | osf | rnf

    udi = np.arange(1, rows + 1)
    maintenance = pd.DataFrame(
        {
            "UDI": udi,
            "PRODUCT_ID": np.char.add(quality.astype(str), serial.astype(str)),
            "TYPE": quality,
            "AIR_TEMPERATURE_K": air,
            "PROCESS_TEMPERATURE": process,
            "ROTATIONAL_SPEED_RPM": speed,
            "TORQUE_NM": torque,
            "TOOL_WEAR_MIN": wear,
            "MACHINE_FAILURE": failure.astype(np.int64),
            "TWF": twf.astype(np.int64),
            "HDF": hdf.astype(np.int64),
            "PWF": pwf.astype(np.int64),
            "OSF": osf.astype(np.int64),
            "RNF": rnf.astype(np.int64),
        },
        columns=list(MAINTENANCE_COLUMNS),
    )
    humidity = pd.DataFrame(
        {
            "CITY_NAME": list(CITIES),
            "HUMIDITY_RELATIVE_AVG": rng.integers(25, 98, size=len(CITIES)),
        }
    )
    city_udi = pd.DataFrame({"UDI": udi, "CITY": rng.choice(np.array(CITIES), size=rows)})
    return WorkshopData(maintenance=maintenance, city_udi=city_udi, humidity=humidity)
