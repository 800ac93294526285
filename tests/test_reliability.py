"""Faults a learner meets: a failing Snowflake, a denied secret, a failing notebook cell."""

from __future__ import annotations

import http.server
import threading
import time

import boto3
import nbformat
import pytest
from botocore.stub import Stubber
from nbformat.v4 import new_code_cell, new_notebook

from sagemaker_snowpark import connection, keypair
from sagemaker_snowpark.errors import TutorialError
from snowpark_local.series import execute

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"internal error")

    def log_message(self, *args):
        pass


@pytest.mark.stack
def test_a_failing_snowflake_ends_in_a_bounded_clear_error(unique):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection.store_secret(
            f"tests/failing-{unique}",
            {
                "account": "myorg-failing",
                "user": "U",
                "privateKey": keypair.generate().private_pem,
                "host": "127.0.0.1",
                "port": str(server.server_address[1]),
                "protocol": "http",
            },
        )
        started = time.time()
        with pytest.raises(TutorialError, match=r"Cannot reach Snowflake for account myorg-fail"):
            connection.session(f"tests/failing-{unique}", login_timeout=5)
        assert time.time() - started < 45  # retries with backoff, then stops: no silent hang
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.stack
def test_the_secret_is_read_once_per_process(unique):
    name = f"tests/once-{unique}"
    connection.store_secret(name, {"account": "A", "user": "U", "token": "t0ken-value"})
    calls = []
    session = boto3._get_default_session()
    session.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **kwargs: calls.append(1)
    )
    try:
        for _ in range(3):
            assert connection.read_secret(name).user == "U"
    finally:
        session.events.unregister("before-call.secrets-manager.GetSecretValue")
    assert len(calls) == 1


def test_a_secret_the_role_may_not_read_says_which_permission(monkeypatch):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "get_secret_value",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: secretsmanager:GetSecretValue",
    )
    stubber.activate()
    monkeypatch.setattr(connection.boto3, "client", lambda *args, **kwargs: client)
    with pytest.raises(TutorialError, match="Not allowed to read secret tests/denied in us-east-1"):
        connection.read_secret("tests/denied", "us-east-1")
    connection.read_secret.cache_clear()


def test_an_unknown_auth_kind_is_refused():
    with pytest.raises(TutorialError, match=r"unknown field\(s\) oauthToken: allowed fields are"):
        connection.parse_secret({"account": "A", "user": "U", "oauthToken": "x"})


@pytest.mark.stack
def test_a_failing_notebook_cell_reports_one_line(tmp_path, unique):
    notebook = new_notebook(
        cells=[
            new_code_cell("from sagemaker_snowpark import connection"),
            new_code_cell(f"connection.session('tests/missing-{unique}', 'us-east-1')"),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "99_failing.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(TutorialError) as raised:
        execute(path, tmp_path / "out.ipynb")
    assert str(raised.value) == (
        f"99_failing.ipynb failed at code cell 2: TutorialError: Secret tests/missing-{unique} "
        "does not exist in us-east-1: run notebook 02 to store it, or check the secret name and "
        "Region."
    )
    error = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[1].outputs[0]
    assert error.output_type == "error" and len(error.traceback) == 1  # no library traceback
