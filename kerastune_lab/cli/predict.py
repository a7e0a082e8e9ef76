"""`kerastune-lab predict`: a trained run classifies text or images, or
fills [MASK]."""

import json
import pathlib

import click

from kerastune_lab.cli.options import user_errors
from kerastune_lab.errors import UserError
from kerastune_lab.load_backend_quietly import load_backend_quietly

NO_TOKENS = "no words to classify (none left after removing punctuation)"


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option(
    "--text",
    "texts",
    multiple=True,
    help="A text to classify, or, for a masked-LM run, a text with [MASK] "
    "where a token should go. Repeatable.",
)
@click.option(
    "--text-column",
    help="CSV input: the column that holds the text [default: text].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="CSV input: the CSV file to write [default: NAME-predictions.csv "
    "beside the input].",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    help="Classes shown per image [default: 3] or per text [default: "
    "all]; tokens per [MASK] [default: 5].",
)
@user_errors
def predict(run_dir, inputs, texts, text_column, out, top_k):
    """Use a trained run on new inputs (INPUTS: a CSV file or images).

    \b
    Text classifier (gru, transformer):
      predict RUN --text "..." [--text "..."]  one line per text: the
          classes, most probable first, with their probabilities
      predict RUN FILE.csv [--text-column C] [--out OUT.csv]  writes the
          rows with predicted_label and a probability_<class> column per
          class; the last line of output is that file
    Masked LM (bert_mlm):
      predict RUN --text "The [MASK] statement leaves a loop."  the most
          probable tokens for each [MASK]
    Image classifier (transfer):
      predict RUN IMAGE...  the top classes of each image
    """
    if bool(texts) == bool(inputs):
        raise UserError(
            'Give the inputs either as --text "..." (repeatable) or as '
            f"files (a CSV file, or images){', not both' if texts else ''}."
        )
    from kerastune_lab.prediction.load_predictor import predictor_kind

    kind = predictor_kind(run_dir)
    csv_input = _csv_input(kind, run_dir, inputs)
    given = [
        name
        for name, value in (("--text-column", text_column), ("--out", out))
        if value
    ]
    if given and not csv_input:
        raise UserError(f"{' and '.join(given)}: for a CSV input only.")
    if csv_input and top_k:
        raise UserError(
            "--top-k: not for a CSV input (the CSV gets every class's "
            "probability)."
        )
    for path in inputs:
        if not pathlib.Path(path).is_file():
            raise UserError(f"{path} does not exist.")
    load_backend_quietly()
    from kerastune_lab.prediction.load_predictor import load_predictor

    predictor = load_predictor(run_dir)
    if csv_input:
        from kerastune_lab.prediction.predict_csv import predict_csv

        written = predict_csv(predictor, csv_input, out, text_column or "text")
        click.echo(str(written))
    elif predictor.reads == "files":
        probabilities = predictor.predict_proba(inputs)
        top = predictor.top_classes(probabilities, top_k or 3)
        for path, classes in zip(inputs, top):
            click.echo(f"{path}: {_ranked(classes)}")
    elif predictor.reads == "text":
        probabilities = predictor.predict_proba(texts)
        for text, classes in zip(texts, predictor.top_classes(probabilities)):
            click.echo(
                f"{_quoted(text)}: " + (_ranked(classes[:top_k]) or NO_TOKENS)
            )
    else:
        for text, slots in zip(texts, predictor.predict(texts, top_k or 5)):
            for number, tokens in enumerate(slots, 1):
                click.echo(
                    f"{_quoted(text)} [MASK] {number}: {_ranked(tokens)}"
                )


def _csv_input(kind, run_dir, inputs):
    """The CSV file to classify, or None; refuses inputs the run's model
    (reading `kind`, `predictor_kind`) cannot read."""
    if kind == "files":
        if not inputs:
            raise UserError(
                f"{run_dir} classifies image files: pass them as INPUTS "
                "(--text is for text runs)."
            )
        return None
    if not inputs:
        return None
    if kind == "masked_text":
        raise UserError(
            f'{run_dir} is a masked LM: it fills [MASK] in --text "..." '
            f"(files such as {inputs[0]!r} are for classifier runs)."
        )
    if len(inputs) > 1 or pathlib.Path(inputs[0]).suffix.lower() != ".csv":
        raise UserError(
            f'{run_dir} classifies text: pass --text "..." or one .csv '
            f"file with a text column (received {', '.join(inputs)})."
        )
    return inputs[0]


def _quoted(text):
    return json.dumps(text, ensure_ascii=False)


def _ranked(pairs):
    return ", ".join(f"{name} {p:.3f}" for name, p in pairs)
