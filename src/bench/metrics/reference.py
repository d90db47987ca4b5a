"""The real reference set with its statistics computed once, and `score`, the full metric suite.

ref = RealReference.from_features(feats, labels, num_classes=10)   # once per run
ref.save("ref.pt"); ref = RealReference.load("ref.pt")             # plain tensors, weights_only
row = score(ref, gen_feats, gen_labels, train_feats=train_feats)   # per generation
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from bench.errors import BenchError
from bench.metrics._common import (
    DEFAULT_CHUNK_SIZE,
    as_features,
    check_chunk_size,
    few_threads_call,
    knn,
    knn_radii,
    same_dim,
)
from bench.metrics._resample import NEIGHBOURS_EXTRA, SuiteResampler
from bench.metrics.bootstrap import percentile_interval
from bench.metrics.c2st import c2st
from bench.metrics.fid import frechet_distance, gaussian_moments
from bench.metrics.kid import kid
from bench.metrics.memorization import memorization_summary, memorized_rows, train_nn_distances
from bench.metrics.modes import class_counts, mode_stats_from_counts
from bench.metrics.prdc import prdc_pass, summarize
from bench.metrics.vendi import vendi

_FORMAT = "bench.metrics.RealReference"
# 2: radii are exact float64 distances (version 1 held float32 cdist values, which differ by rounding)
_VERSION = 2
REFERENCE_VERSION = _VERSION

# Scalar metrics that get <key>_ci_low / <key>_ci_high with score(..., bootstrap=n).
# Not bootstrapped: kid_* (its std over subsets is already reported; 50-100
# kernel subsets per replicate is too slow), c2st_* (a classifier fit per
# replicate; the p-value is its uncertainty statement), nn_* distance summaries.
BOOTSTRAP_KEYS = (
    "fid",
    "precision",
    "recall",
    "density",
    "coverage",
    "vendi",
    "classes_covered",
    "kl_gen_real",
    "tv",
    "min_class_share",
    "memorized_share",
    "authenticity",
)


@dataclass
class RealReference:
    """Real reference features and everything derived from them that scoring reuses."""

    features: Tensor  # (N, D) float32 or float64
    mean: Tensor  # (D,) float64
    cov: Tensor  # (D, D) float64, unbiased
    k_pr: int
    k_dc: int
    radii_pr: Tensor  # (N,) distance to the k_pr-th nearest other reference row
    radii_dc: Tensor  # (N,) same for k_dc
    labels: Tensor | None = None  # (N,) int64
    num_classes: int | None = None
    class_counts: Tensor | None = None  # (num_classes,) int64

    @classmethod
    @few_threads_call
    def from_features(
        cls,
        features: Tensor,
        labels: Tensor | None = None,
        *,
        num_classes: int | None = None,
        k_pr: int = 3,
        k_dc: int = 5,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> RealReference:
        feats = as_features(features, "real reference", min_rows=max(k_pr, k_dc) + 1)
        check_chunk_size(chunk_size)
        for name, k in (("k_pr", k_pr), ("k_dc", k_dc)):
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise BenchError(f"metrics: {name} must be a positive integer, got {k!r}")
        mean, cov = gaussian_moments(feats)
        radii = knn_radii(feats, [k_pr, k_dc], chunk_size=chunk_size)
        counts = None
        if labels is not None:
            if num_classes is None:
                raise BenchError("metrics: RealReference.from_features needs num_classes when labels are given")
            counts = class_counts(labels, num_classes, "real labels")
            labels = torch.as_tensor(labels).detach().cpu().reshape(-1).long()
            if labels.shape[0] != feats.shape[0]:
                raise BenchError(f"metrics: {labels.shape[0]} real labels for {feats.shape[0]} real feature rows")
        return cls(
            feats,
            mean,
            cov,
            k_pr,
            k_dc,
            radii[k_pr],
            radii[k_dc],
            labels,
            num_classes if labels is not None else None,
            counts,
        )

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def to_dict(self) -> dict:
        """Plain tensors / ints / strings only, loadable with torch.load(weights_only=True)."""
        d = {
            "format": _FORMAT,
            "version": _VERSION,
            "features": self.features,
            "mean": self.mean,
            "cov": self.cov,
            "k_pr": self.k_pr,
            "k_dc": self.k_dc,
            "radii_pr": self.radii_pr,
            "radii_dc": self.radii_dc,
        }
        if self.labels is not None:
            d.update(labels=self.labels, num_classes=self.num_classes, class_counts=self.class_counts)
        return d

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "dict") -> RealReference:
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise BenchError(f"metrics: {source} is not a saved RealReference")
        if d.get("version") != _VERSION:
            raise BenchError(f"metrics: {source} has RealReference version {d.get('version')!r}, expected {_VERSION}")
        try:
            ref = cls(
                d["features"],
                d["mean"],
                d["cov"],
                int(d["k_pr"]),
                int(d["k_dc"]),
                d["radii_pr"],
                d["radii_dc"],
                d.get("labels"),
                d.get("num_classes"),
                d.get("class_counts"),
            )
        except KeyError as e:
            raise BenchError(f"metrics: {source} lacks the RealReference field {e.args[0]!r}") from None
        n, dim = ref.features.shape
        if (
            ref.mean.shape != (dim,)
            or ref.cov.shape != (dim, dim)
            or ref.radii_pr.shape != (n,)
            or ref.radii_dc.shape != (n,)
            or (ref.labels is not None and ref.labels.shape != (n,))
        ):
            raise BenchError(f"metrics: {source} holds a RealReference with inconsistent shapes")
        return ref

    def save(self, path: str | os.PathLike) -> None:
        """Written atomically: a crash leaves the previous file, never half of this one."""
        from bench.io.atomic import torch_bytes, write_bytes

        write_bytes(Path(path), torch_bytes(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> RealReference:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise BenchError(f"metrics: no RealReference file at {os.fspath(path)}") from None
        except Exception as e:  # corrupt file or one holding pickled objects
            raise BenchError(f"metrics: cannot load RealReference from {os.fspath(path)}: {type(e).__name__}") from None
        return cls.from_dict(d, source=os.fspath(path))


def _cheap_suite(
    ref: RealReference,
    gen: Tensor,
    gen_counts: Tensor | None,
    train: Tensor | None,
    train_nn: Tensor | None,
    strict: bool,
    min_relative_share: float,
    chunk_size: int,
    keep: dict | None = None,
) -> dict:
    """The metrics that are also bootstrapped: FID, PRDC, Vendi, class statistics, memorisation.

    With `keep` (a dict), the PRDC pass also keeps what `SuiteResampler` needs and stores it there.
    """
    mu_g, cov_g = gaussian_moments(gen)
    out: dict = {"fid": frechet_distance(ref.mean, ref.cov, mu_g, cov_g)}
    m = gen.shape[0]
    collect = keep is not None
    n_nbr = min(ref.k_pr + NEIGHBOURS_EXTRA, m - 1) if collect else ref.k_pr
    nbr_dist, nbr_idx = knn(gen, n_nbr, chunk_size=chunk_size)
    res = prdc_pass(
        ref.features,
        gen,
        r_pr=ref.radii_pr.double(),
        r_dc=ref.radii_dc.double(),
        gen_r=nbr_dist[:, ref.k_pr - 1].contiguous(),
        gen_far=nbr_dist[:, -1].contiguous() if collect else None,
        gen_radius_list=torch.cat([torch.zeros(m, 1, dtype=torch.float64), nbr_dist], dim=1) if collect else None,
        strict=strict,
        chunk_size=chunk_size,
    )
    out.update(summarize(res, ref.n, m, ref.k_dc))
    out["vendi"] = vendi(gen)
    if gen_counts is not None:
        assert ref.class_counts is not None, "generated class counts need the real ones"
        out.update(mode_stats_from_counts(gen_counts, ref.class_counts, min_relative_share=min_relative_share))
    memorized = None
    if train is not None:
        memorized, dist, train_nn = memorized_rows(train, gen, chunk_size=chunk_size, train_nn=train_nn)
        out.update(memorization_summary(memorized, dist, train_nn))
    if keep is not None:
        keep.update(prdc_pass=res, neighbour_dist=nbr_dist, neighbour_idx=nbr_idx, memorized=memorized)
    return out


def _bootstrap_rescore(
    ref: RealReference,
    gen: Tensor,
    gen_labels: Tensor | None,
    train: Tensor | None,
    train_nn: Tensor | None,
    strict: bool,
    min_relative_share: float,
    chunk_size: int,
    n: int,
    seed: int,
    keys: list[str],
) -> dict[str, Tensor]:
    """Replicates by rescoring gen[idx] from scratch: the definition, and the fallback of the fast path."""
    g = torch.Generator().manual_seed(int(seed))
    reps = {k: torch.empty(n, dtype=torch.float64) for k in keys}
    for b in range(n):
        idx = torch.randint(0, gen.shape[0], (gen.shape[0],), generator=g)
        counts = torch.bincount(gen_labels[idx], minlength=ref.num_classes or 0) if gen_labels is not None else None
        rep = _cheap_suite(ref, gen[idx], counts, train, train_nn, strict, min_relative_share, chunk_size)
        for k in keys:
            reps[k][b] = rep[k]
    return reps


def _bootstrap_fast(resampler: SuiteResampler, m: int, n: int, seed: int, keys: list[str]) -> dict[str, Tensor]:
    """The same replicates (same seeded draws) from the point estimate's pass; see bench.metrics._resample."""
    g = torch.Generator().manual_seed(int(seed))
    draws = torch.stack([torch.randint(0, m, (m,), generator=g) for _ in range(n)])
    reps = resampler.replicates(draws)
    return {k: reps[k] for k in keys}


