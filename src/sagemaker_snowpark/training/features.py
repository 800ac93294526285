"""What the model reads from a table: its label and features, defined once and saved with the model.

Two feature sets, chosen by the `feature_set` hyperparameter:

- `physics` (the default, the lesson's): the workshop's six readings plus the physics features
  (dataset.physics_columns), on a table shaped like notebook 03's;
- `columns`: any table. The label, id and features are the table's own columns, found by name
  (exactly, else case-insensitively when that is unique), and encoded from the table's schema in
  Snowflake: numbers as they are, booleans as 0/1, text with few distinct values as categories
  (each value's code saved with the model, so scoring encodes alike; a value the model never saw
  is missing). The label may be a number (0/1), a boolean, or text (true/false, yes/no, 0/1...).

Either way the program gets a `Definition`: Snowpark expressions for the features and the label,
always on quoted identifiers (a column's stored name is never SQL text), the checks' one-line
errors, and `features.json`, which the model archive carries to the scoring program.
NULL features are XGBoost's missing values; rows with a NULL label are dropped and counted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from snowflake.snowpark.functions import col, count_distinct, iff, lit, trim, upper, when
from snowflake.snowpark.functions import count as count_
from snowflake.snowpark.functions import min as min_
from snowflake.snowpark.functions import sum as sum_
from snowflake.snowpark.types import (
    BooleanType,
    DecimalType,
    StringType,
    _IntegralType,
    _NumericType,
)

from ..errors import TutorialError, cut
from . import dataset

FEATURE_SETS = ("physics", "columns")
# A text column with more distinct values than this is not a category (a name, a free text).
MAX_CATEGORIES = 50
# Text labels, whatever their case and surrounding spaces: what counts as 1, what as 0.
TRUE_WORDS = ("1", "TRUE", "T", "YES", "Y")
FALSE_WORDS = ("0", "FALSE", "F", "NO", "N")
# Characters XGBoost does not allow in a feature's name, and what stands for each.
_XGBOOST_NAME = str.maketrans({"[": "(", "]": ")", "<": "(lt)"})
# The columns of the batches the programs read, whatever the table calls them.
LABEL_ALIAS = "LABEL_"
ID_ALIAS = "ROW_ID_"


def quoted(name: str) -> str:
    """A column's stored name as a quoted identifier: "Monthly charges", "UDI", "a""b"."""
    return '"' + name.replace('"', '""') + '"'


def stored_name(identifier: str) -> str:
    """A column's name as stored, from Snowpark's identifier of it: '"a""b"' -> 'a"b', 'UDI'."""
    if len(identifier) > 1 and identifier[0] == identifier[-1] == '"':
        return identifier[1:-1].replace('""', '"')
    return identifier


def feature_alias(index: int) -> str:
    return f"F_{index}"


@dataclass(frozen=True)
class Feature:
    """One input of the model: its name (XGBoost's, and TOP_REASON's), the table's column it
    comes from (None for a computed physics feature), how it is encoded, and its categories."""

    name: str
    column: str | None
    kind: str  # number, boolean, category, physics
    categories: tuple[str, ...] = ()

    def expression(self):
        """The feature as a Snowpark expression, a float or NULL (missing)."""
        if self.kind == "physics":
            return dataset.physics_columns()[self.name]
        column = col(quoted(self.column))
        if self.kind == "boolean":
            return when(column.is_null(), lit(None)).otherwise(iff(column, lit(1.0), lit(0.0)))
        if self.kind == "category":
            # Codes by the saved list; a value the model never saw, like NULL, is missing.
            code = when(column == lit(self.categories[0]), lit(0.0))
            for number, value in enumerate(self.categories[1:], start=1):
                code = code.when(column == lit(value), lit(float(number)))
            return code.otherwise(lit(None))
        return column.cast("double")


