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

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ROLE_NAME = "SageMakerSnowparkTutorialRole"
CODEBUILD_ROLE_NAME = "SageMakerSnowparkCodeBuildRole"
ADMINISTRATOR_USER = "stack-administrator"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"
DOMAIN_NAME = "tutorial-studio"
USER_PROFILE = "learner"  # the template's default UserProfileName
SNOWFLAKE_ACCOUNT = "LOCALSTACK"
SNOWFLAKE_USER = "SAGEMAKER_TRAINING"  # the README's set-up statements create this user
# The domain starts with a team's image attached, so the tutorial shows that attaching its own
# image keeps the others.
EXISTING_STUDIO_IMAGE = "team-data-science"
TEAM_IMAGE_ROLE_NAME = "TeamDataScienceImageRole"
# What makes the tutorial's prerequisites (role, CodeBuild role, bucket, the learner's policy):
# "policies" creates them from policies/ directly; "template" deploys infrastructure/tutorial.yaml
# through the stack's CloudFormation, as an administrator does on AWS.
SEED_VARIABLE = "SNOWPARK_LOCAL_SEED"
SEEDS = ("policies", "template")
TEMPLATE_STACK = "sagemaker-snowpark"
# The space's lifecycle script clones it; no space runs on the local stack.
TEMPLATE_REPOSITORY_URL = "https://example.com/sagemaker-snowpark.git"

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


def _team_image_role(iam) -> str:
    """The team's own image role: SageMaker pulls a Studio image as it (see local/aws.py)."""
    pull = {
        "Effect": "Allow",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{EXISTING_STUDIO_IMAGE}",
    }
    token = {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    role = iam.create_role(
        RoleName=TEAM_IMAGE_ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]
    iam.put_role_policy(
        RoleName=TEAM_IMAGE_ROLE_NAME,
        PolicyName="pull-the-team-image",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [pull, token]}),
    )
    return role["Arn"]


def seed() -> str:
    """How the stack makes the tutorial's prerequisites (SNOWPARK_LOCAL_SEED, read at start)."""
    chosen = os.environ.get(SEED_VARIABLE) or "policies"
    if chosen not in SEEDS:
        raise TutorialError(
            f"{SEED_VARIABLE}={chosen!r} is not a way to seed the local stack: use "
            f"{' or '.join(SEEDS)}."
        )
    return chosen


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
        "TUTORIAL_DATA": "generated",
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


SEEDED_PREREQUISITES = {
    "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}",
    "SAGEMAKER_CODEBUILD_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{CODEBUILD_ROLE_NAME}",
    "SAGEMAKER_BUCKET": BUCKET,
    "SAGEMAKER_DOMAIN_ID": f"d-{DOMAIN_NAME}",
    "SAGEMAKER_USER_PROFILE": USER_PROFILE,
}


