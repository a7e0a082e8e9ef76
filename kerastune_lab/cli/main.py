"""The `kerastune-lab` command line: parse, build a config, call, echo."""

import pathlib
import sys

import click

from kerastune_lab.cli.finetune import finetune
from kerastune_lab.cli.improve import improve
from kerastune_lab.cli.options import (
    echo_run_result,
    executor_options,
    finish,
    keras_verbose,
    make_executor,
    runs_dir_option,
    set_option,
    user_errors,
)
from kerastune_lab.cli.predict import predict
from kerastune_lab.errors import UserError
from kerastune_lab.load_backend_quietly import load_backend_quietly
from kerastune_lab.run_directory import RunDirectory

# Subcommands that train or predict in this process.
_TRAINING_COMMANDS = ("run", "lr-find", "predict", "finetune")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kerastune-lab")
@click.pass_context
def cli(ctx):
    """Run, compare and diagnose Keras hyperparameter experiments."""
    if (
        ctx.invoked_subcommand in _TRAINING_COMMANDS
        and "--help" not in sys.argv
        and "-h" not in sys.argv
    ):
        load_backend_quietly()


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@set_option
@runs_dir_option
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False),
    help="Write the run to exactly this folder (instead of a new "
    "one under --runs-dir).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Continue an interrupted run from its last finished "
    "epoch (takes no CONFIG or --set).",
)
@click.option(
    "--verbose",
    type=click.Choice(["auto", "0", "1", "2"]),
    default="auto",
    show_default=True,
    help="Keras progress display: 1 progress bar, 2 a line per "
    "epoch, 0 silent.",
)
@user_errors
def run(config, overrides, runs_dir, run_dir, resume_dir, verbose):
    """Train one experiment (CONFIG: a TOML file; defaults if omitted).

    The last line of output is the run directory.
    """
    if resume_dir:
        experiment = _interrupted_run(resume_dir, config, overrides, run_dir)
        if experiment is None:
            click.echo(f"{resume_dir} is already complete.")
            click.echo(str(resume_dir))
            return
        run_dir = resume_dir
    else:
        from kerastune_lab.config import load_experiment

        experiment = load_experiment(config, overrides)
    from kerastune_lab.training.run_experiment import run_experiment

    result = run_experiment(
        experiment,
        runs_dir,
        verbose=keras_verbose(verbose),
        echo=click.echo,
        run_dir=run_dir,
        resume=bool(resume_dir),
    )
    echo_run_result(result)


def _interrupted_run(resume_dir, config, overrides, run_dir):
    """The config of an interrupted run, or None if it already finished."""
    from kerastune_lab.config import load_run_config

    if config or overrides or run_dir:
        raise UserError(
            "--resume takes the run directory alone: the run's "
            "own config.json says what to train."
        )
    run = RunDirectory(resume_dir)
    if not run.is_run():
        raise UserError(
            f"{resume_dir!r} is not a run directory (no config.json). Pass "
            "a folder that `kerastune-lab run` started."
        )
    if run.is_complete():
        return None
    return load_run_config(run.path)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@set_option
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Seeds per cell (train.seed, +1, ...); comparisons need at least "
    "3 [default: the study's analysis.seeds, else 3].",
)
@runs_dir_option
@executor_options
@user_errors
def compare(config, overrides, seeds, runs_dir, **engine):
    """Run every cell of CONFIG's [grid] x --seeds and compare them.

    Without CONFIG: the SD study (experiments/sd_study.toml): schedules
    constant/linear/cosine x lr_adapt.mode none/sd/sd2 on the embedded
    corpus. Re-running the same command skips finished runs and resumes
    interrupted ones. The last line of output is the comparison directory
    (summary.csv, comparisons.csv, report.md, report.html, plots, runs/).
    """
    from kerastune_lab.comparison.run_comparison import (
        Study,
        default_study,
        run_study,
    )
    from kerastune_lab.comparison.study_progress import StudyProgress
    from kerastune_lab.config import load_experiment

    experiment = load_experiment(config or default_study(), overrides)
    seeds = seeds or experiment.analysis.seeds or 3
    study = Study.create(experiment, seeds, runs_dir)
    executor = make_executor(study.out, **engine)
    progress = StudyProgress.for_terminal(
        len(study.first_stage()) + study.control_count(), click.echo
    )
    try:
        with executor:
            result = run_study(study, executor, progress)
    finally:
        progress.close()
    from kerastune_lab.comparison.aggregate import aggregate
    from kerastune_lab.comparison.paired_tests import closing_line

    summary = aggregate(study.out, result.plan_tuples(), result.runs)
    if summary:
        _, comparisons = summary
        for comparison in comparisons:
            if comparison.real:
                click.echo("real: " + comparison.sentence())
        click.echo(closing_line(comparisons))
    finish(study.out, result.failures)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@set_option
