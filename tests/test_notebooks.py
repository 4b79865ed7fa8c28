"""The notebooks in notebooks/: stored without outputs, and every cell runs.

Each notebook is executed in a fresh python3 kernel with its own folder as working directory
and a small replicate count (``TRIALSIM_NOTEBOOK_REPLICATES``), as a reader would run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
REPLICATES = "200"
CELL_TIMEOUT_SECONDS = 300


def test_the_notebooks_exist() -> None:
    assert [path.name for path in PATHS] == [
        "01_quickstart.ipynb",
        "02_reproducing_2005.ipynb",
        "03_planning_the_followup.ipynb",
    ]


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.get('id')} has outputs"
            assert cell.execution_count is None, f"{path.name}: cell {cell.get('id')} was run"


@pytest.mark.parametrize("path", PATHS, ids=[path.stem for path in PATHS])
def test_runs_without_errors(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this process's environment.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TRIALSIM_NOTEBOOK_REPLICATES", REPLICATES)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell raised\n{error}")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert errors == []
    assert all(cell.execution_count is not None for cell in code)
    printed = "".join(
        out.get("text", "") for cell in code for out in cell.outputs if out.output_type == "stream"
    )
    assert "Traceback" not in printed
