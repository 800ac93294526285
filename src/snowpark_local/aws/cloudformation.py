"""CloudFormation for the local stack: the Studio resources of infrastructure/tutorial.yaml.

moto's CloudFormation creates IAM roles and policies and S3 buckets, but skips (with a warning)
the types it has no model for, so a template would "succeed" without its domain. This module adds
AWS::SageMaker::Domain, UserProfile, Space and StudioLifecycleConfig, each checked against the
API request CloudFormation makes (botocore's model), with the attributes CloudFormation documents
for Fn::GetAtt; and makes a stack's deletion fail, as on AWS, when its bucket still holds objects
or a space still runs an app.

moto finds resource types through CloudFormationModel.__subclasses__(), so the classes below only
need to be imported before the first stack is created (snowpark_local/patches.py imports this
module).
The changes to moto's own classes are listed in PATCHES, at the end, for that registry.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import WaiterError
from botocore.validate import ParamValidator
from moto.cloudformation import parsing
from moto.cloudformation.models import ChangeSet, CloudFormationBackend
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow
from moto.iam.models import ManagedPolicy, Role
from moto.s3.models import FakeBucket, s3_backends
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.utils import arn_formatter

from sagemaker_snowpark.errors import TutorialError
from snowpark_local.aws.sagemaker.requests import SAGEMAKER_MODEL, check_limits
from snowpark_local.aws.sagemaker.studio_state import (
    add_user_profile,
    check_lifecycle_configs,
    existing_domain,
    studio_of,
)
from snowpark_local.patch import Patch, upstream


def _request(operation: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The API request CloudFormation makes from these properties, validated as AWS does."""
    shape = SAGEMAKER_MODEL.operation_model(operation).input_shape
    request = {k: v for k, v in properties.items() if k in shape.members}
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        raise ValidationError(" ".join(report.generate_report().split()))
    check_limits(request, shape, operation)
    return request


class StudioLifecycleConfig(CloudFormationModel):
    ATTRIBUTES = ("StudioLifecycleConfigArn",)

    def __init__(self, account_id: str, region_name: str, request: dict[str, Any]):
        self.account_id, self.region_name = account_id, region_name
        self.name = request["StudioLifecycleConfigName"]
        self.arn = arn_formatter("studio-lifecycle-config", self.name, account_id, region_name)
        self.record = {**request, "StudioLifecycleConfigArn": self.arn, "CreationTime": utcnow()}

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StudioLifecycleConfigName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::StudioLifecycleConfig"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return _attribute(self, attribute_name, {"StudioLifecycleConfigArn": self.arn})

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        request = _request("CreateStudioLifecycleConfig", cloudformation_json["Properties"])
        try:
            base64.b64decode(request["StudioLifecycleConfigContent"], validate=True)
        except ValueError:
            raise ValidationError("StudioLifecycleConfigContent must be base64-encoded.") from None
        configs = studio_of(account_id, region_name).lifecycle_configs
        if request["StudioLifecycleConfigName"] in configs:
            raise ResourceInUseException(
                f"Studio lifecycle config {request['StudioLifecycleConfigName']} already exists."
            )
        config = cls(account_id, region_name, request)
        configs[config.name] = config.record
        return config

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        studio_of(account_id, region_name).lifecycle_configs.pop(resource_name, None)


def _attribute(resource, name: str, values: dict[str, Any]) -> Any:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    if name not in values:
        raise UnformattedGetAttTemplateException()
    return values[name]


