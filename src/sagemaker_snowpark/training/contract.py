"""The SageMaker training container contract, from the program's side.

SageMaker mounts /opt/ml into the container: input/config/hyperparameters.json (every value a
string), input/config/resourceconfig.json (this host and all hosts), model/ (tarred into
model.tar.gz after the program exits), output/data/ (tarred into output.tar.gz) and
output/failure, whose text becomes the job's FailureReason. SAGEMAKER_BASE_DIR moves the root,
so the program also runs outside a container (the local stack and the tests use that).

The one-line reason must reach SageMaker even when the disk is full (a full disk is a common
reason to fail): its space is set aside when the program starts (reserve_space), and
write_reason uses it. The same helpers write a Processing job's /opt/ml/output/message.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..connection import check_identifier, check_region, unknown_fields_shown
from ..errors import TutorialError, cut, fit


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def from_environment(cls) -> Paths:
        return cls(Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")))

    @property
    def hyperparameters(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def resource_config(self) -> Path:
        return self.root / "input" / "config" / "resourceconfig.json"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output_data(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"


@dataclass(frozen=True)
class Parameter:
    kind: type
    default: object
    low: float | None = None  # inclusive bounds, where they apply
    high: float | None = None
    help: str = ""


PARAMETERS = {
    "secret_name": Parameter(str, "", help="the Secrets Manager secret; empty: workload identity"),
    "region": Parameter(str, "", help="the secret's AWS Region; empty: the job's Region"),
    "snowflake_account": Parameter(str, "", help="account for workload identity (no secret)"),
    "table": Parameter(str, "MAINTENANCE_TRAINING", help="the training table"),
    "feature_set": Parameter(
        str, "physics", help="physics (the lesson's features) or columns (the table's own)"
    ),
    "label": Parameter(str, "MACHINE_FAILURE", help="the label column (0/1, boolean, yes/no)"),
    "id": Parameter(str, "UDI", help="the column that identifies a row; empty: none"),
    "features": Parameter(str, "", help="feature columns, A, B, C; empty: every other column"),
    "database": Parameter(str, "", help="overrides the secret's database; neither: HOL_DB"),
    "schema": Parameter(str, "", help="overrides the secret's schema; neither: PUBLIC"),
    "warehouse": Parameter(str, "", help="overrides the secret's warehouse; neither: HOL_WH"),
    "validation_fraction": Parameter(float, 0.25, 0.01, 0.9, "share of rows held out"),
    "split_seed": Parameter(int, 123, 0, 2**31 - 1, "seed of the train/validation split"),
    "threshold": Parameter(float, 0.5, 0.0, 1.0, "probability above which a row is a failure"),
    "num_round": Parameter(int, 200, 1, 5000, "XGBoost boosting rounds"),
    "max_depth": Parameter(int, 6, 1, 16, "XGBoost tree depth"),
    "eta": Parameter(float, 0.1, 0.001, 1.0, "XGBoost learning rate"),
    "max_bin": Parameter(int, 256, 16, 1024, "XGBoost histogram bins"),
    "baseline_max_rows": Parameter(int, 250_000, 1_000, 100_000_000, "baseline sample cap"),
    "tracker_port": Parameter(int, 9099, 1024, 65535, "XGBoost tracker port on algo-1"),
    "stall_seconds": Parameter(
        int, 120, 5, 3600, "seconds without an answer from Snowflake before the job fails"
    ),
    "progress_seconds": Parameter(int, 30, 1, 30, "seconds between progress lines while reading"),
}
# Names the program puts into SQL, checked before it signs in: whether each may be qualified
# (DATABASE.SCHEMA.NAME), and whether it must be given (empty database, schema, warehouse: the
# secret's or the defaults; an empty table would name nothing).
IDENTIFIERS = {
    "table": (True, True),
    "database": (False, False),
    "schema": (False, False),
    "warehouse": (False, False),
}


def parse_hyperparameters(raw: dict) -> dict:
    """Typed hyperparameters, with defaults; one-line errors for unknown, mistyped, out of range."""
    unknown = sorted(set(raw) - set(PARAMETERS))
    if unknown:
        raise TutorialError(
            f"Unknown hyperparameter(s) {unknown_fields_shown(unknown)}: allowed are "
            f"{', '.join(PARAMETERS)}."
        )
    values = {}
    for name, parameter in PARAMETERS.items():
        if name not in raw:
            values[name] = parameter.default
            continue
        text = str(raw[name]).strip()
        try:
            value = parameter.kind(text)
        except ValueError:
            kind = {int: "an integer", float: "a number", str: "a string"}[parameter.kind]
            raise TutorialError(
                f"Hyperparameter {name} must be {kind}, got {cut(text)!r} ({parameter.help})."
            ) from None
        if parameter.low is not None and not parameter.low <= value <= parameter.high:
            raise TutorialError(
                f"Hyperparameter {name}={cut(text)} is out of range: use {parameter.low:g} to "
                f"{parameter.high:g} ({parameter.help})."
            )
        values[name] = value
    if values["feature_set"] not in ("physics", "columns"):
        raise TutorialError(
            f"Hyperparameter feature_set={cut(values['feature_set'])!r} is not physics or "
            f"columns ({PARAMETERS['feature_set'].help})."
        )
    if values["feature_set"] == "columns" and not values["label"]:
        raise TutorialError("Hyperparameter label is empty: name the column the model predicts.")
    check_names(values)
    check_region(values["region"] or None, "Hyperparameter region")
    return values


def check_names(values: dict) -> None:
    """Each name that goes into SQL is one Snowflake identifier, and the table is given."""
    for name, (qualified, required) in IDENTIFIERS.items():
        if required and not values[name]:
            default = PARAMETERS[name].default
            raise TutorialError(
                f"Hyperparameter {name} is empty: name {PARAMETERS[name].help} (e.g. {default} "
                f"or DATABASE.SCHEMA.{default}), or leave {name} out to use {default}."
            )
        if values[name]:
            check_identifier(values[name], f"Hyperparameter {name}", qualified)


@dataclass(frozen=True)
class Hosts:
    current: str
    all: tuple[str, ...]

    @property
    def rank(self) -> int:
        return self.all.index(self.current)

    @property
    def count(self) -> int:
        return len(self.all)


def read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TutorialError(
            f"{path} is missing: the program runs inside a SageMaker training job (or set "
            f"SAGEMAKER_BASE_DIR to a folder shaped like /opt/ml) - {what}."
        ) from None
    except ValueError:
        raise TutorialError(f"{path} is not JSON - {what}.") from None


def read_hosts(paths: Paths) -> Hosts:
    config = read_json(paths.resource_config, "SageMaker writes the hosts there")
    return Hosts(config["current_host"], tuple(config["hosts"]))


def print_line(line: str, stream=None) -> None:
    """Print one line of the job's log, flushed. Never raises: when nothing reads the log any more
    (a closed pipe: the local stack died), the job goes on and its own bounds still end it."""
    try:
        print(line, file=stream or sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


def _reserve_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.reserved")


def is_reserve(path: Path) -> bool:
    """Whether `path` is the space a reason set aside (the program's own, not SageMaker's)."""
    return path.name.startswith(".") and path.name.endswith(".reserved")


# A block of the disk: more than a reason's 1 KB (errors.REASON_BYTES).
RESERVED_BYTES = 4096


def reserve_space(target: Path) -> None:
    """Set aside, now, the disk space the one-line reason at `target` will need: a file of
    RESERVED_BYTES beside it, which write_reason overwrites in place (no new blocks) and renames.

    Nothing is reported when even this cannot be written: write_reason then tries the usual way.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(_reserve_of(target), "wb") as reserve:
            reserve.write(b" " * RESERVED_BYTES)
            reserve.flush()
            os.fsync(reserve.fileno())
    except OSError:
        pass


