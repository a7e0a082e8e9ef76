"""The `kerastune-lab` command line: parse, build a config, call, echo."""

import pathlib

import click

from kerastune_lab.cli.finetune import finetune
from kerastune_lab.cli.improve import improve
from kerastune_lab.cli.options import (
    RUNS_DIR,
    echo_run_result,
    executor_options,
    finish,
    keras_verbose,
    make_executor,
    runs_dir_option,
    seeds_option,
    set_option,
    user_errors,
)
from kerastune_lab.cli.predict import predict
from kerastune_lab.errors import UserError
from kerastune_lab.load_backend_quietly import load_backend_quietly
from kerastune_lab.run_directory import RunDirectory


# Commands parse their arguments and check their inputs before they load
# the backend (seconds): a typo is answered at once.
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kerastune-lab")
def cli():
    """Run, compare and diagnose Keras hyperparameter experiments."""


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
        from kerastune_lab.config.check_inputs import check_inputs

        experiment = load_experiment(config, overrides)
        check_inputs([experiment])
    load_backend_quietly()
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
@seeds_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (cells x seeds = runs, how many are done, an "
    "estimated time) and exit: nothing is trained or written.",
)
@runs_dir_option
@executor_options
@user_errors
def compare(config, overrides, seeds, dry_run, runs_dir, **engine):
    """Run every cell of CONFIG's [grid] x --seeds and compare them.

    Without CONFIG: the SD study (`kerastune-lab examples sd_study`):
    schedules constant/linear/cosine x lr_adapt.mode none/sd/sd2 on the
    embedded corpus. Re-running the same command skips finished runs and
    resumes interrupted ones. The last line of output is the comparison
    directory (summary.csv, comparisons.csv, report.md, report.html,
    plots, runs/).
    """
    from kerastune_lab.comparison.run_comparison import Study, default_study
    from kerastune_lab.config import load_experiment

    experiment = load_experiment(config or default_study(), overrides)
    study = Study.planned(
        experiment, seeds or experiment.analysis.seeds or 3, runs_dir
    )
    if dry_run:
        from kerastune_lab.comparison.study_estimate import estimate_lines

        for line in estimate_lines(study, engine, click.echo):
            click.echo(line)
        return
    executor = make_executor(study.out, **engine)
    study.make_folder()
    _train_and_compare(study, executor)


def _train_and_compare(study, executor):
    """Trains the study, writes its files, echoes its real differences
    and ends with the comparison directory."""
    from kerastune_lab.comparison.aggregate import aggregate
    from kerastune_lab.comparison.run_comparison import run_study
    from kerastune_lab.engine.study_progress import StudyProgress
    from kerastune_lab.statistics.paired_tests import closing_line

    progress = StudyProgress.for_terminal(study.run_count(), click.echo)
    try:
        with executor:
            result = run_study(study, executor, progress)
    finally:
        progress.close()
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
@seeds_option
@user_errors
def check(config, overrides, seeds):
    """Validate CONFIG (with --set overrides) without training.

    Runs the checks `run` and `compare` run before they train: every key
    and value, the data (the CSV's columns and classes, the image
    folder's classes, ...), and for a study every cell of its [grid].
    Prints the resolved configuration as TOML (every key, defaults
    included) and, for a study, its number of runs; exits 2 with the
    reason if anything is invalid.
    """
    import tomli_w

    from kerastune_lab.config import load_experiment
    from kerastune_lab.config.check_inputs import check_inputs

    experiment = load_experiment(config, overrides)
    study = None
    if experiment.grid:
        from kerastune_lab.comparison.run_comparison import Study

        seeds = seeds or experiment.analysis.seeds or 3
        study = Study.planned(experiment, seeds, ".")
    else:
        check_inputs([experiment])
    click.echo(tomli_w.dumps(experiment.to_dict()))
    if study is not None:
        click.echo(f"# compare: {study.count_sentence()}")


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
    from kerastune_lab.config.check_inputs import check_inputs

    experiment = load_experiment(config, overrides)
    check_inputs([experiment])
    load_backend_quietly()
    from kerastune_lab.training.find_learning_rate import find_learning_rate

    result, folder = find_learning_rate(
        experiment,
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
    that differ, the runs' metrics side by side, and how loss and accuracy
    correlate (Pearson, Spearman, 95% CIs). The last line of output is
    report.html.
    """
    from kerastune_lab.reports.run_report import find_runs, write_run_report
    from kerastune_lab.run_directory import create_run_dir

    runs = find_runs(paths)
    out = out or create_run_dir(runs_dir, "report")
    markdown, page = write_run_report(runs, out)
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


@cli.command()
@click.argument(
    "folder",
    type=click.Path(file_okay=False),
    default=RUNS_DIR,
    required=False,
)
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="Write every run as a CSV row instead (all figures and "
    "configuration keys, as kerastune_lab.load_runs returns them).",
)
@user_errors
def runs(folder, as_csv):
    """List the runs in FOLDER [default: runs], one line each.

    Runs of studies and improve rounds are included. Each line: status,
    verdict, model family, test loss and accuracy (or perplexity),
    epochs, seconds, the run's folder, and the configuration keys where
    the run differs from most of the runs listed.
    """
    from kerastune_lab.analysis.run_listing import run_listing
    from kerastune_lab.run_table import load_runs

    frame = load_runs(folder)
    if as_csv:
        click.echo(frame.to_csv(index=False), nl=False)
        return
    lines = run_listing(frame, folder)
    for line in lines or [f"No runs in {folder}."]:
        click.echo(line)


@cli.command()
@click.argument("name", required=False)
@user_errors
def examples(name):
    """List the example experiment files, or copy NAME into this folder.

    Without NAME: one line per example, its name and what it is. With NAME
    (e.g. fortunes_gru): copies NAME.toml into the current folder (never
    over a file that exists) and prints its path as the last line; then
    `kerastune-lab check`, `run` or `compare` it.
    """
    from kerastune_lab.example_files import (
        copy_example,
        example_files,
        summary,
    )

    if name:
        click.echo(str(copy_example(name)))
        return
    files = example_files()
    width = max(map(len, files))
    for stem, path in files.items():
        click.echo(f"{stem:<{width}}  {summary(path)}")


cli.add_command(finetune)
cli.add_command(improve)
cli.add_command(predict)


def main():
    cli(prog_name="kerastune-lab")
