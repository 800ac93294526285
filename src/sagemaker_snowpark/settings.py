"""Where the notebooks' settings come from: the environment first, then `tutorial.env`, then AWS's
own defaults.

The same cells run in SageMaker Studio, on a laptop signed in to AWS, and against the local stack
(whose environment sets every variable below). A Studio space starts its kernels from a server
that no shell file (`~/.bashrc`) reaches, so the learner's few values live in `tutorial.env`, a
file in the repository's root that the package reads when a notebook imports it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from urllib.parse import urlparse

import boto3

from .errors import TutorialError

STUDIO_METADATA = Path("/opt/ml/metadata/resource-metadata.json")
ENV_FILE = "tutorial.env"
# Names another file; empty reads none (the local stack sets it so, so a learner's real values
# never mix into its runs).
ENV_FILE_VARIABLE = "SAGEMAKER_SNOWPARK_ENV_FILE"
# AWS's documentation account: tutorial.env.example's ARNs hold it, no learner's do.
EXAMPLE_ACCOUNT_ID = "111122223333"
# The values tutorial.env.example shows (commented out), and what belongs there instead. A line
# uncommented but not filled in would pass as a name until a sign-in or a call failed far away.
EXAMPLE_VALUES = {
    "SNOWFLAKE_ACCOUNT": ("myorg-myaccount", "Snowflake account identifier (orgname-accountname)"),
    "SAGEMAKER_ROLE_ARN": (
        f"arn:aws:iam::{EXAMPLE_ACCOUNT_ID}:role/SageMakerSnowparkTutorialRole",
        "execution role's ARN (the stack's output ExecutionRoleArn)",
    ),
    "SAGEMAKER_DOMAIN_ID": ("d-xxxxxxxxxxxx", "Studio domain's ID (the stack's output DomainId)"),
    "SAGEMAKER_BUCKET": ("my-bucket", "bucket's name (the stack's output BucketName)"),
    "SAGEMAKER_CODEBUILD_ROLE_ARN": (
        f"arn:aws:iam::{EXAMPLE_ACCOUNT_ID}:role/SageMakerSnowparkCodeBuildRole",
        "CodeBuild role's ARN (the stack's output CodeBuildRoleArn)",
    ),
}
PACKAGES = (
    "sagemaker",
    "boto3",
    "snowflake-snowpark-python",
    "snowflake-connector-python",
    "sagemaker-snowpark",
)


def env_file(start: Path | None = None) -> Path | None:
    """The file of settings: the one SAGEMAKER_SNOWPARK_ENV_FILE names, else tutorial.env in the
    notebook's folder or the one above it (the repository's root)."""
    if ENV_FILE_VARIABLE in os.environ:
        named = os.environ[ENV_FILE_VARIABLE]
        return Path(named).expanduser() if named else None
    start = start or Path.cwd()
    for folder in (start, start.parent):
        if (folder / ENV_FILE).is_file():
            return folder / ENV_FILE
    return None


def load_env_file(path: Path | None = None) -> list[str]:
    """Set each NAME=value of the file that the environment does not set already; the names set.

    Values are never echoed: a learner may put a path there, never a secret, but errors name the
    line, not its text, in case one does. The exception: a placeholder of tutorial.env.example
    left in place is refused by name and value (public text, never a secret).
    """
    path = path or env_file()
    if path is None:
        return []
    if not path.is_file():
        raise TutorialError(
            f"{ENV_FILE_VARIABLE} names {path}, which is not a file: fix the path, or unset it."
        )
    values, numbers = {}, {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name.isidentifier():
            raise TutorialError(
                f"{path} line {number} is not NAME=value (e.g. SNOWFLAKE_USER=SAGEMAKER_TRAINING): "
                "fix or remove it."
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]  # NAME="value" as a shell would write it
        values[name], numbers[name] = value, number
    # All or nothing: a bad line leaves the environment as it was.
    loaded = [name for name in values if name not in os.environ]
    for name in loaded:
        if is_example_value(name, values[name]):
            raise TutorialError(
                f"{path} line {numbers[name]}: {name} still holds the example value "
                f"{values[name]}: put your own {EXAMPLE_VALUES[name][1]} there."
            )
    for name in loaded:
        os.environ[name] = values[name]
    return loaded


def is_example_value(name: str, value: str) -> bool:
    """Whether `value` is tutorial.env.example's placeholder for `name` (for an ARN: any ARN in
    the example's account)."""
    if name not in EXAMPLE_VALUES:
        return False
    return value == EXAMPLE_VALUES[name][0] or (
        name.endswith("_ARN") and f":{EXAMPLE_ACCOUNT_ID}:" in value
    )


def region() -> str:
    found = boto3.session.Session().region_name
    if not found:
        raise TutorialError(
            "No AWS Region is set: set AWS_REGION (e.g. export AWS_REGION=us-east-1) or a region "
            "in your AWS profile."
        )
    return found


