"""How a generation relates to its OWN training set D_t: memorisation of D_t and the entropy of D_t and of the samples.

Shi et al. 2025 ("A Closer Look at Model Collapse: From a Generalization-to-Memorization Perspective", NeurIPS)
find that, across the generations of a self-consuming diffusion model, the model moves from generalising to
memorising its own training set while the entropy of that set falls, the two tracking each other. Today's
`memorized_share` measures memorisation against D_0 only, which says nothing once D_t is synthetic. Here:

- `memorized_share_dt`: the share of samples g closer to their nearest D_t image t than t's nearest other D_t
  image is (the same rule as `bench.metrics.memorization`, Alaa et al. 2022, with D_t as the training set);
  `nn_gen_dt_*` / `nn_dt_dt_*`: the two distance distributions (mean, median, p05, p95).
- `entropy_dt`, `entropy_gen`: Kozachenko–Leonenko k = 1 entropies (nats) of D_t's features and of the scored
  samples' features (`bench.metrics.entropy`; biased at finite N in many dimensions: compare at equal sizes).
- `n_dt`: |D_t|; `n_distinct_dt`, `n_distinct_gen`: the distinct rows behind each entropy (exact copies count once,
  so a set collapsed into copies is read by these counts, not by its entropy; `bench.metrics.entropy`). The
  memorisation rule counts D_t's duplicates once as well (`bench.metrics.memorization`).

At generation 0, D_t = D_0: `memorized_share_dt` equals `memorized_share`. Cost: a k-NN pass within D_t, O(|D_t|^2 d)
(an `accumulate` loop's D_t grows by |S| a generation), and one within the samples.
"""

from __future__ import annotations

from torch import Tensor

from bench.metrics._common import DEFAULT_CHUNK_SIZE, as_features, few_threads_call, same_dim
from bench.metrics.entropy import entropy_of_distinct_rows, knn_entropy
from bench.metrics.memorization import distance_summary, memorized_rows

OWN_DATA_KEYS = ("memorized_share_dt", "entropy_dt", "entropy_gen")


@few_threads_call
def own_data_metrics(
    dt: Tensor, gen: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE, dt_nn: Tensor | None = None
) -> dict[str, float | int | None]:
    """memorized_share_dt, nn_gen_dt_{mean,median,p05,p95}, nn_dt_dt_{...}, entropy_dt, entropy_gen (None with
    fewer than 2 distinct rows), n_distinct_dt, n_distinct_gen, n_dt.
    `dt_nn`: D_t's nearest-other-row distances when already known (`train_nn_distances`), to reuse."""
    dt = as_features(dt, "training set D_t", min_rows=2)
    gen = as_features(gen, "generated", min_rows=2)
    same_dim(dt, gen, "training set D_t", "generated")
    memorized, dist, dt_nn = memorized_rows(dt, gen, chunk_size=chunk_size, train_nn=dt_nn)
    out: dict[str, float | int | None] = {"memorized_share_dt": int(memorized.sum()) / memorized.shape[0]}
    out.update(distance_summary("nn_gen_dt", dist))
    out.update(distance_summary("nn_dt_dt", dt_nn))
    for name, est in (
        ("dt", entropy_of_distinct_rows(dt_nn, dt.shape[1])),  # memorisation's search, D_t's copies once
        ("gen", knn_entropy(gen, chunk_size=chunk_size)),
    ):
        out[f"entropy_{name}"] = est["entropy"]
        out[f"n_distinct_{name}"] = est["n_distinct"]
    out["n_dt"] = int(dt.shape[0])
    return out
