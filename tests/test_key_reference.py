"""The docs' key reference is generated from the fields themselves: every
key of every section must be there, with words a user can read."""

import dataclasses
import importlib.util
import pathlib

from kerastune_lab.config import run_sections
from kerastune_lab.config.key_reference import reference_sections
from kerastune_lab.families.registry import FAMILIES


def test_every_experiment_key_is_documented():
    undocumented = [
        f"{section.title} {row.key}"
        for section in reference_sections()
        for row in section.rows
        if not row.doc.strip()
    ]
    assert undocumented == []


def test_the_reference_lists_every_key_of_every_section():
    listed = {
        section.title: {row.key for row in section.rows}
        for section in reference_sections()
    }
    expected = {
        "[data]": run_sections.DataConfig,
        "[train]": run_sections.TrainConfig,
        "[lr_adapt]": run_sections.LrAdaptConfig,
        **{f'[model] name = "{n}"': f.params for n, f in FAMILIES.items()},
    }
    for title, cls in expected.items():
        assert listed[title] == {f.name for f in dataclasses.fields(cls)}


def test_defaults_and_ranges_read_as_a_user_writes_them():
    train = next(s for s in reference_sections() if s.title == "[train]")
    rows = {row.key: row for row in train.rows}
    assert rows["optimizer"].default == '"adam"'
    assert rows["early_stopping"].default == "true"
    assert rows["learning_rate"].allowed == "a number > 0"
    assert rows["epochs"].allowed == "an integer >= 1"


def test_the_committed_page_is_what_the_generator_writes():
    """docs/reference/experiment-keys.md is committed (it reads in the
    repository); regenerate it with `python docs_gen/experiment_keys.py`
    after changing a key."""
    script = pathlib.Path(__file__).parent.parent / "docs_gen"
    spec = importlib.util.spec_from_file_location(
        "experiment_keys", script / "experiment_keys.py"
    )
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.PAGE.read_text() == generator.page_text(), (
        "run: python docs_gen/experiment_keys.py"
    )
