"""A custom SageMaker Studio image: register it, version it, configure it, attach it to a domain,
and make a space start on it.

Each function is idempotent: run twice, it changes nothing the second time. Attaching merges into
the domain's existing custom images and never drops another team's; detaching removes only ours.
"""

from __future__ import annotations

import json
import os
import time

import boto3
from botocore.exceptions import ClientError, WaiterError

from .errors import TutorialError

APP_SETTINGS = {"jupyterlab": "JupyterLabAppSettings", "kernelgateway": "KernelGatewayAppSettings"}
CONFIG_KINDS = {
    "jupyterlab": "JupyterLabAppImageConfig",
    "kernelgateway": "KernelGatewayImageConfig",
}


# DeleteImage is asynchronous: the image is DELETING, usually for seconds, before it is gone.
DELETION_POLL_SECONDS = 2
DELETION_TIMEOUT_SECONDS = 300
IN_USE_FIX = (
    "stop every Studio space that runs it (Studio, JupyterLab, Stop space; run this notebook from "
    "a space on the SageMaker Distribution image), then run the cell again"
)


def _code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def _in_use(error: ClientError, owner: str) -> Exception:
    """ResourceInUse while changing `owner`'s custom images as one line; any other error as is."""
    if _code(error) != "ResourceInUse":
        return error
    return TutorialError(
        f"{owner} cannot change its custom images while one is in use "
        f"({error.response['Error'].get('Message', '')}): {IN_USE_FIX}."
    )


def _without(images: list[dict], image_name: str) -> list[dict]:
    return [image for image in images if image["ImageName"] != image_name]


def _with_entry(images: list[dict], entry: dict) -> list[dict]:
    """The images with `entry` in, replacing an older entry of the same image, the rest kept."""
    return _without(images, entry["ImageName"]) + [entry]


def wait_until_deleted(name: str, sagemaker=None) -> None:
    """Wait until the SageMaker image `name` is gone (botocore's ImageDeleted waiter)."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    attempts = DELETION_TIMEOUT_SECONDS // DELETION_POLL_SECONDS
    try:
        sagemaker.get_waiter("image_deleted").wait(
            ImageName=name,
            WaiterConfig={"Delay": DELETION_POLL_SECONDS, "MaxAttempts": attempts},
        )
    except WaiterError as error:
        last = error.last_response or {}
        status = last.get("ImageStatus") or last.get("Error", {}).get("Code", "unknown")
        reason = last.get("FailureReason") or f"after {DELETION_TIMEOUT_SECONDS} s"
        raise TutorialError(
            f"SageMaker image {name} is {status}, not deleted ({reason}): check it in the "
            "SageMaker console (Images), then run the cell again."
        ) from None


def delete_image(name: str, sagemaker=None) -> bool:
    """Delete the SageMaker image and its versions and wait until it is gone; False if missing."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    try:
        sagemaker.delete_image(ImageName=name)
    except ClientError as error:
        if _code(error) == "ResourceNotFound":
            return False
        if _code(error) == "ResourceInUse":
            raise TutorialError(
                f"SageMaker image {name} cannot be deleted while it is in use "
                f"({error.response['Error'].get('Message', '')}): {IN_USE_FIX}."
            ) from None
        raise
    wait_until_deleted(name, sagemaker)
    return True


