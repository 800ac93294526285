"""Where the notebooks' AWS settings come from: the environment first, then AWS's own defaults.

The same cells run in SageMaker Studio, on a laptop signed in to AWS, and against the local stack
(whose environment sets every variable below).
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
PACKAGES = (
    "sagemaker",
    "boto3",
    "snowflake-snowpark-python",
    "snowflake-connector-python",
    "sagemaker-snowpark",
)


def region() -> str:
    found = boto3.session.Session().region_name
    if not found:
        raise TutorialError(
            "No AWS Region is set: set AWS_REGION (e.g. export AWS_REGION=us-east-1) or a region "
            "in your AWS profile."
        )
    return found


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
