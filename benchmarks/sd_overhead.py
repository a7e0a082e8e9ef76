"""Cost of SD/SD2: step time of mode none vs sd2, and the naive callback.

Same model, data and rate for every variant. Each variant's model is built
and compiled once; then the variants train one epoch each, round-robin,
for --rounds rounds (after one untimed warm-up epoch), and the median
epoch times are compared:

- plain: model.fit with no callback at all;
- none:  LossAdaptiveLR(mode="none") (probe and per-step logging, factor 1);
- sd2:   LossAdaptiveLR(mode="sd2");
- naive: a host-side callback that reads logs["loss"] and assigns the rate
         after every batch (the design this project avoids).

Models: the GRU of seed 000 and a keras-hub BERT masked LM (BertBackbone +
MaskedLMHead, the model of `[model] name = "bert_mlm"`).
Target: sd2 / none <= 1.02.

    python benchmarks/sd_overhead.py --model gru
    python benchmarks/sd_overhead.py --model bert --size tiny
    KERAS_BACKEND=jax python benchmarks/sd_overhead.py --model bert \
        --size base --policy mixed_bfloat16 --batch 64 --samples 8192
"""

import argparse
import json
import pathlib
import statistics
import sys

import keras
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from timing import interleaved_epochs

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.models.bert_masked_lm import (
    BERT_SIZES,
    build_bert_masked_lm,
    training_view,
)


class NaiveBatchLR(keras.callbacks.Callback):
    """The host-side way: rate = base * cbrt(logs["loss"]) after each batch."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def on_train_batch_end(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(
            self.base * float(logs["loss"]) ** (1 / 3)
        )


def gru_task(args):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 5000, size=(args.samples, 64)).astype("int32")
    y = (x[:, :8].sum(axis=1) % 4).astype("int32")

    def build():
        inputs = keras.Input((None,), dtype="int32")
        h = keras.layers.Embedding(5000, 32, mask_zero=True)(inputs)
        h = keras.layers.GRU(64, dropout=0.2, recurrent_dropout=0.2)(h)
        outputs = keras.layers.Dense(4, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
        )
        return model

    return build, (x, y), {}, 1e-3, None


def bert_task(args):
    vocab, seq, masked = args.vocab, args.seq, 20
    rng = np.random.default_rng(0)
    tokens = rng.integers(5, vocab, size=(args.samples, seq)).astype("int32")
    positions = np.stack(
        [
            np.sort(rng.choice(np.arange(1, seq), masked, replace=False))
            for _ in range(args.samples)
        ]
    ).astype("int32")
    labels = np.take_along_axis(tokens, positions, axis=1)
    inputs_np = {
        "token_ids": tokens.copy(),
        "segment_ids": np.zeros_like(tokens),
        "padding_mask": np.ones_like(tokens),
        "mask_positions": positions,
    }
    np.put_along_axis(inputs_np["token_ids"], positions, 4, axis=1)

    def build():
        keras.config.set_dtype_policy(args.policy)
        try:
            model = training_view(
                build_bert_masked_lm(
                    vocab, size=args.size, max_sequence_length=seq
                )
            )
        finally:
            keras.config.set_dtype_policy("float32")
        model.compile(
            optimizer=keras.optimizers.AdamW(2e-5, global_clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        return model

    params = None

    def count_params():
        nonlocal params
        if params is None:
            params = build().count_params()
        return params

    return (
        build,
        (inputs_np, labels),
        {"tokens": args.samples * seq},
        2e-5,
        count_params,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["gru", "bert"], default="gru")
    parser.add_argument("--size", choices=sorted(BERT_SIZES), default="tiny")
    parser.add_argument("--policy", default="float32")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--variants", default="plain,none,sd2,naive")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    task = gru_task if args.model == "gru" else bert_task
    build, (x, y), extra, rate, count_params = task(args)
    callbacks = {
        "plain": list,
        "none": lambda: [LossAdaptiveLR(mode="none")],
        "sd2": lambda: [LossAdaptiveLR(mode="sd2")],
        "naive": lambda: [NaiveBatchLR(rate)],
    }

    def variant(name):
        keras.utils.set_random_seed(0)
        model = build()
        fixed = callbacks[name]()

        def train_one_epoch(timer):
            model.fit(
                x,
                y,
                batch_size=args.batch,
                epochs=1,
                verbose=0,
                callbacks=fixed + [timer],
            )

        return train_one_epoch

    names = args.variants.split(",")
    steps = -(-args.samples // args.batch)
    print(
        f"{args.model} ({args.size if args.model == 'bert' else ''} "
        f"{args.policy}), backend {keras.backend.backend()}, "
        f"{steps} steps/epoch, {args.rounds} rounds",
        flush=True,
    )
    medians, rounds = interleaved_epochs(
        {n: variant(n) for n in names}, args.rounds
    )
    result = {
        "model": args.model,
        "size": args.size,
        "policy": args.policy,
        "backend": keras.backend.backend(),
        "batch": args.batch,
        "steps_per_epoch": steps,
        "seconds_per_epoch": medians,
        "rounds": rounds,
    }
    for name in names:
        line = f"{name:6s} {medians[name] / steps * 1e3:8.3f} ms/step"
        if "tokens" in extra:
            tps = extra["tokens"] / medians[name]
            result.setdefault("tokens_per_s", {})[name] = tps
            line += f"  {tps:,.0f} tokens/s"
            if count_params:
                line += f"  {6 * count_params() * tps / 1e12:.1f} TFLOP/s"
        print(line)
    if "none" in medians:
        for name in names:
            if name != "none":
                ratio = medians[name] / medians["none"]
                # Each round's two epochs ran back to back: their ratio
                # cancels the machine's slow drifts.
                paired = statistics.median(
                    a / b for a, b in zip(rounds[name], rounds["none"])
                )
                result[f"ratio_{name}_vs_none"] = ratio
                result[f"paired_ratio_{name}_vs_none"] = paired
                print(
                    f"ratio {name}/none: {ratio:.3f} (median of per-round "
                    f"ratios {paired:.3f})"
                )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
