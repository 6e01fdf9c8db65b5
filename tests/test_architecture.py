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


def package_modules(package: str) -> list[str]:
    return sorted(name for name in project_modules() if name.split(".")[0] == package)


@pytest.mark.parametrize("module", package_modules("recommender"))
def test_the_recommender_package_imports_neither_flask_nor_aws(module):
    for banned in ("flask", "click", "personalize", "boto3", "botocore", "wiring", "services"):
        assert not imports_anything_named(module, banned), banned


@pytest.mark.parametrize("module", package_modules("dataset"))
def test_the_data_files_package_imports_neither_flask_nor_click(module):
    for banned in ("flask", "click", "recommender", "wiring", "services"):
        assert not imports_anything_named(module, banned), banned


def documented_order(package: str) -> list[str]:
    """The modules a package's docstring lists, in order ("- `name`, `name`: what it owns").

    "- one module per recipe" stands for the modules the recipe registry names.
    """
    docstring = ast.get_docstring(ast.parse((PROJECT / package / "__init__.py").read_text()))
    order = []
    for line in (docstring or "").splitlines():
        if line.startswith("- one module per recipe"):
            from recommender.recipes import RECIPE_CLASSES

            order += sorted({target.split(":")[0] for target in RECIPE_CLASSES.values()})
        elif line.startswith("- `"):
            names = line[2:].split(":")[0]
            order += [f"{package}.{name.strip(' `')}" for name in names.split(",")]
    return order


@pytest.mark.parametrize("package", ["recommender", "dataset", "provisioning"])
def test_each_module_imports_only_those_its_package_lists_above_it(package):
    order = documented_order(package)
    assert sorted(order) == [name for name in package_modules(package) if name != package]
    for position, module in enumerate(order):
        inside = {name for name in imports_of(module) if name.startswith(package + ".")}
        assert inside <= set(order[:position]), f"{module} imports {inside - set(order[:position])}"


def test_the_recipe_registry_names_each_recipes_class():
    from recommender.base import recipe_class
    from recommender.recipes import RECIPE_CLASSES

    for name in RECIPE_CLASSES:
        assert recipe_class(name).name == name
        assert recipe_class(name).__module__ in project_modules()


def test_the_readmes_module_map_names_files_that_exist():
    readme = (PROJECT / "README.md").read_text()
    table = readme[readme.index("| module | owns |"):].split("\n\n")[0]
    first_cells = [row.split(" | ")[0] for row in table.splitlines()[2:]]
    named = {name for cell in first_cells for name in cell.split("`")[1::2]}
    assert "recommender/" in named
    assert [name for name in sorted(named) if not (PROJECT / name).exists()] == []


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_no_module_of_the_app_passes_400_lines():
    too_long = {name: line_count(path) for name, path in project_modules().items()
                if line_count(path) > 400}
    assert too_long == {}


def test_no_script_passes_300_lines():
    scripts = [path for folder in ("scripts", "bench") for path in (PROJECT / folder).iterdir()
               if path.suffix in (".py", ".sh")]
    assert scripts, "no scripts found"
    too_long = {path.name: line_count(path) for path in scripts if line_count(path) > 300}
    assert too_long == {}


def test_the_use_cases_know_no_http_and_call_no_aws_themselves():
    for banned in ("flask", "boto3", "botocore", "wiring", "pages", "api", "app"):
        assert not imports_anything_named("services", banned), banned


@pytest.mark.parametrize("module", ["services", "pages", "api"])
def test_only_the_wiring_knows_which_backend_is_active(module):
    source = project_modules()[module].read_text()
    for telltale in ("uses_personalize", "PersonalizeRecommender", "EmbeddedRecommender"):
        assert telltale not in source, f"{module} names {telltale}"
