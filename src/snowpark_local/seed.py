"""What a learner's account already holds when the local stack starts, made as its administrator.

Either from policies/ directly ("policies") or by deploying infrastructure/tutorial.yaml through
the stack's CloudFormation, as an administrator does on AWS ("template").
"""

from __future__ import annotations

import json
import os

from sagemaker_snowpark.errors import TutorialError

from .accounts import (
    ACCOUNT_ID,
    ADMINISTRATOR_USER,
    BUCKET,
    CODEBUILD_ROLE_NAME,
    DOMAIN_NAME,
    EXISTING_STUDIO_IMAGE,
    LEARNER_USER,
    REGION,
    ROLE_NAME,
    SEEDED_PREREQUISITES,
    SPACE_NAME,
    TEAM_IMAGE_ROLE_NAME,
    TEMPLATE_REPOSITORY_URL,
    USER_PROFILE,
)

# What makes the tutorial's prerequisites (role, CodeBuild role, bucket, the learner's policy):
# "policies" creates them from policies/ directly; "template" deploys infrastructure/tutorial.yaml
# through the stack's CloudFormation, as an administrator does on AWS.
SEED_VARIABLE = "SNOWPARK_LOCAL_SEED"
SEEDS = ("policies", "template")
TEMPLATE_STACK = "sagemaker-snowpark"


def _team_image_role(iam) -> str:
    """The team's own image role: SageMaker pulls a Studio image as it (aws/sagemaker/studio.py)."""
    pull = {
        "Effect": "Allow",
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{EXISTING_STUDIO_IMAGE}",
    }
    token = {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    role = iam.create_role(
        RoleName=TEAM_IMAGE_ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]
    iam.put_role_policy(
        RoleName=TEAM_IMAGE_ROLE_NAME,
        PolicyName="pull-the-team-image",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [pull, token]}),
    )
    return role["Arn"]


def seed() -> str:
    """How the stack makes the tutorial's prerequisites (SNOWPARK_LOCAL_SEED, read at start)."""
    chosen = os.environ.get(SEED_VARIABLE) or "policies"
    if chosen not in SEEDS:
        raise TutorialError(
            f"{SEED_VARIABLE}={chosen!r} is not a way to seed the local stack: use "
            f"{' or '.join(SEEDS)}."
        )
    return chosen


