"""The `kerastune-lab` command line: parse, build a config, call, echo."""

import functools
import os
import pathlib

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kerastune-lab")
def cli():
    """Run, compare and diagnose Keras hyperparameter experiments."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@set_option
@runs_dir_option
@click.option("--verbose", type=click.Choice(["auto", "0", "1", "2"]),
              default="auto", show_default=True,
              help="Keras progress display: 1 progress bar, 2 a line per "
                   "epoch, 0 silent.")
@user_errors
def run(config, overrides, runs_dir, verbose):
    """Train one experiment (CONFIG: a TOML file; defaults if omitted).

    The last line of output is the run directory.
    """
    from kerastune_lab.config import load_experiment

    experiment = load_experiment(config, overrides)
    from kerastune_lab.training.run_experiment import run_experiment

    result = run_experiment(
        experiment, runs_dir, verbose=verbose if verbose == "auto"
        else int(verbose), echo=click.echo,
    )
    m = result.metrics
    click.echo(
        f"test_accuracy {m['test_accuracy']:.4f} (majority class "
        f"{m['majority_class_accuracy']:.4f}), test_loss {m['test_loss']:.4f}"
        f", best epoch {m['best_epoch']}, {m['epochs_run']} epochs, "
        f"{m['wall_seconds']:.1f} s"
    )
    click.echo(f"diagnosis: {result.diagnosis.verdict}")
    click.echo(str(result.run_dir))


@cli.command()
@click.argument("path", type=click.Path())
@user_errors
def diagnose(path):
    """Diagnose a run directory or a history.csv.

    The first line is the verdict: good_fit, overfitting, underfitting,
    unstable or diverged; then the reasons and advice.
    """
    from kerastune_lab.analysis.run_files import read_run_history

    history, config = read_run_history(pathlib.Path(path))
    from kerastune_lab.analysis.diagnose_history import diagnose_history

    click.echo(diagnose_history(history, config).to_text())


def main():
    cli(prog_name="kerastune-lab")
