"""Datasets: cameras, images, loaders (COLMAP, NeRF-synthetic) and the built-in synthetic scene."""
from gscodec.data.cameras import Camera, look_at, orbit_cameras
from gscodec.data.dataset import Dataset, PointCloud
from gscodec.data.load import load_dataset

__all__ = ["Camera", "Dataset", "PointCloud", "load_dataset", "look_at", "orbit_cameras"]