def seed_aws(endpoint: str, prerequisites: bool = True) -> dict[str, dict[str, str]]:
    """What a learner's account already has, made as its administrator before IAM is enforced:
    the learner's IAM user, a team's Studio image and domain, and (with `prerequisites`) the
    execution and CodeBuild roles (trust and permissions from policies/), the learner's
    policies/learner.json and a bucket. Returns the learner's and the administrator's keys."""
    import boto3

    from .aws.ecr import put_ecr_image
    from .aws.iam import policy_document

    session = boto3.session.Session(
        aws_access_key_id="administrator", aws_secret_access_key="administrator", region_name=REGION
    )

    def client(service):
        return session.client(service, endpoint_url=endpoint)

    iam = client("iam")
    # In Studio one execution role carries all three policies. Here the learner, the jobs and
    # the builds are three principals, so that each policy alone is what its calls are checked
    # against.
    iam.create_user(UserName=LEARNER_USER)
    if prerequisites:
        for role, trust, policies in (
            (ROLE_NAME, "execution-role-trust", ("training-job-role", "studio-space")),
            (CODEBUILD_ROLE_NAME, "codebuild-role-trust", ("codebuild-role",)),
        ):
            iam.create_role(
                RoleName=role, AssumeRolePolicyDocument=policy_document(f"{trust}.json")
            )
            for policy in policies:
                iam.put_role_policy(
                    RoleName=role,
                    PolicyName=policy,
                    PolicyDocument=policy_document(f"{policy}.json"),
                )
        iam.put_user_policy(
            UserName=LEARNER_USER,
            PolicyName="learner",
            PolicyDocument=policy_document("learner.json"),
        )
        client("s3").create_bucket(Bucket=BUCKET)
    learner_key = iam.create_access_key(UserName=LEARNER_USER)["AccessKey"]
    iam.create_user(UserName=ADMINISTRATOR_USER)
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName=ADMINISTRATOR_USER,
        PolicyName="administrator",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    administrator_key = iam.create_access_key(UserName=ADMINISTRATOR_USER)["AccessKey"]
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}"
    client("ecr").create_repository(repositoryName=EXISTING_STUDIO_IMAGE)
    put_ecr_image(ACCOUNT_ID, REGION, EXISTING_STUDIO_IMAGE, "latest", "sha256:" + "0" * 64)
    sagemaker = client("sagemaker")
    sagemaker.create_image(ImageName=EXISTING_STUDIO_IMAGE, RoleArn=_team_image_role(iam))
    sagemaker.create_image_version(
        ImageName=EXISTING_STUDIO_IMAGE,
        BaseImage=f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{EXISTING_STUDIO_IMAGE}:latest",
        ClientToken="seed",
    )
    sagemaker.create_app_image_config(
        AppImageConfigName=EXISTING_STUDIO_IMAGE,
        JupyterLabAppImageConfig={"ContainerConfig": {"ContainerArguments": []}},
    )
    sagemaker.create_domain(
        DomainName=DOMAIN_NAME,
        AuthMode="IAM",
        DefaultUserSettings={
            "ExecutionRole": role_arn,
            "JupyterLabAppSettings": {
                "CustomImages": [
                    {
                        "ImageName": EXISTING_STUDIO_IMAGE,
                        "ImageVersionNumber": 1,
                        "AppImageConfigName": EXISTING_STUDIO_IMAGE,
                    }
                ]
            },
        },
        SubnetIds=["subnet-local"],
        VpcId="vpc-local",
    )
    if prerequisites:
        # The learner's profile has JupyterLab settings of its own, as the template's has.
        sagemaker.create_user_profile(
            DomainId=f"d-{DOMAIN_NAME}",
            UserProfileName=USER_PROFILE,
            UserSettings={
                "ExecutionRole": role_arn,
                "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}},
            },
        )
        # The learner's private JupyterLab space, as the template makes it (no image named: it
        # starts on Studio's default image until notebook 01 switches it).
        sagemaker.create_space(
            DomainId=f"d-{DOMAIN_NAME}",
            SpaceName=SPACE_NAME,
            OwnershipSettings={"OwnerUserProfileName": USER_PROFILE},
            SpaceSharingSettings={"SharingType": "Private"},
            SpaceSettings={
                "AppType": "JupyterLab",
                "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}},
            },
        )
    return {
        "learner": {k: learner_key[k] for k in ("AccessKeyId", "SecretAccessKey")},
        "administrator": {k: administrator_key[k] for k in ("AccessKeyId", "SecretAccessKey")},
    }


def deploy_template(endpoint: str, administrator: dict[str, str]) -> dict[str, str]:
    """The prerequisites as docs/infrastructure.md makes them: the administrator deploys
    infrastructure/tutorial.yaml (a new domain in the default VPC), then attaches the stack's
    learner policy to the learner's IAM user. Returns the notebooks' values from the outputs."""
    import boto3

    from sagemaker_snowpark import infrastructure

    from .aws.cloudformation import deploy

    session = boto3.session.Session(
        aws_access_key_id=administrator["AccessKeyId"],
        aws_secret_access_key=administrator["SecretAccessKey"],
        region_name=REGION,
    )
    ec2 = session.client("ec2", endpoint_url=endpoint)
    default = [{"Name": "is-default", "Values": ["true"]}]
    vpc = ec2.describe_vpcs(Filters=default)["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    parameters = {
        "RepositoryUrl": TEMPLATE_REPOSITORY_URL,
        "VpcId": vpc,
        "SubnetIds": ",".join(s["SubnetId"] for s in subnets),
    }
    cloudformation = session.client("cloudformation", endpoint_url=endpoint)
    outputs = deploy(cloudformation, TEMPLATE_STACK, parameters)
    learner_policy = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "LearnerPolicyArn")
    iam = session.client("iam", endpoint_url=endpoint)
    iam.attach_user_policy(UserName=LEARNER_USER, PolicyArn=learner_policy)
    values = infrastructure.environment(outputs)
    return {k: v for k, v in values.items() if k in SEEDED_PREREQUISITES}
