"""One way to sign in to Snowflake: a Snowpark Session from an AWS Secrets Manager secret.

The secret is JSON in the field layout of Secrets Manager's managed-rotation type for Snowflake key
pairs (`SnowflakeKeyPairAuthentication`), plus connection defaults:

    {"account": "myorg-myaccount", "user": "SAGEMAKER_TRAINING",
     "privateKey": "-----BEGIN PRIVATE KEY-----...", "publicKey": "-----BEGIN PUBLIC KEY-----...",
     "passphrase": "(optional)",
     "role": "...", "warehouse": "HOL_WH", "database": "HOL_DB", "schema": "PUBLIC"}

Instead of a key pair it may hold a programmatic access `token`, or (legacy, for accounts that
still allow single-factor passwords) a `password`. With no secret at all, the session signs in
with workload identity federation: the caller's AWS IAM role is the Snowflake user.

`host`, `port` and `protocol` are optional: real accounts leave them out (the connector derives
the host from the account); the local stack sets them so the same code reaches its emulator.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from . import keypair
from .errors import TutorialError, cut

CONNECTION_FIELDS = ("role", "warehouse", "database", "schema", "host", "port", "protocol")
AUTH_FIELDS = ("privateKey", "token", "password")
ALLOWED_FIELDS = ("account", "user", "publicKey", "passphrase", *AUTH_FIELDS, *CONNECTION_FIELDS)
# Bounded waits: an unreachable or failing Snowflake ends in an error, not a silent hang.
DEFAULT_TIMEOUTS = {"login_timeout": 60, "network_timeout": 120, "socket_timeout": 60}

# Snowflake identifiers: unquoted (letters, digits, _ and $, not starting with a digit), or
# double-quoted with any character but a lone double quote; at most 255 characters.
_IDENTIFIER_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]{0,254}|"(?:[^"]|""){1,255}")'
_IDENTIFIER = re.compile(_IDENTIFIER_PART)
# A name optionally qualified: NAME, SCHEMA.NAME or DATABASE.SCHEMA.NAME (the programs' tables).
QUALIFIED_NAME = re.compile(rf"{_IDENTIFIER_PART}(?:\.{_IDENTIFIER_PART}){{0,2}}")
# What a message may show of an unknown field's name: a short name, as a typo would be. Anything
# else (a pasted key or token used as a name) is described by its length, never quoted.
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
# AWS Region names: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-7, ...
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
# What `account` and `host` may hold: a host name's characters, no scheme, path or port.
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?")


def check_identifier(value: str, what: str, qualified: bool = False) -> str:
    """`value` if it is one Snowflake identifier (`qualified`: up to DATABASE.SCHEMA.NAME).

    Checked before any SQL is built from it, so a name like `T; DROP TABLE X` is refused in one
    line naming `what` (e.g. "Hyperparameter table") instead of failing deep in Snowpark.
    """
    pattern = QUALIFIED_NAME if qualified else _IDENTIFIER
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    example = "DATABASE.SCHEMA.TABLE" if qualified else "HOL_WH"
    raise TutorialError(
        f"{what} {cut(value)!r} is not a Snowflake identifier: use letters, digits, _ and $ "
        f"starting with a letter or _ (e.g. {example}), or put a name with other characters in "
        'double quotes ("My Table").'
    )


def check_region(region: str | None, what: str = "Region") -> str | None:
    """`region` if it is shaped like an AWS Region name (None passes: the default applies)."""
    if region is None or _REGION.fullmatch(region):
        return region
    raise TutorialError(
        f"{what} {cut(region)!r} is not an AWS Region name: use one like us-east-1 (the Region "
        "where notebook 02 stored the secret)."
    )


def check_secret_fields(document: dict) -> None:
    """Each field of a secret has the type it needs; messages name the field, never its value."""
    for name in ALLOWED_FIELDS:
        if name != "port" and name in document and not isinstance(document[name], str):
            raise TutorialError(
                f"The secret's {name} must be a string, not {_json_type(document[name])}."
            )
    if document.get("port") is not None:
        port = document["port"]
        # JSON true is a Python bool, which int() would turn into port 1.
        number = port if type(port) is int else int(port) if _is_digits(port) else None
        if number is None or not 1 <= number <= 65535:
            shown = "out of range" if number is not None else _json_type(port)
            raise TutorialError(
                f"The secret's port is {shown}: store an integer from 1 to 65535 (e.g. 443), or "
                "leave port out (real accounts do)."
            )
    for name in ("account", "host"):
        if document.get(name) and not _HOST_NAME.fullmatch(document[name].strip()):
            raise TutorialError(
                f"The secret's {name} holds characters a host name cannot have: use the account "
                "identifier alone (orgname-accountname), with no scheme, path, port or spaces."
            )
    for name in ("role", "warehouse", "database", "schema"):
        if document.get(name):
            check_identifier(document[name], f"The secret's {name}")


def _is_digits(value) -> bool:
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), "a value")


@dataclass(frozen=True)
class Settings:
    """How a learner sets a job's values: a training job's hyperparameters, a Processing job's
    arguments. Messages name the one the learner sets: `HYPERPARAMETERS("table", "schema")` is
    "the table and schema hyperparameters", `ARGUMENTS("source_table")` "the --source-table
    argument"."""

    kind: str
    prefix: str = ""

    def __call__(self, *names: str) -> str:
        shown = [self.prefix + (name.replace("_", "-") if self.prefix else name) for name in names]
        listed = shown[-1] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
        return f"the {listed} {self.kind}{'s' if len(shown) > 1 else ''}"


