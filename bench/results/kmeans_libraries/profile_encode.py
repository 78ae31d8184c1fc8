import sys, time, cProfile, pstats, numpy as np
sys.path.insert(0, "/work/wt-km/bench")
from ptc_peers_scene import REALISTIC_SH_NOISE, synthetic_scene
import gscodec.coding.kmeans as km
from gscodec.codecs.ptc.codec import PostTrainingCodec
from gscodec.scene import load_ply
import torch
print("torch threads", torch.get_num_threads())
which = sys.argv[1]
if which == "synth":
    scene = synthetic_scene(500_000, seed=1, sh_noise=REALISTIC_SH_NOISE)
else:
    scene = load_ply("/work/shared/data/real/small_sh3.ply")
orig = km.kmeans
rec = {}
def wrapped(x, k, **kw):
    t = time.perf_counter(); r = orig(x, k, **kw); rec["t"] = time.perf_counter() - t
    np.save(f"/tmp/km/shrest_{which}.npy", np.asarray(x, np.float32)); rec["kw"] = (k, kw, np.shape(x)); return r
km.kmeans = wrapped
codec = PostTrainingCodec(quality=3)
t = time.perf_counter()
pr = cProfile.Profile(); pr.enable()
data = codec.encode(scene)
pr.disable()
tot = time.perf_counter() - t
print(f"{which}: encode total {tot:.2f}s  kmeans {rec['t']:.2f}s ({100*rec['t']/tot:.0f}%)  args {rec['kw']}  bytes {len(data)}")
pstats.Stats(pr).sort_stats("cumulative").print_stats(18)
