"""Every user error of every command: exit 2, one line saying what is
wrong, no traceback, and nothing left behind (no run, study or report
folder under --runs-dir or the current folder)."""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kerastune_lab.cli.main import cli


@pytest.fixture
def files(tmp_path):
    made = {}

    def write(name, text, mode="w"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if mode == "wb":
            path.write_bytes(text)
        else:
            path.write_text(text)
        made[name] = str(path)

    write("malformed.toml", "[train\nepochs = 2\n")
    write("nogrid.toml", "[train]\nepochs = 1\n")
    write("typo.toml", '[grid]\n"train.learnig_rate" = [1e-3, 1e-4]\n')
    write("lion.toml", '[grid]\n"train.optimizer" = ["adam", "lion"]\n')
    write("empty.csv", "")
    write("nolabel.csv", "text,category\nhello,a\nbye,b\n")
    write("oneclass.csv", "text,label\nhello,a\nbye,a\n")
    write("latin1.csv", b"text,label\n" + b"caf\xe9,a\nbye,b\n", "wb")
    write("noloss.csv", "epoch,accuracy\n0,0.5\n")
    write("one_class_images/cat/1.png", b"", "wb")
    made["one_class_images"] = str(tmp_path / "one_class_images")
    (tmp_path / "empty_folder").mkdir()
    # What predict reads before it loads Keras: a finished text run's files.
    for name in ("config.json", "model.keras", "text_vectorizer.json"):
        write(f"text_run/{name}", "{}")
    made["text_run"] = str(tmp_path / "text_run")
    made["empty_folder"] = str(tmp_path / "empty_folder")
    made["tmp"] = str(tmp_path)
    made["runs"] = str(tmp_path / "runs")
    return made


CSV = ["--set", 'data.name="csv"']
MLM = ["--set", 'model.name="bert_mlm"']
# The commands that make folders under --runs-dir.
MAKERS = ("run", "compare", "improve", "lr-find", "report", "finetune")

CASES = [
    (["run", "--bogus"], "No such option '--bogus'"),
    (["run", "--set", "train.lr=1"], "Unknown key train.lr"),
    (["run", "--set", "train.learnig_rate=1"], "mean train.learning_rate?"),
    (["run", "--set", "train.epochs=0"], "train.epochs = 0"),
    (["run", "--set", 'train.epochs="x"'], "expected an integer"),
    (["run", "--set", "train.batch_size=-5"], "train.batch_size = -5"),
    (["run", "--set", "train.learning_rate=-1"], "a number > 0"),
    (["run", "--set", "model.dropout_rate=2"], ">= 0 and <= 0.95"),
    (["run", "--set", 'train.optimizer="adamax"'], '"adamw"'),
    (["run", "--set", 'train.schedule="step"'], '"cosine"'),
    (["run", "--set", 'lr_adapt.mode="sd3"'], '"sd2"'),
    (["run", "--set", "lr_adapt.root=0"], "lr_adapt.root"),
    (["run", "--set", "trainer.epochs=1"], "Did you mean [train]?"),
    (["run", "--set", "train.epochs"], "SECTION.KEY=VALUE"),
    (["run", "--set", 'data.name="images"'], 'data.name = "images"'),
    (["run", "--set", 'lr_adapt.source="semantic"'], "bert_mlm"),
    (["run", "--set", "train.warmup_steps=100000"], "warmup_steps"),
    (["run", "missing.toml"], "does not exist"),
    (["run", "{malformed.toml}"], "not valid TOML"),
    (["run", *CSV, "--set", 'data.path="{tmp}/no.csv"'], "does not exist"),
    (["run", *CSV, "--set", 'data.path="{empty.csv}"'], "no column"),
    (["run", *CSV, "--set", 'data.path="{nolabel.csv}"'], "no column 'label'"),
    (["run", *CSV, "--set", 'data.path="{oneclass.csv}"'], "single class"),
    (["run", *CSV, "--set", 'data.path="{latin1.csv}"'], "Save it as UTF-8"),
    (["run", *CSV, "--set", 'data.path="{empty_folder}"'], "does not exist"),
    (["run", *CSV], "needs data.path"),
    (["run", *MLM, "--set", 'data.name="text"'], "needs data.path"),
    (
        [
            "run",
            *MLM,
            "--set",
            'data.name="text"',
            "--set",
            'data.path="{empty_folder}"',
        ],
        "no .txt files",
    ),
    (
        ["run", *MLM, "--set", 'model.preset="{empty_folder}"'],
        "Could not load preset",
    ),
    (["run", "--resume", "{tmp}"], "not a run directory"),
    (["run", "x.toml", "--resume", "{tmp}"], "run directory alone"),
    (["finetune", "--data-dir", "{one_class_images}"], "1 class folder(s)"),
    (["finetune", "--weights", "{tmp}/no.weights.h5"], "no such file"),
    (["diagnose", "{tmp}"], "not a run directory"),
    (["diagnose", "{noloss.csv}"], "no 'loss' column"),
    (["report", "{tmp}/a", "{tmp}/b"], "neither a run directory"),
    (["report", "{tmp}"], "neither a run directory"),
    (["compare", "{nogrid.toml}"], "no [grid]"),
    (["compare", "{typo.toml}"], "Did you mean train.learning_rate?"),
    (["compare", "{lion.toml}"], 'train.optimizer = "lion"'),
    (["compare", "--seeds", "0"], "--seeds"),
    (["compare", "--worker-memory-growth", "-1"], "x>=0"),
    (
        ["compare", "--engine", "ray", "--worker-memory-growth", "0"],
        "--worker-memory-growth sets the local engine",
    ),
    (["compare", "--address", "auto"], "needs --engine ray"),
    (
        ["improve", "{nogrid.toml}", "--engine", "ray", "--jobs", "2"],
        "--jobs sets the local",
    ),
    (["improve", "{nogrid.toml}", "--address", "auto"], "needs --engine ray"),
    (["check", *CSV, "--set", 'data.path="{tmp}/no.csv"'], "does not exist"),
    (["check", *CSV, "--set", 'data.path="{oneclass.csv}"'], "single class"),
    (["check", "{typo.toml}"], "Did you mean train.learning_rate?"),
    (["check", "{lion.toml}"], 'train.optimizer = "lion"'),
    (["run", "--set", 'data.path="reviews.csv'], "not a TOML value"),
    (["predict", "{tmp}/nosuch", "--text", "hi"], "not a finished run"),
    (["predict", "{text_run}", "{tmp}/no.csv"], "no.csv does not exist"),
    (["predict", "{text_run}", "--text", "a", "--out", "x.csv"], "CSV input"),
    (["predict", "{text_run}", "{nolabel.csv}", "--top-k", "2"], "--top-k"),
    (["predict", "{text_run}", "{tmp}/a.png"], "one .csv file"),
    (["lr-find", "--min-lr", "1", "--max-lr", "0.1"], "must be below"),
    (["lr-find", "--steps", "3"], "--steps"),
]


def folders(root):
    return {p for p in root.rglob("*") if p.is_dir()}


@pytest.mark.parametrize(
    "args, fragment", CASES, ids=[" ".join(a)[:60] for a, _ in CASES]
)
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(
    files, tmp_path, monkeypatch, args, fragment
):
    for name, path in files.items():
        args = [a.replace("{" + name + "}", path) for a in args]
    if args[0] in MAKERS:
        args += ["--runs-dir", files["runs"]]
    monkeypatch.chdir(tmp_path)
    before = folders(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and fragment in last, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert folders(tmp_path) == before


def test_typos_and_bad_data_answer_before_the_backend_loads(files):
    """A fresh process: the command refuses the input without importing
    Keras (which takes seconds), so a typo is answered at once."""
    script = (
        "import sys\n"
        "from kerastune_lab.cli.main import cli\n"
        "try:\n"
        "    cli(sys.argv[1:])\n"
        "except SystemExit as stop:\n"
        "    print(stop.code, 'keras' in sys.modules)\n"
    )
    for args in (
        ["run", "--bogus"],
        ["run", "--set", "train.lr=1"],
        ["run", *CSV, "--set", f'data.path="{files["oneclass.csv"]}"'],
        ["finetune", "--weights", "no.weights.h5"],
        ["compare", files["typo.toml"]],
        ["predict", files["text_run"], "no.csv"],
        ["predict", "no_run", "--text", "hi"],
    ):
        out = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            timeout=120,
        )
        assert out.stdout.split() == ["2", "False"], (args, out.stderr)
