"""Fixed-point results: division, VARIANCE and STDDEV, MEDIAN of NUMBER columns (fixed_point.py)."""

from __future__ import annotations

from decimal import Decimal
from math import sqrt

from snowflake.snowpark.functions import (
    col,
    stddev,
    stddev_pop,
    stddev_samp,
    var_pop,
    var_samp,
    variance,
)

from conformance.harness import Case, rows


def _types(dataframe) -> list[str]:
    return [str(field.datatype) for field in dataframe.schema.fields]


def _typed(session, sql: str):
    dataframe = session.sql(sql)
    return rows(dataframe), _types(dataframe)


def _numbers(session):
    session.sql("CREATE OR REPLACE TABLE M (K INT, V DECIMAL(10,2), F FLOAT)").collect()
    session.sql(
        "INSERT INTO M VALUES (1, 10, 1.0), (1, 20, 2.0), (1, 21, 4.0), (2, 10, 1.0), "
        "(2, 20, 2.0), (2, 25, 3.0), (2, 30, 4.0), (3, NULL, NULL)"
    ).collect()


def _divisions(session):
    dataframe = session.create_dataframe([[7, 2], [-7, 2], [2, 3], [-2, 3]], schema=["a", "b"])
    divided = dataframe.select((col("a") / col("b")).alias("Q"))
    return rows(divided), _types(divided)


def _division_of_decimals(session):
    _numbers(session)
    return _typed(session, "SELECT V / 3 AS Q, F / 2 AS H FROM M WHERE K = 1 ORDER BY V")


def _grouped_by_position(session):
    _numbers(session)
    return _typed(session, "SELECT K, SUM(V), AVG(V), SUM(V) / K FROM M GROUP BY 1 ORDER BY 1")


def _division_of_random(session):
    # each row's draw divides once: 6 / 1, 6 / 2 or 6 / 3, never a mix of two draws
    values = ", ".join(f"({i})" for i in range(300))
    return rows(
        session.sql(
            f"SELECT DISTINCT 6 / (ABS(MOD(RANDOM(), 3)) + 1) AS Q FROM VALUES {values} ORDER BY Q"
        )
    )


def _variances(session):
    dataframe = session.create_dataframe([1, 1, 2, 2, 3, 3], schema=["a"])
    aggregated = dataframe.agg(
        variance("a"), var_samp("a"), var_pop("a"), stddev("a"), stddev_samp("a"), stddev_pop("a")
    )
    return rows(aggregated), _types(aggregated)


def _medians(session):
    _numbers(session)
    return _typed(session, "SELECT K, MEDIAN(V), MEDIAN(K), MEDIAN(F) FROM M GROUP BY K ORDER BY K")


CASES = [
    Case(
        "Numbers",
        "NUMBER(38,0) / NUMBER(38,0): NUMBER(38,6), rounded half away from zero",
        _divisions,
        (
            [
                (Decimal("3.500000"),),
                (Decimal("-3.500000"),),
                (Decimal("0.666667"),),
                (Decimal("-0.666667"),),
            ],
            ["DecimalType(38, 6)"],
        ),
        "Arithmetic operators: division's scale max(s1, min(s1 + 6, 12))",
    ),
    Case(
        "Numbers",
        "NUMBER(10,2) / 3 is NUMBER(16,8); FLOAT / 2 stays FLOAT",
        _division_of_decimals,
        (
            [
                (Decimal("3.33333333"), 0.5),
                (Decimal("6.66666667"), 1.0),
                (Decimal("7.00000000"), 2.0),
            ],
            ["DecimalType(16, 8)", "DoubleType()"],
        ),
        "Arithmetic operators: division's leading digits L1 + S2 and scale",
    ),
    Case(
        "Numbers",
        "GROUP BY 1: SUM and AVG of NUMBER(10,2), and a division, keep their exact types",
        _grouped_by_position,
        (
            [
                (1, Decimal("51.00"), Decimal("17.00000000"), Decimal("51.00000000")),
                (2, Decimal("85.00"), Decimal("21.25000000"), Decimal("42.50000000")),
                (3, None, None, None),
            ],
            ["LongType()", "DecimalType(38, 2)", "DecimalType(38, 8)", "DecimalType(38, 8)"],
        ),
        "SUM (NUMBER(38, s)), AVG and Arithmetic operators (division's scale)",
    ),
    Case(
        "Numbers",
        "6 / (ABS(MOD(RANDOM(), 3)) + 1): each row divides by its one draw",
        _division_of_random,
        [(Decimal("2.000000"),), (Decimal("3.000000"),), (Decimal("6.000000"),)],
        "RANDOM (one value per row); Arithmetic operators (division's scale)",
    ),
    Case(
        "Aggregates",
        "VARIANCE, VAR_POP of NUMBER(38,0): NUMBER(38,6); STDDEV: the FLOAT root of that",
        _variances,
        (
            [
                (
                    Decimal("0.800000"),
                    Decimal("0.800000"),
                    Decimal("0.666667"),
                    sqrt(0.8),
                    sqrt(0.8),
                    0.8164967850518458,  # SQRT(0.666667), as Snowpark's own tests expect
                )
            ],
            ["DecimalType(38, 6)"] * 3 + ["DoubleType()"] * 3,
        ),
        "VARIANCE, VAR_POP: NUMBER(p, s); STDDEV, STDDEV_POP: DOUBLE",
    ),
    Case(
        "Aggregates",
        "MEDIAN of DECIMAL(10,2), INT and FLOAT: NUMBER(13,5), NUMBER(38,3), FLOAT",
        _medians,
        (
            [
                (1, Decimal("20.00000"), Decimal("1.000"), 2.0),
                (2, Decimal("22.50000"), Decimal("2.000"), 2.5),
                (3, None, Decimal("3.000"), None),
            ],
            ["LongType()", "DecimalType(13, 5)", "DecimalType(38, 3)", "DoubleType()"],
        ),
        "MEDIAN: its example gives 20.00000 and 22.50000 for DECIMAL(10,2)",
    ),
]
