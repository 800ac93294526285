"""What notebook 03 makes on the local Snowflake: the workshop's tables, split by machine, and the
documented failure rules that notebook 05's work orders quote; and a CSV file of your own, loaded
as notebook 06 loads it."""

from __future__ import annotations

import pandas as pd
import pytest
from conformance.harness import connection_options
from snowflake.snowpark import Session

from sagemaker_snowpark import data


def _session(database: str) -> Session:
    session = Session.builder.configs(connection_options(database)).create()
    session.sql(f"CREATE OR REPLACE DATABASE {database}").collect()
    session.use_schema(f"{database}.PUBLIC")
    return session


@pytest.fixture(scope="module")
def workshop():
    """The shipped workshop files loaded as notebook 03 loads them."""
    session = _session("WORKSHOP_TABLES_TESTS")
    counts = data.load_workshop_tables(session, data.source_folder("quickstart"))
    yield session, counts
    session.sql("DROP DATABASE IF EXISTS WORKSHOP_TABLES_TESTS").collect()
    session.close()


def test_the_workshop_tables_hold_the_files_rows_split_by_machine(workshop):
    session, counts = workshop
    assert counts == {
        "MAINTENANCE": 10_000,
        "CITY_UDF": 10_000,
        "HUMIDITY": 50,
        data.JOINED_TABLE: 10_000,
        data.TRAINING_TABLE: 8_000,
        data.HELD_OUT_TABLE: 2_000,
    }
    training = {r.UDI for r in session.table(data.TRAINING_TABLE).select("UDI").collect()}
    held_out = {r.UDI for r in session.table(data.HELD_OUT_TABLE).select("UDI").collect()}
    assert not training & held_out and len(training | held_out) == 10_000
    assert all(udi % data.HELD_OUT_EVERY == 0 for udi in held_out)


def test_the_held_back_machines_look_like_the_trained_ones(workshop):
    """The workshop's copy labels UDI 9001-10000 all failures: a split by range would hold back
    a block unlike the rest. Every fifth machine mixes them as the training machines do."""
    session, _ = workshop
    frames = {
        name: session.table(name).to_pandas() for name in (data.TRAINING_TABLE, data.HELD_OUT_TABLE)
    }
    training, held_out = frames[data.TRAINING_TABLE], frames[data.HELD_OUT_TABLE]
    assert held_out["MACHINE_FAILURE"].mean() == pytest.approx(
        training["MACHINE_FAILURE"].mean(), abs=0.01
    )
    assert (held_out["UDI"] > 9000).mean() == pytest.approx((training["UDI"] > 9000).mean())
    shares = [frame["TYPE"].value_counts(normalize=True) for frame in (training, held_out)]
    assert (shares[0] - shares[1]).abs().max() < 0.02


def test_the_readings_to_score_are_the_held_back_machines_without_their_label(workshop):
    session, _ = workshop
    readings = data.maintenance_readings(session)
    assert "MACHINE_FAILURE" not in readings.columns
    assert readings.count() == 2_000


def test_the_documented_failure_modes_follow_the_generator_s_rules(tmp_path):
    """Generated data follows AI4I 2020's rules exactly: the expression names each mode whose rule
    the readings meet, and none where no rule fired and the tool is young."""
    session = _session("FAILURE_RULES_TESTS")
    try:
        folder = data.source_folder("generated", rows=5_000, seed=5, cache_dir=tmp_path)
        source = next(s for s in data.SOURCE_TABLES if s.table == "MAINTENANCE")
        data.load_csv(session, folder / source.file, source)
        found = (
            session.table("MAINTENANCE")
            .select("UDI", data.documented_failure_modes().alias("MODES"))
            .to_pandas()
            .set_index("UDI")["MODES"]
        )
    finally:
        session.sql("DROP DATABASE IF EXISTS FAILURE_RULES_TESTS").collect()
        session.close()
    rows = pd.read_csv(folder / source.file).set_index("UDI")
    named = found.fillna("").str.split(", ").apply(set)
    flags = {"heat dissipation": "HDF", "power": "PWF", "overstrain": "OSF"}
    for mode, flag in flags.items():
        with_mode = named.apply(lambda modes, mode=mode: mode in modes)
        assert with_mode.sum() > 0, f"no machine meets the {mode} rule"
        assert (with_mode == rows[flag].astype(bool)).all(), f"{mode} named unlike {flag}"
    assert (named.apply(lambda modes: "tool wear" in modes) == (rows["TOOL_WEAR_MIN"] >= 200)).all()
    assert (named.apply(len) >= 2).any(), "no machine meets two rules at once"
    fired = rows[list(flags.values())].any(axis=1) | (rows["TOOL_WEAR_MIN"] >= 200)
    assert found[~fired].isna().all() and found[fired].notna().all()


def test_a_csv_of_your_own_loads_with_its_names_types_and_nulls(tmp_path):
    """Notebook 06's load: the header's names kept as written (case, spaces, a comma), the types
    inferred, an empty field NULL, a file name with a space quoted; the clean-up drops the table."""
    from sagemaker_snowpark import cleanup

    path = tmp_path / "line 3.csv"
    path.write_text(
        'part id,Line Speed,Shift,"Vibration, mm/s",Broke Down\n'
        "1,12.5,day,0.3,yes\n2,13,night,,no\n3,,late,0.2,\n4,11,,0.25,No\n"
    )
    session = _session("OWN_TABLE_TESTS")
    try:
        source = data.csv_table(path, "OWN_TABLE")
        assert data.load_csv(session, path, source) == 4
        rows, columns = data.describe_table(session, "OWN_TABLE")
        loaded = session.table("OWN_TABLE").sort('"part id"').to_pandas()
        session.sql('CREATE TABLE NO_ID AS SELECT "Shift", "Broke Down" FROM OWN_TABLE').collect()
        session.sql("INSERT INTO NO_ID SELECT 'day', 'yes'").collect()  # a row twice
        session.sql('ALTER TABLE NO_ID ADD COLUMN "row_id" VARCHAR').collect()
        numbered = data.number_rows(session, "NO_ID")  # row_id differs only in case: ROW_ID_
        ids = session.table("NO_ID").select(f'"{numbered}"').to_pandas()[numbered]
        names = cleanup.SeriesResources(bucket="unused", domain_id=None)
        dropped = cleanup.drop_own_tables(session, names)
        tables = {r["name"] for r in session.sql("SHOW TABLES").collect()}
        again = cleanup.drop_own_tables(session, names)  # a second run is harmless
    finally:
        session.sql("DROP DATABASE IF EXISTS OWN_TABLE_TESTS").collect()
        session.close()
    assert rows == 4
    assert columns.index.tolist() == [
        "part id",
        "Line Speed",
        "Shift",
        "Vibration, mm/s",
        "Broke Down",
    ]
    assert columns["type"].str.split("(").str[0].tolist() == [
        "NUMBER",
        "FLOAT",
        "VARCHAR",
        "FLOAT",
        "VARCHAR",
    ]
    assert columns["NULLs"].tolist() == [0, 1, 1, 1, 1]
    assert columns["distinct values"].tolist() == [4, 3, 3, 3, 3]
    assert loaded.columns.tolist() == columns.index.tolist()
    assert loaded["Broke Down"].tolist() == ["yes", "no", None, "No"]
    assert numbered == "ROW_ID_" and sorted(ids) == [1, 2, 3, 4, 5]
    assert len(dropped) == 2 and dropped[1] == "OWN_TABLE successfully dropped."
    assert "OWN_TABLE" not in tables and len(again) == 2