def release_space(target: Path) -> None:
    """Give back the space reserve_space set aside (the job ends well: no reason to write)."""
    try:
        _reserve_of(target).unlink(missing_ok=True)
    except OSError:
        pass


def write_reason(
    target: Path, message: str, log_prefix: str, make_room: Callable[[], None] | None = None
) -> bool:
    """Write a job's one-line reason to `target` (its first 1 KB becomes FailureReason or
    ExitMessage; fit keeps the fix of an over-long one); False if it cannot be written.

    It goes into the space reserve_space set aside, so a full disk does not stop it; without that
    space, the usual way, and on a full disk once more after `make_room()`. If all fail, the
    reason goes to the log (stderr), which SageMaker keeps.
    """
    data = fit(message).encode()
    reserve = _reserve_of(target)
    try:
        with open(reserve, "r+b") as file:  # overwritten in place: on a full disk too
            file.write(data)
            file.truncate(len(data))
        os.replace(reserve, target)
        return True
    except OSError:
        pass  # no space was set aside (or it is gone): the usual way
    for attempt in range(2):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return True
        except OSError as error:
            full = error.errno in (errno.ENOSPC, errno.EDQUOT)
            if attempt or not full or make_room is None:
                print_line(
                    f"{log_prefix} the reason could not be written to {target} "
                    f"({error.strerror}); it is: {fit(message)}",
                    sys.stderr,
                )
                return False
            make_room()
    return False


def write_failure(paths: Paths, message: str) -> bool:
    """Write the reason SageMaker shows as the job's FailureReason; False if it cannot be written.

    When /opt/ml/output is full and no space was set aside, the program's own reports there are
    removed to make room: the reason matters more than a report of a job that failed anyway.
    """
    return write_reason(
        paths.failure,
        message,
        "[train]",
        make_room=lambda: shutil.rmtree(paths.output_data, ignore_errors=True),
    )


def disk_error(error: OSError, path: Path, needed_bytes: int, what: str) -> TutorialError:
    """One line for a full or read-only folder: the path, the space needed, and the fix."""
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return TutorialError(
            f"{path} is not writable ({error.strerror}), and {what} must be written there: on "
            "SageMaker it always is; a container run by hand needs a writable volume mounted "
            "there (docker run -v DIR:/opt/ml)."
        )
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        free = f"{shutil.disk_usage(existing).free / 2**20:,.0f} MB free"
    except OSError:
        free = "free space unknown"
    needed = (
        f"about {max(1, needed_bytes / 2**20):,.0f} MB are needed there, " if needed_bytes else ""
    )
    return TutorialError(
        f"No space left on the device of {path} ({error.strerror}) for {what}: {needed}{free}; "
        "raise the training job's VolumeSizeInGB (ModelTrainer's "
        "Compute(volume_size_in_gb=...)) on SageMaker, or free space on that disk."
    )


def tree(root: Path, depth: int = 3) -> list[str]:
    """The folders (ending in /) and files under root, `depth` levels deep, named as SageMaker
    names them: /opt/ml/... (outside a container, root is the folder standing in for /opt/ml)."""
    shown: list[str] = []

    def walk(folder: Path, level: int) -> None:
        for entry in sorted(folder.iterdir()):
            if is_reserve(entry):
                continue  # the program's own (reserve_space), not what SageMaker gave
            name = "/opt/ml/" + entry.relative_to(root).as_posix()
            if entry.is_dir():
                shown.append(f"{name}/")
                if level < depth:
                    walk(entry, level + 1)
            else:
                shown.append(name)

    walk(root, 1)
    return shown
