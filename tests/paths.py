"""Where the suite finds its files: the repository's own, and the real exports beside it.

The real exports are third-party files kept outside the repository (``../shared/real-samples`` by
default, or wherever ``KPI_REAL_SAMPLES`` points); tests that read them take the ``real_samples``
fixture and carry the ``real_samples`` marker (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
BAD_INPUTS = ROOT / "tests" / "bad_inputs"
APP = ROOT / "dashboard" / "app.py"
REAL_SAMPLES = Path(os.environ.get("KPI_REAL_SAMPLES") or ROOT.parent / "shared" / "real-samples")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
