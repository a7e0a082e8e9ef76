"""Shared timing helpers of the benchmarks: per-epoch timer, interleaving."""

import statistics
import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (training and validation) and its steps."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def interleaved(variants, repeats, skip_first=1):
    """Runs variants round-robin `repeats` times; median epoch time of each.

    Args:
        variants: {name: callable(EpochTimer) -> None} that trains once.
        repeats: Rounds; each round runs every variant once, in order.
        skip_first: Epochs dropped from each run (compilation, warm-up).

    Returns:
        {name: median seconds per epoch over all kept epochs of all rounds}
        and {name: list of per-round medians}.
    """
    rounds = {name: [] for name in variants}
    for r in range(repeats):
        # Alternate the order so no variant always runs first or last.
        names = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in names:
            timer = EpochTimer()
            variants[name](timer)
            kept = timer.seconds[skip_first:]
            rounds[name].append(statistics.median(kept))
            print(
                f"  round {r + 1} {name}: {rounds[name][-1]:.4f} s/epoch",
                flush=True,
            )
    return {n: statistics.median(v) for n, v in rounds.items()}, rounds


def interleaved_epochs(trainers, rounds, warmup=1):
    """One epoch of each persistent model per round, round-robin.

    Finer interleaving than `interleaved`: every model is built and compiled
    once, so slow drifts of a shared machine hit all variants alike.

    Args:
        trainers: {name: callable(EpochTimer) -> None} that trains its own,
            already built model for exactly one more epoch.
        rounds: Timed rounds (the order alternates from round to round).
        warmup: Untimed epochs of each model first (compilation).

    Returns:
        ({name: median seconds per epoch}, {name: [seconds per round]}).
    """
    for train in trainers.values():
        for _ in range(warmup):
            train(EpochTimer())
    times = {name: [] for name in trainers}
    for r in range(rounds):
        names = list(trainers) if r % 2 == 0 else list(reversed(trainers))
        for name in names:
            timer = EpochTimer()
            trainers[name](timer)
            times[name].extend(timer.seconds)
        print(
            f"  round {r + 1}: "
            + ", ".join(f"{n} {times[n][-1]:.4f} s" for n in trainers),
            flush=True,
        )
    return {n: statistics.median(v) for n, v in times.items()}, times
