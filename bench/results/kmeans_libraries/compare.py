"""usage: compare.py DATA(synth|small) K [methods,comma]"""
import sys, time, os, json
sys.path.append("/tmp/kmlib")  # appended: venv numpy/scipy win
import numpy as np
import torch
from gscodec.coding.kmeans import kmeans
import faiss
from threadpoolctl import threadpool_limits
from sklearn.cluster import KMeans, MiniBatchKMeans
which, k = sys.argv[1], int(sys.argv[2])
methods = sys.argv[3].split(",") if len(sys.argv) > 3 else ["ours", "faiss1", "faiss2", "sk_mb", "sk_lloyd_rand", "sk_lloyd_pp"]
x = np.load(f"/tmp/km/shrest_{which}.npy")
n, d = x.shape
SAMPLE, ITERS, SEED = 200_000, 10, 0
var = x.var(0).sum()
def mse(c, lab):
    r = x - c[lab]; return float((r.astype(np.float64) ** 2).sum(1).mean() / var)
# same sample rows as ours (torch randperm with the same generator)
if n > SAMPLE:
    gen = torch.Generator().manual_seed(SEED)
    idx = torch.sort(torch.randperm(n, generator=gen)[:SAMPLE]).values.numpy()
    fit = np.ascontiguousarray(x[idx])
else:
    fit = x
rows = []
SEED = int(os.environ.get('SEED', 0))
for m in methods:
    a = torch.randn(2000, 2000)
    for _ in range(5): a @ a  # torch's threads active just before, as in an encode
    base, _, it = m.partition('_i'); it = int(it) if it.isdigit() else ITERS
    if it != ITERS: pass
    else: base = m
    t = time.perf_counter()
    if base == "ourschunk":
        import gscodec.coding.kmeans as _k; _k._CHUNK_ELEMS = 1 << 18
        c, lab = kmeans(x, k, iters=it, seed=SEED, sample=SAMPLE if n > SAMPLE else None)
    elif base == "ours":
        c, lab = kmeans(x, k, iters=it, seed=SEED, sample=SAMPLE if n > SAMPLE else None)
    elif base.startswith("faiss"):
        import faiss
        faiss.omp_set_num_threads(int(base[5]))
        km = faiss.Kmeans(d, k, niter=it, seed=1234 + SEED, max_points_per_centroid=10**9, verbose=False)
        km.train(fit)
        _, lab = km.index.search(x, 1); lab = lab[:, 0]; c = km.centroids
    else:
        from threadpoolctl import threadpool_limits
        from sklearn.cluster import KMeans, MiniBatchKMeans
        with threadpool_limits(2):
            if base == "sk_mb":
                est = MiniBatchKMeans(n_clusters=k, batch_size=4096, max_iter=it, n_init=1, random_state=SEED)
            else:
                est = KMeans(n_clusters=k, init="random" if base.endswith("rand") else "k-means++", n_init=1,
                             max_iter=it, tol=0, algorithm="lloyd", random_state=SEED)
            est.fit(fit); lab = est.predict(x); c = est.cluster_centers_.astype(np.float32)
    s = time.perf_counter() - t
    r = dict(data=which, n=n, k=k, method=m, seconds=round(s, 2), mse_rel=round(mse(c, lab), 5))
    print(json.dumps(r), flush=True)
    with open("/tmp/km/results.jsonl", "a") as f: f.write(json.dumps(r) + "\n")
