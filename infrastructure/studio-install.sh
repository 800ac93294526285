#!/bin/bash
# Installs the series' package in a SageMaker Studio JupyterLab space: in a Python environment
# of its own in the home folder (which survives when the space stops), at the versions the tests
# use (constraints.txt), registered as the Jupyter kernel "Python 3.11 (sagemaker-snowpark)".
# The JupyterLab server's own packages stay as the SageMaker Distribution image ships them.
# Run from the repository's root; running it again only brings the environment up to date (the
# template's lifecycle configuration runs it at each start of the space).
set -euo pipefail

ENVIRONMENT="$HOME/.conda/envs/sagemaker-snowpark"
KERNEL_NAME=sagemaker-snowpark
KERNEL_DISPLAY_NAME="Python 3.11 (sagemaker-snowpark)"

if [ ! -x "$ENVIRONMENT/bin/python" ]; then
    # The distribution ships micromamba; Python 3.11 is what the tests and the images use.
    micromamba create --yes --quiet --prefix "$ENVIRONMENT" --channel conda-forge python=3.11
fi
"$ENVIRONMENT/bin/python" -m pip install --quiet --constraint constraints.txt -e '.[notebooks]'
"$ENVIRONMENT/bin/python" -m ipykernel install --user \
    --name "$KERNEL_NAME" --display-name "$KERNEL_DISPLAY_NAME"
echo "Installed: choose the kernel $KERNEL_DISPLAY_NAME."
