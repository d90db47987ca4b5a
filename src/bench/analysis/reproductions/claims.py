"""What docs/reproductions.md tests: the arms (one config each, run over seeds) and the claims that compare them.

An arm is a list of overrides of `python -m bench`; its runs are found in the run folders by their resolved
config (`evidence.py`), so a run made by hand with the same overrides counts as well. Every claim is the anchor
paper's qualitative statement, the arms that test it, and a verdict rule over paired seed differences
(`verdicts.py`). Sizes are the defaults (VAE on MNIST, D_0 of 4,000, 5 generations): a run takes about a minute
on 2 CPU cores. The diffusion arms (`ldm_*`: the latent flow at the CPU budget of `experiment=ldm_cpu`, 3
generations) take about 10 minutes a run at 2 threads on an AVX2-only 2-core AMD EPYC (fp32); their claims are the
VAE's, judged by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    key: str
    overrides: tuple[str, ...]
    label: str  # how the page names it

    def command(self, seeds: list[int]) -> str:
        return f"python -m bench -m {' '.join(self.overrides)} seed={','.join(str(s) for s in seeds)}"


def _label(overrides) -> str:
    """How the page names overrides: each in backticks."""
    return " ".join(f"`{o}`" for o in overrides)


def _arm(key: str, *overrides: str, label: str | None = None) -> Arm:
    return Arm(key, tuple(overrides), label or _label(overrides))


LDM = ("model=ldm", "experiment=ldm_cpu")
LDM_LABEL = _label(LDM)

ARMS = {
    a.key: a
    for a in [
        _arm("replace", "loop=replace"),
        _arm("real", "loop=real", label="`loop=real` (control)"),
        _arm("replay", "loop=replay", label="`loop=replay` (half of D_0 replayed)"),
        _arm("accumulate", "loop=accumulate"),
        _arm("accumulate_budget", "loop=accumulate", "loop.budget=4000"),
        _arm("fresh", "loop=fresh", label="`loop=fresh` (n new real images a generation)"),
        _arm("replace_cold", "loop=replace", "sampling.temperature=0.7"),
        _arm("gaussian_replace", "model=gaussian", "loop=replace"),
        _arm("gaussian_accumulate", "model=gaussian", "loop=accumulate"),
        _arm("real_contaminated", "loop=real", "data.contamination=0.33"),
        _arm("replay_contaminated", "loop=replay", "data.contamination=0.33"),
        _arm("curated_confidence", "loop=replace", "loop.curation=confidence"),
        _arm("curated_nearest_real", "loop=replace", "loop.curation=nearest_real"),
        _arm("curated_detector", "loop=replace", "loop.curation=detector"),
        # the diffusion family's arms: the latent flow cut to a CPU's budget (conf/experiment/ldm_cpu.yaml), 3
        # generations
        _arm("ldm_replace", *LDM, "loop=replace", "loop.generations=3"),
        _arm("ldm_real", *LDM, "loop=real", "loop.generations=3", label=f"{LDM_LABEL} `loop=real` (control)"),
        _arm("ldm_replay", *LDM, "loop=replay", "loop.generations=3", label=f"{LDM_LABEL} `loop=replay` (half)"),
        # the VAE under the protocol mnist-v1 (10 generations): the published board's runs of these entries
        _arm("v1_replace", "protocol=mnist-v1", "model=vae", "loop=replace"),
        _arm("v1_accumulate", "protocol=mnist-v1", "model=vae", "loop=accumulate"),
        _arm("v1_accumulate_budget", "protocol=mnist-v1", "model=vae", "loop=accumulate", "loop.budget=4000"),
    ]
}

# what a table shows: lead metrics, their column titles and the decimals they are shown with
TABLE_METRICS = (
    ("fid", "FID", 0),
    ("precision", "precision", 3),
    ("recall", "recall", 3),
    ("coverage", "coverage", 3),
    ("vendi", "Vendi", 1),
    ("classes_covered", "classes", 1),
)


@dataclass(frozen=True)
class Claim:
    key: str
    title: str
    source: str
    statement: str
    arms: tuple[str, ...]
    gpu: str  # the same test with the DDPM on a GPU (not run here); "" where a CPU is all it needs
    kind: str = "paper"  # paper: a published claim with a verdict; open: a question the papers left open
    # which claim's rule judges it, with which of its arms standing for the rule's arm names (a diffusion arm
    # for the VAE's): {rule's arm: this claim's arm}; empty for a claim judged by a rule of its own key
    same_rule_as: str = ""
    arm_roles: tuple[tuple[str, str], ...] = ()


CLAIMS = [
    Claim(
        "synthetic_loop",
        "Fully synthetic retraining collapses; the real control does not",
        "Shumailov et al. 2023/2024; Alemohammad et al. (MAD) 2024",
        "Retraining on the previous generation's samples alone raises FID and lowers recall and coverage, "
        "while retraining on fresh draws of real data stays flat.",
        ("replace", "real"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace,real seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "replay",
        "Replaying real data slows or stops the collapse",
        "Bertrand et al. 2024",
        "Keeping a share of the real data in every generation's training set slows the degradation "
        "(or stops it, if the share is large enough).",
        ("replace", "replay"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace,replay seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "accumulate",
        "Accumulating all data avoids the collapse that replacing suffers, also at a fixed training budget",
        "Gerstgrasser et al. 2024; Kazdan et al. 2024",
        "Training each generation on all real and synthetic data so far keeps the error bounded, where replacing "
        "the data diverges; subsampling the accumulated data to a fixed size (Kazdan et al.) keeps most of that.",
        ("replace", "accumulate", "accumulate_budget"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=accumulate seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "fresh",
        "Fresh real data each generation bounds the collapse",
        "Alemohammad et al. (MAD) 2024",
        "With enough new real data in every generation (the fresh-data loop), the quality and diversity of "
        "later generations stay bounded instead of degrading without limit.",
        ("replace", "fresh"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=fresh seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "sampling_bias",
        "Lower temperature speeds the loss of diversity while keeping precision",
        "Alemohammad et al. (MAD) 2024",
        "Sampling with a bias towards quality (lower temperature, stronger guidance) loses diversity faster "
        "across generations, while precision is kept.",
        ("replace", "replace_cold"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu model.conditional=true loop=replace "
        "sampling.guidance=0,1,3 seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "gaussian",
        "A Gaussian refitted on its own samples loses variance by (n−1)/n a generation",
        "Shumailov et al. 2023; Kazdan et al. 2024",
        "For a maximum-likelihood Gaussian refitted on n of its own samples, the fitted variance is "
        "E[σ²_t] = σ² ((n−1)/n)^(t+1), σ² the real data's and t = 0 the first fit, and the mean walks at random; "
        "accumulating all samples keeps the variance bounded.",
        ("gaussian_replace", "gaussian_accumulate"),
        "",
    ),
    Claim(
        "contamination",
        "When the fresh real data is a third synthetic",
        "this benchmark (motivated by Veselovsky et al. 2023)",
        "The real pool has 33% of its images replaced by a fixed earlier generator (`data.contamination=0.33`): "
        "does the real control still stay flat, and does replay still help?",
        ("real", "real_contaminated", "replay", "replay_contaminated"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=real,replay data.contamination=0.33 seed=0,1,2 "
        "trainer.accelerator=gpu",
        kind="open",
    ),
    Claim(
        "curation",
        "Curating the synthetic data before retraining",
        "this benchmark (after Gillman et al. 2024 and realism filters)",
        "Each generation keeps the best half of twice as many samples, by the reference classifier's confidence, "
        "by distance to the nearest real image, or by the audit detector: does it slow the collapse, and what "
        "does it cost in diversity?",
        ("replace", "curated_confidence", "curated_nearest_real", "curated_detector"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace "
        "loop.curation=confidence,nearest_real,detector seed=0,1,2 trainer.accelerator=gpu",
        kind="open",
    ),
]

# docs/reproductions_diffusion.md: the first two claims with the diffusion family's CPU preset, on a page of its own
# (its runs take hours where the VAE page's take an hour), made by `python -m bench.reproductions --diffusion`
DIFFUSION_CLAIMS = [
    Claim(
        "synthetic_loop_ldm",
        "Fully synthetic retraining collapses; the real control does not (latent diffusion)",
        "Shumailov et al. 2023/2024; Alemohammad et al. (MAD) 2024",
        "The first claim with the diffusion family instead of the VAE, over 3 generations: `model=ldm` (a rectified "
        "flow on the latents of a frozen autoencoder) at the CPU budget of `experiment=ldm_cpu`, about a third of "
        "`model=ldm`'s training, so that the page's nine runs take 1.6 hours on 2 cores, not 4.5. Its generation-0 "
        "FID is about 16x the floor (`model=ldm`'s full schedules: 4.5x); docs/diffusion_recipe.md has both.",
        ("ldm_replace", "ldm_real"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace,real seed=0,1,2 trainer.accelerator=gpu",
        same_rule_as="synthetic_loop",
        arm_roles=(("replace", "ldm_replace"), ("real", "ldm_real")),
    ),
    Claim(
        "replay_ldm",
        "Replaying real data slows or stops the collapse (latent diffusion)",
        "Bertrand et al. 2024",
        "The replay claim with the latent flow (`model=ldm experiment=ldm_cpu`), half of D_0 replayed, over 3 "
        "generations.",
        ("ldm_replace", "ldm_replay"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace,replay seed=0,1,2 trainer.accelerator=gpu",
        same_rule_as="replay",
        arm_roles=(("replace", "ldm_replace"), ("replay", "ldm_replay")),
    ),
]
# docs/reproductions_mnist_v1.md: claims that need the protocol's horizon (10 generations) to be decided, made by
# `python -m bench.reproductions --page mnist-v1`; its runs are the published board's (bench.analysis.board)
PROTOCOL_CLAIMS = [
    Claim(
        "accumulate_mnist_v1",
        "Accumulating all data avoids the collapse that replacing suffers, over 10 generations",
        "Gerstgrasser et al. 2024; Kazdan et al. 2024",
        "The accumulate claim over the 10 generations of the protocol `mnist-v1` (the VAE page's runs have 5, too "
        "few to tell a curve that levels off from one still rising): does accumulating keep FID bounded where "
        "replacing diverges, and does a fixed budget of 4,000 images keep that?",
        ("v1_replace", "v1_accumulate", "v1_accumulate_budget"),
        "python -m bench -m protocol=mnist-v1 model=ddpm experiment=ddpm_gpu loop=replace,accumulate seed=0,1,2 "
        "trainer.accelerator=gpu",
        same_rule_as="accumulate",
        arm_roles=(
            ("replace", "v1_replace"),
            ("accumulate", "v1_accumulate"),
            ("accumulate_budget", "v1_accumulate_budget"),
        ),
    ),
]
ALL_CLAIMS = [*CLAIMS, *DIFFUSION_CLAIMS, *PROTOCOL_CLAIMS]
