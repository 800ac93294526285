"""Tables of one's own: the training program with feature_set=columns, then `score`, on tables
unlike the workshop's, each made here with numpy from a fixed seed and a label that truly depends
on its features: text categories, NULLs, a boolean and a yes/no text label, columns named in
quotes with spaces and punctuation, a table 300 columns wide. For each, the job completes, its
model is well above chance, features.json holds the table's own columns and categories, the rows
are counted, and scoring writes one prediction per id equal to the model's own prediction,
computed here from the rows in pandas. Then each bad input ends in its one line.

One training (and one scoring) per table, shared by its tests: the `trained` and `scored`
fixtures keep them for the module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_scoring import run_score, store_secret
from test_training import assert_clean_failure, assert_no_noise, run_program

from sagemaker_snowpark import connection
from sagemaker_snowpark.training import dataset, features

SECRET = "tests/own-tables"
DATABASE = "OWN_TABLES_TESTS"
ROWS = 3_000
NUM_ROUND = 30  # enough for these tables' signal; fewer rounds keep the module fast
# The held-out share and seed the program uses by default: the tests compute the same split.
VALIDATION_FRACTION, SPLIT_SEED = 0.25, 123


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# --- The tables: pandas frames by their stored column names, made from a seed ---------------------

PLANS = ("basic", "standard", "premium", "enterprise")


def plans(rows: int, seed: int) -> pd.DataFrame:
    """(a) Customers whose plan (text, 4 values) drives churn, with charges and tenure; a region
    that does not matter; and columns the program leaves out: a constant, a unique text, a text of
    too many values. SEGMENT (0, 1 or 2) is a feature here, and a label that is not binary."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(PLANS, rows, p=[0.4, 0.3, 0.2, 0.1])
    charges = rng.normal(70, 20, rows).round(2)
    tenure = rng.integers(1, 73, rows)
    effect = pd.Series(plan).map(dict(zip(PLANS, (3.0, 1.0, -1.5, -4.0), strict=True)))
    z = effect.to_numpy() + 0.08 * (charges - 70) - 0.1 * (tenure - 36)
    return pd.DataFrame(
        {
            "CUSTOMER_ID": np.arange(1, rows + 1),
            "PLAN": plan,
            "REGION": rng.choice(["north", "south", "east"], rows),
            "MONTHLY_CHARGES": charges,
            "TENURE_MONTHS": tenure,
            "SEGMENT": rng.integers(0, 3, rows),
            "COUNTRY": "NL",
            "EMAIL": [f"customer{i}@example.com" for i in range(rows)],
            "CITY": rng.choice([f"city-{i:03d}" for i in range(120)], rows),
            "CHURN": (rng.random(rows) < sigmoid(z)).astype(int),
        }
    )


SHIFTS = ("day", "night", "weekend")


def sensors(rows: int, seed: int) -> pd.DataFrame:
    """(b) Machines whose pressure, vibration and shift drive failures, with NULLs in four of the
    features (a text one too) and in 5% of the labels."""
    rng = np.random.default_rng(seed)
    pressure = rng.normal(5, 1, rows)
    vibration = rng.normal(2, 0.5, rows)
    temperature = rng.normal(60, 8, rows)
    shift = rng.choice(SHIFTS, rows, p=[0.5, 0.3, 0.2])
    effect = pd.Series(shift).map(dict(zip(SHIFTS, (-2.0, 1.0, 2.0), strict=True)))
    z = 3.0 * (pressure - 5) + 6.0 * (vibration - 2) + effect.to_numpy()
    failed = pd.array((rng.random(rows) < sigmoid(z)).astype(int), dtype="Int64")
    frame = pd.DataFrame(
        {
            "MACHINE_ID": np.arange(1, rows + 1),
            "PRESSURE_BAR": pressure,
            "VIBRATION_MM_S": vibration,
            "TEMPERATURE_C": temperature,
            "SHIFT": shift.astype(object),
            "FAILED": failed,
        }
    )
    for column, share in (
        ("PRESSURE_BAR", 0.15),
        ("VIBRATION_MM_S", 0.2),
        ("TEMPERATURE_C", 0.1),
        ("SHIFT", 0.1),
        ("FAILED", 0.05),
    ):
        frame.loc[rng.random(rows) < share, column] = None
    return frame


