"""The renderable-scene seam: whatever a scene is, `renderable(scene).splats(camera)` gives the
plain Gaussians to draw from that camera. Evaluation, training runs and the viewer all go
through it, so a new kind of scene plugs in here and nowhere else:

* GaussianScene - itself, whatever the camera (`view_dependent = False`);
* AnchorScene   - the neural Gaussians its MLPs spawn for that camera (models.scaffold);
* SpacetimeScene / SpacetimeSequence - the slice at `camera.time` (colours baked for that
  camera); they also draw themselves exactly (`render_camera`: features splatted, then
  decoded per pixel), which `render_view` prefers.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from gscodec.errors import InputError
from gscodec.scene.anchors import AnchorScene
from gscodec.scene.gaussian import GaussianScene


@runtime_checkable
class Renderable(Protocol):
    view_dependent: bool  # True: splats(camera) differ per camera

    def splats(self, camera=None) -> GaussianScene:
        """The Gaussians seen from `camera` (None: a default view of the whole scene)."""


class StaticSplats:
    view_dependent = False

    def __init__(self, scene: GaussianScene):
        self.scene = scene

    def splats(self, camera=None) -> GaussianScene:
        return self.scene


class Drawn:
    """A source that only draws itself: `draw(camera, background=..., backend=...)` gives the
    RenderResult. Why: a trainer scores its model as it would decode now (simulated attributes,
    its own renderer) through the one scorer without first exporting a scene."""

    view_dependent = True

    def __init__(self, draw):
        self.render_camera = draw

    def splats(self, camera=None) -> GaussianScene:
        raise InputError("this source only draws itself: it has no plain Gaussians to give")


def renderable(scene) -> Renderable:
    """The seam's implementation for `scene` (a Renderable is returned as it is)."""
    if isinstance(scene, GaussianScene):
        return StaticSplats(scene)
    if isinstance(scene, AnchorScene):
        from gscodec.models.scaffold import AnchorSplats

        return AnchorSplats(scene)
    if isinstance(scene, Renderable):
        return scene
    raise InputError(f"cannot render a {type(scene).__name__}: it is not a scene gscodec knows")


def render_view(scene, camera, **kw):
    """render() of whatever `scene` is, from one camera (kw: background, backend, ...); a
    source that draws itself (`render_camera`, e.g. spacetime scenes) does."""
    from gscodec.render import render

    source = renderable(scene)
    if hasattr(source, "render_camera"):
        return source.render_camera(camera, **kw)
    return render(source.splats(camera), camera, **kw)


__all__ = ["Drawn", "Renderable", "StaticSplats", "render_view", "renderable"]