@dataclass(frozen=True)
class Definition:
    """The label, id and features of a model, as training found them in its table."""

    feature_set: str
    label: str | None  # the label column's stored name
    label_kind: str  # number, boolean, text
    id: str | None  # the id column's stored name, None: no id
    features: tuple[Feature, ...]
    baseline: tuple[str, ...]  # the features the baseline reads

    @property
    def names(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def baseline_indices(self) -> list[int]:
        return [self.names.index(name) for name in self.baseline]

    def feature_expressions(self) -> list:
        """The features, aliased F_0, F_1, ...: the batches' column names, whatever the table's."""
        return [f.expression().alias(feature_alias(i)) for i, f in enumerate(self.features)]

    def label_expression(self):
        """The label as 1.0, 0.0 or NULL (checked binary before)."""
        label = col(quoted(self.label))
        if self.label_kind == "boolean":
            return when(label.is_null(), lit(None)).otherwise(iff(label, lit(1.0), lit(0.0)))
        if self.label_kind == "text":
            word = upper(trim(label))
            return (
                when(word.isin(*[lit(w) for w in TRUE_WORDS]), lit(1.0))
                .when(word.isin(*[lit(w) for w in FALSE_WORDS]), lit(0.0))
                .otherwise(lit(None))
            )
        return label.cast("double")

    def row_key(self, columns: list[str]):
        """What the split and the shards hash: the id, or, without one, the whole row."""
        if self.id:
            return [col(quoted(self.id))]
        return [col(quoted(name)) for name in columns]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Definition:
        found = json.loads(text)
        found["features"] = tuple(
            Feature(f["name"], f["column"], f["kind"], tuple(f["categories"]))
            for f in found["features"]
        )
        found["baseline"] = tuple(found["baseline"])
        return cls(**found)


# --- Finding columns by name ----------------------------------------------------------------------


def column_names(text: str) -> list[str]:
    """The names of a `features` hyperparameter: a JSON list, or names separated by commas."""
    text = text.strip()
    if text.startswith("["):
        try:
            names = json.loads(text)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TutorialError(
                f"Hyperparameter features {cut(text)!r} is not a JSON list of column names: "
                'use ["A", "b c"] or A, B, C.'
            )
        return [n.strip() for n in names if n.strip()]
    return [part.strip() for part in text.split(",") if part.strip()]


def find_column(stored: list[str], name: str, table: str, asked_by: str) -> str:
    """The stored name of the column `name` means: "Quoted" exactly, else the column of exactly
    that name, else the one that differs only in case (as Snowflake resolves an unquoted name).
    `asked_by` says where the name comes from (e.g. "hyperparameter label")."""
    exact = name[1:-1].replace('""', '"') if len(name) > 1 and name[0] == name[-1] == '"' else None
    if exact is not None:
        found = [s for s in stored if s == exact]
    else:
        found = [s for s in stored if s == name] or [s for s in stored if s.upper() == name.upper()]
    if len(found) == 1:
        return found[0]
    if found:
        shown = " and ".join(quoted(s) for s in found)
        raise TutorialError(
            f"Table {cut(table)} has columns {cut(shown)}, which differ only in case: name one of "
            f"them in double quotes in {asked_by}."
        )
    raise TutorialError(
        f"Table {cut(table)} has no column {cut(name)!r} ({asked_by}): its columns are "
        f"{cut(', '.join(stored), 200)}."
    )


# --- The physics feature set: the lesson's --------------------------------------------------------


def physics(label: str, id_column: str | None) -> Definition:
    """The lesson's features on a table checked by dataset.check_table (its program names)."""
    features = [Feature(name, name, "number") for name in dataset.NUMERIC_FEATURES]
    features += [Feature(name, None, "physics") for name in dataset.PHYSICS_FEATURES]
    return Definition(
        "physics", label, "number", id_column, tuple(features), dataset.NUMERIC_FEATURES
    )


# --- The columns feature set: any table -----------------------------------------------------------


def kind_of(datatype) -> str | None:
    """How a column of this Snowpark type becomes a feature; None: it cannot."""
    if isinstance(datatype, BooleanType):
        return "boolean"
    if isinstance(datatype, _NumericType):
        return "number"
    if isinstance(datatype, StringType):
        return "text"
    return None


def is_integral(datatype) -> bool:
    return isinstance(datatype, _IntegralType) or (
        isinstance(datatype, DecimalType) and datatype.scale == 0
    )


def type_name(datatype) -> str:
    return type(datatype).__name__.removesuffix("Type").upper()


@dataclass(frozen=True)
class Profile:
    """What one query in Snowflake found: rows, NULL labels, labels that are not binary (how many,
    and the smallest), and per candidate feature its values and distinct values."""

    rows: int
    null_labels: int
    bad_labels: int
    bad_example: object
    values: dict[str, int]
    distinct: dict[str, int]


def profile(frame, label: str, label_kind: str, candidates: list[str]) -> Profile:
    label_col = col(quoted(label))
    if label_kind == "number":
        bad = label_col.is_not_null() & ~label_col.isin(lit(0), lit(1))
    elif label_kind == "text":
        word = upper(trim(label_col))
        bad = label_col.is_not_null() & ~word.isin(*[lit(w) for w in TRUE_WORDS + FALSE_WORDS])
    else:
        bad = lit(False)
    measures = [
        count_(lit(1)).alias("ROWS"),
        sum_(iff(label_col.is_null(), lit(1), lit(0))).alias("NULL_LABELS"),
        sum_(iff(bad, lit(1), lit(0))).alias("BAD"),
        min_(iff(bad, label_col.cast("string"), lit(None))).alias("BAD_EXAMPLE"),
    ]
    for i, name in enumerate(candidates):
        measures.append(count_(col(quoted(name))).alias(f"V{i}"))
        measures.append(count_distinct(col(quoted(name))).alias(f"D{i}"))
    row = list(frame.select(*measures).collect()[0])
    values = {name: int(row[4 + 2 * i] or 0) for i, name in enumerate(candidates)}
    distinct = {name: int(row[5 + 2 * i] or 0) for i, name in enumerate(candidates)}
    return Profile(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), row[3], values, distinct)


