"""The Studio helpers and the clean-up against the local stack's AWS strictness: asynchronous image
deletion, paged list calls, and images that a running space still uses."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from sagemaker_snowpark import cleanup, studio
from sagemaker_snowpark.errors import TutorialError
from snowpark_local.accounts import ACCOUNT_ID, REGION

REGISTRY = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture
def fast_deletion_polls(monkeypatch):
    monkeypatch.setattr(studio, "DELETION_POLL_SECONDS", 0.2)


@pytest.fixture
def attached(sagemaker_client, role_arn, unique, fast_deletion_polls):
    """A domain with a versioned image and its app image config attached, and the series' names."""
    name = f"kernel-{unique}"
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName=name)
    ecr.put_image(
        repositoryName=name,
        imageTag="v1",
        imageManifest='{"schemaVersion": 2, "layers": [{"digest": "sha256:' + "b" * 64 + '"}]}',
        imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json",
    )
    domain_id = sagemaker_client.create_domain(
        DomainName=f"dom-{unique}",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": role_arn},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainId"]
    studio.ensure_image(name, role_arn, sagemaker=sagemaker_client)
    version = studio.ensure_image_version(name, f"{REGISTRY}/{name}:v1", poll=0.2)
    config = f"{name}-jupyterlab"
    studio.ensure_app_image_config(config, "jupyterlab", {"ContainerConfig": {}})
    entry = {"ImageName": name, "AppImageConfigName": config, "ImageVersionNumber": 1}
    studio.attach_to_domain(domain_id, entry)
    names = cleanup.SeriesResources(
        bucket=boto3.client("s3").list_buckets()["Buckets"][0]["Name"],
        domain_id=domain_id,
        studio_image=name,
        app_image_configs=(config,),
        repositories=(name,),
    )
    return names, version


def _run_space(sagemaker_client, names, version) -> dict:
    app = dict(
        DomainId=names.domain_id, SpaceName="learner", AppType="JupyterLab", AppName="default"
    )
    sagemaker_client.create_app(**app, ResourceSpec={"SageMakerImageArn": version["ImageArn"]})
    return app


def test_clean_up_waits_until_the_image_is_gone(attached):
    names, _ = attached
    assert cleanup.detach_studio_image(names)
    assert cleanup.delete_studio_image(names) == [
        f"deleted app image config {names.app_image_configs[0]}",
        f"deleted SageMaker image {names.studio_image} and its versions",
    ]
    found = cleanup.inventory(names)  # right after: no image DELETING in it
    assert found["SageMaker image"] == [] and found["App image configs"] == []
    assert cleanup.delete_studio_image(names) == []  # again: nothing to do


def test_an_image_in_use_by_a_space_stops_the_clean_up_with_the_fix(sagemaker_client, attached):
    names, version = attached
    app = _run_space(sagemaker_client, names, version)
    with pytest.raises(ClientError, match="ResourceInUse.*in use by running apps in: learner"):
        sagemaker_client.delete_image(ImageName=names.studio_image)
    with pytest.raises(TutorialError, match="in use .*: stop every Studio space that runs it"):
        cleanup.detach_studio_image(names)  # UpdateDomain answers ResourceInUse
    with pytest.raises(TutorialError, match=r"in use \(.*learner.\): stop every Studio space"):
        studio.delete_image(names.studio_image)
    sagemaker_client.delete_app(**app)  # the learner stops the space
    assert cleanup.detach_studio_image(names)
    assert cleanup.delete_studio_image(names)
    assert not cleanup.inventory(names)["SageMaker image"]


def test_image_is_created_anew_after_a_clean_up_still_deleting(sagemaker_client, role_arn, unique):
    name = f"again-{unique}"
    first = studio.ensure_image(name, role_arn)
    sagemaker_client.delete_image(ImageName=name)  # DELETING for a while
    assert studio.ensure_image(name, role_arn) == first
    assert sagemaker_client.describe_image(ImageName=name)["ImageStatus"] == "CREATED"


def test_inventory_finds_the_series_beyond_the_first_page(sagemaker_client, attached, unique):
    names, _ = attached
    newer = [f"other-{unique}-{n:02d}" for n in range(11)]
    for config in newer:  # listed first: AWS lists the newest first, 10 a page
        sagemaker_client.create_app_image_config(AppImageConfigName=config)
    try:
        first_page = sagemaker_client.list_app_image_configs()["AppImageConfigs"]
        assert names.app_image_configs[0] not in [c["AppImageConfigName"] for c in first_page]
        assert cleanup.inventory(names)["App image configs"] == list(names.app_image_configs)
    finally:
        for config in newer:
            sagemaker_client.delete_app_image_config(AppImageConfigName=config)


# A space starts on the image its DefaultResourceSpec names: notebook 01 switches the learner's
# space to the kernel image, and notebook 07 switches it back before deleting the image.

SPEC = {"InstanceType": "ml.t3.medium"}


def _space(sagemaker_client, domain_id: str, name: str, owner: str | None = None) -> str:
    owned = {"OwnershipSettings": {"OwnerUserProfileName": owner}} if owner else {}
    sagemaker_client.create_space(
        DomainId=domain_id,
        SpaceName=name,
        SpaceSettings={
            "AppType": "JupyterLab",
            "JupyterLabAppSettings": {"DefaultResourceSpec": SPEC},
        },
        **owned,
    )
    return name


