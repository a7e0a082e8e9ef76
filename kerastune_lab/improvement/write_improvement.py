"""The files of an improve directory: improved.toml, rounds.csv,
confirmation.csv, the round plots, report.md and a self-contained
report.html."""

import csv

import tomli_w

from kerastune_lab.improvement.run_improvement import BASE
from kerastune_lab.reports.confirmation_words import confirmation_sentence
from kerastune_lab.reports.html_page import render_html
from kerastune_lab.reports.improvement_report import (
    experiment_text,
    report_markdown,
)
from kerastune_lab.reports.plot_round import plot_round
from kerastune_lab.run_directory import write_text_atomic

ROUNDS_COLUMNS = (
    "round",
    "change",
    "verdict_before",
    "n",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p",
    "p_adjusted",
    "adopted",
    "objective",
    "verdict",
    "test",
    "detectable_diff",
    "interval",
    "selects_epoch",
)


def write_improvement(result):
    """Writes every file of `result`'s improve directory; returns the
    paths of report.md and report.html."""
    out = result.improvement.out
    write_improved_toml(result, out / "improved.toml")
    write_rounds_csv(result.rounds, out / "rounds.csv")
    if result.confirmation is not None:
        result.confirmation.write_csv(out / "confirmation.csv")
    markdown = report_markdown(result, _plots(result))
    write_text_atomic(out / "report.md", markdown)
    page = render_html(f"Improve {out.name}", markdown, out)
    write_text_atomic(out / "report.html", page)
    return out / "report.md", out / "report.html"


def _plots(result):
    """round-N.png of each round (round-0.png where no round ran);
    returns {round number: file name}."""
    out = result.improvement.out
    images = {}
    if result.original is not None and not result.rounds:
        plot_round(
            {BASE: result.original.runs},
            out / "round-0.png",
            "round 0: the configuration as given",
        )
        images[0] = "round-0.png"
    for round_ in result.rounds:
        name = f"round-{round_.number}.png"
        plot_round(
            {"incumbent": round_.incumbent.runs, **round_.runs},
            out / name,
            f"round {round_.number}: candidates against the incumbent "
            f"({round_.incumbent.headline})",
        )
        images[round_.number] = name
    return images


def write_improved_toml(result, path):
    """The final configuration as an experiment file (`check` and `run`
    accept it), its first lines saying what was adopted and whether the
    fresh seeds confirmed it."""
    adopted = [change.label for _, change, _ in result.adopted]
    header = (
        f"# kerastune-lab improve: {experiment_text(result.improvement)}"
        + (" with " + ", ".join(adopted) if adopted else ", unchanged")
        + "\n"
    )
    if adopted:
        header += f"# {confirmation_sentence(result)}\n"
    text = tomli_w.dumps(result.final_config().to_dict())
    write_text_atomic(path, header + text)


def write_rounds_csv(rounds, path):
    """rounds.csv: one row per candidate per round."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ROUNDS_COLUMNS)
        writer.writeheader()
        for round_ in rounds:
            writer.writerows(round_.rows())
