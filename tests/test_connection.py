"""Signing in to Snowflake: key pairs, the secret's schema, storing it, and real sessions."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sagemaker_snowpark import connection, keypair
from sagemaker_snowpark.errors import TutorialError
from snowpark_local import accounts
from snowpark_local.snowflake import sessions as local_snowflake

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

PASSPHRASE = "correct horse battery staple"
TOKEN = "pat-token-value-1234567890"
PASSWORD = "legacy-password-value-987"


@pytest.fixture(scope="module")
def plain():
    return keypair.generate()


@pytest.fixture(scope="module")
def encrypted():
    return keypair.generate(PASSPHRASE)


def base(**fields):
    return {"account": "myorg-myaccount", "user": "SAGEMAKER_TRAINING", **fields}


def key_body(pair) -> str:
    return keypair.public_key_body(pair.public_pem)


def assert_no_secret(text: str, *pairs):
    for pair in pairs:
        lines = pair.private_pem.splitlines()
        body = "".join(line for line in lines if not line.startswith("-----"))
        assert body[:40] not in text and body[-40:] not in text
    for value in (PASSPHRASE, TOKEN, PASSWORD):
        assert value not in text


# --- Key pairs ---------------------------------------------------------------------------


def test_generated_keys_load_plain_and_encrypted(plain, encrypted):
    assert keypair.load_private_key(plain.private_pem).key_size == 2048
    assert "ENCRYPTED" in encrypted.private_pem
    key = keypair.load_private_key(encrypted.private_pem, PASSPHRASE)
    assert keypair.public_pem_of(key) == encrypted.public_pem
    assert repr(plain) == f"KeyPair(public_pem={plain.public_pem!r})"  # private key kept out


def test_public_key_statement_and_fingerprint(plain):
    statement = keypair.alter_user_statement("SAGEMAKER_TRAINING", plain.public_pem)
    assert (
        statement == f"ALTER USER SAGEMAKER_TRAINING SET RSA_PUBLIC_KEY =\n  '{key_body(plain)}';"
    )
    assert "RSA_PUBLIC_KEY_2 =" in keypair.alter_user_statement("U", plain.public_pem, slot=2)
    der = base64.b64decode(key_body(plain))
    assert (
        plain.fingerprint.startswith("SHA256:")
        and len(base64.b64decode(plain.fingerprint[7:])) == 32
    )
    assert len(der) > 256


def test_der_base64_keys_load(plain):
    key = keypair.load_private_key(plain.private_pem)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert keypair.load_private_key(base64.b64encode(der).decode()).key_size == 2048


@pytest.mark.parametrize(
    "make_text, passphrase, message",
    [
        (lambda p, e: e.private_pem, None, "privateKey is encrypted and no passphrase is set"),
        (lambda p, e: e.private_pem, "wrong", "The passphrase does not decrypt privateKey"),
        (lambda p, e: p.private_pem, PASSPHRASE, "privateKey is not encrypted, but a passphrase"),
        (lambda p, e: p.private_pem[: len(p.private_pem) // 2], None, "truncated"),
        (lambda p, e: "hello, I am not a key", None, "not a readable private key"),
        (lambda p, e: "", None, "privateKey is empty"),
    ],
)
def test_bad_keys_give_one_line_without_material(plain, encrypted, make_text, passphrase, message):
    with pytest.raises(TutorialError, match=message) as raised:
        keypair.load_private_key(make_text(plain, encrypted), passphrase)
    text = str(raised.value)
    assert "\n" not in text and raised.value.__cause__ is None
    assert_no_secret(text, plain, encrypted)


def test_short_and_non_rsa_keys_are_refused():
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    curve = ec.generate_private_key(ec.SECP256R1())
    for key, message in ((short, "1024-bit RSA key; Snowflake needs 2048"), (curve, "not an RSA")):
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with pytest.raises(TutorialError, match=message):
            keypair.load_private_key(pem)
    with pytest.raises(TutorialError, match="2048 bits or more, not 1024"):
        keypair.generate(bits=1024)


# --- The secret's schema -----------------------------------------------------------------


def test_each_auth_kind_parses(plain, encrypted):
    key_pair = connection.parse_secret(
        json.dumps(base(privateKey=plain.private_pem, publicKey=plain.public_pem, role="R"))
    )
    assert (key_pair.auth, key_pair.role) == ("key-pair", "R")
    assert (
        connection.parse_secret(base(privateKey=encrypted.private_pem, passphrase=PASSPHRASE)).auth
        == "key-pair"
    )
    assert connection.parse_secret(base(token=TOKEN)).auth == "token"
    assert connection.parse_secret(base(password=PASSWORD)).auth == "password"
    emulator = connection.parse_secret(
        base(token=TOKEN, host="127.0.0.1", port="8080", protocol="http")
    )
    assert (emulator.host, emulator.port, emulator.protocol) == ("127.0.0.1", 8080, "http")
    text = repr(key_pair) + repr(connection.parse_secret(base(token=TOKEN)))
    assert_no_secret(text, plain)


@pytest.mark.parametrize(
    "document, message",
    [
        ("not json {", "The secret is not JSON"),
        ("[1, 2]", "not a JSON object"),
        (base(), "The secret has no credentials: add privateKey"),
        ({"user": "U", "token": TOKEN}, 'The secret has no account: add "account"'),
        ({"account": "A", "token": TOKEN}, 'The secret has no user: add "user"'),
        (base(token=TOKEN, private_key="x"), "unknown field\\(s\\) private_key: allowed fields"),
        (base(token=TOKEN, password=PASSWORD), "holds both token and password: keep one"),
        (base(token=TOKEN, passphrase=PASSPHRASE), "has a passphrase but no privateKey"),
        (base(token=TOKEN, port="https"), "The secret's port is text: store an integer from 1"),
        # JSON true would become port 1; 99999 a URL the connector cannot parse.
        (base(token=TOKEN, port=True), "The secret's port is a boolean: store an integer"),
        (base(token=TOKEN, port="99999"), "The secret's port is out of range: store an integer"),
        (base(token=TOKEN, port=0), "The secret's port is out of range"),
        (base(token=TOKEN, port=[443]), "The secret's port is a list"),
        (base(token=TOKEN, warehouse=7), "The secret's warehouse must be a string, not a number"),
        (base(token=TOKEN, role=None), "The secret's role must be a string, not null"),
        (base(token=TOKEN, host="http://127.0.0.1:8080"), "The secret's host holds characters"),
        (
            {"account": "myorg myaccount", "user": "U", "token": TOKEN},
            "The secret's account holds characters a host name cannot have",
        ),
        (base(token=TOKEN, warehouse="HOL_WH; DROP"), "The secret's warehouse 'HOL_WH; DROP' is"),
        (
            base(token=TOKEN, schema='""'),
            "The secret's schema '\"\"' is not a Snowflake identifier",
        ),
        (base(token=TOKEN, protocol="ftp"), "protocol must be https"),
        (base(token=12345), "token must be a string"),
        (
            base(privateKey="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
            "privateKey is not a readable private key",
        ),
    ],
)
def test_malformed_secrets_name_the_field_and_the_fix(document, message, plain):
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(TutorialError, match=message) as raised:
        connection.parse_secret(text)
    assert "\n" not in str(raised.value)
    assert_no_secret(str(raised.value), plain)


def test_an_over_long_unknown_field_is_described_not_quoted_and_the_fix_stays(plain):
    """Round 3, case 6: a 60,000-character field name (or a key pasted as a name) is described
    by its length; the allowed fields, the fix, come whole."""
    allowed = ", ".join(connection.ALLOWED_FIELDS)
    for name in ("x" * 60_000, plain.private_pem):
        with pytest.raises(TutorialError) as raised:
            connection.parse_secret(base(token=TOKEN, **{name: "value"}))
        assert str(raised.value) == (
            f"The secret has unknown field(s) a name of {len(name):,} characters: allowed fields "
            f"are {allowed}."
        )
        assert_no_secret(str(raised.value), plain)
    many = {f"field_{i}": "v" for i in range(8)}
    with pytest.raises(TutorialError) as raised:
        connection.parse_secret(base(token=TOKEN, **many))
    assert str(raised.value).startswith(
        "The secret has unknown field(s) field_0, field_1, field_2, field_3, field_4 and 3 more: "
    )


def test_messages_name_what_the_learner_sets():
    """Round 3, case 9: a training job has hyperparameters, a Processing job arguments."""
    assert connection.HYPERPARAMETERS("schema") == "the schema hyperparameter"
    assert (
        connection.HYPERPARAMETERS("table", "database", "schema")
        == "the table, database and schema hyperparameters"
    )
    assert connection.ARGUMENTS("schema") == "the --schema argument"
    assert (
        connection.ARGUMENTS("source_table", "database", "schema")
        == "the --source-table, --database and --schema arguments"
    )


def test_a_public_key_of_another_pair_is_refused(plain, encrypted):
    mismatched = base(privateKey=plain.private_pem, publicKey=encrypted.public_pem)
    with pytest.raises(TutorialError, match="publicKey does not belong to its privateKey"):
        connection.parse_secret(mismatched)


def test_both_a_password_and_a_key_are_refused(plain):
    with pytest.raises(TutorialError, match="holds both privateKey and password"):
        connection.parse_secret(base(privateKey=plain.private_pem, password=PASSWORD))


def test_connection_parameters_per_kind(plain, encrypted):
    secret = connection.parse_secret(
        base(privateKey=encrypted.private_pem, passphrase=PASSPHRASE, warehouse="WH")
    )
    params = connection.connection_parameters(secret, warehouse="BIG_WH", role=None)
    assert params["authenticator"] == "SNOWFLAKE_JWT"
    assert params["warehouse"] == "BIG_WH" and "role" not in params  # overrides win, None skipped
    der = keypair.private_key_der(keypair.load_private_key(encrypted.private_pem, PASSPHRASE))
    assert params["private_key"] == der and params["network_timeout"] > 0
    token = connection.connection_parameters(connection.parse_secret(base(token=TOKEN)))
    assert (token["authenticator"], token["token"]) == ("PROGRAMMATIC_ACCESS_TOKEN", TOKEN)
    wif = connection.connection_parameters(None, account="myorg-acct")
    assert (
        wif["authenticator"] == "WORKLOAD_IDENTITY" and wif["workload_identity_provider"] == "AWS"
    )
    assert "private_key" not in wif and "password" not in wif


def test_defaults_fill_only_what_neither_the_secret_nor_the_overrides_name():
    defaults = {"warehouse": "HOL_WH", "database": "HOL_DB", "schema": "PUBLIC"}
    secret = connection.parse_secret(base(token=TOKEN, database="SECRET_DB"))
    params = connection.connection_parameters(secret, defaults, schema="JOB_SCHEMA")
    assert (params["warehouse"], params["database"], params["schema"]) == (
        "HOL_WH",
        "SECRET_DB",
        "JOB_SCHEMA",
    )
    wif = connection.connection_parameters(None, defaults, account="myorg-acct", database=None)
    assert (wif["warehouse"], wif["database"], wif["schema"]) == ("HOL_WH", "HOL_DB", "PUBLIC")


def test_workload_identity_statements_are_complete():
    arn = "arn:aws:iam::123456789012:role/SageMakerSnowparkTutorialRole"
    text = connection.workload_identity_statements(arn)
    assert text.splitlines()[0] == "USE ROLE USERADMIN;"
    create = " ".join(text.split("GRANT")[0].split())
    assert create == (
        "USE ROLE USERADMIN; CREATE USER IF NOT EXISTS SAGEMAKER_TRAINING_WIF TYPE = SERVICE "
        f"WORKLOAD_IDENTITY = (TYPE = AWS ARN = '{arn}') DEFAULT_ROLE = SAGEMAKER_TUTORIAL "
        "DEFAULT_WAREHOUSE = HOL_WH DEFAULT_NAMESPACE = HOL_DB.PUBLIC;"
    )
    assert text.splitlines()[-1] == "GRANT ROLE SAGEMAKER_TUTORIAL TO USER SAGEMAKER_TRAINING_WIF;"


def test_the_readme_shows_the_statements_notebook_02_prints_and_the_stack_uses():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    details = (root / "docs" / "real-accounts.md").read_text()  # the README links it
    printed = connection.workload_identity_statements("<execution role ARN>")
    assert f"```sql\n{printed}\n```" in details
    # The local stack signs in as the README's user, with the README's role as its default.
    assert f"CREATE USER IF NOT EXISTS {accounts.SNOWFLAKE_USER} TYPE = SERVICE" in readme
    assert f"DEFAULT_ROLE = {local_snowflake.DEFAULT_ROLE};" in readme
    assert f"CREATE USER IF NOT EXISTS {local_snowflake.WORKLOAD_IDENTITY_USER} " in printed
    # Granting account privileges needs MANAGE GRANTS: SECURITYADMIN, not USERADMIN.
    before_grant = readme.split("GRANT CREATE WAREHOUSE, CREATE DATABASE ON ACCOUNT")[0]
    assert before_grant.rsplit("USE ROLE ", 1)[1].startswith("SECURITYADMIN;")
    assert "ALTER USER SAGEMAKER_TRAINING SET NETWORK_POLICY = " in details


def test_notebook_02_prints_the_names_a_real_account_has():
    path = Path(__file__).resolve().parent.parent / "notebooks" / "02_store_snowflake_secret.ipynb"
    cells = json.loads(path.read_text())["cells"]
    printed = "".join(
        "".join(output.get("text", ""))
        for cell in cells
        if cell["cell_type"] == "code"
        for output in cell["outputs"]
    )
    assert "USE ROLE USERADMIN;\nALTER USER SAGEMAKER_TRAINING SET RSA_PUBLIC_KEY =\n  '" in printed
    assert "Signed in to Snowflake as SAGEMAKER_TRAINING with role SAGEMAKER_TUTORIAL." in printed
    arn = "arn:aws:iam::123456789012:role/SageMakerSnowparkTutorialRole"
    assert connection.workload_identity_statements(arn) in printed


# --- Against the local stack ---------------------------------------------------------------


def emulator_fields(**extra) -> dict:
    return {
        "account": os.environ["SNOWFLAKE_ACCOUNT"],
        "user": "SAGEMAKER_TRAINING",
        "host": os.environ["SNOWFLAKE_HOST"],
        "port": os.environ["SNOWFLAKE_PORT"],
        "protocol": "http",
        "database": "CONNECTION_TESTS",
        "schema": "PUBLIC",
        **extra,
    }


@pytest.mark.stack
def test_store_secret_creates_updates_and_leaves_unchanged(unique, plain, encrypted):
    name = f"tests/{unique}"
    first = emulator_fields(privateKey=plain.private_pem, publicKey=plain.public_pem)
    assert connection.store_secret(name, first) == "created"
    assert connection.store_secret(name, first) == "unchanged"
    rotated = emulator_fields(privateKey=encrypted.private_pem, passphrase=PASSPHRASE)
    assert connection.store_secret(name, rotated) == "updated"
    versions = boto3.client("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"]
    assert len(versions) == 2
    assert connection.read_secret(name).passphrase == PASSPHRASE
    with pytest.raises(TutorialError, match="The secret has no user"):
        connection.store_secret(name, {"account": "A", "token": TOKEN})
    assert connection.read_secret(name).passphrase == PASSPHRASE  # nothing half-written


@pytest.mark.stack
def test_read_secret_errors_name_the_cause(unique):
    with pytest.raises(
        TutorialError, match=f"Secret tests/missing-{unique} does not exist in us-east-1"
    ):
        connection.read_secret(f"tests/missing-{unique}")
    boto3.client("secretsmanager").create_secret(Name=f"tests/bad-{unique}", SecretString="{oops")
    with pytest.raises(TutorialError, match="The secret is not JSON"):
        connection.read_secret(f"tests/bad-{unique}")
    with pytest.raises(TutorialError, match="does not exist in eu-west-1"):
        connection.read_secret(f"tests/bad-{unique}", "eu-west-1")  # wrong Region


@pytest.mark.stack
@pytest.mark.parametrize("kind", ["key-pair", "encrypted key-pair", "token", "password"])
def test_a_session_opens_for_each_kind(kind, unique, plain, encrypted, caplog):
    material = {
        "key-pair": {"privateKey": plain.private_pem},
        "encrypted key-pair": {"privateKey": encrypted.private_pem, "passphrase": PASSPHRASE},
        "token": {"token": TOKEN},
        "password": {"password": PASSWORD},
    }[kind]
    name = f"tests/{kind.replace(' ', '-')}-{unique}"
    connection.store_secret(name, emulator_fields(**material))
    with caplog.at_level(logging.WARNING, logger="sagemaker_snowpark.connection"):
        session = connection.session(name)
    try:
        assert session.sql("SELECT CURRENT_USER()").collect()[0][0] == "SAGEMAKER_TRAINING"
    finally:
        session.close()
    assert ("legacy" in caplog.text) == (kind == "password")
    assert_no_secret(caplog.text, plain, encrypted)


@pytest.mark.stack
def test_workload_identity_signs_in_without_a_secret():
    session = connection.session(
        None,
        "us-east-1",
        account=os.environ["SNOWFLAKE_ACCOUNT"],
        host=os.environ["SNOWFLAKE_HOST"],
        port=int(os.environ["SNOWFLAKE_PORT"]),
        protocol="http",
    )
    try:
        assert session.sql("SELECT CURRENT_USER()").collect()[0][0] == "SAGEMAKER_TRAINING_WIF"
    finally:
        session.close()


@pytest.mark.stack
@pytest.mark.parametrize(
    "names, reason",
    [
        (
            {"database": "NO_SUCH_DB"},
            "The Snowflake session has no current database (database NO_SUCH_DB does not exist "
            "or role SAGEMAKER_TUTORIAL may not use it): create it with notebook 03, or set the "
            "database hyperparameter",
        ),
        (
            {"database": "CONNECTION_TESTS", "schema": "NO_SUCH_SCHEMA"},
            "The Snowflake session has no current schema (schema CONNECTION_TESTS.NO_SUCH_SCHEMA",
        ),
        (
            {"database": "CONNECTION_TESTS", "warehouse": None},
            "The Snowflake session has no current warehouse (no warehouse was named)",
        ),
    ],
)
def test_a_session_without_its_namespace_says_what_to_set(unique, plain, names, reason):
    name = f"tests/namespace-{unique}"
    connection.store_secret(name, emulator_fields(privateKey=plain.private_pem))
    setup = connection.session(name)
    setup.sql("CREATE DATABASE IF NOT EXISTS CONNECTION_TESTS").collect()
    setup.sql("CREATE SCHEMA IF NOT EXISTS CONNECTION_TESTS.PUBLIC").collect()
    setup.close()
    names = {"warehouse": "HOL_WH", **names}
    with pytest.raises(TutorialError) as raised:
        connection.session(name, require_namespace=True, **{k: v for k, v in names.items() if v})
    assert str(raised.value).startswith(reason) and "\n" not in str(raised.value)
    session = connection.session(name, require_namespace=True, warehouse="HOL_WH")
    session.close()  # the secret's database and schema exist now: no error


@pytest.mark.stack
def test_an_unreachable_snowflake_fails_fast_with_a_clear_reason(unique, plain):
    name = f"tests/unreachable-{unique}"
    connection.store_secret(name, emulator_fields(privateKey=plain.private_pem, port="9"))
    with pytest.raises(TutorialError, match="Cannot reach Snowflake for account LOCALSTACK"):
        connection.session(name, login_timeout=5, network_timeout=5)


def test_good_ports_and_names_pass(plain):
    assert connection.parse_secret(base(token=TOKEN, port="443")).port == 443
    assert connection.parse_secret(base(token=TOKEN, port=8080, host="127.0.0.1")).port == 8080
    secret = connection.parse_secret(
        base(token=TOKEN, database='"My Db"', schema="PUBLIC", warehouse="WH_$1", role="R")
    )
    assert (secret.database, secret.warehouse) == ('"My Db"', "WH_$1")
    assert connection.check_identifier("HOL_DB.PUBLIC.T", "table", qualified=True)
    with pytest.raises(TutorialError, match="'HOL_DB.PUBLIC.T' is not a Snowflake identifier"):
        connection.check_identifier("HOL_DB.PUBLIC.T", "Hyperparameter warehouse")


def test_a_secret_value_never_appears_in_a_type_error():
    with pytest.raises(TutorialError) as raised:
        connection.parse_secret(base(password=PASSWORD, token=[TOKEN]))
    assert str(raised.value) == "The secret's token must be a string, not a list."
    assert_no_secret(str(raised.value))


@pytest.mark.parametrize("region", ["us east 1", "mars-north-9", "US-EAST-1", "us-east-1 "])
def test_a_region_that_is_not_one_is_refused_before_any_call(region, monkeypatch):
    monkeypatch.setattr(connection.boto3, "client", lambda *a, **k: pytest.fail("called AWS"))
    with pytest.raises(TutorialError, match=r"is not an AWS Region name: use one like us-east-1"):
        connection.read_secret("tests/any", region)
    with pytest.raises(TutorialError, match=r"is not an AWS Region name"):
        connection.store_secret("tests/any", base(token=TOKEN), region)
