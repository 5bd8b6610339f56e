"""The package's shape: imports flow one way (no cycles), only the CLI imports the CLI, files stay small.

The import graph is read from the source with `ast` (nothing is imported): every `import` and
`from ... import` anywhere in a module, at the top or inside a function (a lazy import still makes
the importing module depend on the imported one), with relative imports resolved against the
module's package. `from pkg import name` is an edge to `pkg.name` when that is a module of the
package, else to `pkg`. Importing a module implicitly runs its parent packages' `__init__`; those
implicit edges are not counted (every module would then depend on `earth3d/__init__.py`).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "earth3d"
MAX_LINES = 500


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `package` (a package's name for its __init__)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported_names(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """What the file `path` (module `module`) imports: (absolute module, names taken from it) per
    statement; `import a.b` gives ("a.b", []), `from ..c import d, e` in `p.q.r` gives ("p.c", ["d", "e"])."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            out.append((target, [alias.name for alias in node.names]))
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (explicitly; see the module docstring)."""
    modules = module_names(package)
    graph = {}
    for name, path in modules.items():
        targets = set()
        for target, names in imported_names(path, name):
            for imported in [f"{target}.{n}" for n in names] or [target]:
                while imported and imported not in modules:  # a function or class: its module
                    imported = imported.rpartition(".")[0]
                if imported:
                    targets.add(imported)
        targets.discard(name)
        graph[name] = targets
    return graph


def imports_cli(path: Path, module: str) -> bool:
    """Whether the file imports `earth3d.cli` or one of its modules."""
    for target, names in imported_names(path, module):
        for imported in [target, *(f"{target}.{n}" for n in names)]:
            if imported == "earth3d.cli" or imported.startswith("earth3d.cli."):
                return True
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the first module of a component: a -> b -> ... -> a."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"{component} is not a cycle")


# ---------------------------------------------------------------------------------------- the checks
def test_no_import_cycles():
    graph = import_graph(PACKAGE)
    found = [f"{' -> '.join(cycle_path(graph, c))}   (all of {c})" for c in cycles(graph)]
    assert not found, "import cycles between modules:\n  " + "\n  ".join(found)


def test_only_the_cli_imports_the_cli():
    offenders = []
    for name, path in module_names(PACKAGE).items():
        if name == "earth3d.cli" or name.startswith("earth3d.cli."):
            continue
        if imports_cli(path, name):
            offenders.append(name)
    for folder in ("examples", "benchmarks"):
        for path in sorted((ROOT / folder).glob("*.py")):
            if imports_cli(path, path.stem):
                offenders.append(f"{folder}/{path.name}")
    assert not offenders, f"modules outside earth3d/cli import earth3d.cli: {offenders}"


def test_no_file_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


# ------------------------------------------------------------------------ the checks find what they should
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_graph_resolves_relative_lazy_and_package_imports(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from .a import f\n",
        "a.py": "from .sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "def g():\n    from ..c import h\n",          # lazy, two levels up
        "c.py": "import pkg.sub.b\nfrom pkg import a as _\n",       # absolute: back to b and a
        "d.py": "from .sub import helper\nimport os\n",           # a name from a package's __init__
        "e.py": "from pkg.sub.b import g\nfrom . import low\n",     # a function of a module; no such module
    })
    graph = import_graph(root)
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.sub.b", "pkg.a"}
    assert graph["pkg.d"] == {"pkg.sub"}
    assert graph["pkg.e"] == {"pkg.sub.b", "pkg"}
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert cycle_path(graph, ["pkg.a", "pkg.c", "pkg.sub.b"]) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]


def test_graph_without_cycles(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "from .low import x\n",
        "low.py": "import numpy\n",
        "high.py": "from .low import x\nfrom . import low\n",
    })
    graph = import_graph(root)
    assert graph["pkg.high"] == {"pkg.low"}
    assert cycles(graph) == []


def test_cli_imports_are_found(tmp_path):
    root = _package(tmp_path, {"x.py": "def f():\n    from earth3d.cli import main\n",
                               "y.py": "from earth3d import cli\n",
                               "z.py": "import earth3d.clip\nimport earth3d\n"})
    assert imports_cli(root / "x.py", "pkg.x") and imports_cli(root / "y.py", "pkg.y")
    assert not imports_cli(root / "z.py", "pkg.z")
