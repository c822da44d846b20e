# SPDX-License-Identifier: Apache-2.0
"""The compat tests' fixtures and helpers live in tests/pylib/coffer_testlib.py (shared with
tests/compat); this file puts that folder on sys.path and re-exports everything, so that tests can
`from conftest import ...` and pytest finds the fixtures."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))

from coffer_testlib import *  # noqa: E402,F401,F403
from coffer_testlib import _Factory  # noqa: E402,F401
