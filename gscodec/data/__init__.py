"""Datasets: cameras (with time for dynamic scenes), images, loaders (COLMAP, NeRF-synthetic /
D-NeRF, Neural 3D Video) and the built-in static and dynamic synthetic scenes."""
from gscodec.data.cameras import Camera, look_at, orbit_cameras
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.load import load_dataset

__all__ = ["Camera", "Dataset", "PointCloud", "load_dataset", "look_at", "orbit_cameras"]
