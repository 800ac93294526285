"""IAM for the local stack: moto's own access control, completed where the tutorial needs it.

moto checks every signed request against the caller's IAM policies once its
`INITIAL_NO_AUTH_ACTION_COUNT` setting is reached (moto/core/authorization.py,
moto/iam/access_control.py). Left as it is, that check is both too lenient and too strict for
the policies in policies/: it evaluates every non-S3 action against the resource "*", treats
`?` and `.` in ARN patterns as regular expressions, turns an Allow whose condition does not hold
into an explicit Deny, ignores StringLike, never checks iam:PassRole, and has no
iam:SimulatePrincipalPolicy. This module fills those gaps through moto's own hooks:

- `_determine_resource` on each service's response class (moto calls it before authorizing)
  names the ARN that AWS's service authorization reference gives for the action;
- moto's policy statement learns glob matching and condition operators;
- actions that pass a role (CreateTrainingJob, CreateProcessingJob, CreateProject, ...) also
  need iam:PassRole on it, with iam:PassedToService, as on AWS;
- SimulatePrincipalPolicy answers from the same evaluation.

PATCHES, at the end, lists these changes for the registry (local/patches.py), which installs them.

`role_allows` lets the stack check what AWS does on a role's behalf (a training job writing its
model, CodeBuild reading its source) with the same evaluation.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xmltodict
from moto import settings
from moto.codebuild.responses import CodeBuildResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.core.responses import ActionResult, BaseResponse
from moto.ecr.responses import ECRResponse
from moto.iam import access_control
from moto.iam.access_control import (
    IAMPolicyStatement,
    IAMRequestBase,
    PermissionResult,
    S3IAMRequest,
)
from moto.iam.exceptions import NoSuchEntity
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse
from moto.logs.responses import LogsResponse
from moto.s3.responses import S3Response
from moto.sagemaker.responses import SageMakerResponse
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse

from sagemaker_snowpark.errors import TutorialError
from snowpark_local.accounts import ACCOUNT_ID, DOMAIN_NAME, REGION, USER_PROFILE
from snowpark_local.patch import Patch, upstream

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def policy_document(name: str, domain_id: str | None = None) -> str:
    """A file of policies/ as the stack uses it: its placeholders filled with the stack's account
    and the domain the learner works in (the seeded team domain unless `domain_id` is given)."""
    from sagemaker_snowpark.infrastructure import fill

    path = POLICIES / name
    try:
        document = path.read_text()
    except OSError:
        raise TutorialError(
            f"The local stack needs {path} (run it from a clone of the repository)."
        ) from None
    domain = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:domain/{domain_id or 'd-' + DOMAIN_NAME}"
    return fill(document, ACCOUNT_ID, domain, USER_PROFILE)


# --- Matching and conditions, as IAM evaluates them


def _glob(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` exactly one; everything else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": _glob,
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _glob,
    "Bool": lambda want, got: want.lower() == got.lower(),
}


def conditions_hold(conditions: dict | None, context: dict[str, str] | None) -> bool:
    """True when every condition holds for the request's context keys.

    A missing key fails a positive operator and satisfies a negated one, as in IAM; `...IfExists`
    holds when the key is missing. An operator this stack does not know never holds, so a policy
    relying on one fails here rather than passing silently.
    """
    context = {k.lower(): v for k, v in (context or {}).items()}
    for operator, tests in (conditions or {}).items():
        if_exists = operator.endswith("IfExists")
        name = operator.removesuffix("IfExists")
        negated = name.startswith(("StringNot", "ArnNot"))
        positive = name.replace("StringNot", "String").replace("ArnNot", "Arn")
        if positive not in _OPERATORS:
            return False
        for key, expected in tests.items():
            got = context.get(key.lower())
            if got is None:
                if if_exists or negated:
                    continue
                return False
            matched = any(_OPERATORS[positive](want, got) for want in _values(expected))
            if matched == negated:
                return False
    return True


def _statement_permits(
    self: IAMPolicyStatement, action, resource="*", principal=None, context=None
):
    statement = self._statement
    if "NotAction" in statement:
        concerned = not any(_glob(a, action, False) for a in _values(statement["NotAction"]))
    else:
        concerned = any(_glob(a, action, False) for a in _values(statement.get("Action", [])))
    if not concerned:
        return PermissionResult.NEUTRAL
    if self.is_unknown_principal(statement.get("Principal")):
        return PermissionResult.NEUTRAL
    if principal and not self._check_principal(principal):
        return PermissionResult.NEUTRAL
    # moto answers Deny here for an Allow whose condition fails; IAM simply does not apply it.
    if not conditions_hold(statement.get("Condition"), context):
        return PermissionResult.NEUTRAL
    if "Resource" in statement:
        if not any(_glob(r, resource) for r in _values(statement["Resource"])):
            return PermissionResult.NEUTRAL
    elif "NotResource" in statement:
        if any(_glob(r, resource) for r in _values(statement["NotResource"])):
            return PermissionResult.NEUTRAL
    allow = statement["Effect"] == "Allow"
    return PermissionResult.PERMITTED if allow else PermissionResult.DENIED


# --- Who is asking, and what their policies decide


def principal_policies(account: str, arn: str) -> list[str]:
    """The policy documents of an IAM user or role (inline and attached), by ARN."""
    backend = iam_backends[account]["aws"]
    name = arn.rsplit("/", 1)[-1]
    documents = []
    if ":user/" in arn:
        for policy_name in backend.list_user_policies(name):
            documents.append(backend.get_user_policy(name, policy_name)["policy_document"])
        attached, _ = backend.list_attached_user_policies(name)
    elif ":role/" in arn:
        for policy_name in backend.list_role_policies(name):
            documents.append(backend.get_role_policy(name, policy_name)[1])
        attached, _ = backend.list_attached_role_policies(name)
    else:
        raise ValueError(f"{arn} is neither an IAM user nor a role")
    for policy in attached:
        documents.append(next(v.document for v in policy.versions if v.is_default))
    return documents


def decide(documents: list, action: str, resource: str, context: dict | None = None) -> str:
    """IAM's verdict: "explicitDeny", "allowed" or "implicitDeny" (usable outside the stack's
    process too: it evaluates with this module's matching, patched into moto or not)."""
    allowed = False
    for document in documents:
        statements = json.loads(document)["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            result = _statement_permits(
                IAMPolicyStatement(statement), action, resource, None, context
            )
            if result == PermissionResult.DENIED:
                return "explicitDeny"
            allowed = allowed or result == PermissionResult.PERMITTED
    return "allowed" if allowed else "implicitDeny"