HYPERPARAMETERS = Settings("hyperparameter")
ARGUMENTS = Settings("argument", "--")


def unknown_fields_shown(names: list[str], most: int = 5) -> str:
    """Unknown field names as a message lists them: short names as they are, others by their
    length (a value pasted as a name may be key material), at most `most` of them."""
    shown = [
        name if _FIELD_NAME.fullmatch(name) else f"a name of {len(name):,} characters"
        for name in names[:most]
    ]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown) + more


@dataclass(frozen=True)
class SnowflakeSecret:
    """A validated secret. Key, token, passphrase and password never appear in its repr."""

    account: str
    user: str
    auth: str  # "key-pair", "token" or "password"
    private_key: str | None = field(default=None, repr=False)
    public_key: str | None = None
    passphrase: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None

    def to_json(self) -> str:
        """The secret's JSON, in the managed-rotation field layout."""
        names = {"private_key": "privateKey", "public_key": "publicKey"}
        document = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "auth" and value is not None:
                document[names.get(item.name, item.name)] = value
        return json.dumps(document)


def parse_secret(value: str | dict) -> SnowflakeSecret:
    """Validate a secret's JSON (or dict); each problem is one line naming the field and the fix."""
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except ValueError:
            raise TutorialError(
                "The secret is not JSON: store a JSON object such as "
                '{"account": ..., "user": ..., "privateKey": ...} (notebook 02 writes one).'
            ) from None
    else:
        document = value
    if not isinstance(document, dict):
        raise TutorialError('The secret is not a JSON object: store {"account": ..., ...}.')
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    if unknown:
        raise TutorialError(
            f"The secret has unknown field(s) {unknown_fields_shown(unknown)}: allowed fields are "
            f"{', '.join(ALLOWED_FIELDS)}."
        )
    for name in ("account", "user"):
        if not isinstance(document.get(name), str) or not document[name].strip():
            raise TutorialError(
                f'The secret has no {name}: add "{name}" (e.g. '
                + ('"myorg-myaccount"' if name == "account" else '"SAGEMAKER_TRAINING"')
                + ")."
            )
    check_secret_fields(document)
    present = [name for name in AUTH_FIELDS if document.get(name)]
    if not present:
        raise TutorialError(
            "The secret has no credentials: add privateKey (key-pair sign-in, notebook 02), "
            "or token (a programmatic access token)."
        )
    if len(present) > 1:
        raise TutorialError(
            f"The secret holds both {present[0]} and {present[1]}: keep one way to sign in "
            "(privateKey is the one to keep)."
        )
    auth = {"privateKey": "key-pair", "token": "token", "password": "password"}[present[0]]
    if document.get("passphrase") and auth != "key-pair":
        raise TutorialError("The secret has a passphrase but no privateKey: remove the passphrase.")
    if auth == "key-pair":
        key = keypair.load_private_key(document["privateKey"], document.get("passphrase") or None)
        if document.get("publicKey"):
            try:
                matches = keypair.public_key_body(document["publicKey"]) == keypair.public_key_body(
                    keypair.public_pem_of(key)
                )
            except Exception:
                matches = False
            if not matches:
                raise TutorialError(
                    "The secret's publicKey does not belong to its privateKey: store the pair's "
                    "public key, or remove publicKey."
                )
    port = int(document["port"]) if document.get("port") is not None else None
    if document.get("protocol") not in (None, "http", "https"):
        raise TutorialError("The secret's protocol must be https (or http for an emulator).")
    return SnowflakeSecret(
        account=document["account"].strip(),
        user=document["user"].strip(),
        auth=auth,
        private_key=document.get("privateKey"),
        public_key=document.get("publicKey"),
        passphrase=document.get("passphrase") or None,
        token=document.get("token"),
        password=document.get("password"),
        role=document.get("role") or None,
        warehouse=document.get("warehouse") or None,
        database=document.get("database") or None,
        schema=document.get("schema") or None,
        host=document.get("host") or None,
        port=port,
        protocol=document.get("protocol") or None,
    )


