"""What pyproject.toml declares is true: every module parses as Python 3.10 (the lowest declared
version, which this machine does not have), stdlib modules newer than 3.10 are imported with a
fallback, and every third-party module the package imports is a declared dependency."""
import ast
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "gscodec").rglob("*.py"))
NEW_IN_311 = {"tomllib"}
# import name -> distribution name, where they differ; optional extras are allowed
DIST = {"PIL": "pillow"}
OPTIONAL = {"gsplat", "yaml"}  # imported where used, with a one-line error naming the package


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.name.split(".")[0], node) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node


def test_requires_python_is_true():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.10"
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path), feature_version=(3, 10))
        guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for b in t.body for n in ast.walk(b)}
        for name, node in _imports(tree):
            assert name not in NEW_IN_311 or id(node) in guarded, f"{path}: `import {name}` needs a 3.10 fallback"


def test_third_party_imports_are_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {d.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
                for d in meta["dependencies"] + sum(meta.get("optional-dependencies", {}).values(), [])}
    missing = set()
    for path in SOURCES:
        for name, _ in _imports(ast.parse(path.read_text())):
            if name in sys.stdlib_module_names or name == "gscodec" or name in OPTIONAL:
                continue
            if DIST.get(name, name).lower().replace("_", "-") not in declared:
                missing.add(f"{name} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_a_missing_resource_fails_under_ci(tmp_path):
    """`missing` (tests/conftest.py) skips on a developer's machine and fails under CI=true."""
    import os
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text("def test_x(require):\n    require('no such thing')\n")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    assert subprocess.run(base, env=env, capture_output=True, cwd=tmp_path).returncode == 0  # skipped
    r = subprocess.run(base, env={**env, "CI": "true"}, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "required under CI=true: no such thing" in r.stdout


def test_error_messages_print_numbers_readably():
    from gscodec.errors import readable

    msg = readable("header says 1000000000000000010979063279488462849182948211 vertices; step 0.12345678901234567, k 42")
    assert msg == "header says 1e+45 vertices; step 0.1235, k 42"
    assert len(readable("x" * 5000)) == 400
