"""Starting, inspecting and stopping the local stack: nothing left running, clear errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from sagemaker_snowpark.errors import TutorialError
from snowpark_local import stack
from snowpark_local.jobs import docker

CLI = [sys.executable, "-m", "snowpark_local.cli"]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_status_down_leave_nothing_behind(tmp_path, state_dir):
    state = tmp_path / "state"
    info = stack.up(state)
    try:
        ports = (info["aws_port"], info["snowflake_port"])
        assert all(listening(p) for p in ports)
        session_stack = stack.running_info(stack.StackFiles(state_dir))
        assert not set(ports) & {session_stack["aws_port"], session_stack["snowflake_port"]}
        assert stack.up(state)["pid"] == info["pid"]  # a second `up` finds it running
        assert stack.status(state).startswith(f"The local stack runs as process {info['pid']}")
        env = stack.client_environment(state)
        assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{info['aws_port']}"
        assert env["SNOWFLAKE_PORT"] == str(info["snowflake_port"])
    finally:
        stack.down(state)
    assert not alive(info["pid"])
    assert not any(listening(p) for p in ports)
    assert not (state / "stack.json").exists() and not (state / "stack.env").exists()
    assert stack.status(state).startswith("The local stack is not running")
    assert stack.down(state) == "The local stack is not running."


def test_a_dead_stack_is_reported_and_replaced(tmp_path):
    state = tmp_path / "state"
    info = stack.up(state)
    os.kill(info["pid"], signal.SIGKILL)
    deadline = time.time() + 5
    while alive(info["pid"]) and time.time() < deadline:
        try:
            os.waitpid(info["pid"], os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    with pytest.raises(TutorialError, match=r"The local stack died \(process \d+ is gone"):
        stack.client_environment(state)
    result = subprocess.run(CLI + ["--state", str(state), "status"], capture_output=True, text=True)
    assert result.returncode == 1 and "The local stack died" in result.stdout
    again = stack.up(state)
    try:
        assert again["pid"] != info["pid"]
    finally:
        stack.down(state)


def test_a_corrupted_database_file_is_reported_not_reset(tmp_path):
    state = tmp_path / "state"
    (state / "snowflake").mkdir(parents=True)
    broken = state / "snowflake" / "HOL_DB.db"
    broken.write_bytes(b"this is not a DuckDB file" * 100)
    with pytest.raises(TutorialError, match="HOL_DB.db cannot be opened.*make local-reset"):
        stack.up(state, timeout=30)
    assert broken.read_bytes().startswith(b"this is not a DuckDB file")  # left for the learner


def test_exec_runs_a_command_inside_the_stack(state_dir):
    show = "import os; print(os.environ.get('AWS_ENDPOINT_URL'), os.environ.get('AWS_PROFILE'))"
    env = {**os.environ, "AWS_PROFILE": "my-real-account"}
    result = subprocess.run(
        CLI + ["--state", str(state_dir), "exec", "--", sys.executable, "-c", show],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    info = json.loads((state_dir / "stack.json").read_text())
    assert result.stdout.split() == [f"http://127.0.0.1:{info['aws_port']}", "None"]


def test_exec_without_a_stack_says_how_to_start_one(tmp_path):
    result = subprocess.run(
        CLI + ["--state", str(tmp_path), "exec", "--", "true"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"snowpark-local: The local stack is not running (no {tmp_path}/stack.json). "
        "Start it with `make local-up`."
    )


def test_training_jobs_run_as_processes_when_no_docker_engine_answers(monkeypatch):
    monkeypatch.delenv("SNOWPARK_LOCAL_RUNTIME", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker.choose_mode() == "process"
    monkeypatch.setenv("SNOWPARK_LOCAL_RUNTIME", "Process")
    assert docker.choose_mode() == "process"


def test_forcing_docker_without_an_engine_fails_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("SNOWPARK_LOCAL_RUNTIME", "docker")
    with pytest.raises(TutorialError, match="no Docker engine answers .*start Docker, or unset"):
        stack.up(tmp_path / "state")
    assert not (tmp_path / "state" / "stack.json").exists()


def test_an_unknown_runtime_is_named_with_the_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWPARK_LOCAL_RUNTIME", "vm")
    with pytest.raises(TutorialError, match="SNOWPARK_LOCAL_RUNTIME=vm is not a runtime: set it"):
        stack.up(tmp_path / "state")


def test_the_session_stack_says_how_training_jobs_run(state_dir):
    assert "training jobs run as processes" in stack.status(state_dir)