@user_errors
def check(config, overrides):
    """Validate CONFIG (with --set overrides) without training.

    Prints the resolved configuration as TOML (every key, defaults
    included); exits 2 with the reason if anything is invalid.
    """
    import tomli_w

    from kerastune_lab.config import load_experiment

    click.echo(tomli_w.dumps(load_experiment(config, overrides).to_dict()))


@cli.command("lr-find")
@click.argument("config", type=click.Path(dir_okay=False), required=False)
@set_option
@runs_dir_option
@click.option(
    "--min-lr",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-7,
    show_default=True,
)
@click.option(
    "--max-lr",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
)
@click.option(
    "--steps",
    type=click.IntRange(min=10),
    default=100,
    show_default=True,
    help="Rates tried, one step each.",
)
@user_errors
def lr_find(config, overrides, runs_dir, min_lr, max_lr, steps):
    """Learning-rate range test for CONFIG's model and data.

    Writes lr_find.png, lr_find.csv and lr_find.json to a new folder (the
    last line of output) and prints the suggested rate and its rule. The
    experiment's own schedule is ignored; the model is not kept.
    """
    if min_lr >= max_lr:
        raise UserError(
            f"--min-lr ({min_lr}) must be below --max-lr ({max_lr})."
        )
    from kerastune_lab.config import load_experiment
    from kerastune_lab.training.find_learning_rate import find_learning_rate

    result, folder = find_learning_rate(
        load_experiment(config, overrides),
        runs_dir,
        min_lr=min_lr,
        max_lr=max_lr,
        steps=steps,
    )
    click.echo(
        f"suggested learning rate: {result.suggestion:.3g} "
        f"(rule: {result.rule}); steepest descent at "
        f"{result.steepest:.3g}"
    )
    click.echo(f"try: --set train.learning_rate={result.suggestion:.3g}")
    click.echo(str(folder))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Report folder (default: a new one under --runs-dir).",
)
@runs_dir_option
@user_errors
def report(paths, out, runs_dir):
    """Markdown + self-contained HTML report for runs or comparisons.

    PATHS are run directories or comparison directories. The report shows
    each run's verdict, advice, metrics and curves, the configuration keys
    that differ, and how loss and accuracy correlate (Pearson, Spearman,
    95% CIs). The last line of output is report.html.
    """
    from kerastune_lab.analysis.run_report import write_run_report
    from kerastune_lab.families.registry import knobs_for
    from kerastune_lab.run_directory import create_run_dir

    out = out or create_run_dir(runs_dir, "report")
    markdown, page = write_run_report(paths, out, knobs_for)
    click.echo(str(markdown))
    click.echo(str(page))


@cli.command()
@click.argument("path", type=click.Path())
@user_errors
def diagnose(path):
    """Diagnose a run directory or a history.csv.

    The first line is the verdict: good_fit, overfitting, underfitting,
    unstable or diverged, with ", still improving" when the loss was still
    falling; then the reasons and advice.
    """
    from kerastune_lab.analysis.run_files import read_run_history

    history, config, known = read_run_history(pathlib.Path(path))
    from kerastune_lab.analysis.diagnose_history import diagnose_history
    from kerastune_lab.families.registry import knobs_for

    diagnosis = diagnose_history(
        history, config, knobs=knobs_for(config), **known
    )
    click.echo(diagnosis.to_text())


cli.add_command(finetune)
cli.add_command(improve)
cli.add_command(predict)


def main():
    cli(prog_name="kerastune-lab")
