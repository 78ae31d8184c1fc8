"""gscodec.metrics is a leaf (#21): it imports nothing of gscodec but errors, at module level or
inside functions, so codecs, training, models and evaluation can all use it without cycles."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import gscodec.metrics

PKG = Path(gscodec.metrics.__file__).parent
ALLOWED = ("gscodec.errors", "gscodec.metrics")


def test_no_module_of_the_package_imports_the_rest_of_gscodec():
    bad = []
    for f in sorted(PKG.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{f.name}: {n}" for n in names
                    if n.startswith("gscodec") and not any(n == a or n.startswith(a + ".") for a in ALLOWED)]
            if isinstance(node, ast.ImportFrom) and node.level:
                bad.append(f"{f.name}: relative import")  # keep them absolute, so this check sees them
    assert not bad, bad


def test_importing_it_and_computing_loads_no_codecs_train_models_or_eval():
    code = ("import sys, json, torch, gscodec\n"
            "base = set(sys.modules)\n"  # what `import gscodec` itself loads (its GaussianScene)
            "import gscodec.metrics as m\n"
            "x = torch.rand(32, 32, 3); m.psnr(x, x * 0.9); m.ssim(x, x * 0.9)\n"
            "m.bd_rate([1, 2, 3, 4], [30, 31, 32, 33], [1, 2, 3, 4], [30.5, 31.5, 32.5, 33.5])\n"
            "print(json.dumps([sorted(k for k in set(sys.modules) - base if k.startswith('gscodec')), sorted(sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded, everything = json.loads(out.strip().splitlines()[-1])
    assert loaded and all(k.startswith("gscodec.metrics") for k in loaded), loaded
    layers = ("gscodec.codecs", "gscodec.train", "gscodec.models", "gscodec.eval", "gscodec.render")
    assert not [k for k in everything if k.startswith(layers)]
