"""The notebooks are kept as jupytext scripts and executed here in quick mode, so they stay
true: a cell that raises fails the suite. ``make notebooks`` runs them in full mode.

One test class per notebook: with ``--dist loadscope`` a class is scheduled as a unit, so the
notebooks spread over the workers instead of running one after another on one of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import pytest

from nowcast.notebooks import NotebookMode, current_run, execute_notebook, notebook_paths

NOTEBOOKS = notebook_paths()
# notebooks that read the store's current run rather than fitting their own: they get a
# store that already holds one quick fit, as they would after notebook 2 or `nowcast run`
READS_A_RUN = {"03_hidden_inflow", "04_forecasts"}


def test_the_six_notebooks_are_there():
    stems = [p.stem for p in NOTEBOOKS]
    assert [s[:2] for s in stems] == ["01", "02", "03", "04", "05", "06"], stems


@pytest.fixture(scope="session")
def store_with_a_run(tmp_path_factory):
    """The bundled real data and one quick fit."""
    mode = NotebookMode(quick=True, store_dir=tmp_path_factory.mktemp("fitted") / "store")
    current_run(mode)
    return mode.store_dir


class NotebookChecks:
    path: Path

    def test_opens_with_its_question_and_ends_with_what_we_learned(self):
        cells = jupytext.read(self.path).cells
        markdown = [c.source for c in cells if c.cell_type == "markdown"]
        assert "Question" in markdown[0] or "?" in markdown[0]
        assert "What we learned" in markdown[-1]
        # the public API only: no private names of the package
        code = "\n".join(c.source for c in cells if c.cell_type == "code")
        assert "._" not in code.replace("__", "")

    def test_runs_in_quick_mode(self, tmp_path, request):
        store = tmp_path / "store"
        if self.path.stem in READS_A_RUN:
            shutil.copytree(request.getfixturevalue("store_with_a_run"), store)
        ipynb, html = execute_notebook(self.path, tmp_path / "out", quick=True, store_dir=store)
        nb = jupytext.read(ipynb)
        text = "".join(
            o.get("text", "")
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
        )
        assert "QUICK mode" in text  # the banner: a reader knows these are not the nowcast's
        assert html.stat().st_size > 0


for _path in NOTEBOOKS:
    _name = "TestNotebook" + "".join(w.title() for w in _path.stem.split("_"))
    globals()[_name] = type(_name, (NotebookChecks,), {"path": _path})
