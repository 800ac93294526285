"""The one thing pyproject.toml cannot say: the `snowpark-local` command comes with the local stack.

The repository installs both packages under src/ and gets the command (the Makefile runs it). The
images copy only src/sagemaker_snowpark, so their install has no snowpark_local and must not get
a command that would fail on its first import. pyproject.toml lists `scripts` as dynamic, which
lets setuptools take the console scripts from here; everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

STACK = Path(__file__).resolve().parent / "src" / "snowpark_local"
COMMANDS = ["snowpark-local = snowpark_local.cli:main"]

setup(entry_points={"console_scripts": COMMANDS} if STACK.is_dir() else {})
