# SPDX-License-Identifier: Apache-2.0
"""The compat tests' fixtures and helpers live in tests/pylib/coffer_testlib.py (shared with
tests/integration); this file puts that folder on sys.path and re-exports everything, so that
pytest finds the fixtures (the tests import helpers from coffer_testlib directly)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pylib"))

from coffer_testlib import *  # noqa: E402,F401,F403
from coffer_testlib import _Factory  # noqa: E402,F401
