"""Every user error of every command: exit 2, a message, no traceback."""

import pytest
from click.testing import CliRunner

from kerastune_lab.cli.main import cli


@pytest.fixture
def files(tmp_path):
    made = {}

    def write(name, text, mode="w"):
        path = tmp_path / name
        if mode == "wb":
            path.write_bytes(text)
        else:
            path.write_text(text)
        made[name] = str(path)

    write("malformed.toml", "[train\nepochs = 2\n")
    write("nogrid.toml", "[train]\nepochs = 1\n")
    write("empty.csv", "")
    write("nolabel.csv", "text,category\nhello,a\nbye,b\n")
    write("oneclass.csv", "text,label\nhello,a\nbye,a\n")
    write("latin1.csv", b"text,label\n" + b"caf\xe9,a\nbye,b\n", "wb")
    write("noloss.csv", "epoch,accuracy\n0,0.5\n")
    (tmp_path / "empty_folder").mkdir()
    made["empty_folder"] = str(tmp_path / "empty_folder")
    made["tmp"] = str(tmp_path)
    return made


CSV = ["--set", 'data.name="csv"']
MLM = ["--set", 'model.name="bert_mlm"']

CASES = [
    (["run", "--set", "train.lr=1"], "Unknown key train.lr"),
    (["run", "--set", "train.epochs=0"], "train.epochs = 0"),
    (["run", "--set", 'train.epochs="x"'], "expected an integer"),
    (["run", "--set", "train.batch_size=-5"], "train.batch_size = -5"),
    (["run", "--set", "train.learning_rate=-1"], "train.learning_rate"),
    (["run", "--set", "model.dropout_rate=2"], "<= 0.95"),
    (["run", "--set", 'train.optimizer="adamax"'], "'adamw'"),
    (["run", "--set", 'train.schedule="step"'], "'cosine'"),
    (["run", "--set", 'lr_adapt.mode="sd3"'], "'sd2'"),
    (["run", "--set", "lr_adapt.root=0"], "lr_adapt.root"),
    (["run", "--set", "trainer.epochs=1"], "unknown section [trainer]"),
    (["run", "--set", "train.epochs"], "SECTION.KEY=VALUE"),
    (["run", "--set", 'data.name="images"'], "data.name = 'images'"),
    (["run", "--set", 'lr_adapt.source="semantic"'], "bert_mlm"),
    (["run", "--set", "train.warmup_steps=100000"], "warmup_steps"),
    (["run", "missing.toml"], "does not exist"),
    (["run", "{malformed.toml}"], "not valid TOML"),
    (["run", *CSV, "--set", 'data.path="{empty.csv}"'], "no column"),
    (["run", *CSV, "--set", 'data.path="{nolabel.csv}"'], "no column 'label'"),
    (["run", *CSV, "--set", 'data.path="{oneclass.csv}"'], "single class"),
    (["run", *CSV, "--set", 'data.path="{latin1.csv}"'], "UTF-8"),
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
    (["diagnose", "{tmp}"], "not a run directory"),
    (["diagnose", "{noloss.csv}"], "no 'loss' column"),
    (["report", "{tmp}"], "neither a run directory"),
    (["compare", "{nogrid.toml}"], "no [grid]"),
    (["compare", "--seeds", "0"], "--seeds"),
    (["compare", "--worker-memory-growth", "-1"], "x>=0"),
    (
        ["compare", "--engine", "ray", "--worker-memory-growth", "0"],
        "--worker-memory-growth sets the local engine",
    ),
    (["lr-find", "--min-lr", "1", "--max-lr", "0.1"], "must be below"),
    (["lr-find", "--steps", "3"], "--steps"),
]


@pytest.mark.parametrize(
    "args, fragment", CASES, ids=[" ".join(a)[:60] for a, _ in CASES]
)
def test_bad_input_exits_2_with_a_message(files, args, fragment):
    for name, path in files.items():
        args = [a.replace("{" + name + "}", path) for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
