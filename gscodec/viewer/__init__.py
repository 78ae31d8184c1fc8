"""`gscodec view`: a local web viewer built on viser (the browser renders; no server GPU).

viser is optional (`pip install 'gscodec[viewer]'`); it is imported only when a viewer starts.
"""
from gscodec.viewer.sources import SceneSource, StaticSource

__all__ = ["SceneSource", "StaticSource"]
