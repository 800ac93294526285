"""CodeBuild on the local stack: builds that the stack's builder runs (and records in ECR),
UpdateProject, and BatchGetBuilds reporting what the builder recorded."""

from __future__ import annotations

from typing import Any

from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult

from snowpark_local.aws.iam import role_trusts
from snowpark_local.patch import Patch, upstream
from snowpark_local.workers import WORKERS


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


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
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
]
