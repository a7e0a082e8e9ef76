"""Epoch time of `kerastune-lab run` vs a hand-written Keras script.

Both train the same GRU (seed 000's approach A shape) on the same data with
validation, in the same process, interleaved; the first epoch of every run
(compilation) is dropped. The run side does everything `kerastune-lab run`
does (per-step logging, CSV history, early stopping, run directory); the
plain side is model.fit and nothing else. Target: ratio <= 1.05.

    python benchmarks/run_overhead.py [--repeats 5] [--epochs 4]
"""

import argparse
import pathlib
import sys
import tempfile

import keras

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from timing import interleaved

from kerastune_lab.config import load_experiment
from kerastune_lab.data import load_text_classification
from kerastune_lab.training.run_experiment import run_experiment


def train_plain(seed, data, epochs, timer):
    """The same model, data and settings as the lab's run, in plain Keras:
    the baseline."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(data.vocab_size, 32, mask_zero=True)(inputs)
    x = keras.layers.GRU(64, dropout=0.2, recurrent_dropout=0.2)(x)
    outputs = keras.layers.Dense(data.num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=64,
        verbose=0,
        callbacks=[timer],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4000)
    args = parser.parse_args()

    config = load_experiment(
        None,
        [
            'data.name="synthetic"',
            f"data.num_samples={args.samples}",
            "model.embedding_dim=32",
            "model.gru_units=64",
            "model.dropout_rate=0.2",
            "model.recurrent_dropout_rate=0.2",
            "train.batch_size=64",
            "train.learning_rate=1e-3",
            f"train.epochs={args.epochs}",
            "train.patience=100",
        ],
    )
    data = load_text_classification(config.data, config.train.seed)
    runs_dir = tempfile.mkdtemp(prefix="run_overhead_")

    def lab(timer):
        run_experiment(
            config,
            runs_dir,
            verbose=0,
            echo=lambda *a: None,
            callbacks=[timer],
        )

    def plain(timer):
        train_plain(config.train.seed, data, args.epochs, timer)

    print(
        f"backend {keras.backend.backend()}, {len(data.y_train)} train "
        f"samples, {args.epochs} epochs x {args.repeats} rounds",
        flush=True,
    )
    medians, _ = interleaved(
        {"plain": plain, "kerastune-lab run": lab}, args.repeats
    )
    ratio = medians["kerastune-lab run"] / medians["plain"]
    for name, value in medians.items():
        print(f"{name}: median {value:.4f} s/epoch")
    print(f"ratio run/plain: {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
