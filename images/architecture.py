"""The tutorial's architecture picture, drawn as code: `make picture` writes architecture.png.

Needs the `diagrams` package (the `docs` extra) and Graphviz's `dot` on the PATH. The numbers
on the arrows are the notebooks' numbers. Keep the picture at most twice as wide as it is high,
so that its text stays legible at GitHub's README width (about 830 px).
"""

from pathlib import Path

from diagrams import Cluster, Diagram, Edge
from diagrams.aws.compute import EC2ContainerRegistry
from diagrams.aws.devtools import Codebuild
from diagrams.aws.management import CloudwatchLogs
from diagrams.aws.ml import Sagemaker, SagemakerNotebook, SagemakerTrainingJob
from diagrams.aws.security import SecretsManager
from diagrams.aws.storage import SimpleStorageServiceS3Bucket
from diagrams.saas.analytics import Snowflake

OUTPUT = Path(__file__).resolve().with_suffix("")  # diagrams appends ".png"

GRAPH = {
    "pad": "0.3",
    "nodesep": "0.5",
    "ranksep": "1.0",
    "splines": "spline",
    "fontsize": "22",
    "dpi": "72",  # 1 pt = 1 px: 19 pt labels stay about 12 px high at 830 px wide
    "newrank": "true",  # rank the nodes of both clusters as one graph
}
NODE = {"fontsize": "19", "width": "1.3", "height": "1.3"}
EDGE = {"fontsize": "19", "fontcolor": "#1f2328", "penwidth": "2"}
# One colour per notebook, so that each step's arrows read as one path.
STEP = {
    "01": "#8c4fff",
    "02": "#dd344c",
    "03": "#1a7fa3",
    "04": "#e07b00",
    "05": "#2e8540",
}


def step(number: str, label: str = "", **attrs) -> Edge:
    text = f"{number} {label}".strip()
    return Edge(label=text, color=STEP[number], **EDGE, **attrs)


def main() -> None:
    with Diagram(
        "",
        filename=str(OUTPUT),
        outformat="png",
        show=False,
        direction="LR",
        graph_attr=GRAPH,
        node_attr=NODE,
    ):
        with Cluster("AWS account", graph_attr={"fontsize": "20", "bgcolor": "#fff8ee"}):
            space = SagemakerNotebook("You: notebooks\n00-07 in Studio")
            domain = Sagemaker("Studio domain")
            codebuild = Codebuild("CodeBuild")
            ecr = EC2ContainerRegistry("ECR: images")
            secret = SecretsManager("Secrets Manager:\nSnowflake key")
            training = SagemakerTrainingJob("Training job\n(train)")
            processing = SagemakerTrainingJob("Processing job\n(score)")
            model = SimpleStorageServiceS3Bucket("S3: model.tar.gz")
            logs = CloudwatchLogs("CloudWatch Logs")
        with Cluster("Snowflake account", graph_attr={"fontsize": "20", "bgcolor": "#eef9fd"}):
            tables = Snowflake("HOL_DB.PUBLIC\ntables")

        # constraint=false: the arrow does not push its head one column further right.
        space >> step("01", "attach kernel image,\nswitch the space to it") >> domain
        space >> step("01", "build (04 too)") >> codebuild
        codebuild >> step("01", "push") >> ecr
        space >> step("02", "store key pair") >> secret
        space >> step("04", "ModelTrainer (06 too)") >> training
        ecr >> step("04", "pull", style="dashed", constraint="false") >> training
        secret >> step("04", "read", style="dashed") >> training
        training >> step("04", "model") >> model
        training >> step("04", "logs") >> logs
        space >> step("05", "start (06 too)") >> processing
        ecr >> step("05", "pull", style="dashed", constraint="false") >> processing
        secret >> step("05", "read", style="dashed") >> processing
        # The scoring job sits in the bucket's column, below it: the model goes straight down.
        training >> Edge(style="invis") >> processing
        model >> step("05", "model", style="dashed", constraint="false") >> processing
        space >> step("03", "load and join") >> tables
        tables >> step("04", "read in batches") >> training
        tables >> step("05", "readings in,\npredictions out", reverse=True) >> processing


if __name__ == "__main__":
    main()
