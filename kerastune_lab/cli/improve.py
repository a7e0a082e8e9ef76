"""`kerastune-lab improve`: parse, plan, call, echo."""

import time

import click

from kerastune_lab.cli.options import (
    executor_options,
    finish,
    make_executor,
    runs_dir_option,
    set_option,
    user_errors,
)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@set_option
@click.option(
    "--seeds",
    type=click.IntRange(min=3),
    default=5,
    show_default=True,
    help="Seeds every configuration is trained with (train.seed, +1, "
    "...); a paired test needs at least 3, and 5 find effects about half "
    "as large as 3 do.",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="At most this many rounds of candidates.",
)
@click.option(
    "--candidates",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Advised changes tried per round (the first that validate).",
)
@click.option(
    "--objective",
    default="val_loss",
    show_default=True,
    help="The validation figure decisions are made on: val_loss, "
    "val_accuracy or any val_<metric> the runs log (history.csv); the "
    "confirmation reads its test-split counterpart (test_<metric>).",
)
@click.option(
    "--direction",
    type=click.Choice(["min", "max"]),
    default=None,
    help="Whether lower or higher --objective is better; default: from "
    "its name (loss, error, perplexity: min; accuracy, auc, precision, "
    "recall, f1: max).",
)
@click.option(
    "--confirm-seeds",
    type=click.IntRange(min=0),
    callback=lambda ctx, param, value: _paired(value),
    default=5,
    show_default=True,
    help="Fresh seeds (after the rounds' own) on which the original and "
    "the final configuration are trained and compared once on the test "
    "split; 0 skips it, and the gain stays unconfirmed.",
)
@click.option(
    "--stop-hopeless/--no-stop-hopeless",
    default=True,
    show_default=True,
    help="Stop a candidate after its first 3 seeds when it is worse than "
    "the incumbent on each by more than the round can detect (its other "
    "seeds are not trained; it can only lower the adoptions).",
)
@runs_dir_option
@executor_options
@user_errors
def improve(config, overrides, runs_dir, **options):
    """Diagnose CONFIG, try the advised changes over seeds, adopt the best
    shown improvement, repeat, and confirm the result on fresh seeds.

    Round 0 trains CONFIG with --seeds seeds; each round trains the first
    --candidates advised changes of the incumbent (and the next step
    along a knob it just adopted), paired by seed, tests whether each
    improves --objective (one-sided, Holm over the round) and adopts the
    best shown improvement. It stops at a good fit, when no improvement
    is shown, or after --rounds rounds. Then the original and the final
    configuration train on --confirm-seeds fresh seeds and are compared
    once on the test split: the headline. Re-running the same command
    trains nothing twice. The last line of output is the improve
    directory (improved.toml, rounds.csv, confirmation.csv, report.md,
    report.html, rounds/, confirm/).
    """
    from kerastune_lab.duration import duration
    from kerastune_lab.improvement.objective import Objective
    from kerastune_lab.reports.confirmation_words import (
        confirmation_summary,
    )

    start = time.monotonic()
    objective = Objective.create(
        options.pop("objective"), options.pop("direction") or ""
    )
    result = _improve(config, overrides, runs_dir, objective, options)
    adopted = [change.label for _, change, _ in result.adopted]
    saved = result.seconds_saved
    click.echo(
        f"{confirmation_summary(result)}; adopted: "
        + (", ".join(f"--set {label}" for label in adopted) or "nothing")
        + f"; stopped: {result.stop_sentence()}; "
        + (f"early stops saved about {duration(saved)}; " if saved else "")
        + f"{result.trained} run(s) trained, "
        f"{duration(time.monotonic() - start)} in all"
    )
    finish(result.improvement.out, result.failures, failed="did not finish")


def _improve(config, overrides, runs_dir, objective, options):
    """Loads, plans and runs the improvement, and writes its files."""
    from kerastune_lab.config import load_experiment
    from kerastune_lab.engine.study_progress import StudyProgress
    from kerastune_lab.improvement.run_improvement import (
        Improvement,
        run_improvement,
    )
    from kerastune_lab.improvement.write_improvement import write_improvement

    experiment = load_experiment(config, overrides)
    improvement = Improvement.planned(
        experiment,
        options.pop("seeds"),
        options.pop("rounds"),
        options.pop("candidates"),
        runs_dir,
        overrides=overrides,
        objective=objective,
        confirm_seeds=options.pop("confirm_seeds"),
        stop_hopeless=options.pop("stop_hopeless"),
    )
    executor = make_executor(improvement.out, **options)
    improvement.make_folder()
    with executor:
        result = run_improvement(
            improvement,
            executor,
            lambda total: StudyProgress.for_terminal(total, click.echo),
            click.echo,
        )
    write_improvement(result)
    return result


def _paired(confirm_seeds):
    """--confirm-seeds: 0 (skip), or enough seeds for a paired test."""
    from kerastune_lab.statistics.paired_tests import MIN_SEEDS

    if 0 < confirm_seeds < MIN_SEEDS:
        raise click.BadParameter(
            f"{confirm_seeds}: a paired test needs at least {MIN_SEEDS} "
            f"fresh seeds; pass {MIN_SEEDS} or more, or 0 to skip the "
            "confirmation.",
            param_hint="--confirm-seeds",
        )
    return confirm_seeds
