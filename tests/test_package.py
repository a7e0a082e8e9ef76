"""The package as a library: importing it changes nothing outside it."""

import subprocess
import sys


def test_import_leaves_the_matplotlib_backend_alone():
    """A notebook's backend survives `import kerastune_lab...`: plots are
    drawn on matplotlib.figure.Figure objects, never through pyplot's
    global backend."""
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import kerastune_lab.training.run_experiment\n"
        "import kerastune_lab.comparison.aggregate\n"
        "import kerastune_lab.analysis.run_report\n"
        "import kerastune_lab.analysis.lr_range_test\n"
        "print(matplotlib.get_backend())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "svg"