def check_label(
    table: str, label: str, kind: str | None, datatype, found: Profile | None, made_by: str
) -> None:
    if kind is None:
        raise TutorialError(
            f"Label {quoted(label)} of {cut(table)} is {type_name(datatype)}: a label must be 0/1, "
            "a boolean, or text such as yes/no or true/false."
        )
    if found.rows == 0:
        raise TutorialError(f"Table {cut(table)} has no rows: load rows into it ({made_by}).")
    if found.bad_labels:
        allowed = "0 or 1" if kind == "number" else "true/false, yes/no, y/n, t/f or 1/0"
        raise TutorialError(
            f"Label {quoted(label)} of {cut(table)} is not binary: {found.bad_labels:,} of "
            f"{found.rows:,} rows hold another value than {allowed} (e.g. "
            f"{cut(str(found.bad_example), 40)!r}); make it two-valued (e.g. IFF(... , 1, 0)) or "
            "name another label."
        )
    if found.null_labels == found.rows:
        raise TutorialError(
            f"Label {quoted(label)} of {cut(table)} is NULL in all {found.rows:,} rows: name "
            "the column that holds the label."
        )


def unusable(name: str, kind: str | None, datatype, found: Profile, rows: int) -> str | None:
    """Why the column `name` cannot be a feature, or None when it can."""
    if kind is None:
        return f"is {type_name(datatype)}: a feature must be a number, a boolean or text"
    if found.distinct[name] <= 1:
        return "is constant (one value or none): it cannot tell rows apart"
    unique = found.distinct[name] == found.values[name] == rows
    if unique and (kind == "text" or is_integral(datatype)):
        return f"is unique per row ({rows:,} values): an identifier, not a feature"
    if kind == "text" and found.distinct[name] > MAX_CATEGORIES:
        return (
            f"is text with {found.distinct[name]:,} distinct values: at most {MAX_CATEGORIES} "
            "make categories"
        )
    return None


def categories(frame, name: str) -> tuple[str, ...]:
    """A text column's values, most frequent first (ties by value): the codes 0, 1, ..."""
    column = col(quoted(name))
    rows = (
        frame.filter(column.is_not_null())
        .group_by(column)
        .agg(count_(lit(1)).alias("N"))
        .sort(col("N").desc(), column)
        .collect()
    )
    return tuple(str(row[0]) for row in rows)


def xgboost_names(columns: list[str]) -> list[str]:
    """The columns' names as XGBoost allows them (no [, ] or <), each unique."""
    names: list[str] = []
    for column in columns:
        name = column.translate(_XGBOOST_NAME)
        while name in names:
            name += "_"
        names.append(name)
    return names


