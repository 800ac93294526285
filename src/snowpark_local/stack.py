"""The local stack's life: start it in the background, say what runs where, stop it cleanly.

`serve` runs in the stack's own process: moto (AWS) and fakesnow (Snowflake) in threads on
127.0.0.1 and free ports, the CodeBuild builder and the training runtime beside them. It writes
`stack.json` (its process and ports) and `stack.env` (what a client process needs: endpoints,
fake credentials, region, the role, bucket and domain to use) into the state folder, and removes
both when it stops. `up`, `down` and `status` manage that process from the outside.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sagemaker_snowpark.errors import TutorialError

from .accounts import REGION, SEEDED_PREREQUISITES, SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER

# What a training job's container gets from the stack, standing in for what SageMaker provides
# (the role's credentials, the Region) and for the network that reaches Snowflake.
# The job's AWS credentials are the execution role's, made by the runtime for each job.
TRAINING_JOB_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_MAX_ATTEMPTS",
    "SNOWFLAKE_WIF_ALLOWED_HOST_SUFFIXES",
)
# A learner's shell may hold real AWS settings; a process using the stack must not mix them in.
CONFLICTING_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


def default_state_dir() -> Path:
    return Path(os.environ.get("SNOWPARK_LOCAL_STATE") or ".local").resolve()


@dataclass(frozen=True)
class StackFiles:
    state_dir: Path

    @property
    def info(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def env(self) -> Path:
        return self.state_dir / "stack.env"

    @property
    def log(self) -> Path:
        return self.state_dir / "stack.log"

    @property
    def administrator_env(self) -> Path:
        """Keys of the account's administrator, for the stack's own tests only (never a learner's
        notebook: those run as the learner)."""
        return self.state_dir / "administrator.env"

    @property
    def authorizations(self) -> Path:
        """Every distinct request IAM allowed (principal, action, resource), one JSON a line."""
        return self.state_dir / "authorizations.jsonl"

    @property
    def sdk_config(self) -> Path:
        return self.state_dir / "sagemaker-config.yaml"


# --- Inside the stack's process


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def _environment(
    files: StackFiles,
    aws_port: int,
    snowflake_port: int,
    learner_key: dict[str, str],
    prerequisites: dict[str, str],
) -> dict[str, str]:
    """What a client process needs; `prerequisites` names the role, CodeBuild role, bucket and
    domain (the template's stack outputs, or the seeded ones)."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws_port}",
        # The learner signs in as an IAM user whose only permissions are policies/learner.json.
        "AWS_ACCESS_KEY_ID": learner_key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": learner_key["SecretAccessKey"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "2",
        # Turns the SDK's telemetry off: it would call a real AWS host from a thread.
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(files.sdk_config),
        **prerequisites,
        "SNOWFLAKE_ACCOUNT": SNOWFLAKE_ACCOUNT,
        "SNOWFLAKE_USER": SNOWFLAKE_USER,
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": str(snowflake_port),
        "SNOWFLAKE_PROTOCOL": "http",
        # The connector sends workload-identity proofs only to Snowflake's own domains.
        "SNOWFLAKE_WIF_ALLOWED_HOST_SUFFIXES": "127.0.0.1",
        # The workshop's own files, shipped in data/quickstart/: the rows a learner on AWS loads.
        "TUTORIAL_DATA": "quickstart",
        "SNOWPARK_LOCAL_STATE": str(files.state_dir),
        # The notebooks read no tutorial.env: a learner's real account never mixes in.
        "SAGEMAKER_SNOWPARK_ENV_FILE": "",
    }


SDK_CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port: no race with other programs
    return sock