def _seed_aws(endpoint: str, prerequisites: bool = True) -> dict[str, dict[str, str]]:
    """What a learner's account already has, made as its administrator before IAM is enforced:
    the learner's IAM user, a team's Studio image and domain, and (with `prerequisites`) the
    execution and CodeBuild roles (trust and permissions from policies/), the learner's
    policies/learner.json and a bucket. Returns the learner's and the administrator's keys."""
    import boto3

    from .aws import put_ecr_image
    from .iam import LEARNER_USER, policy_document

    session = boto3.session.Session(
        aws_access_key_id="administrator", aws_secret_access_key="administrator", region_name=REGION
    )

    def client(service):
        return session.client(service, endpoint_url=endpoint)

    iam = client("iam")
    # In Studio one execution role carries all three policies. Here the learner, the jobs and
    # the builds are three principals, so that each policy alone is what its calls are checked
    # against.
    iam.create_user(UserName=LEARNER_USER)
    if prerequisites:
        for role, trust, policies in (
            (ROLE_NAME, "execution-role-trust", ("training-job-role", "studio-space")),
            (CODEBUILD_ROLE_NAME, "codebuild-role-trust", ("codebuild-role",)),
        ):
            iam.create_role(
                RoleName=role, AssumeRolePolicyDocument=policy_document(f"{trust}.json")
            )
            for policy in policies:
                iam.put_role_policy(
                    RoleName=role,
                    PolicyName=policy,
                    PolicyDocument=policy_document(f"{policy}.json"),
                )
        iam.put_user_policy(
            UserName=LEARNER_USER,
            PolicyName="learner",
            PolicyDocument=policy_document("learner.json"),
        )
        client("s3").create_bucket(Bucket=BUCKET)
    learner_key = iam.create_access_key(UserName=LEARNER_USER)["AccessKey"]
    iam.create_user(UserName=ADMINISTRATOR_USER)
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName=ADMINISTRATOR_USER,
        PolicyName="administrator",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    administrator_key = iam.create_access_key(UserName=ADMINISTRATOR_USER)["AccessKey"]
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
    client("ecr").create_repository(repositoryName=EXISTING_STUDIO_IMAGE)
    put_ecr_image(ACCOUNT_ID, REGION, EXISTING_STUDIO_IMAGE, "latest", "sha256:" + "0" * 64)
    sagemaker = client("sagemaker")
    sagemaker.create_image(ImageName=EXISTING_STUDIO_IMAGE, RoleArn=_team_image_role(iam))
    sagemaker.create_image_version(
        ImageName=EXISTING_STUDIO_IMAGE,
        BaseImage=f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{EXISTING_STUDIO_IMAGE}:latest",
        ClientToken="seed",
    )
    sagemaker.create_app_image_config(
        AppImageConfigName=EXISTING_STUDIO_IMAGE,
        JupyterLabAppImageConfig={"ContainerConfig": {"ContainerArguments": []}},
    )
    sagemaker.create_domain(
        DomainName=DOMAIN_NAME,
        AuthMode="IAM",
        DefaultUserSettings={
            "ExecutionRole": role_arn,
            "JupyterLabAppSettings": {
                "CustomImages": [
                    {
                        "ImageName": EXISTING_STUDIO_IMAGE,
                        "ImageVersionNumber": 1,
                        "AppImageConfigName": EXISTING_STUDIO_IMAGE,
                    }
                ]
            },
        },
        SubnetIds=["subnet-local"],
        VpcId="vpc-local",
    )
    if prerequisites:
        # The learner's profile has JupyterLab settings of its own, as the template's has.
        sagemaker.create_user_profile(
            DomainId=f"d-{DOMAIN_NAME}",
            UserProfileName=USER_PROFILE,
            UserSettings={
                "ExecutionRole": role_arn,
                "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}},
            },
        )
    return {
        "learner": {k: learner_key[k] for k in ("AccessKeyId", "SecretAccessKey")},
        "administrator": {k: administrator_key[k] for k in ("AccessKeyId", "SecretAccessKey")},
    }


def _deploy_template(endpoint: str, administrator: dict[str, str]) -> dict[str, str]:
    """The prerequisites as docs/infrastructure.md makes them: the administrator deploys
    infrastructure/tutorial.yaml (a new domain in the default VPC), then attaches the stack's
    learner policy to the learner's IAM user. Returns the notebooks' values from the outputs."""
    import boto3

    from sagemaker_snowpark import infrastructure

    from .cloudformation import deploy
    from .iam import LEARNER_USER

    session = boto3.session.Session(
        aws_access_key_id=administrator["AccessKeyId"],
        aws_secret_access_key=administrator["SecretAccessKey"],
        region_name=REGION,
    )
    ec2 = session.client("ec2", endpoint_url=endpoint)
    default = [{"Name": "is-default", "Values": ["true"]}]
    vpc = ec2.describe_vpcs(Filters=default)["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    parameters = {
        "RepositoryUrl": TEMPLATE_REPOSITORY_URL,
        "VpcId": vpc,
        "SubnetIds": ",".join(s["SubnetId"] for s in subnets),
    }
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    outputs = deploy(cloudformation, TEMPLATE_STACK, parameters)
    learner_policy = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "LearnerPolicyArn")
    iam = session.client("iam", endpoint_url=endpoint)
    iam.attach_user_policy(UserName=LEARNER_USER, PolicyArn=learner_policy)
    values = infrastructure.environment(outputs)
    return {k: v for k, v in values.items() if k in SEEDED_PREREQUISITES}


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port: no race with other programs
    return sock


def serve(state_dir: Path) -> None:
    """Run the stack in this process until SIGTERM or SIGINT."""
    from . import docker, iam, patches
    from .aws import WORKERS, start_moto
    from .builds import ImageBuilder
    from .processing import ProcessingRuntime
    from .runtime import TrainingRuntime
    from .snowflake import SnowflakeServer

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
        keys = _seed_aws(endpoint, prerequisites=seeded == "policies")
        files.authorizations.unlink(missing_ok=True)
        iam.record_to(files.authorizations)
        iam.enforce()
        administrator = keys["administrator"]
        if seeded == "template":
            prerequisites = _deploy_template(endpoint, administrator)
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
        # (e.g. `make tutorial DATA=quickstart` sets TUTORIAL_DATA).
        if key.startswith("TUTORIAL_") and target.get(key):
            continue
        target[key] = value
