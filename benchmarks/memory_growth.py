"""Does a worker's memory grow over many runs?

Trains a study of `--runs` small GRU runs (one cell per model width, one
seed each) in ONE long-lived worker of the local engine (`LocalPool`,
jobs 1, never recycled) and records the worker's resident memory after
every run. Flat means: after the last run it uses what it used after the
first (issue 18: within 10%).

    python benchmarks/memory_growth.py [--runs 30]
"""

import argparse
import pathlib
import statistics
import tempfile

from kerastune_lab.comparison.run_comparison import Study
from kerastune_lab.config import load_experiment
from kerastune_lab.engine.local_pool import LocalPool

STUDY = """
[data]
name = "synthetic"
num_samples = 300
sequence_length = 16

[model]
name = "gru"
embedding_dim = 8
recurrent_dropout_rate = 0.0

[train]
epochs = 2
batch_size = 32
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="memory_growth_"))
    study_file = folder / "study.toml"
    units = list(range(4, 4 + args.runs))
    study_file.write_text(STUDY + f'\n[grid]\n"model.gru_units" = {units}\n')
    study = Study.create(load_experiment(study_file), 1, folder / "runs")
    memory = []

    def record(outcome):
        memory.append(outcome.memory_mib)
        print(
            f"run {len(memory)}: {outcome.state}, worker "
            f"{outcome.memory_mib:.0f} MiB, {outcome.seconds:.1f} s",
            flush=True,
        )

    with LocalPool(
        jobs=1, max_runs_per_worker=10**9, memory_growth_mib=10**9
    ) as pool:
        pool.run(study.first_stage(), on_outcome=record)
    assert pool.workers_started == 1
    third = max(1, len(memory) // 3)
    print(
        f"worker RSS after run 1: {memory[0]:.0f} MiB, after run "
        f"{len(memory)}: {memory[-1]:.0f} MiB "
        f"({(memory[-1] / memory[0] - 1) * 100:+.1f}%); median of the first "
        f"third {statistics.median(memory[:third]):.0f} MiB, of the last "
        f"third {statistics.median(memory[-third:]):.0f} MiB"
    )


if __name__ == "__main__":
    main()
