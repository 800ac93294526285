"""What a conformance case is, and the session it runs in."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from snowflake.snowpark import Session


@dataclass(frozen=True)
class Raises:
    """Snowflake answers an error: its SQL error code (e.g. 2003) and words from its message."""

    code: int | None
    words: str = ""


@dataclass(frozen=True)
class Case:
    area: str  # the README's grouping: "Sessions", "Loading", "Types", ...
    operation: str  # what the learner writes, short
    run: Callable[[Session], Any]  # returns a value to compare (rows as tuples, names, types)
    expect: Any  # Snowflake's documented result, or Raises(...)
    reference: str  # where Snowflake documents that result

    @property
    def id(self) -> str:
        return f"{self.area}: {self.operation}"


def connection_options(database: str | None, schema: str | None = "PUBLIC", **extra) -> dict:
    options = {
        "account": os.environ["SNOWFLAKE_ACCOUNT"],
        "user": os.environ["SNOWFLAKE_USER"],
        "password": "unused-by-the-local-stack",
        "host": os.environ["SNOWFLAKE_HOST"],
        "port": int(os.environ["SNOWFLAKE_PORT"]),
        "protocol": "http",
        # A statement the stack cannot answer must fail fast, not be retried for minutes.
        "network_timeout": 20,
        **extra,
    }
    if database:
        options["database"] = database
    if schema:
        options["schema"] = schema
    return options


def new_session(database: str) -> Session:
    """A session in a fresh `database`.PUBLIC, made as a learner makes it (sign-in creates none)."""
    session = Session.builder.configs(connection_options(None, None)).create()
    session.sql(f"CREATE DATABASE IF NOT EXISTS {database}").collect()
    session.sql(f"CREATE SCHEMA IF NOT EXISTS {database}.PUBLIC").collect()
    session.use_schema(f"{database}.PUBLIC")
    return session


def rows(dataframe_or_rows) -> list[tuple]:
    found = (
        dataframe_or_rows.collect() if hasattr(dataframe_or_rows, "collect") else dataframe_or_rows
    )
    return [tuple(row) for row in found]
