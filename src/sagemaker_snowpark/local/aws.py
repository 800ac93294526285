"""AWS for the local stack: moto in server mode, plus what the tutorial needs and moto lacks.

moto 5.2.5 answers Secrets Manager, S3, ECR, STS, IAM, CloudWatch Logs, CodeBuild and most of
SageMaker. This module adds, by patching moto's SageMaker and CodeBuild handlers in this process:

- SageMaker images, image versions and app image configs (moto has none of them);
- UpdateDomain;
- CreateTrainingJob that really runs the job (through `runtime`) and StopTrainingJob;
- CodeBuild builds that record an image in ECR (through `builder`) instead of always succeeding.

The patches rely on moto internals, which is why moto is pinned; tests/test_local_aws.py covers
each of them.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.codebuild.responses import CodeBuildResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time_millis, utcnow
from moto.ecr.models import ecr_backends
from moto.logs.models import logs_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.s3.models import s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

from .iam import role_trusts

ACCOUNT_ID = DEFAULT_ACCOUNT_ID
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# An image version becomes CREATED (or CREATE_FAILED) this long after CreateImageVersion, so
# that callers exercise their wait loop as they must on AWS.
IMAGE_VERSION_CREATION_SECONDS = 1.0

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


# --- SageMaker: Studio images, image versions, app image configs, UpdateDomain

_SAGEMAKER_ACTIONS: dict[str, Callable[[SageMakerResponse], ActionResult]] = {}


def _sagemaker_action(handler):
    _SAGEMAKER_ACTIONS[handler.__name__] = handler
    return handler


def _studio(response: SageMakerResponse) -> dict[str, dict]:
    # Kept on moto's backend object, so that /moto-api/reset clears it with everything else.
    backend = response.sagemaker_backend
    return backend.__dict__.setdefault("_tutorial_studio", {"images": {}, "app_image_configs": {}})


def _image(response: SageMakerResponse, name: str) -> dict:
    image = _studio(response)["images"].get(name)
    if image is None:
        raise ResourceNotFound(f"Image {name} does not exist.")
    return image


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


@_sagemaker_action
def create_image(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    images = _studio(self)["images"]
    if name in images:
        raise ResourceInUseException(f"Image {name} already exists.")
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


@_sagemaker_action
def describe_image(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_public(_image(self, self._get_param("ImageName"))))


@_sagemaker_action
def list_images(self: SageMakerResponse) -> ActionResult:
    contains = self._get_param("NameContains") or ""
    images = [_public(i) for i in _studio(self)["images"].values() if contains in i["ImageName"]]
    return ActionResult({"Images": images})


@_sagemaker_action
def delete_image(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    _image(self, name)
    del _studio(self)["images"][name]  # deleting an image deletes its versions, as on AWS
    return EmptyResult()


def _settle(version: dict) -> dict:
    if version["ImageVersionStatus"] == "CREATING":
        if time.time() - version["_created"] >= IMAGE_VERSION_CREATION_SECONDS:
            version["ImageVersionStatus"] = version.pop("_outcome")
            version["LastModifiedTime"] = utcnow()
    return version


@_sagemaker_action
def create_image_version(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    image = _image(self, name)
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


@_sagemaker_action
def describe_image_version(self: SageMakerResponse) -> ActionResult:
    _, version = _image_version(self)
    return ActionResult(_public(_settle(version)))


@_sagemaker_action
def list_image_versions(self: SageMakerResponse) -> ActionResult:
    image = _image(self, self._get_param("ImageName"))
    versions = [_public(_settle(v)) for _, v in sorted(image["_versions"].items())]
    return ActionResult({"ImageVersions": versions})


@_sagemaker_action
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


@_sagemaker_action
def create_app_image_config(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("AppImageConfigName")
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
        **{kind: self._get_param(kind) for kind in APP_IMAGE_CONFIG_KINDS if self._get_param(kind)},
    }
    return ActionResult({"AppImageConfigArn": configs[name]["AppImageConfigArn"]})


@_sagemaker_action
def describe_app_image_config(self: SageMakerResponse) -> ActionResult:
    return ActionResult(_app_image_config(self, self._get_param("AppImageConfigName")))


@_sagemaker_action
def update_app_image_config(self: SageMakerResponse) -> ActionResult:
    config = _app_image_config(self, self._get_param("AppImageConfigName"))
    for kind in APP_IMAGE_CONFIG_KINDS:
        if self._get_param(kind):
            config[kind] = self._get_param(kind)
    config["LastModifiedTime"] = utcnow()
    return ActionResult({"AppImageConfigArn": config["AppImageConfigArn"]})


@_sagemaker_action
def list_app_image_configs(self: SageMakerResponse) -> ActionResult:
    contains = self._get_param("NameContains") or ""
    configs = [
        c
        for c in _studio(self)["app_image_configs"].values()
        if contains in c["AppImageConfigName"]
    ]
    return ActionResult({"AppImageConfigs": configs})


@_sagemaker_action
def delete_app_image_config(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("AppImageConfigName")
    _app_image_config(self, name)
    del _studio(self)["app_image_configs"][name]
    return EmptyResult()


def _check_custom_images(self: SageMakerResponse, user_settings: dict) -> None:
    """Reject custom images that name a missing image, version or app image config, as AWS does."""
    studio = _studio(self)
    for app in ("JupyterLabAppSettings", "KernelGatewayAppSettings", "CodeEditorAppSettings"):
        for entry in (user_settings.get(app) or {}).get("CustomImages") or []:
            image = studio["images"].get(entry.get("ImageName"))
            if image is None:
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


@_sagemaker_action
def update_domain(self: SageMakerResponse) -> ActionResult:
    domain_id = self._get_param("DomainId")
    domain = self.sagemaker_backend.domains.get(domain_id)
    if domain is None:
        raise ResourceNotFound(f"Domain {domain_id} does not exist.")
    user_settings = self._get_param("DefaultUserSettings") or {}
    _check_custom_images(self, user_settings)
    # AWS replaces each settings block named in the request and keeps the others.
    domain.default_user_settings = {**(domain.default_user_settings or {}), **user_settings}
    if space_settings := self._get_param("DefaultSpaceSettings"):
        domain.default_space_settings = {**(domain.default_space_settings or {}), **space_settings}
    if domain_settings := self._get_param("DomainSettingsForUpdate"):
        domain.domain_settings = {**(domain.domain_settings or {}), **domain_settings}
    domain.last_modified_time = utcnow()
    return ActionResult({"DomainArn": domain.arn})


_original_create_domain = SageMakerResponse.create_domain


def create_domain(self: SageMakerResponse) -> ActionResult:
    result = _original_create_domain(self)
    # AWS answers the new domain's id too; moto leaves it out, and the SDK needs it.
    result.result["DomainId"] = result.result["DomainArn"].rsplit("/", 1)[1]
    return result


_SAGEMAKER_ACTIONS["create_domain"] = create_domain


# --- SageMaker training jobs

_original_create_training_job = SageMakerResponse.create_training_job


def training_job(account: str, region: str, name: str):
    """moto's record of a training job, or None (e.g. after /moto-api/reset)."""
    return sagemaker_backends[account][region].training_jobs.get(name)