def role_allows(account: str, role_arn: str, action: str, resource: str, context=None) -> bool:
    """Whether the role's own policies let it do `action` on `resource` (what AWS checks when a
    service acts as the role: a training job writing its model, CodeBuild reading its source)."""
    try:
        documents = principal_policies(account, role_arn)
    except Exception:  # the role does not exist
        return False
    allowed = decide(documents, action, resource, context) == "allowed"
    if allowed:
        _record(role_arn, action, resource, context)
    return allowed


def role_trusts(account: str, role_arn: str, service: str) -> bool:
    """Whether the role's trust policy lets `service` (e.g. sagemaker.amazonaws.com) assume it."""
    backend = iam_backends[account]["aws"]
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:
        return False
    document = role.assume_role_policy_document
    return isinstance(document, str) and trusts(document, service, account)


def trusts(document: str, service: str, account: str) -> bool:
    """Whether a trust policy lets `service`, acting for `account`, assume the role."""
    statements = json.loads(document)["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        services = (statement.get("Principal") or {}).get("Service", [])
        if (
            statement.get("Effect") == "Allow"
            and any(_glob(a, "sts:AssumeRole", False) for a in _values(statement.get("Action")))
            and service in _values(services)
            # The services say whose resource they act for (confused-deputy protection).
            and conditions_hold(statement.get("Condition"), {"aws:SourceAccount": account})
        ):
            return True
    return False


# --- What was allowed, and to whom: tests replay it to prove each policy statement is needed

_record_file: Path | None = None
_recorded: set[tuple] = set()
_record_lock = threading.Lock()


def record_to(path: Path) -> None:
    """Append every distinct allowed (principal, action, resource, context) to `path`."""
    global _record_file
    _record_file = path


def _principal(arn: str) -> str:
    """The IAM user or role whose policies decide for `arn`: a role's sessions
    (arn:aws:sts::...:assumed-role/NAME/SESSION) act with the role's policies."""
    if match := re.match(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/", arn):
        return f"arn:aws:iam::{match[1]}:role/{match[2]}"
    return arn


def _record(principal: str, action: str, resource: str, context: dict | None = None) -> None:
    principal = _principal(principal)
    entry = (principal, action, resource, tuple(sorted((context or {}).items())))
    with _record_lock:
        if _record_file is None or entry in _recorded:
            return
        _recorded.add(entry)
        line = {"principal": principal, "action": action, "resource": resource}
        with open(_record_file, "a") as file:
            file.write(json.dumps({**line, "context": dict(entry[3])}) + "\n")


def _check_and_record(self: IAMRequestBase, resource: str) -> None:
    upstream(IAMRequestBase, "check_action_permitted")(self, resource)  # raises when denied
    _record(self._access_key.arn, self._action, resource)


def _enforcing() -> bool:
    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def enforce() -> None:
    """From now on, every request must be signed by an IAM user or assumed role of the stack,
    and its policies decide (the stack's own set-up ran before, as an account administrator)."""
    access_control.log.disabled = True  # it logs every request's headers, signatures included
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


# --- The resource each action is authorized against (AWS's service authorization reference)


def _arn(self: BaseResponse, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{self.region}:{self.current_account}:{resource}"


def _sagemaker_resource(self: SageMakerResponse) -> str:
    action, param = self._get_action(), self._get_param
    if param("ResourceArn"):  # AddTags, ListTags, DeleteTags
        return param("ResourceArn")
    if action in ("ListImageVersions", "CreateImageVersion") or (
        "ImageVersion" in action and not param("Version")
    ):
        return _arn(self, "sagemaker", f"image/{param('ImageName')}")
    if "ImageVersion" in action:
        return _arn(self, "sagemaker", f"image-version/{param('ImageName')}/{param('Version')}")
    if action.endswith("Image"):
        return _arn(self, "sagemaker", f"image/{param('ImageName')}")
    if action.endswith("AppImageConfig"):
        return _arn(self, "sagemaker", f"app-image-config/{param('AppImageConfigName')}")
    if action.endswith("UserProfile"):
        return _arn(
            self, "sagemaker", f"user-profile/{param('DomainId')}/{param('UserProfileName')}"
        )
    if action.endswith("Space"):
        return _arn(self, "sagemaker", f"space/{param('DomainId')}/{param('SpaceName')}")
    if action.endswith("Domain") and param("DomainId"):
        return _arn(self, "sagemaker", f"domain/{param('DomainId')}")
    if action.endswith("TrainingJob"):
        return _arn(self, "sagemaker", f"training-job/{param('TrainingJobName').lower()}")
    if action.endswith("ProcessingJob"):
        return _arn(self, "sagemaker", f"processing-job/{param('ProcessingJobName').lower()}")
    return "*"


def _secret_resource(self: SecretsManagerResponse) -> str:
    secret_id = self._get_param("SecretId") or self._get_param("Name")
    if not secret_id:
        return "*"
    secrets = secretsmanager_backends[self.current_account][self.region].secrets
    for secret in secrets.values():
        # A name, a full ARN or an ARN without the suffix: AWS authorizes the stored ARN.
        if secret_id in (secret.name, secret.arn, secret.arn[:-7]):
            return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    name = _arn(self, "secretsmanager", f"secret:{secret_id}")
    if self._get_action() == "CreateSecret":
        # The secret's ARN as it will be: six random characters follow the name, which is why
        # policies name a secret `name-??????`.
        return f"{name}-xxxxxx"
    # Any other request for a secret that does not exist is authorized against the ARN
    # without a suffix, which a grant on `name-??????` does not match: the caller is denied
    # rather than told the secret is missing (measured, ministackorg/ministack pull 1737).
    return name


def _ecr_resource(self: ECRResponse) -> str:
    name = self._get_param("repositoryName")
    names = self._get_param("repositoryNames") or []
    if not name and len(names) == 1:
        name = names[0]
    return _arn(self, "ecr", f"repository/{name}") if name else "*"


def _codebuild_resource(self: CodeBuildResponse) -> str:
    names = self._get_param("names") or [
        build_id.split(":", 1)[0] for build_id in self._get_param("ids") or []
    ]
    if name := self._get_param("projectName") or self._get_param("name"):
        names = [name]
    arns = [_arn(self, "codebuild", f"project/{n}") for n in dict.fromkeys(names)]
    # A batch call is authorized for each project it names.
    self._tutorial_more_resources = arns[1:]
    return arns[0] if arns else "*"


def _logs_resource(self: LogsResponse) -> str:
    group = self._get_param("logGroupName")
    if not group:
        return "*"
    stream = self._get_param("logStreamName")
    if stream:
        return _arn(self, "logs", f"log-group:{group}:log-stream:{stream}")
    return _arn(self, "logs", f"log-group:{group}:*")


def _iam_resource(self: IamResponse) -> str:
    if source := self._get_param("PolicySourceArn"):
        return source
    if role := self._get_param("RoleName"):
        return f"arn:aws:iam::{self.current_account}:role/{role}"
    if user := self._get_param("UserName"):
        return f"arn:aws:iam::{self.current_account}:user/{user}"
    return "*"


# --- S3: moto authorizes the operation's name; IAM knows some operations by another action

S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "HeadObject": "GetObject",
    "DeleteObjects": "DeleteObject",  # checked for each key, as S3 does
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "CopyObject": "PutObject",
}


def _s3_request_init(self, account_id, method, path, data, body, headers, action):
    action = action[0] if isinstance(action, list) else action
    upstream(S3IAMRequest, "__init__")(
        self, account_id, method, path, data, body, headers, S3_ACTIONS.get(action, action)
    )


def _s3_authorize(self: S3Response, bucket_name=None, key_name=None) -> None:
    authorize = upstream(S3Response, "_authenticate_and_authorize_s3_action")
    if bucket_name and not key_name and self.is_delete_keys() and _enforcing():
        body = xmltodict.parse(self.body)["Delete"].get("Object", [])
        for item in body if isinstance(body, list) else [body]:
            authorize(self, bucket_name=bucket_name, key_name=item["Key"])
        return
    authorize(self, bucket_name=bucket_name, key_name=key_name)


# --- iam:PassRole: what AWS checks when a request hands a role to a service

# action -> (how to find the role ARNs in the request, the service the role is passed to)
_PASSED_ROLES: dict[str, tuple[Callable[[BaseResponse], list[str]], str]] = {
    "sagemaker:CreateTrainingJob": (lambda r: [r._get_param("RoleArn")], "sagemaker.amazonaws.com"),
    "sagemaker:CreateProcessingJob": (
        lambda r: [r._get_param("RoleArn")],
        "sagemaker.amazonaws.com",
    ),
    "sagemaker:CreateImage": (lambda r: [r._get_param("RoleArn")], "sagemaker.amazonaws.com"),
    "sagemaker:UpdateImage": (lambda r: [r._get_param("RoleArn")], "sagemaker.amazonaws.com"),
    "sagemaker:CreateDomain": (
        lambda r: [(r._get_param("DefaultUserSettings") or {}).get("ExecutionRole")],
        "sagemaker.amazonaws.com",
    ),
    "sagemaker:UpdateDomain": (
        lambda r: [(r._get_param("DefaultUserSettings") or {}).get("ExecutionRole")],
        "sagemaker.amazonaws.com",
    ),
    "codebuild:CreateProject": (lambda r: [r._get_param("serviceRole")], "codebuild.amazonaws.com"),
    "codebuild:UpdateProject": (lambda r: [r._get_param("serviceRole")], "codebuild.amazonaws.com"),
}


def _caller_arn(self: BaseResponse) -> str:
    from moto.iam.access_control import IAMRequest

    request = IAMRequest(
        account_id=self.current_account,
        method=self.method,
        path=self.raw_path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=self._get_action(),
    )
    return request._access_key.arn


def _authorize(self: BaseResponse, resource: str = "*") -> None:
    enforcing = _enforcing()
    authorize = upstream(BaseResponse, "_authenticate_and_authorize_normal_action")
    try:
        for each in [resource, *getattr(self, "_tutorial_more_resources", [])]:
            authorize(self, each)
        if enforcing:
            _authorize_passed_roles(self)
    except AccessDeniedError as error:
        if not _json_protocol(self):
            raise
        raise _json_denied(error.message) from None


def _authorize_passed_roles(self: BaseResponse) -> None:
    """iam:PassRole, with iam:PassedToService, for each role the request hands to a service."""
    service = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")
    service = service[3] if len(service) > 3 else ""
    found = _PASSED_ROLES.get(f"{service}:{self._get_action()}")
    if found is None:
        return
    find_roles, passed_to = found
    roles = [r for r in find_roles(self) if r]
    if not roles:
        return
    caller = _caller_arn(self)
    documents = principal_policies(self.current_account, _principal(caller))
    context = {"iam:PassedToService": passed_to}
    for role in roles:
        if decide(documents, "iam:PassRole", role, context) != "allowed":
            raise AccessDeniedError(user_arn=caller, action=f"iam:PassRole on resource: {role}")
        _record(caller, "iam:PassRole", role, context)


def _json_protocol(self: BaseResponse) -> bool:
    return "json" in self.headers.get("Content-Type", "") or bool(self.headers.get("X-Amz-Target"))


def _json_denied(message: str) -> JsonRESTError:
    """AccessDeniedException as the JSON services answer it (moto answers them in XML, which
    their clients cannot read)."""
    error = JsonRESTError("AccessDeniedException", message)
    error.code = 400
    return error


# --- iam:SimulatePrincipalPolicy


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    source = self._get_param("PolicySourceArn")
    actions = self._get_param("ActionNames") or []
    resources = self._get_param("ResourceArns") or ["*"]
    context = {
        entry["ContextKeyName"]: entry["ContextKeyValues"][0]
        for entry in self._get_param("ContextEntries") or []
        if entry.get("ContextKeyValues")
    }
    try:
        documents = principal_policies(self.current_account, source)
    except Exception:
        raise NoSuchEntity(f"The principal {source} cannot be found.") from None
    results = []
    for action in actions:
        for resource in resources:
            decision = decide(documents, action, resource, context)
            if decision == "allowed":
                _record(source, action, resource, context)
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": decision,
                    "MatchedStatements": [],
                    "MissingContextValues": [],
                }
            )
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


