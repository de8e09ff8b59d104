"""No import cycle among our modules, wherever an import sits; no cycle between areas.

The graph is read from the source with `ast`, not by importing: every first-party
module (the product as `spectrum.*` from api/ shared/ worker/, `training`, `loadtest`,
`scripts`, `spectrum_dev` in dev/, `spectrum_client` in client/; Alembic's migrations
are skipped, Alembic loads them) and EVERY import in it of a first-party module, at
module level, inside a function or class, or under `if TYPE_CHECKING:`: a cycle that
only closes when a function runs is still a cycle for a reader, and one refactor away
from an ImportError.

Edges:
- `import a.b.c` and `from a.b.c import name` give an edge to `a.b.c`; when `name`
  is itself a module (`from training import evaluate`), the edge goes to `a.b.c.name`.
- A package counts as its `__init__` module. The edge from `a.b.c` to its parent
  `a.b` that Python's import machinery implies (importing `a.b.c` runs `a/b/__init__`
  first) is NOT added: only explicit imports are edges, so a package `__init__` that
  re-exports its submodules does not put every submodule in a cycle with it.

Function-level imports of first-party modules are allowed only in the pairs listed in
`FUNCTION_LEVEL`, each with its reason: an import that pulls in a heavy or optional
third-party runtime, or that a command must not pay for at start-up. Anything else
belongs at the top of its module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# (folder holding the package, package folder, the name it is imported by)
HOMES = (
    (ROOT, "api", "spectrum.api"),
    (ROOT, "shared", "spectrum.shared"),
    (ROOT, "worker", "spectrum.worker"),
    (ROOT, "spectrum", "spectrum"),
    (ROOT, "training", "training"),
    (ROOT, "loadtest", "loadtest"),
    (ROOT, "scripts", "scripts"),
    (ROOT / "dev", "spectrum_dev", "spectrum_dev"),
    (ROOT / "client", "spectrum_client", "spectrum_client"),
)
# The top-level areas, and which may import which (the product imports none of the rest).
AREAS = ("spectrum", "spectrum_client", "spectrum_dev", "training", "loadtest", "scripts")
FORBIDDEN_AREAS = {"spectrum": {"training", "loadtest", "scripts", "spectrum_dev"}}

# (importing module, imported module) -> why the import sits inside a function. The
# import line carries the reason in short too.
FUNCTION_LEVEL: dict[tuple[str, str], str] = {
    ("training.evaluate", "spectrum.worker.runtimes.hf"): (
        "torch and transformers (seconds to import), for the fp32 reference only: "
        "compare_answers, calibration_transfer and the tests import evaluate for its "
        "sets and tables without them"
    ),
    ("training.evaluate", "training.candidates"): ("torch and transformers, for `--runtimes` only"),
    ("training.quantize", "spectrum.worker.runtimes.ov"): (
        "openvino (an optional extra), imported beside `import openvino` where the "
        "candidates compile"
    ),
    ("training.quantize", "spectrum.worker.runtimes.hf"): (
        "torch and transformers (an optional extra), for the fp32 reference only: the "
        "script runs in a venv of its own with nncf and openvino"
    ),
    ("training.step_time", "spectrum.worker.runtimes.ov"): (
        "openvino (an optional extra), for `--openvino` only"
    ),
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    text: str
    in_function: bool


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base, folder, name in HOMES:
        # spectrum/ holds only the namespace's __init__ and links to api/ shared/ worker/
        pattern = "*.py" if folder == "spectrum" else "**/*.py"
        for path in sorted((base / folder).glob(pattern)):
            if "migrations" in path.parts:  # Alembic's scripts: Alembic loads them
                continue
            parts = path.relative_to(base / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((name, *parts))] = path
    return found


def area(module: str) -> str:
    return module.split(".")[0]


def first_party(name: str, known: set[str]) -> str | None:
    """The longest known module that `name` is or lies inside, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    lines = source.splitlines()
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    package = module.split(".")
                    if path.name != "__init__.py":
                        package = package[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join(p for p in (*package, base) if p)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    for alias in child.names
                ]
            for target in targets:
                resolved = first_party(target, known)
                if resolved is not None and resolved != module:
                    text = lines[child.lineno - 1].strip()
                    found.append(Import(module, resolved, child.lineno, text, in_function))
            inner = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            visit(child, inner)

    visit(tree, False)
    return found


def all_imports() -> list[Import]:
    files = module_files()
    known = set(files)
    return [edge for module, path in files.items() for edge in imports_of(module, path, known)]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(components: list[list[str]], edges: list[Import], name: str) -> str:
    report = []
    for component in components:
        members = set(component)
        report.append(f"cycle: {' <-> '.join(component)}")
        report += [
            f"  {edge.source}:{edge.line} {edge.text}"
            for edge in edges
            if name_of(edge.source, name) in members and name_of(edge.target, name) in members
        ]
    return "\n".join(report)


def name_of(module: str, level: str) -> str:
    return area(module) if level == "area" else module


def test_the_strongly_connected_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules() -> None:
    """Every import counts: module level, in a function, under TYPE_CHECKING."""
    edges = all_imports()
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.source].add(edge.target)
    cycles = strongly_connected(graph)
    assert not cycles, describe(cycles, edges, "module")


def test_no_import_cycle_between_areas() -> None:
    """The areas form a one-way graph, and the product imports none of the checkout."""
    edges = all_imports()
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if area(edge.source) != area(edge.target):
            graph[area(edge.source)].add(area(edge.target))
    cycles = strongly_connected(graph)
    assert not cycles, describe(cycles, edges, "area")
    wrong = [
        f"{edge.source}:{edge.line} {edge.text}"
        for edge in edges
        if area(edge.target) in FORBIDDEN_AREAS.get(area(edge.source), set())
    ]
    assert not wrong, "the product imports the checkout:\n" + "\n".join(wrong)


def test_first_party_imports_inside_functions_have_a_reason() -> None:
    """A first-party import sits in a function only for a reason listed in FUNCTION_LEVEL."""
    edges = all_imports()
    used = {(edge.source, edge.target) for edge in edges if edge.in_function}
    unexplained = [
        f"{edge.source}:{edge.line} {edge.text}"
        for edge in edges
        if edge.in_function and (edge.source, edge.target) not in FUNCTION_LEVEL
    ]
    assert not unexplained, "move to module level, or list with a reason:\n" + "\n".join(
        unexplained
    )
    stale = sorted(set(FUNCTION_LEVEL) - used)
    assert not stale, f"listed in FUNCTION_LEVEL but no longer imported in a function: {stale}"
