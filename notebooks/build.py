"""Execute the notebooks and write them with their outputs.

Each notebook is kept twice: ``NN_name.py``, a jupytext percent-format
script (the file to edit and review), and ``NN_name.ipynb``, the same cells
run on a fresh kernel, with their outputs. This script makes the second from
the first::

    python notebooks/build.py            # every notebook
    python notebooks/build.py 03 05      # those whose name starts so

It runs each script in the ``notebooks`` folder on a new ``python3`` kernel
and stops at the first cell that raises. ``tests/test_notebooks.py`` runs
the scripts the same way and checks that each ``.ipynb`` holds the cells of
its script, all executed.
"""

import os
import sys
import time
from pathlib import Path

import jupytext
import nbclient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Seconds one cell may take before the run is abandoned.
CELL_TIMEOUT = 600


def scripts(prefixes=()):
    """The notebooks' scripts, in order, limited to names starting with one
    of `prefixes` when any are given."""
    found = sorted(HERE.glob("[0-9][0-9]_*.py"))
    if prefixes:
        found = [p for p in found if p.name.startswith(tuple(prefixes))]
    return found


def execute(script, workdir):
    """The notebook of `script`, run on a fresh kernel in `workdir`.

    The kernel imports ``hessian_ref`` from this checkout (its root goes
    first on ``PYTHONPATH``), whichever copy is installed. Cells get ids
    from their position and no execution timestamps, so that a rebuild
    changes only what the cells print.
    """
    notebook = jupytext.read(script)
    for k, cell in enumerate(notebook.cells):
        cell.id = f"cell-{k:03d}"
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        record_timing=False, resources={"metadata": {"path": str(workdir)}})
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    client.execute(env={**os.environ, "PYTHONPATH": path})
    return notebook


def main(argv):
    chosen = scripts(argv)
    if not chosen:
        print(f"no notebook matches {argv}", file=sys.stderr)
        return 2
    for script in chosen:
        start = time.perf_counter()
        notebook = execute(script, HERE)
        target = script.with_suffix(".ipynb")
        jupytext.write(notebook, target)
        print(f"wrote {target.relative_to(HERE.parent)} "
              f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
