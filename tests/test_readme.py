"""The README stays true: every setting the service reads is documented there."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ENV_READERS = re.compile(r'env_\w+\(\s*"([A-Z][A-Z0-9_]+)"')


def test_every_environment_variable_is_in_the_readme_table():
    read = set(ENV_READERS.findall((ROOT / "config" / "settings.py").read_text()))
    table = (ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert len(read) > 20
    assert read - documented == set(), "document these in the README's settings table"


def test_readme_names_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
