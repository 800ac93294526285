"""The CloudFormation template of the tutorial's prerequisites (infrastructure/tutorial.yaml).

python -m sagemaker_snowpark.infrastructure render         copy policies/*.json into the template
python -m sagemaker_snowpark.infrastructure env STACK      print tutorial.env lines from outputs
python -m sagemaker_snowpark.infrastructure delete STACK   stop the space, empty the bucket, delete

The template's policy documents are copies of policies/*.json, each under a comment naming its
file, so that `aws cloudformation deploy` takes the template as it is; `render` rewrites the
copies and a test fails when they differ.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import boto3

from .errors import TutorialError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infrastructure" / "tutorial.yaml"
POLICIES = ROOT / "policies"
SPACE = "sagemaker-snowpark"  # the template's space
APP_POLL_SECONDS = 10
# A comment naming a policy file, then the document (JSON is YAML) at the same indentation.
_COPY = re.compile(
    r"^(?P<indent> *)# (?P<file>policies/[\w.-]+\.json)\n"
    r"(?P=indent)\{(?:\}|\n.*?\n(?P=indent)\})\n",
    re.MULTILINE | re.DOTALL,
)
# Each output's description starts with the tutorial.env variable it fills.
_VARIABLE = re.compile(r"^([A-Z][A-Z0-9_]+): ")


# Values a policy file leaves to where it is used, each a whole JSON string: the template puts a
# CloudFormation expression in its place, the local stack its own account and domain (`fill`).
ACCOUNT_ID = "${AWS::AccountId}"
DOMAIN_ARN = "${TutorialDomainArn}"
USER_PROFILE_ARN = "${TutorialUserProfileArn}"
_ARN = '"arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:'
_EXPRESSIONS = {
    ACCOUNT_ID: '!Ref "AWS::AccountId"',
    DOMAIN_ARN: (
        f'!If [CreateDomain, !GetAtt Domain.DomainArn, !Sub {_ARN}domain/${{ExistingDomainId}}"]'
    ),
    USER_PROFILE_ARN: (
        f'!If [CreateDomain, !Sub {_ARN}user-profile/${{Domain}}/${{UserProfileName}}", '
        f'!Sub {_ARN}user-profile/${{ExistingDomainId}}/${{UserProfileName}}"]'
    ),
}


def fill(document: str, account_id: str, domain_arn: str, user_profile: str) -> str:
    """A policy file's document with its placeholders replaced by these values."""
    profile_arn = f"{domain_arn.replace(':domain/', ':user-profile/')}/{user_profile}"
    values = {ACCOUNT_ID: account_id, DOMAIN_ARN: domain_arn, USER_PROFILE_ARN: profile_arn}
    for placeholder, value in values.items():
        document = document.replace(json.dumps(placeholder), json.dumps(value))
    return document


def render(template: str, policies: Path = POLICIES) -> str:
    """The template with each policy copy replaced by its file's current document."""

    def copy(match: re.Match) -> str:
        indent, name = match["indent"], match["file"]
        path = policies / Path(name).name
        if not path.is_file():
            raise TutorialError(f"The template names {name}, which does not exist: fix the name.")
        document = json.dumps(json.loads(path.read_text()), indent=2)
        for placeholder, expression in _EXPRESSIONS.items():
            document = document.replace(json.dumps(placeholder), expression)
        body = "\n".join(indent + line for line in document.splitlines())
        return f"{indent}# {name}\n{body}\n"

    return _COPY.sub(copy, template)


def environment(outputs: list[dict]) -> dict[str, str]:
    """tutorial.env's variables from a stack's outputs (DescribeStacks' Outputs)."""
    found = {}
    for output in outputs:
        if match := _VARIABLE.match(output.get("Description", "")):
            found[match[1]] = output["OutputValue"]
    return found


def stack_outputs(stack_name: str, cloudformation=None) -> list[dict]:
    cloudformation = cloudformation or boto3.client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        raise TutorialError(
            f"No stack {stack_name} in this account and Region "
            f"({error.response['Error']['Message']}): deploy it first (docs/infrastructure.md), "
            "or name the one you deployed."
        ) from None
    return stack.get("Outputs", [])


def _wait_until_deleted(sagemaker, domain: str, app: dict, timeout: float = 900) -> None:
    """Poll DescribeApp until the app is Deleted (botocore has no waiter for apps)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = sagemaker.describe_app(
            DomainId=domain, SpaceName=SPACE, AppType=app["AppType"], AppName=app["AppName"]
        )["Status"]
        if status in ("Deleted", "Failed"):
            return
        time.sleep(APP_POLL_SECONDS)
    raise TutorialError(
        f"The space's app {app['AppName']} was not deleted within {timeout:.0f} s: delete it in "
        "Studio (Running instances), then run this again."
    )


def delete(stack_name: str, session: boto3.session.Session | None = None, echo=print) -> None:
    """Delete the stack so that nothing billable stays: first the space's running apps (a space
    with a running app cannot be deleted) and the bucket's objects (nor can a bucket that holds
    any), then the stack, waiting until it is gone."""
    session = session or boto3.session.Session()
    cloudformation = session.client("cloudformation")
    values = environment(stack_outputs(stack_name, cloudformation))
    sagemaker = session.client("sagemaker")
    domain = values.get("SAGEMAKER_DOMAIN_ID")
    apps = sagemaker.list_apps(DomainIdEquals=domain, SpaceNameEquals=SPACE)["Apps"]
    for app in [a for a in apps if a["Status"] not in ("Deleted", "Deleting", "Failed")]:
        echo(f"Stopping the space's {app['AppType']} app {app['AppName']}.")
        sagemaker.delete_app(
            DomainId=domain,
            SpaceName=SPACE,
            AppType=app["AppType"],
            AppName=app["AppName"],
        )
        _wait_until_deleted(sagemaker, domain, app)
    bucket = session.resource("s3").Bucket(values["SAGEMAKER_BUCKET"])
    removed = sum(len(page.get("Deleted", [])) for page in bucket.objects.all().delete())
    echo(f"Emptied s3://{bucket.name} ({removed} objects).")
    cloudformation.delete_stack(StackName=stack_name)
    echo(f"Deleting the stack {stack_name} ...")
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name)
    echo(f"The stack {stack_name} is deleted.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["render", "env", "delete"])
    parser.add_argument("stack", nargs="?", default="sagemaker-snowpark")
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            TEMPLATE.write_text(render(TEMPLATE.read_text()))
            print(f"wrote {TEMPLATE.relative_to(ROOT)}")
        elif args.command == "env":
            for name, value in environment(stack_outputs(args.stack)).items():
                print(f"{name}={value}")
        else:
            delete(args.stack)
    except TutorialError as error:
        print(f"infrastructure: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
