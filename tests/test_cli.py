"""End-to-end runs of the `kerastune-lab` command with click's CliRunner."""

import csv
import json
import pathlib

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerastune_lab.analysis.diagnose_history import VERDICTS
from kerastune_lab.cli.main import cli
from kerastune_lab.data.fortunes import load_fortunes
from kerastune_lab.run_directory import read_csv_columns
from kerastune_lab.schedules import build_schedule

FAST = [
    "--set",
    "train.epochs=2",
    "--set",
    "model.gru_units=8",
    "--set",
    "model.embedding_dim=8",
    "--set",
    "data.sequence_length=24",
    "--set",
    "model.recurrent_dropout_rate=0.0",
    "--verbose",
    "0",
]


def invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    return result, result.output.strip().splitlines()


def run_ok(tmp_path, *args):
    result, lines = invoke("run", *args, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    run_dir = pathlib.Path(lines[-1])
    assert run_dir.is_dir() and run_dir.parent == tmp_path / "runs"
    return run_dir


def test_run_writes_the_contract_files(tmp_path):
    run_dir = run_ok(
        tmp_path,
        *FAST,
        "--set",
        'train.schedule="linear"',
        "--set",
        "train.warmup_steps=5",
        "--set",
        "train.batch_size=128",
    )
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "config.json",
        "history.csv",
        "steps.csv",
        "metrics.json",
        "model.keras",
        "diagnosis.json",
        "curves.png",
    } <= names

    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["train"]["schedule"] == "linear"
    assert record["seed"] == 42 and record["backend"] == "tensorflow"
    assert record["versions"]["keras"] == keras.__version__

    history = read_csv_columns(run_dir / "history.csv")
    assert {
        "epoch",
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "lr",
    } <= set(history)
    assert history["epoch"] == [0.0, 1.0]

    steps = read_csv_columns(run_dir / "steps.csv")
    per_epoch = -(-record["data"]["train"] // 128)
    assert steps["step"] == list(map(float, range(2 * per_epoch)))
    schedule = build_schedule("linear", 1e-3, 2 * per_epoch, 5)
    expected = np.asarray(schedule(np.arange(2 * per_epoch)), dtype=float)
    np.testing.assert_allclose(steps["lr"], expected, rtol=1e-6, atol=1e-12)
    # Each step's own loss: they average to the epoch's logged loss.
    first = np.array(steps["loss"][:per_epoch])
    assert first.std() > 0
    assert np.mean(first) == pytest.approx(history["loss"][0], rel=2e-2)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {
        "test_loss",
        "test_accuracy",
        "best_epoch",
        "stopped_epoch",
        "wall_seconds",
    } <= set(metrics)
    diagnosis = json.loads((run_dir / "diagnosis.json").read_text())
    assert diagnosis["verdict"] in VERDICTS and diagnosis["reasons"]
    model = keras.models.load_model(run_dir / "model.keras")
    assert model.count_params() == sum(
        int(np.prod(w.shape)) for w in model.weights
    )
    assert "loss_probe" not in [w.name for w in model.weights]
    assert (run_dir / "curves.png").stat().st_size > 10_000


def test_sd2_run_logs_the_rate_each_step_used(tmp_path):
    run_dir = run_ok(
        tmp_path,
        *FAST,
        "--set",
        'lr_adapt.mode="sd2"',
        "--set",
        "lr_adapt.root=4",
        "--set",
        'train.schedule="cosine"',
    )
    steps = read_csv_columns(run_dir / "steps.csv")
    total = len(steps["step"])
    # Hugging Face's cosine schedule without warmup, written out.
    step = np.asarray(steps["step"])
    scheduled = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / total))
    expected = scheduled * np.power(steps["loss"], 1 / 4)
    np.testing.assert_allclose(steps["lr"], expected, rtol=1e-5, atol=1e-12)
    assert np.ptp(np.asarray(steps["lr"]) / scheduled[: len(step)]) > 1e-3


