"""Is generation 0 a usable model? An under-trained model scores exactly like a collapsed one.

The gate (config node `health`) compares generation 0's scores with the floor (held-out real images
scored the same way) and the real class count. A generation 0 that misses it is flagged, so its
descendants' decline is not read as model collapse. Model-specific checks (the VAE's posterior
collapse, the DDPM's denoising error) come from each model's `diagnostics` warnings.

The FID limit is each data set's own (`data.health.max_fid_over_floor`, conf/data_common.yaml's uncalibrated
default where none was measured). `health.max_gen0_fid_spread` is checked here but read by the leaderboard
(bench.analysis.aggregate.relative_spread): generation 0's FID must agree across a sweep's seeds.
"""

from __future__ import annotations

import math

from bench.errors import BenchError, check_fraction

# health.max_gen0_fid_spread where a config has none (results written before it existed): the leaderboard flags an
# entry whose seeds' generation-0 FID has a 95% t half-width above this share of its mean
DEFAULT_MAX_GEN0_FID_SPREAD = 0.1


def _positive_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BenchError(f"{name}={value} must be a number > 0")


def check_health_config(health) -> None:
    """One-line BenchError for a gate setting out of range; max_gen0_fid_spread may be absent (its default)."""
    _positive_number("health.max_fid_over_floor", health.max_fid_over_floor)
    check_fraction("health.min_classes_covered", health.min_classes_covered)
    _positive_number("health.max_gen0_fid_spread", health.get("max_gen0_fid_spread", DEFAULT_MAX_GEN0_FID_SPREAD))


def generation_zero_health(metrics: dict, floor: dict, *, n_classes: int, health) -> list[str]:
    """Warnings (empty: healthy) for generation 0's metrics against the floor's."""
    warnings = []
    fid, floor_fid = metrics.get("fid"), floor.get("fid")
    if isinstance(fid, float) and not math.isfinite(fid):
        warnings.append(f"generation 0 fails the health gate: FID is {fid}, not a finite number")
    elif fid is not None and floor_fid:
        limit = float(health.max_fid_over_floor) * floor_fid
        if fid > limit:
            warnings.append(
                f"generation 0 fails the health gate: FID {fid:.1f} > {health.max_fid_over_floor} x the floor's "
                f"{floor_fid:.2f}: the model is far from its data (under-trained or too small), so later "
                "generations' scores mix its own error with collapse; compare loops with each other at these "
                "settings, not with the floor or a healthy model (the leaderboard lists it under Not ranked)"
            )
    covered = metrics.get("classes_covered")
    # never more classes than held-out real images of the same size cover (1000 modes in 4,000 images: ~975)
    reachable = min(n_classes, int(floor.get("classes_covered") or n_classes))
    needed = math.ceil(float(health.min_classes_covered) * reachable - 1e-9)
    if covered is not None and covered < needed:
        warnings.append(
            f"generation 0 fails the health gate: {covered} of {n_classes} classes covered, {needed} needed; "
            "it is under-trained, and the loop's later scores measure that, not model collapse"
        )
    return warnings


def non_finite_diagnostics(diagnostics: dict) -> list[str]:
    """A warning for each model health number (latent KL, ELBO, denoising MSE) that is NaN or infinite: such a
    generation is unhealthy whatever its scores."""
    return [
        f"diagnostic {k} is {v}: not a finite number, the model's training failed"
        for k, v in diagnostics.items()
        if isinstance(v, float) and not math.isfinite(v)
    ]
