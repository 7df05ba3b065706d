"""The direction of dependencies: the data app (traces) never imports the pages (ui).

Pages import traces' models, queries and formatting; if traces imported ui back, a management command
or the admin would drag the templates' code along, and a change to a page could break ingest."""

import ast
from pathlib import Path

TRACES = Path(__file__).resolve().parent.parent / "traces"


def imported_modules(path):
    """Every module `path` imports, at any depth (function-level imports included)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_module_of_traces_imports_ui():
    modules = sorted(TRACES.rglob("*.py"))
    assert len(modules) > 20 and TRACES / "management" / "commands" / "traces.py" in modules
    offending = {
        str(path.relative_to(TRACES.parent)): module
        for path in modules
        for module in imported_modules(path)
        if module == "ui" or module.startswith("ui.")
    }
    assert offending == {}


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from ui.templatetags import msgtrace_ui\n    import ui.views\n")
    assert list(imported_modules(module)) == ["ui.templatetags", "ui.views"]
