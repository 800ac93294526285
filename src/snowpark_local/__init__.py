"""The embedded local stack: AWS emulated by moto, Snowflake by fakesnow, training jobs run locally.

Use it through `snowpark-local` (or `make local-up`, `make local-status`, `make local-down`).
"""
