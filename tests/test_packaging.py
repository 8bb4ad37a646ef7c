"""Packaging: pyproject.toml and environment.yml agree, the CLI is installed, and .ci/run
runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import rnn_tutor

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: pytest depends on tomli there
    import tomli as tomllib          # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# conda-forge names that differ from the PyPI ones
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}
CONDA_ONLY = {"python", "pip"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_deps() -> dict[str, SpecifierSet]:
    project = PYPROJECT["project"]
    deps: dict[str, SpecifierSet] = {}
    for line in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(line)
        name = _norm(req.name)
        assert name not in deps or deps[name] == req.specifier, (
            f"{req.name} appears twice in pyproject.toml with different ranges")
        deps[name] = req.specifier
    return deps


def _environment() -> tuple[dict[str, SpecifierSet], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"], env["channels"]
    conda: dict[str, SpecifierSet] = {}
    pip: list[str] = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            pip.extend(item.get("pip", []))
            continue
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(.*?)\s*", item)
        assert match, f"cannot parse environment.yml dependency {item!r}"
        name = _norm(CONDA_TO_PYPI.get(match[1], match[1]))
        if name not in CONDA_ONLY:
            conda[name] = SpecifierSet(match[2].replace(" ", ""))
    return conda, pip


def test_every_dependency_is_declared_with_a_range():
    for name, spec in _pyproject_deps().items():
        assert spec, f"{name} has no version range in pyproject.toml"
        assert not any(s.operator in ("==", "===") for s in spec), f"{name} is pinned: {spec}"


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    conda, _ = _environment()
    deps = _pyproject_deps()
    only_pyproject = sorted(set(deps) - set(conda))
    only_env = sorted(set(conda) - set(deps))
    assert not only_pyproject and not only_env, (
        f"pyproject.toml only: {only_pyproject}; environment.yml only: {only_env}")
    differ = {n: (str(deps[n]), str(conda[n])) for n in deps if deps[n] != conda[n]}
    assert not differ, f"version ranges differ (pyproject, environment.yml): {differ}"


def test_runtime_dependencies_are_those_of_the_course():
    runtime = {_norm(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert {"jupyterlab", "numpy", "matplotlib", "sympy", "ipywidgets"} <= runtime
    test = {_norm(Requirement(r).name)
            for r in PYPROJECT["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "nbval", "nbformat", "nbclient", "ipykernel", "pyyaml"} <= test


def test_environment_yml_installs_the_package_with_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    _, pip = _environment()
    assert any(re.fullmatch(r"(-e\s+)?\.(\[[a-z,]+\])?", p.strip()) for p in pip), pip
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{PYPROJECT['project']['requires-python']}"]


def test_console_script_and_version():
    assert PYPROJECT["project"]["scripts"] == {"rnn-tutor": "rnn_tutor.cli:main"}
    assert PYPROJECT["project"]["version"] == rnn_tutor.__version__
    from importlib.metadata import entry_points, version

    assert version("rnn-tutor") == rnn_tutor.__version__, "reinstall: pip install -e ."
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("rnn-tutor") == "rnn_tutor.cli:main"


def test_python_m_rnn_tutor_runs():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args, expected in ((["--help"], "release"), (["--version"], rnn_tutor.__version__)):
        proc = subprocess.run([sys.executable, "-m", "rnn_tutor", *args], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout


def test_pytest_runs_the_notebooks_with_nbval_lax():
    opts = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert opts["testpaths"] == ["tests", "lessons", "solutions"]
    assert "--nbval-lax" in opts["addopts"]
    assert any("bak" in o for o in opts["addopts"] if o.startswith("--ignore-glob"))


def test_pytest_collects_tests_and_notebooks_but_no_backups(tmp_path):
    """The repository's pytest configuration, applied to a miniature course."""
    import nbformat

    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text("utf-8"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    for name in ("lessons/01_a.ipynb", "solutions/01_a.ipynb", "exercises/01_a.ipynb",
                 "lessons/01_a.ipynb.bak-20250101-120000", "lessons/01_a.bak.ipynb",
                 "lessons/.ipynb_checkpoints/01_a-checkpoint.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, tmp_path / name)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    items = sorted(line for line in proc.stdout.splitlines() if "::" in line)
    assert items == ["lessons/01_a.ipynb::Cell 0", "solutions/01_a.ipynb::Cell 0",
                     "tests/test_x.py::test_x"], proc.stdout + proc.stderr


# ---------------------------------------------------------------- README and CI ----------

def _readme_quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quickstart\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Quickstart' section"
    quick = section[1].split("\n### ")[0]           # subsections (conda, Binder) excluded
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", quick, re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_readme_quickstart_has_exactly_two_commands():
    commands = _readme_quickstart()
    assert len(commands) == 2, commands
    open_lab, run_tests = commands
    # One command from a fresh clone: make the venv, install, open the course with the launcher
    # (which serves the course root and opens lesson 01; tests/test_lab.py, tests/browser).
    assert open_lab == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/rnn-tutor lab"
    assert '.[test]' in run_tests and run_tests.endswith("-m pytest")
    assert sorted((ROOT / "lessons").glob("01_*.ipynb")), "the quickstart opens lesson 01"


def test_readme_says_how_to_reach_rnn_tutor_and_windows():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = re.search(r"^## Quickstart\n(.*?)(?=^## )", text, re.M | re.S)[1]
    for needed in (".venv/bin/rnn-tutor", ".venv/bin/python -m rnn_tutor", "source .venv/bin/activate",
                   r".venv\Scripts\rnn-tutor lab", r".venv\Scripts\activate", "--allow-root"):
        assert needed in quick, f"the Quickstart does not mention {needed!r}"
    conda = re.findall(r"^conda env create .*$", quick, re.M)
    assert conda == ["conda env create -f environment.yml && conda activate rnn-tutor && rnn-tutor lab"]
    assert "rnn-tutor check" in text


def test_environment_yml_says_how_to_open_the_course():
    head = (ROOT / "environment.yml").read_text(encoding="utf-8").split("name:")[0]
    assert "conda activate rnn-tutor && rnn-tutor lab" in head


def test_binder_opens_lesson_01_with_the_file_browser_at_the_root_like_rnn_tutor_lab():
    from urllib.parse import parse_qs, urlsplit

    from rnn_tutor.lab import first_lesson
    from rnn_tutor.labstart import lab_url

    lesson = first_lesson(ROOT).relative_to(ROOT).as_posix()
    expected = lab_url("", lesson).lstrip("/")        # where `rnn-tutor lab`'s start URL leads
    assert expected == f"lab/tree/{lesson}?file-browser-path=/"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    binder = re.search(r"^\[Binder\]\(https://mybinder.org\).*?(?=^$)", readme, re.M | re.S)[0]
    assert f"`{expected}`" in binder                  # the path typed into mybinder.org's form
    links = re.findall(r"`(https://mybinder\.org/v2/[^`]+)`", binder)
    assert [parse_qs(urlsplit(link).query) for link in links] == [{"urlpath": [expected]}]
    head = (ROOT / "environment.yml").read_text(encoding="utf-8").split("name:")[0]
    assert expected in head


def test_the_cli_offers_lab_and_check():
    from rnn_tutor.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"lab", "check", "release", "grade"} <= set(sub.choices)


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert os.access(ROOT / ".ci" / "run", os.X_OK), ".ci/run is not executable"
    assert "set -euo pipefail" in script
    lines = [ln.strip() for ln in script.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[-1] == _readme_quickstart()[1]


def test_readme_maps_every_lesson():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lessons = sorted((ROOT / "lessons").glob("*.ipynb"))
    assert lessons, "lessons/ holds no notebooks"
    missing = [p.name for p in lessons if f"(lessons/{p.name})" not in text
               or f"(exercises/{p.stem}_exercises.ipynb)" not in text]
    assert not missing, f"README.md's lesson map lacks {missing}"


def test_backups_and_checkpoints_are_ignored_by_git():
    patterns = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "*.ipynb.bak*" in patterns and ".ipynb_checkpoints/" in patterns
