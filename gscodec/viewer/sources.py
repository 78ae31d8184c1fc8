"""Where the viewer's splats come from.

The viewer only talks to a `SceneSource`, never to a file format, so other kinds of scene
plug in without touching it:

* `StaticSource` - a .ply or a .gsz (decoded once, on load);
* anchor scenes (HAC / Scaffold-GS family): the same source holds the decoded AnchorScene and
  spawns its neural Gaussians per camera through the renderable-scene seam
  (gscodec.scene.renderable); it sets `view_dependent = True` and the viewer calls
  `splats(camera)` again when the view moves (`sh_export=True`: the SH-fitted PLY export instead);
* dynamic streams (Spacetime Gaussians, a GOF index) are not a SceneSource: they have a
  timeline, and `gscodec.viewer.dynamic.DynamicSource` feeds the 4D player
  (`gscodec.viewer.player`) frame by frame instead.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Protocol, runtime_checkable

from gscodec.data.cameras import Camera
from gscodec.errors import InputError
from gscodec.scene import GaussianScene


@runtime_checkable
class SceneSource(Protocol):
    name: str
    view_dependent: bool  # True: splats(camera) differ per camera (anchor scenes)

    def info(self) -> dict:
        """What the side panel shows: file, bytes, splats, sh_degree, format, and for a .gsz
        its codec and `sections` (rows of name / method / bytes / share)."""

    def splats(self, camera: Camera | None = None) -> GaussianScene:
        """The Gaussians to show from `camera` (None: the source's default view)."""


class StaticSource:
    """A .ply or .gsz file, loaded (and decoded) once; an anchor stream renders its neural
    Gaussians for each camera (view_dependent)."""

    def __init__(self, scene, path: Path, info: dict):
        from gscodec.scene.renderable import renderable

        self.scene, self.path, self._info = scene, Path(path), info
        self.name = self.path.name
        self._renderable = renderable(scene)
        self.view_dependent = self._renderable.view_dependent

    @classmethod
    def load(cls, path: str | Path, progress: bool = True, sh_export: bool = False) -> "StaticSource":
        """Read a .ply or decode a .gsz. A missing or corrupt file raises InputError."""
        from gscodec.eval.compare import file_head, load_any
        from gscodec.utils.progress import progress_iter

        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        steps = progress_iter(["read", "decode", "summary"], f"loading {path.name}",
                              enabled=progress)
        info: dict = {}
        for step in steps:
            if step == "read":
                head = file_head(path)
                info["format"] = "ply" if head[:3] == b"ply" else "gsz"
            elif step == "decode":
                t0 = time.perf_counter()
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        loaded = load_any(path, keep_anchors=not sh_export)
                    for w in caught:  # e.g. clamped opacities: one line, as `gscodec encode` does
                        print(f"note: {w.message}")
                except InputError as e:
                    if str(path) in str(e):
                        raise
                    raise type(e)(f"{path}: {e}") from e
                except Exception as e:  # a damaged file must not end in a traceback
                    raise InputError(f"{path}: cannot read as .ply or .gsz ({type(e).__name__}: {e})") from e
                info["load_seconds"] = time.perf_counter() - t0
            elif step == "summary" and info["format"] == "gsz":
                from gscodec.codecs.info import gsz_summary

                summary = gsz_summary(path.read_bytes())
                info["codec"] = summary["header"].get("codec", "?")
                info["sections"] = summary["sections"]
        scene = loaded.scene
        if isinstance(scene, GaussianScene):
            info.update(splats=len(scene), sh_degree=scene.sh_degree)
        else:  # anchors: neural Gaussians, colour per view
            info.update(splats=int(scene.offset_mask.sum()), sh_degree="neural (per view)", anchors=len(scene))
        info.update(file=str(path), bytes=loaded.file_bytes)
        return cls(scene, path, info)

    def info(self) -> dict:
        return dict(self._info)

    def splats(self, camera: Camera | None = None) -> GaussianScene:
        return self._renderable.splats(camera)
