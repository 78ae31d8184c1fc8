"""Malformed PLYs through `gscodec encode` (#22): each kind must end in a one-line refusal
that leaves no output file, or in a .gsz that decodes to a finite scene (with a one-line
note when the input was repaired). Part of bench/fuzz.py; alone:
    python bench/fuzz_ply.py            (prints the JSON of the kinds)
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

N = 64
REQ = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
       "rot_0", "rot_1", "rot_2", "rot_3"]


def _props(k_rest=9, normals=True):
    names = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals else []) + ["f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(k_rest)] + ["opacity", "scale_0", "scale_1", "scale_2"]
    return names + ["rot_0", "rot_1", "rot_2", "rot_3"]


def _values(names, n=N, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    v = {p: rng.normal(0, 0.3, n) for p in names}
    for p in ("x", "y", "z"):
        if p in v:
            v[p] = rng.uniform(-1, 1, n)
    for p in ("scale_0", "scale_1", "scale_2"):
        if p in v:
            v[p] = rng.normal(-4, 0.5, n)
    if "opacity" in v:
        v["opacity"] = rng.normal(1, 1, n)
    return v


def ply(names=None, values=None, n=N, fmt="binary_little_endian", types=None, count=None, extra_header=b"",
        tail=b"", cut=None, header=None, data=None) -> bytes:
    """A PLY from property names, values and types (default float32), every part overridable."""
    names = _props() if names is None else names
    values = _values(names, n) if values is None else values
    types = types or {}
    tmap = {"float": "f4", "double": "f8", "int": "i4", "uint": "u4", "short": "i2", "ushort": "u2", "uchar": "u1",
            "char": "i1", "int64": "i8"}
    end = ">" if fmt == "binary_big_endian" else "<"
    if header is None:
        lines = ["ply", f"format {fmt} 1.0", f"element vertex {n if count is None else count}"]
        lines += [f"property {types.get(p, 'float')} {p}" for p in names]
        header = ("\n".join(lines) + "\n").encode() + extra_header + b"end_header\n"
    if data is None:
        if fmt == "ascii":
            data = "".join(" ".join(repr(float(values[p][i])) for p in names) + "\n" for i in range(n)).encode()
        else:
            dt = np.dtype([(p, end + tmap.get(types.get(p, "float"), "f4")) for p in names])
            arr = np.zeros(n, dt)
            for p in names:
                with np.errstate(all="ignore"):
                    arr[p] = values[p]
            data = arr.tobytes()
    out = header + data + tail
    return out[:cut] if cut is not None else out


def _set(attr, value, rows=slice(None)):
    v = _values(_props())
    v[attr] = v[attr].copy()
    v[attr][rows] = value
    return ply(values=v)


def _crlf(data: bytes) -> bytes:
    end = data.index(b"end_header\n") + len(b"end_header\n")
    return data[:end].replace(b"\n", b"\r\n") + data[end:]


def kinds() -> dict[str, bytes]:
    base = ply()
    k = {"valid (control)": base, "valid big-endian": ply(fmt="binary_big_endian"), "ascii": ply(fmt="ascii"),
         "empty file": b"", "not a PLY": b"hello world\n" * 10, "truncated header": base[:60],
         "header without end_header": ply(header=b"ply\nformat binary_little_endian 1.0\nelement vertex 64\n"),
         "unknown format": ply(fmt="binary_middle_endian"), "format version 2.0": base.replace(b" 1.0\n", b" 2.0\n", 1),
         "missing format line": base.replace(b"format binary_little_endian 1.0\n", b"", 1),
         "count too big (x10)": ply(count=N * 10), "count too small (trailing data)": ply(count=N // 2),
         "count zero": ply(count=0), "count negative": ply(count=-5), "count not a number": ply(count="abc"),
         "count 2^40": ply(count=1 << 40), "count 2^63": ply(count=1 << 63),
         "data truncated mid-record": base[:-7], "data cut to the header": ply(cut=len(ply(n=0, count=N))),
         "no vertex element": base.replace(b"element vertex", b"element point", 1),
         "vertex element declared twice": ply(extra_header=b"element vertex 3\nproperty float x\n"),
         "face element with a list after vertex": ply(extra_header=b"element face 0\nproperty list uchar int vertex_indices\n"),
         "list property in vertex": base.replace(
             b"property float rot_3\n", b"property float rot_3\nproperty list uchar float junk\n", 1),
         "element vertex without properties": b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nend_header\n",
         "property without a name": base.replace(b"property float nz\n", b"property float\n", 1),
         "unknown property type": base.replace(b"property float nz\n", b"property float128 nz\n", 1),
         "duplicate property": base.replace(b"property float nz\n", b"property float ny\n", 1),
         "non-UTF-8 header": base.replace(b"element vertex", b"comment \xff\xfe\nelement vertex", 1),
         "NUL byte in header": base.replace(b"element vertex", b"comment a\x00b\nelement vertex", 1),
         "CRLF line endings": _crlf(base),
         "obj_info after the properties": ply(extra_header=b"comment made by a fuzz\nobj_info nothing\n"),
         "1 MB comment line": ply(extra_header=b"comment " + b"a" * (1 << 20) + b"\n"),
         "10k extra properties": ply(names=_props() + [f"p{i}" for i in range(10_000)], n=4),
         "point cloud (x y z red green blue)": ply(names=["x", "y", "z", "red", "green", "blue"],
                                                   types={"red": "uchar", "green": "uchar", "blue": "uchar"}),
         "no normals (valid)": ply(names=_props(normals=False)), "SH degree 0 (valid)": ply(names=_props(0)),
         "SH degree 2 (valid)": ply(names=_props(24)), "SH degree 3 (valid)": ply(names=_props(45)),
         "f_rest not a multiple of 3": ply(names=_props(8)), "f_rest of no SH degree (12)": ply(names=_props(12)),
         "f_rest numbering gap": ply(names=[p if p != "f_rest_4" else "f_rest_40" for p in _props()]),
         "properties shuffled (valid)": ply(names=list(reversed(_props()))),
         "double properties (valid)": ply(types={p: "double" for p in _props()}),
         "int64 positions": ply(types={"x": "int64", "y": "int64", "z": "int64"}),
         "uchar opacity": ply(types={"opacity": "uchar"}), "int scales": ply(types={p: "int" for p in
                                                                                  ("scale_0", "scale_1", "scale_2")}),
         "short rotations": ply(types={p: "short" for p in ("rot_0", "rot_1", "rot_2", "rot_3")}),
         "extra unknown properties": ply(names=_props() + ["confidence", "label"], types={"label": "uchar"}),
         "one splat": ply(n=1), "two splats": ply(n=2), "zero splats": ply(n=0),
         "all splats identical": ply(values={p: np.full(N, 0.1) for p in _props()}),
         "all zero": ply(values={p: np.zeros(N) for p in _props()}),
         "negative zeros": ply(values={p: np.full(N, -0.0) for p in _props()}),
         "denormal values": ply(values={p: np.full(N, 1e-42) for p in _props()}),
         "random bytes as data": ply(data=np.random.default_rng(3).bytes(N * 4 * len(_props()))),
         "big-endian header, little-endian data": ply(fmt="binary_big_endian", data=b"") + base[len(ply(data=b"")):],
         "degenerate quaternions (all zero)": ply(values={
             **_values(_props()), **{f"rot_{i}": np.zeros(N) for i in range(4)}}),
         "one degenerate quaternion": ply(values={**_values(_props()), **{f"rot_{i}": np.r_[0.0, np.ones(N - 1)]
                                                                          for i in range(4)}}),
         "tiny quaternions (1e-20)": ply(values={**_values(_props()), **{f"rot_{i}": np.full(N, 1e-20)
                                                                         for i in range(4)}}),
         "huge quaternions (1e30)": ply(values={**_values(_props()), **{f"rot_{i}": np.full(N, 1e30)
                                                                        for i in range(4)}}),
         "opacity all -inf": _set("opacity", -np.inf), "opacity +inf in one": _set("opacity", np.inf, 0),
         "scales +100 (exp overflows)": ply(values={**_values(_props()), **{f"scale_{i}": np.full(N, 100.0)
                                                                            for i in range(3)}}),
         "scales -100": ply(values={**_values(_props()), **{f"scale_{i}": np.full(N, -100.0) for i in range(3)}}),
         "huge position 1e30 in one": _set("x", 1e30, 0), "huge positions everywhere (3e38)": _set("x", 3e38),
         "huge colour 1e38 in one": _set("f_dc_0", 1e38, 0), "huge scale 1e30 in one": _set("scale_1", 1e30, 0)}
    for attr in ("x", "f_dc_0", "f_rest_0", "opacity", "scale_0", "rot_0"):
        k[f"NaN in {attr}"] = _set(attr, np.nan, 3)
        k[f"+Inf in {attr}"] = _set(attr, np.inf, 3)
        k[f"-Inf in {attr}"] = _set(attr, -np.inf, 3)
    k["NaN everywhere"] = ply(values={p: np.full(N, np.nan) for p in _props()})
    for attr in ("x", "opacity", "rot_3", "scale_2", "f_dc_1"):
        k[f"missing {attr}"] = ply(names=[p for p in _props() if p != attr])
    return k


def _outcome(rc: int, out: str, err: str, exc: str | None, target: Path) -> tuple[str, str]:
    from gscodec.codecs import decode_bytes

    lines = [ln for ln in err.strip().splitlines() if ln]
    if exc:
        return "bad", "uncaught " + exc
    if rc != 0:
        if target.exists():
            return "bad", "refused but left " + target.name
        if len(lines) != 1:
            return "bad", f"{len(lines)} lines on stderr: " + " / ".join(lines)[:200]
        return "refused", lines[0]
    notes = [ln for ln in out.splitlines() if ln.startswith("note:")]
    try:
        scene = decode_bytes(target.read_bytes())  # refuses a non-finite one
    except Exception as e:  # noqa: BLE001
        return "bad", f"encoded but does not decode: {e}"[:200]
    if lines:
        return "bad", "stderr on success: " + " / ".join(lines)[:200]
    return ("note" if notes else "ok"), (" / ".join(notes) or f"{len(scene)} splats")[:300]


def run_all() -> dict:
    """Every kind through gscodec.cli.main(['encode', ...]) in a subprocess under 4 GiB."""
    import subprocess

    r = subprocess.run([sys.executable, __file__, "--limited"], capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        raise RuntimeError(f"fuzz_ply failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _run_here() -> dict:
    from gscodec.cli import main

    rows = []
    with tempfile.TemporaryDirectory() as d:
        for i, (kind, data) in enumerate(kinds().items()):
            src, target = Path(d) / f"{i}.ply", Path(d) / f"{i}.gsz"
            src.write_bytes(data)
            out, err, exc = io.StringIO(), io.StringIO(), None
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    rc = main(["encode", str(src), "-o", str(target)])
                except SystemExit as e:
                    rc = e.code if isinstance(e.code, int) else 2
                except Exception as e:  # noqa: BLE001 - what the bench looks for
                    rc, exc = 1, f"{type(e).__name__}: {e} " + traceback.format_exc(limit=2)[-300:]
            outcome, msg = _outcome(rc, out.getvalue(), err.getvalue(), exc, target)
            rows.append({"kind": kind, "outcome": outcome, "message": msg})
    summary = {k: sum(r["outcome"] == k for r in rows) for k in ("refused", "note", "ok", "bad")}
    return {"summary": summary, "kinds": rows}


if __name__ == "__main__":
    if "--limited" in sys.argv:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    import torch

    torch.set_num_threads(1)
    res = _run_here()
    print(json.dumps(res))
