"""examples/quickstart: the notebook executes without error in this interpreter's kernel, and the
notebook, the script and the README's "Python in 5 minutes" are the same code."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(EXAMPLES))
import make_notebook  # noqa: E402


@pytest.fixture(scope="module")
def script_text():
    return (EXAMPLES / "quickstart.py").read_text()


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(str(EXAMPLES / "quickstart.ipynb"), as_version=4)


def _readme_block():
    text = (REPO / "README.md").read_text()
    section = re.search(r"^## Python in 5 minutes\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README has no '## Python in 5 minutes' section"
    blocks = re.findall(r"```python\n(.*?)```", section.group(1), re.S)
    assert len(blocks) == 1, "the section should hold exactly one python block"
    return blocks[0].rstrip("\n")


def test_notebook_is_built_from_the_script(script_text, notebook):
    built = make_notebook.build(script_text)
    assert [(c.cell_type, c.source) for c in notebook.cells] == [(c.cell_type, c.source) for c in built.cells]


def test_readme_python_in_5_minutes_is_the_notebook_code(script_text):
    assert _readme_block() == "\n\n".join(make_notebook.code_cells(script_text))


def test_committed_notebook_is_executed_and_clean(notebook):
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stderr")
    assert not re.search(r"warning|error|traceback", stderr, re.I), stderr  # progress bars only
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 6


def test_notebook_runs_in_this_interpreters_kernel(notebook, tmp_path):
    nb = nbformat.from_dict(notebook)
    for cell in nb.cells:
        cell.outputs = []
    # The kernel must be this interpreter (the project's .venv under ./dev test), not any 'python3' kernel.
    probe = "import sys, fasctrack\nprint(sys.executable)\nprint(fasctrack.__file__)"
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    make_notebook.execute(nb, tmp_path)  # raises CellExecutionError on any failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert sys.executable in text.splitlines()
    import fasctrack
    assert os.path.dirname(fasctrack.__file__) == os.path.dirname(text.splitlines()[-1])
    assert re.search(r"<DetectionResult: \d+ event\(s\), \d+ unit\(s\), rate", text)
    assert "8 channel(s) x 122880 samples at 2048 Hz" in text
    assert re.search(r"<PatternReport sim-01: WARNING", text)
    images = [c for c in code if any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert len(images) >= 6  # traces, waveforms, raster, distributions, MNE browser, rate timeline
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_script_runs_as_a_plain_python_script(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "<DetectionResult:" in proc.stdout and "FP/unit0" in proc.stdout and "<PatternReport" in proc.stdout