def test_real_csv_trains_far_above_the_majority_class(tmp_path):
    texts, labels, names = load_fortunes()
    path = tmp_path / "quotes.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["quote", "source"])
        writer.writerows((t, names[y]) for t, y in zip(texts, labels))
    run_dir = run_ok(
        tmp_path,
        "--set",
        'data.name="csv"',
        "--set",
        f'data.path="{path}"',
        "--set",
        'data.text_column="quote"',
        "--set",
        'data.label_column="source"',
        "--set",
        "train.epochs=6",
        "--set",
        "train.learning_rate=3e-3",
        "--set",
        "model.gru_units=24",
        "--set",
        "model.recurrent_dropout_rate=0.0",
        "--verbose",
        "0",
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["majority_class_accuracy"] < 0.35
    assert metrics["test_accuracy"] > 0.75, metrics


@pytest.mark.parametrize(
    "name",
    [
        "approach_a",
        "approach_a_smaller",
        "approach_a_no_early_stop",
        "approach_b",
    ],
)
def test_seed_000_experiments_run_shrunk(tmp_path, repo, name):
    run_dir = run_ok(
        tmp_path,
        str(repo / "experiments" / f"{name}.toml"),
        "--set",
        "data.num_samples=200",
        "--set",
        "train.epochs=2",
        "--set",
        "model.gru_units=8",
        "--set",
        "model.embedding_dim=8",
        "--set",
        "data.sequence_length=16",
        "--verbose",
        "0",
    )
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["data"]["num_samples"] == 200
    assert (
        record["data"]["train"]
        + record["data"]["val"]
        + record["data"]["test"]
        == 200
    )


def test_early_stopping_stops_and_reports_the_best_epoch(tmp_path):
    run_dir = run_ok(
        tmp_path,
        *FAST,
        "--set",
        "train.epochs=30",
        "--set",
        "train.patience=0",
        "--set",
        "train.min_delta=5.0",
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["stopped_epoch"] == 1
    assert metrics["best_epoch"] in (0, 1)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--set", "train.lr=1"], "train.lr"),
        (["run", "--set", "train.epochs=-3"], "train.epochs = -3"),
        (["run", "missing.toml"], "does not exist"),
        (
            [
                "run",
                "--set",
                'data.name="csv"',
                "--set",
                'data.path="nope.csv"',
            ],
            "nope.csv",
        ),
        (["run", "--set", "train.epochs"], "SECTION.KEY=VALUE"),
        (["diagnose", "."], "not a run directory"),
    ],
)
def test_user_errors_exit_2_without_traceback(args, fragment):
    result, _ = invoke(*args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_diagnose_prints_the_verdict_first(tmp_path):
    history = tmp_path / "history.csv"
    rows = ["epoch,loss,val_loss"] + [
        f"{i},{1.0 / (i + 1)},{0.5 + abs(i - 3) * 0.1}" for i in range(10)
    ]
    history.write_text("\n".join(rows) + "\n")
    result, lines = invoke("diagnose", str(history))
    assert result.exit_code == 0
    assert lines[0] == "overfitting"
    assert any("epoch 3" in line for line in lines)
    # A bare history.csv names no model family: generic advice only.
    assert any("--set train.early_stopping=true" in line for line in lines)
    assert not any("--set model." in line for line in lines)


MLM_FAST = [
    "--set",
    "train.epochs=2",
    "--set",
    "data.max_chunks=60",
    "--set",
    "model.vocabulary_size=600",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.warmup_steps=0",
    "--verbose",
    "0",
]


def test_sd_study_cell_runs_with_perplexity(tmp_path, repo):
    run_dir = run_ok(
        tmp_path,
        str(repo / "experiments" / "sd_study.toml"),
        *MLM_FAST,
        "--set",
        'lr_adapt.mode="sd2"',
    )
    history = read_csv_columns(run_dir / "history.csv")
    assert {"val_loss", "val_perplexity", "lr"} <= set(history)
    np.testing.assert_allclose(
        history["val_perplexity"], np.exp(history["val_loss"]), rtol=1e-5
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_perplexity"] == pytest.approx(
        np.exp(metrics["test_loss"]), rel=1e-6
    )
    steps = read_csv_columns(run_dir / "steps.csv")
    np.testing.assert_allclose(
        steps["factor"], np.cbrt(steps["loss"]), rtol=1e-5
    )
    keras.models.load_model(run_dir / "model.keras")


def test_sd_study_original_runs_shrunk_and_explains_offline_presets(
    tmp_path, repo
):
    original = str(repo / "experiments" / "sd_study_original.toml")
    run_ok(
        tmp_path,
        original,
        *MLM_FAST,
        "--set",
        'model.preset=""',
        "--set",
        'model.size="tiny"',
    )
    result, _ = invoke(
        "run",
        original,
        "--set",
        "data.max_chunks=40",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert result.exit_code == 2
    assert "bert_base_en" in result.output and "offline" in result.output
    assert "Traceback" not in result.output


def test_semantic_source_from_a_local_pretrained_preset(tmp_path):
    # A local keras-hub preset (a tiny BERT saved here) stands in for a
    # pretrained encoder; its token embeddings give the semantic table.
    import keras_hub

    from kerastune_lab.data.masked_lm_data import build_tokenizer
    from kerastune_lab.data.text_corpus import load_pydoc_corpus

    preset = tmp_path / "preset"
    vocabulary = build_tokenizer(
        load_pydoc_corpus()[:20], vocabulary_size=300
    ).get_vocabulary()
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=True
    )
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=1,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=128,
    )
    backbone.save_to_preset(str(preset))
    tokenizer.save_to_preset(str(preset))
    run_dir = run_ok(
        tmp_path,
        "--set",
        'model.name="bert_mlm"',
        "--set",
        f'model.preset="{preset}"',
        "--set",
        'lr_adapt.source="semantic"',
        "--set",
        'lr_adapt.mode="sd"',
        *MLM_FAST,
    )
    steps = read_csv_columns(run_dir / "steps.csv")
    gamma = np.array(steps["gamma"])
    assert np.all(np.isfinite(gamma)) and np.all(gamma > 0)
    assert not np.allclose(gamma, steps["loss"])
    np.testing.assert_allclose(
        steps["factor"], np.clip(gamma, 1e-3, 1e3) ** (-1 / 3), rtol=1e-5
    )


