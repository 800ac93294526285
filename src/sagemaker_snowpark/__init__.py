"""Amazon SageMaker training jobs that read their data from Snowflake with Snowpark.

The package the tutorial's notebooks import, and the helpers of the training image's programs
(training_container/train and score).
"""

__version__ = "0.1.0"


def _set_up_notebook() -> None:
    """In a notebook, show a TutorialError as its one line, without a traceback to scroll, and
    read the learner's tutorial.env."""
    try:
        from IPython import get_ipython
    except ImportError:  # the training image has no IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    from .errors import TutorialError

    def show(shell, kind, error, traceback, tb_offset=None):
        brief = [f"\x1b[31m{kind.__name__}\x1b[0m: {error}"]
        shell._showtraceback(kind, error, brief)  # the kernel's error output, one line long
        return brief

    shell.set_custom_exc((TutorialError,), show)
    # A notebook's settings: the kernel's environment, then tutorial.env (see settings.py). The
    # training program and scripts read only their environment.
    from .settings import load_env_file

    load_env_file()


_set_up_notebook()
