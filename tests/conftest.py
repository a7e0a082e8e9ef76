import json
import os
import pathlib
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from scenario_script import run_scenario_script

REPO = pathlib.Path(__file__).resolve().parents[1]

# Helpers the tests import or run as scripts, not test modules (and no
# doctests): --doctest-modules would otherwise import them.
collect_ignore = [
    "mirrored_scenario.py",
    "optax_scenarios.py",
    "scenario_script.py",
    "sd_scenarios.py",
    "tensorflow_free_scenario.py",
    "text_data_arrays.py",
    "tiny_study.py",
]


@pytest.fixture
def repo():
    return REPO


@pytest.fixture(scope="session")
def tiny_local_study(tmp_path_factory):
    """The 2 x 2 x 2-seed tiny GRU study, run once by the local engine:
    (study file, runs dir, comparison dir)."""
    from tiny_study import GRID_2X2, TINY_GRU, run_compare

    root = tmp_path_factory.mktemp("local-study")
    study = root / "study.toml"
    study.write_text(TINY_GRU + GRID_2X2)
    _, out = run_compare(study, root / "runs", "--seeds", "2")
    return study, root / "runs", out


@pytest.fixture(scope="session")
def jax_results():
    """sd_scenarios.py's results on the JAX backend (with the optax
    comparisons), computed once per session."""
    pytest.importorskip("jax")
    return run_scenario_script("sd_scenarios.py", KERAS_BACKEND="jax")


@pytest.fixture(scope="session")
def mirrored_results():
    """mirrored_scenario.py's results (2 logical CPUs vs one), computed
    once per session."""
    return run_scenario_script("mirrored_scenario.py")


@pytest.fixture(scope="session")
def tensorflow_free(tmp_path_factory):
    """tensorflow_free_scenario.py on JAX, in a process where `import
    tensorflow` raises ImportError: (its report, its data arrays). Its
    two runs (a GRU on fortunes, a masked LM on pydoc) serve the predict
    tests too, reloaded in this process on this process's backend."""
    pytest.importorskip("jax")
    root = tmp_path_factory.mktemp("tensorflow-free")
    blocked = root / "blocked" / "tensorflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(
        'raise ImportError("TensorFlow is blocked in this test")\n'
    )
    arrays = root / "arrays.npz"
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "tensorflow_free_scenario.py"),
            str(arrays),
            str(root / "runs"),
        ],
        env=dict(
            os.environ,
            KERAS_BACKEND="jax",
            PYTHONPATH=os.pathsep.join(
                [str(blocked.parent), str(REPO), str(REPO / "tests")]
            ),
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), dict(
        np.load(arrays)
    )
