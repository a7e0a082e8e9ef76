"""The package as a library: importing it changes nothing outside it."""

import ast
import pathlib
import subprocess
import sys

import kerastune_lab


def _printed(code):
    """What `code` prints in a fresh interpreter (which must succeed)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_import_leaves_the_matplotlib_backend_alone():
    """A notebook's backend survives `import kerastune_lab...`: plots are
    drawn on matplotlib.figure.Figure objects, never through pyplot's
    global backend."""
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import kerastune_lab.training.run_experiment\n"
        "import kerastune_lab.comparison.aggregate\n"
        "import kerastune_lab.reports.run_report\n"
        "import kerastune_lab.analysis.learning_rate_range\n"
        "print(matplotlib.get_backend())\n"
    )
    assert _printed(code) == "svg"


def test_checking_a_configuration_loads_no_keras():
    """Configurations (and the optimizer declarations they derive keys
    from) are checked without importing Keras, which the CLI and a
    study's parent process need to stay light."""
    code = (
        "import sys\n"
        "from kerastune_lab.config import load_experiment\n"
        "load_experiment(None, ['train.optimizer=\"momo\"'])\n"
        "print('keras' in sys.modules)\n"
    )
    assert _printed(code) == "False"


# docs/contributing/layout.md: each layer imports only the ones below it
# (the same layer too, between modules of one layer).
LAYERS = {
    **dict.fromkeys(
        (
            "errors",
            "choices",
            "optimizer_choice",
            "fields",
            "run_directory",
            "keras_internals",
            "load_backend_quietly",
            "toml_literal",
            "examples",  # the example experiment files (no code)
            "devices",
            "figures",
            "duration",
        ),
        0,
    ),
    **dict.fromkeys(
        (
            "analysis",
            "lr_adapt",
            "models",
            "optimizers",
            "schedules",
            "example_files",
            "run_table",
        ),
        1,
    ),
    **dict.fromkeys(("callbacks", "data", "study"), 2),
    **dict.fromkeys(("families", "statistics"), 3),
    **dict.fromkeys(("config", "reports"), 4),
    **dict.fromkeys(("training", "prediction"), 5),
    "engine": 6,
    "comparison": 7,
    "improvement": 8,
    "cli": 9,
}
# No exceptions: a family's knobs are passed into the diagnosis.
ALLOWED_UPWARD = set()


def test_each_layer_imports_only_the_layers_below_it():
    package = pathlib.Path(kerastune_lab.__file__).parent
    upward = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        top = name.split("/")[0].removesuffix(".py")
        if top not in LAYERS:  # __init__.py, __main__.py
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] != "kerastune_lab" or len(parts) < 2:
                    continue
                target = parts[1]
                if (
                    LAYERS.get(target, -1) > LAYERS[top]
                    and (name, target) not in ALLOWED_UPWARD
                ):
                    upward.append(f"{name} imports {module}")
    assert sorted(LAYERS) == sorted(
        p.name.removesuffix(".py")
        for p in package.iterdir()
        if not p.name.startswith("__") and p.name != "__pycache__"
    ), "a new top-level module needs its layer here and in the README"
    assert upward == []