def _bootstrap_replicates(
    reference: RealReference,
    gen: Tensor,
    gen_label_long: Tensor | None,
    train: Tensor | None,
    train_nn: Tensor | None,
    strict: bool,
    min_relative_share: float,
    chunk_size: int,
    bootstrap: int,
    seed: int,
    keep: dict,
    keys: list[str],
) -> dict[str, Tensor]:
    """Replicates of `keys` over `bootstrap` seeded resamples: from the kept pass, else by rescoring."""
    if not keep["prdc_pass"].complete:
        # the pass found most pairs inside the generated balls (a generator far wider than the real data) and
        # kept no lists: rescore each resample
        return _bootstrap_rescore(
            reference, gen, gen_label_long, train, train_nn, strict, min_relative_share, chunk_size, bootstrap,
            seed, keys,
        )  # fmt: skip
    resampler = SuiteResampler(
        real=reference.features,
        real_mean=reference.mean,
        real_cov=reference.cov,
        real_radii_dc=reference.radii_dc,
        gen=gen,
        k_pr=reference.k_pr,
        k_dc=reference.k_dc,
        strict=strict,
        prdc_pass=keep["prdc_pass"],
        neighbour_dist=keep["neighbour_dist"],
        neighbour_idx=keep["neighbour_idx"],
        labels=gen_label_long,
        real_class_counts=reference.class_counts if gen_label_long is not None else None,
        min_relative_share=min_relative_share,
        memorized=keep["memorized"],
    )
    return _bootstrap_fast(resampler, gen.shape[0], bootstrap, seed, keys)


