"""Every JSON file in the repository that is the input of an AWS call, checked against botocore's
model of that call: its shape, and no member that the API's documentation says is not supported
there (which botocore's own validation lets through)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
SESSION = botocore.session.get_session()
KERNEL = "snowflake-env-kernel-image"


def _app_image_config(kind: str):
    return lambda config: {"AppImageConfigName": "snowpark-kernel-x", kind: config}


def _domain_entry(entry: dict) -> dict:
    entry = {**entry, "ImageVersionNumber": 1}  # notebook 01 adds the version it created
    return {
        "DomainId": "d-example",
        "DefaultUserSettings": {"JupyterLabAppSettings": {"CustomImages": [entry]}},
    }


# Each request-shaped file: the calls it is the input of, and how the code wraps it into one.
REQUESTS = {
    f"{KERNEL}/app-image-config-jupyterlab.json": (
        ("sagemaker", ["CreateAppImageConfig", "UpdateAppImageConfig"]),
        _app_image_config("JupyterLabAppImageConfig"),
    ),
    f"{KERNEL}/app-image-config-kernelgateway.json": (
        ("sagemaker", ["CreateAppImageConfig", "UpdateAppImageConfig"]),
        _app_image_config("KernelGatewayImageConfig"),
    ),
    f"{KERNEL}/domain-custom-image.json": (("sagemaker", ["UpdateDomain"]), _domain_entry),
}
POLICY_DOCUMENTS = "policies/"  # IAM policy documents, checked by test_policies.py


def unsupported(model, name: str) -> set[str]:
    """Members that the shape's or the member's own documentation says are not supported."""
    shape = model.shape_for(name)  # a member's shape carries the member's text; this, its own
    said = re.findall(r"<code>(\w+)</code>\s+\w+\s+is not supported", shape.documentation or "")
    named = {name for name in said if name in shape.members}
    for name, member in shape.members.items():
        text = re.sub(r"<[^>]+>", "", member.documentation or "").strip()
        if re.match(r"(This \w+ is )?not supported\.", text, re.I):
            named.add(name)
    return named


def unsupported_in(model, value, shape, path: str = "") -> list[str]:
    """Where in `value` a member the documentation calls not supported is set."""
    found = []
    if shape.type_name == "structure" and isinstance(value, dict):
        named = unsupported(model, shape.name) & set(value)
        found += [f"{path}.{name}".lstrip(".") for name in sorted(named)]
        for name, member in shape.members.items():
            if name in value:
                found += unsupported_in(model, value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            found += unsupported_in(model, item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += unsupported_in(model, item, shape.value, f"{path}.{key}")
    return found


def problems(service: str, operation: str, params: dict) -> list[str]:
    model = SESSION.get_service_model(service)
    input_shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(params, input_shape).generate_report()
    return ([report] if report else []) + [
        f"{where} is not supported" for where in unsupported_in(model, params, input_shape)
    ]


def test_every_json_file_is_a_known_request_or_a_policy():
    tracked = subprocess.run(
        ["git", "ls-files", "*.json"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    others = [p for p in tracked if p not in REQUESTS and not p.startswith(POLICY_DOCUMENTS)]
    assert others == [], "add the new JSON file to REQUESTS with the call it is for"
    assert set(REQUESTS) <= set(tracked)


@pytest.mark.parametrize("path", sorted(REQUESTS))
def test_request_files_match_botocore(path):
    (service, operations), wrap = REQUESTS[path]
    params = wrap(json.loads((ROOT / path).read_text()))
    for operation in operations:
        assert problems(service, operation, params) == [], f"{path} as {operation}"


def test_the_check_catches_what_botocore_lets_through():
    sagemaker = SESSION.get_service_model("sagemaker")
    assert unsupported(sagemaker, "JupyterLabAppImageConfig") == {"FileSystemConfig"}
    assert unsupported(sagemaker, "KernelGatewayImageConfig") == set()
    file_system = {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100}
    old = _app_image_config("JupyterLabAppImageConfig")({"FileSystemConfig": file_system})
    assert problems("sagemaker", "CreateAppImageConfig", old) == [
        "JupyterLabAppImageConfig.FileSystemConfig is not supported"
    ]
    bad = _app_image_config("JupyterLabAppImageConfig")({"Bogus": 1})
    assert "Unknown parameter" in problems("sagemaker", "CreateAppImageConfig", bad)[0]
