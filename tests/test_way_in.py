"""The way in: notebook 00 in a kernel without the package, and the tutorial.env file.

A new SageMaker Studio space's kernel has neither Snowpark nor this package. These tests run
notebook 00 in such a kernel (a virtualenv that sees this environment's libraries but not the
package) and check that it stops with the install command the README gives, as one line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from sagemaker_snowpark import settings
from sagemaker_snowpark.errors import TutorialError

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "00_check_environment.ipynb"
STUDIO_INSTALL = "python -m pip install --user -e '.[notebooks]'"
VENV_INSTALL = "python -m pip install -e '.[notebooks]'"


def first_code_cell() -> str:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def kernel_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"  # nothing from this machine's user site
    env.pop(settings.ENV_FILE_VARIABLE, None)
    env.update(extra)
    return env


def run(notebook, python: str, cwd: Path, env: dict[str, str]) -> None:
    """Execute `notebook` in an IPython kernel of `python`, like JupyterLab: in `cwd`."""
    with tempfile.TemporaryDirectory(prefix="kernel-") as scratch:
        spec = Path(scratch) / "kernels" / "way-in"
        spec.mkdir(parents=True)
        argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
        manager = KernelManager(
            kernel_name="way-in",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]),
            transport="ipc",
            ip=f"{scratch}/ipc",
        )
        client = NotebookClient(
            notebook, km=manager, timeout=60, resources={"metadata": {"path": str(cwd)}}
        )
        try:
            client.execute(env=env)
        finally:
            manager.shutdown_kernel()


@pytest.fixture(scope="module")
def python_without_package(tmp_path_factory) -> str:
    """A virtualenv whose path holds this environment's site-packages as a plain folder: its
    libraries import (IPython, ipykernel, boto3), but the editable install's .pth is not read."""
    venv = tmp_path_factory.mktemp("no-package") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run(
        [python, "-c", "import IPython, ipykernel, sagemaker_snowpark"],
        capture_output=True,
        text=True,
        env=kernel_environment(),
    )
    assert "No module named 'sagemaker_snowpark'" in probe.stderr, probe.stderr
    return python


def test_notebook_00_without_the_package_stops_with_the_install_command(python_without_package):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None  # the committed run's, on the stack
    with pytest.raises(CellExecutionError):
        run(notebook, python_without_package, NOTEBOOK.parent, kernel_environment())

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    [error] = code[0].outputs
    assert error["output_type"] == "error"
    assert error["ename"] == "NotInstalled"
    # One line, no traceback, and the command for this kernel's own Python (a virtualenv: no
    # --user, which pip refuses there).
    [line] = error["traceback"]
    assert f"{python_without_package} -m pip install -e '.[notebooks]'" in line
    assert "restart the kernel" in line
    assert "ModuleNotFoundError" not in line
    # Run all stops there.
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code[1:])


def test_outside_a_virtualenv_the_command_installs_for_the_user(tmp_path):
    """A Studio space's kernel is the distribution's conda Python, not a virtualenv: the command
    is the README's, with --user so that the package stays in the home folder."""
    base = getattr(sys, "_base_executable", sys.executable)
    probe = [base, "-I", "-c", "import sys; assert sys.prefix == sys.base_prefix"]
    assert subprocess.run(probe).returncode == 0, f"{base} is not a base interpreter"
    cell = subprocess.run(
        [base, "-I", "-c", first_code_cell()], capture_output=True, text=True, cwd=tmp_path
    )
    assert cell.returncode == 1
    last = cell.stderr.strip().splitlines()[-1]
    assert last.startswith("NotInstalled: ")
    assert f"{base} -m pip install --user -e '.[notebooks]'" in last


def test_the_route_by_hand_and_notebook_00_give_the_same_commands():
    """The README's route is the template's; the route by hand (docs/real-accounts.md) installs
    as notebook 00 says, in a Studio space and in a virtual environment."""
    by_hand = (ROOT / "docs" / "real-accounts.md").read_text()
    start = next(
        cell.source
        for cell in nbformat.read(NOTEBOOK, as_version=4).cells
        if cell.source.startswith("## Start here")
    )
    for text in (by_hand, start):
        assert STUDIO_INSTALL in text
        assert VENV_INSTALL in text
        assert "tutorial.env.example" in text
        assert "Python 3 (ipykernel)" in text
    example = (ROOT / "tutorial.env.example").read_text()
    assert "SNOWFLAKE_ACCOUNT=" in example and "SNOWFLAKE_USER=" in example
    assert "tutorial.env\n" in (ROOT / ".gitignore").read_text()