def serve(state_dir: Path) -> None:
    """Run the stack in this process until SIGTERM or SIGINT."""
    from . import patches
    from .aws import iam
    from .aws.server import start_moto
    from .jobs import docker
    from .jobs.builds import ImageBuilder
    from .jobs.processing import ProcessingRuntime
    from .jobs.training import TrainingRuntime
    from .seed import deploy_template, seed, seed_aws
    from .snowflake.server import SnowflakeServer
    from .workers import WORKERS

    files = StackFiles(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    running = read_info(files)
    if running and _alive(running["pid"]):
        raise TutorialError(f"The local stack already runs (process {running['pid']}).")
    seeded = seed()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    patches.install()  # every change to moto and fakesnow, checked against them first
    mode = docker.choose_mode()
    builder = ImageBuilder(state_dir, mode)
    runtime = TrainingRuntime(state_dir, builder.images, endpoints={})
    processing = ProcessingRuntime(state_dir, builder.images, endpoints={})
    WORKERS.training, WORKERS.builds, WORKERS.processing = runtime, builder, processing
    moto, aws_port = start_moto()
    # Snowflake sends large results in chunks of about 16 MB; a smaller size shows streaming on
    # small tables (the tests use it).
    chunk_bytes = int(os.environ.get("SNOWPARK_LOCAL_CHUNK_BYTES") or 16 * 1024 * 1024)
    snowflake = SnowflakeServer(state_dir, chunk_bytes)
    try:
        snowflake_socket = _loopback_socket()
        snowflake.start(snowflake_socket)
        snowflake_port = snowflake_socket.getsockname()[1]
        endpoint = f"http://127.0.0.1:{aws_port}"
        keys = seed_aws(endpoint, prerequisites=seeded == "policies")
        files.authorizations.unlink(missing_ok=True)
        iam.record_to(files.authorizations)
        iam.enforce()
        administrator = keys["administrator"]
        if seeded == "template":
            prerequisites = deploy_template(endpoint, administrator)
        else:
            prerequisites = SEEDED_PREREQUISITES
        env = _environment(files, aws_port, snowflake_port, keys["learner"], prerequisites)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(os.open(files.administrator_env, flags, 0o600), "w") as file:
            file.write(
                f"AWS_ACCESS_KEY_ID={administrator['AccessKeyId']}\n"
                f"AWS_SECRET_ACCESS_KEY={administrator['SecretAccessKey']}\n"
            )
        runtime.endpoints = {k: env[k] for k in TRAINING_JOB_VARIABLES}
        processing.endpoints = runtime.endpoints
        files.sdk_config.write_text(SDK_CONFIG)
        _write_atomically(files.env, "".join(f"{k}={v}\n" for k, v in env.items()))
        info = {
            "pid": os.getpid(),
            "aws_port": aws_port,
            "snowflake_port": snowflake_port,
            "runtime": mode,
            "seed": seeded,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _write_atomically(files.info, json.dumps(info))
        print(
            f"local stack ready: AWS on {aws_port}, Snowflake on {snowflake_port}, "
            f"training jobs as {mode}",
            flush=True,
        )
        stop.wait()
    finally:
        files.info.unlink(missing_ok=True)
        files.env.unlink(missing_ok=True)
        files.administrator_env.unlink(missing_ok=True)
        runtime.shutdown()
        processing.shutdown()
        snowflake.stop()
        moto.stop()
        print("local stack stopped", flush=True)


# --- From the outside


def read_info(files: StackFiles) -> dict | None:
    try:
        return json.loads(files.info.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise TutorialError(
            f"{files.info} is unreadable ({error}); stop any stack process by hand and remove it."
        ) from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(files: StackFiles, lines: int = 5) -> str:
    try:
        return " | ".join(files.log.read_text().strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def running_info(files: StackFiles) -> dict:
    """The running stack's info, or a clear error when it is not running or has died."""
    info = read_info(files)
    if info is None:
        raise TutorialError(
            f"The local stack is not running (no {files.info}). Start it with `make local-up`."
        )
    if not _alive(info["pid"]):
        raise TutorialError(
            f"The local stack died (process {info['pid']} is gone; its log ends: "
            f"{_log_tail(files)}). Run `make local-down` then `make local-up`."
        )
    for name in ("aws_port", "snowflake_port"):
        if not _listening(info[name]):
            raise TutorialError(
                f"The local stack's process {info['pid']} runs but nothing answers on port "
                f"{info[name]} ({name}). Run `make local-down` then `make local-up`."
            )
    return info


def up(state_dir: Path, timeout: float = 60.0) -> dict:
    """Start the stack in the background (or find it running) and wait until it answers."""
    files = StackFiles(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    info = read_info(files)
    if info is not None:
        if _alive(info["pid"]):
            return running_info(files)
        files.info.unlink()  # a stack that died left this behind; its ports are free again
        files.env.unlink(missing_ok=True)
    with open(files.log, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snowpark_local.cli",
                "--state",
                str(state_dir),
                "serve",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the make or pytest that started it
        )
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise TutorialError(
                f"The local stack exited while starting (code {process.returncode}); its log "
                f"ends: {_log_tail(files)}"
            )
        info = read_info(files)
        if info is not None and info["pid"] == process.pid:
            return running_info(files)
        time.sleep(0.1)
    process.terminate()
    raise TutorialError(f"The local stack did not start within {timeout:.0f} s; see {files.log}.")


def down(state_dir: Path, timeout: float = 30.0) -> str:
    """Stop the stack and wait until its process and ports are gone."""
    files = StackFiles(state_dir)
    info = read_info(files)
    if info is None:
        return "The local stack is not running."
    pid = info["pid"]
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while _alive(pid) and time.time() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
    files.info.unlink(missing_ok=True)
    files.env.unlink(missing_ok=True)
    still_open = [p for p in (info["aws_port"], info["snowflake_port"]) if _listening(p)]
    if still_open:
        raise TutorialError(f"The local stack stopped but ports {still_open} still answer.")
    return f"The local stack (process {pid}) stopped."


def _reap(pid: int) -> None:
    # When this process started the stack (tests do), collect it so it is not left a zombie.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def status(state_dir: Path) -> str:
    files = StackFiles(state_dir)
    try:
        info = running_info(files)
    except TutorialError as error:
        return str(error)
    return (
        f"The local stack runs as process {info['pid']} since {info['started']}: "
        f"AWS (moto) on http://127.0.0.1:{info['aws_port']}, "
        f"Snowflake (fakesnow) on http://127.0.0.1:{info['snowflake_port']}; "
        f"training jobs run as {'containers' if info.get('runtime') == 'docker' else 'processes'}"
        f"; state in {state_dir}, environment in {files.env}."
    )


def client_environment(state_dir: Path) -> dict[str, str]:
    """The running stack's environment, to apply to a client process (checks that it runs)."""
    files = StackFiles(state_dir)
    running_info(files)
    env = {}
    for line in files.env.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


def administrator_keys(state_dir: Path) -> dict[str, str]:
    """The account administrator's AWS keys, for the stack's tests and benchmarks only: they
    make resources outside the tutorial's policies. Notebooks run as the learner."""
    files = StackFiles(state_dir)
    running_info(files)
    return dict(line.split("=", 1) for line in files.administrator_env.read_text().splitlines())


def apply_environment(env: dict[str, str], target: dict | None = None) -> None:
    """Set the stack's variables in `target` (os.environ by default), dropping conflicting ones."""
    target = os.environ if target is None else target
    for name in CONFLICTING_VARIABLES:
        target.pop(name, None)
    for key, value in env.items():
        # The tutorial's own parameters are defaults: a value set by the learner wins
        # (e.g. `make tutorial ROWS=100000` sets TUTORIAL_DATA and TUTORIAL_ROWS).
        if key.startswith("TUTORIAL_") and target.get(key):
            continue
        target[key] = value
