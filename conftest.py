"""The test session runs against its own local stack, started before the first test.

nbval's kernels are separate processes that pytest fixtures cannot reach, but they inherit this
process's environment: so the stack starts in pytest_configure and its environment goes into
os.environ before any notebook is collected. (This file is at the root so that it also applies
when only notebooks/ is tested.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sagemaker_snowpark.local import stack

_session_dir: Path | None = None


def pytest_configure(config):
    global _session_dir
    _session_dir = Path(tempfile.mkdtemp(prefix="snowpark-tests-"))
    # A learner's own parameters must not change what the committed notebooks produce.
    for name in [k for k in os.environ if k.startswith("TUTORIAL_")]:
        del os.environ[name]
    os.environ["TUTORIAL_ARTIFACTS"] = str(_session_dir / "artifacts")
    # The committed notebooks hold process mode's output, whether or not Docker runs here; the
    # real image is tested by tests/test_docker.py on a stack of its own.
    os.environ["SNOWPARK_LOCAL_RUNTIME"] = "process"
    stack.up(_session_dir / "state")
    stack.apply_environment(stack.client_environment(_session_dir / "state"))


def pytest_unconfigure(config):
    if _session_dir is not None:
        stack.down(_session_dir / "state")
        shutil.rmtree(_session_dir, ignore_errors=True)
