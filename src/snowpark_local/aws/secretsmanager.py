"""Secrets Manager on the local stack: the documented 64 KB limit on a secret's value."""

from __future__ import annotations

from moto.secretsmanager.exceptions import ValidationException as SecretsValidationException
from moto.secretsmanager.responses import SecretsManagerResponse

from snowpark_local.patch import Patch, upstream

SECRET_VALUE_LIMIT = 65536
_SECRET_WRITES = ("create_secret", "put_secret_value", "update_secret")


def _limited(name: str):
    """moto's handler `name`, refusing a value over the limit first."""

    def handler(self: SecretsManagerResponse):
        for field in ("SecretString", "SecretBinary"):
            value = self._get_param(field)
            size = len(value.encode() if isinstance(value, str) else value or b"")
            if size > SECRET_VALUE_LIMIT:
                raise SecretsValidationException(
                    f"1 validation error detected: Value at '{field[0].lower()}{field[1:]}' "
                    "failed to satisfy constraint: Member must have length less than or equal "
                    f"to {SECRET_VALUE_LIMIT}"
                )
        return upstream(SecretsManagerResponse, name)(self)

    handler.__name__ = handler.__qualname__ = name
    return handler


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    *[
        Patch(
            SecretsManagerResponse,
            name,
            _limited(name),
            "moto accepts a secret value over the documented 64 KB",
        )
        for name in _SECRET_WRITES
    ],
]