class StudioDomain(CloudFormationModel):
    ATTRIBUTES = ("DomainArn", "DomainId", "Url", "HomeEfsFileSystemId")

    def __init__(self, domain):
        self.domain = domain

    @staticmethod
    def cloudformation_name_type() -> str:
        return "DomainName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::Domain"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return self.domain.id  # Ref answers the primary identifier of the type's schema

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        values = {"DomainArn": self.domain.arn, "DomainId": self.domain.id, "Url": self.domain.url}
        if self.domain.__dict__.get("_home_efs", True):
            values["HomeEfsFileSystemId"] = self.domain.home_efs_file_system_id
        return _attribute(self, attribute_name, values)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        request = _request("CreateDomain", cloudformation_json["Properties"])
        check_lifecycle_configs(account_id, region_name, request["DefaultUserSettings"])
        backend = sagemaker_backends[account_id][region_name]
        backend.create_domain(
            domain_name=request["DomainName"],
            auth_mode=request["AuthMode"],
            default_user_settings=request["DefaultUserSettings"],
            subnet_ids=request.get("SubnetIds"),
            vpc_id=request.get("VpcId"),
            domain_settings=request.get("DomainSettings"),
            tags=request.get("Tags"),
            app_network_access_type=request.get("AppNetworkAccessType"),
            home_efs_file_system_kms_key_id=None,
            kms_key_id=request.get("KmsKeyId"),
            app_security_group_management=request.get("AppSecurityGroupManagement"),
            default_space_settings=request.get("DefaultSpaceSettings"),
        )
        domain = backend.domains[f"d-{request['DomainName']}"]
        domain.__dict__["_home_efs"] = request.get("HomeEfsFileSystemCreation") != "Disabled"
        return cls(domain)

    def delete(self, account_id: str, region_name: str) -> None:
        studio = studio_of(account_id, region_name)
        users = [k for k in studio.user_profiles if k[0] == self.domain.id]
        spaces = [k for k in studio.spaces if k[0] == self.domain.id]
        if users or spaces:
            raise ResourceInUseException(
                f"Domain {self.domain.id} still has user profiles or spaces: delete them first."
            )
        sagemaker_backends[account_id][region_name].delete_domain(self.domain.id, None)


class StudioUserProfile(CloudFormationModel):
    ATTRIBUTES = ("UserProfileArn",)

    def __init__(self, key: tuple[str, str], arn: str):
        self.key, self.arn = key, arn  # key: (domain id, user profile name)

    @staticmethod
    def cloudformation_name_type() -> str:
        return "UserProfileName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::UserProfile"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return f"{self.key[1]}|{self.key[0]}"  # the schema's primary identifier: name, domain

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return _attribute(self, attribute_name, {"UserProfileArn": self.arn})

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        request = _request("CreateUserProfile", cloudformation_json["Properties"])
        return cls(*add_user_profile(account_id, region_name, request))

    def delete(self, account_id: str, region_name: str) -> None:
        studio = studio_of(account_id, region_name)
        owned = [
            name
            for (domain, name), space in studio.spaces.items()
            if domain == self.key[0]
            and (space.get("OwnershipSettings") or {}).get("OwnerUserProfileName") == self.key[1]
        ]
        if owned:
            raise ResourceInUseException(
                f"User profile {self.key[1]} owns spaces {owned}: delete them first."
            )
        studio.user_profiles.pop(self.key, None)


class StudioSpace(CloudFormationModel):
    ATTRIBUTES = ("SpaceArn", "Url")

    def __init__(self, key: tuple[str, str], arn: str):
        self.key, self.arn = key, arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "SpaceName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::Space"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return f"{self.key[0]}|{self.key[1]}"  # the schema's primary identifier: domain, name

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        url = f"https://{self.key[0]}.studio.{self.arn.split(':')[3]}.sagemaker.aws/jupyterlab"
        return _attribute(self, attribute_name, {"SpaceArn": self.arn, "Url": url})

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        request = _request("CreateSpace", cloudformation_json["Properties"])
        existing_domain(account_id, region_name, request["DomainId"])
        check_lifecycle_configs(account_id, region_name, request.get("SpaceSettings") or {})
        studio = studio_of(account_id, region_name)
        owner = (request.get("OwnershipSettings") or {}).get("OwnerUserProfileName")
        if owner and (request["DomainId"], owner) not in studio.user_profiles:
            raise ValidationError(f"User profile {owner} does not exist in {request['DomainId']}.")
        key = (request["DomainId"], request["SpaceName"])
        if key in studio.spaces:
            raise ResourceInUseException(f"Space {key[1]} already exists in {key[0]}.")
        arn = arn_formatter("space", "/".join(key), account_id, region_name)
        studio.spaces[key] = {**request, "SpaceArn": arn, "Status": "InService"}
        return cls(key, arn)

    def delete(self, account_id: str, region_name: str) -> None:
        studio = studio_of(account_id, region_name)
        running = [
            app["AppName"]
            for app in studio.apps.values()
            if (app["DomainId"], app.get("SpaceName")) == self.key and app["Status"] != "Deleted"
        ]
        if running:
            raise ResourceInUseException(
                f"Space {self.key[1]} runs apps {running}: delete them first."
            )
        studio.spaces.pop(self.key, None)


