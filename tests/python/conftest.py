import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL_DATA = (REPO.parent / "shared" / "data" / "real").resolve()
EXAMPLE = REPO / "data" / "sub-01_ses-01_task-rest_emg.edf"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"real test recordings not found at {REAL_DATA}")
    return REAL_DATA


@pytest.fixture(scope="session")
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def cli() -> str:
    """The fasctrack command: $FASCTRACK_CLI (the C++ build tree) or the one pip installed."""
    path = os.environ.get("FASCTRACK_CLI") or shutil.which("fasctrack", path=str(Path(sys.executable).parent))
    if not path:
        pytest.fail("fasctrack command not found: set FASCTRACK_CLI or pip install the package")
    return path
