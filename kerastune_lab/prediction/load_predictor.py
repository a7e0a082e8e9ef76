"""A finished run as a predictor: its model and what reads its inputs."""

import functools

from kerastune_lab.errors import UserError
from kerastune_lab.families import FAMILIES
from kerastune_lab.run_directory import RunDirectory


def load_predictor(run_dir):
    """The predictor of a finished run, chosen by what the run saved.

    - A text-classification run (text_vectorizer.json): a `RunClassifier`
      of texts: `.predict(texts)` gives class names, `.predict_proba(texts)`
      the probabilities.
    - A masked-LM run (tokenizer.json): a `MaskedLMFiller`:
      `.predict(texts, top_k)` proposes tokens for each [MASK].
    - A run of a family that reads files (images): a `RunClassifier` of
      file paths.

    Args:
        run_dir: A run directory with config.json and model.keras.

    Raises:
        UserError: The folder is not a finished run, or its run has no
            inputs to read (synthetic sequences, a text run trained before
            runs saved their vocabulary).
    """
    run = _finished_run(run_dir)
    kind = _kind(run)
    if kind == "text":
        return _text_classifier(run)
    if kind == "masked_text":
        return _masked_lm_filler(run)
    return _file_classifier(run)


def predictor_kind(run_dir):
    """What a finished run's predictor reads, from its files alone (no
    Keras, so that `predict` refuses bad inputs at once): "text",
    "masked_text" or "files". Raises `UserError` as `load_predictor`
    does."""
    return _kind(_finished_run(run_dir))


def _kind(run):
    if run.text_vectorizer.is_file():
        return "text"
    if run.tokenizer.is_file():
        return "masked_text"
    _input_reader(run)  # refuses a run that reads no inputs
    return "files"


def _finished_run(run_dir):
    run = RunDirectory(run_dir)
    if not run.is_run() or not run.model.is_file():
        raise UserError(
            f"{run_dir} is not a finished run directory (it needs "
            "config.json and model.keras). Pass the folder that "
            "`kerastune-lab run` or finetuning.py printed last."
        )
    return run


def _load_model(run):
    import keras

    return keras.models.load_model(run.model, compile=False)


def _text_classifier(run):
    from kerastune_lab.data.text_vectorizer import TextVectorizer
    from kerastune_lab.prediction.run_classifier import RunClassifier

    return RunClassifier(
        _load_model(run),
        run.read_record()["data"]["class_names"],
        TextVectorizer.load(run.text_vectorizer),
        reads="text",
    )


def _masked_lm_filler(run):
    from kerastune_lab.data.word_piece_tokenizer import WordPieceTokenizer
    from kerastune_lab.prediction.masked_lm_filler import MaskedLMFiller

    model = _load_model(run)
    return MaskedLMFiller(
        model,
        WordPieceTokenizer.load(run.tokenizer),
        max_length=model.backbone.max_sequence_length,
    )


def _input_reader(run):
    """The function that reads a file run's inputs (its family's
    `read_inputs` with the run's model settings)."""
    record = run.read_record()
    model_config = dict(record["config"]["model"])
    name = model_config.pop("name")
    family = FAMILIES.get(name)
    if family is None or family.read_inputs is None:
        data = record["config"]["data"]["name"]
        images = [f.name for f in FAMILIES.values() if f.read_inputs]
        raise UserError(
            f"{run.path} ({name} on data.name = {data!r}) has nothing that "
            "reads new inputs. predict serves text runs, which save "
            f"{RunDirectory.TEXT_VECTORIZER} or {RunDirectory.TOKENIZER} "
            "(train a text run from before they did again), and image runs"
            f" of {', '.join(images)}; synthetic sequences have no text to "
            "read."
        )
    return functools.partial(family.read_inputs, family.params(**model_config))


def _file_classifier(run):
    from kerastune_lab.prediction.run_classifier import RunClassifier

    return RunClassifier(
        _load_model(run),
        run.read_record()["data"]["class_names"],
        _input_reader(run),
        reads="files",
    )