def from_columns(
    frame, table: str, label: str, id_column: str, features: str, log=lambda line: None
) -> tuple[Definition, int]:
    """The definition of the `columns` feature set on `frame` (the table as it is), from its
    schema and one profiling query in Snowflake, and the rows it leaves out for a NULL label;
    one line for each thing that cannot work."""
    types = {stored_name(f.name): f.datatype for f in frame.schema.fields}
    stored = list(types)
    label_name = find_column(stored, label, table, "hyperparameter label")
    # The default id is the workshop's UDI: a table without it is told to name its own, or none.
    asked_by = "hyperparameter id; empty: no id"
    id_name = find_column(stored, id_column, table, asked_by) if id_column else None
    if id_name == label_name:
        raise TutorialError(
            f"The id and the label are the same column {quoted(label_name)}: name another id."
        )
    named = column_names(features)
    if named:
        chosen = [find_column(stored, name, table, "hyperparameter features") for name in named]
        for name in chosen:
            if name in (label_name, id_name):
                what = "label" if name == label_name else "id"
                raise TutorialError(
                    f"Column {quoted(name)} is the {what}: leave it out of features."
                )
        chosen = list(dict.fromkeys(chosen))
    else:
        chosen = [name for name in stored if name not in (label_name, id_name)]
    label_kind = kind_of(types[label_name])
    if label_kind is None:  # before any query: a DATE compared with 0 and 1 would be an error
        check_label(table, label_name, None, types[label_name], None, "")
    # Only columns that may be features are profiled (a VARIANT's distinct values mean nothing).
    found = profile(frame, label_name, label_kind, [c for c in chosen if kind_of(types[c])])
    check_label(table, label_name, label_kind, types[label_name], found, "notebook 06 loads a CSV")
    kept: list[tuple[str, str]] = []
    for name in chosen:
        kind = kind_of(types[name])
        reason = unusable(name, kind, types[name], found, found.rows)
        if reason and named:
            raise TutorialError(
                f"Feature {quoted(name)} of {cut(table)} {reason}: leave it out of features."
            )
        if reason:
            log(f"left out {cut(quoted(name))}: it {reason}")
            continue
        kept.append((name, kind))
    if not kept:
        raise TutorialError(
            f"Table {cut(table)} has no column the model can read besides the label and id: "
            "features must be numbers, booleans or text with few values, and not constant."
        )
    names = xgboost_names([name for name, _ in kept])
    built = []
    for (column, kind), name in zip(kept, names, strict=True):
        if kind == "text":
            built.append(Feature(name, column, "category", categories(frame, column)))
        else:
            built.append(Feature(name, column, kind))
    log_null_labels(found, label_name, log)
    definition = Definition("columns", label_name, label_kind, id_name, tuple(built), tuple(names))
    return definition, found.null_labels


def log_null_labels(found: Profile, label: str, log) -> None:
    if found.null_labels:
        log(
            f"dropped {found.null_labels:,} of {found.rows:,} rows whose label "
            f"{cut(quoted(label))} is NULL"
        )


def described(definition: Definition, width: int = 100, most: int = 8) -> list[str]:
    """The features, for the log: how many, of which set, then their names in at most `most`
    lines of at most `width` characters (a category with its number of values)."""
    names = [
        f"{f.name} ({len(f.categories)} values)" if f.kind == "category" else f.name
        for f in definition.features
    ]
    lines = [f"{len(names)} features ({definition.feature_set}):"]
    for shown, name in enumerate(names):
        name = cut(name, width - 4)
        if len(lines) > 1 and len(lines[-1]) + len(name) + 2 <= width:
            lines[-1] += f", {name}"
        elif len(lines) > most:
            lines.append(f"  ... and {len(names) - shown} more (metrics.json lists them all)")
            break
        else:
            lines.append(f"  {name}")
    return lines


# --- The program's entry --------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The training table, opened: its rows, its columns' stored names, and what the model reads."""

    name: str
    frame: object  # a Snowpark DataFrame
    columns: list[str]
    definition: Definition
    dropped: int  # rows left out: their label is NULL


def define(session, params: dict, log=lambda line: None) -> Source:
    """The table of the hyperparameters, checked, and its Definition by `feature_set`."""
    table = params["table"]
    if params["feature_set"] == "physics":
        if params["features"] or params["label"] != dataset.LABEL or params["id"] != "UDI":
            raise TutorialError(
                f"feature_set=physics reads the workshop's columns (label {dataset.LABEL}, id "
                "UDI, its readings): set feature_set=columns to name a label, an id or features "
                "of your own."
            )
        checked = dataset.check_table(session, table)
        found = profile(checked.frame, dataset.LABEL, "number", [])
        check_label(table, dataset.LABEL, "number", None, found, "notebook 03")
        log_null_labels(found, dataset.LABEL, log)
        definition = physics(dataset.LABEL, "UDI")
        return Source(
            table, checked.frame, list(checked.identifiers), definition, found.null_labels
        )
    frame = dataset.open_table(session, table)
    columns = [stored_name(f.name) for f in frame.schema.fields]
    definition, dropped = from_columns(
        frame, table, params["label"], params["id"], params["features"], log
    )
    return Source(table, frame, columns, definition, dropped)
