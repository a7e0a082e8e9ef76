"""GPU hosts, tested on the CPU with a fake `nvidia-smi` on PATH: which
GPUs are visible, how the local pool's workers and Ray's trials share
them (the environment each process gets, and what its run's config.json
records), and what a run that runs out of GPU memory says."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner
from tiny_study import TINY_GRU, run_compare

from kerastune_lab.cli.main import cli
from kerastune_lab.devices import training_device as training_device_module
from kerastune_lab.devices import visible_gpus as visible_gpus_module
from kerastune_lab.devices.gpu_memory_share import apply_gpu_memory_share
from kerastune_lab.devices.visible_gpus import visible_gpus
from kerastune_lab.engine import local_pool
from kerastune_lab.engine.gpu_slots import GpuSlots
from kerastune_lab.engine.local_pool import LocalPool
from kerastune_lab.engine.ray_engine import share_trial_gpu
from kerastune_lab.engine.run_worker import failure_message
from kerastune_lab.errors import UserError

H200_MIB = 143771
UUIDS = ("GPU-aaaa1111-2222-3333-4444-555566667777", "GPU-bbbb8888-9999")
# What `nvidia-smi --query-gpu=index,uuid,name,memory.total
# --format=csv,noheader,nounits` prints on a host with two H200s; any
# other question fails, as a real nvidia-smi's would differ.
FAKE_NVIDIA_SMI = f"""#!/bin/sh
[ "$1" = "--query-gpu=index,uuid,name,memory.total" ] || exit 64
[ "$2" = "--format=csv,noheader,nounits" ] || exit 64
echo "0, {UUIDS[0]}, NVIDIA H200, {H200_MIB}"
echo "1, {UUIDS[1]}, NVIDIA H200, {H200_MIB}"
"""


def fake_nvidia_smi(folder, monkeypatch, script=FAKE_NVIDIA_SMI):
    """Puts `script` first on PATH as nvidia-smi."""
    folder.mkdir(exist_ok=True)
    path = folder / "nvidia-smi"
    path.write_text(script)
    path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def two_gpus(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path / "bin", monkeypatch)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.mark.parametrize(
    "selection, ids",
    [
        (None, ["0", "1"]),
        ("1", ["1"]),
        ("1,0", ["1", "0"]),
        (UUIDS[1][:8], ["1"]),  # a unique UUID prefix
        ("0,5,1", ["0"]),  # CUDA stops at the first invalid entry
        ("", []),
        ("-1", []),
        ("MIG-1a2b3c", ["MIG-1a2b3c"]),
    ],
)
def test_visible_gpus_apply_cuda_visible_devices(two_gpus, selection, ids):
    environ = {} if selection is None else {"CUDA_VISIBLE_DEVICES": selection}
    gpus = visible_gpus(environ)
    assert [gpu.id for gpu in gpus] == ids
    for gpu in gpus:
        if gpu.id.isdigit():
            assert gpu.name == "NVIDIA H200"
            assert gpu.memory_mib == H200_MIB
            assert gpu.uuid == UUIDS[int(gpu.id)]


@pytest.mark.parametrize(
    "script",
    ["#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n", "#!/bin/sh\n"],
)
def test_a_failing_nvidia_smi_means_no_gpus(tmp_path, monkeypatch, script):
    fake_nvidia_smi(tmp_path, monkeypatch, script)
    assert visible_gpus({}) == []


def test_a_hanging_or_missing_nvidia_smi_means_no_gpus(tmp_path, monkeypatch):
    fake_nvidia_smi(tmp_path, monkeypatch, "#!/bin/sh\nsleep 30\n")
    monkeypatch.setattr(visible_gpus_module, "NVIDIA_SMI_TIMEOUT_S", 0.5)
    assert visible_gpus({}) == []
    monkeypatch.setattr(visible_gpus_module, "NVIDIA_SMI", "no-such-smi")
    assert visible_gpus({}) == []


def fraction(share):
    """The allocator's fraction for `share` of an H200, computed here
    independently: the share less 2 GiB for the CUDA context."""
    return round(share - 2048 / H200_MIB, 3)


@pytest.mark.parametrize(
    "jobs, runs_per_gpu, expected_jobs, per_gpu",
    [
        (None, None, 4, 2),  # the default: 2 runs on each GPU
        (None, 3, 6, 3),
        (3, None, 3, 2),  # --jobs alone: what it puts on a GPU
        (1, 4, 1, 4),
    ],
)
def test_slots_pin_workers_round_robin_with_their_share(
    two_gpus, jobs, runs_per_gpu, expected_jobs, per_gpu
):
    slots = GpuSlots.plan(visible_gpus({}), jobs, runs_per_gpu)
    environments = slots.environments()
    assert slots.jobs == len(environments) == expected_jobs
    assert [env["CUDA_VISIBLE_DEVICES"] for env in environments] == [
        str(slot % 2) for slot in range(expected_jobs)
    ]
    for env in environments:
        assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == fraction(
            1 / per_gpu
        )
        assert env["KERASTUNE_LAB_GPU_MEMORY_MIB"] == str(H200_MIB)
    assert f"up to {per_gpu} per GPU" in slots.describe()


def test_a_worker_alone_on_its_gpu_keeps_the_backends_defaults(two_gpus):
    slots = GpuSlots.plan(visible_gpus({}), runs_per_gpu=1)
    assert slots.environments() == [
        {"CUDA_VISIBLE_DEVICES": gpu, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        for gpu in ("0", "1")
    ]
    line = slots.describe()
    assert "with its backend's default use of its memory" in line


def test_jobs_beyond_runs_per_gpu_are_refused(two_gpus):
    with pytest.raises(UserError, match="--jobs 5 puts 3 runs on a GPU"):
        GpuSlots.plan(visible_gpus({}), jobs=5, runs_per_gpu=2)


def run_two_runs(tmp_path, *args):
    """`compare` of a tiny study of two one-epoch runs, with `args`."""
    study = tmp_path / "study.toml"
    study.write_text(
        TINY_GRU.replace("epochs = 2", "epochs = 1")
        + '[grid]\n"lr_adapt.mode" = ["none", "sd2"]\n'
    )
    return run_compare(study, tmp_path / "runs", "--seeds", "1", *args)


def test_compare_pins_each_worker_to_a_gpu(tmp_path, two_gpus):
    """On this CPU host each worker's backend finds no GPU, which its
    run's config.json says."""
    lines, out = run_two_runs(tmp_path, "--jobs", "2", "--runs-per-gpu", "2")
    # Two workers, one on each GPU, each with half of its memory.
    assert lines[0] == (
        "GPUs: 2 (NVIDIA H200); 2 run(s) at once, up to 2 per GPU, each "
        f"pinned to one GPU with {fraction(0.5):.1%} of its memory "
        "(--runs-per-gpu)"
    )
    records = [
        json.loads(path.read_text())
        for path in sorted(out.glob("runs/*/config.json"))
    ]
    assert len(records) == 2
    assert {r["cuda_visible_devices"] for r in records} == {"0", "1"}
    for record in records:
        assert record["gpu_memory_fraction"] == fraction(0.5)
        assert record["device"] == "cpu"
        assert record["device_note"].startswith(
            "1 NVIDIA GPU(s) visible (NVIDIA H200), but the "
            f"{record['backend']} backend found none"
        )