# What each Snowflake name a learner must set holds, for the message when it is missing.
SNOWFLAKE_NAMES = {
    "SNOWFLAKE_ACCOUNT": "your account identifier (orgname-accountname)",
    "SNOWFLAKE_USER": "the training job's Snowflake user (e.g. SAGEMAKER_TRAINING)",
}


def snowflake_name(variable: str) -> str:
    """SNOWFLAKE_ACCOUNT or SNOWFLAKE_USER, which have no default; one line when unset."""
    if value := os.environ.get(variable, "").strip():
        return value
    raise TutorialError(
        f"{variable} is not set: put {SNOWFLAKE_NAMES[variable]} in tutorial.env in the "
        f"repository's root (a line {variable}=...), then run this cell again."
    )


def codebuild_role_arn() -> str:
    """SAGEMAKER_CODEBUILD_ROLE_ARN: CodeBuild's own service role (policies/codebuild-role.json),
    which the image builds run as. There is no default: the execution role may not read the
    bucket's ACL, write CodeBuild's logs or push to ECR, so a build as it would fail later and
    less clearly than this message."""
    if arn := os.environ.get("SAGEMAKER_CODEBUILD_ROLE_ARN"):
        return arn
    raise TutorialError(
        "SAGEMAKER_CODEBUILD_ROLE_ARN is not set: set it in tutorial.env to the CodeBuild role "
        "the template made (its stack's output CodeBuildRoleArn), or to a role of your own with "
        "policies/codebuild-role.json; see docs/real-accounts.md."
    )


def execution_role_arn() -> str:
    """SAGEMAKER_ROLE_ARN, else the Studio or notebook instance's own execution role."""
    if arn := os.environ.get("SAGEMAKER_ROLE_ARN"):
        return arn
    from sagemaker.core.helper.session_helper import get_execution_role

    try:
        return get_execution_role()
    except Exception:
        raise TutorialError(
            "No SageMaker execution role found: outside SageMaker Studio, set SAGEMAKER_ROLE_ARN "
            "to the ARN of the role the README's 'Real accounts' section describes."
        ) from None


def default_bucket() -> str:
    """SAGEMAKER_BUCKET, else the SDK's default bucket (sagemaker-<region>-<account>)."""
    if bucket := os.environ.get("SAGEMAKER_BUCKET"):
        return bucket
    from sagemaker.core.helper.session_helper import Session

    return Session().default_bucket()


def studio_domain_id(sagemaker=None) -> str:
    """SAGEMAKER_DOMAIN_ID, else the domain of this Studio space, else the account's only one."""
    if domain := os.environ.get("SAGEMAKER_DOMAIN_ID"):
        return domain
    if STUDIO_METADATA.is_file():
        return json.loads(STUDIO_METADATA.read_text())["DomainId"]
    sagemaker = sagemaker or boto3.client("sagemaker")
    domains = sagemaker.list_domains()["Domains"]
    if len(domains) == 1:
        return domains[0]["DomainId"]
    raise TutorialError(
        f"Found {len(domains)} SageMaker domains in {region()}: set SAGEMAKER_DOMAIN_ID to the one "
        "to attach the image to."
    )


def studio_user_profile(domain_id: str, sagemaker=None) -> str | None:
    """SAGEMAKER_USER_PROFILE, else the owner of this Studio space; None outside Studio."""
    if profile := os.environ.get("SAGEMAKER_USER_PROFILE"):
        return profile
    if not STUDIO_METADATA.is_file():
        return None
    metadata = json.loads(STUDIO_METADATA.read_text())
    if profile := metadata.get("UserProfileName"):
        return profile
    if not metadata.get("SpaceName"):
        return None
    sagemaker = sagemaker or boto3.client("sagemaker")
    space = sagemaker.describe_space(DomainId=domain_id, SpaceName=metadata["SpaceName"])
    return (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")


def endpoint_kind(url: str | None) -> str:
    """'local stack' when a client talks to this machine, else 'AWS'."""
    host = urlparse(url or "").hostname or ""
    return "local stack" if host in ("127.0.0.1", "localhost") else "AWS"


def describe() -> dict[str, str]:
    """What this kernel talks to, as who, and with which package versions."""
    sts = boto3.client("sts")
    identity = sts.get_caller_identity()
    facts = {
        "AWS endpoints": endpoint_kind(sts.meta.endpoint_url),
        "Region": region(),
        "Account": identity["Account"],
        "Caller": identity["Arn"],
        # SNOWFLAKE_HOST is only set to reach a Snowflake emulator; real accounts leave it out.
        "Snowflake": endpoint_kind("//" + os.environ["SNOWFLAKE_HOST"])
        if os.environ.get("SNOWFLAKE_HOST")
        else "your Snowflake account (named in the secret)",
    }
    for package in PACKAGES:
        try:
            facts[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts
