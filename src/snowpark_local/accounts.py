"""The local account's names: Region, account, roles, bucket, domain, and the Snowflake user.

The stack seeds them (seed.py), its IAM fills the policies' placeholders with them (aws/iam.py),
and tests name them; a learner's notebook reads them from the stack's environment, never from here.
"""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ROLE_NAME = "SageMakerSnowparkTutorialRole"
CODEBUILD_ROLE_NAME = "SageMakerSnowparkCodeBuildRole"
ADMINISTRATOR_USER = "stack-administrator"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"
DOMAIN_NAME = "tutorial-studio"
USER_PROFILE = "learner"  # the template's default UserProfileName
SPACE_NAME = "sagemaker-snowpark"  # the template's JupyterLab space, owned by USER_PROFILE
SNOWFLAKE_ACCOUNT = "LOCALSTACK"
SNOWFLAKE_USER = "SAGEMAKER_TRAINING"  # the README's set-up statements create this user
# The domain starts with a team's image attached, so the tutorial shows that attaching its own
# image keeps the others.
EXISTING_STUDIO_IMAGE = "team-data-science"
TEAM_IMAGE_ROLE_NAME = "TeamDataScienceImageRole"
# The space's lifecycle script clones it; no space runs on the local stack.
TEMPLATE_REPOSITORY_URL = "https://example.com/sagemaker-snowpark.git"
# The learner signs in as this IAM user, whose only permissions are policies/learner.json.
LEARNER_USER = "tutorial-learner"


SEEDED_PREREQUISITES = {
    "SAGEMAKER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}",
    "SAGEMAKER_CODEBUILD_ROLE_ARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{CODEBUILD_ROLE_NAME}",
    "SAGEMAKER_BUCKET": BUCKET,
    "SAGEMAKER_DOMAIN_ID": f"d-{DOMAIN_NAME}",
    "SAGEMAKER_USER_PROFILE": USER_PROFILE,
    # Studio's resource metadata names the space a notebook runs in; here the stack does.
    "SAGEMAKER_SPACE_NAME": SPACE_NAME,
}
