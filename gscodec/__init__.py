"""gscodec: compression of 3D Gaussian Splatting scenes.

Data flow: dataset -> model -> codec.encode -> bytes -> codec.decode -> scene -> render -> metrics.
"""
from gscodec.errors import GscodecError, InputError
from gscodec.scene.gaussian import GaussianScene

__version__ = "0.1.0"
__all__ = ["GaussianScene", "GscodecError", "InputError", "__version__"]
