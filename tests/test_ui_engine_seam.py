"""No window code runs on the engine thread: ui modules send commands from memstudio.core.session, never
closures (issue 13). The check reads the source (AST), so it needs no window and no model."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import memstudio

UI = Path(memstudio.__file__).parent / "ui"


def closure_sites(source: str) -> list[str]:
    """Where ``source`` hands the engine code of its own: ``.call`` / ``.submit_job`` (the closure API),
    a lambda or ``partial`` given to ``.request`` / ``.submit``, or any function taking a ``pipeline``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in ("call", "submit_job"):
                found.append(f"line {node.lineno}: .{name}(...) sends a closure")
            elif name in ("request", "submit") and node.args:
                first = node.args[0]
                is_partial = isinstance(first, ast.Call) and getattr(first.func, "id", "") == "partial"
                if isinstance(first, ast.Lambda) or is_partial:
                    found.append(f"line {node.lineno}: .{name}(...) is given a function, not a command")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            names = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
            if "pipeline" in names:
                label = getattr(node, "name", "lambda")
                found.append(f"line {node.lineno}: {label}(pipeline) is engine-thread code")
    return found


def ui_modules() -> list[Path]:
    return sorted(UI.rglob("*.py"))


def test_ui_modules_send_commands_not_closures():
    offenders = {}
    for path in ui_modules():
        relative = path.relative_to(UI).as_posix()
        sites = closure_sites(path.read_text(encoding="utf-8"))
        if sites:
            offenders[relative] = sites
    assert offenders == {}, "engine-thread code in ui/ (move it to a command in memstudio/core/session/)"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("engine.call('x', lambda p: 1)", ".call(...) sends a closure"),
        ("self.window.engine.submit_job('j', 't', factory)", ".submit_job(...) sends a closure"),
        ("engine.request(lambda p: 1)", ".request(...) is given a function"),
        ("engine.submit(partial(job, a=1), 'id')", ".submit(...) is given a function"),
        ("def _task(path, pipeline):\n    return pipeline.generator", "_task(pipeline) is engine-thread code"),
        ("class Cmd:\n    def run(self, pipeline):\n        return 1", "run(pipeline) is engine-thread code"),
    ],
)
def test_the_check_sees_each_kind_of_closure(source, expected):
    (site,) = closure_sites(source)
    assert expected in site


def test_the_check_passes_commands_from_the_core():
    source = (
        "from memstudio.core.session.figures import RenderPreview\n"
        "handle = engine.request(RenderPreview(request), key='preview')\n"
        "engine.submit(ScoreFolder(folder, csv), job_id)\n"
    )
    assert closure_sites(source) == []