def kernel_names() -> tuple[str, str]:
    """The display names of the template space's kernel and of the Snowpark image's kernel."""
    install = (ROOT / "infrastructure" / "studio-install.sh").read_text()
    template = re.search(r'^KERNEL_DISPLAY_NAME="([^"]+)"$', install, re.M)[1]
    dockerfile = (ROOT / "snowflake-env-kernel-image" / "Dockerfile").read_text()
    image = re.search(r'--display-name "([^"]+)"', dockerfile)[1]
    config = json.loads(
        (ROOT / "snowflake-env-kernel-image" / "app-image-config-kernelgateway.json").read_text()
    )
    assert config["KernelSpecs"][0]["DisplayName"] == image
    return template, image


def readme_route() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Real accounts\n")[1].split("\n## ")[0]


def test_the_readme_s_route_is_the_template_s_space_as_it_is():
    route = readme_route()
    assert "infrastructure/tutorial.yaml" in route
    # The space clones the repository and writes tutorial.env: the route does neither again.
    assert "git clone" not in route
    assert "cp tutorial.env.example" not in route
    assert "pip install" not in route
    assert "SNOWFLAKE_ACCOUNT" in route and "SNOWFLAKE_USER" in route
    assert "sagemaker-snowpark-install.log" in route
    assert "](docs/real-accounts.md)" in route  # the route by hand


def test_every_page_names_the_kernels_the_template_and_the_image_register():
    template, image = kernel_names()
    route = readme_route()
    # 00 and 01 on the space's own kernel, 02 to 06 on the image's, 07 back on the space's.
    at_00, at_02, at_07 = (route.index(f"**{n}") for n in ("00 and 01", "02 to 06", "07**"))
    assert f"**{template}**" in route[at_00:at_02]
    assert f"**{image}**" in route[at_02:at_07]
    assert f"**{template}**" in route[at_07:]
    assert "Python 3 (ipykernel)" not in route
    by_hand = (ROOT / "docs" / "real-accounts.md").read_text()
    assert f"**{image}**" in by_hand and f"*{template}*" in by_hand
    infrastructure = (ROOT / "docs" / "infrastructure.md").read_text()
    assert f"*{template}*" in infrastructure
    notebooks = (ROOT / "docs" / "notebooks.md").read_text()
    assert f"*{image}*" in notebooks
    kernel_readme = (ROOT / "snowflake-env-kernel-image" / "README.md").read_text()
    assert f"**{image}**" in kernel_readme
    for page in ("README.md", "docs/real-accounts.md", "docs/infrastructure.md"):
        text = (ROOT / page).read_text()
        named = set(re.findall(r"Python 3\.\d+ \([\w-]+\)", text))
        assert named <= {template, image}, (page, named)


def test_the_route_by_hand_fills_the_policies_as_the_template_does(tmp_path):
    """docs/real-accounts.md's shell function `fill` replaces the policies' placeholders as
    infrastructure.fill does for the template and the local stack."""
    from sagemaker_snowpark import infrastructure

    page = (ROOT / "docs" / "real-accounts.md").read_text()
    function = re.search(r"^fill\(\) \{.*?^\}$", page, re.M | re.S)[0]
    values = {"ACCOUNT": "210987654321", "REGION": "eu-west-1", "DOMAIN_ID": "d-abc123def456"}
    values["PROFILE"] = "learner"
    domain_arn = "arn:aws:sagemaker:eu-west-1:210987654321:domain/d-abc123def456"
    for path in sorted((ROOT / "policies").glob("*.json")):
        filled = subprocess.run(
            ["bash", "-c", f"{function}\nfill {path.stem}"],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], **values},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        expected = infrastructure.fill(path.read_text(), values["ACCOUNT"], domain_arn, "learner")
        assert json.loads(filled) == json.loads(expected), path.name
        assert "${AWS::" not in filled and "${Tutorial" not in filled, path.name


def test_a_notebook_reads_tutorial_env_and_the_environment_wins(tmp_path):
    (tmp_path / "tutorial.env").write_text(
        "# the learner's values\n\nSNOWFLAKE_ROLE='SAGEMAKER_TUTORIAL'\nSNOWFLAKE_USER=FROM_FILE\n"
    )
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import os\n\nimport sagemaker_snowpark\n\n"
            "print(os.environ['SNOWFLAKE_ROLE'], os.environ['SNOWFLAKE_USER'])"
        )
    ]
    env = kernel_environment(PYTHONPATH=str(ROOT / "src"), SNOWFLAKE_USER="FROM_ENVIRONMENT")
    env.pop("SNOWFLAKE_ROLE", None)
    run(notebook, sys.executable, notebooks, env)  # the kernel starts in the notebook's folder
    assert notebook.cells[0].outputs[0]["text"] == "SAGEMAKER_TUTORIAL FROM_ENVIRONMENT\n"


