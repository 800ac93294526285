"""The local stack's job runtimes: training jobs (training.py), processing jobs (processing.py) and
CodeBuild builds (builds.py), each run as a Docker container of the image or, without a Docker
engine, as a local process; docker.py makes that choice once, when the stack starts."""