def _start(sagemaker_client, domain_id: str, space: str) -> dict:
    """Start the space's JupyterLab app as Studio does: no ResourceSpec, the space's default."""
    app = dict(DomainId=domain_id, SpaceName=space, AppType="JupyterLab", AppName="default")
    sagemaker_client.create_app(**app)
    return sagemaker_client.describe_app(**app)


def test_a_space_switches_to_the_attached_image_and_back(sagemaker_client, attached):
    names, version = attached
    space = _space(sagemaker_client, names.domain_id, "switching")
    spec = studio.use_image_in_space(names.domain_id, space, names.studio_image, 1)
    assert spec == {
        **SPEC,  # the space's instance type stays
        "SageMakerImageArn": version["ImageArn"],
        "SageMakerImageVersionArn": version["ImageVersionArn"],
    }
    assert studio.space_image(names.domain_id, space) == names.studio_image
    app = _start(sagemaker_client, names.domain_id, space)
    assert app["Status"] == "InService"
    assert app["ResourceSpec"]["SageMakerImageArn"] == version["ImageArn"]
    sagemaker_client.delete_app(
        **{k: app[k] for k in ("DomainId", "SpaceName", "AppType", "AppName")}
    )
    assert studio.stop_using_image_in_space(names.domain_id, space, names.studio_image)
    assert not studio.stop_using_image_in_space(names.domain_id, space, names.studio_image)
    described = sagemaker_client.describe_space(DomainId=names.domain_id, SpaceName=space)
    assert described["SpaceSettings"]["JupyterLabAppSettings"]["DefaultResourceSpec"] == SPEC
    assert studio.space_image(names.domain_id, space) is None


def test_update_space_refuses_an_image_a_space_could_not_start_on(
    sagemaker_client, attached, unique
):
    names, version = attached
    owner = f"owner-{unique}"
    sagemaker_client.create_user_profile(DomainId=names.domain_id, UserProfileName=owner)
    space = _space(sagemaker_client, names.domain_id, "refusing", owner=owner)

    def update(**spec):
        sagemaker_client.update_space(
            DomainId=names.domain_id,
            SpaceName=space,
            SpaceSettings={"JupyterLabAppSettings": {"DefaultResourceSpec": {**SPEC, **spec}}},
        )

    missing = version["ImageArn"].replace(names.studio_image, f"missing-{unique}")
    with pytest.raises(ClientError, match=r"ResourceNotFound.*Image .*missing-.* does not exist"):
        update(SageMakerImageArn=missing)
    with pytest.raises(ClientError, match=r"ResourceNotFound.*Image version .*/7 does not exist"):
        update(
            SageMakerImageArn=version["ImageArn"],
            SageMakerImageVersionArn=version["ImageVersionArn"][:-1] + "7",
        )
    with pytest.raises(ClientError, match="ValidationException.*needs the SageMakerImageArn"):
        update(SageMakerImageVersionArn=version["ImageVersionArn"])
    with pytest.raises(ClientError, match="ValidationException.*app type"):
        sagemaker_client.update_space(
            DomainId=names.domain_id, SpaceName=space, SpaceSettings={"AppType": "CodeEditor"}
        )
    with pytest.raises(ClientError, match="ResourceNotFound.*Space nowhere"):
        sagemaker_client.update_space(DomainId=names.domain_id, SpaceName="nowhere")
    with pytest.raises(TutorialError, match="Studio space nowhere does not exist in domain"):
        studio.use_image_in_space(names.domain_id, "nowhere", names.studio_image)
    # An image the domain does not offer: Studio would not start the space on it.
    detached = studio.detach_from_domain(names.domain_id, names.studio_image)
    assert names.studio_image not in [i["ImageName"] for i in detached]
    with pytest.raises(ClientError, match="ValidationException.*not among the custom images"):
        studio.use_image_in_space(names.domain_id, space, names.studio_image, 1)
    # The space's owner offering it is enough.
    config = names.app_image_configs[0]
    entry = {"ImageName": names.studio_image, "AppImageConfigName": config, "ImageVersionNumber": 1}
    sagemaker_client.update_user_profile(
        DomainId=names.domain_id,
        UserProfileName=owner,
        UserSettings={"JupyterLabAppSettings": {"CustomImages": [entry]}},
    )
    spec = studio.use_image_in_space(names.domain_id, space, names.studio_image)
    assert spec["SageMakerImageVersionArn"] == version["ImageVersionArn"]  # the latest version


def test_a_space_left_on_a_deleted_image_cannot_start_until_switched_back(
    sagemaker_client, attached
):
    names, _ = attached
    space = _space(sagemaker_client, names.domain_id, "stranded")
    studio.use_image_in_space(names.domain_id, space, names.studio_image, 1)
    # The clean-up without notebook 07's switch back: the image goes, the space still names it.
    assert cleanup.detach_studio_image(names) and cleanup.delete_studio_image(names)
    with pytest.raises(ClientError, match=f"ResourceNotFound.*Image {names.studio_image} does"):
        _start(sagemaker_client, names.domain_id, space)
    assert studio.stop_using_image_in_space(names.domain_id, space, names.studio_image)
    assert _start(sagemaker_client, names.domain_id, space)["Status"] == "InService"