def test_env_file_lookup(tmp_path, monkeypatch):
    monkeypatch.delenv(settings.ENV_FILE_VARIABLE, raising=False)
    inner = tmp_path / "notebooks"
    inner.mkdir()
    assert settings.env_file(inner) is None
    (tmp_path / "tutorial.env").write_text("")
    assert settings.env_file(inner) == tmp_path / "tutorial.env"
    (inner / "tutorial.env").write_text("")
    assert settings.env_file(inner) == inner / "tutorial.env"
    monkeypatch.setenv(settings.ENV_FILE_VARIABLE, "")
    assert settings.env_file(inner) is None
    monkeypatch.setenv(settings.ENV_FILE_VARIABLE, str(tmp_path / "other.env"))
    assert settings.env_file(inner) == tmp_path / "other.env"
    with pytest.raises(TutorialError, match="which is not a file"):
        settings.load_env_file()


def test_env_file_bad_line_names_the_line_not_its_text(tmp_path, monkeypatch):
    path = tmp_path / "tutorial.env"
    path.write_text("SNOWFLAKE_ROLE=ME\nmy-passphrase-is-hunter2\n")
    monkeypatch.delenv("SNOWFLAKE_ROLE", raising=False)
    with pytest.raises(TutorialError) as raised:
        settings.load_env_file(path)
    assert str(raised.value).startswith(f"{path} line 2 is not NAME=value")
    assert "hunter2" not in str(raised.value)
    assert "SNOWFLAKE_ROLE" not in os.environ  # nothing applied from a file with a bad line


@pytest.mark.stack
def test_the_local_stack_reads_no_tutorial_env():
    # The root conftest applied the stack's environment to this process, as to every kernel.
    assert os.environ[settings.ENV_FILE_VARIABLE] == ""
    assert settings.env_file(ROOT / "notebooks") is None


# --- tutorial.env.example's placeholders

EXAMPLE = ROOT / "tutorial.env.example"
# What the example shows that is a real value to keep, not a placeholder to replace.
REAL_DEFAULTS = {
    "SNOWFLAKE_USER",
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_PRIVATE_KEY_FILE",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE_FILE",
    "AWS_REGION",
}


def example_lines() -> dict[str, str]:
    """The example's NAME=value lines, commented out or not: name to line."""
    lines = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.removeprefix("#").strip()
        name, equals, _ = line.partition("=")
        if equals and name.isidentifier():
            lines[name] = line
    return lines


@pytest.fixture
def clean_settings():
    """None of the settings in the environment before; the environment as it was after (what
    load_env_file sets included)."""
    saved = dict(os.environ)
    for name in [*settings.EXAMPLE_VALUES, *REAL_DEFAULTS, *OWN]:
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_the_example_ships_its_placeholders_commented_out():
    active = [line for line in EXAMPLE.read_text().splitlines() if "=" in line.split("#")[0]]
    assert active == ["SNOWFLAKE_USER=SAGEMAKER_TRAINING"]
    # Every placeholder of the example is one the settings refuse, and the rest are real values.
    lines = example_lines()
    placeholders = {name for name in lines if name not in REAL_DEFAULTS}
    assert placeholders == set(settings.EXAMPLE_VALUES)
    for name in placeholders:
        assert lines[name] == f"{name}={settings.EXAMPLE_VALUES[name][0]}"


@pytest.mark.parametrize("name", sorted(settings.EXAMPLE_VALUES))
def test_an_uncommented_example_value_is_refused_by_name(name, tmp_path, clean_settings):
    path = tmp_path / "tutorial.env"
    path.write_text(f"SNOWFLAKE_USER=SAGEMAKER_TRAINING\n{example_lines()[name]}\n")
    with pytest.raises(TutorialError) as raised:
        settings.load_env_file(path)
    example, what = settings.EXAMPLE_VALUES[name]
    assert str(raised.value) == (
        f"{path} line 2: {name} still holds the example value {example}: put your own {what} there."
    )
    assert name not in os.environ and "SNOWFLAKE_USER" not in os.environ  # all or nothing


def test_an_arn_in_the_example_account_is_refused_even_with_its_own_role_name(
    tmp_path, clean_settings
):
    path = tmp_path / "tutorial.env"
    path.write_text("SAGEMAKER_ROLE_ARN=arn:aws:iam::111122223333:role/MyOwnRole\n")
    with pytest.raises(TutorialError, match="line 1: SAGEMAKER_ROLE_ARN still holds the example"):
        settings.load_env_file(path)


