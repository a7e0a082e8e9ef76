"""Text runs where `import tensorflow` fails (run by
tests/test_tensorflow_free.py with KERAS_BACKEND=jax and a `tensorflow`
that raises ImportError first on the path).

Prints JSON: the prepared data's arrays (saved to argv[1]), a tiny GRU run
on fortunes and a tiny masked LM on pydoc with their `predict` outputs,
and what an image run answers.
"""

import json
import sys
import traceback

import numpy as np
from click.testing import CliRunner
from test_cli import FAST
from text_data_arrays import text_data_arrays

from kerastune_lab.cli.main import cli

GRU = [*FAST, "--set", "train.epochs=1"]
MASKED_LM = [
    "--set",
    'model.name="bert_mlm"',
    "--set",
    'model.size="mini"',
    "--set",
    "model.vocabulary_size=600",
    "--set",
    "data.chunk_size=32",
    "--set",
    "data.max_chunks=60",
    "--set",
    "train.epochs=1",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.warmup_steps=0",
]
TEXTS = ["There once was a man from Peru", "Beam me up, Scotty!"]
MASKED = ["The [MASK] statement leaves a loop.", "[MASK] x in [MASK]:"]


def invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    crash = result.exit_code not in (0, 2) and result.exc_info
    return {
        "exit_code": result.exit_code,
        "output": result.output
        + (
            "".join(traceback.format_exception(*result.exc_info))
            if crash
            else ""
        ),
    }


def train(runs_dir, *overrides):
    result = invoke(
        "run", *overrides, "--verbose", "0", "--runs-dir", runs_dir
    )
    assert result["exit_code"] == 0, result["output"]
    return result["output"].strip().splitlines()[-1]


def main(arrays_path, runs_dir):
    np.savez(arrays_path, **text_data_arrays())
    gru = train(runs_dir, *GRU)
    masked_lm = train(runs_dir, *MASKED_LM)
    text_args = [a for text in TEXTS for a in ("--text", text)]
    masked_args = [a for text in MASKED for a in ("--text", text)]
    report = {
        "gru_run": gru,
        "masked_lm_run": masked_lm,
        "gru_predict": invoke("predict", gru, *text_args),
        "masked_lm_predict": invoke("predict", masked_lm, *masked_args),
        "image_run": invoke(
            "run",
            "--set",
            'model.name="transfer"',
            "--runs-dir",
            runs_dir,
        ),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
