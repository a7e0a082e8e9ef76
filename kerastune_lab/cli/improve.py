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
    default=3,
    show_default=True,
    help="Seeds every configuration is trained with (train.seed, +1, "
    "...); a paired test needs at least 3.",
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
@runs_dir_option
@executor_options
@user_errors
def improve(config, overrides, seeds, rounds, candidates, runs_dir, **engine):
    """Diagnose CONFIG, try the advised changes over seeds, adopt the best
    real one, and repeat.

    Round 0 trains CONFIG with --seeds seeds; each round trains the first
    --candidates advised changes of the incumbent, paired by seed, tests
    their validation loss (Holm over the round) and adopts the best real
    improvement. It stops at a good fit, when no improvement is real, or
    after --rounds rounds. Re-running the same command trains nothing
    twice. The last line of output is the improve directory
    (improved.toml, rounds.csv, report.md, report.html, rounds/).
    """
    from kerastune_lab.comparison.study_progress import (
        StudyProgress,
        duration,
    )
    from kerastune_lab.config import load_experiment
    from kerastune_lab.improvement.run_improvement import (
        Improvement,
        run_improvement,
        stop_sentence,
    )
    from kerastune_lab.improvement.write_improvement import write_improvement

    experiment = load_experiment(config, overrides)
    improvement = Improvement.create(
        experiment, seeds, rounds, candidates, runs_dir, overrides
    )
    executor = make_executor(improvement.out, **engine)
    start = time.monotonic()
    with executor:
        result = run_improvement(
            improvement,
            executor,
            lambda total: StudyProgress.for_terminal(total, click.echo),
            click.echo,
        )
    write_improvement(result)
    adopted = [change.label for _, change, _ in result.adopted]
    click.echo(
        f"stopped: {stop_sentence(result)}; adopted: "
        + (", ".join(f"--set {label}" for label in adopted) or "nothing")
        + f"; {result.trained} run(s) trained, "
        f"{duration(time.monotonic() - start)} in all"
    )
    finish(improvement.out, result.failures, failed="did not finish")
