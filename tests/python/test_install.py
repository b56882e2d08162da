"""`pip install .` in a brand-new virtual environment: the path a user takes."""
import os
import subprocess
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def clean_env():
    """The caller's environment without what would make the new venv's Python
    import another fasctrack (a developer's PYTHONPATH pointing at a build
    tree, a user site) or run another interpreter's library."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"):
        env.pop(key, None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.mark.slow
def test_pip_install_in_fresh_venv(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = clean_env()
    # The development venv runs numpy 2.x; this one pins numpy 1.x first, so
    # both major versions the package supports are exercised by the suite.
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "numpy>=1.24,<2", str(REPO)], capture_output=True,
                       text=True, timeout=1800, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    probe = (
        "import numpy as np, scipy.signal as ss, fasctrack\n"
        "rec = fasctrack.read(fasctrack.example_path())\n"
        "assert rec.n_channels == 8, rec\n"
        "sos = fasctrack.butter(4, [20, 450], 'bandpass', fs=rec.fs)\n"
        "assert np.allclose(sos, ss.butter(4, [20, 450], 'bandpass', output='sos', fs=rec.fs), rtol=1e-10)\n"
        "assert np.__version__.startswith('1.'), np.__version__\n"
        "y = fasctrack.sosfiltfilt(sos, rec.data)\n"
        "assert np.allclose(y, ss.sosfiltfilt(sos, rec.data), rtol=1e-9, atol=1e-9)\n"
        "print(fasctrack.__version__, fasctrack.__file__)\n"
    )
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert str(env_dir) in r.stdout  # imported from the new venv, not the source tree
    cli = env_dir / "bin" / "fasctrack"
    r = subprocess.run([str(cli), "info", str(REPO / "data" / "sub-01_ses-01_task-rest_emg.edf")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert "2048 Hz" in r.stdout
