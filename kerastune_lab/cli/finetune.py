"""`python finetuning.py` / `kerastune-lab finetune`: seed 004's script as
options over the `transfer` experiment."""

import dataclasses
import json
import sys

import click

from kerastune_lab.cli.options import (
    echo_run_result,
    keras_verbose,
    load_backend_quietly,
    runs_dir_option,
    set_option,
    user_errors,
)
from kerastune_lab.config.experiment_config import (
    OPTIMIZERS,
    SCHEDULES,
)
from kerastune_lab.config.model_params import TransferParams
from kerastune_lab.errors import UserError


def _choices(cls, name):
    """The allowed values of a config field: one list for the experiment
    files, their error messages and these options."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return list(field.metadata["choices"])


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
                f"{'1024,512' if kind is int else '0.5,0.25'}.")
        return items
    return parse


# Each option, when given, overrides one key of the experiment; the rest
# keep the `transfer` model's defaults (seed 004's finetuning.py).
KEYS = {
    "data_dir": "data.path",
    "base_model": "model.base_model",
    "weights": "model.weights",
    "image_size": "model.image_size",
    "head": "model.head",
    "dropout": "model.dropout",
    "unfreeze": "model.unfreeze",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "momentum": "train.momentum",
    "learning_rate": "train.learning_rate",
    "schedule": "train.schedule",
    "head_epochs": "train.head_epochs",
    "fine_tune_learning_rate": "train.fine_tune_learning_rate",
    "early_stopping": "train.early_stopping",
    "patience": "train.patience",
    "seed": "train.seed",
    "augment": "data.augment",
}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(),
              help="Folder with one sub-folder of images per class. "
                   "Default: the embedded digits set (scikit-learn).")
@click.option("--base-model",
              type=click.Choice(_choices(TransferParams, "base_model")),
              help="Pretrained trunk.  [default: mobilenet_v2]")
@click.option("--weights", metavar="imagenet|none|PATH",
              help="Trunk weights: imagenet (Keras's cache or download), "
                   "none (random; the whole network trains), or a "
                   ".weights.h5 file / model.keras / run directory of an "
                   "earlier transfer run.  [default: imagenet]")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Training epochs.  [default: 10]")
@click.option("--dropout", callback=_list_of(float, "rates"),
              metavar="RATE[,RATE...]",
              help="Dropout after each head layer; one rate applies to all. "
                   " [default: 0.25]")
@click.option("--head", callback=_list_of(int, "layer widths"),
              metavar="UNITS[,UNITS...]",
              help="Units of each hidden Dense layer of the head, e.g. "
                   "1024,512.  [default: 512]")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS),
              help="[default: adam]")
@click.option("--momentum", type=click.FloatRange(min=0, max=1),
              help="Momentum of rmsprop and sgd (seed 004 compiles Keras's "
                   "'RMSprop' and SGD(), whose momentum is 0).  [default: 0]")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True),
              help="[default: 0.001]")
@click.option("--schedule", type=click.Choice(SCHEDULES),
              help="[default: constant]")
@click.option("--unfreeze", type=click.IntRange(min=0), metavar="N",
              help="Train the trunk's last N layers (batch norm stays in "
                   "inference mode).  [default: 0, frozen]")
@click.option("--head-epochs", type=click.IntRange(min=0), metavar="N",
              help="Two phases: train the head alone for N epochs, then "
                   "unfreeze --unfreeze layers (0: the whole trunk) for the "
                   "remaining epochs at --fine-tune-learning-rate.")
@click.option("--fine-tune-learning-rate",
              type=click.FloatRange(min=0, min_open=True),
              help="Rate of the second phase.  [default: learning rate / 10]")
@click.option("--image-size", type=click.IntRange(min=1), metavar="PX",
              help="Input height and width (MobileNetV2 >= 32, "
                   "InceptionResNetV2 >= 75).  [default: 224]")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="[default: 32]")
@click.option("--augment/--no-augment", default=None,
              help="Random flips, rotations and zooms of training images. "
                   " [default: no]")
@click.option("--early-stopping/--no-early-stopping", default=None,
              help="Stop when val_loss stops improving and restore the best "
                   "weights.  [default: no]")
@click.option("--patience", type=click.IntRange(min=0),
              help="Early-stopping patience in epochs.  [default: 5]")
@click.option("--seed", type=click.IntRange(min=0), help="[default: 42]")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Start from this experiment file instead of the "
                   "defaults (its model must be 'transfer').")
@set_option
@runs_dir_option
@click.option("--verbose", type=click.Choice(["auto", "0", "1", "2"]),
              default="auto", show_default=True,
              help="Keras progress display.")
@user_errors
def finetune(config_path, overrides, runs_dir, verbose, **options):
    """Fine-tune a pretrained image classifier (seed 004's finetuning.py).

    MobileNetV2 or InceptionResNetV2 without its top, then
    GlobalAveragePooling2D -> Dense relu -> Dropout (per --head/--dropout)
    -> softmax. The run directory (the last line of output) has the same
    files as `kerastune-lab run`; `kerastune-lab predict RUN_DIR IMAGE...`
    classifies new images with it.
    """
    from kerastune_lab.config import load_experiment

    given = [f"{KEYS[name]}={json.dumps(value)}"
             for name, value in options.items() if value is not None]
    if options["data_dir"] is not None:
        given.append('data.name="images"')
    base = [] if config_path else ['model.name="transfer"']
    experiment = load_experiment(config_path, [*base, *given, *overrides])
    if experiment.model.name != "transfer":
        raise UserError(
            f"{config_path}: model.name = {experiment.model.name!r}; "
            "finetuning.py trains model.name = 'transfer' (use "
            "`kerastune-lab run` for other models).")
    if not config_path:
        experiment.name = "finetune-" + experiment.model.params["base_model"]
    from kerastune_lab.training.run_experiment import run_experiment

    result = run_experiment(experiment, runs_dir,
                            verbose=keras_verbose(verbose), echo=click.echo)
    echo_run_result(result)


def main():
    if not {"-h", "--help"} & set(sys.argv):
        load_backend_quietly()
    finetune(prog_name="finetuning.py")
