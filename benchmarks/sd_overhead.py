"""Cost of the loss-adaptive rules: step time of every rate rule and
loss-reading optimizer against mode none, and the naive callback.

Same model, data and rate for every variant. Each variant's model is built
and compiled once; then the variants train one epoch each, round-robin,
for --rounds rounds (after one untimed warm-up epoch), and the median
epoch times are compared:

- plain: model.fit with no callback at all;
- none:  LossAdaptiveLR(mode="none") (probe and per-step logging, factor 1);
- every other rate rule of lr_adapt.registry.RATE_RULES (sd, sd2,
  polyak): LossAdaptiveLR(mode=RULE);
- every optimizer that reads the loss (momo, momo_adam): that optimizer
  at the same rate, fed by LossAdaptiveLR(mode="none");
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
from kerastune_lab.choices import OPTIMIZERS
from kerastune_lab.lr_adapt.registry import RATE_RULES
from kerastune_lab.models.bert_masked_lm import (
    BERT_SIZES,
    build_bert_masked_lm,
    training_view,
)
from kerastune_lab.optimizers.build_optimizer import build_optimizer

# Every way of setting the rate from the loss, as the registries list them.
LOSS_READING = [n for n, c in OPTIMIZERS.items() if c.reads_loss]
VARIANTS = ["plain", *RATE_RULES, *LOSS_READING, "naive"]


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

    def build(optimizer="adam"):
        inputs = keras.Input((None,), dtype="int32")
        h = keras.layers.Embedding(5000, 32, mask_zero=True)(inputs)
        h = keras.layers.GRU(64, dropout=0.2, recurrent_dropout=0.2)(h)
        outputs = keras.layers.Dense(4, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=build_optimizer(optimizer, 1e-3),
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

    def build(optimizer="adamw"):
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
            optimizer=build_optimizer(
                optimizer,
                2e-5,
                weight_decay=0.004 if optimizer == "adamw" else 0.0,
                clipnorm=1.0,
                exclude_from_weight_decay=(),
            ),
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


def setup_callbacks(name, rate):
    """The callbacks of a variant that keeps the task's optimizer."""
    if name == "plain":
        return []
    if name == "naive":
        return [NaiveBatchLR(rate)]
    if name in RATE_RULES:
        return [LossAdaptiveLR(mode=name)]
    raise SystemExit(f"Unknown variant {name!r}; expected one of {VARIANTS}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["gru", "bert"], default="gru")
    parser.add_argument("--size", choices=sorted(BERT_SIZES), default="tiny")
    parser.add_argument("--policy", default="float32")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args()


def trainers(args, names):
    """{variant: train one more epoch} and the task's extra figures."""
    task = gru_task if args.model == "gru" else bert_task
    build, (x, y), extra, rate, count_params = task(args)

    def variant(name):
        keras.utils.set_random_seed(0)
        if name in LOSS_READING:
            model, fixed = build(name), [LossAdaptiveLR(mode="none")]
        else:
            model, fixed = build(), setup_callbacks(name, rate)

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

    return {n: variant(n) for n in names}, extra, count_params


def report(result, names, extra, count_params):
    """Prints each variant's step time (and throughput) and its ratio to
    mode none; adds them to `result`."""
    medians, rounds = result["seconds_per_epoch"], result["rounds"]
    steps = result["steps_per_epoch"]
    for name in names:
        line = f"{name:9s} {medians[name] / steps * 1e3:8.3f} ms/step"
        if "tokens" in extra:
            tps = extra["tokens"] / medians[name]
            result.setdefault("tokens_per_s", {})[name] = tps
            line += f"  {tps:,.0f} tokens/s"
            if count_params:
                line += f"  {6 * count_params() * tps / 1e12:.1f} TFLOP/s"
        print(line)
    if "none" not in medians:
        return
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


def main():
    args = parse_args()
    names = args.variants.split(",")
    steps = -(-args.samples // args.batch)
    print(
        f"{args.model} ({args.size if args.model == 'bert' else ''} "
        f"{args.policy}), backend {keras.backend.backend()}, "
        f"{steps} steps/epoch, {args.rounds} rounds",
        flush=True,
    )
    variants, extra, count_params = trainers(args, names)
    medians, rounds = interleaved_epochs(variants, args.rounds)
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
    report(result, names, extra, count_params)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
