"""The feature definitions of features.py that need no Snowflake: names, their matching, the
rules a column must meet to be a feature, and features.json's round trip."""

from __future__ import annotations

import pytest
from snowflake.snowpark.types import DateType, DecimalType, DoubleType, LongType, StringType

from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.training import features
from sagemaker_snowpark.training.contract import parse_hyperparameters

pytestmark = pytest.mark.unit

COLUMNS = ["Customer ID", "tenure months", "Monthly Charges", "plan", "PLAN_B", "Churned?"]


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("tenure months", "tenure months"),
        ("TENURE MONTHS", "tenure months"),  # as Snowflake resolves an unquoted name
        ('"Monthly Charges"', "Monthly Charges"),
        ("churned?", "Churned?"),
    ],
)
def test_a_column_is_found_exactly_then_regardless_of_case(name, found):
    assert features.find_column(COLUMNS, name, "T", "hyperparameter label") == found


def test_a_quoted_name_matches_its_case_only_and_a_missing_one_lists_the_columns():
    with pytest.raises(TutorialError) as raised:
        features.find_column(COLUMNS, '"monthly charges"', "T", "hyperparameter features")
    assert str(raised.value) == (
        "Table T has no column '\"monthly charges\"' (hyperparameter features): its columns are "
        "Customer ID, tenure months, Monthly Charges, plan, PLAN_B, Churned?."
    )


def test_columns_that_differ_only_in_case_are_one_line():
    with pytest.raises(TutorialError) as raised:
        features.find_column(["plan", "Plan"], "PLAN", "T", "hyperparameter id")
    assert str(raised.value) == (
        'Table T has columns "plan" and "Plan", which differ only in case: name one of them in '
        "double quotes in hyperparameter id."
    )


def test_features_are_a_comma_list_or_a_json_list():
    assert features.column_names(" a, B c ,,") == ["a", "B c"]
    assert features.column_names('["a, b", "c"]') == ["a, b", "c"]
    with pytest.raises(TutorialError, match="is not a JSON list of column names"):
        features.column_names('["a", 1]')


def test_identifiers_are_quoted_and_stored_names_unquoted():
    assert features.quoted('a"b c') == '"a""b c"'
    assert features.stored_name('"a""b c"') == 'a"b c'
    assert features.stored_name("UDI") == "UDI"


def test_xgboost_names_drop_the_characters_it_refuses_and_stay_unique():
    assert features.xgboost_names(["a[1]", "a(1)", "x<y", "x(lt)y"]) == [
        "a(1)",
        "a(1)_",
        "x(lt)y",
        "x(lt)y_",
    ]


def profile(rows: int, values: dict, distinct: dict) -> features.Profile:
    return features.Profile(rows, 0, 0, None, values, distinct)


@pytest.mark.parametrize(
    ("datatype", "values", "distinct", "reason"),
    [
        (DoubleType(), 100, 100, None),  # a continuous reading is unique per row: a feature
        (LongType(), 100, 100, "is unique per row (100 values): an identifier, not a feature"),
        (DecimalType(38, 0), 100, 100, "is unique per row (100 values): an identifier, not a"),
        (DecimalType(10, 2), 100, 100, None),
        (StringType(), 100, 100, "is unique per row (100 values): an identifier, not a feature"),
        (StringType(), 100, 51, "is text with 51 distinct values: at most 50 make categories"),
        (StringType(), 100, 50, None),
        (StringType(), 90, 90, "is text with 90 distinct values"),  # NULLs: not an identifier
        (LongType(), 100, 1, "is constant (one value or none): it cannot tell rows apart"),
        (LongType(), 0, 0, "is constant (one value or none)"),
        (DateType(), 100, 100, "is DATE: a feature must be a number, a boolean or text"),
    ],
)
def test_the_rules_a_feature_meets(datatype, values, distinct, reason):
    found = profile(100, {"c": values}, {"c": distinct})
    why = features.unusable("c", features.kind_of(datatype), datatype, found, 100)
    assert (why is None) if reason is None else why.startswith(reason), why


def test_features_json_round_trips_with_the_categories_in_order():
    definition = features.Definition(
        "columns",
        "Churned?",
        "text",
        "Customer ID",
        (
            features.Feature("plan", "plan", "category", ("basic", "pro", "it's")),
            features.Feature("Monthly Charges", "Monthly Charges", "number"),
        ),
        ("plan", "Monthly Charges"),
    )
    assert features.Definition.from_json(definition.to_json()) == definition
    assert definition.baseline_indices == [0, 1]


def test_the_physics_set_is_the_lesson_s_ten_features():
    definition = features.physics("MACHINE_FAILURE", "UDI")
    assert definition.names[:6] == list(definition.baseline)
    assert definition.names[6:] == ["TYPE_CODE", "POWER_W", "TEMP_DIFF_K", "STRAIN_MIN_NM"]
    assert features.Definition.from_json(definition.to_json()) == definition


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"feature_set": "all"}, "Hyperparameter feature_set='all' is not physics or columns"),
        ({"feature_set": "columns", "label": " "}, "Hyperparameter label is empty"),
    ],
)
def test_the_feature_set_hyperparameters_are_checked(raw, message):
    with pytest.raises(TutorialError) as raised:
        parse_hyperparameters(raw)
    assert str(raised.value).startswith(message)


def test_the_defaults_are_the_lesson_s():
    values = parse_hyperparameters({})
    assert (values["feature_set"], values["label"], values["id"], values["features"]) == (
        "physics",
        "MACHINE_FAILURE",
        "UDI",
        "",
    )


def test_the_log_describes_the_features_in_readable_lines():
    wide = features.Definition(
        "columns",
        "y",
        "number",
        None,
        tuple(
            features.Feature(f"reading_{i:03d}", f"reading_{i:03d}", "number") for i in range(300)
        )
        + (features.Feature("plan", "plan", "category", ("a", "b", "c")),),
        (),
    )
    lines = features.described(wide)
    assert lines[0] == "301 features (columns):"
    assert len(lines) == 10 and all(len(line) <= 100 for line in lines)
    shown = ", ".join(lines[1:-1]).split(", ")
    assert lines[-1] == f"  ... and {301 - len(shown)} more (metrics.json lists them all)"
    assert shown[0].strip() == "reading_000"
    narrow = features.described(features.physics("MACHINE_FAILURE", "UDI"))
    assert narrow[0] == "10 features (physics):" and all(len(line) <= 100 for line in narrow)
    assert "TYPE_CODE" in narrow[2]


class _SchemaOnly:
    """A table's stand-in that has a schema and refuses any query."""

    def __init__(self, fields):
        from snowflake.snowpark.types import StructField, StructType

        self.schema = StructType([StructField(name, kind) for name, kind in fields])

    def select(self, *columns):
        raise AssertionError("a query was sent")


def test_a_label_of_another_type_is_one_line_before_any_query():
    table = _SchemaOnly([("ID", LongType()), ("WHEN", DateType()), ("X", DoubleType())])
    with pytest.raises(TutorialError) as raised:
        features.from_columns(table, "T", "when", "ID", "")
    assert str(raised.value) == (
        'Label "WHEN" of T is DATE: a label must be 0/1, a boolean, or text such as yes/no or '
        "true/false."
    )
