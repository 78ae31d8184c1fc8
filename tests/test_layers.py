"""Import directions between packages (#21): evaluation orchestrates codecs and training, so
codecs, training and models never import gscodec.eval (at module level or inside a function,
where the old cycles hid), and the scorer imports none of them."""
import ast
from pathlib import Path

import gscodec

ROOT = Path(gscodec.__file__).parent


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _offenders(files, banned: tuple[str, ...]) -> list[str]:
    return [f"{f.relative_to(ROOT)}: {m}" for f in files for m in sorted(_imports(f))
            if any(m == b or m.startswith(b + ".") for b in banned)]


def test_codecs_train_and_models_do_not_import_eval():
    files = [f for pkg in ("codecs", "train", "models") for f in (ROOT / pkg).rglob("*.py")]
    assert not _offenders(files, ("gscodec.eval",))


def test_the_scorer_sits_below_eval_train_codecs_and_models():
    banned = ("gscodec.eval", "gscodec.train", "gscodec.codecs", "gscodec.models")
    assert not _offenders([ROOT / "scoring.py"], banned)
