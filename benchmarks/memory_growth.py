"""Does memory grow over many runs of one `compare`?

Runs a 30-cell grid of small GRU runs through `run_comparison` (each run a
fresh process) and records, after every run, the resident memory of the
comparing process and the peak resident memory of the run's own process.
Flat means: the last runs use what the first ones did.

    python benchmarks/memory_growth.py [--cells 30]
"""

import argparse
import pathlib
import re
import statistics
import tempfile

from kerastune_lab.comparison.run_comparison import run_comparison
from kerastune_lab.config import load_experiment

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


def own_rss_mib():
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=30)
    args = parser.parse_args()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="memory_growth_"))
    study = folder / "study.toml"
    units = list(range(4, 4 + args.cells))
    study.write_text(STUDY + f'\n[grid]\n"model.gru_units" = {units}\n')
    config = load_experiment(study)
    parent, children = [], []

    def echo(line):
        peak = re.search(r"peak (\d+) MiB", line)
        if peak:
            children.append(float(peak[1]))
            parent.append(own_rss_mib())
        print(line, flush=True)

    run_comparison(config, study, [], 1, folder / "runs", echo=echo)
    third = max(1, len(children) // 3)
    for name, values in (
        ("compare process RSS", parent),
        ("run process peak RSS", children),
    ):
        first = statistics.median(values[:third])
        last = statistics.median(values[-third:])
        print(
            f"{name}: first third {first:.0f} MiB, last third {last:.0f} "
            f"MiB, change {last - first:+.0f} MiB "
            f"({(last / first - 1) * 100:+.1f}%)"
        )


if __name__ == "__main__":
    main()
