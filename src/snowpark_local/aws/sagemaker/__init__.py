"""SageMaker on the local stack: Studio, training jobs and processing jobs (see ../__init__.py)."""