def _aws_error(error: Exception, secret_name: str, region: str, storing=False) -> TutorialError:
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else ""
    secret_name, region = cut(secret_name), cut(region)
    if storing and code in ("AccessDeniedException", "AccessDenied"):
        # AWS names the action it refused; the policy statement to check follows from it.
        action = re.search(r"perform: (secretsmanager:\w+)", str(error))
        return TutorialError(
            f"Not allowed to store secret {secret_name} in {region}"
            f"{f' ({action[1]})' if action else ''}: give the learner the secret's statements "
            "of policies/learner.json (see docs/security.md)."
        )
    if code == "ResourceNotFoundException":
        return TutorialError(
            f"Secret {secret_name} does not exist in {region}: run notebook 02 to store it, or "
            "check the secret name and Region."
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return TutorialError(
            f"Not allowed to read secret {secret_name} in {region}: give the role "
            "secretsmanager:GetSecretValue on it (see policies/ and docs/security.md)."
        )
    if code in ("UnrecognizedClientException", "InvalidSignatureException"):
        return TutorialError(
            f"AWS rejected the credentials reading secret {secret_name} in {region}: sign in to "
            "AWS again or check the Region."
        )
    if isinstance(error, EndpointConnectionError):
        return TutorialError(
            f"Cannot reach AWS Secrets Manager in {region}: check the Region name and the network."
        )
    return TutorialError(
        f"Reading secret {secret_name} in {region} failed: {code or cut(error, 300)}."
    )


@lru_cache(maxsize=8)
def read_secret(secret_name: str, region: str | None = None) -> SnowflakeSecret:
    """Fetch and validate the secret; each process reads it once, and only into memory."""
    region = check_region(region or boto3.session.Session().region_name)
    client = boto3.client("secretsmanager", region_name=region)
    try:
        value = client.get_secret_value(SecretId=secret_name)
    except (ClientError, BotoCoreError) as error:
        raise _aws_error(error, secret_name, region) from None
    if "SecretString" not in value:
        raise TutorialError(f"Secret {secret_name} holds binary data: store the JSON as a string.")
    return parse_secret(value["SecretString"])


def store_secret(
    secret_name: str, secret: SnowflakeSecret | str | dict, region: str | None = None
) -> str:
    """Create the secret, or put a new version when its value changed; returns what it did."""
    if not isinstance(secret, SnowflakeSecret):
        secret = parse_secret(secret)  # never store a secret that could not sign in
    region = check_region(region or boto3.session.Session().region_name)
    client = boto3.client("secretsmanager", region_name=region)
    value = secret.to_json()
    try:
        outcome = _create_or_update(client, secret_name, value)
    except (ClientError, EndpointConnectionError) as error:
        raise _aws_error(error, secret_name, region, storing=True) from None
    read_secret.cache_clear()
    return outcome


def _create_or_update(client, secret_name: str, value: str) -> str:
    try:
        if client.describe_secret(SecretId=secret_name).get("DeletedDate"):
            # Scheduled for deletion by the clean-up notebook: running the series again restores it.
            client.restore_secret(SecretId=secret_name)
        current = client.get_secret_value(SecretId=secret_name).get("SecretString")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        client.create_secret(
            Name=secret_name,
            SecretString=value,
            Description="Snowflake sign-in for the sagemaker-snowpark tutorial",
        )
        return "created"
    if current is not None and _same(current, value):
        return "unchanged"
    client.put_secret_value(SecretId=secret_name, SecretString=value)
    return "updated"


def _same(stored: str, value: str) -> bool:
    try:
        return json.loads(stored) == json.loads(value)
    except ValueError:
        return False


def connection_parameters(
    secret: SnowflakeSecret | None = None, defaults: dict | None = None, **overrides
) -> dict:
    """The Snowflake connector's parameters: `defaults`, then the secret's, then `overrides`.

    None values are skipped. With no secret, sign-in is workload identity federation: `account`
    comes from the overrides or SNOWFLAKE_ACCOUNT, and the caller's AWS role decides the user.
    """
    params: dict = dict(DEFAULT_TIMEOUTS)
    params.update({k: v for k, v in (defaults or {}).items() if v is not None})
    if secret is None:
        account = overrides.pop("account", None) or os.environ.get("SNOWFLAKE_ACCOUNT")
        if not account:
            raise TutorialError(
                "No secret and no Snowflake account: name the secret, or set SNOWFLAKE_ACCOUNT "
                "for workload identity sign-in."
            )
        params.update(
            account=account,
            authenticator="WORKLOAD_IDENTITY",
            workload_identity_provider="AWS",
        )
    else:
        params.update(account=secret.account, user=secret.user)
        if secret.auth == "key-pair":
            key = keypair.load_private_key(secret.private_key, secret.passphrase)
            params.update(authenticator="SNOWFLAKE_JWT", private_key=keypair.private_key_der(key))
        elif secret.auth == "token":
            params.update(authenticator="PROGRAMMATIC_ACCESS_TOKEN", token=secret.token)
        else:
            params["password"] = secret.password
        for name in CONNECTION_FIELDS:
            if getattr(secret, name) is not None:
                params[name] = getattr(secret, name)
    params.update({k: v for k, v in overrides.items() if v is not None})
    return params


def session(
    secret_name: str | None = None,
    region: str | None = None,
    *,
    defaults: dict | None = None,
    require_namespace: bool = False,
    settings: Settings = HYPERPARAMETERS,
    **overrides,
):
    """A Snowpark Session signed in with the named secret (or workload identity without one).

    `overrides` win over the secret, e.g. session(name, region, warehouse="BIG_WH"); `defaults`
    apply where neither names a value. With `require_namespace`, a session without a current
    database, schema or warehouse is closed and reported in one line (see check_namespace), which
    names the `settings` the learner sets (a training job's hyperparameters by default).
    """
    from snowflake.snowpark import Session

    secret = read_secret(secret_name, region) if secret_name else None
    if secret is not None and secret.auth == "password":
        logging.getLogger(__name__).warning(
            "Signing in with a password is legacy: Snowflake blocks single-factor passwords for "
            "most users. Switch the secret to a key pair (notebook 02)."
        )
    params = connection_parameters(secret, defaults, **overrides)
    if secret is None and region:
        os.environ.setdefault("AWS_REGION", region)  # workload identity signs with the region
    try:
        created = Session.builder.configs(params).create()
    except Exception as error:
        raise sign_in_error(error, params) from None
    if require_namespace:
        try:
            check_namespace(created, params, settings)
        except TutorialError:
            created.close()
            raise
    return created


def check_namespace(session, params: dict, settings: Settings = HYPERPARAMETERS) -> None:
    """One line naming what to set when the session has no current database, schema or warehouse.

    Snowflake signs in even when the database, schema or warehouse asked for does not exist or
    the role may not use it; every query then fails, for a table with a misleading "does not
    exist" or "This session does not have a current database".
    """
    user, role, database, schema, warehouse = session.sql(
        "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_DATABASE(), CURRENT_SCHEMA(), "
        "CURRENT_WAREHOUSE()"
    ).collect()[0]
    grant = f"and GRANT ROLE {cut(role)} TO USER {cut(user)} if the role lacks it"
    # What is missing, how its name is shown, and where workload identity users set it.
    needed = [
        (
            "database",
            database,
            params.get("database"),
            " (for workload identity, the user's DEFAULT_NAMESPACE)",
        ),
        ("schema", schema, f"{database}.{params.get('schema')}", ""),
        (
            "warehouse",
            warehouse,
            params.get("warehouse"),
            " (for workload identity, the user's DEFAULT_WAREHOUSE)",
        ),
    ]
    for kind, current, shown, workload_identity in needed:
        if current is not None:
            continue
        asked = params.get(kind)
        what = (
            f"{kind} {cut(shown)} does not exist or role {cut(role)} may not use it"
            if asked
            else f"no {kind} was named"
        )
        raise TutorialError(
            f"The Snowflake session has no current {kind} ({what}): create it with notebook 03, "
            f"or set {settings(kind)} or the secret's {kind}{workload_identity}, {grant}."
        )


def workload_identity_statements(
    role_arn: str,
    user: str = "SAGEMAKER_TRAINING_WIF",
    role: str = "SAGEMAKER_TUTORIAL",
    warehouse: str = "HOL_WH",
    database: str = "HOL_DB",
    schema: str = "PUBLIC",
) -> str:
    """The statements that make an AWS IAM role a Snowflake user (workload identity federation).

    USERADMIN creates users, and may grant the role it created (README); the defaults give the
    job's session a role, warehouse, database and schema even when it names none.
    """
    return (
        "USE ROLE USERADMIN;\n"
        f"CREATE USER IF NOT EXISTS {user} TYPE = SERVICE\n"
        f"  WORKLOAD_IDENTITY = (TYPE = AWS ARN = '{role_arn}')\n"
        f"  DEFAULT_ROLE = {role} DEFAULT_WAREHOUSE = {warehouse}\n"
        f"  DEFAULT_NAMESPACE = {database}.{schema};\n"
        f"GRANT ROLE {role} TO USER {user};"
    )


def sign_in_error(error: Exception, params: dict) -> TutorialError:
    """A one-line reason for a failed sign-in; the connector's message never holds the key."""
    text = " ".join(str(error).split())
    account = cut(params["account"])
    who = f"user {cut(params.get('user', '(workload identity)'))} of account {account}"
    if "390144" in text or "JWT token is invalid" in text:
        return TutorialError(
            f"Snowflake rejected the key pair of {who}: register the public key with the ALTER "
            "USER ... SET RSA_PUBLIC_KEY statement notebook 02 shows."
        )
    if "390100" in text or "Incorrect username or password" in text:
        return TutorialError(f"Snowflake rejected the credentials of {who}: check user and secret.")
    if "250001" in text or "Could not connect" in text or "timed out" in text.lower():
        return TutorialError(
            f"Cannot reach Snowflake for account {account} (no answer, or only "
            f"errors, within {params.get('login_timeout')} s): check the account identifier "
            "(orgname-accountname), the network, and Snowflake's status page."
        )
    return TutorialError(f"Signing in to Snowflake as {who} failed: {cut(text, 300)}")
