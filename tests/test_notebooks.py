"""The teaching notebooks (``notebooks/``): each runs on a fresh kernel, and
each committed ``.ipynb`` holds the cells of its script, all executed.

A notebook asserts its own comparisons with dense computations, so running it
is the test of what it shows; a cell that raises fails here. The run happens
in a temporary directory, so nothing is written into the repository. Whether
the committed outputs are the ones a run gives today cannot be compared
exactly (timings differ from run to run); what is checked is that every code
cell of the script is in the ``.ipynb`` with the same source, in order, and
carries outputs from one run (execution counts 1, 2, 3, ... and no error).
``python notebooks/build.py`` rewrites them.
"""

import importlib.util
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build",
                                                  NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()
SCRIPTS = build.scripts()


def test_the_five_notebooks_are_there():
    assert [p.name[:2] for p in SCRIPTS] == ["01", "02", "03", "04", "05"]


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_committed_notebook_holds_the_script_executed(script):
    stored = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    assert _cells(stored) == _cells(jupytext.read(script)), (
        f"{script.name} and its .ipynb differ: run python notebooks/build.py "
        f"{script.name[:2]}")
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    for cell in code:
        assert not any(out.output_type == "error" for out in cell.outputs)
    # every notebook shows at least one figure
    assert any("image/png" in out.get("data", {})
               for cell in code for out in cell.outputs)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_fresh_kernel(script, tmp_path):
    notebook = build.execute(script, tmp_path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    assert list(tmp_path.iterdir()) == []  # a notebook writes no files


def test_notebooks_import_the_library_of_this_checkout(tmp_path, monkeypatch):
    # a kernel started in notebooks/ must not pick up another copy of the
    # library: here a decoy package that comes first on PYTHONPATH
    decoy = tmp_path / "decoy" / "hessian_ref"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(decoy.parent))
    probe = tmp_path / "99_probe.py"
    probe.write_text("# %%\nimport hessian_ref\nprint(hessian_ref.__file__)\n")
    notebook = build.execute(probe, tmp_path)
    printed = notebook.cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve().parent == NOTEBOOKS.parent / "hessian_ref"
