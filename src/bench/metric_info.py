"""METRIC_INFO: direction, one-line definition and citation of every key `score` can return; LEAD_METRICS.

A module without imports, so that reading results (the leaderboard, summaries) needs no torch: `bench.metrics`
imports the metric implementations, this registry does not.

higher_is_better is True / False where the direction is unambiguous and None
where the target is a value (density ~ 1, c2st_accuracy ~ 0.5 is ideal but
lower is still better, so that one is False) or the key is descriptive.
Keys <metric>_ci_low / <metric>_ci_high inherit from <metric> (see `info_for`).
"""

from __future__ import annotations

# scalar metric keys, in the order the CSV and the console show them
LEAD_METRICS = [
    "fid",
    "kid_mean",
    "precision",
    "recall",
    "density",
    "coverage",
    "classes_covered",
    "kl_gen_real",
    "tv",
    "min_class_share",
]

HEUSEL = (
    "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium (NeurIPS)"
)
BINKOWSKI = "Binkowski et al. 2018, Demystifying MMD GANs (ICLR)"
KYNKAANNIEMI = (
    "Kynkäänniemi et al. 2019, Improved Precision and Recall Metric for Assessing Generative Models (NeurIPS)"
)
NAEEM = "Naeem et al. 2020, Reliable Fidelity and Diversity Metrics for Generative Models (ICML)"
FRIEDMAN = "Friedman & Dieng 2023, The Vendi Score: A Diversity Evaluation Metric for Machine Learning (TMLR)"
LOPEZ_PAZ = "Lopez-Paz & Oquab 2017, Revisiting Classifier Two-Sample Tests (ICLR)"
ALAA = (
    "Alaa et al. 2022, How Faithful is your Synthetic Data? "
    "Sample-level Metrics for Evaluating and Auditing Generative Models (ICML)"
)
SHI = "Shi et al. 2025, A Closer Look at Model Collapse: From a Generalization-to-Memorization Perspective (NeurIPS)"
KOZACHENKO = (
    "Kozachenko & Leonenko 1987, Sample Estimate of the Entropy of a Random Vector (Problems of Information "
    "Transmission); tracked across generations by " + SHI
)
MODES = "class histogram of generated samples (labels from the reference classifier) vs real labels"


def _i(higher, definition, citation):
    return {"higher_is_better": higher, "definition": definition, "citation": citation}


