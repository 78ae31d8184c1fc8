"""Training: the 3DGS loop, densification strategies, checkpoints."""
from gscodec.train.config import TrainConfig
from gscodec.train.scaffold import ScaffoldConfig, ScaffoldTrainer
from gscodec.train.trainer import Trainer

__all__ = ["ScaffoldConfig", "ScaffoldTrainer", "TrainConfig", "Trainer"]
