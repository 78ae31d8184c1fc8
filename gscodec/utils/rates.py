"""Bitrate of a dynamic stream, the one formula `info`, runs, `eval`, the player and the
benchmarks report (GSCodec Studio's Mbps: the stream's bits over its duration)."""


def mbps(n_bytes: float, n_frames: int, fps: float) -> float:
    """Megabits per second of n_bytes holding n_frames played at fps."""
    return 8.0 * n_bytes / (n_frames / fps) / 1e6
