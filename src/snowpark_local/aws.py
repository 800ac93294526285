"""AWS for the local stack: moto in server mode, plus what the tutorial needs and moto lacks.

moto 5.2.5 answers Secrets Manager, S3, ECR, STS, IAM, CloudWatch Logs, CodeBuild and most of
SageMaker. This module adds, by patching moto's handlers in the stack's process:

- SageMaker images (deleted through DELETING), image versions and app image configs (validated
  against botocore's model, "not supported" members included), with AWS's page sizes; Studio app
  records, so that DeleteImage and UpdateDomain answer ResourceInUse while a space runs an image
  (moto has none of them);
- UpdateDomain;
- CreateTrainingJob that really runs the job (through `WORKERS.training`), StopTrainingJob, and
  ListTrainingJobs sorted and paged as AWS documents (moto ignores SortBy and SortOrder, and pages
  before it filters);
- CodeBuild builds that record an image in ECR (through `WORKERS.builds`) instead of always
  succeeding;
- CloudFormation for the Studio resources of infrastructure/tutorial.yaml (local/cloudformation.py),
  and ListApps and the Describe calls of what it makes.

The patches rely on moto internals, which is why moto is pinned: PATCHES at the end lists them for
the registry (local/patches.py), which checks them against moto and installs them;
tests/test_local_aws.py covers what each of them does. The handlers hand jobs and builds to the
stack's WORKERS, which the stack sets when it starts.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.validate import ParamValidator
from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.codebuild.responses import CodeBuildResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time_millis, utcnow
from moto.ecr.exceptions import InvalidParameterException as EcrInvalidParameterException
from moto.ecr.models import ecr_backends
from moto.ecr.responses import ECRResponse
from moto.logs.models import logs_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.secretsmanager.exceptions import ValidationException as SecretsValidationException
from moto.secretsmanager.responses import SecretsManagerResponse

from .iam import role_allows, role_trusts
from .patch import Patch, upstream

ACCOUNT_ID = DEFAULT_ACCOUNT_ID
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# An image version becomes CREATED (or CREATE_FAILED) this long after CreateImageVersion, so
# that callers exercise their wait loop as they must on AWS.
IMAGE_VERSION_CREATION_SECONDS = 1.0
# DeleteImage leaves the image DELETING this long, then it is gone, as AWS deletes asynchronously.
IMAGE_DELETION_SECONDS = 1.0
# List calls answer pages of this many items unless MaxResults says otherwise (botocore's documented
# default for ListImages, ListImageVersions and ListAppImageConfigs).
DEFAULT_PAGE_SIZE = 10

ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)

_logs_lock = threading.Lock()


# --- Small accessors to moto's in-process state, used by the runtime and the builder


def put_log_lines(account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream on first use."""
    if not lines:
        return
    backend = logs_backends[account][region]
    with _logs_lock:  # moto's put_log_events is not thread-safe, and events must stay ordered
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        now = int(unix_time_millis(utcnow()))
        events = [{"timestamp": now, "message": line} for line in lines]
        backend.put_log_events(group, stream, events)


def read_s3_object(account: str, bucket: str, key: str) -> bytes | None:
    try:
        found = s3_backends[account]["global"].get_object(bucket, key)
    except Exception:  # moto raises MissingBucket / MissingKey
        return None
    return None if found is None else found.value


def write_s3_object(account: str, bucket: str, key: str, body: bytes) -> None:
    s3_backends[account]["global"].put_object(bucket, key, body)


def list_s3_keys(account: str, bucket: str, prefix: str) -> list[str]:
    backend = s3_backends[account]["global"]
    try:
        keys = backend.get_bucket(bucket).keys
    except Exception:
        return []
    return sorted(k for k in keys.keys() if k.startswith(prefix))


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str
    digest: str

    @property
    def pinned_uri(self) -> str:
        """The image's URI by digest, as SageMaker reports a resolved image."""
        host = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"
        return f"{host}/{self.repository}@{self.digest}"


def find_ecr_image(uri: str) -> EcrImage | None:
    """The ECR image a URI names, or None when the repository, tag or digest does not exist."""
    match = ECR_URI.match(uri or "")
    if not match:
        return None
    try:
        repo = ecr_backends[match["account"]][match["region"]].repositories[match["repository"]]
        tag = match["tag"] if match["tag"] or match["digest"] else "latest"
        image = repo._get_image(tag, match["digest"])
    except Exception:  # KeyError for the repository, ImageNotFoundException for the image
        return None
    return EcrImage(
        match["account"], match["region"], match["repository"], image.get_image_digest()
    )


# What pulling an image from ECR takes (ECR's "Private repository policies" page): a sign-in
# token for the registry, then the manifest and the layers of the image's repository.
PULL_ACTIONS = ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def may_pull(account: str, role_arn: str, image: EcrImage) -> bool:
    """Whether the role's policies let a service acting as it pull the image."""
    repository = f"arn:aws:ecr:{image.region}:{image.account}:repository/{image.repository}"
    return all(
        role_allows(account, role_arn, action, "*" if action.endswith("Token") else repository)
        for action in PULL_ACTIONS
    )