METRIC_INFO: dict[str, dict] = {
    "fid": _i(
        False,
        "Fréchet distance ||mu_r-mu_g||^2 + Tr(S_r+S_g-2(S_r S_g)^1/2) of Gaussian fits to the features; "
        "biased upward at small N, compare at equal n_gen",
        HEUSEL,
    ),
    "kid_mean": _i(
        False,
        "mean over random subsets of the unbiased MMD^2 with kernel (x.y/D+1)^3; can be slightly negative",
        BINKOWSKI,
    ),
    "kid_std": _i(None, "standard deviation of the per-subset MMD^2 values", BINKOWSKI),
    "precision": _i(
        True, "share of generated samples inside the k_pr-NN ball of at least one real sample", KYNKAANNIEMI
    ),
    "recall": _i(True, "share of real samples inside the k_pr-NN ball of at least one generated sample", KYNKAANNIEMI),
    "density": _i(
        None,
        "mean number of real k_dc-NN balls holding a generated sample, divided by k_dc; "
        "~1 when the distributions match, >1 when samples crowd dense real regions",
        NAEEM,
    ),
    "coverage": _i(True, "share of real samples whose k_dc-NN ball holds at least one generated sample", NAEEM),
    "classes_covered": _i(
        True, "number of classes whose generated share is >= min_relative_share (0.1) times their real share", MODES
    ),
    "kl_gen_real": _i(False, "KL(p_gen || p_real) of the class histograms, nats", MODES),
    "tv": _i(False, "total variation 0.5 sum |p_gen - p_real| of the class histograms, in [0, 1]", MODES),
    "min_class_share": _i(True, "smallest generated class share (0 if a class is missing)", MODES),
    "class_shares": _i(None, "list of generated class shares, class 0 first", MODES),
    "vendi": _i(
        True,
        "exp(entropy of the eigenvalues of K/n), K = cosine similarity of the generated features; "
        "effective number of distinct samples, compare with the real set's",
        FRIEDMAN,
    ),
    "c2st_accuracy": _i(
        False,
        "held-out accuracy of a classifier trained to tell real from generated features; 0.5 = indistinguishable",
        LOPEZ_PAZ,
    ),
    "c2st_p_value": _i(
        None, "exact one-sided binomial p-value of c2st_accuracy > 0.5; small = distinguishable", LOPEZ_PAZ
    ),
    "c2st_n_test": _i(None, "number of held-out samples behind c2st_accuracy", LOPEZ_PAZ),
    "memorized_share": _i(
        False,
        "share of generated samples closer to their nearest training sample "
        "than that sample's nearest other training sample",
        ALAA,
    ),
    "authenticity": _i(True, "1 - memorized_share", ALAA),
    "n_gen": _i(None, "number of generated samples scored", ""),
    "n_real": _i(None, "number of real reference samples", ""),
    "n_train": _i(None, "number of training samples used for memorisation", ""),
    "memorized_share_dt": _i(
        False,
        "share of generated samples closer to their nearest image of the generation's own training set D_t "
        "than that image's nearest other D_t image (memorisation of the model's own data; equals memorized_share "
        "at generation 0)",
        f"{ALAA}; applied to D_t as in {SHI}",
    ),
    "entropy_dt": _i(
        True,
        "Kozachenko-Leonenko k=1 entropy (nats) of the features of the generation's training set D_t, duplicates "
        "counted once (read with n_distinct_dt; null with fewer than 2 distinct rows); falls as a loop collapses; "
        "biased at finite size in many dimensions: compare at equal |D_t|",
        KOZACHENKO,
    ),
    "entropy_gen": _i(
        True,
        "Kozachenko-Leonenko k=1 entropy (nats) of the scored samples' features, duplicates counted once (read with "
        "n_distinct_gen; null with fewer than 2 distinct rows); "
        "compare with the floor's (held-out real images) at the same n_gen",
        KOZACHENKO,
    ),
    "n_dt": _i(None, "number of images in the generation's training set D_t (memorized_share_dt, entropy_dt)", ""),
    "n_distinct_dt": _i(
        None,
        "distinct feature rows of D_t behind entropy_dt (exact copies count once): below n_dt when D_t holds copies",
        KOZACHENKO,
    ),
    "n_distinct_gen": _i(
        None,
        "distinct feature rows of the scored samples behind entropy_gen (exact copies count once): below n_gen when "
        "the model repeats images",
        KOZACHENKO,
    ),
}
for _stat in ("mean", "median", "p05", "p95"):
    METRIC_INFO[f"nn_gen_train_{_stat}"] = _i(
        None, f"{_stat} of the distance from each generated sample to its nearest training sample", ALAA
    )
    METRIC_INFO[f"nn_train_train_{_stat}"] = _i(
        None, f"{_stat} of the distance from each training sample to its nearest other training sample", ALAA
    )
    METRIC_INFO[f"nn_gen_dt_{_stat}"] = _i(
        None, f"{_stat} of the distance from each generated sample to its nearest image of D_t", SHI
    )
    METRIC_INFO[f"nn_dt_dt_{_stat}"] = _i(
        None, f"{_stat} of the distance from each image of D_t to its nearest other image of D_t", SHI
    )


def info_for(key: str) -> dict | None:
    """METRIC_INFO entry for `key`, also for bootstrap keys <metric>_ci_low / _ci_high; None if unknown."""
    if key in METRIC_INFO:
        return METRIC_INFO[key]
    for suffix in ("_ci_low", "_ci_high"):
        if key.endswith(suffix) and key[: -len(suffix)] in METRIC_INFO:
            base = METRIC_INFO[key[: -len(suffix)]]
            return {**base, "definition": f"{suffix[4:]} end of the 95% bootstrap interval of {key[: -len(suffix)]}"}
    return None
