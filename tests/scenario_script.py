"""Runs a test scenario script in a fresh Python process."""

import json
import os
import pathlib
import subprocess
import sys

TESTS = pathlib.Path(__file__).resolve().parent


def run_scenario_script(name, **env):
    """Runs tests/<name> in a fresh Python (the backend and the logical
    devices are fixed when Keras starts) and returns its JSON output."""
    out = subprocess.run(
        [sys.executable, str(TESTS / name)],
        env=dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]),
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)