def put_ecr_image(account: str, region: str, repository: str, tag: str, digest: str) -> str | None:
    """Push a manifest whose only layer is `digest`; None when the repository does not exist."""
    backend = ecr_backends[account][region]
    if repository not in backend.repositories:
        return None
    manifest = (
        '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", '
        '"config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0, '
        f'"digest": "{digest}"}}, "layers": [{{"mediaType": '
        '"application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 0, '
        f'"digest": "{digest}"}}]}}'
    )
    image = backend.put_image(repository, manifest, tag)
    return image.get_image_digest()


# --- SageMaker: Studio images, image versions, app image configs, apps, UpdateDomain

_SAGEMAKER_MODEL = botocore.session.get_session().get_service_model("sagemaker")
# The SageMaker actions below that moto lacks, registered as patches that add them.
_SAGEMAKER_ADDITIONS: list[Patch] = []
_NO_IMAGES = "moto has no SageMaker images or image versions"
_NO_APP_IMAGE_CONFIGS = "moto has no app image configs"
_NO_APPS = "moto has no Studio apps (their records make DeleteImage answer ResourceInUse)"
_NO_STUDIO_RECORDS = "moto has no user profiles, spaces or Studio lifecycle configs"
_NO_UPDATE_DOMAIN = "moto has no UpdateDomain"


def _sagemaker_action(why: str) -> Callable:
    """Register the decorated function as the handler of a SageMaker action moto lacks."""

    def register(handler: Callable[[SageMakerResponse], ActionResult]):
        _SAGEMAKER_ADDITIONS.append(
            Patch(SageMakerResponse, handler.__name__, handler, why, kind="add")
        )
        return handler

    return register


def _studio(response: SageMakerResponse) -> dict[str, dict]:
    # Kept on moto's backend object, so that /moto-api/reset clears it with everything else.
    backend = response.sagemaker_backend
    studio = backend.__dict__.setdefault(
        "_tutorial_studio", {"images": {}, "app_image_configs": {}, "apps": {}}
    )
    # DeleteImage is asynchronous on AWS: the image is DELETING for a while, then gone.
    for name, image in list(studio["images"].items()):
        if image["ImageStatus"] == "DELETING":
            if time.time() - image["_deleting_since"] >= IMAGE_DELETION_SECONDS:
                del studio["images"][name]
    return studio


def _image(response: SageMakerResponse, name: str) -> dict:
    image = _studio(response)["images"].get(name)
    if image is None:
        raise ResourceNotFound(f"Image {name} does not exist.")
    return image


def _usable_image(response: SageMakerResponse, name: str) -> dict:
    image = _image(response, name)
    if image["ImageStatus"] == "DELETING":
        raise ResourceInUseException(f"Image {name} is being deleted.")
    return image


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def unsupported_members(shape_name: str) -> set[str]:
    """Members of a botocore shape that its documentation says are not supported.

    SageMaker documents them in the structure's own text, e.g. JupyterLabAppImageConfig: "The
    <code>FileSystemConfig</code> object is not supported."
    """
    shape = _SAGEMAKER_MODEL.shape_for(shape_name)
    named = re.findall(r"<code>(\w+)</code>\s+\w+\s+is not supported", shape.documentation or "")
    return {name for name in named if name in shape.members}


def _validate_request(response: SageMakerResponse, operation: str) -> dict:
    """The request's parameters, checked as AWS checks them; raises ValidationException."""
    params = json.loads(response.body or "{}")
    input_shape = _SAGEMAKER_MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, input_shape)
    if report.has_errors():
        raise ValidationError(" ".join(report.generate_report().split()))
    _check_limits(params, input_shape, operation)
    return params


