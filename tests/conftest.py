"""Shared fixtures: the course root, synthetic notebooks, and a notebook runner.

The notebook runner starts the kernel of *this* Python environment (like nbval's
``--nbval-current-env``), so a user-level ``python3`` kernelspec that points at
another interpreter cannot hijack the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def course_root() -> Path:
    """The repository root (holds lessons/, solutions/, exercises/)."""
    return ROOT


def _cell(kind: str, source: str, *, grade_id: str | None = None, grade: bool = False,
          solution: bool = False, locked: bool = False, points: float | None = None,
          **metadata: Any) -> Any:
    """An nbformat cell; nbgrader schema-3 metadata when any flag or grade_id is given."""
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata.update(metadata)
    if grade_id is not None or grade or solution or locked:
        meta = {"schema_version": 3, "grade": grade, "solution": solution,
                "locked": locked, "grade_id": grade_id}
        if points is not None:
            meta["points"] = points
        cell.metadata["nbgrader"] = meta
    return cell


def _write_notebook(path: Path, cells: list, nb_id: str | None = "<stem>") -> Path:
    """Write ``cells`` as a notebook with course id ``nb_id`` (default: the file stem)."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if nb_id is not None:
        nb.metadata["rnn_tutor"] = {"id": path.stem if nb_id == "<stem>" else nb_id}
    for i, cell in enumerate(nb.cells):        # fixed ids: reproducible files
        cell.id = f"cell-{i + 1}"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def nb_cell() -> Callable[..., Any]:
    """Factory ``nb_cell("code" | "markdown", source, grade_id=..., grade=..., ...)``."""
    return _cell


@pytest.fixture
def write_notebook() -> Callable[..., Path]:
    """Factory ``write_notebook(path, cells, nb_id="<stem>")`` -> path."""
    return _write_notebook


def _current_env_kernel_manager():
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvSpecs())


def execute_notebooks(*jobs: tuple[Any, Path], timeout: int = 300) -> list[Any]:
    """Execute notebook nodes in memory, concurrently, each in its own kernel of this
    environment with errors allowed; ``jobs`` are ``(nb, cwd)`` pairs.  Returns the nbs."""
    import asyncio

    from nbclient import NotebookClient

    clients = [NotebookClient(nb, km=_current_env_kernel_manager(), timeout=timeout,
                              allow_errors=True, resources={"metadata": {"path": str(cwd)}})
               for nb, cwd in jobs]

    async def run_all() -> None:
        await asyncio.gather(*(c.async_execute() for c in clients))

    asyncio.run(run_all())
    return [nb for nb, _ in jobs]


@pytest.fixture(scope="session")
def run_notebooks() -> Callable[..., list[Any]]:
    """``run_notebooks((nb, cwd), ...)`` executes notebook nodes concurrently in memory
    (outputs land in the nodes; no file is written) and returns them."""
    return execute_notebooks
