"""The package's layers (../shared/docs/architecture.md): every import points
down, no import cycles, no private names imported across modules.

Read from the source with ``ast``: every ``import``/``from ... import`` of a
``jeeves`` module anywhere in a module (functions included).
"""

import ast
import os

from tests.helpers import REPO

FOLDERS = {"jeeves": "scripts", "jeeves.jobs": "jobs", "jeeves.features": "features",
           "jeeves.models": "models"}
# layer -> the jeeves packages it must never import
FORBIDDEN = {
    "jeeves.features": ("jeeves.jobs", "jeeves.models", "jeeves.pipeline", "jeeves.cli",
                        "jeeves.cmd_", "jeeves.mailbox"),
    "jeeves.models": ("jeeves.jobs", "jeeves.pipeline", "jeeves.cli", "jeeves.cmd_",
                      "jeeves.mailbox"),
    "jeeves.jobs": ("jeeves.pipeline", "jeeves.cli", "jeeves.cmd_", "jeeves.mailbox"),
    "jeeves.errors": ("jeeves.",),
    "jeeves.files": ("jeeves.",),
    "jeeves.settings": ("jeeves.",),
    "jeeves.storage": ("jeeves.jobs", "jeeves.models", "jeeves.pipeline", "jeeves.cli",
                       "jeeves.cmd_", "jeeves.mailbox"),
}


def modules():
    """{module name: path} of every module of the package, from the repository's folders."""
    found = {}
    for package, folder in FOLDERS.items():
        root = os.path.join(REPO, folder)
        for directory, _, files in os.walk(root):
            if "__init__.py" not in files:
                continue
            relative = os.path.relpath(directory, root)
            prefix = package if relative == "." else package + "." + relative.replace(os.sep, ".")
            if package == "jeeves" and relative.split(os.sep)[0] in ("..",):
                continue
            for name in files:
                if name.endswith(".py"):
                    module = prefix if name == "__init__.py" else prefix + "." + name[:-3]
                    found.setdefault(module, os.path.join(directory, name))
    return found


def imports_of(path, module):
    """[(imported module, [names])] of a module's source."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return [(name, names) for name, names in found if name.split(".")[0] == "jeeves"]


def graph():
    known = modules()
    edges = {}
    for module, path in known.items():
        targets = set()
        for target, names in imports_of(path, module):
            # `from jeeves.pkg import module` imports that module
            targets |= {target + "." + name for name in names if target + "." + name in known}
            if target in known:
                targets.add(target)
        edges[module] = targets - {module}
    return known, edges


def test_the_package_has_its_layers():
    known, edges = graph()
    assert "jeeves.models.documents" in edges["jeeves.models.intent"]
    assert "jeeves.errors" in edges["jeeves.cli"]
    assert {"jeeves.cli", "jeeves.errors", "jeeves.pipeline.run", "jeeves.jobs.mr_parse_emails",
            "jeeves.features.text", "jeeves.models.documents"} <= set(known)
    assert not any(name.startswith(("jeeves.hadoop", "jeeves.bench")) for name in known)


def test_every_import_points_down():
    known, edges = graph()
    wrong = []
    for module, targets in edges.items():
        for layer, forbidden in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                wrong += ["%s -> %s" % (module, target) for target in targets
                          if target.startswith(forbidden)]
    assert wrong == []


def test_no_import_cycles():
    _, edges = graph()
    cycles = []
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    # a package's __init__ importing its own submodules is not a cycle of design
    cycles = [cycle for cycle in cycles
              if not any(cycle[i + 1].startswith(cycle[i] + ".") for i in range(len(cycle) - 1))]
    assert cycles == []


def test_no_private_names_are_imported_across_modules():
    known, _ = graph()
    private = []
    for module, path in known.items():
        for target, names in imports_of(path, module):
            private += ["%s imports %s.%s" % (module, target, name) for name in names
                        if name.startswith("_") and not name.startswith("__")]
    assert private == []
