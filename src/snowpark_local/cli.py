"""`snowpark-local`: start, stop and inspect the local stack, or run a command inside it.

snowpark-local up | down | status | env | reset
snowpark-local exec -- COMMAND ...   run COMMAND with the stack's environment
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from sagemaker_snowpark.errors import TutorialError

from . import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snowpark-local", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state folder (default: $SNOWPARK_LOCAL_STATE or ./.local)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the stack in the background (idempotent)")
    commands.add_parser("down", help="stop the stack")
    commands.add_parser("status", help="say what runs where")
    commands.add_parser("env", help="print the environment a client process needs")
    commands.add_parser("reset", help="stop the stack and delete its state folder")
    commands.add_parser("serve", help="run the stack in the foreground (what `up` starts)")
    run = commands.add_parser("exec", help="run a command with the stack's environment")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    state_dir = (args.state or stack.default_state_dir()).resolve()

    try:
        if args.command == "up":
            stack.up(state_dir)
            print(stack.status(state_dir))
        elif args.command == "down":
            print(stack.down(state_dir))
        elif args.command == "status":
            message = stack.status(state_dir)
            print(message)
            return 0 if message.startswith("The local stack runs") else 1
        elif args.command == "env":
            for key, value in stack.client_environment(state_dir).items():
                print(f"export {key}={value}")
        elif args.command == "reset":
            print(stack.down(state_dir))
            shutil.rmtree(state_dir, ignore_errors=True)
            print(f"Removed {state_dir}.")
        elif args.command == "serve":
            stack.serve(state_dir)
        elif args.command == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                parser.error("exec needs a command, e.g. snowpark-local exec -- jupyter lab")
            stack.apply_environment(stack.client_environment(state_dir))
            os.execvp(cmd[0], cmd)
    except TutorialError as error:
        print(f"snowpark-local: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
