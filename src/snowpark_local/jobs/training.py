"""The local training runtime: runs a SageMaker training job the way SageMaker runs a BYOC image.

For each host (algo-1, algo-2, ...) it lays out an /opt/ml-shaped tree under the state folder,
starts the image's `train` program with the job's environment plus the stack's endpoints, streams
its output to CloudWatch Logs (`/aws/sagemaker/TrainingJobs`, stream `<job>/algo-N-<epoch>`),
and lets the exit codes decide the status. Afterwards /opt/ml/model becomes model.tar.gz and
/opt/ml/output/data becomes output.tar.gz at the job's S3 output path, and the text of
/opt/ml/output/failure becomes FailureReason. StopTrainingJob sends SIGTERM, then SIGKILL after a
grace period, as SageMaker does; so does reaching StoppingCondition.MaxRuntimeInSeconds, after
which the job is Stopped with SecondaryStatus MaxRuntimeExceeded.

In `docker` mode (a Docker engine answers) each host is a container of the real image, started as
`docker run IMAGE train` with the host's tree mounted on /opt/ml, a scratch folder on /tmp, the
host network, and the job's host names (algo-1, ...) resolving to this machine. Without one, the
program runs as a local process of this Python environment, from the source the image was built
from (`process` mode), with SAGEMAKER_BASE_DIR naming its tree and TMPDIR its scratch folder.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from moto.core.utils import utcnow
from moto.sts.models import sts_backends

from snowpark_local.aws.ecr import find_ecr_image, may_pull
from snowpark_local.aws.iam import role_allows
from snowpark_local.aws.sagemaker.training import TRAINING_LOG_GROUP, training_job
from snowpark_local.aws.store import list_s3_keys, put_log_lines, read_s3_object, write_s3_object

from . import docker
from .builds import BuiltImage

FAILURE_REASON_LIMIT = 1024  # SageMaker truncates FailureReason to 1024 characters
DEFAULT_MAX_RUNTIME_SECONDS = 86400  # StoppingCondition.MaxRuntimeInSeconds: "1 day" by default
LOG_FLUSH_SECONDS = 0.5
# Variables of the stack's own process that a process-mode program inherits; the rest (a learner's
# real AWS credentials among them) stays out. A container keeps its image's own.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "TZ")


class _ClientError(Exception):
    """The job's own configuration is at fault (SageMaker's ClientError), not the stack."""


@dataclass
class _Run:
    """One running job: its processes, whether a stop was asked for, and when its
    MaxRuntimeInSeconds runs out (`deadline`, a time.time(); `timed_out` once it has)."""

    processes: list[subprocess.Popen] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    deadline: float | None = None
    timed_out: bool = False


class TrainingRuntime:
    def __init__(
        self,
        state_dir: Path,
        images: dict[str, BuiltImage],
        endpoints: dict[str, str],
        python: str = sys.executable,
        stop_grace_seconds: float = 120.0,  # AWS: SIGTERM "delays job termination for 120 s"
    ):
        self.jobs_dir = state_dir / "jobs"
        self.images = images
        self.endpoints = endpoints
        self.python = python
        self.stop_grace_seconds = stop_grace_seconds
        self._runs: dict[tuple[str, str, str], _Run] = {}
        self._lock = threading.Lock()

    # --- called by the SageMaker handlers

    def start(self, account: str, region: str, name: str) -> None:
        run = _Run()
        run.thread = threading.Thread(
            target=self._run_job, args=(account, region, name, run), name=f"job-{name}", daemon=True
        )
        with self._lock:
            self._runs[(account, region, name)] = run
        run.thread.start()

    def stop(self, account: str, region: str, name: str) -> None:
        with self._lock:
            run = self._runs.get((account, region, name))
        if run is not None:
            run.stop_requested.set()
            self._signal(run, signal.SIGTERM)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every running job (the stack is going down) and wait for their threads."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop_requested.set()
            self._signal(run, signal.SIGTERM)
        deadline = time.time() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.time()))
            self._signal(run, signal.SIGKILL)

    # --- the job

    def _run_job(self, account: str, region: str, name: str, run: _Run) -> None:
        job = training_job(account, region, name)
        if job is None:
            return
        started = time.time()
        run.deadline = started + max_runtime(job.stopping_condition)
        job.training_start_time = utcnow()
        hosts = [f"algo-{i}" for i in range(1, job.resource_config["InstanceCount"] + 1)]
        streams = {host: f"{name}/{host}-{int(started)}" for host in hosts}
        logged: dict[str, list[str]] = {host: [] for host in hosts}
        try:
            status, reason = self._train(account, region, job, hosts, streams, logged, run)
        except Exception as error:  # the stack's own fault: report it rather than hang InProgress
            status, reason = "Failed", f"InternalServerError: local stack: {error}"
        self._transition(job, "Uploading", "Uploading generated training model")
        try:
            self._upload(account, job, hosts)
        except Exception as error:
            if status == "Failed":
                # The program's own reason is the one that explains the job: keep it.
                logging.getLogger(__name__).warning(
                    "training job %s: uploading after the failure failed too: %s", name, error
                )
            elif isinstance(error, _ClientError):
                status, reason = "Failed", str(error)
            else:  # the stack's own fault, named as such
                status, reason = (
                    "Failed",
                    f"InternalServerError: local stack: uploading the model failed: {error}",
                )
        job.final_metric_data_list = _final_metrics(job.algorithm_specification, logged)
        ended = time.time()
        job.training_end_time = utcnow()
        job.training_time_in_seconds = max(1, math.ceil(ended - started))
        # Wall-clock time, as AWS reports it: the bill is this times the instance count.
        job.billable_time_in_seconds = job.training_time_in_seconds
        if reason:
            job.failure_reason = reason[:FAILURE_REASON_LIMIT]
        # Last: the SDK stops reading logs once it sees a final status.
        if run.timed_out:
            self._transition(
                job,
                "MaxRuntimeExceeded",
                "The job stopped because it exceeded the maximum allowed runtime "
                f"(MaxRuntimeInSeconds {max_runtime(job.stopping_condition)}).",
            )
        else:
            self._transition(job, status, reason or "")
        job.training_job_status = status
        with self._lock:
            self._runs.pop((account, region, job.training_job_name), None)

    def _train(self, account, region, job, hosts, streams, logged, run) -> tuple[str, str | None]:
        image_uri = job.algorithm_specification["TrainingImage"]
        found = find_ecr_image(image_uri)
        built = self.images.get(found.digest) if found else None
        if built is None:
            return "Failed", (
                f"ClientError: the training image {image_uri} does not exist in Amazon ECR; "
                "build and push it before starting the job"
            )
        if not may_pull(account, job.role_arn, found):
            return "Failed", (
                f"ClientError: the execution role {job.role_arn} may not pull {image_uri}: grant "
                "it ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer"
            )
        # Without these SageMaker still runs the job, but its logs never reach CloudWatch.
        group = f"arn:aws:logs:{region}:{account}:log-group:{TRAINING_LOG_GROUP}"
        can_log = all(
            role_allows(account, job.role_arn, action, f"{group}:log-stream:{streams[host]}")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents")
            for host in hosts
        )
        job_dir = self.jobs_dir / job.training_job_name
        shutil.rmtree(job_dir, ignore_errors=True)
        channels = job.input_data_config or []
        if channels:
            self._transition(job, "Downloading", "Downloading input data")
        trees = {
            host: self._prepare_tree(account, job, job_dir / host, host, hosts) for host in hosts
        }
        self._transition(
            job, "Training", "Training image download completed. Training in progress."
        )
        if run.stop_requested.is_set():
            return "Stopped", None

        network = {}
        if len(hosts) > 1:
            # On SageMaker each instance has a network of its own, where the program's agreed
            # tracker port (its tracker_port hyperparameter) is free. Here every host shares this
            # machine's network, where that port may be taken, so the stack picks a free one.
            network = {"TRACKER_PORT": str(_free_port())}
            if not built.docker_image:
                # Containers resolve algo-N by name (--add-host), as on SageMaker; processes use
                # this machine's resolver, which cannot learn those names without root.
                network["TRACKER_HOST"] = "127.0.0.1"
        # Each host's /tmp: on SageMaker the instance's storage volume, gone with the instance.
        scratch = {host: job_dir / f"{host}.tmp" for host in hosts}
        pumps = []
        job_environment = self._environment(job)  # one session of the role serves every host
        shares = cpu_shares(len(hosts)) if not built.docker_image else [None] * len(hosts)
        for host, cpus in zip(hosts, shares, strict=True):
            scratch[host].mkdir()
            env = {**job_environment, **network}
            if built.docker_image:  # docker mode: the real image, /opt/ml mounted
                container = f"sm-{job.training_job_name}-{host}"
                command = docker.run_command(
                    built.docker_image, container, trees[host], scratch[host], hosts, env
                )
                run.containers.append(container)
            else:  # process mode: the image's train program, from the image's build source
                command = [self.python, str(built.train_program)]
                env.update({k: os.environ[k] for k in INHERITED_VARIABLES if k in os.environ})
                env.update(
                    {
                        # Where this process's /opt/ml is; a container sees the real /opt/ml.
                        "SAGEMAKER_BASE_DIR": str(trees[host]),
                        # The image's code is its build source, not what this checkout holds now.
                        "PYTHONPATH": str(built.source_dir / "src"),
                        "TMPDIR": str(scratch[host]),
                    }
                )
            pumps.append(
                start_program(
                    run,
                    command,
                    trees[host],
                    env if not built.docker_image else None,
                    (account, region, streams[host] if can_log else None, logged[host]),
                    cpus=cpus,
                )
            )

        exit_codes, first_failed = self._wait(run, on_timeout=lambda: _stopping(job))
        for pump in pumps:
            pump.join()
        for tree in trees.values():
            docker.remove_env_file(tree)
        for folder in scratch.values():
            shutil.rmtree(folder, ignore_errors=True)
        if run.stop_requested.is_set():
            return "Stopped", None
        if first_failed is None:
            return "Completed", None
        # The host that failed first has the cause; the others were stopped because of it.
        host = hosts[first_failed]
        failure_file = trees[host] / "output" / "failure"
        text = failure_file.read_text(errors="replace").strip() if failure_file.is_file() else ""
        if text:
            return "Failed", "AlgorithmError: " + text
        code = exit_codes[first_failed]
        return "Failed", f"AlgorithmError: the train program on {host} exited with code {code}"

    def _wait(
        self, run: _Run, on_timeout: Callable[[], None] | None = None
    ) -> tuple[list[int], int | None]:
        """Wait for every process; one failing host stops the others, as on SageMaker, and so
        does the run's deadline (then `on_timeout` is called, and `run.timed_out` is set).

        Returns the exit codes and the index of the first host that failed by itself (None: all
        ended well), whose reason becomes the job's."""
        stop_sent_at = None
        first_failed = None
        while True:
            codes = [p.poll() for p in run.processes]
            if first_failed is None and stop_sent_at is None:
                failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
                first_failed = failed[0] if failed else None
            if all(c is not None for c in codes):
                return codes, first_failed
            if (
                stop_sent_at is None
                and not run.stop_requested.is_set()
                and run.deadline is not None
                and time.time() >= run.deadline
            ):
                # MaxRuntimeInSeconds: SageMaker ends the job as a stop does, SIGTERM and grace.
                run.timed_out = True
                run.stop_requested.set()
                if on_timeout is not None:
                    on_timeout()
            if stop_sent_at is None and (
                run.stop_requested.is_set() or any(c not in (None, 0) for c in codes)
            ):
                self._signal(run, signal.SIGTERM)
                stop_sent_at = time.time()
            if stop_sent_at is not None and time.time() - stop_sent_at > self.stop_grace_seconds:
                self._signal(run, signal.SIGKILL)
            time.sleep(0.05)

    @staticmethod
    def _signal(run: _Run, sig: int) -> None:
        for container in run.containers:  # `docker kill --signal` reaches the container's train
            docker.signal_container(container, signal.Signals(sig).name)
        if run.containers and sig != signal.SIGKILL:
            return  # each `docker run` client ends with its container; SIGTERM goes once
        for process in run.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass

    def _prepare_tree(self, account, job, root: Path, host: str, hosts: list[str]) -> Path:
        config = root / "input" / "config"
        for folder in (config, root / "model", root / "output" / "data", root / "code"):
            folder.mkdir(parents=True, exist_ok=True)
        resource = job.resource_config
        (config / "hyperparameters.json").write_text(json.dumps(job.hyper_parameters or {}))
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": host,
                    "current_instance_type": resource["InstanceType"],
                    "current_group_name": "homogeneousCluster",
                    "hosts": hosts,
                    "instance_groups": [
                        {
                            "instance_group_name": "homogeneousCluster",
                            "instance_type": resource["InstanceType"],
                            "hosts": hosts,
                        }
                    ],
                    "network_interface_name": "eth0",
                }
            )
        )
        channels = {}
        for channel in job.input_data_config or []:
            channels[channel["ChannelName"]] = {
                "ContentType": channel.get("ContentType", ""),
                "TrainingInputMode": channel.get("InputMode", "File"),
                "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            self._download_channel(
                account, channel, root / "input" / "data" / channel["ChannelName"]
            )
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        return root

    @staticmethod
    def _download_channel(account: str, channel: dict, target: Path) -> None:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        target.mkdir(parents=True, exist_ok=True)
        for key in list_s3_keys(account, bucket, prefix):
            relative = key[len(prefix) :].lstrip("/") or Path(key).name
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(read_s3_object(account, bucket, key) or b"")

    def _environment(self, job) -> dict[str, str]:
        """What SageMaker gives the container, plus the stack's endpoints in place of AWS's.

        The job's AWS calls are signed with a session of its execution role, so the role's own
        policies decide them (SageMaker serves those credentials from an endpoint; here they
        are variables)."""
        env = {**self.endpoints, **role_session(job.arn, job.role_arn, job.stopping_condition)}
        env.update(job.environment or {})
        env.update(
            {
                "TRAINING_JOB_NAME": job.training_job_name,
                "TRAINING_JOB_ARN": job.arn,
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _upload(self, account: str, job, hosts: list[str]) -> None:
        output = job.output_data_config["S3OutputPath"].removeprefix("s3://").rstrip("/")
        bucket, _, prefix = output.partition("/")
        base = f"{prefix}/{job.training_job_name}/output".lstrip("/")
        root = self.jobs_dir / job.training_job_name / hosts[0]
        if not root.exists():
            return
        # The program may have removed or never filled its folders: SageMaker still uploads the
        # model archive (empty) and leaves out output.tar.gz.
        for key in (f"{base}/model.tar.gz", f"{base}/output.tar.gz"):
            if not role_allows(
                account, job.role_arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"
            ):
                raise _ClientError(
                    f"ClientError: the execution role {job.role_arn} may not write "
                    f"s3://{bucket}/{key}: grant it s3:PutObject on the output path"
                )
        write_s3_object(account, bucket, f"{base}/model.tar.gz", _targz(root / "model"))
        job.model_artifacts = {"S3ModelArtifacts": f"s3://{bucket}/{base}/model.tar.gz"}
        data = root / "output" / "data"
        if data.is_dir() and any(data.iterdir()):
            write_s3_object(account, bucket, f"{base}/output.tar.gz", _targz(data))

    @staticmethod
    def _transition(job, status: str, message: str) -> None:
        now = utcnow()
        transitions = job.secondary_status_transitions or []
        if transitions and transitions[-1]["Status"] == status:
            return
        if transitions:
            transitions[-1].setdefault("EndTime", now)
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        job.secondary_status_transitions = transitions
        job.secondary_status = status
        job.last_modified_time = now


def max_runtime(stopping_condition: dict | None) -> int:
    """A job's MaxRuntimeInSeconds, or SageMaker's default."""
    limit = (stopping_condition or {}).get("MaxRuntimeInSeconds")
    return int(limit or DEFAULT_MAX_RUNTIME_SECONDS)


def _stopping(job) -> None:
    """A training job whose time ran out is Stopping, as after StopTrainingJob."""
    job.training_job_status, job.secondary_status = "Stopping", "Stopping"
    job.last_modified_time = utcnow()


def role_session(job_arn: str, role_arn: str, stopping_condition: dict | None) -> dict[str, str]:
    """Credentials of a session of the job's execution role, lasting as long as the job may run."""
    account, region = job_arn.split(":")[4], job_arn.split(":")[3]
    session = sts_backends[account]["aws"].assume_role(
        region_name=region,
        role_session_name="SageMaker",
        role_arn=role_arn,
        policy=None,
        duration=max_runtime(stopping_condition) + 3600,
        external_id=None,
    )
    return {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_shares(hosts: int) -> list[set[int] | None]:
    """Each host's share of this machine's CPUs, as each instance has CPUs of its own on SageMaker:
    disjoint sets when there are at least as many CPUs as hosts, else None (all, shared)."""
    if hosts == 1 or not hasattr(os, "sched_getaffinity"):
        return [None] * hosts
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < hosts:
        return [None] * hosts
    return [set(cpus[i::hosts]) for i in range(hosts)]


def start_program(run: _Run, command, cwd, env, log_to: tuple, group=TRAINING_LOG_GROUP, cpus=None):
    """Start one host's program (on `cpus`, when given) and the thread that copies its output to
    CloudWatch Logs (`log_to`: account, Region, stream or None, the list of lines logged); the
    thread."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a stop reaches its children
    )
    if cpus:
        # Set before the program's imports start their threads, which inherit it.
        os.sched_setaffinity(process.pid, cpus)
    run.processes.append(process)
    pump = threading.Thread(
        target=_pump_logs, args=(process, *log_to), kwargs={"group": group}, daemon=True
    )
    pump.start()
    return pump


def _pump_logs(
    process,
    account: str,
    region: str,
    stream: str | None,
    logged: list[str],
    group: str = TRAINING_LOG_GROUP,
) -> None:
    """Copy a process's output to its log stream (None: the role may not write it), in small
    batches, until it exits: lines waiting longer than LOG_FLUSH_SECONDS go out even while the
    program is silent, so a reader sees the last line before a long step."""
    pending: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def flush() -> None:
        with lock:  # held while sending, so that batches from both threads stay in order
            if stream:
                put_log_lines(account, region, group, stream, pending[:])
            pending.clear()

    def tick() -> None:
        while not done.wait(LOG_FLUSH_SECONDS):
            flush()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    for raw in iter(process.stdout.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            pending.append(line)
        logged.append(line)
        if len(pending) >= 500:
            flush()
    process.stdout.close()
    process.wait()
    done.set()
    ticker.join()
    flush()


def _final_metrics(algorithm_specification: dict, logged: dict[str, list[str]]) -> list[dict]:
    """The last value each metric definition's regex finds in algo-1's log, as SageMaker reports."""
    metrics = []
    for definition in (algorithm_specification or {}).get("MetricDefinitions") or []:
        pattern = re.compile(definition["Regex"])
        value = None
        for line in next(iter(logged.values()), []):
            if match := pattern.search(line):
                try:
                    value = float(match.group(1))
                except (IndexError, ValueError):
                    continue
        if value is not None:
            metrics.append(
                {"MetricName": definition["Name"], "Value": value, "Timestamp": utcnow()}
            )
    return metrics


def _targz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()
