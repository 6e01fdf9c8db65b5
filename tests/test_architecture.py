"""The house's shape: no import cycles among the project's modules, and the layer rules
(lower layers never import upper ones; only the wiring knows which backend is active)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
# mutants/ is `make mutation`'s scratch copy of the project.
SKIPPED = {
    "tests", "bench", "scripts", "docs", "data", "static", "templates", "instance", "mutants"
}


def project_modules() -> dict[str, Path]:
    """Every module of the app by dotted name: top-level files and the packages' files."""
    modules = {}
    for path in PROJECT.rglob("*.py"):
        parts = path.relative_to(PROJECT).parts
        if parts[0] in SKIPPED or parts[0].startswith("."):
            continue
        name = ".".join(parts)[: -len(".py")].removesuffix(".__init__")
        modules[name] = path
    return modules


@cache
def imports_of(name: str) -> frozenset[str]:
    """The project modules `name` imports anywhere in its file (in functions too)."""
    modules = project_modules()
    found = set()
    for node in ast.walk(ast.parse(modules[name].read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from dataset import csvfiles` imports a module; `from dataset import Movie` not.
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
            targets = [t if t in modules else node.module for t in targets]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return frozenset(found)


def imports_anything_named(name: str, prefix: str) -> bool:
    tree = ast.parse(project_modules()[name].read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(found == prefix or found.startswith(prefix + ".") for found in names):
            return True
    return False


def find_cycle() -> list[str] | None:
    """One import cycle among the project's modules, as the path around it; None if none."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for target in sorted(imports_of(name)):
            if state.get(target) == "open":
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(project_modules()):
        if name not in state and (cycle := visit(name, [name])):
            return cycle
    return None


def test_the_check_sees_the_projects_imports():
    assert {"services", "inputs", "recommender.interface"} <= imports_of("pages") | imports_of(
        "services"
    )
    assert "dataset.csvfiles" in imports_of("dataset.validation")


def test_no_import_cycles_among_the_projects_modules():
    assert find_cycle() is None, " -> ".join(find_cycle() or [])


def test_the_recommender_interface_and_the_input_rules_import_nothing_of_the_project():
    assert imports_of("recommender.interface") == frozenset()
    assert imports_of("inputs") == frozenset()
    assert not imports_anything_named("inputs", "flask")


def test_the_embedded_engine_imports_neither_flask_nor_the_aws_adapter():
    for banned in ("flask", "personalize", "boto3", "botocore"):
        assert not imports_anything_named("engine", banned), banned


def test_the_use_cases_know_no_http_and_call_no_aws_themselves():
    for banned in ("flask", "boto3", "botocore", "wiring", "pages", "api", "app"):
        assert not imports_anything_named("services", banned), banned


@pytest.mark.parametrize("module", ["services", "pages", "api"])
def test_only_the_wiring_knows_which_backend_is_active(module):
    source = project_modules()[module].read_text()
    for telltale in ("uses_personalize", "PersonalizeRecommender", "EmbeddedRecommender"):
        assert telltale not in source, f"{module} names {telltale}"
