"""SageMaker Studio on the local stack: images (deleted through DELETING), image versions and app
image configs, Studio app records (so that DeleteImage and UpdateDomain answer ResourceInUse while a
space runs an image), user profiles, spaces (a space starts on the image its DefaultResourceSpec
names, which must be attached), lifecycle configurations and UpdateDomain; moto has none of them.
CloudFormation makes user profiles, spaces and lifecycle configurations too
(aws/cloudformation.py); both keep them in the one Studio state (studio_state.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

from snowpark_local.aws.ecr import PULL_ACTIONS, find_ecr_image, may_pull
from snowpark_local.aws.sagemaker.requests import (
    public_record,
    sorted_page,
    validate_request,
)
from snowpark_local.aws.sagemaker.studio_state import (
    add_user_profile,
    check_lifecycle_configs,
    existing_domain,
    studio_state,
)
from snowpark_local.patch import Patch, upstream

# An image version becomes CREATED (or CREATE_FAILED) this long after CreateImageVersion, so
# that callers exercise their wait loop as they must on AWS.
IMAGE_VERSION_CREATION_SECONDS = 1.0

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


def _image(response: SageMakerResponse, name: str) -> dict:
    image = studio_state(response.sagemaker_backend).images.get(name)
    if image is None:
        raise ResourceNotFound(f"Image {name} does not exist.")
    return image


def _usable_image(response: SageMakerResponse, name: str) -> dict:
    image = _image(response, name)
    if image["ImageStatus"] == "DELETING":
        raise ResourceInUseException(f"Image {name} is being deleted.")
    return image


@_sagemaker_action(_NO_IMAGES)
def create_image(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("ImageName")
    images = studio_state(self.sagemaker_backend).images
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
    return ActionResult(public_record(_image(self, self._get_param("ImageName"))))


@_sagemaker_action(_NO_IMAGES)
def list_images(self: SageMakerResponse) -> ActionResult:
    contains = self._get_param("NameContains") or ""
    images = [
        i
        for i in studio_state(self.sagemaker_backend).images.values()
        if contains in i["ImageName"]
    ]
    sort_keys = {
        "CREATION_TIME": lambda i: i["CreationTime"],
        "LAST_MODIFIED_TIME": lambda i: i["LastModifiedTime"],
        "IMAGE_NAME": lambda i: i["ImageName"],
    }
    return sorted_page(self, "Images", images, sort_keys)


def _running_apps(self: SageMakerResponse, image_arn: str) -> list[dict]:
    return [
        app
        for app in studio_state(self.sagemaker_backend).apps.values()
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
    return ActionResult(public_record(_settle(version)))


@_sagemaker_action(_NO_IMAGES)
def list_image_versions(self: SageMakerResponse) -> ActionResult:
    image = _image(self, self._get_param("ImageName"))
    versions = [_settle(v) for v in image["_versions"].values()]
    sort_keys = {
        "CREATION_TIME": lambda v: (v["CreationTime"], v["Version"]),
        "LAST_MODIFIED_TIME": lambda v: (v["LastModifiedTime"], v["Version"]),
        "VERSION": lambda v: v["Version"],
    }
    return sorted_page(self, "ImageVersions", versions, sort_keys)


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
    config = studio_state(self.sagemaker_backend).app_image_configs.get(name)
    if config is None:
        raise ResourceNotFound(f"App image config {name} does not exist.")
    return config


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def create_app_image_config(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "CreateAppImageConfig")
    name = params["AppImageConfigName"]
    configs = studio_state(self.sagemaker_backend).app_image_configs
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
    params = validate_request(self, "UpdateAppImageConfig")
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
        for c in studio_state(self.sagemaker_backend).app_image_configs.values()
        if contains in c["AppImageConfigName"]
    ]
    sort_keys = {
        "CreationTime": lambda c: c["CreationTime"],
        "LastModifiedTime": lambda c: c["LastModifiedTime"],
        "Name": lambda c: c["AppImageConfigName"],
    }
    return sorted_page(self, "AppImageConfigs", configs, sort_keys)


@_sagemaker_action(_NO_APP_IMAGE_CONFIGS)
def delete_app_image_config(self: SageMakerResponse) -> ActionResult:
    name = self._get_param("AppImageConfigName")
    _app_image_config(self, name)
    del studio_state(self.sagemaker_backend).app_image_configs[name]
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
    key, apps = _app_key(self), studio_state(self.sagemaker_backend).apps
    if key in apps and apps[key]["Status"] != "Deleted":
        raise ResourceInUseException(f"App {key[3]} already exists in {key[1]}.")
    spec = self._get_param("ResourceSpec") or _space_default_spec(self, key)
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


def _space_default_spec(self: SageMakerResponse, key: tuple) -> dict:
    """An app started without a ResourceSpec runs on its space's DefaultResourceSpec for the
    app type (a JupyterLab space's image), as Studio starts a space."""
    space = studio_state(self.sagemaker_backend).spaces.get(key[:2]) if key[1] else None
    settings = ((space or {}).get("SpaceSettings") or {}).get(f"{key[2]}AppSettings") or {}
    return dict(settings.get("DefaultResourceSpec") or {})


def _execution_role(self: SageMakerResponse, domain) -> str | None:
    """The role an app runs as: its space's, else its user profile's, else the domain's."""
    studio, domain_id = studio_state(self.sagemaker_backend), domain.id
    space = studio.spaces.get((domain_id, self._get_param("SpaceName")))
    owner = (space or {}).get("OwnershipSettings", {}).get("OwnerUserProfileName")
    profile = studio.user_profiles.get((domain_id, self._get_param("UserProfileName") or owner))
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
    app = studio_state(self.sagemaker_backend).apps.get(_app_key(self))
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
    apps = list(studio_state(self.sagemaker_backend).apps.values())
    for field, key in (("DomainIdEquals", "DomainId"), ("SpaceNameEquals", "SpaceName")):
        if wanted := self._get_param(field):
            apps = [a for a in apps if a.get(key) == wanted]
    return sorted_page(self, "Apps", apps, {"CreationTime": lambda a: a["CreationTime"]})


# User profiles, spaces and Studio lifecycle configurations are made by CloudFormation
# (aws/cloudformation.py) or by these handlers, which answer their other calls.


def _studio_record(self: SageMakerResponse, kind: str, key, label: str) -> ActionResult:
    record = getattr(studio_state(self.sagemaker_backend), kind).get(key)
    if record is None:
        raise ResourceNotFound(f"{label} does not exist.")
    return ActionResult(record)


@_sagemaker_action(_NO_STUDIO_RECORDS)
def describe_user_profile(self: SageMakerResponse) -> ActionResult:
    key = (self._get_param("DomainId"), self._get_param("UserProfileName"))
    return _studio_record(self, "user_profiles", key, f"User profile {key[1]} in {key[0]}")


@_sagemaker_action(_NO_STUDIO_RECORDS)
def create_user_profile(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "CreateUserProfile")
    domain = self.sagemaker_backend.domains.get(params["DomainId"])
    if domain is None:
        raise ResourceNotFound(f"Domain {params['DomainId']} does not exist.")
    _check_custom_images(self, domain, params.get("UserSettings") or {}, {})
    _, arn = add_user_profile(self.current_account, self.region, params)
    return ActionResult({"UserProfileArn": arn})


@_sagemaker_action(_NO_STUDIO_RECORDS)
def update_user_profile(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "UpdateUserProfile")
    key = (params["DomainId"], params["UserProfileName"])
    profile = studio_state(self.sagemaker_backend).user_profiles.get(key)
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


def _space_owner(self: SageMakerResponse, domain_id: str, space: dict) -> dict | None:
    owner = (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
    return studio_state(self.sagemaker_backend).user_profiles.get((domain_id, owner))


def _check_space_image(self: SageMakerResponse, domain, space: dict, settings: dict) -> None:
    """The image a space's JupyterLab DefaultResourceSpec names must exist in this account, with
    that version CREATED, and be among the domain's or the owner's custom images: Studio starts
    a space only on an image attached there (SageMaker's own images, in AWS's accounts, are
    always offered)."""
    spec = (settings.get("JupyterLabAppSettings") or {}).get("DefaultResourceSpec") or {}
    image_arn, version_arn = spec.get("SageMakerImageArn"), spec.get("SageMakerImageVersionArn")
    if version_arn and not image_arn:
        raise ValidationError("SageMakerImageVersionArn needs the SageMakerImageArn of its image.")
    if not image_arn or image_arn.split(":")[4] != self.current_account:
        return
    name = image_arn.rsplit("/", 1)[-1]
    image = studio_state(self.sagemaker_backend).images.get(name)
    if image is None or image["ImageArn"] != image_arn or image["ImageStatus"] == "DELETING":
        raise ResourceNotFound(f"Image {image_arn} does not exist.")
    if version_arn:
        number = version_arn.rsplit("/", 1)[-1]
        version = image["_versions"].get(int(number)) if number.isdigit() else None
        if version is None or version["ImageVersionArn"] != version_arn:
            raise ResourceNotFound(f"Image version {version_arn} does not exist.")
        if _settle(version)["ImageVersionStatus"] != "CREATED":
            raise ValidationError(
                f"Image version {version_arn} is {version['ImageVersionStatus']}, not CREATED."
            )
    profile = _space_owner(self, domain.id, space) or {}
    attached = [
        entry["ImageName"]
        for settings_of in (domain.default_user_settings, profile.get("UserSettings"))
        for entry in ((settings_of or {}).get("JupyterLabAppSettings") or {}).get("CustomImages")
        or []
    ]
    if name not in attached:
        raise ValidationError(
            f"Image {name} is not among the custom images of domain {domain.id} or of the "
            "space's owner: attach it (UpdateDomain, CustomImages) before a space uses it."
        )


@_sagemaker_action(_NO_STUDIO_RECORDS)
def create_space(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "CreateSpace")
    domain = existing_domain(self.current_account, self.region, params["DomainId"])
    check_lifecycle_configs(self.current_account, self.region, params.get("SpaceSettings") or {})
    key, studio = (params["DomainId"], params["SpaceName"]), studio_state(self.sagemaker_backend)
    if key in studio.spaces:
        raise ResourceInUseException(f"Space {key[1]} already exists in {key[0]}.")
    if (owner := params.get("OwnershipSettings")) and not _space_owner(self, key[0], params):
        raise ValidationError(f"User profile {owner['OwnerUserProfileName']} does not exist.")
    _check_space_image(self, domain, params, params.get("SpaceSettings") or {})
    arn = arn_formatter("space", "/".join(key), self.current_account, self.region)
    now = utcnow()
    studio.spaces[key] = {
        **params,
        "SpaceArn": arn,
        "Status": "InService",
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    return ActionResult({"SpaceArn": arn})


@_sagemaker_action(_NO_STUDIO_RECORDS)
def update_space(self: SageMakerResponse) -> ActionResult:
    params = validate_request(self, "UpdateSpace")
    key = (params["DomainId"], params["SpaceName"])
    space = studio_state(self.sagemaker_backend).spaces.get(key)
    domain = self.sagemaker_backend.domains.get(key[0])
    if space is None or domain is None:
        raise ResourceNotFound(f"Space {key[1]} in {key[0]} does not exist.")
    current = space.get("SpaceSettings") or {}
    settings = params.get("SpaceSettings") or {}
    if settings.get("AppType", current.get("AppType")) != current.get("AppType"):
        raise ValidationError(f"The app type of space {key[1]} cannot be changed.")
    check_lifecycle_configs(self.current_account, self.region, settings)
    _check_space_image(self, domain, space, settings)
    # Each settings block named in the request replaces the space's own, as UpdateDomain's do.
    space["SpaceSettings"] = {**current, **settings}
    if "SpaceDisplayName" in params:
        space["SpaceDisplayName"] = params["SpaceDisplayName"]
    space["LastModifiedTime"] = utcnow()
    return ActionResult({"SpaceArn": space["SpaceArn"]})


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
    studio = studio_state(self.sagemaker_backend)
    for app in ("JupyterLabAppSettings", "KernelGatewayAppSettings", "CodeEditorAppSettings"):
        if app not in user_settings:
            continue
        entries = (user_settings.get(app) or {}).get("CustomImages") or []
        for entry in entries:
            image = studio.images.get(entry.get("ImageName"))
            if image is None or image["ImageStatus"] == "DELETING":
                raise ValidationError(f"Image {entry.get('ImageName')} does not exist.")
            number = entry.get("ImageVersionNumber")
            if number is not None and number not in image["_versions"]:
                raise ValidationError(
                    f"Image version {number} of {entry['ImageName']} does not exist."
                )
            if entry.get("AppImageConfigName") not in studio.app_image_configs:
                raise ValidationError(
                    f"App image config {entry.get('AppImageConfigName')} does not exist."
                )
        kept = {entry.get("ImageName") for entry in entries}
        if current_settings is None:
            current_settings = domain.default_user_settings or {}
        current = (current_settings.get(app) or {}).get("CustomImages") or []
        for entry in current:
            image = studio.images.get(entry["ImageName"])
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


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    *_SAGEMAKER_ADDITIONS,
    Patch(
        SageMakerResponse,
        "create_domain",
        create_domain,
        "moto leaves the new domain's DomainId out of the answer",
    ),
]