def test_lr_find_suggests_a_sensible_rate_and_keeps_nothing(tmp_path, repo):
    result, lines = invoke(
        "lr-find",
        str(repo / "experiments" / "fortunes_gru.toml"),
        "--set",
        "model.gru_units=16",
        "--steps",
        "60",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert result.exit_code == 0, result.output
    out = pathlib.Path(lines[-1])
    found = json.loads((out / "lr_find.json").read_text())
    assert 1e-4 <= found["suggestion"] <= 1e-1
    assert found["rule"] == "minimum / 10"
    assert (out / "lr_find.png").stat().st_size > 5000
    assert "--set train.learning_rate=" in result.output


def test_lr_range_test_restores_weights_and_optimizer():
    from kerastune_lab.analysis.learning_rate_range import lr_range_test

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=1, verbose=0)
    before = model.get_weights()
    state = [v.numpy() for v in model.optimizer.variables]
    found = lr_range_test(model, x, y, batch_size=16, steps=40)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, v in zip(state, model.optimizer.variables):
        np.testing.assert_array_equal(a, v.numpy())
    assert len(found.rates) == len(found.losses) <= 40
    assert found.rates == sorted(found.rates)


def test_report_for_runs_and_a_comparison(tmp_path):
    a = run_ok(
        tmp_path,
        *FAST,
        "--set",
        "model.dropout_rate=0.0",
        "--set",
        "train.epochs=4",
    )
    b = run_ok(
        tmp_path,
        *FAST,
        "--set",
        "model.dropout_rate=0.5",
        "--set",
        "train.epochs=4",
    )
    result, lines = invoke(
        "report", str(a), str(b), "--out", str(tmp_path / "report")
    )
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "model.dropout_rate" in markdown  # the differing key
    assert "Pearson r =" in markdown and "Spearman rho =" in markdown
    assert "Verdict: **" in markdown
    page = pathlib.Path(lines[-1]).read_text()
    assert page.count("data:image/png;base64,") == 3  # 2 curves + scatter
    assert "<table>" in page


def test_report_rejects_a_folder_that_is_not_a_run(tmp_path):
    result, _ = invoke("report", str(tmp_path))
    assert result.exit_code == 2 and "neither a run directory" in result.output


OVERFIT = [
    "--set",
    'data.name="synthetic"',
    "--set",
    "data.num_samples=300",
    "--set",
    "data.difficulty=0.4",
    "--set",
    "model.gru_units=64",
    "--set",
    "model.dropout_rate=0.0",
    "--set",
    "model.recurrent_dropout_rate=0.0",
    "--set",
    "train.early_stopping=false",
    "--set",
    "train.epochs=25",
    "--set",
    "train.learning_rate=3e-3",
    "--verbose",
    "0",
]


