"""Options and helpers shared by the command-line entry points."""

import contextlib
import functools
import os
import sys

import click

from kerastune_lab.errors import UserError

RUNS_DIR = "runs"


def user_errors(command):
    """Turns UserError into click's exit-2 usage error, without traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise click.UsageError(str(error)) from None

    return wrapper


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one key of the experiment file (value parsed as TOML). "
    "Repeatable.",
)
runs_dir_option = click.option(
    "--runs-dir",
    type=click.Path(file_okay=False),
    default=RUNS_DIR,
    show_default=True,
    help="Folder that receives the run directories.",
)


def echo_run_result(result):
    """Scores, verdict, and the run directory as the last line."""
    m = result.metrics
    scores = ", ".join(
        f"{k} {v:.4g}"
        for k, v in m.items()
        if k.startswith("test_") or k.endswith("_accuracy")
    )
    click.echo(
        f"{scores}; best epoch {m['best_epoch']}, {m['epochs_run']} "
        f"epochs, {m['wall_seconds']:.1f} s"
    )
    click.echo(f"diagnosis: {result.diagnosis.headline}")
    click.echo(str(result.run_dir))


def keras_verbose(verbose):
    """Keras's progress display: "auto" is a progress bar in a terminal
    and one line per epoch in a file or pipe (a bar there is a stream of
    carriage returns)."""
    if verbose != "auto":
        return int(verbose)
    return 1 if sys.stdout.isatty() else 2


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends file descriptor 2 to /dev/null for the duration.

    TensorFlow's C++ start-up lines (oneDNN, cudart_stub, cpu_feature_guard,
    "All log messages before absl::InitializeLog()") are written to fd 2
    while TensorFlow loads, before TF_CPP_MIN_LOG_LEVEL takes effect; no
    Python-level setting reaches them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_backend_quietly():
    """Imports Keras and its backend (and keras-hub's TensorFlow text ops)
    without the native start-up noise; errors still surface afterwards."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        try:
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow  # noqa: F401
            import keras_hub  # noqa: F401
        except ImportError:
            pass  # the command's own import reports it, with a traceback