# --- What this module changes in moto, for the registry (local/patches.py)

# moto authorizes every action but IAM's against "*" unless the response class names the
# resource; it asks only `if hasattr(self, "_determine_resource")`, hence looked_up_by.
_NAMES_NO_RESOURCE = "moto authorizes this service's actions against the resource *"
_RESOURCE_HOOK = (BaseResponse, "call_action")

PATCHES: list[Patch] = [
    Patch(
        IAMPolicyStatement,
        "is_action_permitted",
        _statement_permits,
        "moto matches ARNs as regular expressions, lacks StringLike, denies unmet Allows",
    ),
    Patch(
        IAMRequestBase,
        "check_action_permitted",
        _check_and_record,
        "records what each principal was allowed (the authorizations file the tests read)",
    ),
    Patch(
        BaseResponse,
        "_authenticate_and_authorize_normal_action",
        _authorize,
        "moto never checks iam:PassRole and answers JSON services' denials in XML",
    ),
    *[
        Patch(response, "_determine_resource", hook, _NAMES_NO_RESOURCE, "add", _RESOURCE_HOOK)
        for response, hook in (
            (SageMakerResponse, _sagemaker_resource),
            (SecretsManagerResponse, _secret_resource),
            (ECRResponse, _ecr_resource),
            (CodeBuildResponse, _codebuild_resource),
            (LogsResponse, _logs_resource),
        )
    ],
    Patch(
        IamResponse,
        "_determine_resource",
        _iam_resource,
        "moto names a resource only for the role calls of IAM",
    ),
    Patch(
        IamResponse,
        "simulate_principal_policy",
        simulate_principal_policy,
        "moto has no SimulatePrincipalPolicy (the SageMaker SDK's role check calls it)",
        kind="add",
    ),
    Patch(
        S3IAMRequest,
        "__init__",
        _s3_request_init,
        "moto authorizes S3 operations by name; IAM knows some by another action",
    ),
    Patch(
        S3Response,
        "_authenticate_and_authorize_s3_action",
        _s3_authorize,
        "moto authorizes DeleteObjects as a whole; S3 checks each key",
    ),
    Patch(
        settings,
        "INITIAL_NO_AUTH_ACTION_COUNT",
        None,
        "enforce() sets it to 0 once the stack's own set-up is done",
        kind="setting",
    ),
]
