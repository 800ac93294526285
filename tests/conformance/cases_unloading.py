"""Unloading with COPY INTO @stage, and temporary tables that SHOW TABLES lists."""

from __future__ import annotations

import os
import tempfile

from conformance.harness import Case, Raises, rows

UNLOAD = "COPY INTO <location>"


def _staged(session) -> None:
    session.sql("CREATE OR REPLACE STAGE UNLOADS").collect()
    session.sql("CREATE OR REPLACE TABLE READINGS (ID INT, SITE STRING, LEVEL FLOAT)").collect()
    session.sql("INSERT INTO READINGS VALUES (1, 'north|east', 1.5), (2, 'south', NULL)").collect()


def _get(session, location: str, name: str) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        session.file.get(location, folder)
        with open(os.path.join(folder, name), "rb") as file:
            return file.read()


def _csv_pipe_no_header(session):
    _staged(session)
    result = rows(
        session.sql(
            "COPY INTO @UNLOADS/readings/ FROM (SELECT * FROM READINGS ORDER BY ID) "
            "FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = '|' COMPRESSION = NONE)"
        )
    )
    listed = [row[0] for row in session.sql("LIST @UNLOADS").collect()]
    return result, listed, _get(session, "@UNLOADS/readings/", "data_0_0_0.csv")


def _csv_gzip_by_default(session):
    import gzip

    _staged(session)
    session.sql("COPY INTO @UNLOADS/r FROM READINGS HEADER = TRUE").collect()
    return gzip.decompress(_get(session, "@UNLOADS/r_0_0_0.csv.gz", "r_0_0_0.csv.gz"))


def _csv_header_of_expressions(session):
    _staged(session)
    session.sql(
        "COPY INTO @UNLOADS/named.csv FROM (SELECT id+1, COUNT(*), id/2 FROM READINGS "
        "GROUP BY id ORDER BY id) FILE_FORMAT = (TYPE = CSV COMPRESSION = NONE) HEADER = TRUE "
        "SINGLE = TRUE"
    ).collect()
    return _get(session, "@UNLOADS/named.csv", "named.csv")


def _unload_twice(session):
    _staged(session)
    session.sql("COPY INTO @UNLOADS/once.csv FROM READINGS SINGLE = TRUE").collect()
    session.sql("COPY INTO @UNLOADS/once.csv FROM READINGS SINGLE = TRUE").collect()


def _parquet_table(session):
    import io

    import pyarrow.parquet as pq

    _staged(session)
    session.table("READINGS").write.copy_into_location(
        "@UNLOADS/levels", file_format_type="parquet", header=False
    )
    table = pq.read_table(
        io.BytesIO(_get(session, "@UNLOADS/levels", "levels_0_0_0.snappy.parquet"))
    )
    return table.column_names, table.num_rows


def _parquet_required(session):
    import io

    import pyarrow.parquet as pq

    session.sql("CREATE OR REPLACE STAGE UNLOADS").collect()
    session.sql("CREATE SCHEMA OTHER").collect()  # a table R of its own, not the one unloaded
    session.sql("CREATE TABLE OTHER.R (B INT NOT NULL, A INT)").collect()
    session.use_schema("PUBLIC")
    session.sql("CREATE TABLE R (A INT NOT NULL, B INT)").collect()
    session.sql("CREATE TABLE Q (ID INT NOT NULL)").collect()
    session.sql("INSERT INTO R VALUES (1, 2)").collect()
    schemas = []
    for name, query in [
        ("plain", "SELECT A, B FROM R"),
        ("joined", "SELECT R.A, R.B, Q.ID FROM R LEFT JOIN Q ON R.A = Q.ID"),
    ]:
        session.sql(
            f"COPY INTO @UNLOADS/{name} FROM ({query}) FILE_FORMAT = (TYPE = PARQUET) HEADER = TRUE"
        ).collect()
        data = _get(session, f"@UNLOADS/{name}", f"{name}_0_0_0.snappy.parquet")
        schema = pq.read_schema(io.BytesIO(data))
        schemas.append([(field.name, field.nullable) for field in schema])
    return schemas


def _show_temporary(session):
    session.create_dataframe([[1]], schema=["A"]).write.save_as_table(
        "SCRATCH", table_type="temporary"
    )
    return [
        (row["name"], row["kind"]) for row in session.sql("SHOW TABLES LIKE 'SCRATCH'").collect()
    ]


def _append_to_temporary(session):
    session.create_dataframe([[1, "a"]], schema=["ID", "V"]).write.save_as_table(
        "SCRATCH", table_type="temporary"
    )
    frame = session.create_dataframe([[2, "b"]], schema=["ID", "V"])
    frame.write.save_as_table("SCRATCH", mode="append", table_type="temporary")
    return rows(session.table("SCRATCH").order_by("ID"))


