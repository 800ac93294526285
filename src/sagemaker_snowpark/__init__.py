"""Amazon SageMaker training jobs that read their data from Snowflake with Snowpark.

The package the tutorial's notebooks import, and the training program's code.
"""

__version__ = "0.1.0"
