"""The registry of patches (snowpark_local/patches.py) against the installed moto, fakesnow and
the rest.

These tests need no running stack. The registry is checked in this process, where nothing is
installed, and installed only in a child process, so that the session's own moto stays as
upstream made it.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import textwrap

import fakesnow.server as fakesnow_server
import pytest
from moto.core.responses import BaseResponse
from moto.sagemaker.responses import SageMakerResponse

import snowpark_local
from snowpark_local import patches
from snowpark_local.patch import Patch, upstream

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)


def test_every_target_exists_and_every_addition_is_still_missing_upstream():
    problems = patches.verify()
    assert not problems, "The registry no longer fits the installed libraries:\n" + "\n".join(
        problems
    )


def test_every_module_that_patches_contributes_to_the_registry():
    counts = {module.__name__: len(module.PATCHES) for module in patches.MODULES}
    print(f"{sum(counts.values())} patches registered: {counts}")
    assert all(counts.values()), counts
    assert len(patches.registered()) == sum(counts.values())
    # A module that lists patches but is missing from MODULES would never have them installed.
    package = snowpark_local
    listing = {
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        if hasattr(importlib.import_module(info.name), "PATCHES")
    }
    assert listing == set(counts)


def test_every_kind_is_used_and_every_entry_explains_itself():
    registry = patches.registered()
    assert {p.kind for p in registry} == {"replace", "add", "setting"}
    for patch in registry:
        assert patch.why.strip() and "\n" not in patch.why, patch.where
        assert (patch.replacement is None) == (patch.kind == "setting"), patch.where


class Upstream:
    """Stands for a library's class in the tests that install."""

    def greet(self) -> str:
        return "hello"


def test_a_broken_registry_is_reported_naming_each_target():
    def handler(self):
        return None

    broken = [
        Patch(SageMakerResponse, "create_training_jobs", handler, "renamed upstream"),
        Patch(SageMakerResponse, "create_domain", handler, "gained upstream", kind="add"),
        Patch(fakesnow_server, "shared_filesystem", None, "renamed setting", kind="setting"),
        Patch(
            SageMakerResponse,
            "_tutorial_resource",
            handler,
            "hook no longer looked up",
            kind="add",
            looked_up_by=(BaseResponse, "call_action"),
        ),
        Patch(Upstream, "greet", handler, "listed once"),
        Patch(Upstream, "greet", handler, "listed twice"),
    ]
    problems = patches.verify(broken)
    assert len(problems) == 5, problems
    expected = {
        "moto.sagemaker.responses.SageMakerResponse.create_training_jobs": "no longer exists",
        "moto.sagemaker.responses.SageMakerResponse.create_domain": "now exists upstream",
        "fakesnow.server.shared_filesystem": "no longer exists",
        "moto.sagemaker.responses.SageMakerResponse._tutorial_resource": (
            "moto.core.responses.BaseResponse.call_action no longer looks it up"
        ),
        f"{__name__}.Upstream.greet": "registered twice",
    }
    for target, words in expected.items():
        assert any(p.startswith(target) and words in p for p in problems), (target, problems)


def test_install_refuses_a_broken_registry_and_applies_nothing():
    def greet(self):
        return "patched"

    good = Patch(Upstream, "greet", greet, "would be applied")
    renamed = Patch(Upstream, "wave", greet, "renamed upstream")
    with pytest.raises(patches.PatchError) as raised:
        patches.install([good, renamed])
    assert f"{__name__}.Upstream.wave" in str(raised.value)
    assert Upstream().greet() == "hello"
    assert not good.installed


def test_a_wrapper_reaches_the_original_and_a_second_install_changes_nothing():
    class Library:
        def count(self) -> int:
            return 1

    def count(self) -> int:  # builds on upstream's own, as the stack's wrappers do
        return upstream(Library, "count")(self) + 1

    registry = [
        Patch(Library, "count", count, "adds one"),
        Patch(Library, "total", lambda self: 10, "upstream has none", kind="add"),
    ]
    patches.install(registry)
    patches.install(registry)
    assert Library().count() == 2  # wrapped once, not twice
    assert Library().total() == 10
    assert patches.verify(registry) == []  # checked against what upstream had before install


INSTALL_TWICE = textwrap.dedent(
    """
    import inspect, json
    from snowpark_local import patches
    from snowpark_local.patch import ABSENT, upstream

    registry = patches.registered()

    def attributes():
        return {p.where: inspect.getattr_static(p.target, p.name, ABSENT) for p in registry}

    before, problems_before = attributes(), patches.verify()
    patches.install()
    once = attributes()
    patches.install()
    twice = attributes()
    print(json.dumps({
        "problems_before": problems_before,
        "problems_after": patches.verify(),
        "changed_by_second_install": [w for w in once if once[w] is not twice[w]],
        "not_installed": [
            p.where for p in registry if p.kind != "setting" and once[p.where] is not p.replacement
        ],
        "settings_touched": [
            p.where for p in registry
            if p.kind == "setting" and once[p.where] is not before[p.where]
        ],
        "originals_lost": [
            p.where for p in registry if upstream(p.target, p.name) is not before[p.where]
        ],
    }))
    """
)


def test_install_twice_is_install_once_on_the_real_libraries():
    # A child process: installing here would patch the session's own moto and fakesnow.
    result = subprocess.run(
        [sys.executable, "-c", INSTALL_TWICE], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "problems_before": [],
        "problems_after": [],
        "changed_by_second_install": [],
        "not_installed": [],
        "settings_touched": [],
        "originals_lost": [],
    }
