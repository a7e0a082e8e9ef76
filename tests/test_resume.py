"""Crash safety: SIGKILL mid-epoch, then `run --resume`."""

import json
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from kerastune_lab.cli.main import cli
from kerastune_lab.run_directory import RunDirectory, read_csv_columns

ARGS = [
    "--set",
    "model.gru_units=16",
    "--set",
    "train.epochs=6",
    "--set",
    "train.patience=2",
    "--set",
    "model.dropout_rate=0.3",
    "--set",
    "data.sequence_length=32",
    "--verbose",
    "0",
]


def kerastune(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "kerastune_lab", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kwargs,
    )


def epochs_logged(run_dir):
    path = run_dir / "history.csv"
    return len(path.read_text().splitlines()) - 1 if path.is_file() else 0


def test_sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run(
    tmp_path,
):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert kerastune("run", *ARGS, "--run-dir", str(full)).wait() == 0

    process = kerastune("run", *ARGS, "--run-dir", str(killed))
    deadline = time.time() + 300
    while epochs_logged(killed) < 2 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert epochs_logged(killed) < 6
    # What the crash left is a valid, marked-incomplete run directory.
    assert (
        json.loads((killed / "status.json").read_text())["state"] == "running"
    )
    assert not (killed / "metrics.json").exists()
    read_csv_columns(killed / "history.csv")

    result = CliRunner().invoke(cli, ["run", "--resume", str(killed)])
    assert result.exit_code == 0, result.output
    assert "Resuming after epoch" in result.output
    a = read_csv_columns(full / "history.csv")
    b = read_csv_columns(killed / "history.csv")
    assert a["epoch"] == b["epoch"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # Same process layout, same ops, same inputs (data order and dropout
    # are keyed by (seed, epoch); weights, Adam state and step count come
    # from the backup): the runs agree to float32 rounding.
    for key in ("loss", "val_loss", "val_accuracy"):
        for x, y in zip(a[key], b[key]):
            assert abs(x - y) <= 1e-6 * max(1.0, abs(x)), key
    steps_a = read_csv_columns(full / "steps.csv")
    steps_b = read_csv_columns(killed / "steps.csv")
    assert steps_a["step"] == steps_b["step"]
    assert (
        json.loads((killed / "status.json").read_text())["state"] == "complete"
    )
    assert not (killed / "backup").exists()


def test_resume_of_a_complete_run_or_a_non_run(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.output
    done = tmp_path / "done"
    done.mkdir()
    (done / "config.json").write_text('{"config": {}}')
    (done / "metrics.json").write_text("{}")
    result = CliRunner().invoke(cli, ["run", "--resume", str(done)])
    assert result.exit_code == 0 and "already complete" in result.output


def test_a_run_claimed_by_a_live_process_is_not_taken(tmp_path):
    run_dir = tmp_path / "cell-seed1"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from kerastune_lab.run_directory import RunDirectory\n"
            f"assert RunDirectory({str(run_dir)!r}).claim()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not RunDirectory(run_dir).claim()
    finally:
        holder.kill()
        holder.wait()
    # Its owner died: the system released the lock.
    run = RunDirectory(run_dir)
    assert run.claim() and run.claim()  # held: claiming again is a no-op
    run.release()
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kerastune_lab.run_directory import RunDirectory\n"
            f"print(RunDirectory({str(run_dir)!r}).claim())",
        ],
        capture_output=True,
        text=True,
    )
    assert other.stdout.strip() == "True"
