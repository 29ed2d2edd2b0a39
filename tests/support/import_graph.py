"""The first-party import graph of a source tree, read from the AST: which modules a module
reaches when it is imported, directly or through the modules (and package `__init__` files) it
imports in turn. Third-party and standard-library modules are leaves: named, never walked."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ImportGraph:
    """The modules of `root` whose top-level package is one of `packages`, and their imports."""

    root: Path
    packages: frozenset[str]
    # Each module's imports, parsed once: every module of a package walks much the same graph.
    _imports: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def file_of(self, module: str) -> Path | None:
        """The file that runs when `module` is imported; None for a module outside the tree."""
        if module.split(".")[0] not in self.packages:
            return None
        base = self.root.joinpath(*module.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def module_of(self, path: Path) -> str:
        parts = path.relative_to(self.root).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def modules(self, package: str) -> list[str]:
        """Every module of `package`, its `__init__` included."""
        return [self.module_of(path) for path in sorted((self.root / package).rglob("*.py"))]

    def imports_of(self, module: str) -> frozenset[str]:
        """What importing `module` imports itself: the packages above it, each module it names
        with the packages above that (importing `a.b.c` runs `a` and `a.b` first), and the
        submodules `from a import b` names. Imports under `if TYPE_CHECKING:` count too: a type a
        module names is a dependency."""
        if module not in self._imports:
            self._imports[module] = frozenset(self._read_imports(module))
        return self._imports[module]

    def _read_imports(self, module: str) -> set[str]:
        path = self.file_of(module)
        if path is None:
            return set()
        found = set(_with_parents(module))
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.update(_with_parents(alias.name))
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(module, path, node)
                found.update(_with_parents(base))
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if self.file_of(submodule) is not None:
                        found.add(submodule)
        found.discard(module)
        return found

    def reachable(self, module: str) -> dict[str, list[str]]:
        """Every module importing `module` ends up importing, each with the chain of imports
        (from `module` to it) by which it is first reached."""
        chains: dict[str, list[str]] = {module: [module]}
        queue = deque([module])
        while queue:
            current = queue.popleft()
            for imported in sorted(self.imports_of(current)):
                if imported not in chains:
                    chains[imported] = [*chains[current], imported]
                    queue.append(imported)
        del chains[module]
        return chains

    def _absolute(self, module: str, path: Path, node: ast.ImportFrom) -> str:
        """The absolute name of the module `from ... import` reads from (relative ones resolved
        against the package `module` is in)."""
        if node.level == 0:
            return node.module or ""
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        return ".".join([*anchor, *([node.module] if node.module else [])])


def _with_parents(module: str) -> Iterator[str]:
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        yield ".".join(parts[:end])
