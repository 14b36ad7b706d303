"""Package boundaries that keep the code readable: who may import whom."""

import ast
import pathlib

import skaloe

PACKAGE = pathlib.Path(skaloe.__file__).parent


def _imported_modules(path):
    """Every module a file imports, relative imports resolved to skaloe.* names."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_active_learning_imports_no_encoder_and_no_graph_code():
    """active/ learns what a step is from skaloe.base's markers, never from its class."""
    offending = {
        f"{path.name}: {name}"
        for path in (PACKAGE / "active").glob("*.py")
        for name in _imported_modules(path)
        if name.startswith(("skaloe.encoders", "skaloe.graph", "skaloe.labeling",
                            "skaloe.experiment", "skaloe.cli", "skaloe.distributed"))
    }
    assert not offending


def test_the_import_check_resolves_relative_imports(monkeypatch):
    """A guard of the guard: "from ..graph import X" in active/ would be found."""
    monkeypatch.setattr(
        pathlib.Path, "read_text",
        lambda self, encoding=None: "from ..graph import GraphClassifier\nfrom . import _x\n")
    names = _imported_modules(PACKAGE / "active" / "_learner.py")
    assert {"skaloe.graph", "skaloe.graph.GraphClassifier", "skaloe.active._x"} <= names
