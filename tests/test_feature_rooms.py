"""Features are rooms: each lives in ui/features/<name>/, is installed in the declared order, and sees the studio
only through the attributes :class:`StudioContext` declares."""

from __future__ import annotations

import ast
from pathlib import Path

from memstudio.ui import features
from memstudio.ui.studio_context import StudioContext

FEATURES = Path(features.__file__).parent


def _context_members() -> set[str]:
    """Annotated attributes and methods (``__annotations__`` keeps the names without resolving the types)."""
    return set(StudioContext.__annotations__) | {name for name in vars(StudioContext) if not name.startswith("_")}


def _studio_reads(tree: ast.AST) -> set[str]:
    """Attributes read from ``studio`` or ``self.studio`` anywhere in a module."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id == "studio":
            found.add(node.attr)
        elif (
            isinstance(owner, ast.Attribute)
            and owner.attr == "studio"
            and isinstance(owner.value, ast.Name)
            and owner.value.id == "self"
        ):
            found.add(node.attr)
    return found


def test_every_room_is_installed_in_the_declared_order():
    rooms = sorted(p.name for p in FEATURES.iterdir() if (p / "feature.py").is_file())
    assert sorted(features.ORDER) == rooms
    assert not [p.name for p in FEATURES.glob("*.py") if p.name != "__init__.py"], "a feature outside a room"


def test_features_use_only_what_the_context_declares():
    members = _context_members()
    for path in sorted(FEATURES.glob("*/*.py")):
        undeclared = _studio_reads(ast.parse(path.read_text(), str(path))) - members
        assert not undeclared, f"{path.relative_to(FEATURES)} reads {sorted(undeclared)} not in StudioContext"


def test_the_check_sees_an_undeclared_read():
    tree = ast.parse(
        "class F:\n    def __init__(self, studio):\n        self.studio = studio\n"
        "        self.studio.features['x']\n        studio.centralWidget()\n"
    )
    assert _studio_reads(tree) - _context_members() == {"features", "centralWidget"}


def test_the_independence_contract_covers_every_room_and_the_window():
    """A room missing from pyproject.toml's list would go unchecked by import-linter."""
    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = FEATURES.parents[2] / "pyproject.toml"
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    [rooms] = [c for c in contracts if c["type"] == "independence"]
    expected = {f"memstudio.ui.features.{name}" for name in features.ORDER} | {"memstudio.ui.main_window"}
    assert set(rooms["modules"]) == expected
