"""What the tests need, built here when it is not given.

- ``test_data``: the C suites' data (a bank and a police snapshot, a chain of 20 deltas, a
  publish folder), written by the Rust example ``make_test_data``. ``IDCARD_TEST_DATA`` names an
  existing copy (``scripts/test-all.sh`` passes the one it made for the C suites); otherwise it
  is built into a temporary directory with ``cargo``.
- ``idcard_cli``: the ``idcard`` binary, to make a journal. ``IDCARD_CLI`` names it; otherwise it
  is built with ``cargo`` (the workspace's debug build).

So ``python -m pytest bindings/python/tests`` works from a checkout with nothing set.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _cargo(*args: str) -> None:
    subprocess.run(["cargo", *args], cwd=ROOT, check=True)


@pytest.fixture(scope="session")
def test_data(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    given = os.environ.get("IDCARD_TEST_DATA")
    if given:
        return pathlib.Path(given)
    d = tmp_path_factory.mktemp("c-suite-data")
    _cargo("run", "--locked", "-q", "-p", "idcard-ffi", "--example", "make_test_data", "--", str(d))
    return d


@pytest.fixture(scope="session")
def idcard_cli() -> str:
    given = os.environ.get("IDCARD_CLI")
    if given:
        return given
    _cargo("build", "--locked", "-q", "-p", "idcard-cli")
    return str(ROOT / "target" / "debug" / "idcard")