def _temporary_in_another_schema(session):
    session.sql("CREATE SCHEMA OTHER").collect()  # and current, as on Snowflake
    session.sql("USE SCHEMA PUBLIC").collect()
    session.sql("CREATE TEMPORARY TABLE OTHER.SCRATCH (A INT)").collect()
    session.sql("INSERT INTO OTHER.SCRATCH VALUES (1)").collect()

    def listed(where: str):
        shown = session.sql(f"SHOW TABLES LIKE 'SCRATCH'{where}").collect()
        return [(row["name"], row["schema_name"], row["kind"]) for row in shown]

    return listed(" IN SCHEMA OTHER"), listed(""), rows(session.sql("SELECT A FROM OTHER.SCRATCH"))


def _overwrite_condition_on_permanent(session):
    session.sql("CREATE OR REPLACE TABLE STOCK (ITEM STRING, QTY INT)").collect()
    session.sql("INSERT INTO STOCK VALUES ('bolt', 5), ('nut', 0), ('gear', 2)").collect()
    frame = session.create_dataframe([["nut", 40]], schema=["ITEM", "QTY"])
    frame.write.mode("overwrite").save_as_table("STOCK", overwrite_condition="QTY = 0")
    return rows(session.table("STOCK").order_by("ITEM"))


CASES = [
    Case(
        "Unloading",
        "COPY INTO @stage/dir/: CSV, FIELD_DELIMITER, no compression: data_0_0_0.csv",
        _csv_pipe_no_header,
        (
            [(2, 30, 30)],
            ["unloads/readings/data_0_0_0.csv"],
            b"1|north\\|east|1.5\n2|south|\\\\N\n",
        ),
        f"{UNLOAD} (SINGLE, FIELD_DELIMITER, ESCAPE_UNENCLOSED_FIELD, NULL_IF)",
    ),
    Case(
        "Unloading",
        "COPY INTO @stage/prefix FROM table HEADER = TRUE: gzipped CSV by default",
        _csv_gzip_by_default,
        b"ID,SITE,LEVEL\n1,north|east,1.5\n2,south,\\\\N\n",
        f"{UNLOAD} (COMPRESSION = AUTO, HEADER)",
    ),
    Case(
        "Unloading",
        "COPY INTO @stage FROM (SELECT expressions) HEADER = TRUE: the expressions' names",
        _csv_header_of_expressions,
        b"ID+1,COUNT(*),ID/2\n2,1,0.500000\n3,1,1.000000\n",
        f"{UNLOAD} (HEADER); SELECT (a column without an alias is named by its expression)",
    ),
    Case(
        "Unloading",
        "COPY INTO @stage twice without OVERWRITE: refused",
        _unload_twice,
        Raises(None, "Files already existing at the unload destination"),
        f"{UNLOAD} (OVERWRITE)",
    ),
    Case(
        "Unloading",
        "DataFrameWriter.copy_into_location parquet without header: generic column names",
        _parquet_table,
        (["_COL_0", "_COL_1", "_COL_2"], 2),
        f"{UNLOAD} (HEADER, Parquet file names)",
    ),
    Case(
        "Unloading",
        "COPY INTO @stage as Parquet: a column that cannot be NULL is required in the file",
        _parquet_required,
        [
            [("A", False), ("B", True)],
            [("A", False), ("B", True), ("ID", True)],  # ID: the NULL side of a LEFT JOIN
        ],
        f"{UNLOAD} (Parquet); DESCRIBE RESULT (null?)",
    ),
    Case(
        "Temporary objects",
        "SHOW TABLES lists a temporary table with kind TEMPORARY",
        _show_temporary,
        [("SCRATCH", "TEMPORARY")],
        "SHOW TABLES (kind); Working with temporary and transient tables",
    ),
    Case(
        "Temporary objects",
        "save_as_table(mode='append') into an existing temporary table",
        _append_to_temporary,
        [(1, "a"), (2, "b")],
        "SHOW TABLES (kind); Working with temporary and transient tables",
    ),
    Case(
        "Temporary objects",
        "CREATE TEMPORARY TABLE OTHER.T from schema PUBLIC: listed and found in OTHER only",
        _temporary_in_another_schema,
        ([("SCRATCH", "OTHER", "TEMPORARY")], [], [(1,)]),
        "Working with temporary and transient tables (a temporary table belongs to its schema)",
    ),
    Case(
        "Temporary objects",
        "save_as_table(overwrite_condition=...) deletes the matching rows, then inserts",
        _overwrite_condition_on_permanent,
        [("bolt", 5), ("gear", 2), ("nut", 40)],
        "DELETE; INSERT (Snowpark's selective overwrite in one transaction)",
    ),
]
