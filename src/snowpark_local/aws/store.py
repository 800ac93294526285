"""Small accessors to moto's in-process state (logs, S3), for the job runtimes and the builder."""

from __future__ import annotations

import threading

from moto.core.utils import unix_time_millis, utcnow
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends

_logs_lock = threading.Lock()


def put_log_lines(account: str, region: str, group: str, stream: str, lines: list[str]) -> None:
    """Append lines to a CloudWatch Logs stream, creating group and stream on first use."""
    if not lines:
        return
    backend = logs_backends[account][region]
    with _logs_lock:  # moto's put_log_events is not thread-safe, and events must stay ordered
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        now = int(unix_time_millis(utcnow()))
        events = [{"timestamp": now, "message": line} for line in lines]
        backend.put_log_events(group, stream, events)


def read_s3_object(account: str, bucket: str, key: str) -> bytes | None:
    try:
        found = s3_backends[account]["global"].get_object(bucket, key)
    except Exception:  # moto raises MissingBucket / MissingKey
        return None
    return None if found is None else found.value


def write_s3_object(account: str, bucket: str, key: str, body: bytes) -> None:
    s3_backends[account]["global"].put_object(bucket, key, body)


def list_s3_keys(account: str, bucket: str, prefix: str) -> list[str]:
    backend = s3_backends[account]["global"]
    try:
        keys = backend.get_bucket(bucket).keys
    except Exception:
        return []
    return sorted(k for k in keys.keys() if k.startswith(prefix))
