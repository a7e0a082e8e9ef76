import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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