def test_real_overfitting_run_and_the_first_advice_helps(tmp_path):
    """A GRU memorises 210 noisy sequences; the first advice, early
    stopping (restoring the best epoch), cuts the test loss. Measured over
    seeds 1-3: train loss < 0.002 against val loss 1.2-1.9 at epoch 25.
    (L2 at the advised 1e-4 did not narrow the gap reliably here: 3
    seeds, -0.1 to +0.6; it is not asserted.)"""
    plain = run_ok(tmp_path, *OVERFIT)
    _result, lines = invoke("diagnose", str(plain))
    assert lines[0] == "overfitting"
    advice = [line.split()[2] for line in lines if line.startswith("- --set")]
    assert advice[0] == "train.early_stopping=true"
    assert "model.l2=0.0001" in advice
    stopped = run_ok(tmp_path, *OVERFIT, "--set", advice[0])
    test_loss = [
        json.loads((r / "metrics.json").read_text())["test_loss"]
        for r in (plain, stopped)
    ]
    # Measured (seed 42): 0.80 -> 0.65.
    assert test_loss[1] < 0.9 * test_loss[0], test_loss


def test_exploding_loss_is_diagnosed_diverged(tmp_path):
    # Keras clips the probabilities, so the loss explodes but stays finite.
    run_dir = run_ok(
        tmp_path,
        *FAST,
        "--set",
        'train.optimizer="sgd"',
        "--set",
        "train.learning_rate=1e6",
    )
    _result, lines = invoke("diagnose", str(run_dir))
    assert lines[0] == "diverged" and "the first step" in lines[1]


@pytest.mark.parametrize("when", ["epoch", "batch"])
def test_divergence_stops_cleanly_with_the_verdict(tmp_path, when):
    # An absurd L2 penalty under plain SGD overflows the weights to inf
    # within a few steps: the loss turns inf / NaN.
    result, lines = invoke(
        "run",
        *FAST,
        "--set",
        'train.optimizer="sgd"',
        "--set",
        "train.momentum=0.0",
        "--set",
        "model.l2=1e30",
        "--set",
        "train.learning_rate=1.0",
        "--set",
        "train.epochs=5",
        "--set",
        f'train.stop_on_nonfinite="{when}"',
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert result.exit_code == 0 and "Training diverged" in result.output
    assert "Traceback" not in result.output
    run_dir = pathlib.Path(lines[-1])
    steps = read_csv_columns(run_dir / "steps.csv")
    if when == "batch":  # stopped right after the first bad batch
        assert np.isfinite(steps["loss"][:-1]).all()
        assert not np.isfinite(steps["loss"][-1])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["first_nonfinite_loss_step"] is not None
    assert metrics["epochs_run"] < 5
    assert (
        json.loads((run_dir / "diagnosis.json").read_text())["verdict"]
        == "diverged"
    )
    model = keras.models.load_model(run_dir / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    result, lines = invoke("diagnose", str(run_dir))
    assert lines[0] == "diverged"


def test_same_file_and_seed_give_the_same_history(tmp_path):
    runs = [
        run_ok(
            tmp_path,
            *FAST,
            "--set",
            "model.dropout_rate=0.3",
            "--set",
            "train.epochs=3",
        )
        for _ in range(2)
    ]
    a, b = (read_csv_columns(r / "history.csv") for r in runs)
    assert a == b
    assert read_csv_columns(runs[0] / "steps.csv") == read_csv_columns(
        runs[1] / "steps.csv"
    )


def test_no_native_log_spam_and_epoch_lines_in_a_log(tmp_path):
    """TensorFlow's C++ start-up lines are silenced; piped to a file, the
    progress display is one line per epoch, not a carriage-return bar."""
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kerastune_lab",
            "run",
            *FAST[:-2],
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for noise in (
        "oneDNN custom operations",
        "cudart_stub",
        "absl::InitializeLog",
        "cpu_feature_guard",
    ):
        assert noise not in out.stderr + out.stdout, noise
    assert "\r" not in out.stdout and "\x08" not in out.stdout
    assert (
        sum(line.startswith("Epoch ") for line in out.stdout.splitlines()) == 2
    )


def test_progress_bar_in_a_terminal_lines_elsewhere(monkeypatch):
    from kerastune_lab.cli.options import keras_verbose

    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert keras_verbose("auto") == 1
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert keras_verbose("auto") == 2
    assert keras_verbose("0") == 0
