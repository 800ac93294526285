"""The one error type the tutorial raises for anything a learner can fix."""


class TutorialError(Exception):
    """A one-line message that says what is wrong and how to fix it.

    Raised instead of letting a traceback from deep inside a library reach the learner. The message
    never contains key, token or password material.
    """

    def __init__(self, message: str):
        # One line, always: multi-line messages get folded so logs and FailureReason stay readable.
        super().__init__(" ".join(str(message).split()))
