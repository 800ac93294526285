"""The local stack's SageMaker Studio records, with one owner: moto keeps none of them.

Studio's handlers (studio.py) and CloudFormation's Studio resources (aws/cloudformation.py) read
and write the same records through `studio_state`. They live on moto's SageMaker backend, so that
/moto-api/reset clears them with everything else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.utils import arn_formatter

# DeleteImage leaves the image DELETING this long, then it is gone, as AWS deletes asynchronously.
IMAGE_DELETION_SECONDS = 1.0
_ON_THE_BACKEND = "_snowpark_local_studio"


@dataclass
class StudioState:
    """Each record is the Describe answer's fields; keys starting with _ are the stack's own."""

    images: dict[str, dict] = field(default_factory=dict)  # by image name
    app_image_configs: dict[str, dict] = field(default_factory=dict)  # by config name
    apps: dict[tuple, dict] = field(default_factory=dict)  # by (domain, owner, type, app name)
    user_profiles: dict[tuple[str, str], dict] = field(default_factory=dict)  # (domain, name)
    spaces: dict[tuple[str, str], dict] = field(default_factory=dict)  # (domain, space name)
    lifecycle_configs: dict[str, dict] = field(default_factory=dict)  # by config name

    def forget_deleted_images(self) -> None:
        """DeleteImage is asynchronous on AWS: the image is DELETING for a while, then gone."""
        for name, image in list(self.images.items()):
            if image["ImageStatus"] == "DELETING":
                if time.time() - image["_deleting_since"] >= IMAGE_DELETION_SECONDS:
                    del self.images[name]


def studio_state(backend) -> StudioState:
    """The Studio records kept on this moto SageMaker backend."""
    state = backend.__dict__.get(_ON_THE_BACKEND)
    if state is None:
        state = backend.__dict__[_ON_THE_BACKEND] = StudioState()
    state.forget_deleted_images()
    return state


def studio_of(account_id: str, region_name: str) -> StudioState:
    return studio_state(sagemaker_backends[account_id][region_name])


def existing_domain(account_id: str, region_name: str, domain_id: str):
    """moto's record of a domain; ValidationException when it does not exist."""
    found = sagemaker_backends[account_id][region_name].domains.get(domain_id)
    if found is None:
        raise ValidationError(f"Domain {domain_id} does not exist.")
    return found


def check_lifecycle_configs(account_id: str, region_name: str, settings: dict) -> None:
    """Studio refuses a lifecycle configuration that does not exist."""
    configs = studio_of(account_id, region_name).lifecycle_configs
    app = settings.get("JupyterLabAppSettings") or {}
    named = list(app.get("LifecycleConfigArns") or [])
    if arn := (app.get("DefaultResourceSpec") or {}).get("LifecycleConfigArn"):
        named.append(arn)
    for arn in named:
        if arn.rsplit("/", 1)[-1] not in configs:
            raise ValidationError(f"Studio lifecycle config {arn} does not exist.")


def add_user_profile(account_id: str, region_name: str, request: dict) -> tuple[tuple, str]:
    """Record a user profile of a CreateUserProfile request; returns its key and ARN."""
    existing_domain(account_id, region_name, request["DomainId"])
    check_lifecycle_configs(account_id, region_name, request.get("UserSettings") or {})
    profiles = studio_of(account_id, region_name).user_profiles
    key = (request["DomainId"], request["UserProfileName"])
    if key in profiles:
        raise ResourceInUseException(f"User profile {key[1]} already exists in {key[0]}.")
    arn = arn_formatter("user-profile", "/".join(key), account_id, region_name)
    profiles[key] = {**request, "UserProfileArn": arn, "Status": "InService"}
    return key, arn