def ensure_image(name: str, role_arn: str, description: str = "", sagemaker=None) -> str:
    """Create the SageMaker image if it is missing (or still being deleted); returns its ARN."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    try:
        image = sagemaker.describe_image(ImageName=name)
        if image["ImageStatus"] != "DELETING":
            return image["ImageArn"]
        wait_until_deleted(name, sagemaker)  # a clean-up just ran: create it anew once it is gone
    except ClientError as error:
        if _code(error) != "ResourceNotFound":
            raise
    described = {"Description": description} if description else {}  # the API takes no ""
    return sagemaker.create_image(ImageName=name, RoleArn=role_arn, DisplayName=name, **described)[
        "ImageArn"
    ]


def ensure_image_version(
    name: str, base_image: str, sagemaker=None, timeout: float = 900, poll: float = 2
) -> dict:
    """The image version for base_image: the latest one if it already is, else a new one.

    Waits until it is CREATED; raises with SageMaker's FailureReason when it fails.
    """
    sagemaker = sagemaker or boto3.client("sagemaker")
    try:
        latest = sagemaker.describe_image_version(ImageName=name)
    except ClientError as error:
        if _code(error) != "ResourceNotFound":
            raise
        latest = None
    if (
        latest is None
        or latest["BaseImage"] != base_image
        or "FAILED" in latest["ImageVersionStatus"]
    ):
        sagemaker.create_image_version(
            ImageName=name, BaseImage=base_image, ClientToken=f"{name}-{int(time.time() * 1000)}"
        )
    deadline = time.time() + timeout
    while True:
        version = sagemaker.describe_image_version(ImageName=name)
        status = version["ImageVersionStatus"]
        if status == "CREATED":
            return version
        if status in ("CREATE_FAILED", "DELETE_FAILED", "DELETING"):
            raise TutorialError(
                f"Image version {version['Version']} of {name} is {status}: "
                f"{version.get('FailureReason', 'no reason given')}"
            )
        if time.time() > deadline:
            raise TutorialError(f"Image version of {name} still {status} after {timeout:.0f} s.")
        time.sleep(poll)


def ensure_app_image_config(name: str, kind: str, config: dict, sagemaker=None) -> str:
    """Create the app image config or update it to `config`; kind: jupyterlab or kernelgateway."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    field = CONFIG_KINDS[kind]
    try:
        sagemaker.describe_app_image_config(AppImageConfigName=name)
    except ClientError as error:
        if _code(error) != "ResourceNotFound":
            raise
        return sagemaker.create_app_image_config(AppImageConfigName=name, **{field: config})[
            "AppImageConfigArn"
        ]
    return sagemaker.update_app_image_config(AppImageConfigName=name, **{field: config})[
        "AppImageConfigArn"
    ]


def custom_images(domain_id: str, kind: str = "jupyterlab", sagemaker=None) -> list[dict]:
    sagemaker = sagemaker or boto3.client("sagemaker")
    settings = sagemaker.describe_domain(DomainId=domain_id).get("DefaultUserSettings", {})
    return list((settings.get(APP_SETTINGS[kind]) or {}).get("CustomImages") or [])


def _set_custom_images(domain_id: str, kind: str, images: list[dict], sagemaker) -> None:
    settings = sagemaker.describe_domain(DomainId=domain_id).get("DefaultUserSettings", {})
    app_settings = dict(settings.get(APP_SETTINGS[kind]) or {})  # keep its other settings
    app_settings["CustomImages"] = images
    try:
        sagemaker.update_domain(
            DomainId=domain_id, DefaultUserSettings={APP_SETTINGS[kind]: app_settings}
        )
    except ClientError as error:
        raise _in_use(error, f"Domain {domain_id}") from None


def attach_to_domain(domain_id: str, entry: dict, kind: str = "jupyterlab", sagemaker=None) -> list:
    """Put `entry` among the domain's custom images (replacing an older entry of the same image)."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    current = custom_images(domain_id, kind, sagemaker)
    merged = _with_entry(current, entry)
    if merged != current:
        _set_custom_images(domain_id, kind, merged, sagemaker)
    return merged


def detach_from_domain(domain_id: str, image_name: str, kind: str = "jupyterlab", sagemaker=None):
    """Remove the image from the domain's custom images, keeping every other one."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    current = custom_images(domain_id, kind, sagemaker)
    remaining = _without(current, image_name)
    if remaining != current:
        _set_custom_images(domain_id, kind, remaining, sagemaker)
    return remaining


# A user profile with settings of its own for an app (the template's sets its lifecycle
# configuration) may hide the domain's custom images: whether Studio merges the two per field or
# takes the profile's block whole is not settled by the API reference, so the image goes in both.


def _profile_settings(domain_id: str, profile: str, kind: str, sagemaker) -> dict | None:
    described = sagemaker.describe_user_profile(DomainId=domain_id, UserProfileName=profile)
    return (described.get("UserSettings") or {}).get(APP_SETTINGS[kind])


def _set_profile_images(domain_id, profile, kind, settings, images, sagemaker) -> None:
    try:
        sagemaker.update_user_profile(
            DomainId=domain_id,
            UserProfileName=profile,
            UserSettings={APP_SETTINGS[kind]: {**settings, "CustomImages": images}},
        )
    except ClientError as error:
        raise _in_use(error, f"User profile {profile}") from None


def _own_settings(domain_id: str, profile: str, kind: str, sagemaker) -> dict | None:
    """The profile's own settings for the app; None when it has none, or no longer exists."""
    try:
        return _profile_settings(domain_id, profile, kind, sagemaker)
    except ClientError as error:
        if _code(error) == "ResourceNotFound":
            return None
        raise


