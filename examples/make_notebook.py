"""Build examples/quickstart.ipynb from examples/quickstart.py and execute it.

quickstart.py is the source: a plain script whose ``# %%`` lines split it
into cells (the "percent" format that VS Code, Spyder and Jupytext read).
After editing it, run ``python examples/make_notebook.py`` to rebuild the
notebook with fresh outputs, then copy the code into the README's "Python in
5 minutes" (tests/python/test_notebook.py checks all three agree).

Needs the ``notebook`` extra: ``pip install 'fasctrack[notebook]'``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "quickstart.py"
NOTEBOOK = HERE / "quickstart.ipynb"
KERNEL_NAME = "fasctrack-python"


def cells(script_text: str) -> List[Tuple[str, str]]:
    """Split a percent-format script into (kind, source) cells, kind 'code' or 'markdown'."""
    out: List[Tuple[str, List[str]]] = []
    for line in script_text.splitlines():
        if line.startswith("# %%"):
            out.append(("markdown" if "[markdown]" in line else "code", []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise ValueError("quickstart.py must start with a '# %%' cell marker")
    result = []
    for kind, lines in out:
        if kind == "markdown":
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines]
        result.append((kind, "\n".join(lines).strip("\n")))
    return result


def code_cells(script_text: str) -> List[str]:
    """The code cells' sources, in order."""
    return [src for kind, src in cells(script_text) if kind == "code"]


def build(script_text: str):
    """An unexecuted nbformat v4 notebook of the script's cells."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells(script_text)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def kernel_dir(python: str = sys.executable) -> str:
    """A Jupyter data directory with a kernelspec that runs ``python`` (the caller's environment).

    Put it first in JUPYTER_PATH and ask for KERNEL_NAME: the notebook then
    runs in this interpreter (e.g. the project's .venv), never in whatever
    'python3' kernel the machine happens to have registered.
    """
    root = Path(tempfile.mkdtemp(prefix="fasctrack-kernel-"))
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    # 80 dpi figures keep the stored notebook under a megabyte; inline plots, whatever MPLBACKEND says.
    (root / "matplotlibrc").write_text("figure.dpi: 80\n")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({python})", "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "MATPLOTLIBRC": str(root)},
    }))
    return str(root)


def _settle_streams(cell) -> None:
    """Merge a cell's consecutive stream outputs and apply carriage returns, as a terminal would.

    A progress bar redraws itself with '\\r' dozens of times; stored raw, every
    redraw is a separate output. Kept: what the reader would finally see
    (nothing, for a bar that clears itself when done).
    """
    merged = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and merged and merged[-1].output_type == "stream" \
                and merged[-1].name == out.name:
            merged[-1].text += out.text
        else:
            merged.append(out)
    for out in merged:
        if out.output_type == "stream":
            out.text = "\n".join(line.split("\r")[-1].rstrip() if "\r" in line else line
                                 for line in out.text.split("\n"))
    cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]


def execute(nb, cwd: Path, timeout: int = 600):
    """Run every cell in a kernel on this interpreter; raises on the first failing cell."""
    from nbclient import NotebookClient
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = kernel_dir() + (os.pathsep + old if old else "")
    try:
        NotebookClient(nb, timeout=timeout, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(cwd)}},
                       record_timing=False).execute()
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
    for cell in nb.cells:
        if cell.cell_type == "code":
            _settle_streams(cell)
    # Store the notebook under the generic kernel name so it opens anywhere.
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def main() -> None:
    import nbformat
    nb = execute(build(SCRIPT.read_text()), HERE)
    nbformat.write(nb, str(NOTEBOOK))
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
