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
VERIFIER_LABELS = (10, 100, 1000, 60000)  # from a verifier near chance to one near the reference classifier
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
        # the newest papers' mitigations (docs/reproductions_recent.md)
        _arm("replay_golden", "loop=replay", "loop.real_weight=0.6180339887498949", label="`loop=replay` real at 1/φ"),
        # the weighted arm's control: the same weighted draws (with replacement) with the real half at half the loss,
        # so the comparison isolates the weight from the change of sampler (plain replay shuffles without replacement)
        _arm("replay_half", "loop=replay", "loop.real_weight=0.5", label="`loop=replay` real at 0.5 (weighted draws)"),
        _arm("v1_accumulate_entropy", "protocol=mnist-v1", "model=vae", "loop=accumulate", "loop.curation=entropy"),
        *[
            _arm(f"verifier_{n}", "loop=replace", "loop.curation=verifier", f"loop.verifier_n_labelled={n}")
            for n in VERIFIER_LABELS
        ],
        _arm("ldm_augment", *LDM, "loop=augment", "loop.generations=3"),
        _arm("ldm_augment_sims", *LDM, "loop=augment", "loop.generations=3", "sampling.negative_guidance=1.0"),
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
    # the arm table's metrics where the claim is about others than TABLE_METRICS: (metric, title, decimals)
    table: tuple[tuple[str, str, int], ...] = ()


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
# docs/reproductions_recent.md: what the papers since 2025 measure and try (`python -m bench.reproductions --page
# recent`): memorisation of a model's own data, selection by entropy, verifiers of known quality, negative guidance,
# weighted replay, and the pi^2/6 bound of accumulation (decided by the Gaussian oracle, no run folders)
RECENT_CLAIMS = [
    Claim(
        "pi2_6",
        "Accumulating keeps the error within π²/6 of real data alone; replacing lets it grow",
        "Dey & Donoho 2024 (arXiv 2410.22812)",
        "For a Gaussian refitted each generation, the squared error of the fitted mean under `accumulate` stays "
        "below π²/6 times the error of a fit to real data alone (`real`), while under `replace` it grows with "
        "every generation. An exact check: the closed-form Gaussian oracle of the `gaussian` claim "
        "(`bench.analysis.gaussian_laws`) over hundreds of seeds.",
        (),
        "",
    ),
    Claim(
        "memorisation_dt",
        "Under fully synthetic retraining a model memorises its own training data",
        "Shi et al. 2025 (NeurIPS)",
        "Across generations of `replace`, the share of samples that copy an image of the generation's own "
        "training set D_t (`memorized_share_dt`) rises and D_t's k-NN entropy (`entropy_dt`) falls; under the real "
        "control neither moves.",
        ("replace", "real"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace,real seed=0,1,2 trainer.accelerator=gpu",
        table=(
            ("memorized_share_dt", "memorised share of D_t", 3),
            ("entropy_dt", "entropy of D_t (nats)", 0),
            ("memorized_share", "memorised share of D_0", 3),
            ("fid", "FID", 0),
        ),
    ),
    Claim(
        "entropy_selection",
        "Keeping D_t's entropy high by selection lowers FID under accumulation",
        "Shi et al. 2025 (NeurIPS)",
        "Choosing which synthetic images enter D_t so that its entropy stays high (`loop.curation=entropy`, greedy "
        "max-min selection of half of twice as many candidates) gives a lower FID than no selection under "
        "`accumulate`, at the protocol mnist-v1's horizon of 10 generations.",
        ("v1_accumulate", "v1_accumulate_entropy"),
        "python -m bench -m protocol=mnist-v1 model=ddpm experiment=ddpm_gpu loop=accumulate "
        "loop.curation=null,entropy seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "verifier_quality",
        "A better verifier helps more",
        "Feng et al. 2025 (ICLR); Yi et al. 2025 (arXiv 2510.16657)",
        "Curating `replace`'s synthetic data by a verifier slows the collapse, and the gain grows with the "
        "verifier's accuracy: verifiers trained on 10, 100, 1,000 and 60,000 labelled images "
        "(`loop.curation=verifier`, `loop.verifier_n_labelled`), their held-out accuracy recorded.",
        ("replace", *(f"verifier_{n}" for n in VERIFIER_LABELS)),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replace loop.curation=verifier "
        "loop.verifier_n_labelled=10,100,1000,60000 seed=0,1,2 trainer.accelerator=gpu",
    ),
    Claim(
        "negative_guidance",
        "Negative guidance from a self-consumed model improves the model and slows collapse",
        "Alemohammad et al. 2024 (SIMS)",
        "Sampling with (1 + w) · base − w · auxiliary, the auxiliary being the generation's model fine-tuned on "
        "its own samples (`sampling.negative_guidance=1.0`), lowers generation 0's FID and slows the collapse under "
        "`augment` (D_0 plus the last generation's samples), with the latent flow at `experiment=ldm_cpu`.",
        ("ldm_augment", "ldm_augment_sims"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=augment sampling.negative_guidance=0,1 seed=0,1,2 "
        "trainer.accelerator=gpu",
    ),
    Claim(
        "weighted_replay",
        "Weighting the real data at 1/φ of the loss beats weighting it equally at the same counts",
        "He et al. 2025 (arXiv 2502.18049)",
        "Replay with half of D_t real and half synthetic, the real half carrying 1/φ ≈ 0.618 of the training loss "
        "(`experiment=real_weight_golden`, `loop.real_weight`), against the same counts weighted equally "
        "(`loop.real_weight=0.5`: the same weighted draws, so only the weight differs); plain replay (shuffled "
        "without replacement) is shown beside them.",
        ("replay", "replay_half", "replay_golden"),
        "python -m bench -m model=ddpm experiment=ddpm_gpu loop=replay loop.real_weight=null,0.5,0.618 seed=0,1,2 "
        "trainer.accelerator=gpu",
    ),
]
ALL_CLAIMS = [*CLAIMS, *DIFFUSION_CLAIMS, *PROTOCOL_CLAIMS, *RECENT_CLAIMS]
