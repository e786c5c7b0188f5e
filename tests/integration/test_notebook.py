"""examples/quickstart.ipynb runs as a user runs it: every cell in a real Jupyter kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def texts(cell, kind: str) -> list[str]:
    return [out.get("data", {}).get(kind, "") for out in cell.get("outputs", [])
            if out.output_type in ("display_data", "execute_result")]


def test_the_quickstart_notebook_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[1]))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    tune, frame, plot, model = code[1], code[2], code[3], code[4]

    # The progress: one display, updated in place, that ends saying the sweep is done.
    status = [t for t in texts(tune, "text/plain") if t]
    assert len(status) == 1 and status[0].startswith("done: 6 trials completed · best val_accuracy")
    printed = "".join(o.get("text", "") for o in tune.outputs if o.output_type == "stream")
    assert printed.count("trial ") >= 6 and "tuned vs defaults" in printed
    assert "<table" in texts(frame, "text/html")[0]  # the DataFrame
    assert any(texts(plot, "image/png"))  # the plot, inline
    loaded = "".join(o.get("text", "") for o in model.outputs if o.output_type == "stream")
    assert loaded.startswith("models:/quickstart/1: test accuracy")
    measured = loaded.split("(the sweep measured ")[1].split(")")[0]
    assert loaded.split("test accuracy ")[1].split()[0] == measured  # the same model
