"""The public API and the rules every public package follows.

- Every public package (a folder of ``core/`` whose name has no leading underscore, imported
  under ``derivax``; the NN libraries likewise) lists ``__all__``, and every listed name exists.
- Its ``__init__.py`` only re-exports: a docstring, imports, aliases, ``__all__`` and
  ``__version__``; no calls or definitions.
- Examples, docs and the NN libraries import public names only.
- Neither the library, the NN libraries nor the examples import a peer framework.
- Every public function and class has a docstring; functions and non-exception classes carry a
  ``>>>`` example, and every docstring example in the library runs.
"""

import ast
import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# import name -> folder, as in setup.py.
LIBRARIES = {
    "derivax": "core",
    "nn_modules": "nn_modules",
    "nn_pytree": "nn_pytree",
    "nn_transform": "nn_transform",
}
PEERS = ("jax", "jaxlib", "optax", "flax", "haiku", "equinox", "torch", "tensorflow")


def _package_names(public_only: bool) -> list[str]:
    names = []
    for name, folder in LIBRARIES.items():
        base = ROOT / folder
        if not (base / "__init__.py").is_file():
            continue
        for init in sorted(base.rglob("__init__.py")):
            parts = init.parent.relative_to(base).parts
            if "__pycache__" in parts or (public_only and any(p.startswith("_") for p in parts)):
                continue
            names.append(".".join((name, *parts)))
    return names


def _module_names() -> list[str]:
    """Every module of the libraries, private ones included (that is where docstrings live)."""
    names = []
    for name, folder in LIBRARIES.items():
        base = ROOT / folder
        if not (base / "__init__.py").is_file():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if "__pycache__" in parts or parts and parts[-1] == "__main__":
                continue
            names.append(".".join((name, *parts)))
    return names


PUBLIC_PACKAGES = _package_names(public_only=True)


def _public_objects():
    """(qualified name, object) for every function and class listed in a public ``__all__``."""
    seen = set()
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            if not getattr(obj, "__module__", "").startswith(tuple(LIBRARIES)):
                continue  # re-exported from NumPy or the standard library
            seen.add(id(obj))
            yield f"{package}.{name}", obj


def test_derivax_is_importable_with_its_subpackages():
    import derivax
    import derivax.numpy

    assert "derivax" in PUBLIC_PACKAGES and "derivax.numpy" in PUBLIC_PACKAGES
    assert callable(derivax.jit) and callable(derivax.numpy.sum)


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_public_package_lists_existing_names(package):
    module = importlib.import_module(package)
    assert hasattr(module, "__all__"), f"{package} must list its public names in __all__"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not define: {missing}"
    duplicates = sorted({name for name in module.__all__ if module.__all__.count(name) > 1})
    assert not duplicates, f"{package}.__all__ lists names twice: {duplicates}"


def _is_reexport_only(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return isinstance(statement.value.value, str)  # the module docstring
    targets = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    if not names or len(names) != len(targets):
        return False
    if set(names) <= {"__all__", "__version__"}:
        return True
    # An alias (`float32 = _dtypes.float32`, `newaxis = None`) re-exports; a call does not.
    return isinstance(statement, ast.Assign) and isinstance(
        statement.value, ast.Name | ast.Attribute | ast.Constant
    )


def test_reexport_detector():
    allowed = '"""Doc."""\nfrom ._x import y as y\nfloat32 = _d.float32\n__all__ = ["y"]\n'
    assert all(_is_reexport_only(statement) for statement in ast.parse(allowed).body)
    for code in ("install()", "def f():\n    pass", "x = f()", "class A:\n    pass", "a, b = 1, 2"):
        assert not _is_reexport_only(ast.parse(code).body[0]), code


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_public_init_only_reexports(package):
    library, *parts = package.split(".")
    path = ROOT / LIBRARIES[library] / Path(*parts) / "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    extra = [
        f"{path.relative_to(ROOT)}:{statement.lineno}: {ast.unparse(statement).splitlines()[0]}"
        for statement in tree.body
        if not _is_reexport_only(statement)
    ]
    assert not extra, (
        "a public __init__.py only re-exports (`from ._x import y as y`) and lists __all__; "
        "move these statements into a private module:\n" + "\n".join(extra)
    )


def _python_sources(*folders: str) -> list[Path]:
    files = []
    for folder in folders:
        files += sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []
    return [f for f in files if "_build" not in f.parts]


def _doc_sources() -> list[Path]:
    docs = ROOT / "docs"
    return [
        p
        for p in sorted(docs.rglob("*"))
        if p.suffix in {".md", ".rst", ".py"} and "_build" not in p.parts
    ]


PRIVATE_IMPORT = re.compile(
    r"^\s*(?:from\s+(?P<from>[\w.]+)\s+import\s+(?P<names>[^#\n]+)|import\s+(?P<mod>[\w.]+))",
    re.MULTILINE,
)


def _private_imports(text: str) -> list[str]:
    found = []
    for match in PRIVATE_IMPORT.finditer(text):
        module = match["from"] or match["mod"]
        if module.split(".")[0] not in LIBRARIES:
            continue
        names = re.split(r"[\s,()]+", match["names"] or "")
        private_module = any(part.startswith("_") for part in module.split(".")[1:])
        private_name = any(n.startswith("_") for n in names if n and n != "as")
        if private_module or private_name:
            found.append(match.group(0).strip())
    return found


def test_examples_docs_and_nn_libraries_use_public_names_only():
    files = _python_sources("examples", "nn_modules", "nn_pytree", "nn_transform") + _doc_sources()
    offenders = [
        f"{path.relative_to(ROOT)}: {line}"
        for path in files
        for line in _private_imports(path.read_text())
    ]
    assert not offenders, "import only public derivax names here:\n" + "\n".join(offenders)


def test_private_import_detector():
    # The check above must catch what it is for, and let public imports through.
    assert _private_imports("from derivax._core import Tracer") == [
        "from derivax._core import Tracer"
    ]
    assert _private_imports("import derivax.numpy._shape as s") == ["import derivax.numpy._shape"]
    assert _private_imports("from derivax.tree import _registry") != []
    assert _private_imports("import derivax as dx\nfrom derivax.tree import map as tree_map") == []
    assert _private_imports("from numpy._core import x") == []


def test_no_peer_framework_imports():
    pattern = re.compile(rf"^\s*(?:import|from)\s+({'|'.join(PEERS)})(?:[.\s]|$)", re.MULTILINE)
    files = _python_sources("core", "nn_modules", "nn_pytree", "nn_transform", "examples")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for path in files
        for match in pattern.finditer(path.read_text())
    ]
    assert not offenders, (
        "peer frameworks are test oracles only (tests marked `oracle`):\n" + "\n".join(offenders)
    )


def test_public_objects_have_docstrings_with_examples():
    problems = []
    for name, obj in _public_objects():
        doc = inspect.getdoc(obj) or ""
        if not doc.strip():
            problems.append(f"{name}: no docstring")
        elif not (inspect.isclass(obj) and issubclass(obj, BaseException)) and ">>>" not in doc:
            problems.append(f"{name}: docstring has no `>>>` example")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module_name", _module_names())
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, module_name) if t.examples]
    if not tests:
        pytest.skip(f"{module_name} has no docstring examples")
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
