"""The stack's workers, to which the AWS handlers hand training jobs, processing jobs and builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Workers:
    """Set by the stack when it starts; the patches are installed before, once per process."""

    training: Any = None  # jobs.training.TrainingRuntime
    builds: Any = None  # jobs.builds.ImageBuilder
    processing: Any = None  # jobs.processing.ProcessingRuntime


WORKERS = Workers()
