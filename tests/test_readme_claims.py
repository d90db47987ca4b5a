"""The README's diffusion numbers say where they come from and how much they vary (issue 18, item 4): a number
that a second machine does not reproduce must not read as a result."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n### ", start + len(title))
    return README[start : end if end != -1 else None]


def test_the_diffusion_table_names_its_machine_and_seeds_and_the_old_presets_spread_across_machines():
    ddpm = " ".join(section("### A diffusion model").split())  # prose wraps anywhere
    # the preset's generation 0 is a 3-seed interval on a named machine, with the seeds' own values beside it
    assert "3 seeds" in ddpm and "AMD EPYC" in ddpm
    assert re.search(r"27\.5 ± 10\.2 \(22\.8, 30\.5, 29\.1\)", ddpm)
    # the single-seed replace run says it is a sample
    assert "one seed, a sample" in ddpm
    # the old DDPM's generation 0 on two machines (154 and 259) stays beside it as what not to trust
    assert "154" in ddpm and "259" in ddpm
    assert "about 5 FID" not in ddpm, "run-to-run noise of 5 FID was one machine's thread count, not the spread"
