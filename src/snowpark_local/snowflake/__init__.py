"""Snowflake for the local stack: the fakesnow server, file-backed, and what the tutorial needs.

fakesnow 0.12.1 speaks Snowflake's HTTP protocol, so the real connector and Snowpark reach it with
`host`, `port` and `protocol` set. The stack runs it in a thread of its process (server.py) with one
DuckDB file per database in the state folder (tables written by one process are read by another
and survive a restart), and answers what fakesnow rejects or gets wrong. Each module below emulates
the Snowflake rule it names (its docstring cites Snowflake's page).

The server and its protocol:
- server.py: the routes, and PATCHES, what the package changes in fakesnow;
- sessions.py: sign-in as Snowflake does it (CURRENT_USER(), CURRENT_ROLE(), CURRENT_ACCOUNT()
  answer the session's sign-in; a database or schema named at sign-in becomes current only when it
  exists, and the names are never pasted into SQL; no role named: the README's SAGEMAKER_TUTORIAL);
- errors.py: every statement error comes back as Snowflake's error response, placed in the text
  the client sent (fakesnow answers an unexpected one with HTTP 500, which the connector retries
  for minutes);
- results.py: large results come back as Snowflake sends them, a first part inline and the rest as
  chunks the connector downloads while the client reads; semistructured.py: ARRAY, OBJECT and
  VARIANT values as JSON indented by 2 spaces;
- expression_names.py: an unaliased expression named by its text as written, upper-cased;
  nullability.py: result columns not nullable where Snowflake knows they hold no NULL.

Statements answered before fakesnow sees them:
- statements.py: warehouses (a no-op; CURRENT_WAREHOUSE() answers the name), DROP DATABASE, DROP
  STAGE, DROP FILE FORMAT, ALTER SESSION SET QUERY_TAG, CREATE [OR REPLACE] DATABASE with PUBLIC
  made current, and UDFs and stored procedures (and add_packages) refused with one line;
- stages.py: GET from an internal stage (the connector downloads each file from this server, as
  from a GCS stage's presigned URLs) and Snowpark's loading calls (write_pandas in every mode,
  create_dataframe, save_as_table); unload.py: COPY INTO @stage, in CSV, JSON and Parquet.

Rules inside fakesnow's SQL transform (sql.py runs them, in order):
- identifiers.py: quoted identifiers case-sensitive (DuckDB's catalog is not), IDENTIFIER(?) with
  a qualified quoted name, RESULT_SCAN inside a query, the invalid identifier error;
- temporary.py: temporary tables in the schema they were created in, SCOPED TEMPORARY objects;
- fixed_point.py: fixed-point results typed as Snowflake types them (division, SUM/AVG exact,
  VARIANCE, STDDEV, MEDIAN);
- merge.py (MERGE), asof.py (ASOF JOIN ... MATCH_CONDITION), pivot.py (PIVOT over ANY or a
  subquery, DEFAULT ON NULL), table_functions.py (SPLIT_TO_TABLE and FLATTEN joined laterally),
  generator.py (TABLE(GENERATOR(...)) in parentheses), order_by_all.py (ORDER BY ALL),
  parse_json.py (unquoted keys), staged_files.py (SELECT $n FROM @stage);
- cortex.py: Cortex AI functions refused with one line;
- sql.py itself: HASH() signed, session functions, COPY FROM '@stage', $1 over VALUES, TRIM's
  characters.

It relies on fakesnow internals, which is why fakesnow is pinned: server.PATCHES lists what it
changes in fakesnow for the registry (snowpark_local/patches.py), which installs it;
tests/test_local_snowflake.py, tests/test_snowflake_conformance.py and
tests/test_snowpark_examples.py cover each of these.
"""