def loans(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(c) Loans: income, debt ratio and a guarantor (a boolean feature) drive default; the
    features, and the label as 0/1, which the two tables below write as a boolean or as text."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.5, rows).round(0)
    debt_ratio = rng.uniform(0, 1, rows)
    guarantor = rng.random(rows) < 0.3
    z = -3.0 * (np.log(income) - 10.5) / 0.5 + 8.0 * (debt_ratio - 0.5) - 3.0 * guarantor
    frame = pd.DataFrame(
        {
            "LOAN_ID": np.arange(1, rows + 1),
            "INCOME": income,
            "DEBT_RATIO": debt_ratio,
            "HAS_GUARANTOR": guarantor,
        }
    )
    return frame, (rng.random(rows) < sigmoid(z)).astype(int)


def boolean_label(rows: int, seed: int) -> pd.DataFrame:
    frame, label = loans(rows, seed)
    return frame.assign(DEFAULTED=label.astype(bool))


def text_label(rows: int, seed: int) -> pd.DataFrame:
    """The label as text, in any case, with spaces around some: 'yes', 'No ', ' YES', ..."""
    frame, label = loans(rows, seed)
    rng = np.random.default_rng(seed + 1)
    words = np.where(
        label == 1,
        rng.choice(["yes", "Yes", " YES", "yes "], rows),
        rng.choice(["No ", "no", "NO", " no"], rows),
    )
    return frame.assign(ANSWER=words)


CONTRACTS = ("month-to-month", "one year", "two year")


def quoted_names(rows: int, seed: int) -> pd.DataFrame:
    """(d) Columns created in quotes, in mixed case, with spaces and punctuation: a text id
    "Customer ID", "Monthly Charges", "tenure months", "Contract Type", label "Churned?"."""
    rng = np.random.default_rng(seed)
    charges = rng.normal(70, 20, rows).round(2)
    tenure = rng.integers(1, 73, rows)
    contract = rng.choice(CONTRACTS, rows, p=[0.5, 0.3, 0.2])
    effect = pd.Series(contract).map(dict(zip(CONTRACTS, (3.0, -1.0, -4.0), strict=True)))
    z = effect.to_numpy() + 0.1 * (charges - 70) - 0.14 * (tenure - 36)
    return pd.DataFrame(
        {
            "Customer ID": [f"C-{i:05d}" for i in range(rows)],
            "Monthly Charges": charges,
            "tenure months": tenure,
            "Contract Type": contract,
            "Churned?": (rng.random(rows) < sigmoid(z)).astype(int),
        }
    )


WIDE_COLUMNS = 300
INFORMATIVE = {7: 1.5, 42: -1.2, 150: 1.0, 231: -0.8, 299: 1.2}  # column: weight


def wide(rows: int, seed: int) -> pd.DataFrame:
    """(e) 300 numeric columns, of which five decide the label; an integer id that training is
    not told of (id empty: the split hashes the whole row), so it is left out as an identifier."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (rows, WIDE_COLUMNS))
    z = sum(weight * x[:, column] for column, weight in INFORMATIVE.items())
    frame = pd.DataFrame(x, columns=[f"C_{i:03d}" for i in range(WIDE_COLUMNS)])
    frame.insert(0, "ROW_NUMBER", np.arange(1, rows + 1))
    frame["TARGET"] = (rng.random(rows) < sigmoid(3.0 * z)).astype(int)
    return frame


@dataclass(frozen=True)
class Own:
    """A table of one's own: its rows, and the hyperparameters that train on it."""

    table: str  # as the hyperparameter and the scoring program's argument name it
    frame: pd.DataFrame  # the rows, by the table's stored column names
    label: str  # the label column's stored name
    id: str  # the id column's stored name
    hyperparameters: dict
    left_out: dict[str, str] = field(default_factory=dict)  # column: why, as the log says it
    named: tuple[str, ...] = ()  # the features hyperparameter's columns, as stored, in its order

    @property
    def stored_table(self) -> str:
        return features.stored_name(self.table)

    @property
    def predictions(self) -> str:
        """The scoring program's target table, named as the table is (in quotes or not)."""
        if self.table.startswith('"'):
            return features.quoted(f"{self.stored_table} predictions")
        return f"{self.table}_PREDICTIONS"

    @property
    def features(self) -> list[str]:
        """The columns the model must read: those named, else the table's others, in its order."""
        if self.named:
            return list(self.named)
        return [c for c in self.frame.columns if c not in (self.label, self.id, *self.left_out)]


def own_tables() -> dict[str, Own]:
    plan_rows = plans(ROWS, 1)
    return {
        "plans": Own(
            "OWN_PLANS",
            plan_rows,
            "CHURN",
            "CUSTOMER_ID",
            {"label": "CHURN", "id": "CUSTOMER_ID"},
            {
                "COUNTRY": "is constant (one value or none): it cannot tell rows apart",
                "EMAIL": f"is unique per row ({ROWS:,} values): an identifier, not a feature",
                "CITY": f"is text with {plan_rows['CITY'].nunique()} distinct values: at most "
                "50 make categories",
            },
        ),
        "nulls": Own(
            "OWN_SENSORS",
            sensors(ROWS, 2),
            "FAILED",
            "MACHINE_ID",
            {"label": "failed", "id": "machine_id"},  # found by case, as Snowflake would
        ),
        "boolean label": Own(
            "OWN_LOANS_BOOLEAN",
            boolean_label(ROWS, 3),
            "DEFAULTED",
            "LOAN_ID",
            {"label": "DEFAULTED", "id": "LOAN_ID"},
        ),
        "text label": Own(
            "OWN_LOANS_TEXT",
            text_label(ROWS, 3),
            "ANSWER",
            "LOAN_ID",
            {"label": "ANSWER", "id": "LOAN_ID"},
        ),
        "quoted names": Own(
            '"Own Churn"',  # a table named in quotes too
            quoted_names(ROWS, 4),
            "Churned?",
            "Customer ID",
            # Comma-separated names, one of them in quotes: the features, in another order.
            {
                "label": '"Churned?"',
                "id": "Customer ID",
                "features": '"tenure months", Monthly Charges, contract type',
            },
            named=("tenure months", "Monthly Charges", "Contract Type"),
        ),
        "wide": Own(
            "OWN_WIDE",
            wide(ROWS, 5),
            "TARGET",
            "ROW_NUMBER",
            {"label": "TARGET", "id": ""},
            {"ROW_NUMBER": f"is unique per row ({ROWS:,} values): an identifier, not a feature"},
        ),
    }


TABLES = own_tables()
# Tables made from the ones above for the error cases and for scoring.
DERIVED = (
    "CREATE OR REPLACE TABLE OWN_PLANS_EMPTY AS SELECT * FROM OWN_PLANS WHERE 1 = 0",
    "CREATE OR REPLACE TABLE OWN_PLANS_ONE_CLASS AS SELECT * FROM OWN_PLANS WHERE CHURN = 0",
    "CREATE OR REPLACE TABLE OWN_PLANS_NO_LABELS AS SELECT * EXCLUDE CHURN, "
    "CAST(NULL AS INTEGER) AS CHURN FROM OWN_PLANS",
    "CREATE OR REPLACE TABLE OWN_PLANS_NO_CHARGES AS SELECT * EXCLUDE MONTHLY_CHARGES "
    "FROM OWN_PLANS",
)
# Customers of a plan the model never saw: every tenth is on it.
NEW_PLAN = "platinum"


def new_plan_rows() -> pd.DataFrame:
    frame = TABLES["plans"].frame.copy()
    frame.loc[frame["CUSTOMER_ID"] % 10 == 0, "PLAN"] = NEW_PLAN
    return frame


def write_table(session, name: str, frame: pd.DataFrame) -> None:
    """The frame as table `name` (its stored name: write_pandas quotes it), its columns named
    exactly as the frame names them (created in quotes, as write_pandas makes them)."""
    session.write_pandas(frame, name, auto_create_table=True, overwrite=True, use_logical_type=True)


@pytest.fixture(scope="module")
def own_database():
    """The tables above in a database of their own, and a secret whose default it is."""
    store_secret(DATABASE, SECRET)  # test_scoring's: the local Snowflake, this database
    session = connection.session(SECRET)
    try:
        session.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}").collect()
        session.sql(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.PUBLIC").collect()
        session.use_schema(f"{DATABASE}.PUBLIC")
        for own in TABLES.values():
            write_table(session, own.stored_table, own.frame)
        write_table(session, "OWN_PLANS_NEW_PLAN", new_plan_rows())
        for statement in DERIVED:
            session.sql(statement).collect()
    finally:
        session.close()


def query_frame(sql: str) -> pd.DataFrame:
    session = connection.session(SECRET)
    try:
        return session.sql(sql).to_pandas()
    finally:
        session.close()


@dataclass
class Trained:
    code: int
    output: str
    failure: str | None
    root: Path  # the job's /opt/ml

    @property
    def metrics(self) -> dict:
        return json.loads((self.root / "model" / "metrics.json").read_text())

    @property
    def definition(self) -> dict:
        return json.loads((self.root / "model" / "features.json").read_text())

    def archive(self) -> Path:
        """The model folder as the model.tar.gz SageMaker makes of it."""
        import tarfile

        archive = self.root / "model.tar.gz"
        if not archive.exists():
            with tarfile.open(archive, "w:gz") as tar:
                for item in (self.root / "model").iterdir():
                    tar.add(item, arcname=item.name)
        return archive


def columns_hyperparameters(**values) -> dict:
    return {
        "secret_name": SECRET,
        "feature_set": "columns",
        "num_round": str(NUM_ROUND),
        **values,
    }


@pytest.fixture(scope="module")
def trained(own_database, tmp_path_factory):
    """`trained(name)`: the training program's run on that table, once for the module."""
    done: dict[str, Trained] = {}

    def train(name: str) -> Trained:
        if name not in done:
            own = TABLES[name]
            folder = tmp_path_factory.mktemp("train")
            hyperparameters = columns_hyperparameters(table=own.table, **own.hyperparameters)
            code, output, failure, root = run_program(folder, hyperparameters)
            done[name] = Trained(code, output, failure, root)
        return done[name]

    return train


def model_inputs(frame: pd.DataFrame, definition: dict) -> np.ndarray:
    """The model's inputs computed here from the rows, by features.json's kinds and categories:
    numbers as floats, booleans 0/1, each category its code; NULL or unseen: missing."""
    inputs = []
    for feature in definition["features"]:
        values = frame[feature["column"]]
        if feature["kind"] == "category":
            codes = {value: float(code) for code, value in enumerate(feature["categories"])}
            inputs.append(values.map(codes).astype(float))
        elif feature["kind"] == "boolean":
            inputs.append(values.map({True: 1.0, False: 0.0}).astype(float))
        else:
            inputs.append(pd.to_numeric(values).astype(float))
    return np.column_stack(inputs).astype(np.float32)


def own_predictions(trained: Trained, frame: pd.DataFrame) -> np.ndarray:
    """The trained model's probabilities for these rows, computed here."""
    import xgboost

    booster = xgboost.Booster(model_file=str(trained.root / "model" / "xgboost-model.json"))
    definition = trained.definition
    names = [feature["name"] for feature in definition["features"]]
    matrix = xgboost.DMatrix(model_inputs(frame, definition), feature_names=names)
    return booster.predict(matrix).astype(float)


@dataclass
class Scored:
    code: int
    output: str
    message: str | None
    predictions: pd.DataFrame | None  # this version's rows of the target table


@pytest.fixture(scope="module")
def scored(trained, tmp_path_factory):
    """`scored(name, source)`: `score` with the model trained on table `name`, on the table
    `source` (its own by default), once for the module."""
    done: dict[tuple[str, str], Scored] = {}

    def score(name: str, source: str | None = None) -> Scored:
        own = TABLES[name]
        source = source or own.table
        if (name, source) not in done:
            model = trained(name)
            assert model.code == 0, model.output
            version = f"own-{len(done) + 1}"
            target = own.predictions
            code, output, message, _ = run_score(
                tmp_path_factory.mktemp("score"),
                model.archive(),
                "--source-table",
                source,
                "--target-table",
                target,
                "--id",
                own.id,
                version=version,
                secret=SECRET,
            )
            predictions = None
            if code == 0:
                predictions = query_frame(
                    f"SELECT * FROM {target} WHERE MODEL_VERSION = '{version}'"
                )
            done[name, source] = Scored(code, output, message, predictions)
        return done[name, source]

    return score


# --- Training on each table -----------------------------------------------------------------------

NAMES = list(TABLES)


@pytest.mark.parametrize("name", NAMES)
def test_the_job_completes_with_a_model_well_above_chance(trained, name):
    run = trained(name)
    assert run.code == 0 and run.failure is None, run.output[-3000:]
    assert_no_noise(run.output)
    model = run.metrics["models"]["xgboost_table_columns"]
    # Measured 0.91 (NULLs) to 0.95 on these tables, whose labels' own logits reach 0.94 to
    # 0.98: 0.85 is far above chance (0.5), and below what a sensible model reaches.
    assert model["roc_auc"] >= 0.85, model
    assert f"validation:roc_auc={model['roc_auc']:.6f}" in run.output.splitlines()
    baseline = run.metrics["models"]["baseline_logistic_regression"]
    assert baseline["roc_auc"] is not None and baseline["features"] == model["features"]


@pytest.mark.parametrize("name", NAMES)
def test_features_json_holds_the_table_s_own_columns_and_categories(trained, name):
    own, run = TABLES[name], trained(name)
    definition = run.definition
    assert definition["feature_set"] == "columns"
    assert definition["label"] == own.label
    assert definition["id"] == (own.id if own.hyperparameters["id"] else None)
    assert [f["column"] for f in definition["features"]] == own.features
    assert [f["name"] for f in definition["features"]] == own.features  # no [, ] or < in them
    for feature in definition["features"]:
        values = own.frame[feature["column"]]
        if values.dtype == object:  # text: its values, most frequent first, ties by value
            counts = values.dropna().value_counts()
            expected = sorted(counts.index, key=lambda value: (-counts[value], value))
            assert feature["kind"] == "category"
            assert feature["categories"] == expected
        else:
            kind = "boolean" if values.dtype == bool else "number"
            assert (feature["kind"], feature["categories"]) == (kind, [])
    assert run.metrics["models"]["xgboost_table_columns"]["features"] == own.features


@pytest.mark.parametrize("name", NAMES)
def test_the_rows_are_counted_and_null_labels_dropped(trained, name):
    own, run = TABLES[name], trained(name)
    labelled = int(own.frame[own.label].notna().sum())
    rows = run.metrics["rows"]
    assert rows["train"] + rows["validation"] == labelled
    assert 0.21 < rows["validation"] / labelled < 0.29  # validation_fraction 0.25
    assert f"fetched {labelled:,} rows" in run.output
    dropped = ROWS - labelled
    line = f'dropped {dropped:,} of {ROWS:,} rows whose label "{own.label}" is NULL'
    assert (line in run.output) == (dropped > 0), run.output[-3000:]


def test_a_text_label_trains_the_model_a_boolean_label_does(trained):
    """'yes', 'No ', ' YES'...: the same labels as the boolean table's, so the same rows, split
    and model."""
    boolean, text = trained("boolean label"), trained("text label")
    assert boolean.code == text.code == 0, text.output[-3000:]
    assert text.definition["label_kind"] == "text"
    assert boolean.definition["label_kind"] == "boolean"
    assert text.metrics["rows"] == boolean.metrics["rows"]
    for name in ("xgboost_table_columns", "baseline_logistic_regression"):
        assert text.metrics["models"][name] == boolean.metrics["models"][name]


def test_the_nulls_table_has_nulls_in_features_and_labels(own_database):
    """What the table in Snowflake holds: NULLs where the frame has them, not NaN."""
    found = query_frame(
        "SELECT COUNT(*) - COUNT(PRESSURE_BAR) AS P, COUNT(*) - COUNT(SHIFT) AS S, "
        "COUNT(*) - COUNT(FAILED) AS F FROM OWN_SENSORS"
    )
    frame = TABLES["nulls"].frame
    expected = [frame[c].isna().sum() for c in ("PRESSURE_BAR", "SHIFT", "FAILED")]
    assert list(found.iloc[0]) == expected
    assert min(expected) > 100


@pytest.mark.parametrize("name", ["plans", "wide"])
def test_unusable_columns_are_left_out_and_logged(trained, name):
    own, run = TABLES[name], trained(name)
    for column, reason in own.left_out.items():
        assert f"[train] left out {features.quoted(column)}: it {reason}" in run.output


# --- Scoring each table ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_scoring_writes_one_prediction_per_id_the_model_s_own(trained, scored, name):
    own, run = TABLES[name], scored(name)
    assert run.code == 0 and run.message is None, run.output[-3000:]
    assert_no_noise(run.output)
    predictions = run.predictions
    assert list(predictions.columns) == [
        own.id,
        "PROBABILITY",
        "PREDICTED",
        "MODEL_VERSION",
        "SCORED_AT",
        "TOP_REASON",
    ]
    assert len(predictions) == ROWS
    assert sorted(predictions[own.id]) == sorted(own.frame[own.id])  # one per id
    merged = own.frame.merge(predictions, on=own.id, validate="one_to_one")
    expected = own_predictions(trained(name), merged)
    np.testing.assert_allclose(merged["PROBABILITY"], expected, rtol=0, atol=1e-6)
    assert (merged["PREDICTED"] == (merged["PROBABILITY"] >= 0.5)).all()
    assert 0 < merged["PREDICTED"].sum() < ROWS
    assert set(predictions["TOP_REASON"].dropna()) <= set(own.features)


def test_a_category_unseen_in_training_is_scored_as_missing(trained, scored):
    run = scored("plans", "OWN_PLANS_NEW_PLAN")
    assert run.code == 0 and run.message is None, run.output[-3000:]
    assert_no_noise(run.output)
    rows = new_plan_rows()
    merged = rows.merge(run.predictions, on="CUSTOMER_ID", validate="one_to_one")
    unseen = merged["PLAN"] == NEW_PLAN
    assert unseen.sum() == ROWS // 10
    inputs = model_inputs(merged, trained("plans").definition)
    assert np.isnan(inputs[unseen.to_numpy(), 0]).all()  # PLAN, the first feature: missing
    expected = own_predictions(trained("plans"), merged)
    np.testing.assert_allclose(merged["PROBABILITY"], expected, rtol=0, atol=1e-6)


def test_a_scoring_table_without_a_trained_column_is_one_line(scored):
    run = scored("plans", "OWN_PLANS_NO_CHARGES")
    columns = [c for c in TABLES["plans"].frame.columns if c != "MONTHLY_CHARGES"]
    assert run.code == 1, run.output[-3000:]
    assert run.message == (
        "Table OWN_PLANS_NO_CHARGES has no column 'MONTHLY_CHARGES' (a feature the model was "
        f"trained on): its columns are {', '.join(columns)}."
    )
    assert_no_noise(run.output)
    assert run.output.strip().splitlines()[-1] == f"[score] failed: {run.message}"


# --- Bad inputs: one line each --------------------------------------------------------------------


def plans_columns() -> str:
    return ", ".join(TABLES["plans"].frame.columns)


def one_class_training_rows() -> int:
    """The rows of OWN_PLANS_ONE_CLASS in the training split, as the program splits them."""
    from snowflake.snowpark.functions import col

    session = connection.session(SECRET)
    try:
        table = session.table("OWN_PLANS_ONE_CLASS")
        key = [col("CUSTOMER_ID")]
        return table.filter(~dataset.is_validation(key, VALIDATION_FRACTION, SPLIT_SEED)).count()
    finally:
        session.close()


PLAN_ROWS = TABLES["plans"].frame
BAD_INPUTS = {
    "label not binary": (
        {"label": "SEGMENT"},
        lambda: (
            f'Label "SEGMENT" of OWN_PLANS is not binary: {(PLAN_ROWS.SEGMENT == 2).sum():,} '
            f"of {ROWS:,} rows hold another value than 0 or 1 (e.g. '2'); make it two-valued (e.g. "
            "IFF(... , 1, 0)) or name another label."
        ),
    ),
    "no such label": (
        {"label": "CHURNED"},
        lambda: (
            "Table OWN_PLANS has no column 'CHURNED' (hyperparameter label): its columns "
            f"are {plans_columns()}."
        ),
    ),
    "no such id": (
        {"id": "CUSTOMER"},
        lambda: (
            "Table OWN_PLANS has no column 'CUSTOMER' (hyperparameter id; empty: no id): its "
            f"columns are {plans_columns()}."
        ),
    ),
    "no such feature": (
        {"features": "PLAN, TENURE"},
        lambda: (
            "Table OWN_PLANS has no column 'TENURE' (hyperparameter features): its columns "
            f"are {plans_columns()}."
        ),
    ),
    "empty table": (
        {"table": "OWN_PLANS_EMPTY"},
        lambda: "Table OWN_PLANS_EMPTY has no rows: load rows into it (notebook 06 loads a CSV).",
    ),
    "constant feature": (
        {"features": "PLAN, COUNTRY"},
        lambda: (
            'Feature "COUNTRY" of OWN_PLANS is constant (one value or none): it cannot tell '
            "rows apart: leave it out of features."
        ),
    ),
    "unique text feature": (
        {"features": '["PLAN", "EMAIL"]'},
        lambda: (
            f'Feature "EMAIL" of OWN_PLANS is unique per row ({ROWS:,} values): an '
            "identifier, not a feature: leave it out of features."
        ),
    ),
    "text of too many values": (
        {"features": "PLAN, CITY"},
        lambda: (
            f'Feature "CITY" of OWN_PLANS is text with {PLAN_ROWS.CITY.nunique()} distinct '
            "values: at most 50 make categories: leave it out of features."
        ),
    ),
    "label NULL everywhere": (
        {"table": "OWN_PLANS_NO_LABELS"},
        lambda: (
            f'Label "CHURN" of OWN_PLANS_NO_LABELS is NULL in all {ROWS:,} rows: name the '
            "column that holds the label."
        ),
    ),
    "single-class labels": (
        {"table": "OWN_PLANS_ONE_CLASS"},
        lambda: (
            "Table OWN_PLANS_ONE_CLASS has labels of a single class (every label 0 in "
            f"{one_class_training_rows():,} training rows): a classifier needs both; load rows of "
            "both classes."
        ),
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_is_one_line(own_database, tmp_path, case):
    change, reason = BAD_INPUTS[case]
    plans = {"table": "OWN_PLANS", "label": "CHURN", "id": "CUSTOMER_ID"}
    hyperparameters = columns_hyperparameters(**{**plans, **change})
    code, output, failure, root = run_program(tmp_path, hyperparameters)
    assert_clean_failure(code, output, failure, re.escape(reason()))
    assert not any((root / "model").iterdir())
