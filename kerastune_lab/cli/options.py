"""Options and helpers shared by the command-line entry points."""

import functools

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
    "--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
    help="Override one key of the experiment file (value parsed as TOML). "
         "Repeatable.",
)
runs_dir_option = click.option(
    "--runs-dir", type=click.Path(file_okay=False), default=RUNS_DIR,
    show_default=True, help="Folder that receives the run directories.",
)


def echo_run_result(result):
    """Scores, verdict, and the run directory as the last line."""
    m = result.metrics
    scores = ", ".join(f"{k} {v:.4g}" for k, v in m.items()
                       if k.startswith("test_") or k.endswith("_accuracy"))
    click.echo(f"{scores}; best epoch {m['best_epoch']}, {m['epochs_run']} "
               f"epochs, {m['wall_seconds']:.1f} s")
    click.echo(f"diagnosis: {result.diagnosis.verdict}")
    click.echo(str(result.run_dir))
