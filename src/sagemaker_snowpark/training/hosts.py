"""Multi-host training: one XGBoost model trained by all the job's hosts together.

Each host reads its own shard of the table; XGBoost's collective communication joins them, with
its tracker on the first host (algo-1). SageMaker's host names may not resolve at once while a
multi-instance cluster boots, so the hosts wait for algo-1's name, backing off.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from contextlib import contextmanager

from ..errors import TutorialError
from .contract import Hosts, print_line

# How long the hosts of a multi-instance job wait for algo-1's name to resolve.
HOST_WAIT_SECONDS = 300


def log(message: str) -> None:
    """One line of the job's log, as the training program writes it (see print_line)."""
    print_line(f"[train] {message}")


def resolve_host(name: str, wait_seconds: float) -> str:
    """The address of a host of the job, waiting while the cluster's DNS does not know it yet.

    SageMaker's host names (algo-1, ...) may not resolve for a while as a multi-instance cluster
    boots; SageMaker's own containers retry too. Waits up to `wait_seconds`, backing off.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            return socket.gethostbyname(name)
        except OSError as error:
            remaining = deadline - time.monotonic()
            reason = getattr(error, "strerror", None) or str(error)
            if remaining <= 0:
                raise TutorialError(
                    f"Host name {name} did not resolve within {wait_seconds:g} s ({reason}): "
                    "the job's instances cannot find each other; start the job again."
                ) from None
            log(f"waiting for host name {name} to resolve ({reason})")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 30)


@contextmanager
def collective(hosts: Hosts, port: int):
    """XGBoost's communicator across hosts; the tracker runs on the first host."""
    if hosts.count == 1:
        yield None
        return
    import xgboost
    from xgboost.tracker import RabitTracker

    # On SageMaker (and in the local stack's docker mode) the hosts find algo-1 by name. Local
    # processes cannot resolve algo-N, so the stack's process mode names the address instead
    # (TRACKER_HOST); TRACKER_PORT is a free port where all hosts share one machine's network.
    address = os.environ.get("TRACKER_HOST") or resolve_host(hosts.all[0], HOST_WAIT_SECONDS)
    port = int(os.environ.get("TRACKER_PORT", port))
    tracker = None
    if hosts.rank == 0:
        tracker = RabitTracker(n_workers=hosts.count, host_ip=address, port=port, sortby="task")
        tracker.start()
    args = {
        "dmlc_tracker_uri": address,
        "dmlc_tracker_port": port,
        "dmlc_task_id": hosts.current,
        "dmlc_retry": 30,
        "dmlc_timeout": 300,
    }
    try:
        with warnings.catch_warnings():
            # The hosts start in any order: until algo-1's tracker listens, the others retry
            # (and would warn at each attempt).
            warnings.simplefilter("ignore", UserWarning)
            try:
                xgboost.collective.init(**args)
            except xgboost.core.XGBoostError:
                raise TutorialError(
                    f"The XGBoost tracker on {address}:{port} (the first host) did not answer: "
                    "check that the hosts can reach each other on that port."
                ) from None
        # On an error, no finalize: it would wait for the other hosts, and the process ends now.
        yield xgboost.collective
        xgboost.collective.finalize()
        if tracker is not None:
            tracker.wait_for(60)
    finally:
        if tracker is not None:
            try:
                tracker.free()  # now: a failed run then leaves no error at the interpreter's exit
            except xgboost.core.XGBoostError:
                pass


def usable_cpus() -> int:
    """The CPUs this host's program may run on: the instance's on SageMaker, its share of the
    machine's in the local stack (os.cpu_count() counts the machine's, whatever the share)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1
