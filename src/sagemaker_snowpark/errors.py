"""The one error type the tutorial raises for anything a learner can fix, and how its messages
quote what the learner gave."""

# How much of a learner's value a message quotes, and how long a job's one-line reason may be
# (SageMaker keeps the first 1 KB of FailureReason and ExitMessage).
QUOTED_CHARACTERS = 60
REASON_BYTES = 1024


class TutorialError(Exception):
    """A one-line message that says what is wrong and how to fix it.

    Raised instead of letting a traceback from deep inside a library reach the learner. The message
    never contains key, token or password material.
    """

    def __init__(self, message: str):
        # One line, always: multi-line messages get folded so logs and FailureReason stay readable.
        super().__init__(" ".join(str(message).split()))


def cut(value, limit: int = QUOTED_CHARACTERS) -> str:
    """A learner's value as a message quotes it: whole when short, else its first `limit`
    characters and "…". Messages cut the values they quote, so the fix after them stays."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def fit(message: str, limit: int = REASON_BYTES) -> str:
    """A reason within `limit` bytes of UTF-8 that keeps its end, where the fix is: a message too
    long (a value no one thought to cut) loses its middle, not the fix."""
    if len(message.encode()) <= limit:
        return message
    gap = " … "
    head = message[: limit // 3]
    while len(head.encode()) > limit // 3:
        head = head[:-1]
    room = limit - len(head.encode()) - len(gap.encode())
    tail = message[-room:]
    while len(tail.encode()) > room:
        tail = tail[1:]
    return head + gap + tail