def deploy(cloudformation, stack_name: str, parameters: dict[str, str]) -> list[dict]:
    """Create a stack of infrastructure/tutorial.yaml as `aws cloudformation deploy` does (a
    change set, executed, each waited for); returns its outputs, or raises with the first
    failure's reason."""
    from sagemaker_snowpark.infrastructure import TEMPLATE

    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=TEMPLATE.read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    cloudformation.get_waiter("change_set_create_complete").wait(
        StackName=stack_name, ChangeSetName="deploy"
    )
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName="deploy")
    try:
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack_name)
    except WaiterError as error:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [e["ResourceStatusReason"] for e in events if e.get("ResourceStatusReason")]
        raise TutorialError(
            f"The stack {stack_name} was not created ({error}): {reasons[:1] or 'no reason'}."
        ) from None
    return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])


def _delete_bucket(cls, resource_name, cloudformation_json, account_id, region_name):
    # moto keeps a bucket that holds objects and reports the stack deleted; AWS fails instead.
    backend = s3_backends[account_id][parsing.get_partition(region_name)]
    if backend.get_bucket(resource_name).keys:
        raise ValidationError(
            f"The bucket you tried to delete is not empty: {resource_name} (empty it first)."
        )
    delete = upstream(FakeBucket, "delete_from_cloudformation_json").__func__
    delete(cls, resource_name, cloudformation_json, account_id, region_name)


def _delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    """A resource that cannot be deleted leaves the stack DELETE_FAILED and in place, with the
    reason in its events, as on AWS (moto drops the stack and answers an error)."""
    stacks = [s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)]
    for stack in stacks:
        try:
            stack.resource_map.delete()
        except Exception as error:  # noqa: BLE001 (any resource's failure, with its reason)
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=str(error))
            stack.status = "DELETE_FAILED"
            return
    upstream(CloudFormationBackend, "delete_stack")(self, name_or_stack_id)


def _apply_change_set(self: ChangeSet) -> None:
    """A stack made by executing a change set (`aws cloudformation deploy`) has the change set's
    outputs: moto keeps those of the empty template the stack was reviewed with."""
    upstream(ChangeSet, "apply")(self)
    self.stack.template = self.template
    self.stack._parse_template()
    self.stack.output_map = self.stack._create_output_map()


def _create_role(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    """A role's inline policies from a template are JSON documents, as IAM stores them (moto
    stores the Python text of the mapping, which no policy evaluation can read)."""
    properties = cloudformation_json["Properties"]
    for policy in properties.get("Policies", []):
        if not isinstance(policy["PolicyDocument"], str):
            policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
    create = upstream(Role, "create_from_cloudformation_json").__func__
    return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


def _delete_managed_policy(self: ManagedPolicy, account_id: str, region_name: str) -> None:
    """Deleting a stack deletes its managed policies, detached from the roles, users and groups
    they are attached to first, as CloudFormation does (moto keeps them, so the roles that carry
    them cannot be deleted either)."""
    backend = self.backend
    holders = [*backend.roles.values(), *backend.users.values(), *backend.groups.values()]
    for holder in holders:
        if self.arn in holder.managed_policies:
            self.detach_from(holder)
    backend.delete_policy(self.arn)


# moto caches its list of resource types on first use: forget it, so that the classes above count.
parsing.get_model_list.cache_clear()
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()

# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    Patch(
        FakeBucket,
        "delete_from_cloudformation_json",
        classmethod(_delete_bucket),
        "moto deletes a stack whose bucket still holds objects; AWS fails",
    ),
    Patch(
        CloudFormationBackend,
        "delete_stack",
        _delete_stack,
        "moto drops a stack whose resource cannot be deleted; AWS leaves it DELETE_FAILED",
    ),
    Patch(
        ChangeSet,
        "apply",
        _apply_change_set,
        "moto keeps the outputs of the template a change set's stack was reviewed with",
    ),
    Patch(
        Role,
        "create_from_cloudformation_json",
        classmethod(_create_role),
        "moto stores a template's inline role policy as Python text, not JSON",
    ),
    Patch(
        ManagedPolicy,
        "delete",
        _delete_managed_policy,
        "moto keeps a deleted stack's managed policies, attached",
        kind="add",
        looked_up_by=(parsing.ResourceMap, "_delete_resource"),  # moto skips what lacks delete()
    ),
]
