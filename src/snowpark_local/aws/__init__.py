"""AWS for the local stack: moto in server mode (server.py), plus what the tutorial needs and moto
lacks, one module per service as moto lays out its own.

moto 5.2.5 answers Secrets Manager, S3, ECR, STS, IAM, CloudWatch Logs, CodeBuild and most of
SageMaker. The modules here patch its handlers in the stack's process:

- sagemaker/studio.py: SageMaker images, image versions, app image configs, Studio apps, user
  profiles, spaces and UpdateDomain, kept in one Studio state (sagemaker/studio_state.py) that
  CloudFormation shares; sagemaker/requests.py checks requests against botocore's model and pages
  list answers as AWS does;
- sagemaker/training.py and sagemaker/processing.py: jobs that really run, handed to the stack's
  runtimes (snowpark_local/jobs/) through WORKERS;
- codebuild.py: builds that the stack's builder runs and records in ECR; ecr.py: images, pulls
  and DescribeRepositories' pages; secretsmanager.py: the 64 KB limit on a secret's value;
- iam.py: IAM enforced as AWS does for every request; cloudformation.py and
  cloudformation_rules.py: the template's Studio resources and its Rules section;
- store.py: small accessors to moto's in-process state for the runtimes.

The patches rely on moto internals, which is why moto is pinned: each module's PATCHES list goes
to the registry (snowpark_local/patches.py), which checks them against moto and installs them.
"""
