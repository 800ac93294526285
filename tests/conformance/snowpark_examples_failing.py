"""The Snowpark docstring examples the local Snowflake does not pass yet, each with its reason.

tests/test_snowpark_examples.py runs the examples (snowpark_examples.py) docstring by docstring and
checks that exactly these fail: an example that starts to pass, or starts to fail, changes this
list. Keys are `module.Name[i]`, the i-th example (from 0) of that docstring in the Snowpark
version constraints.txt pins. docs/local-snowflake.md shows the list and the share that passes.
"""

from __future__ import annotations

UDF = "Python UDFs and UDTFs do not run in the local stack: refused with one line"
UDF_CASCADE = "uses the UDTF the example before registers, which the local stack refused"
CORTEX = "Cortex AI functions (AI_AGG) need a Snowflake account: refused with one line"
LAST_DIGITS = "Snowflake's floating-point algorithm differs in the last digits; no formula found"

FAILING: dict[str, str] = {
    "dataframe.DataFrame.with_column[3]": UDF,
    "dataframe.DataFrame.with_column[5]": UDF_CASCADE,
    "dataframe.DataFrame.with_columns[1]": UDF,
    "dataframe.DataFrame.with_columns[3]": UDF_CASCADE,
    "dataframe.map[4]": UDF,
    "dataframe.map[5]": UDF_CASCADE,
    "dataframe.map[6]": UDF,
    "dataframe.map[7]": UDF_CASCADE,
    "dataframe.map[8]": UDF,
    "dataframe.map[9]": UDF_CASCADE,
    "dataframe.map[10]": UDF,
    "dataframe.map[11]": UDF_CASCADE,
    "dataframe.map[12]": UDF,
    "dataframe.map[13]": UDF_CASCADE,
    "dataframe.map[14]": UDF,
    "dataframe.map[15]": UDF_CASCADE,
    "dataframe.map_in_pandas[3]": UDF,
    "dataframe.map_in_pandas[5]": UDF,
    "dataframe.map_in_pandas[7]": UDF,
    "dataframe.map_in_pandas[9]": UDF,
    "dataframe_stat_functions.DataFrameStatFunctions.corr[1]": LAST_DIGITS,
    "dataframe_stat_functions.DataFrameStatFunctions.cov[1]": LAST_DIGITS,
    "relational_grouped_dataframe.RelationalGroupedDataFrame.ai_agg[2]": CORTEX,
    "relational_grouped_dataframe.RelationalGroupedDataFrame.apply_in_pandas[4]": UDF,
    "relational_grouped_dataframe.RelationalGroupedDataFrame.apply_in_pandas[9]": UDF,
}
