"""The SageMaker and CodeBuild actions the local stack adds to moto."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from sagemaker_snowpark.errors import TutorialError
from sagemaker_snowpark.images import build_and_push, wait_for_build
from snowpark_local.accounts import ACCOUNT_ID, EXISTING_STUDIO_IMAGE, REGION
from snowpark_local.aws.sagemaker.requests import DEFAULT_PAGE_SIZE, unsupported_members
from snowpark_local.aws.sagemaker.studio_state import IMAGE_DELETION_SECONDS

REGISTRY = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"


def _wait_version(sagemaker, name, version=None, timeout=10):
    deadline = time.time() + timeout
    while True:
        kwargs = {"ImageName": name, **({"Version": version} if version else {})}
        described = sagemaker.describe_image_version(**kwargs)
        if described["ImageVersionStatus"] != "CREATING" or time.time() > deadline:
            return described
        time.sleep(0.2)


def test_image_and_versions_follow_ecr(sagemaker_client, role_arn, unique):
    name = f"img-{unique}"
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName=name)
    ecr.put_image(
        repositoryName=name,
        imageTag="v1",
        imageManifest='{"schemaVersion": 2, "layers": [{"digest": "sha256:' + "a" * 64 + '"}]}',
        imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
    )
    arn = sagemaker_client.create_image(ImageName=name, RoleArn=role_arn)["ImageArn"]
    assert arn.endswith(f":image/{name}")
    assert sagemaker_client.describe_image(ImageName=name)["ImageStatus"] == "CREATED"
    with pytest.raises(ClientError, match="ResourceInUse"):
        sagemaker_client.create_image(ImageName=name, RoleArn=role_arn)

    good = sagemaker_client.create_image_version(
        ImageName=name, BaseImage=f"{REGISTRY}/{name}:v1", ClientToken="a"
    )
    assert good["ImageVersionArn"].endswith(f":image-version/{name}/1")
    assert (
        sagemaker_client.describe_image_version(ImageName=name)["ImageVersionStatus"] == "CREATING"
    )
    created = _wait_version(sagemaker_client, name)
    assert created["ImageVersionStatus"] == "CREATED"
    assert created["ContainerImage"].startswith(f"{REGISTRY}/{name}@sha256:")

    sagemaker_client.create_image_version(
        ImageName=name, BaseImage=f"{REGISTRY}/{name}:missing", ClientToken="b"
    )
    failed = _wait_version(sagemaker_client, name)
    assert failed["Version"] == 2
    assert failed["ImageVersionStatus"] == "CREATE_FAILED"
    assert "Unable to find image" in failed["FailureReason"]

    listed = sagemaker_client.list_image_versions(ImageName=name)["ImageVersions"]
    assert [v["Version"] for v in listed] == [2, 1]  # AWS's default: newest first
    sagemaker_client.delete_image_version(ImageName=name, Version=2)
    assert _wait_version(sagemaker_client, name)["Version"] == 1


def _push(repository: str, digit: str) -> None:
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName=repository)
    ecr.put_image(
        repositoryName=repository,
        imageTag="v1",
        imageManifest='{"schemaVersion": 2, "layers": [{"digest": "sha256:' + digit * 64 + '"}]}',
        imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
    )


def _role_that_pulls(name: str, repository: str) -> str:
    """A role SageMaker may assume whose only permission is pulling `repository`, if any."""
    iam = boto3.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
             "Action": "sts:AssumeRole"}  # fmt: skip
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    pull = {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{repository}"}  # fmt: skip
    token = {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": [pull, token]}
    iam.put_role_policy(RoleName=name, PolicyName="pull", PolicyDocument=json.dumps(policy))
    return arn


def test_an_image_version_fails_when_the_images_role_may_not_pull_it(sagemaker_client, unique):
    name = f"img-{unique}"
    _push(name, "c")
    role = _role_that_pulls(f"pulls-other-{unique}", f"other-{unique}")
    sagemaker_client.create_image(ImageName=name, RoleArn=role)
    sagemaker_client.create_image_version(
        ImageName=name, BaseImage=f"{REGISTRY}/{name}:v1", ClientToken="a"
    )
    failed = _wait_version(sagemaker_client, name)
    assert failed["ImageVersionStatus"] == "CREATE_FAILED"
    assert failed["FailureReason"] == (
        f"The role {role} does not have permission to pull the image {REGISTRY}/{name}:v1: grant "
        "it ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer on the "
        "repository."
    )

    # The same image under a role that may pull it: the version is created.
    other = f"img2-{unique}"
    sagemaker_client.create_image(
        ImageName=other, RoleArn=_role_that_pulls(f"pulls-{unique}", name)
    )
    sagemaker_client.create_image_version(
        ImageName=other, BaseImage=f"{REGISTRY}/{name}:v1", ClientToken="b"
    )
    assert _wait_version(sagemaker_client, other)["ImageVersionStatus"] == "CREATED"


def test_an_app_fails_when_its_execution_role_may_not_pull_the_image(sagemaker_client, unique):
    name = f"img-{unique}"
    _push(name, "d")
    image_arn = sagemaker_client.create_image(
        ImageName=name, RoleArn=_role_that_pulls(f"pulls-{unique}", name)
    )["ImageArn"]
    sagemaker_client.create_image_version(
        ImageName=name, BaseImage=f"{REGISTRY}/{name}:v1", ClientToken="a"
    )
    assert _wait_version(sagemaker_client, name)["ImageVersionStatus"] == "CREATED"
    outcomes = {}
    for label, repository in (("denied", f"other-{unique}"), ("allowed", name)):
        role = _role_that_pulls(f"runs-{label}-{unique}", repository)
        domain_id = sagemaker_client.create_domain(
            DomainName=f"dom-{label}-{unique}",
            AuthMode="IAM",
            DefaultUserSettings={"ExecutionRole": role},
            SubnetIds=["subnet-1"],
            VpcId="vpc-1",
        )["DomainId"]
        app = dict(DomainId=domain_id, UserProfileName="learner", AppType="JupyterLab",
                   AppName="default")  # fmt: skip
        sagemaker_client.create_app(**app, ResourceSpec={"SageMakerImageArn": image_arn})
        described = sagemaker_client.describe_app(**app)
        outcomes[label] = (described["Status"], described.get("FailureReason", ""))
    assert outcomes["allowed"] == ("InService", "")
    assert outcomes["denied"][0] == "Failed"
    assert outcomes["denied"][1].startswith(f"The execution role arn:aws:iam::{ACCOUNT_ID}:role/")
    assert "does not have permission to pull the image" in outcomes["denied"][1]


def test_an_image_is_deleted_through_deleting(sagemaker_client, role_arn, unique):
    name = f"gone-{unique}"
    sagemaker_client.create_image(ImageName=name, RoleArn=role_arn)
    started = time.time()
    sagemaker_client.delete_image(ImageName=name)
    assert sagemaker_client.describe_image(ImageName=name)["ImageStatus"] == "DELETING"
    listed = sagemaker_client.list_images(NameContains=name)["Images"]
    assert [i["ImageStatus"] for i in listed] == ["DELETING"]
    with pytest.raises(ClientError, match="ResourceInUse.*being deleted"):
        sagemaker_client.create_image_version(
            ImageName=name, BaseImage=f"{REGISTRY}/x:1", ClientToken="c"
        )
    with pytest.raises(ClientError, match="ResourceInUse"):
        sagemaker_client.create_image(ImageName=name, RoleArn=role_arn)
    sagemaker_client.get_waiter("image_deleted").wait(
        ImageName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    assert time.time() - started >= IMAGE_DELETION_SECONDS
    assert sagemaker_client.list_images(NameContains=name)["Images"] == []
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sagemaker_client.delete_image(ImageName=name)


def test_app_image_configs_for_jupyterlab_and_kernel_gateway(sagemaker_client, unique):
    jupyterlab = {"ContainerConfig": {"ContainerEntrypoint": ["entrypoint-jupyter-server"]}}
    kernel_gateway = {
        "KernelSpecs": [{"Name": "python3", "DisplayName": "Snowpark"}],
        "FileSystemConfig": {"MountPath": "/root", "DefaultUid": 0, "DefaultGid": 0},
    }
    for kind, config in (
        ("JupyterLabAppImageConfig", jupyterlab),
        ("KernelGatewayImageConfig", kernel_gateway),
    ):
        name = f"cfg-{kind[:5].lower()}-{unique}"
        sagemaker_client.create_app_image_config(AppImageConfigName=name, **{kind: config})
        described = sagemaker_client.describe_app_image_config(AppImageConfigName=name)
        assert described[kind] == config
        changed = (
            {**config, "FileSystemConfig": {**config["FileSystemConfig"], "MountPath": "/x"}}
            if "KernelSpecs" in config
            else {"ContainerConfig": {"ContainerArguments": ["--x"]}}
        )
        sagemaker_client.update_app_image_config(AppImageConfigName=name, **{kind: changed})
        described = sagemaker_client.describe_app_image_config(AppImageConfigName=name)
        assert described[kind] == changed
        assert name in [
            c["AppImageConfigName"]
            for c in sagemaker_client.list_app_image_configs()["AppImageConfigs"]
        ]
        sagemaker_client.delete_app_image_config(AppImageConfigName=name)
        with pytest.raises(ClientError, match="ResourceNotFound"):
            sagemaker_client.describe_app_image_config(AppImageConfigName=name)


def test_unsupported_members_come_from_botocore_documentation():
    assert unsupported_members("JupyterLabAppImageConfig") == {"FileSystemConfig"}
    assert unsupported_members("CodeEditorAppImageConfig") == {"FileSystemConfig"}
    assert unsupported_members("KernelGatewayImageConfig") == set()


FILE_SYSTEM = {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100}


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {"FileSystemConfig": FILE_SYSTEM},
            "FileSystemConfig is not supported in JupyterLabAppImageConfig",
        ),
        (
            {"ContainerConfig": {"ContainerEntrypoint": ["entrypoint-jupyter-server", "extra"]}},
            "ContainerEntrypoint has 2 items .* at most 1",
        ),
        (
            {"ContainerConfig": {"ContainerEntrypoint": [" "]}},
            r"ContainerEntrypoint\[0\] value ' ' does not match",
        ),
    ],
)
def test_app_image_configs_are_rejected_as_aws_rejects_them(
    sagemaker_client, unique, config, message
):
    name = f"bad-{unique}"
    with pytest.raises(ClientError, match=f"ValidationException.*{message}"):
        sagemaker_client.create_app_image_config(
            AppImageConfigName=name, JupyterLabAppImageConfig=config
        )
    sagemaker_client.create_app_image_config(AppImageConfigName=name, JupyterLabAppImageConfig={})
    with pytest.raises(ClientError, match=f"ValidationException.*{message}"):
        sagemaker_client.update_app_image_config(
            AppImageConfigName=name, JupyterLabAppImageConfig=config
        )
    assert (
        sagemaker_client.describe_app_image_config(AppImageConfigName=name)[
            "JupyterLabAppImageConfig"
        ]
        == {}
    )
    sagemaker_client.delete_app_image_config(AppImageConfigName=name)


def test_list_calls_page_at_the_default_size(sagemaker_client, role_arn, unique):
    names = [f"page-{unique}-{n:02d}" for n in range(12)]
    for name in names:
        sagemaker_client.create_app_image_config(AppImageConfigName=name)
        sagemaker_client.create_image(ImageName=name, RoleArn=role_arn)
    for operation, key, field in (
        ("list_app_image_configs", "AppImageConfigs", "AppImageConfigName"),
        ("list_images", "Images", "ImageName"),
    ):
        first = getattr(sagemaker_client, operation)(NameContains=f"page-{unique}")
        assert len(first[key]) == DEFAULT_PAGE_SIZE == 10 and first["NextToken"]
        assert [i[field] for i in first[key]] == names[::-1][:10]  # newest first, as on AWS
        second = getattr(sagemaker_client, operation)(
            NameContains=f"page-{unique}", NextToken=first["NextToken"]
        )
        assert [i[field] for i in second[key]] == names[1::-1] and "NextToken" not in second
        pages = sagemaker_client.get_paginator(operation).paginate(
            NameContains=f"page-{unique}", PaginationConfig={"PageSize": 5}
        )
        assert sorted(i[field] for page in pages for i in page[key]) == names
        with pytest.raises(ClientError, match="NextToken 'bogus' is not valid"):
            getattr(sagemaker_client, operation)(NextToken="bogus")
    for name in names:
        sagemaker_client.delete_app_image_config(AppImageConfigName=name)
        sagemaker_client.delete_image(ImageName=name)


def _create_training_job(sagemaker, name, role_arn, bucket):
    """A training job whose image is not in ECR: it fails at once, which is all a listing needs."""
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": f"{REGISTRY}/test-programs:never-built",
            "TrainingInputMode": "File",
        },
        RoleArn=role_arn,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/list-tests"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )


def test_list_training_jobs_filters_then_sorts_and_pages(
    sagemaker_client, role_arn, bucket, unique
):
    """moto pages before it filters and ignores SortBy/SortOrder; the stack does as AWS says."""
    names = [f"list-{unique}-{kind}-{n}" for n, kind in enumerate(["match", "other"] * 2)]
    for name in names:
        _create_training_job(sagemaker_client, name, role_arn, bucket)
        time.sleep(0.01)  # distinct creation times
    deadline = time.time() + 30
    for name in names:
        while sagemaker_client.describe_training_job(TrainingJobName=name)[
            "TrainingJobStatus"
        ] not in ("Completed", "Failed", "Stopped"):
            assert time.time() < deadline
            time.sleep(0.1)

    def listed(**kwargs):
        answer = sagemaker_client.list_training_jobs(**kwargs)
        return [j["TrainingJobName"] for j in answer["TrainingJobSummaries"]], answer

    newest_first = names[::-1]
    assert listed(NameContains=f"list-{unique}")[0] == newest_first  # CreationTime, newest first
    assert listed(NameContains=f"list-{unique}", SortOrder="Ascending")[0] == names
    by_name = listed(NameContains=f"list-{unique}", SortBy="Name", SortOrder="Ascending")[0]
    assert by_name == sorted(names)
    # NameContains before MaxResults: the newest job whose name matches, not the newest job.
    assert listed(NameContains=f"list-{unique}-match", MaxResults=1)[0] == [names[2]]
    first, page = listed(NameContains=f"list-{unique}", MaxResults=3)
    second, last = listed(NameContains=f"list-{unique}", MaxResults=3, NextToken=page["NextToken"])
    assert first + second == newest_first and "NextToken" not in last
    pages = sagemaker_client.get_paginator("list_training_jobs").paginate(
        NameContains=f"list-{unique}", PaginationConfig={"PageSize": 1}
    )
    assert [j["TrainingJobName"] for p in pages for j in p["TrainingJobSummaries"]] == newest_first
    summary = sagemaker_client.list_training_jobs(NameContains=names[0])["TrainingJobSummaries"]
    assert (summary[0]["TrainingJobStatus"], summary[0]["SecondaryStatus"]) == ("Failed", "Failed")
    # As documented: StatusEquals filters the MaxResults jobs already chosen, so a page may be
    # short or empty while NextToken says that more follow.
    failed, page = listed(NameContains=f"list-{unique}", StatusEquals="Failed", MaxResults=2)
    assert failed == newest_first[:2] and page["NextToken"]
    completed, page = listed(NameContains=f"list-{unique}", StatusEquals="Completed", MaxResults=2)
    assert completed == [] and page["NextToken"]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert listed(NameContains=f"list-{unique}", CreationTimeAfter=later)[0] == []
    assert listed(NameContains=f"list-{unique}", LastModifiedTimeBefore=later)[0] == newest_first
    with pytest.raises(ClientError, match="NextToken 'bogus' is not valid"):
        sagemaker_client.list_training_jobs(NextToken="bogus")
    with pytest.raises(ClientError, match="SortOrder"):
        sagemaker_client.list_training_jobs(SortOrder="Newest")


def test_update_domain_merges_settings_and_checks_images(sagemaker_client, role_arn, unique):
    domain = sagemaker_client.create_domain(
        DomainName=f"dom-{unique}",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": role_arn, "SecurityGroups": ["sg-1"]},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )
    domain_id = domain["DomainId"]
    entry = {"ImageName": EXISTING_STUDIO_IMAGE, "AppImageConfigName": EXISTING_STUDIO_IMAGE}
    sagemaker_client.update_domain(
        DomainId=domain_id,
        DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [entry]}},
        DomainSettingsForUpdate={"DockerSettings": {"EnableDockerAccess": "ENABLED"}},
    )
    described = sagemaker_client.describe_domain(DomainId=domain_id)
    assert described["DefaultUserSettings"]["SecurityGroups"] == ["sg-1"]  # kept
    assert described["DefaultUserSettings"]["JupyterLabAppSettings"]["CustomImages"] == [entry]
    assert described["DomainSettings"]["DockerSettings"]["EnableDockerAccess"] == "ENABLED"

    missing = {"ImageName": f"nope-{unique}", "AppImageConfigName": EXISTING_STUDIO_IMAGE}
    with pytest.raises(ClientError, match=f"Image nope-{unique} does not exist"):
        sagemaker_client.update_domain(
            DomainId=domain_id,
            DefaultUserSettings={"JupyterLabAppSettings": {"CustomImages": [missing]}},
        )
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sagemaker_client.update_domain(DomainId="d-missing", DefaultUserSettings={})


def test_codebuild_records_the_image_from_its_source(tmp_path, bucket, role_arn, unique):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app" / "train").write_text("print('v1')\n")
    repository = f"built-{unique}"
    lines = []
    first = build_and_push(
        tmp_path, ["app"], "app/Dockerfile", repository, bucket, role_arn, echo=lines.append
    )
    assert first.built_now and first.uri.startswith(f"{REGISTRY}/{repository}:src-")
    assert any("DOWNLOAD_SOURCE" in line for line in lines), lines  # the build log was echoed
    ecr_images = boto3.client("ecr").describe_images(repositoryName=repository)["imageDetails"]
    assert [i["imageDigest"] for i in ecr_images] == [first.digest]

    again = build_and_push(
        tmp_path, ["app"], "app/Dockerfile", repository, bucket, role_arn, echo=lambda _: None
    )
    assert again == type(first)(first.uri, first.digest, built_now=False)

    (tmp_path / "app" / "train").write_text("print('v2')\n")
    changed = build_and_push(
        tmp_path, ["app"], "app/Dockerfile", repository, bucket, role_arn, echo=lambda _: None
    )
    assert changed.built_now and changed.uri != first.uri and changed.digest != first.digest


NO_CODEBUILD_ROLE = (
    "SAGEMAKER_CODEBUILD_ROLE_ARN is not set: set it in tutorial.env to the CodeBuild role the "
    "template made (its stack's output CodeBuildRoleArn), or to a role of your own with "
    "policies/codebuild-role.json; see docs/real-accounts.md."
)


def test_a_build_without_a_codebuild_role_stops_at_once(
    tmp_path, bucket, role_arn, unique, monkeypatch
):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    repository = f"unbuilt-{unique}"
    project = f"{repository}-build"
    monkeypatch.delenv("SAGEMAKER_CODEBUILD_ROLE_ARN", raising=False)
    with pytest.raises(TutorialError) as error:
        # No role falls back to the execution role: it cannot build.
        build_and_push(tmp_path, ["app"], "app/Dockerfile", repository, bucket)
    assert str(error.value) == NO_CODEBUILD_ROLE
    # Nothing was made on the way: no repository, no source, no project.
    ecr = boto3.client("ecr")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[repository])
    source = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"codebuild/{project}/")
    assert source["KeyCount"] == 0
    codebuild = boto3.client("codebuild")
    assert codebuild.batch_get_projects(names=[project])["projects"] == []

    # Set, the variable names the role the project builds as.
    monkeypatch.setenv("SAGEMAKER_CODEBUILD_ROLE_ARN", role_arn)
    built = build_and_push(
        tmp_path, ["app"], "app/Dockerfile", repository, bucket, echo=lambda _: None
    )
    assert built.built_now
    assert codebuild.batch_get_projects(names=[project])["projects"][0]["serviceRole"] == role_arn


def test_a_build_the_account_s_quota_refuses_is_one_line(
    tmp_path, bucket, role_arn, unique, monkeypatch
):
    """A new account's quota of concurrent builds is often 0: StartBuild is refused."""
    client = boto3.client

    class Refusing:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def start_build(self, **_):
            error = {"Code": "AccountLimitExceededException"}
            error["Message"] = "Cannot have more than 0 builds in queue for the account"
            raise ClientError({"Error": error}, "StartBuild")

    monkeypatch.setattr(
        boto3,
        "client",
        lambda name: Refusing(client(name)) if name == "codebuild" else client(name),
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(TutorialError) as error:
        build_and_push(tmp_path, ["app"], "app/Dockerfile", f"refused-{unique}", bucket, role_arn)
    assert str(error.value) == (
        "CodeBuild refused to start the build: Cannot have more than 0 builds in queue for the "
        "account. Raise the account's quota 'Concurrently running builds for Linux/Medium "
        "environment', or wait for its other builds: see docs/real-accounts.md, AWS quotas of a "
        "new account."
    )


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "source, repository, reason",
    [
        (b"not a zip", "test-programs", "CLIENT_ERROR: .* is not a zip file"),
        (_zip({"train": "x"}), "test-programs", "Dockerfile not found in the source"),
        (
            _zip({"Dockerfile": "FROM scratch"}),
            "no-such-repository",
            "the repository with name 'no-such-repository' does not exist",
        ),
    ],
    # Named, not by their bytes: a zip holds the time it was made, and parallel workers must
    # collect the same test ids.
    ids=["not-a-zip", "no-dockerfile", "no-repository"],
)
def test_codebuild_fails_with_the_reason(bucket, role_arn, unique, source, repository, reason):
    codebuild = boto3.client("codebuild")
    key = f"codebuild/{unique}/source.zip"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=source)
    codebuild.create_project(
        name=f"p-{unique}",
        source={"type": "S3", "location": f"{bucket}/{key}"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [{"name": "IMAGE_REPO_NAME", "value": repository}],
        },
        serviceRole=role_arn,
    )
    build = codebuild.start_build(projectName=f"p-{unique}")["build"]
    with pytest.raises(TutorialError, match=f"ended FAILED: .*{reason}"):
        wait_for_build(build["id"], codebuild, poll_seconds=0.2, echo=lambda _: None)


def test_describe_repositories_pages_at_a_hundred_as_ecr_does(unique):
    ecr = boto3.client("ecr")
    names = [f"paging-{unique}-{i:03}" for i in range(101)]
    for name in names:
        ecr.create_repository(repositoryName=name)
    try:
        first = ecr.describe_repositories()
        assert len(first["repositories"]) == 100 and "nextToken" in first
        pages = ecr.get_paginator("describe_repositories").paginate()
        found = {r["repositoryName"] for page in pages for r in page["repositories"]}
        assert set(names) <= found
        named = ecr.describe_repositories(repositoryNames=names[:3])["repositories"]
        assert sorted(r["repositoryName"] for r in named) == names[:3]
    finally:
        for name in names:
            ecr.delete_repository(repositoryName=name)
