"""The local stack's `docker` mode: build the training image for real and run its container.

The stack picks the mode when it starts: `docker` when a Docker engine answers (`docker info`),
else `process`; SNOWPARK_LOCAL_RUNTIME=process or =docker forces one. In docker mode a CodeBuild
build of a training image (a Dockerfile with a `train` program beside it) runs `docker build`,
and a training job runs `docker run IMAGE train` with the job's /opt/ml tree mounted, as SageMaker
does. SNOWPARK_LOCAL_BASE_IMAGE, when set, replaces the Dockerfile's BASE_IMAGE build argument
(the tests build on a base image made locally, as no registry is reachable there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sagemaker_snowpark.errors import TutorialError

MODES = ("process", "docker")


def engine_answers(timeout: float = 15) -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def choose_mode() -> str:
    forced = os.environ.get("SNOWPARK_LOCAL_RUNTIME", "").strip().lower()
    if forced:
        if forced not in MODES:
            raise TutorialError(
                f"SNOWPARK_LOCAL_RUNTIME={forced} is not a runtime: set it to process or docker, "
                "or unset it to use Docker when an engine answers."
            )
        if forced == "docker" and not engine_answers():
            raise TutorialError(
                "SNOWPARK_LOCAL_RUNTIME=docker, but no Docker engine answers (`docker info` "
                "fails): start Docker, or unset the variable to run training jobs as processes."
            )
        return forced
    return "docker" if engine_answers() else "process"


def image_exists(tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True)
    return result.returncode == 0


def build(source_dir: Path, dockerfile: str, tag: str, log) -> int:
    """`docker build` from the extracted build source; every output line goes to `log`."""
    command = ["docker", "build", "--network", "host", "-f", dockerfile, "-t", tag]
    base_image = os.environ.get("SNOWPARK_LOCAL_BASE_IMAGE")
    if base_image and "ARG BASE_IMAGE" in (source_dir / dockerfile).read_text():
        command += ["--build-arg", f"BASE_IMAGE={base_image}"]
    process = subprocess.Popen(
        [*command, "."],
        cwd=source_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in process.stdout:
        log(line.rstrip())
    return process.wait()


def env_file(tree: Path) -> Path:
    return tree.with_name(tree.name + ".env")


def run_command(
    image: str,
    name: str,
    tree: Path,
    scratch: Path,
    hosts: list[str],
    env: dict[str, str],
    command: list[str] | None = None,
    entrypoint: str | None = None,
) -> list[str]:
    """The `docker run` that stands for one host of a training job (`IMAGE train`), or of a
    processing job (`command` and `entrypoint` from its AppSpecification).

    The environment goes through a file beside the tree, not the command line, which any local
    user could read. Every host shares this machine's network (the stack's endpoints listen on
    it), so each host name of the job resolves to this machine, as algo-N resolve on SageMaker.
    `scratch` becomes the container's /tmp, where SageMaker mounts the instance's storage.
    """
    path = env_file(tree)
    path.touch(mode=0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))
    user = []
    if os.getuid() != 0:
        # SageMaker runs the container as root; here its files land in the learner's own state
        # folder, so it runs as the learner, who can then delete them. That user has no home in
        # the image: HOME is /tmp, the learner's own scratch folder.
        user = ["--user", f"{os.getuid()}:{os.getgid()}", "--env", "HOME=/tmp"]
    names = [argument for host in hosts for argument in ("--add-host", f"{host}:127.0.0.1")]
    return [
        "docker",
        "run",
        "--rm",
        "--name",
        name,
        "--network",
        "host",
        *names,
        "--volume",
        f"{tree}:/opt/ml",
        "--volume",
        f"{scratch}:/tmp",
        "--env-file",
        str(path),
        *user,
        *(["--entrypoint", entrypoint] if entrypoint else []),
        image,
        *(["train"] if command is None else command),
    ]


def remove_env_file(tree: Path) -> None:
    env_file(tree).unlink(missing_ok=True)


def signal_container(name: str, signal_name: str) -> None:
    subprocess.run(["docker", "kill", "--signal", signal_name, name], capture_output=True)
