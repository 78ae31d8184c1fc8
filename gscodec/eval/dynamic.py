"""`gscodec eval` on dynamic streams: two sequences rendered from the same cameras at the same
moments (a dynamic dataset's held-out views at every frame, or an orbit whose cameras step
through the sequence's time), and, with a dataset, each one's per-frame PSNR / SSIM against the
ground truth; sizes as bitrate at the sequence's frame rate."""
from __future__ import annotations

import dataclasses

from gscodec.errors import InputError
from gscodec.scoring import auto_orbit, score_dataset
from gscodec.utils.rates import mbps


def is_sequence(scene) -> bool:
    return isinstance(getattr(scene, "gofs", None), list)


def timed_orbit(seq, n: int, resolution: int) -> list:
    """n orbit cameras (gscodec.eval.compare.auto_orbit) whose times step evenly from the first
    frame to the last, so one orbit shows every GOF's motion."""
    cams = auto_orbit(seq, n, resolution)
    last = seq.n_frames - 1
    frames = [round(i * last / max(n - 1, 1)) for i in range(n)]
    return [dataclasses.replace(c, frame=f, time=f / seq.fps) for c, f in zip(cams, frames)]


def evaluate_sequences(ref, test, *, ds=None, orbit: int = 12, resolution: int = 256,
                       lpips_weights: str | None = None, gsz=None) -> dict:
    """ref / test: LoadedScene of two dynamic streams. -> the report dict `gscodec eval` prints."""
    from gscodec.eval.compare import compare_scenes, pair_report

    for s in (ref, test):
        if not is_sequence(s.scene):
            raise InputError(f"{s.path} is a static scene and the other file a dynamic stream: compare two dynamic "
                             "streams (or two static scenes)")
    if (ref.scene.n_frames, ref.scene.fps) != (test.scene.n_frames, test.scene.fps):
        raise InputError(f"the streams cover different sequences: {ref.scene.n_frames} frames at {ref.scene.fps:g} fps "
                         f"vs {test.scene.n_frames} at {test.scene.fps:g}")
    seq = ref.scene
    if ds is not None:
        if not ds.dynamic:
            raise InputError(f"--cameras {ds.name or ds.root}: a static dataset; a dynamic stream needs a dynamic one")
        if ds.n_frames != seq.n_frames:
            raise InputError(f"--cameras: the dataset has {ds.n_frames} frames, the streams {seq.n_frames}")
        cams, background = ds.test_cameras(), ds.background
    else:
        cams, background = timed_orbit(seq, orbit, resolution), (0.0, 0.0, 0.0)
    m = compare_scenes(ref.scene, test.scene, cams, background=background, lpips_weights=lpips_weights)
    seconds = seq.n_frames / seq.fps
    report = {**pair_report(ref, test, m, len(cams), gsz=gsz), "frames": seq.n_frames, "fps": seq.fps, "seconds": seconds,
              "reference_mbps": mbps(ref.file_bytes, seq.n_frames, seq.fps),
              "decoded_mbps": mbps(test.file_bytes, seq.n_frames, seq.fps),
              "decoded_bytes_per_frame": test.file_bytes / seq.n_frames}
    if ds is not None:
        for key, s, what in (("reference_vs_ground_truth", ref, "reference"), ("decoded_vs_ground_truth", test, "decoded")):
            rows = score_dataset(s.scene, ds, lpips=True, progress=True,
                                 desc=f"{what} vs ground truth").per_frame()
            report[key] = {"psnr": sum(r["psnr"] for r in rows) / len(rows),
                           "ssim": sum(r["ssim"] for r in rows) / len(rows), "per_frame": rows}
    return report


def print_sequence_report(r: dict) -> None:
    from gscodec.eval.compare import print_scores, size_line

    print(f"frames       {r['frames']} at {r['fps']:g} fps ({r['seconds']:.2f} s); {r['views']} views")
    print_scores(r, "decoded vs reference renders, each view at its time")
    print(f"size         {size_line(r)}; {r['reference_mbps']:.3f} -> {r['decoded_mbps']:.3f} Mbps, "
          f"{r['decoded_bytes_per_frame']:,.0f} B per frame")
    for key, what in (("reference_vs_ground_truth", "reference"), ("decoded_vs_ground_truth", "decoded")):
        if key in r:
            pf = [x["psnr"] for x in r[key]["per_frame"]]
            print(f"{what:<12} {r[key]['psnr']:.2f} dB / SSIM {r[key]['ssim']:.4f} vs ground truth "
                  f"(per frame {min(pf):.2f}..{max(pf):.2f} dB)")
    if r["decode_seconds"] is not None:
        print(f"decode time  {r['decode_seconds']:.2f} s")
