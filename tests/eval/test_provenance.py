"""same_code: commits that differ only in bench/results count as one codebase; anything else does not."""
import subprocess

from gscodec.utils.provenance import same_code


def _commit(repo, path, text):
    f = repo / path
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
           "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", path], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def test_results_only_commits_are_the_same_code_and_code_changes_are_not(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    a = _commit(tmp_path, "gscodec/x.py", "x = 1\n")
    b = _commit(tmp_path, "bench/results/r.json", "{}\n")
    c = _commit(tmp_path, "gscodec/x.py", "x = 2\n")
    assert same_code([a, b], root=tmp_path)
    assert not same_code([a, b, c], root=tmp_path)
    assert not same_code([a, "unknown"], root=tmp_path) and not same_code([a, b + "+dirty"], root=tmp_path)
