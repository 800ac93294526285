"""SageMaker requests as AWS checks them (botocore's model, with the limits and the members
its documentation calls unsupported) and list answers paged as AWS pages them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.validate import ParamValidator
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

# List calls answer pages of this many items unless MaxResults says otherwise (botocore's documented
# default for ListImages, ListImageVersions and ListAppImageConfigs).
DEFAULT_PAGE_SIZE = 10

SAGEMAKER_MODEL = botocore.session.get_session().get_service_model("sagemaker")


def public_record(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def unsupported_members(shape_name: str) -> set[str]:
    """Members of a botocore shape that its documentation says are not supported.

    SageMaker documents them in the structure's own text, e.g. JupyterLabAppImageConfig: "The
    <code>FileSystemConfig</code> object is not supported."
    """
    shape = SAGEMAKER_MODEL.shape_for(shape_name)
    named = re.findall(r"<code>(\w+)</code>\s+\w+\s+is not supported", shape.documentation or "")
    return {name for name in named if name in shape.members}


def validate_request(response: SageMakerResponse, operation: str) -> dict:
    """The request's parameters, checked as AWS checks them; raises ValidationException."""
    params = json.loads(response.body or "{}")
    input_shape = SAGEMAKER_MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, input_shape)
    if report.has_errors():
        raise ValidationError(" ".join(report.generate_report().split()))
    check_limits(params, input_shape, operation)
    return params


def check_limits(value: Any, shape, path: str) -> None:
    """The maximums, patterns and enums of botocore's model, which its client does not check."""
    limits = shape.metadata
    if shape.type_name == "structure":
        for name in sorted(unsupported_members(shape.name) & set(value)):
            raise ValidationError(f"{name} is not supported in {shape.name} ({path}): remove it.")
        for name, member in shape.members.items():
            if name in value:
                check_limits(value[name], member, f"{path}.{name}")
        return
    if shape.type_name in ("list", "map", "string") and len(value) > limits.get("max", len(value)):
        raise ValidationError(
            f"{path} has {len(value)} items or characters; at most {limits['max']} are allowed."
        )
    if shape.type_name == "list":
        for index, item in enumerate(value):
            check_limits(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            check_limits(key, shape.key, f"{path} key")
            check_limits(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string":
        if "pattern" in limits and not re.fullmatch(limits["pattern"], value):
            raise ValidationError(
                f"{path} value {value!r} does not match the pattern {limits['pattern']}."
            )
        if shape.enum and value not in shape.enum:
            raise ValidationError(f"{path} value {value!r} is not one of {shape.enum}.")
    elif shape.type_name in ("integer", "long") and value > limits.get("max", value):
        raise ValidationError(f"{path} is {value}; at most {limits['max']} is allowed.")


def sorted_page(
    response: SageMakerResponse, key: str, items: list, sort_keys: dict
) -> ActionResult:
    """One page of `items` as AWS pages it: SortBy, SortOrder, MaxResults, NextToken."""
    sort_by = response._get_param("SortBy") or next(iter(sort_keys))  # the first is AWS's default
    if sort_by not in sort_keys:
        raise ValidationError(f"SortBy {sort_by!r} is not one of {list(sort_keys)}.")
    order = response._get_param("SortOrder") or "Descending"
    items = sorted(items, key=sort_keys[sort_by], reverse=order.upper() == "DESCENDING")
    size = response._get_param("MaxResults") or DEFAULT_PAGE_SIZE
    token = response._get_param("NextToken")
    invalid = ValidationError(f"NextToken {token!r} is not valid: pass the one the last page gave.")
    page, next_token = one_page(items, size, token, invalid)
    result = {key: [public_record(i) for i in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def one_page(items: list, size: int, token: str | None, invalid: Exception):
    """The page of `items` that `token` (an offset this stack gave) starts, and the next token."""
    if token is not None and not (token.isdigit() and int(token) <= len(items)):
        raise invalid
    start = int(token or 0)
    return items[start : start + size], str(start + size) if start + size < len(items) else None


def _timestamp(value) -> datetime:
    """A request's timestamp (epoch seconds or ISO 8601) as moto's naive UTC datetimes."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


_TIME_FILTERS = (
    ("CreationTimeAfter", "creation_time", True),
    ("CreationTimeBefore", "creation_time", False),
    ("LastModifiedTimeAfter", "last_modified_time", True),
    ("LastModifiedTimeBefore", "last_modified_time", False),
)


def list_jobs(
    params: dict,
    jobs: list,
    *,
    name: str,
    status: str,
    key: str,
    summary: Callable[[Any], dict],
    default_order: str,
    status_after_paging: bool = False,
) -> ActionResult:
    """ListTrainingJobs and ListProcessingJobs: NameContains and the time filters, SortBy
    (CreationTime by default), SortOrder, then MaxResults and NextToken over what is left.

    `name` and `status` are the attributes of moto's job records. With `status_after_paging`,
    StatusEquals filters the page MaxResults chose, as ListTrainingJobs documents."""
    jobs = [j for j in jobs if params.get("NameContains", "") in getattr(j, name)]
    for member, attribute, after in _TIME_FILTERS:
        if member in params:
            bound = _timestamp(params[member])
            jobs = [j for j in jobs if (getattr(j, attribute) > bound) == after]
    wanted = params.get("StatusEquals")
    if wanted and not status_after_paging:
        jobs = [j for j in jobs if getattr(j, status) == wanted]
    sort_keys = {
        "CreationTime": lambda j: j.creation_time,
        "Name": lambda j: getattr(j, name),
        "Status": lambda j: getattr(j, status),
    }
    order = params.get("SortOrder", default_order)
    jobs.sort(key=sort_keys[params.get("SortBy", "CreationTime")], reverse=order == "Descending")
    token = params.get("NextToken")
    invalid = ValidationError(f"NextToken {token!r} is not valid: pass the one the last page gave.")
    size = params.get("MaxResults") or DEFAULT_PAGE_SIZE
    page, next_token = one_page(jobs, size, token, invalid)
    if wanted and status_after_paging:
        page = [j for j in page if getattr(j, status) == wanted]
    result = {key: [summary(job) for job in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)