@few_threads_call
def score(
    reference: RealReference,
    gen_feats: Tensor,
    gen_labels: Tensor | None = None,
    *,
    train_feats: Tensor | None = None,
    train_nn: Tensor | None = None,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    strict: bool = False,
    min_relative_share: float = 0.1,
    c2st_classifier: str = "quadratic",
    bootstrap: int = 0,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> dict:
    """The full metric suite of `gen_feats` against the reference; keys are documented in METRIC_INFO.

    Class statistics need both `gen_labels` and reference labels; memorisation
    keys appear when `train_feats` (the generator's training features) is given
    (`train_nn` = `train_nn_distances(train_feats)` may be passed to reuse it).
    bootstrap=n > 0 adds <key>_ci_low / <key>_ci_high (95% percentile interval
    over n resamples of the generated rows, labels resampled with them) for
    BOOTSTRAP_KEYS. Every random choice derives from `seed`.
    """
    if not isinstance(reference, RealReference):
        raise BenchError(f"metrics: score needs a RealReference, got {type(reference).__name__}")
    gen = as_features(gen_feats, "generated", min_rows=max(reference.k_pr + 1, 4)).to(reference.features.dtype)
    same_dim(reference.features, gen, "reference", "generated")
    if not isinstance(bootstrap, int) or bootstrap < 0 or bootstrap == 1:
        raise BenchError(f"metrics.bootstrap must be 0 or an integer >= 2, got {bootstrap!r}")
    gen_counts = None
    if gen_labels is not None and reference.class_counts is not None:
        assert reference.num_classes is not None, "class_counts implies num_classes"
        gen_labels = torch.as_tensor(gen_labels).detach().cpu().reshape(-1)
        if gen_labels.shape[0] != gen.shape[0]:
            raise BenchError(
                f"metrics: {gen_labels.shape[0]} generated labels for {gen.shape[0]} generated feature rows"
            )
        gen_counts = class_counts(gen_labels, reference.num_classes, "generated labels")
    train = None
    if train_feats is not None:
        train = as_features(train_feats, "training", min_rows=2).to(reference.features.dtype)
        same_dim(train, gen, "training", "generated")
        if train_nn is None:
            train_nn = train_nn_distances(train, chunk_size=chunk_size)

    keep: dict | None = {} if bootstrap else None
    out: dict = {}
    out.update(_cheap_suite(reference, gen, gen_counts, train, train_nn, strict, min_relative_share, chunk_size, keep))
    out["kid_mean"], out["kid_std"] = kid(
        reference.features, gen, subset_size=kid_subset_size, subsets=kid_subsets, seed=seed
    )
    c = c2st(reference.features, gen, seed=seed, classifier=c2st_classifier)
    out.update(c2st_accuracy=c["accuracy"], c2st_p_value=c["p_value"], c2st_n_test=c["n_test"])
    out.update(n_gen=int(gen.shape[0]), n_real=reference.n)
    if train is not None:
        out["n_train"] = int(train.shape[0])

    if bootstrap:
        assert keep is not None, "kept for the bootstrap"
        keys = [k for k in BOOTSTRAP_KEYS if k in out]
        gen_label_long = gen_labels.long() if gen_counts is not None and gen_labels is not None else None
        reps = _bootstrap_replicates(
            reference, gen, gen_label_long, train, train_nn, strict, min_relative_share, chunk_size, bootstrap, seed,
            keep, keys,
        )  # fmt: skip
        for k in keys:
            if bool(torch.isfinite(reps[k]).all()):
                ci = percentile_interval(reps[k])
                out[f"{k}_ci_low"], out[f"{k}_ci_high"] = ci["low"], ci["high"]
            else:  # only kl_gen_real can be inf, and then it is inf in the point estimate too
                out[f"{k}_ci_low"], out[f"{k}_ci_high"] = math.nan, math.nan
    return out
