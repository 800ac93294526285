"""The images' Dockerfiles and the Studio configuration files, checked without Docker."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import json
import re
import runpy
import shutil
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import botocore.session
import nbformat
import pytest
from botocore.validate import ParamValidator
from IPython.core.inputtransformer2 import TransformerManager

from sagemaker_snowpark.images import source_bundle

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "snowflake-env-kernel-image"
TRAINING = ROOT / "training_container"
# build_and_push's first parameters, which a call may pass by position.
BUILD_PARAMETERS = ("project_root", "paths", "dockerfile")
SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


def validate(operation: str, params: dict) -> str:
    report = ParamValidator().validate(params, SAGEMAKER.operation_model(operation).input_shape)
    return report.generate_report()


def build_args(dockerfile: str) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))


def copied(dockerfile: str) -> list[str]:
    """The build-context paths the Dockerfile's COPY instructions take, in order."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)  # continuation lines joined
    sources = []
    for line in re.findall(r"^COPY (.+)$", joined, re.M):
        words = [word for word in line.split() if not word.startswith("--")]
        sources += words[:-1]  # the last word is the destination
    return sources


@pytest.mark.parametrize("folder", [KERNEL, TRAINING], ids=lambda f: f.name)
def test_images_copy_the_package_s_source_and_nothing_of_the_local_stack(folder):
    sources = copied((folder / "Dockerfile").read_text())
    # The project's build files, then the package's own folder; not src/ (src/snowpark_local).
    assert sources[:5] == [
        "pyproject.toml",
        "setup.py",
        "README.md",
        "constraints.txt",
        "src/sagemaker_snowpark",
    ]
    assert not [s for s in sources if s in (".", "src", "src/") or "snowpark_local" in s]
    assert all((ROOT / source).exists() for source in sources)


def image_builds() -> list[tuple[str, list[str], str]]:
    """Every build of the two images in the notebooks, tests and benchmarks: each
    `build_and_push` call's file, the paths it ships to CodeBuild, and its Dockerfile."""
    dockerfiles = {f"{folder.name}/Dockerfile" for folder in (KERNEL, TRAINING)}
    builds = []
    for path in sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("*/*.py")]):
        if path.suffix == ".ipynb":
            cells = nbformat.read(path, as_version=4).cells
            code = [cell.source for cell in cells if cell.cell_type == "code"]
            sources = [TransformerManager().transform_cell(source) for source in code]
        else:
            sources = [path.read_text()]
        for source in sources:
            for node in ast.walk(ast.parse(source)):
                function = getattr(node, "func", None)
                if getattr(function, "attr", getattr(function, "id", None)) != "build_and_push":
                    continue
                arguments = dict(zip(BUILD_PARAMETERS, node.args, strict=False))
                arguments |= {keyword.arg: keyword.value for keyword in node.keywords}
                dockerfile = getattr(arguments["dockerfile"], "value", None)
                if dockerfile in dockerfiles:
                    paths = ast.literal_eval(arguments["paths"])
                    builds.append((path.relative_to(ROOT).as_posix(), paths, dockerfile))
    return builds


BUILDS = image_builds()


def test_the_notebooks_build_both_images():
    built = {(where, dockerfile) for where, _, dockerfile in BUILDS}
    assert ("notebooks/01_build_studio_kernel_image.ipynb", f"{KERNEL.name}/Dockerfile") in built
    assert ("notebooks/04_train_byoc_sagemaker_job.ipynb", f"{TRAINING.name}/Dockerfile") in built


@pytest.mark.parametrize("where, paths, dockerfile", BUILDS, ids=[b[0] for b in BUILDS])
def test_each_build_ships_what_its_dockerfile_copies_and_no_more(where, paths, dockerfile):
    bundle = zipfile.ZipFile(io.BytesIO(source_bundle(ROOT, paths, dockerfile)))
    names = bundle.namelist()
    sources = copied((ROOT / dockerfile).read_text())
    for source in sources:  # each file the Dockerfile copies, or a folder with files in it
        assert source in names or any(name.startswith(source + "/") for name in names), source
    # Nothing else but the Dockerfile's own folder: not src/, so no src/snowpark_local.
    assert set(paths) <= {*sources, str(PurePosixPath(dockerfile).parent)}
    assert not [name for name in names if name.startswith("src/snowpark_local/")]