class StubWorker:
    """Stands for a worker process: remembers its environment and slot."""

    def __init__(self, context, environment, slot=0):
        self.environment, self.slot = environment, slot

    def stop(self):
        pass


def test_a_replaced_worker_takes_over_the_freed_slot(monkeypatch):
    monkeypatch.setattr(local_pool, "_Worker", StubWorker)
    slots = [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    pool = LocalPool(2, {"SHARED": "1"}, worker_environments=slots)
    first, second = pool._worker(), pool._worker()
    assert [first.slot, second.slot] == [0, 1]
    assert second.environment == {"SHARED": "1", **slots[1]}
    pool._stop(first)  # recycled or failed
    third = pool._worker()
    assert third.slot == 0 and third.environment["CUDA_VISIBLE_DEVICES"] == "0"
    pool._stop(second)
    pool._stop(third)
    assert sorted(pool._free_slots) == [0, 1]
    with pytest.raises(ValueError, match="one environment per job"):
        LocalPool(3, worker_environments=slots)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "5", "--runs-per-gpu", "2"], "Raise --runs-per-gpu"),
        (["--engine", "ray", "--runs-per-gpu", "2"], "--runs-per-gpu sets"),
        (["--runs-per-gpu", "0"], "x>=1"),
    ],
)
def test_bad_gpu_options_exit_2(tmp_path, two_gpus, args, message):
    study = tmp_path / "study.toml"
    study.write_text(TINY_GRU + '[grid]\n"lr_adapt.mode" = ["none"]\n')
    result = CliRunner().invoke(
        cli, ["compare", str(study), "--runs-dir", str(tmp_path), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_gpu_reported_by_the_backend_is_named_by_its_host_id(monkeypatch):
    monkeypatch.setattr(
        training_device_module,
        "_backend_device",
        lambda backend: ("gpu", 1, "NVIDIA H200"),
    )
    record = training_device_module.training_device(
        {
            "CUDA_VISIBLE_DEVICES": "2,3",
            "KERASTUNE_LAB_GPU_MEMORY_FRACTION": "0.236",
        }
    )
    assert record == {
        "device": "gpu:3 NVIDIA H200",
        "cuda_visible_devices": "2,3",
        "gpu_memory_fraction": 0.236,
    }


def test_tensorflow_gets_its_share_as_a_memory_limit(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    monkeypatch.setattr("keras.backend.backend", lambda: "tensorflow")
    gpu = tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda kind=None: [gpu] if kind == "GPU" else [],
    )
    limits, growth = [], []
    monkeypatch.setattr(
        tf.config,
        "set_logical_device_configuration",
        lambda device, configs: limits.append((device, configs)),
    )
    monkeypatch.setattr(
        tf.config.experimental,
        "set_memory_growth",
        lambda device, on: growth.append((device, on)),
    )
    environ = {
        "KERASTUNE_LAB_GPU_MEMORY_FRACTION": "0.486",
        "KERASTUNE_LAB_GPU_MEMORY_MIB": str(H200_MIB),
    }
    applied = apply_gpu_memory_share(environ)
    assert applied == {"tensorflow_memory_limit_mib": 69872}  # 0.486 x MiB
    assert limits == [(gpu, [tf.config.LogicalDeviceConfiguration(69872)])]
    # A GPU of unknown size (a MIG instance): memory growth instead.
    del environ["KERASTUNE_LAB_GPU_MEMORY_MIB"]
    assert apply_gpu_memory_share(environ) == {
        "tensorflow_memory_growth": True
    }
    assert growth == [(gpu, True)]
    assert apply_gpu_memory_share({}) == {}


def test_the_worker_applies_the_share_before_the_backend_starts(tmp_path):
    """In a fresh process, after the imports a worker makes and the share
    applied, TensorFlow still accepts a device configuration: its runtime
    has not started, so a GPU memory limit would take effect."""
    script = textwrap.dedent(
        """
        from kerastune_lab.load_backend_quietly import load_backend_quietly
        from kerastune_lab.devices.gpu_memory_share import (
            apply_gpu_memory_share,
        )

        load_backend_quietly()
        print(apply_gpu_memory_share())
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        print(len(tf.config.list_logical_devices("CPU")))
        """
    )
    env = dict(
        os.environ,
        KERAS_BACKEND="tensorflow",
        KERASTUNE_LAB_GPU_MEMORY_FRACTION="0.486",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=pathlib.Path(__file__).parents[1],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["{}", "2"]  # no GPU here: nothing set


def test_out_of_gpu_memory_names_the_setting_to_lower(monkeypatch):
    error = RuntimeError(
        "RESOURCE_EXHAUSTED: Out of memory while trying to allocate "
        "1073741824 bytes.\nBufferAssignment OOM Debugging."
    )
    monkeypatch.delenv("KERASTUNE_LAB_GPU_MEMORY_FRACTION", raising=False)
    plain = "RuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying "
    assert failure_message(error).startswith(plain)
    monkeypatch.setenv("KERASTUNE_LAB_GPU_MEMORY_FRACTION", "0.486")
    message = failure_message(error)
    assert message.startswith(
        "ran out of GPU memory with 48.6% of the GPU's memory: lower "
        "--runs-per-gpu"
    )
    assert plain in message and "\n" not in message
    assert failure_message(ValueError("bad")) == "ValueError: bad"


def test_a_ray_trial_limits_itself_to_its_share_of_the_gpu(two_gpus):
    # Ray shows a trial the GPU it reserved through CUDA_VISIBLE_DEVICES.
    environ = {"CUDA_VISIBLE_DEVICES": "1"}
    shared = share_trial_gpu(0.25, environ)
    assert environ == {"CUDA_VISIBLE_DEVICES": "1", **shared}
    assert float(shared["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == fraction(0.25)
    assert shared["KERASTUNE_LAB_GPU_MEMORY_MIB"] == str(H200_MIB)
    for whole_or_none in (0.0, 1.0, 2.0):
        unchanged = {"CUDA_VISIBLE_DEVICES": "1"}
        assert share_trial_gpu(whole_or_none, unchanged) == {}
        assert unchanged == {"CUDA_VISIBLE_DEVICES": "1"}
    assert share_trial_gpu(0.5, {"CUDA_VISIBLE_DEVICES": ""}) == {}


@pytest.mark.slow
@pytest.mark.ray
def test_ray_trials_on_a_shared_gpu_get_their_share(tmp_path, two_gpus):
    """A local Ray instance told it has one GPU (this host has none) runs
    two trials at --gpus-per-trial 0.5: Ray pins each to GPU 0, and each
    limits itself to half of it before its backend starts."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False
    )
    try:
        _, out = run_two_runs(
            tmp_path, "--engine", "ray", "--gpus-per-trial", "0.5"
        )
    finally:
        ray.shutdown()
    records = [
        json.loads(path.read_text()) for path in out.glob("runs/*/config.json")
    ]
    assert len(records) == 2
    for record in records:
        assert record["cuda_visible_devices"] == "0"
        assert record["gpu_memory_fraction"] == fraction(0.5)
        assert record["device"] == "cpu"
        assert "NVIDIA GPU(s) visible" in record["device_note"]