def _check_limits(value: Any, shape, path: str) -> None:
    """The maximums, patterns and enums of botocore's model, which its client does not check."""
    limits = shape.metadata
    if shape.type_name == "structure":
        for name in sorted(unsupported_members(shape.name) & set(value)):
            raise ValidationError(f"{name} is not supported in {shape.name} ({path}): remove it.")
        for name, member in shape.members.items():
            if name in value:
                _check_limits(value[name], member, f"{path}.{name}")
        return
    if shape.type_name in ("list", "map", "string") and len(value) > limits.get("max", len(value)):
        raise ValidationError(
            f"{path} has {len(value)} items or characters; at most {limits['max']} are allowed."
        )
    if shape.type_name == "list":
        for index, item in enumerate(value):
            _check_limits(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            _check_limits(key, shape.key, f"{path} key")
            _check_limits(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "string":
        if "pattern" in limits and not re.fullmatch(limits["pattern"], value):
            raise ValidationError(
                f"{path} value {value!r} does not match the pattern {limits['pattern']}."
            )
        if shape.enum and value not in shape.enum:
            raise ValidationError(f"{path} value {value!r} is not one of {shape.enum}.")
    elif shape.type_name in ("integer", "long") and value > limits.get("max", value):
        raise ValidationError(f"{path} is {value}; at most {limits['max']} is allowed.")


def _page(response: SageMakerResponse, key: str, items: list, sort_keys: dict) -> ActionResult:
    """One page of `items` as AWS pages it: SortBy, SortOrder, MaxResults, NextToken."""
    sort_by = response._get_param("SortBy") or next(iter(sort_keys))  # the first is AWS's default
    if sort_by not in sort_keys:
        raise ValidationError(f"SortBy {sort_by!r} is not one of {list(sort_keys)}.")
    order = response._get_param("SortOrder") or "Descending"
    items = sorted(items, key=sort_keys[sort_by], reverse=order.upper() == "DESCENDING")
    size = response._get_param("MaxResults") or DEFAULT_PAGE_SIZE
    token = response._get_param("NextToken")
    invalid = ValidationError(f"NextToken {token!r} is not valid: pass the one the last page gave.")
    page, next_token = _one_page(items, size, token, invalid)
    result = {key: [_public(i) for i in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def _one_page(items: list, size: int, token: str | None, invalid: Exception):
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
    page, next_token = _one_page(jobs, size, token, invalid)
    if wanted and status_after_paging:
        page = [j for j in page if getattr(j, status) == wanted]
    result = {key: [summary(job) for job in page]}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


@_sagemaker_action(_NO_IMAGES)
def create_image(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    images = _studio(self)["images"]
    if name in images:
        raise ResourceInUseException(
            f"Image {name} already exists ({images[name]['ImageStatus']})."
        )
    now = utcnow()
    images[name] = {
        "ImageName": name,
        "ImageArn": arn_formatter("image", name, self.current_account, self.region),
        "RoleArn": self._get_param("RoleArn"),
        "DisplayName": self._get_param("DisplayName"),
        "Description": self._get_param("Description"),
        "ImageStatus": "CREATED",
        "CreationTime": now,
        "LastModifiedTime": now,
        "_versions": {},
    }
    return ActionResult({"ImageArn": images[name]["ImageArn"]})


@_sagemaker_action(_NO_IMAGES)
def describe_image(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_public(_image(self, self._get_param("ImageName"))))


@_sagemaker_action(_NO_IMAGES)
def list_images(self: SageMakerResponse) -> ActionResult:
    contains = self._get_param("NameContains") or ""
    images = [i for i in _studio(self)["images"].values() if contains in i["ImageName"]]
    sort_keys = {
        "CREATION_TIME": lambda i: i["CreationTime"],
        "LAST_MODIFIED_TIME": lambda i: i["LastModifiedTime"],
        "IMAGE_NAME": lambda i: i["ImageName"],
    }
    return _page(self, "Images", images, sort_keys)


def _running_apps(self: SageMakerResponse, image_arn: str) -> list[dict]:
    return [
        app
        for app in _studio(self)["apps"].values()
        if app["Status"] in ("Pending", "InService")
        and (app.get("ResourceSpec") or {}).get("SageMakerImageArn") == image_arn
    ]


def _in_use_message(image: dict, apps: list[dict]) -> str:
    places = ", ".join(a.get("SpaceName") or a.get("UserProfileName") for a in apps)
    return f"Image {image['ImageName']} is in use by running apps in: {places}."


@_sagemaker_action(_NO_IMAGES)
def delete_image(self: SageMakerResponse) -> ActionResult:
    image = _image(self, self._get_param("ImageName"))
    if apps := _running_apps(self, image["ImageArn"]):
        raise ResourceInUseException(_in_use_message(image, apps))
    if image["ImageStatus"] != "DELETING":
        # Its versions go with it, as on AWS, once the deletion ends.
        image["ImageStatus"], image["_deleting_since"] = "DELETING", time.time()
        image["LastModifiedTime"] = utcnow()
    return EmptyResult()


def _settle(version: dict) -> dict:
    if version["ImageVersionStatus"] == "CREATING":
        if time.time() - version["_created"] >= IMAGE_VERSION_CREATION_SECONDS:
            version["ImageVersionStatus"] = version.pop("_outcome")
            version["LastModifiedTime"] = utcnow()
    return version


@_sagemaker_action(_NO_IMAGES)
def create_image_version(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    image = _usable_image(self, name)
    base_image = self._get_param("BaseImage")
    number = max(image["_versions"], default=0) + 1
    now = utcnow()
    version = {
        "ImageArn": image["ImageArn"],
        "ImageVersionArn": f"{image['ImageArn'].replace(':image/', ':image-version/')}/{number}",
        "BaseImage": base_image,
        "Version": number,
        "ImageVersionStatus": "CREATING",
        "CreationTime": now,
        "LastModifiedTime": now,
        "_created": time.time(),
    }
    found = find_ecr_image(base_image)
    if found is None:
        version["_outcome"] = "CREATE_FAILED"
        version["FailureReason"] = (
            f"Unable to find image {base_image} in Amazon ECR: push it before creating a version."
        )
    elif not may_pull(self.current_account, image["RoleArn"], found):
        # SageMaker reads the image from ECR as the image's role when it makes the version.
        version["_outcome"] = "CREATE_FAILED"
        version["FailureReason"] = (
            f"The role {image['RoleArn']} does not have permission to pull the image "
            f"{base_image}: grant it {', '.join(PULL_ACTIONS)} on the repository."
        )
    else:
        version["_outcome"] = "CREATED"
        version["ContainerImage"] = found.pinned_uri
    image["_versions"][number] = version
    return ActionResult({"ImageVersionArn": version["ImageVersionArn"]})


def _image_version(self: SageMakerResponse) -> tuple[dict, dict]:
    name = self._get_param("ImageName")
    image = _image(self, name)
    number = self._get_param("Version") or max(image["_versions"], default=None)
    version = image["_versions"].get(number) if number is not None else None
    if version is None:
        raise ResourceNotFound(f"Image version {number} of image {name} does not exist.")
    return image, version


@_sagemaker_action(_NO_IMAGES)
def describe_image_version(self: SageMakerResponse) -> ActionResult:
    _, version = _image_version(self)
    return ActionResult(_public(_settle(version)))


@_sagemaker_action(_NO_IMAGES)
def list_image_versions(self: SageMakerResponse) -> ActionResult:
    image = _image(self, self._get_param("ImageName"))
    versions = [_settle(v) for v in image["_versions"].values()]
    sort_keys = {
        "CREATION_TIME": lambda v: (v["CreationTime"], v["Version"]),
        "LAST_MODIFIED_TIME": lambda v: (v["LastModifiedTime"], v["Version"]),
        "VERSION": lambda v: v["Version"],
    }
    return _page(self, "ImageVersions", versions, sort_keys)


@_sagemaker_action(_NO_IMAGES)
def delete_image_version(self: SageMakerResponse) -> ActionResult:
    image, version = _image_version(self)
    del image["_versions"][version["Version"]]
    return EmptyResult()


APP_IMAGE_CONFIG_KINDS = (
    "KernelGatewayImageConfig",
    "JupyterLabAppImageConfig",
    "CodeEditorAppImageConfig",
)


def _app_image_config(self: SageMakerResponse, name: str) -> dict:
    config = _studio(self)["app_image_configs"].get(name)
    if config is None:
        raise ResourceNotFound(f"App image config {name} does not exist.")
    return config


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def create_app_image_config(self: SageMakerResponse) -> ActionResult:
    params = _validate_request(self, "CreateAppImageConfig")
    name = params["AppImageConfigName"]
    configs = _studio(self)["app_image_configs"]
    if name in configs:
        raise ResourceInUseException(f"App image config {name} already exists.")
    now = utcnow()
    configs[name] = {
        "AppImageConfigName": name,
        "AppImageConfigArn": arn_formatter(
            "app-image-config", name, self.current_account, self.region
        ),
        "CreationTime": now,
        "LastModifiedTime": now,
        **{kind: params[kind] for kind in APP_IMAGE_CONFIG_KINDS if kind in params},
    }
    return ActionResult({"AppImageConfigArn": configs[name]["AppImageConfigArn"]})


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def describe_app_image_config(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_app_image_config(self, self._get_param("AppImageConfigName")))


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def update_app_image_config(self: SageMakerResponse) -> ActionResult:
    params = _validate_request(self, "UpdateAppImageConfig")
    config = _app_image_config(self, params["AppImageConfigName"])
    for kind in APP_IMAGE_CONFIG_KINDS:
        if kind in params:
            config[kind] = params[kind]
    config["LastModifiedTime"] = utcnow()
    return ActionResult({"AppImageConfigArn": config["AppImageConfigArn"]})


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def list_app_image_configs(self: SageMakerResponse) -> ActionResult:
    contains = self._get_param("NameContains") or ""
    configs = [
        c
        for c in _studio(self)["app_image_configs"].values()
        if contains in c["AppImageConfigName"]
    ]
    sort_keys = {
        "CreationTime": lambda c: c["CreationTime"],
        "LastModifiedTime": lambda c: c["LastModifiedTime"],
        "Name": lambda c: c["AppImageConfigName"],
    }
    return _page(self, "AppImageConfigs", configs, sort_keys)


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def delete_app_image_config(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("AppImageConfigName")
    _app_image_config(self, name)
    del _studio(self)["app_image_configs"][name]
    return EmptyResult()


# Studio apps run nothing here; their records let DeleteImage and UpdateDomain answer
# ResourceInUse while a space runs the image, as on AWS.


def _app_key(self: SageMakerResponse) -> tuple:
    owner = self._get_param("SpaceName") or self._get_param("UserProfileName")
    return (
        self._get_param("DomainId"),
        owner,
        self._get_param("AppType"),
        self._get_param("AppName"),
    )


@_sagemaker_action(_NO_APPS)
def create_app(self: SageMakerResponse) -> ActionResult:
    domain_id = self._get_param("DomainId")
    domain = self.sagemaker_backend.domains.get(domain_id)
    if domain is None:
        raise ResourceNotFound(f"Domain {domain_id} does not exist.")
    key, apps = _app_key(self), _studio(self)["apps"]
    if key in apps and apps[key]["Status"] != "Deleted":
        raise ResourceInUseException(f"App {key[3]} already exists in {key[1]}.")
    spec = self._get_param("ResourceSpec") or {}
    failure = None
    if spec.get("SageMakerImageArn"):
        name = spec["SageMakerImageArn"].rsplit("/", 1)[1]
        failure = _pull_failure(self, domain, _usable_image(self, name), spec)
    apps[key] = {
        "AppArn": arn_formatter("app", "/".join(key[:4]), self.current_account, self.region),
        "DomainId": domain_id,
        **({"SpaceName": key[1]} if self._get_param("SpaceName") else {"UserProfileName": key[1]}),
        "AppType": key[2],
        "AppName": key[3],
        "Status": "Failed" if failure else "InService",
        **({"FailureReason": failure} if failure else {}),
        "ResourceSpec": spec,
        "CreationTime": utcnow(),
    }
    return ActionResult({"AppArn": apps[key]["AppArn"]})


def _execution_role(self: SageMakerResponse, domain) -> str | None:
    """The role an app runs as: its space's, else its user profile's, else the domain's."""
    from .cloudformation import studio_state

    studio, domain_id = studio_state(self.sagemaker_backend), domain.id
    space = studio["spaces"].get((domain_id, self._get_param("SpaceName")))
    owner = (space or {}).get("OwnershipSettings", {}).get("OwnerUserProfileName")
    profile = studio["user_profiles"].get((domain_id, self._get_param("UserProfileName") or owner))
    for settings in ((space or {}).get("SpaceSettings"), (profile or {}).get("UserSettings")):
        if role := (settings or {}).get("ExecutionRole"):
            return role
    return (domain.default_user_settings or {}).get("ExecutionRole")


def _pull_failure(self: SageMakerResponse, domain, image: dict, spec: dict) -> str | None:
    """Why the app cannot start on the custom image, or None: Studio pulls the image version
    as the app's execution role when the app starts."""
    versions = image["_versions"]
    number = spec.get("SageMakerImageVersionArn", "").rsplit("/", 1)[-1]
    version = (
        versions.get(int(number)) if number.isdigit() else versions.get(max(versions, default=0))
    )
    found = find_ecr_image(version["BaseImage"]) if version else None
    role = _execution_role(self, domain)
    if found is None or _settle(version)["ImageVersionStatus"] != "CREATED":
        return (
            f"The image {image['ImageName']} has no created version yet: create one and wait "
            "until it is CREATED."
        )
    if role is None or not may_pull(self.current_account, role, found):
        return (
            f"The execution role {role} does not have permission to pull the image "
            f"{version['BaseImage']}: grant it {', '.join(PULL_ACTIONS)} on the repository."
        )
    return None


def _app(self: SageMakerResponse) -> dict:
    app = _studio(self)["apps"].get(_app_key(self))
    if app is None:
        raise ResourceNotFound(f"App {self._get_param('AppName')} does not exist.")
    return app


@_sagemaker_action(_NO_APPS)
def describe_app(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_app(self))


@_sagemaker_action(_NO_APPS)
def delete_app(self: SageMakerResponse) -> ActionResult:
    app = _app(self)
    if app["Status"] == "Deleted":
        raise ResourceNotFound(f"App {app['AppName']} is already deleted.")
    app["Status"] = "Deleted"
    return EmptyResult()


@_sagemaker_action(_NO_APPS)
def list_apps(self: SageMakerResponse) -> ActionResult:
    apps = list(_studio(self)["apps"].values())
    for field, key in (("DomainIdEquals", "DomainId"), ("SpaceNameEquals", "SpaceName")):
        if wanted := self._get_param(field):
            apps = [a for a in apps if a.get(key) == wanted]
    return _page(self, "Apps", apps, {"CreationTime": lambda a: a["CreationTime"]})


# User profiles, spaces and Studio lifecycle configurations are made by CloudFormation here
# (local/cloudformation.py); these answer their Describe calls.


def _studio_record(self: SageMakerResponse, kind: str, key, label: str) -> ActionResult:
    from .cloudformation import studio_state

    record = studio_state(self.sagemaker_backend)[kind].get(key)
    if record is None:
        raise ResourceNotFound(f"{label} does not exist.")
    return ActionResult(record)


@_sagemaker_action(_NO_STUDIO_RECORDS)
def describe_user_profile(self: SageMakerResponse) -> ActionResult:
    key = (self._get_param("DomainId"), self._get_param("UserProfileName"))
    return _studio_record(self, "user_profiles", key, f"User profile {key[1]} in {key[0]}")


@_sagemaker_action(_NO_STUDIO_RECORDS)
def create_user_profile(self: SageMakerResponse) -> ActionResult:
    params = _validate_request(self, "CreateUserProfile")
    domain = self.sagemaker_backend.domains.get(params["DomainId"])
    if domain is None:
        raise ResourceNotFound(f"Domain {params['DomainId']} does not exist.")
    _check_custom_images(self, domain, params.get("UserSettings") or {}, {})
    from .cloudformation import add_user_profile

    _, arn = add_user_profile(self.current_account, self.region, params)
    return ActionResult({"UserProfileArn": arn})


@_sagemaker_action(_NO_STUDIO_RECORDS)
def update_user_profile(self: SageMakerResponse) -> ActionResult:
    from .cloudformation import studio_state

    params = _validate_request(self, "UpdateUserProfile")
    key = (params["DomainId"], params["UserProfileName"])
    profile = studio_state(self.sagemaker_backend)["user_profiles"].get(key)
    if profile is None:
        raise ResourceNotFound(f"User profile {key[1]} in {key[0]} does not exist.")
    current = profile.get("UserSettings") or {}
    settings = params.get("UserSettings") or {}
    _check_custom_images(self, self.sagemaker_backend.domains[key[0]], settings, current)
    # As UpdateDomain: each settings block named in the request replaces the profile's own.
    profile["UserSettings"] = {**current, **settings}
    profile["LastModifiedTime"] = utcnow()
    return ActionResult({"UserProfileArn": profile["UserProfileArn"]})


@_sagemaker_action(_NO_STUDIO_RECORDS)
def describe_space(self: SageMakerResponse) -> ActionResult:
    key = (self._get_param("DomainId"), self._get_param("SpaceName"))
    return _studio_record(self, "spaces", key, f"Space {key[1]} in {key[0]}")


@_sagemaker_action(_NO_STUDIO_RECORDS)
def describe_studio_lifecycle_config(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("StudioLifecycleConfigName")
    return _studio_record(self, "lifecycle_configs", name, f"Studio lifecycle config {name}")


def _check_custom_images(
    self: SageMakerResponse, domain, user_settings: dict, current_settings: dict | None = None
) -> None:
    """Reject custom images that name a missing image, version or app image config, and the
    removal of an image a running app uses, as AWS does (`current_settings`: the settings the
    request replaces, the domain's defaults unless given)."""
    studio = _studio(self)
    for app in ("JupyterLabAppSettings", "KernelGatewayAppSettings", "CodeEditorAppSettings"):
        if app not in user_settings:
            continue
        entries = (user_settings.get(app) or {}).get("CustomImages") or []
        for entry in entries:
            image = studio["images"].get(entry.get("ImageName"))
            if image is None or image["ImageStatus"] == "DELETING":
                raise ValidationError(f"Image {entry.get('ImageName')} does not exist.")
            number = entry.get("ImageVersionNumber")
            if number is not None and number not in image["_versions"]:
                raise ValidationError(
                    f"Image version {number} of {entry['ImageName']} does not exist."
                )
            if entry.get("AppImageConfigName") not in studio["app_image_configs"]:
                raise ValidationError(
                    f"App image config {entry.get('AppImageConfigName')} does not exist."
                )
        kept = {entry.get("ImageName") for entry in entries}
        if current_settings is None:
            current_settings = domain.default_user_settings or {}
        current = (current_settings.get(app) or {}).get("CustomImages") or []
        for entry in current:
            image = studio["images"].get(entry["ImageName"])
            if entry["ImageName"] in kept or image is None:
                continue
            apps = [a for a in _running_apps(self, image["ImageArn"]) if a["DomainId"] == domain.id]
            if apps:
                raise ResourceInUseException(_in_use_message(image, apps))


@_sagemaker_action(_NO_UPDATE_DOMAIN)
def update_domain(self: SageMakerResponse) -> ActionResult:
    domain_id = self._get_param("DomainId")
    domain = self.sagemaker_backend.domains.get(domain_id)
    if domain is None:
        raise ResourceNotFound(f"Domain {domain_id} does not exist.")
    user_settings = self._get_param("DefaultUserSettings") or {}
    _check_custom_images(self, domain, user_settings)
    # AWS replaces each settings block named in the request and keeps the others.
    domain.default_user_settings = {**(domain.default_user_settings or {}), **user_settings}
    if space_settings := self._get_param("DefaultSpaceSettings"):
        domain.default_space_settings = {**(domain.default_space_settings or {}), **space_settings}
    if domain_settings := self._get_param("DomainSettingsForUpdate"):
        domain.domain_settings = {**(domain.domain_settings or {}), **domain_settings}
    domain.last_modified_time = utcnow()
    return ActionResult({"DomainArn": domain.arn})


def create_domain(self: SageMakerResponse) -> ActionResult:
    result = upstream(SageMakerResponse, "create_domain")(self)
    # AWS answers the new domain's id too; moto leaves it out, and the SDK needs it.
    result.result["DomainId"] = result.result["DomainArn"].rsplit("/", 1)[1]
    return result


# --- The stack's workers, to which the handlers below hand training jobs and builds


@dataclass
class Workers:
    """Set by the stack when it starts; the patches are installed before, once per process."""

    training: Any = None  # runtime.TrainingRuntime
    builds: Any = None  # builds.ImageBuilder
    processing: Any = None  # processing.ProcessingRuntime


WORKERS = Workers()


# --- SageMaker training jobs


def training_job(account: str, region: str, name: str):
    """moto's record of a training job, or None (e.g. after /moto-api/reset)."""
    return sagemaker_backends[account][region].training_jobs.get(name)


def create_training_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TrainingJobName")
    if name in self.sagemaker_backend.training_jobs:
        raise ResourceInUseException(f"Training job {name} already exists.")
    role = self._get_param("RoleArn")
    if not role_trusts(self.current_account, role, "sagemaker.amazonaws.com"):
        raise ValidationError(
            f"Could not assume role {role}. Please ensure that the role exists and allows "
            "principal 'sagemaker.amazonaws.com' to assume the role."
        )
    # moto drops Environment and overwrites the metric definitions in place; keep a copy.
    requested = copy.deepcopy(self._get_param("AlgorithmSpecification"))
    result = upstream(SageMakerResponse, "create_training_job")(self)
    job = self.sagemaker_backend.training_jobs[name]
    job.environment = self._get_param("Environment") or {}
    job.algorithm_specification = requested
    job.training_job_status, job.secondary_status = "InProgress", "Starting"
    job.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": utcnow(), "StatusMessage": "Preparing the job"}
    ]
    job.training_start_time, job.training_end_time = None, None
    job.final_metric_data_list = None
    job.model_artifacts = None
    WORKERS.training.start(self.current_account, self.region, name)
    return result


def stop_training_job(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("TrainingJobName")
    job = self.sagemaker_backend.training_jobs.get(name)
    if job is None:
        raise ResourceNotFound(f"Training job {name} does not exist.")
    if job.training_job_status != "InProgress":
        raise ValidationError(
            f"The training job {name} is {job.training_job_status} and cannot be stopped."
        )
    job.training_job_status, job.secondary_status = "Stopping", "Stopping"
    WORKERS.training.stop(self.current_account, self.region, name)
    return EmptyResult()


def list_training_jobs(self: SageMakerResponse) -> ActionResult:
    params = _validate_request(self, "ListTrainingJobs")
    jobs = list(self.sagemaker_backend.training_jobs.values())
    if params.get("WarmPoolStatusEquals") or params.get("TrainingPlanArnEquals"):
        jobs = []  # no job of the local stack has a warm pool or a training plan
    # The reference gives SortOrder's default as Ascending, but its note on StatusEquals
    # describes a call without one as listing "from the most current to the oldest".
    return list_jobs(
        params,
        jobs,
        name="training_job_name",
        status="training_job_status",
        key="TrainingJobSummaries",
        summary=_training_summary,
        default_order="Descending",
        status_after_paging=True,
    )


def _training_summary(job) -> dict:
    summary = {
        "TrainingJobName": job.training_job_name,
        "TrainingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "TrainingEndTime": job.training_end_time,
        "LastModifiedTime": job.last_modified_time,
        "TrainingJobStatus": job.training_job_status,
        "SecondaryStatus": job.secondary_status,
    }
    return {key: value for key, value in summary.items() if value is not None}


# --- CodeBuild


def start_build(self: CodeBuildResponse) -> ActionResult:
    name = self._get_param("projectName")
    project = self.codebuild_backend.codebuild_projects.get(name)
    role = project.project_metadata["serviceRole"] if project else ""
    if project and not role_trusts(self.current_account, role, "codebuild.amazonaws.com"):
        raise InvalidInputException(
            f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"
        )
    result = upstream(CodeBuildResponse, "start_build")(self)
    build = result.result["build"]  # moto's live record: the builder updates it in place
    project = self.codebuild_backend.codebuild_projects[build["projectName"]]
    overrides = self._get_param("environmentVariablesOverride") or []
    variables = {
        v["name"]: v["value"]
        for v in (project.project_metadata["environment"].get("environmentVariables") or [])
        + overrides
    }
    build["environment"] = {
        **project.project_metadata["environment"],
        "environmentVariables": [{"name": k, "value": v} for k, v in variables.items()],
    }
    build["source"] = project.project_metadata["source"]
    build["serviceRole"] = project.project_metadata["serviceRole"]
    log_stream = build["id"].split(":", 1)[1]
    build["logs"] = {
        "groupName": f"/aws/codebuild/{build['projectName']}",
        "streamName": log_stream,
        "cloudWatchLogs": {"status": "ENABLED"},
    }
    WORKERS.builds.start(self.current_account, self.region, build)
    return result


def batch_get_builds(self: CodeBuildBackend, ids: list[str]) -> list[dict[str, Any]]:
    # moto marks every build SUCCEEDED when read; report what the builder recorded instead.
    return [
        b for history in self.build_metadata_history.values() for b in history if b["id"] in ids
    ]


def update_project(self: CodeBuildResponse) -> ActionResult:
    name = self._get_param("name")
    project = self.codebuild_backend.codebuild_projects.get(name)
    if project is None:
        raise ResourceNotFoundException(f"Project cannot be found: {name}")
    fields = (
        "source",
        "environment",
        "artifacts",
        "serviceRole",
        "description",
        "timeoutInMinutes",
    )
    for field in fields:
        if self._get_param(field) is not None:
            project.project_metadata[field] = self._get_param(field)
    project.service_role = project.project_metadata["serviceRole"]
    return ActionResult({"project": project.project_metadata})


def codebuild_build(account: str, region: str, build_id: str) -> dict | None:
    backend = codebuild_backends[account][region]
    for history in backend.build_metadata_history.values():
        for build in history:
            if build["id"] == build_id:
                return build
    return None


# --- Secrets Manager: the documented 64 KB limit on a secret's value

SECRET_VALUE_LIMIT = 65536
_SECRET_WRITES = ("create_secret", "put_secret_value", "update_secret")


def _limited(name: str):
    """moto's handler `name`, refusing a value over the limit first."""

    def handler(self: SecretsManagerResponse):
        for field in ("SecretString", "SecretBinary"):
            value = self._get_param(field)
            size = len(value.encode() if isinstance(value, str) else value or b"")
            if size > SECRET_VALUE_LIMIT:
                raise SecretsValidationException(
                    f"1 validation error detected: Value at '{field[0].lower()}{field[1:]}' "
                    "failed to satisfy constraint: Member must have length less than or equal "
                    f"to {SECRET_VALUE_LIMIT}"
                )
        return upstream(SecretsManagerResponse, name)(self)

    handler.__name__ = handler.__qualname__ = name
    return handler


# --- ECR: DescribeRepositories pages as AWS does (moto answers every repository at once)

ECR_PAGE_SIZE = 100  # DescribeRepositories' documented default without maxResults


def describe_repositories(self: ECRResponse) -> ActionResult:
    result = upstream(ECRResponse, "describe_repositories")(self)
    if self._get_param("repositoryNames"):
        return result  # named repositories come in one answer, and maxResults may not be given
    repositories = sorted(result.result["repositories"], key=lambda r: r.name)
    size = self._get_param("maxResults") or ECR_PAGE_SIZE
    token = self._get_param("nextToken")
    invalid = EcrInvalidParameterException(
        f"Invalid parameter at 'nextToken' failed to satisfy constraint: {token!r} is not a "
        "token this call returned"
    )
    repositories, next_token = _one_page(repositories, size, token, invalid)
    page = {"repositories": repositories, "failures": []}
    if next_token:
        page["nextToken"] = next_token
    return ActionResult(page)


# --- What this module changes in moto, for the registry (local/patches.py)

PATCHES: list[Patch] = [
    *_SAGEMAKER_ADDITIONS,
    Patch(
        SageMakerResponse,
        "create_domain",
        create_domain,
        "moto leaves the new domain's DomainId out of the answer",
    ),
    Patch(
        SageMakerResponse,
        "create_training_job",
        create_training_job,
        "moto runs nothing and drops Environment; the stack's runtime runs the job",
    ),
    Patch(
        SageMakerResponse,
        "stop_training_job",
        stop_training_job,
        "moto has no StopTrainingJob",
        kind="add",
    ),
    Patch(
        SageMakerResponse,
        "list_training_jobs",
        list_training_jobs,
        "moto ignores SortBy and SortOrder, and pages before it filters",
    ),
    Patch(
        CodeBuildResponse,
        "start_build",
        start_build,
        "moto builds nothing; the stack's builder records the image in ECR",
    ),
    Patch(
        CodeBuildResponse,
        "update_project",
        update_project,
        "moto has no UpdateProject",
        kind="add",
    ),
    Patch(
        CodeBuildBackend,
        "batch_get_builds",
        batch_get_builds,
        "moto marks every build SUCCEEDED when read",
    ),
    *[
        Patch(
            SecretsManagerResponse,
            name,
            _limited(name),
            "moto accepts a secret value over the documented 64 KB",
        )
        for name in _SECRET_WRITES
    ],
    Patch(
        ECRResponse,
        "describe_repositories",
        describe_repositories,
        "moto answers every repository in one page",
    ),
]


def start_moto() -> tuple[ThreadedMotoServer, int]:
    """moto in server mode on 127.0.0.1 and a free port; returns the server and its port."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server.get_host_and_port()[1]
