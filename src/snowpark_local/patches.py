"""The registry of patches: every attribute of moto, fakesnow and the rest that the stack changes.

Each module below lists its changes as `Patch` records (snowpark_local/patch.py) in a PATCHES
list beside the replacements; this module collects them. `install()`, which the stack calls once
before it serves, verifies every record against the libraries as installed and then applies them
all, or raises one PatchError naming each target that no longer fits and applies none.
tests/test_patches.py runs the same verification, so an upgrade of moto or fakesnow that renames
an attribute we replace, or gains one we add, fails there, in one place.
"""

from __future__ import annotations

from sagemaker_snowpark.errors import TutorialError

from .aws import cloudformation, cloudformation_rules, codebuild, ecr, iam, secretsmanager
from .aws.sagemaker import processing, studio, training
from .patch import Patch
from .snowflake import server as snowflake

# The modules that patch a library, each with a PATCHES list.
MODULES = (
    cloudformation,
    cloudformation_rules,
    codebuild,
    ecr,
    iam,
    secretsmanager,
    processing,
    studio,
    training,
    snowflake,
)


class PatchError(TutorialError):
    """The registry does not fit the installed libraries (an upgrade of moto or fakesnow?)."""


def registered() -> list[Patch]:
    return [patch for module in MODULES for patch in module.PATCHES]


def verify(patches: list[Patch] | None = None) -> list[str]:
    """What keeps the registry (or `patches`) from working on the installed libraries, one line
    per problem, each naming its target as module.Class.attribute; empty when all is well.

    Installed patches are checked against the attribute as it was before install(), so the
    answer is the same before and after.
    """
    patches = registered() if patches is None else patches
    problems = [problem for patch in patches if (problem := patch.problem())]
    seen: set[tuple[object, str]] = set()
    for patch in patches:
        key = (patch.target, patch.name)
        if key in seen:
            problems.append(f"{patch.where} is registered twice: keep one entry")
        seen.add(key)
    return problems


def install(patches: list[Patch] | None = None) -> None:
    """Verify, then apply every patch once (a second call changes nothing)."""
    patches = registered() if patches is None else patches
    problems = verify(patches)
    if problems:
        raise PatchError(
            f"The local stack's patches do not fit the installed libraries: {'; '.join(problems)}. "
            "Install the versions constraints.txt pins, or update the registry "
            "(docs/local-stack.md, 'Patches')."
        )
    for patch in patches:
        patch.apply()
