"""ECR on the local stack: images the runtimes and Studio resolve, what pulling one takes, and
DescribeRepositories paged as AWS pages it (moto answers every repository at once)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from moto.core.responses import ActionResult
from moto.ecr.exceptions import InvalidParameterException as EcrInvalidParameterException
from moto.ecr.models import ecr_backends
from moto.ecr.responses import ECRResponse

from snowpark_local.aws.iam import role_allows
from snowpark_local.aws.sagemaker.requests import (
    one_page,
)
from snowpark_local.patch import Patch, upstream

ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)


@dataclass(frozen=True)
class EcrImage:
    account: str
    region: str
    repository: str
    digest: str

    @property
    def pinned_uri(self) -> str:
        """The image's URI by digest, as SageMaker reports a resolved image."""
        host = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"
        return f"{host}/{self.repository}@{self.digest}"


def find_ecr_image(uri: str) -> EcrImage | None:
    """The ECR image a URI names, or None when the repository, tag or digest does not exist."""
    match = ECR_URI.match(uri or "")
    if not match:
        return None
    try:
        repo = ecr_backends[match["account"]][match["region"]].repositories[match["repository"]]
        tag = match["tag"] if match["tag"] or match["digest"] else "latest"
        image = repo._get_image(tag, match["digest"])
    except Exception:  # KeyError for the repository, ImageNotFoundException for the image
        return None
    return EcrImage(
        match["account"], match["region"], match["repository"], image.get_image_digest()
    )


# What pulling an image from ECR takes (ECR's "Private repository policies" page): a sign-in
# token for the registry, then the manifest and the layers of the image's repository.
PULL_ACTIONS = ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def may_pull(account: str, role_arn: str, image: EcrImage) -> bool:
    """Whether the role's policies let a service acting as it pull the image."""
    repository = f"arn:aws:ecr:{image.region}:{image.account}:repository/{image.repository}"
    return all(
        role_allows(account, role_arn, action, "*" if action.endswith("Token") else repository)
        for action in PULL_ACTIONS
    )


def put_ecr_image(account: str, region: str, repository: str, tag: str, digest: str) -> str | None:
    """Push a manifest whose only layer is `digest`; None when the repository does not exist."""
    backend = ecr_backends[account][region]
    if repository not in backend.repositories:
        return None
    manifest = (
        '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", '
        '"config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0, '
        f'"digest": "{digest}"}}, "layers": [{{"mediaType": '
        '"application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 0, '
        f'"digest": "{digest}"}}]}}'
    )
    image = backend.put_image(repository, manifest, tag)
    return image.get_image_digest()


ECR_PAGE_SIZE = 100  # DescribeRepositories' documented default without maxResults


def describe_repositories(self: ECRResponse) -> ActionResult:
    result = upstream(ECRResponse, "describe_repositories")(self)
    if self._get_param("repositoryNames"):
        return result  # named repositories come in one answer, and maxResults may not be given
    repositories = sorted(result.result["repositories"], key=lambda r: r.name)
    size = self._get_param("maxResults") or ECR_PAGE_SIZE
    token = self._get_param("nextToken")
    invalid = EcrInvalidParameterException(
        f"Invalid parameter at 'nextToken' failed to satisfy constraint: {token!r} is not a "
        "token this call returned"
    )
    repositories, next_token = one_page(repositories, size, token, invalid)
    page = {"repositories": repositories, "failures": []}
    if next_token:
        page["nextToken"] = next_token
    return ActionResult(page)


# --- What this module changes in moto, for the registry (snowpark_local/patches.py)

PATCHES: list[Patch] = [
    Patch(
        ECRResponse,
        "describe_repositories",
        describe_repositories,
        "moto answers every repository in one page",
    ),
]