def test_kernel_image_is_pinned_and_runs_as_the_studio_user():
    dockerfile = (KERNEL / "Dockerfile").read_text()
    args = build_args(dockerfile)
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["SAGEMAKER_DISTRIBUTION_VERSION"])
    assert re.search(
        r"^FROM public\.ecr\.aws/sagemaker/sagemaker-distribution:"
        r"\$\{SAGEMAKER_DISTRIBUTION_VERSION\}-cpu$",
        dockerfile,
        re.M,
    )
    assert (args["NB_USER"], args["NB_UID"], args["NB_GID"]) == ("sagemaker-user", "1000", "100")
    users = re.findall(r"^USER (.+)$", dockerfile, re.M)
    assert users and users[-1] == "${NB_UID}:${NB_GID}"  # it ends as the Studio user
    assert "--constraint /tmp/sagemaker-snowpark/constraints.txt" in dockerfile
    assert '"/tmp/sagemaker-snowpark[notebooks,train]"' in dockerfile  # no local extra
    # pip builds in the copied source tree as the Studio user, who must own every folder of it:
    # a folder COPY creates on the way to its destination is root's, even with --chown.
    made = dockerfile.index("RUN mkdir -p /tmp/sagemaker-snowpark/src\n")
    assert dockerfile.index("\nUSER ${NB_UID}:${NB_GID}\n") < made < dockerfile.index("\nCOPY ")
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert not [line for line in instructions if "/opt/ml" in line]  # SageMaker's, not ours


def test_training_image_is_pinned_and_holds_only_the_training_and_scoring_programs():
    dockerfile = (TRAINING / "Dockerfile").read_text()
    base = build_args(dockerfile)["BASE_IMAGE"]
    assert re.fullmatch(r"[\w./-]+/python:3\.1[1-9][\w.-]*", base) and "latest" not in base
    installs = re.findall(r'pip install .*?"(\.\[[^\]]+\])"', dockerfile)
    assert installs == [".[train]"]  # the core and the train extra, nothing else
    assert "--constraint constraints.txt" in dockerfile
    for program in ("train", "score"):
        assert f"COPY training_container/{program} /usr/local/bin/{program}" in dockerfile
        assert (TRAINING / program).stat().st_mode & 0o111
    assert "ENTRYPOINT" not in dockerfile.replace("No ENTRYPOINT", "")


def test_training_extra_leaves_out_notebook_and_test_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    image_packages = " ".join(project["dependencies"] + project["optional-dependencies"]["train"])
    for tool in ("sagemaker>", "jupyter", "pytest", "nbval", "moto", "fakesnow", "matplotlib"):
        assert tool not in image_packages


def test_the_snowpark_local_command_comes_with_the_stack_s_source_only(tmp_path, monkeypatch):
    # setup.py declares the console script where src/snowpark_local is (the repository), not
    # where the package's source is alone (an image's build); pyproject.toml lets it.
    import setuptools

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "scripts" in project["dynamic"] and "scripts" not in project
    declared = []
    monkeypatch.setattr(setuptools, "setup", lambda **attributes: declared.append(attributes))
    shutil.copy(ROOT / "setup.py", tmp_path)
    (tmp_path / "src" / "sagemaker_snowpark").mkdir(parents=True)
    runpy.run_path(str(tmp_path / "setup.py"))  # an image's build: the package alone
    (tmp_path / "src" / "snowpark_local").mkdir()
    runpy.run_path(str(tmp_path / "setup.py"))  # the repository: the package and the stack
    image, repository = (a.get("entry_points", {}).get("console_scripts", []) for a in declared)
    assert image == []
    assert repository == ["snowpark-local = snowpark_local.cli:main"]
    # And the repository's own install (make install) has the command the Makefile runs.
    installed = importlib.metadata.distribution("sagemaker-snowpark").entry_points
    scripts = installed.select(group="console_scripts")
    assert [(e.name, e.value) for e in scripts] == [("snowpark-local", "snowpark_local.cli:main")]


def test_kernel_image_starts_jupyterlab_with_the_distribution_entrypoint():
    # The distribution sets no ENTRYPOINT that starts a server; Studio must be told to run its
    # entrypoint-jupyter-server, from the app image config (an ENTRYPOINT in the Dockerfile is not
    # how AWS's custom-image specification says to do it).
    config = json.loads((KERNEL / "app-image-config-jupyterlab.json").read_text())
    assert config["ContainerConfig"]["ContainerEntrypoint"] == ["entrypoint-jupyter-server"]
    assert "ContainerArguments" not in config["ContainerConfig"]
    instructions = [
        line.split()[0]
        for line in (KERNEL / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(" ")
    ]
    assert "ENTRYPOINT" not in instructions and "CMD" not in instructions
    assert re.search(
        r"ContainerEntrypoint.*entrypoint-jupyter-server",
        (KERNEL / "README.md").read_text(),
        re.S,
    )


def test_kernel_gateway_config_keeps_studio_classic_file_system():
    config = json.loads((KERNEL / "app-image-config-kernelgateway.json").read_text())
    assert config["FileSystemConfig"] == {
        "MountPath": "/home/sagemaker-user",
        "DefaultUid": 1000,
        "DefaultGid": 100,
    }


def test_domain_entry_matches_the_api():
    entry = {
        **json.loads((KERNEL / "domain-custom-image.json").read_text()),
        "ImageVersionNumber": 1,
    }
    params = {
        "DomainId": "d-example",
        "DefaultUserSettings": {"JupyterLabAppSettings": {"CustomImages": [entry]}},
    }
    assert validate("UpdateDomain", params) == ""
    assert validate("UpdateDomain", {"DomainId": "d", "DefaultUserSettings": {"Bogus": 1}}) != ""