# A learner's own values, as the template's outputs give them.
OWN = {
    "SNOWFLAKE_ACCOUNT": "acme-analytics",
    "AWS_REGION": "eu-west-1",
    "SAGEMAKER_ROLE_ARN": "arn:aws:iam::210987654321:role/SageMakerSnowparkTutorialRole",
    "SAGEMAKER_DOMAIN_ID": "d-abc123def456",
    "SAGEMAKER_BUCKET": "sagemaker-snowpark-210987654321-eu-west-1",
    "SAGEMAKER_CODEBUILD_ROLE_ARN": "arn:aws:iam::210987654321:role/SageMakerSnowparkCodeBuildRole",
    "SAGEMAKER_USER_PROFILE": "learner",
}


def test_real_looking_values_pass(tmp_path, clean_settings):
    assert set(settings.EXAMPLE_VALUES) < set(OWN)
    path = tmp_path / "tutorial.env"
    path.write_text("".join(f"{name}={value}\n" for name, value in OWN.items()))
    assert sorted(settings.load_env_file(path)) == sorted(OWN)
    assert {name: os.environ[name] for name in OWN} == OWN


def test_an_example_value_the_environment_overrides_is_harmless(
    tmp_path, clean_settings, monkeypatch
):
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acme-analytics")
    path = tmp_path / "tutorial.env"
    path.write_text("SNOWFLAKE_ACCOUNT=myorg-myaccount\n")
    assert settings.load_env_file(path) == []
    assert os.environ["SNOWFLAKE_ACCOUNT"] == "acme-analytics"


def test_the_template_s_studio_space_writes_a_file_that_loads(tmp_path, clean_settings):
    """The template's lifecycle configuration copies the example and appends the stack's values
    (infrastructure/tutorial.yaml): that file loads as it is, with no placeholder in force."""
    template = (ROOT / "infrastructure" / "tutorial.yaml").read_text()
    appended = re.findall(r'echo "(\w+)=\$\{\w+\}" >> tutorial\.env', template)
    assert "SAGEMAKER_CODEBUILD_ROLE_ARN" in appended
    path = tmp_path / "tutorial.env"
    path.write_text(EXAMPLE.read_text() + "".join(f"{name}={OWN[name]}\n" for name in appended))
    assert sorted(settings.load_env_file(path)) == sorted(["SNOWFLAKE_USER", *appended])
    # The learner then sets the account, as the README says: uncommented but unchanged, refused.
    path.write_text(path.read_text().replace("# SNOWFLAKE_ACCOUNT=", "SNOWFLAKE_ACCOUNT="))
    for name in ["SNOWFLAKE_USER", *appended]:
        os.environ.pop(name)
    with pytest.raises(TutorialError, match="SNOWFLAKE_ACCOUNT still holds the example value"):
        settings.load_env_file(path)


@pytest.mark.stack
def test_the_local_stack_s_own_values_are_no_example_values(state_dir):
    from snowpark_local import stack

    environment = stack.client_environment(state_dir)
    assert environment["SAGEMAKER_CODEBUILD_ROLE_ARN"]  # the stack sets what the check looks at
    assert [n for n, v in environment.items() if settings.is_example_value(n, v)] == []


def test_a_notebook_shows_an_example_value_as_one_line_at_its_import(tmp_path):
    (tmp_path / "tutorial.env").write_text("SNOWFLAKE_ACCOUNT=myorg-myaccount\n")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import sagemaker_snowpark")]
    env = kernel_environment(PYTHONPATH=str(ROOT / "src"))
    env.pop("SNOWFLAKE_ACCOUNT", None)
    with pytest.raises(CellExecutionError):
        run(notebook, sys.executable, notebooks, env)
    (error,) = notebook.cells[0].outputs
    assert error["ename"] == "TutorialError"
    assert error["evalue"] == (
        f"{tmp_path / 'tutorial.env'} line 1: SNOWFLAKE_ACCOUNT still holds the example value "
        "myorg-myaccount: put your own Snowflake account identifier (orgname-accountname) there."
    )
    assert len(error["traceback"]) == 1  # the one line, no traceback into the package


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_snowflake_name_is_one_line_saying_where_it_goes(value, monkeypatch):
    # The copied example file leaves SNOWFLAKE_ACCOUNT commented out: notebook 02 says so.
    if value is None:
        monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    else:
        monkeypatch.setenv("SNOWFLAKE_ACCOUNT", value)
    with pytest.raises(TutorialError) as error:
        settings.snowflake_name("SNOWFLAKE_ACCOUNT")
    assert str(error.value) == (
        "SNOWFLAKE_ACCOUNT is not set: put your account identifier (orgname-accountname) in "
        "tutorial.env in the repository's root (a line SNOWFLAKE_ACCOUNT=...), then run this cell "
        "again."
    )
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", " myorg-acct ")
    assert settings.snowflake_name("SNOWFLAKE_ACCOUNT") == "myorg-acct"
