"""`gscodec view`: a local web viewer built on viser (the browser renders; no server GPU);
dynamic streams open the 4D player (player.py: timeline, RGB / depth, A / B).

viser is optional (`pip install 'gscodec[viewer]'`); it is imported only when a viewer starts.
"""
from gscodec.viewer.dynamic import DynamicSource
from gscodec.viewer.sources import SceneSource, StaticSource

__all__ = ["DynamicSource", "SceneSource", "StaticSource"]
