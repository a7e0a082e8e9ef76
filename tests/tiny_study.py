"""The tiny GRU experiment that the comparison tests run as a study, and
the `compare` call they share."""

TINY_GRU = """
[data]
name = "synthetic"
num_samples = 240
sequence_length = 16

[model]
name = "gru"
embedding_dim = 8
gru_units = 8
recurrent_dropout_rate = 0.0

[train]
early_stopping = false
epochs = 2
batch_size = 32
learning_rate = 3e-3
"""

GRID_2X2 = """
[grid]
"lr_adapt.mode" = ["none", "sd2"]
"train.schedule" = ["constant", "cosine"]
"""

CONTROLS = """
[grid]
"train.schedule" = ["constant"]
"lr_adapt.mode" = ["none", "sd2"]

[controls]
matched_rate = ["sd2"]
schedule_free = true
"""


def run_compare(config, runs_dir, *args):
    """`kerastune-lab compare CONFIG ARGS --runs-dir RUNS_DIR`, which must
    succeed: its output lines and the comparison directory (the last)."""
    import pathlib

    from click.testing import CliRunner

    from kerastune_lab.cli.main import cli

    result = CliRunner().invoke(
        cli, ["compare", str(config), *args, "--runs-dir", str(runs_dir)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    return lines, pathlib.Path(lines[-1])