def profile_custom_images(
    domain_id: str, profile: str, kind: str = "jupyterlab", sagemaker=None
) -> list[dict]:
    """The custom images of the profile's own settings for the app (none when it has none)."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    settings = _own_settings(domain_id, profile, kind, sagemaker)
    return list((settings or {}).get("CustomImages") or [])


def attach_to_user_profile(
    domain_id: str, profile: str, entry: dict, kind: str = "jupyterlab", sagemaker=None
) -> list | None:
    """Put `entry` among the profile's own custom images when the profile has its own settings
    for the app (otherwise the domain's apply); returns its images, or None when it has none.
    A profile that does not exist is an error here: the name came from the learner."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    settings = _profile_settings(domain_id, profile, kind, sagemaker)
    if settings is None:
        return None
    current = list(settings.get("CustomImages") or [])
    merged = _with_entry(current, entry)
    if merged != current:
        _set_profile_images(domain_id, profile, kind, settings, merged, sagemaker)
    return merged


def detach_from_user_profile(
    domain_id: str, profile: str, image_name: str, kind: str = "jupyterlab", sagemaker=None
) -> bool:
    """Remove the image from the profile's own custom images; True when it was there."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    settings = _own_settings(domain_id, profile, kind, sagemaker)
    current = list((settings or {}).get("CustomImages") or [])
    remaining = _without(current, image_name)
    if remaining == current:
        return False
    _set_profile_images(domain_id, profile, kind, settings, remaining, sagemaker)
    return True


# The space a notebook runs in: Studio starts it on the image its DefaultResourceSpec names (the
# domain's default, SageMaker Distribution, when it names none). A change applies the next time
# the space starts.
SPACE_VARIABLE = "SAGEMAKER_SPACE_NAME"
IMAGE_FIELDS = ("SageMakerImageArn", "SageMakerImageVersionArn", "SageMakerImageVersionAlias")


def space_name() -> str | None:
    """SAGEMAKER_SPACE_NAME, else the Studio space this kernel runs in; None outside Studio."""
    from . import settings

    if name := os.environ.get(SPACE_VARIABLE):
        return name
    if settings.STUDIO_METADATA.is_file():
        return json.loads(settings.STUDIO_METADATA.read_text()).get("SpaceName")
    return None


def _space_spec(domain_id: str, space: str, sagemaker) -> tuple[dict, dict]:
    """The space's JupyterLab settings and their DefaultResourceSpec."""
    try:
        described = sagemaker.describe_space(DomainId=domain_id, SpaceName=space)
    except ClientError as error:
        if _code(error) == "ResourceNotFound":
            raise TutorialError(
                f"Studio space {space} does not exist in domain {domain_id}: set "
                f"{SPACE_VARIABLE} to your space's name (Studio, JupyterLab lists it)."
            ) from None
        raise
    settings = (described.get("SpaceSettings") or {}).get("JupyterLabAppSettings") or {}
    return dict(settings), dict(settings.get("DefaultResourceSpec") or {})


def space_image(domain_id: str, space: str, sagemaker=None) -> str | None:
    """The name of the custom image the space starts on; None for Studio's default image."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    _, spec = _space_spec(domain_id, space, sagemaker)
    arn = spec.get("SageMakerImageArn")
    return arn.rsplit("/", 1)[-1] if arn else None


def use_image_in_space(
    domain_id: str,
    space: str,
    image_name: str | None,
    version: int | None = None,
    sagemaker=None,
) -> dict:
    """Make the space start on `image_name` (version `version`, else its latest) from its next
    start, with UpdateSpace; None: back on Studio's default image. Keeps the space's instance
    type and lifecycle configuration; returns the space's DefaultResourceSpec."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    settings, spec = _space_spec(domain_id, space, sagemaker)
    wanted = {k: v for k, v in spec.items() if k not in IMAGE_FIELDS}
    if image_name is not None:
        described = sagemaker.describe_image_version(
            ImageName=image_name, **({"Version": version} if version is not None else {})
        )
        wanted["SageMakerImageArn"] = described["ImageArn"]
        wanted["SageMakerImageVersionArn"] = described["ImageVersionArn"]
    if wanted != spec:
        # UpdateSpace replaces the JupyterLab settings block: send it whole, with the new spec.
        sagemaker.update_space(
            DomainId=domain_id,
            SpaceName=space,
            SpaceSettings={"JupyterLabAppSettings": {**settings, "DefaultResourceSpec": wanted}},
        )
    return wanted


def stop_using_image_in_space(domain_id: str, space: str, image_name: str, sagemaker=None) -> bool:
    """Put the space back on Studio's default image if it starts on `image_name` (a space whose
    image is deleted cannot start); True when it changed."""
    sagemaker = sagemaker or boto3.client("sagemaker")
    if space_image(domain_id, space, sagemaker) != image_name:
        return False
    use_image_in_space(domain_id, space, None, sagemaker=sagemaker)
    return True
