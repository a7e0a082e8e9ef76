"""The progress of a study: one line per finished run, and a running
count with the time left.

In a terminal the count is one line at the bottom, redrawn as runs end;
in a file or pipe (a log) it is a plain line after each run.
"""

import math
import sys
import time

from kerastune_lab.duration import duration
from kerastune_lab.engine.planned_run import (
    BUSY,
    COMPLETE,
    FAILED,
    SKIPPED,
)
from kerastune_lab.run_directory import RunDirectory


class StudyProgress:
    """Counts finished runs and estimates the time left.

    The estimate divides the time spent so far by the runs trained so far
    (runs that were already complete cost nothing and are left out), so
    it accounts for runs trained side by side.

    Args:
        total: Runs the study will consider (skipped ones included).
        echo: Prints one line (e.g. `click.echo`).
        stream: Where the live line goes in a terminal; None: no live line,
            plain progress lines through `echo` (a log file).
        clock: Seconds since some fixed point (tests pass a fake one).

    Example:

    >>> lines = []
    >>> progress = StudyProgress(4, echo=lines.append, clock=lambda: 0.0)
    >>> progress.line()
    '0/4 runs done, 0 s elapsed, 0 failed'
    """

    def __init__(self, total, echo=print, stream=None, clock=time.monotonic):
        self.total = total
        self.echo = echo
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.trained = 0
        self.failed = 0
        self._live = False

    @classmethod
    def for_terminal(cls, total, echo):
        """A live line when stdout is a terminal, plain lines otherwise."""
        return cls(total, echo, sys.stdout if sys.stdout.isatty() else None)

    def add(self, runs):
        """More runs joined the study (a second stage)."""
        self.total += runs

    def line(self):
        elapsed = self.clock() - self.start
        text = (
            f"{self.done}/{self.total} runs done, {duration(elapsed)} elapsed"
        )
        left = self.total - self.done
        if self.trained and left:
            text += f", about {duration(elapsed / self.trained * left)} left"
        return text + f", {self.failed} failed"

    def __call__(self, outcome):
        """Records a finished `RunOutcome` and prints its line."""
        self.done += 1
        self.trained += outcome.trained
        self.failed += outcome.state == FAILED
        self._clear()
        self.echo(
            f"[{self.done}/{self.total}] {outcome.planned.label}: "
            + outcome_text(outcome)
        )
        if self.stream is None:
            self.echo("progress: " + self.line())
        else:
            self.stream.write(self.line())
            self.stream.flush()
            self._live = True

    def _clear(self):
        if self._live:
            self.stream.write("\r\033[K")
            self._live = False

    def close(self):
        """Ends the live line (the next output starts on a clean line)."""
        self._clear()


def outcome_text(outcome):
    """'test_loss 4.8123, good_fit, 25 s, worker 1.2 GiB' or why not."""
    if outcome.state == SKIPPED:
        return "complete, skipped"
    if outcome.state == BUSY:
        return "running in another process, skipped"
    if outcome.state == FAILED:
        return f"FAILED ({outcome.message}); log: {outcome.planned.log}"
    assert outcome.state == COMPLETE
    run = RunDirectory(outcome.planned.run_dir)
    metrics = run.read_metrics()
    diagnosis = run.read_diagnosis()
    verdict = ", ".join([diagnosis["verdict"], *diagnosis.get("flags", [])])
    text = f"test_loss {metrics['test_loss']:.4f}, {verdict}"
    if not math.isnan(outcome.seconds):
        text += f", {duration(outcome.seconds)}"
    if not math.isnan(outcome.memory_mib):
        text += f", worker {outcome.memory_mib / 1024:.2f} GiB"
    return text