def _install_training(runtime) -> None:
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
        result = _original_create_training_job(self)
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
        runtime.start(self.current_account, self.region, name)
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
        runtime.stop(self.current_account, self.region, name)
        return EmptyResult()

    SageMakerResponse.create_training_job = create_training_job
    SageMakerResponse.stop_training_job = stop_training_job


# --- CodeBuild

_original_start_build = CodeBuildResponse.start_build


def _install_codebuild(builder) -> None:
    def start_build(self: CodeBuildResponse) -> ActionResult:
        name = self._get_param("projectName")
        project = self.codebuild_backend.codebuild_projects.get(name)
        role = project.project_metadata["serviceRole"] if project else ""
        if project and not role_trusts(self.current_account, role, "codebuild.amazonaws.com"):
            raise InvalidInputException(
                f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"
            )
        result = _original_start_build(self)
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
        builder.start(self.current_account, self.region, build)
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

    CodeBuildResponse.start_build = start_build
    CodeBuildResponse.update_project = update_project
    CodeBuildBackend.batch_get_builds = batch_get_builds


def codebuild_build(account: str, region: str, build_id: str) -> dict | None:
    backend = codebuild_backends[account][region]
    for history in backend.build_metadata_history.values():
        for build in history:
            if build["id"] == build_id:
                return build
    return None


def install_extensions(runtime, builder) -> None:
    """Patch moto in this process. `runtime` runs training jobs, `builder` runs CodeBuild builds."""
    for name, handler in _SAGEMAKER_ACTIONS.items():
        setattr(SageMakerResponse, name, handler)
    _install_training(runtime)
    _install_codebuild(builder)


def start_moto() -> tuple[ThreadedMotoServer, int]:
    """moto in server mode on 127.0.0.1 and a free port; returns the server and its port."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, server.get_host_and_port()[1]
