"""Every lesson in lessons/ runs in real JupyterLab, and its explorers respond.

For each ``lessons/*.ipynb`` (collected from the glob, so new lessons are
covered automatically) the lesson is opened in headless Chromium from a
temporary copy, "Restart Kernel and Run All Cells" is run, and the test checks
what a learner would see: no error output (except cells tagged
``raises-exception``), every widget rendered, every figure a loaded image,
every formula typeset.  A screenshot goes to ``test-artifacts/browser/``.

The interaction tests move the explorers' controls in the page as a learner
would (arrow keys on a slider handle, picking a dropdown option) and check that
the readouts change, and agree with the controls.  Explorer tests so far:
01 (slider "t" -> h_t), 02 ("activation" + "w_h scale" -> max |h_t|),
05 ("σ_max" + "activation" -> ‖∂h_T/∂h_1‖ and its bound); every other slider,
dropdown, toggle and checkbox of every lesson is probed generically.

Then, for every lesson, its closing "Exercise NN" link is clicked: it must open
``exercises/NN_..._exercises.ipynb``, where a wrong answer to the first task (made
from the solution by :mod:`wrong_answers`) must show the check's hint in at most
8 lines, without library frames.  The server is the README's first command, run
from a fresh clone (:mod:`readmelab`).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

import labdriver
from wrong_answers import first_task, wrong_answer

LESSONS_DIR = labdriver.REPO / "lessons"
LESSONS = sorted(p.stem for p in LESSONS_DIR.glob("*.ipynb"))

_WIDGET_CODE = re.compile(r"\bipywidgets\b|\bwidgets\.|\binteract(?:ive)?\b|_explorer\b|Explorer\(")
_PLOT_CODE = re.compile(r"\brnn_tutor\.plots\b|\bfrom rnn_tutor(?:\.plots)? import\b.*\b(?:plot|draw)_|\bplt\.|\bplots\.")
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)"


@pytest.fixture(autouse=True)
def _advance_background_lessons(lesson_pages):
    """Between tests, move the lesson that loads in the background along."""
    lesson_pages.advance()
    yield
    lesson_pages.advance()


def _code(lesson: str) -> str:
    nb = json.loads((LESSONS_DIR / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


def _lesson(pages, name: str):
    if not (LESSONS_DIR / f"{name}.ipynb").exists():
        pytest.skip(f"lessons/{name}.ipynb has not been written yet")
    return pages.get(name)


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_runs_and_renders_in_jupyterlab(lesson: str, lesson_pages, artifacts_dir: Path) -> None:
    """Restart and Run All: no error, every widget/figure/formula rendered; save a screenshot."""
    run = lesson_pages.get(lesson)
    problems = run.wait_rendered(timeout=30)
    run.screenshot(artifacts_dir / f"{lesson}.png")

    cells = run.cells
    images = [i for c in cells if c["type"] == "code" for i in c["images"] if i["complete"] and i["w"] > 0]
    widget_views = sum(c["widgetViews"] for c in cells if c["type"] == "code")
    code = _code(lesson)
    if _WIDGET_CODE.search(code) and widget_views == 0:
        problems.append("the lesson creates widgets, but no .jupyter-widgets view rendered")
    if _PLOT_CODE.search(code) and not images:
        problems.append("the lesson draws figures, but no image rendered")
    stderr = [
        f"cell {c['index']}: {o['text'][:200]!r}"
        for c in cells
        if c["type"] == "code"
        for o in c["outputs"]
        if o["type"] == "stream" and o["name"] == "stderr"
    ]
    if stderr:  # warnings a learner sees are worth knowing about, but not an error
        warnings.warn(f"{lesson}: output on stderr: {stderr}", stacklevel=1)
    if run.console_errors:
        problems.append(f"JavaScript errors in the page: {run.console_errors[:5]}")

    assert not problems, f"{lesson} in JupyterLab ({run.seconds:.1f} s):\n  " + "\n  ".join(problems)


def test_repo_lessons_are_untouched(lesson_pages) -> None:
    """The server serves a temporary copy with autosave off; the committed lessons stay byte-identical.

    Runs after the lessons (see conftest's ordering), so every copy has been run.
    """
    server = lesson_pages.server
    root = server.root.resolve()
    assert root != labdriver.REPO and labdriver.REPO not in root.parents
    ran = [f"lessons/{name}.ipynb" for name in lesson_pages.timings]
    assert ran or not LESSONS, "no lesson ran before this test"
    served = server.served_fingerprint()
    # The exercises got wrong answers typed in, but were never saved.
    edited = [rel for rel in server.copied if rel.startswith("exercises/") and served.get(rel) != server.copied[rel]]
    assert not edited, f"JupyterLab wrote to its copy of {edited}"
    for rel in ran:
        # Autosave is off: not even the served copy was written by Restart and Run All.
        assert served[rel] == server.copied[rel], f"JupyterLab wrote to its copy of {rel}"
        committed = labdriver.fingerprint([labdriver.REPO / rel])[rel]
        if committed != server.copied[rel]:
            # The repository is not served, so only someone else's edit can change it --
            # unless the file now holds outputs, i.e. a saved run.
            nb = json.loads((labdriver.REPO / rel).read_text(encoding="utf-8"))
            saved_run = any(
                c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"
            )
            assert not saved_run, f"{rel} was saved with outputs while the browser tests ran"
            warnings.warn(f"{rel} changed while the browser tests ran (edited by someone else?)", stacklevel=1)


# --------------------------------------------------------------------------- explorers


def _number(rx: re.Pattern, text: str) -> float:
    m = rx.search(text)
    assert m, f"{rx.pattern!r} not found in {text!r}"
    return float(m.group(1))


@pytest.mark.lesson("01_unfolding")
def test_01_slider_t_changes_h_t(lesson_pages) -> None:
    """Moving the explorer's "t" slider one step changes the displayed h_t; moving back restores it.

    The readout must agree with the slider ("t = <slider value>: ... h_t = ...").
    """
    run = _lesson(lesson_pages, "01_unfolding")
    slider = run.widget("slider", "t")
    assert slider.count() >= 1, "no slider described 't' in lesson 01"
    slider = slider.first
    h_t = re.compile(r"h_t\s*=\s*" + _NUMBER)
    t_of = re.compile(r"\bt\s*=\s*(\d+)")

    def agrees(line: str) -> bool:  # the readout shows the slider's step
        m = t_of.search(line)
        return m is None or m.group(1) == run.slider_value(slider)

    t0 = run.slider_value(slider)
    text0 = run.explorer_text(h_t, until=agrees)
    key, back = "ArrowRight", "ArrowLeft"
    run.nudge_slider(slider, key)
    if not labdriver._wait_for(lambda: run.slider_value(slider) != t0, 3.0):  # already at the right end
        key, back = back, key
        run.nudge_slider(slider, key)
    assert labdriver._wait_for(lambda: run.slider_value(slider) != t0, 3.0), f"the slider did not move (t = {t0})"
    t1 = run.slider_value(slider)
    text1 = run.explorer_text(h_t, until=lambda line: line != text0 and agrees(line))
    assert _number(h_t, text1) != _number(h_t, text0), f"h_t did not change when t went {t0} -> {t1}"
    run.nudge_slider(slider, back)
    text2 = run.explorer_text(h_t, until=lambda line: line != text1 and agrees(line))
    assert run.slider_value(slider) == t0
    assert text2 == text0, f"back at t = {t0}, the readout differs: {text0!r} then {text2!r}"


@pytest.mark.lesson("02_activations")
def test_02_activation_and_w_h_scale_drive_the_dynamics(lesson_pages) -> None:
    """The readout follows the dropdown and the slider; tanh keeps |h_t| <= 1, ReLU with w_h scale 2 explodes."""
    run = _lesson(lesson_pages, "02_activations")
    scale = run.widget("slider", "w_h scale")
    activation = run.widget("dropdown", "activation")
    assert scale.count() >= 1 and activation.count() >= 1, "lesson 02 has no 'w_h scale' slider / 'activation' dropdown"
    scale, select = scale.first, activation.first.locator("select")
    peak = re.compile(r"max \|h_t\|\s*=\s*" + _NUMBER)

    def agrees(line: str) -> bool:  # "<activation>, w_h scale <slider>: max |h_t| = ..."
        return f"{select.input_value()}, w_h scale {float(run.slider_value(scale)):.1f}:" in line

    act0, s0 = select.input_value(), float(run.slider_value(scale))
    text0 = run.explorer_text(peak, until=agrees)

    select.select_option("tanh")
    run.slide_to(scale, 2.0, step=0.1)
    tanh_line = run.explorer_text(peak, until=agrees)
    assert _number(peak, tanh_line) <= 1.0, f"tanh must keep |h_t| <= 1: {tanh_line!r}"

    select.select_option("relu")
    relu_line = run.explorer_text(peak, until=lambda line: line != tanh_line and agrees(line))
    assert _number(peak, relu_line) > 1e6, f"ReLU with w_h scale 2 should explode: {relu_line!r}"

    select.select_option(act0)  # leave the explorer as the lesson left it
    run.slide_to(scale, s0, step=0.1)
    assert run.explorer_text(peak, until=lambda line: line == text0)


@pytest.mark.lesson("05_vanishing_gradients")
def test_05_sigma_max_and_activation_move_the_gradient_norm(lesson_pages) -> None:
    """The readout follows σ_max and the activation: its rate bound is γ·σ_max of the controls,
    and raising σ_max raises the bound (γσ_max)^(T-1)."""
    run = _lesson(lesson_pages, "05_vanishing_gradients")
    sigma = run.widget("slider", "σ_max")
    activation = run.widget("dropdown", "activation")
    assert sigma.count() >= 1 and activation.count() >= 1, "lesson 05 has no σ_max slider / activation dropdown"
    sigma, select = sigma.first, activation.first.locator("select")
    norm = re.compile(r"‖∂h_T/∂h_1‖\s*=\s*" + _NUMBER)
    bound = re.compile(r"bound \(γσ_max\)\^\(T−1\)\s*=\s*" + _NUMBER)
    rate = re.compile(r"bound γσ_max\s*=\s*" + _NUMBER)
    gamma = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}  # max |f'|

    def agrees(line: str) -> bool:  # the readout belongs to what the controls show
        act, s = select.input_value(), float(run.slider_value(sigma))
        return abs(_number(rate, line) - gamma[act] * s) < 1e-3

    act0 = select.input_value()
    assert act0 in gamma, act0
    s0 = float(run.slider_value(sigma))
    text0 = run.explorer_text(norm, until=agrees)

    run.nudge_slider(sigma, "ArrowRight", times=4)
    assert labdriver._wait_for(lambda: float(run.slider_value(sigma)) > s0 + 0.1, 5.0), "σ_max did not move"
    text1 = run.explorer_text(norm, until=lambda line: line != text0 and agrees(line))
    assert _number(bound, text1) > _number(bound, text0), (text0, text1)
    assert _number(norm, text1) != _number(norm, text0), (text0, text1)

    other = "sigmoid" if act0 != "sigmoid" else "tanh"
    select.select_option(other)
    run.explorer_text(norm, until=lambda line: line != text1 and agrees(line))

    select.select_option(act0)  # leave the explorer as the lesson left it
    run.nudge_slider(sigma, "ArrowLeft", times=4)
    assert run.explorer_text(norm, until=lambda line: line == text0 and agrees(line))


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_control_changes_what_is_shown(lesson: str, lesson_pages) -> None:
    """Each slider and dropdown of each explorer changes some text or image besides itself.

    Runs after the lesson's other explorer tests (conftest orders the tests), so it leaves
    the controls moved.
    """
    run = lesson_pages.get(lesson)
    results = run.probe_controls()
    if not results:
        pytest.skip(f"{lesson} has no sliders, dropdowns, toggles or checkboxes")
    dead = [r for r in results if not r["changed"]]
    assert not dead, f"{lesson}: controls that change nothing on screen: {dead}"


# --------------------------------------------------------------------------- exercises

# The notebook open at ``path`` in the page, by path (the lesson's panel stays marked CURRENT).
_EXERCISE_STATE_JS = r"""
(p) => {
  const w = [...window.jupyterapp.shell.widgets('main')].find(x => x.context && x.context.path === p);
  if (!w || !w.context.isReady || !w.content || !w.content.widgets) return null;
  const s = w.sessionContext.session;
  const tab = [...document.querySelectorAll('.lm-TabBar-tab')].find(t => t.title && t.title.includes(p));
  return {current: window.jupyterapp.shell.currentWidget === w,
          kernel: s && s.kernel ? s.kernel.status : 'none',
          label: w.title.label, tabLabel: tab ? tab.innerText.trim() : null,
          cells: w.content.widgets.map((c, i) => {
            const m = c.model, nbg = m.getMetadata('nbgrader') || {};
            const area = c.node.querySelector('.jp-Cell-outputArea');
            const outs = [];
            if (m.type === 'code') for (let j = 0; j < m.outputs.length; j++) {
              const o = m.outputs.get(j).toJSON(); outs.push({type: o.output_type, ename: o.ename || null}); }
            return {index: i, type: m.type, gradeId: nbg.grade_id || null, solution: !!nbg.solution,
                    grade: !!nbg.grade, executionCount: m.type === 'code' ? m.executionCount : null,
                    running: ((c.node.querySelector('.jp-InputPrompt') || {}).innerText || '').includes('*'),
                    outputs: outs, text: area ? area.innerText : ''};
          })};
}
"""


def _exercise_state(page, path: str) -> dict | None:
    return page.evaluate(_EXERCISE_STATE_JS, path)


def _own_exercise_link(run, lesson: str):
    """The lesson's link to its own exercise notebook (the last one: "Exercise NN" at the end)."""
    number = lesson.split("_", 1)[0]
    links = run.page.locator(f"{labdriver.CURRENT} .jp-MarkdownOutput a")
    # JupyterLab rewrites a relative href to the file's URL (/files/exercises/...?_xsrf=...).
    own = re.compile(rf"(?:^|/)exercises/{number}_[^/?#]*\.ipynb(?:[?#]|$)")
    hrefs = links.evaluate_all("els => els.map(a => a.getAttribute('href') || '')")
    matching = [i for i, h in enumerate(hrefs) if own.search(h)]
    assert matching, f"{lesson}: no link to exercises/{number}_*.ipynb among {[h for h in hrefs if h][:20]}"
    href = hrefs[matching[-1]]
    return links.nth(matching[-1]), own.search(href).group(0).strip("/?#").split("exercises/", 1)[1]


@pytest.mark.parametrize("lesson", LESSONS)
def test_exercise_link_opens_its_exercise(lesson: str, lesson_pages) -> None:
    """Clicking the lesson's closing "Exercise NN" link opens exercises/NN_..._exercises.ipynb in
    JupyterLab (a tab named differently from the lesson's) with a running kernel."""
    run = lesson_pages.get(lesson)
    link, name = _own_exercise_link(run, lesson)
    path = f"exercises/{name}"
    assert (lesson_pages.server.root / path).is_file(), f"{lesson} links to {path}, which does not exist"
    link.scroll_into_view_if_needed()
    link.click()
    lesson_pages.exercises[lesson] = (run.page, path)
    opened = labdriver._wait_for(lambda: (_exercise_state(run.page, path) or {}).get("kernel") == "idle", 120.0)
    state = _exercise_state(run.page, path)
    assert opened and state, f"{lesson}: clicking its exercise link did not open {path} with a kernel ({state})"
    assert state["current"], f"{path} opened, but not in front"
    assert state["label"] == name and name.endswith("_exercises.ipynb") and name != f"{lesson}.ipynb", state["label"]


_LIBRARY_FRAMES = ("rnn_tutor/checks", "rnn_tutor\\checks", "Traceback", 'File "', "----> ", "site-packages")


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_wrong_answer_in_the_exercise_shows_the_hint(lesson: str, lesson_pages, artifacts_dir: Path) -> None:
    """In the exercise opened from the lesson's link, a wrong answer to task 1 (the solution with
    every number it returns made wrong) makes Run All stop at task 1's check, which shows its
    hint in a few lines, naming the function, without library frames."""
    page, path = lesson_pages.exercises.get(lesson, (None, None))
    if path is None:
        pytest.fail(f"{lesson}: its exercise is not open (see test_exercise_link_opens_its_exercise)", pytrace=False)
    try:
        root = lesson_pages.server.root
        task = first_task(root / path, root / "solutions")
        page.evaluate(
            "([p, gid, src]) => { const w = [...window.jupyterapp.shell.widgets('main')]"
            ".find(x => x.context && x.context.path === p);"
            " const cell = w.content.widgets.find(c => (c.model.getMetadata('nbgrader') || {}).grade_id === gid);"
            " cell.model.sharedModel.setSource(src); window.jupyterapp.shell.activateById(w.id); }",
            [path, task.grade_id, wrong_answer(task.solution)],
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

        def check_done() -> bool:
            st = _exercise_state(page, path)
            if not st or st["kernel"] != "idle" or any(c["running"] for c in st["cells"]):
                return False
            check = next(c for c in st["cells"] if c["gradeId"] == task.check_id)
            return check["executionCount"] is not None
        assert labdriver._wait_for(check_done, 120.0), f"{path}: task 1's check did not run ({_exercise_state(page, path)})"
        state = _exercise_state(page, path)
        cells = state["cells"]
        k = next(i for i, c in enumerate(cells) if c["gradeId"] == task.check_id)
        before = [(c["index"], o["ename"]) for c in cells[:k] for o in c["outputs"] if o["type"] == "error"]
        assert not before, f"{path}: cells before task 1's check failed: {before}"
        check = cells[k]
        errors = [o for o in check["outputs"] if o["type"] == "error"]
        text = check["text"]
        page.evaluate(
            "([p, k]) => { const w = [...window.jupyterapp.shell.widgets('main')]"
            ".find(x => x.context && x.context.path === p); w.content.widgets[k].node.scrollIntoView(); }",
            [path, k],
        )
        page.screenshot(path=str(artifacts_dir / f"{lesson}_exercise.png"))
        assert errors, f"{path}: the wrong answer to {task.grade_id} passed its check {task.check_id}:\n{text}"
        assert errors[0]["ename"] != "NotImplementedError", errors
        frames = [f for f in _LIBRARY_FRAMES if f in text]
        assert not frames, f"{path}: the check's failure shows library frames ({frames}):\n{text}"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert len(lines) <= 8, f"{path}: the check's failure takes {len(lines)} lines (at most 8):\n{text}"
        assert any(name in text for name in task.names), f"{path}: the hint does not name {task.names}:\n{text}"
    finally:
        lesson_pages.close_exercise(lesson)
