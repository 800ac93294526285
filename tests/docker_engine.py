"""The Docker engine the docker-marked tests use, started once a session (conftest.py).

The machine's Docker engine when one answers. Otherwise a private one (as root, with Debian's
docker.io and debootstrap, which .ci/run installs) and, as no registry is reachable there, a base
image made here: Debian bookworm's Python 3.11, as in the official python:3.11-slim-bookworm
image, plus this machine's CA certificates (test-only: HTTPS from a build goes through the
machine's TLS-intercepting proxy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from snowpark_local import stack

SUITE = "bookworm"  # the Dockerfile's default base is python:3.11-slim-bookworm
BASE_IMAGE = f"tutorial-test-base:{SUITE}"


@dataclass
class Engine:
    """A Docker engine to test with: its variables (DOCKER_HOST, the base image to build on)."""

    env: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def docker(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=True,
            **kwargs,
        )


def answers(env: dict[str, str]) -> bool:
    result = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    return result.returncode == 0


def why_no_private_engine() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    if os.geteuid() != 0:
        return "starting a private Docker engine needs root"
    missing = [tool for tool in ("dockerd", "debootstrap", "chroot") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install docker.io debootstrap)"
    if debian_mirror() is None:
        return "no Debian mirror in /etc/apt/sources.list* to make the base image from"
    return None


def debian_mirror() -> str | None:
    """The main archive's URI from the machine's apt sources (deb822 or one-line format)."""
    entries: list[tuple[str, list[str]]] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip()] = value.split()
            if "deb" in fields.get("Types", []) and fields.get("URIs"):
                entries.append((fields["URIs"][0], fields.get("Suites", [])))
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = [w for w in line.split("#")[0].split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], [words[2]]))
    for uri, suites in entries:
        if SUITE in suites:
            return uri
    for uri, _ in entries:  # a Debian mirror of another release serves bookworm too
        if uri.rstrip("/").endswith("/debian"):
            return uri
    return None


def start_private_engine(root: Path) -> subprocess.Popen:
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 (the daemon writes it while it runs)
    daemon = subprocess.Popen(
        [
            "dockerd",
            f"--host=unix://{root}/docker.sock",
            f"--data-root={root}/data",
            f"--exec-root={root}/exec",
            f"--pidfile={root}/dockerd.pid",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",  # no bridge: builds and containers use the host network
            "--storage-driver=overlay2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return daemon


def make_base_image(root: Path, engine: Engine) -> None:
    rootfs = root / "rootfs"
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-pip,python-is-python3,ca-certificates",
            SUITE,
            str(rootfs),
            debian_mirror(),
        ],
        capture_output=True,
        check=True,
    )
    for certificate in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates")
    subprocess.run(
        ["chroot", str(rootfs), "update-ca-certificates"], capture_output=True, check=True
    )
    # The official image's Python is its own, not Debian's: pip installs into it freely.
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    archive = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    engine.docker("import", "-", BASE_IMAGE, stdin=archive.stdout)
    archive.wait()
    shutil.rmtree(rootfs)


def stop_private_engine(daemon: subprocess.Popen, root: Path) -> None:
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    # dockerd leaves its bind mounts (data root, network namespace) behind; deepest first.
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(root))), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def engine():
    """The machine's Docker engine, or a private one with a locally made base image (a
    generator: conftest.py makes it the session's `engine` fixture, started once for all)."""
    if answers({}):
        engine = Engine()
        before = set(engine.docker("image", "ls", "--format", "{{.ID}}").stdout.split())
        yield engine
        # The machine's engine keeps only what it had: the images built here go.
        after = set(engine.docker("image", "ls", "--format", "{{.ID}}").stdout.split())
        for image in after - before:
            subprocess.run(["docker", "image", "rm", "--force", image], capture_output=True)
        return
    reason = why_no_private_engine()
    if reason is not None:
        pytest.skip(f"no Docker engine answers and none can start here: {reason}")
    # A short folder: the socket's path must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp"))
    daemon = start_private_engine(root)
    try:
        engine = Engine(env={"DOCKER_HOST": f"unix://{root}/docker.sock"})
        deadline = time.time() + 60
        while not answers(engine.env):
            if daemon.poll() is not None or time.time() > deadline:
                tail = (root / "dockerd.log").read_text().strip().splitlines()[-3:]
                pytest.skip(f"a private Docker engine cannot start here: {' '.join(tail)}")
            time.sleep(0.2)
        make_base_image(root, engine)
        engine.env["SNOWPARK_LOCAL_BASE_IMAGE"] = BASE_IMAGE
        yield engine
    finally:
        stop_private_engine(daemon, root)


@contextmanager
def docker_mode_stack(engine: Engine, state: Path):
    """A local stack of its own in docker mode, its state in `state`; stopped afterwards."""
    saved = dict(os.environ)
    os.environ.update({**engine.env, "SNOWPARK_LOCAL_RUNTIME": "docker"})
    try:
        stack.up(state)  # the stack inherits the engine's variables
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        yield state
    finally:
        stack.down(state)
