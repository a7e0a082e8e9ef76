"""`python finetuning.py` / `kerastune-lab finetune`: the fine-tuning script as
options over the transfer family's experiment."""

import dataclasses
import json

import click

from kerastune_lab.cli.options import (
    echo_run_result,
    keras_verbose,
    runs_dir_option,
    set_option,
    user_errors,
)
from kerastune_lab.config.check_inputs import check_inputs
from kerastune_lab.config.run_sections import DataConfig, TrainConfig
from kerastune_lab.errors import UserError
from kerastune_lab.families.transfer import FAMILY
from kerastune_lab.load_backend_quietly import load_backend_quietly


def _list_of(kind, name):
    def parse(ctx, param, value):
        if value is None:
            return None
        try:
            items = [kind(part) for part in value.split(",") if part.strip()]
        except ValueError:
            items = []
        if not items:
            raise click.BadParameter(
                f"{value!r}: expected comma-separated {name}, e.g. "
                f"{'1024,512' if kind is int else '0.5,0.25'}."
            )
        return items

    return parse


# Each option, when given, overrides one key of the experiment; the rest
# keep the transfer family's defaults (the fine-tuning guide's).
KEYS = {
    "data_dir": "data.path",
    "weights": "model.weights",
    "head": "model.head",
    "dropout": "model.dropout",
    "early_stopping": "train.early_stopping",
    "augment": "data.augment",
}
SECTIONS = {"data": DataConfig, "train": TrainConfig, "model": FAMILY.params}


def field_option(key, help_prefix="", **kwargs):
    """A click option for the config field `key` ('section.name'): its
    type, range or choices, help and default come from the field, so the
    option and the experiment files cannot drift apart."""
    section, name = key.split(".")
    field = {f.name: f for f in dataclasses.fields(SECTIONS[section])}[name]
    meta = field.metadata
    if meta["choices"]:
        kind = click.Choice(list(meta["choices"]))
    else:
        range_type = click.IntRange if field.type is int else click.FloatRange
        kind = range_type(
            min=meta["minimum"],
            max=meta["maximum"],
            min_open=meta["exclusive_minimum"],
        )
    default = (FAMILY.train_defaults if section == "train" else {}).get(
        name, field.default
    )
    doc = meta["doc"][:1].upper() + meta["doc"][1:]
    text = " ".join(t.rstrip(".") + "." for t in (doc, help_prefix) if t)
    flag = "--" + name.replace("_", "-")
    KEYS[name] = key
    return click.option(
        flag, type=kind, help=f"{text}  [default: {default}]", **kwargs
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(),
    help="Folder with one sub-folder of images per class. "
    "Default: the embedded digits set (scikit-learn).",
)
@field_option("model.base_model", "Pretrained trunk.")
@click.option(
    "--weights",
    metavar="imagenet|none|PATH",
    help="Trunk weights: imagenet (Keras's cache or download), "
    "none (random; the whole network trains), or a "
    ".weights.h5 file / model.keras / run directory of an "
    "earlier transfer run.  [default: imagenet]",
)
@field_option("train.epochs", "Training epochs.")
@click.option(
    "--dropout",
    callback=_list_of(float, "rates"),
    metavar="RATE[,RATE...]",
    help="Dropout after each head layer; one rate applies to all. "
    " [default: 0.25]",
)
@click.option(
    "--head",
    callback=_list_of(int, "layer widths"),
    metavar="UNITS[,UNITS...]",
    help="Units of each hidden Dense layer of the head, e.g. "
    "1024,512.  [default: 512]",
)
@field_option("train.optimizer")
@field_option(
    "train.momentum",
    "finetuning.py's default is 0 for rmsprop and sgd, as Keras's.",
)
@field_option("train.learning_rate")
@field_option("train.schedule")
@field_option(
    "model.unfreeze", "Batch norm stays in inference mode.", metavar="N"
)
@field_option("train.head_epochs", metavar="N")
@field_option("train.fine_tune_learning_rate")
@field_option(
    "model.image_size",
    "MobileNetV2 >= 32, InceptionResNetV2 >= 75.",
    metavar="PX",
)
@field_option("train.batch_size")
@click.option(
    "--augment/--no-augment",
    default=None,
    help="Random flips, rotations and zooms of training images. "
    " [default: no]",
)
@click.option(
    "--early-stopping/--no-early-stopping",
    default=None,
    help="Stop when val_loss stops improving and restore the best "
    "weights.  [default: no]",
)
@field_option("train.patience", "Early-stopping patience in epochs.")
@field_option("train.seed")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Start from this experiment file instead of the "
    "defaults (its model must be the transfer family).",
)
@set_option
@runs_dir_option
@click.option(
    "--verbose",
    type=click.Choice(["auto", "0", "1", "2"]),
    default="auto",
    show_default=True,
    help="Keras progress display.",
)
@user_errors
def finetune(config_path, overrides, runs_dir, verbose, **options):
    """Fine-tune a pretrained image classifier (finetuning.py).

    MobileNetV2 or InceptionResNetV2 without its top, then
    GlobalAveragePooling2D -> Dense relu -> Dropout (per --head/--dropout)
    -> softmax. The run directory (the last line of output) has the same
    files as `kerastune-lab run`; `kerastune-lab predict RUN_DIR IMAGE...`
    classifies new images with it.
    """
    from kerastune_lab.config import load_experiment

    given = [
        f"{KEYS[name]}={json.dumps(value)}"
        for name, value in options.items()
        if value is not None
    ]
    if options["data_dir"] is not None:
        given.append('data.name="images"')
    base = [] if config_path else [f'model.name="{FAMILY.name}"']
    experiment = load_experiment(config_path, [*base, *given, *overrides])
    if experiment.model.name != FAMILY.name:
        raise UserError(
            f"{config_path}: model.name = {experiment.model.name!r}; "
            f"finetuning.py trains model.name = {FAMILY.name!r} (use "
            "`kerastune-lab run` for other models)."
        )
    if not config_path:
        experiment.name = "finetune-" + experiment.model.params.base_model
    check_inputs([experiment])
    load_backend_quietly()
    from kerastune_lab.training.run_experiment import run_experiment

    result = run_experiment(
        experiment, runs_dir, verbose=keras_verbose(verbose), echo=click.echo
    )
    echo_run_result(result)


def main():
    finetune(prog_name="finetuning.py")
