"""Text runs predict text: `kerastune-lab predict RUN --text/FILE.csv`
and `load_predictor`, on runs trained in another process (on JAX, see
the `tensorflow_free` fixture) and reloaded here."""

import csv
import json
import pathlib
import shutil

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerastune_lab.cli.main import cli
from kerastune_lab.data.text_vectorizer import TextVectorizer
from kerastune_lab.prediction import load_predictor

CLASSES = ["limerick", "murphy", "startrek", "zippy"]
TEXTS = ["There once was a man from Peru", "Beam me up, Scotty!", "0 0 7"]


@pytest.fixture(scope="module")
def gru_run(tensorflow_free):
    return pathlib.Path(tensorflow_free[0]["gru_run"])


@pytest.fixture(scope="module")
def masked_lm_run(tensorflow_free):
    return pathlib.Path(tensorflow_free[0]["masked_lm_run"])


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_a_reloaded_text_run_predicts_as_its_model_does_on_the_ids(
    gru_run, tensorflow_free
):
    classifier = load_predictor(gru_run)
    assert classifier.class_names == CLASSES
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == (3, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert classifier.predict(TEXTS) == [
        CLASSES[i] for i in probabilities.argmax(axis=1)
    ]
    # The documented way without kerastune-lab's predictor: the saved
    # vectorizer's ids into keras.models.load_model's model.
    vectorizer = TextVectorizer.load(gru_run / "text_vectorizer.json")
    model = keras.models.load_model(gru_run / "model.keras")
    np.testing.assert_allclose(
        model.predict(vectorizer(TEXTS), verbose=0), probabilities, rtol=1e-5
    )
    # A text without a word leaves the model nothing to read.
    assert classifier.predict(["", "?!"]) == [None, None]
    assert np.isnan(classifier.predict_proba(["..."])).all()
    # The JAX process that trained the model printed the same figures.
    printed = tensorflow_free[0]["gru_predict"]["output"].splitlines()
    for line, row in zip(printed, probabilities):
        for pair in line.rsplit(": ", 1)[1].split(", "):
            name, p = pair.rsplit(" ", 1)
            assert float(p) == pytest.approx(
                row[CLASSES.index(name)], abs=2e-3
            )


def test_predict_text_prints_every_class_most_probable_first(gru_run):
    code, output = invoke("predict", gru_run, "--text", TEXTS[0])
    assert code == 0, output
    quoted, ranked = output.strip().rsplit(": ", 1)
    assert json.loads(quoted) == TEXTS[0]
    pairs = [pair.rsplit(" ", 1) for pair in ranked.split(", ")]
    assert sorted(name for name, _ in pairs) == CLASSES
    probabilities = [float(p) for _, p in pairs]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=3e-3)
    code, output = invoke(
        "predict", gru_run, "--text", "a", "--text", "b", "--top-k", "2"
    )
    assert code == 0, output
    assert [len(line.split(", ")) for line in output.splitlines()] == [2, 2]
    code, output = invoke("predict", gru_run, "--text", "!?")
    assert code == 0 and output.startswith('"!?": no words to classify')


def test_predict_csv_writes_labels_and_probabilities(gru_run, tmp_path):
    source = tmp_path / "mine.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "body"])
        writer.writerows([[i, text] for i, text in enumerate(TEXTS)])
        writer.writerow([3, "--"])
    code, output = invoke("predict", gru_run, source, "--text-column", "body")
    assert code == 0, output
    written = tmp_path / "mine-predictions.csv"
    assert output.strip().splitlines()[-1] == str(written)
    with written.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "id",
        "body",
        "predicted_label",
        *(f"probability_{name}" for name in CLASSES),
    ]
    assert len(rows) == 4 and rows[3]["body"] == "--"
    assert {rows[3][c] for c in list(rows[3])[2:]} == {""}  # no word
    expected = load_predictor(gru_run).predict_proba(TEXTS)
    for row, text, p in zip(rows, TEXTS, expected):
        assert row["body"] == text
        got = [float(row[f"probability_{name}"]) for name in CLASSES]
        np.testing.assert_allclose(got, p, rtol=1e-4)
        assert row["predicted_label"] == CLASSES[int(np.argmax(p))]
    out = tmp_path / "elsewhere.csv"
    code, output = invoke(
        "predict", gru_run, source, "--text-column", "body", "--out", out
    )
    assert code == 0 and out.read_text() == written.read_text()


def test_a_masked_lm_run_fills_each_mask(masked_lm_run):
    code, output = invoke(
        "predict",
        masked_lm_run,
        "--text",
        "The [MASK] statement leaves a loop.",
        "--text",
        "[MASK] x in [MASK]:",
        "--top-k",
        "4",
    )
    assert code == 0, output
    lines = output.strip().splitlines()
    assert [line.rsplit(" [MASK] ", 1)[1].split(":")[0] for line in lines] == [
        "1",
        "1",
        "2",
    ]
    filler = load_predictor(masked_lm_run)
    vocabulary = set(filler.tokenizer.get_vocabulary())
    for line in lines:
        pairs = [p.rsplit(" ", 1) for p in line.rsplit(": ", 1)[1].split(", ")]
        assert len(pairs) == 4
        assert all(token in vocabulary for token, _ in pairs)
        assert not {token for token, _ in pairs} & {"[MASK]", "[CLS]", "[PAD]"}
        probabilities = [float(p) for _, p in pairs]
        assert probabilities == sorted(probabilities, reverse=True)
    # Over every token but the special ones, a slot's probabilities are
    # the model's whole softmax less the little it gives special tokens.
    everything = filler.predict(["a [MASK] b"], top_k=len(vocabulary))[0][0]
    assert 0.9 < sum(p for _, p in everything) <= 1.0 + 1e-6


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--text", "no mask here"], "has no [MASK]"),
        (["notes.csv"], "fills [MASK] in --text"),
        (["--text", "[MASK] " + "word " * 600], "reads at most 512"),
    ],
)
def test_masked_lm_bad_inputs_exit_2(masked_lm_run, args, fragment):
    code, output = invoke("predict", masked_lm_run, *args)
    assert code == 2 and fragment in output and "Traceback" not in output


def test_text_run_bad_inputs_exit_2(gru_run, tmp_path):
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("body,label\nhello,a\n")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("text\n")
    old_run = tmp_path / "old_run"
    shutil.copytree(gru_run, old_run)
    (old_run / "text_vectorizer.json").unlink()
    cases = [
        ([gru_run, no_text], "no column 'text'"),
        ([gru_run, header_only], "no rows"),
        ([gru_run, tmp_path / "photo.png"], "classifies text"),
        ([gru_run, no_text, "--text", "x"], "not both"),
        ([gru_run], "either as --text"),
        ([gru_run, "--text", "x", "--out", tmp_path / "o.csv"], "--out"),
        (
            [gru_run, no_text, "--out", no_text, "--text-column", "body"],
            "is the input file",
        ),
        ([old_run, "--text", "x"], "text_vectorizer.json"),
        ([tmp_path, "--text", "x"], "not a finished run"),
    ]
    for args, fragment in cases:
        code, output = invoke("predict", *args)
        assert code == 2, (args, output)
        assert fragment in output, (args, output)
        assert "Traceback" not in output
