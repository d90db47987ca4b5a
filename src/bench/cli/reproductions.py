"""Regenerate docs/reproductions.md: python -m bench.reproductions [--page P] [--no-run] [--jobs 2] [OVERRIDES]

Runs every arm's missing seeds (`python -m bench <arm> seed=S`, --jobs at a time across arms; finished runs are
found, not rerun), then reads the run folders under --outputs, applies the verdict rules and writes the page.
--no-run only rebuilds the page from the folders there are. Extra OVERRIDES go to every run (and name other runs:
they are part of the config a run is matched by), e.g. smaller sizes for a quick look. --diffusion makes
docs/reproductions_diffusion.md instead: the same claims with the latent flow preset (`model=ldm`), whose runs take
hours, not an hour. --page mnist-v1 makes docs/reproductions_mnist_v1.md: the claims decided over the protocol
mnist-v1's 10 generations (the accumulate claim), from the VAE's runs of the published board. --page recent makes
docs/reproductions_recent.md: the newest papers' claims (memorisation of a model's own data, entropy selection,
verifier quality, negative guidance, weighted replay, and the π²/6 bound of accumulation, decided by the Gaussian
oracle). --claims K --keep-others rebuilds K alone and keeps every other claim's section of the page as it is, word
for word (when the other claims' run folders are on another machine)."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.cli import arguments


def _pages() -> dict[str, tuple[str, str, str]]:
    """{page: (its claims as --claims takes them, its file, the flag that picks it)}: the VAE page (default), the
    diffusion page and the page of claims decided over the protocol mnist-v1's 10 generations."""
    from bench.analysis.reproductions.claims import CLAIMS, DIFFUSION_CLAIMS, PROTOCOL_CLAIMS, RECENT_CLAIMS

    def keys(claims) -> str:
        return ",".join(c.key for c in claims)

    return {
        "vae": (keys(CLAIMS), "docs/reproductions.md", ""),
        "diffusion": (keys(DIFFUSION_CLAIMS), "docs/reproductions_diffusion.md", "--diffusion"),
        "mnist-v1": (keys(PROTOCOL_CLAIMS), "docs/reproductions_mnist_v1.md", "--page mnist-v1"),
        "recent": (keys(RECENT_CLAIMS), "docs/reproductions_recent.md", "--page recent"),
    }


PAGES = _pages()


@arguments.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = arguments.Parser(prog="python -m bench.reproductions", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--page",
        choices=list(PAGES),
        default=None,
        help="which page: " + "; ".join(f"{k}: claims {c}, written to {f}" for k, (c, f, _) in PAGES.items()),
    )
    parser.add_argument("--diffusion", action="store_true", help="the diffusion page (--page diffusion)")
    parser.add_argument("--out", default=None, help="the page's file (default: the page's own, under docs/)")
    arguments.add_run_folders(parser)
    parser.add_argument("--seeds", default="0,1,2", help="seeds of every arm (default: 0,1,2; at least 2)")
    parser.add_argument("--claims", default=None, help="which claims (default: all of the page's)")
    parser.add_argument("--no-run", action="store_true", help="only rebuild the page from existing run folders")
    parser.add_argument(
        "--keep-others",
        action="store_true",
        help="rebuild only the --claims named and copy every other claim's section from the page as it is (--out): "
        "for when their run folders are on another machine",
    )
    parser.add_argument(
        "--jobs", type=arguments.positive, default=1, help="runs at a time, across entries and seeds (1 or more)"
    )
    parser.add_argument(
        "--law-seeds",
        type=arguments.integer_in(2, 10**6, "2 or more seeds (an interval needs two), at most 10^6"),
        default=400,
        help="seeds of the Gaussian-law simulation (at least 2)",
    )
    parser.add_argument("overrides", nargs="*", help="extra overrides for every run, e.g. loop.generations=3")
    args = parser.parse_args(argv)

    from bench.errors import BenchError
    from bench.io.writable import check_writable_file

    try:
        _choose_page(args)
        check_writable_file(args.out, "--out")  # before the runs: they take hours
        old = _page_to_keep(args)
        page = _build(args)
        if old is not None:
            page = _keep_others(args, old, page)
    except BenchError as e:
        return arguments.fail(str(e))
    from bench.io.atomic import write_text

    write_text(Path(args.out), page)
    print(f"wrote {args.out}")
    return 0


def _choose_page(args) -> None:
    """Fill in --page, --claims and --out: --page (--diffusion for the diffusion page), or the page whose claims
    --claims names (a page's claims are never written into another page; one --claims may not mix them)."""
    from bench.errors import BenchError

    on_page = {page: set(claims.split(",")) for page, (claims, _, _) in PAGES.items()}
    if args.diffusion:
        if args.page not in (None, "diffusion"):
            raise BenchError(f"--diffusion and --page {args.page} name two pages; one page at a time")
        args.page = "diffusion"
    if args.page is None:
        named = {k.strip() for k in (args.claims or "").split(",") if k.strip()}
        args.page = next((p for p, claims in on_page.items() if named and named <= claims), "vae")
    args.default_claims, args.default_out, args.flag = PAGES[args.page]
    if args.claims is None:
        args.claims = args.default_claims
    named = {k.strip() for k in args.claims.split(",")}
    for page, claims in on_page.items():
        other = claims & named if page != args.page else set()
        if other:
            flag = PAGES[page][2] or "no --page"
            raise BenchError(
                f"--claims={args.claims!r}: {', '.join(sorted(other))} belong to the {page} page ({flag}); "
                "one page at a time"
            )
    if args.out is None:
        args.out = args.default_out


def _page_to_keep(args) -> str | None:
    """With --keep-others, the page as it is (read before the runs, so that a missing page fails at once)."""
    from bench.errors import BenchError

    if not args.keep_others:
        return None
    if args.claims == args.default_claims:
        raise BenchError("--keep-others needs --claims naming the claims to rebuild (the others are kept)")
    try:
        return Path(args.out).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BenchError(f"--keep-others: cannot read the page to keep sections from, {args.out}: {e}") from None


def _keep_others(args, old: str, page: str) -> str:
    from bench.analysis.reproductions.merge import merge

    def anchors(claims: str) -> list[str]:
        return [k.strip().replace("_", "-") for k in claims.split(",") if k.strip()]

    return merge(old, page, anchors(args.default_claims), anchors(args.claims), args.out)


def _parse(args):
    from bench.analysis.reproductions.claims import ALL_CLAIMS
    from bench.errors import BenchError

    try:
        seeds = sorted({int(s) for s in args.seeds.split(",")})
    except ValueError:
        raise BenchError(f"--seeds={args.seeds!r} must be integers separated by commas, e.g. 0,1,2") from None
    if any(not 0 <= s <= arguments.MAX_SEED for s in seeds):
        raise BenchError(f"--seeds={args.seeds[:60]!r} holds a seed outside 0 to 2**63 - 1")
    if len(seeds) < 2:
        raise BenchError(f"--seeds={args.seeds!r} gives {len(seeds)} seed; an interval needs at least 2")
    known = {c.key: c for c in ALL_CLAIMS}
    chosen = [k.strip() for k in args.claims.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in known]
    if unknown or not chosen:
        raise BenchError(f"--claims={args.claims!r}: unknown {unknown or 'empty'}; allowed: {', '.join(known)}")
    return seeds, [known[k] for k in chosen]


def _build(args) -> str:
    from bench.analysis.reproductions.claims import ARMS
    from bench.analysis.reproductions.evidence import Evidence, arm_keys, collect
    from bench.analysis.reproductions.gaussian import law_rows, mean_error_rows, pi2_6_verdict
    from bench.analysis.reproductions.gaussian import verdict as law_verdict
    from bench.analysis.reproductions.judge import judge
    from bench.analysis.reproductions.page import render
    from bench.analysis.reproductions.verdicts import NOT_RUN, Verdict
    from bench.cli.multirun import Missing, run_missing

    seeds, claims = _parse(args)
    arms = [ARMS[k] for k in dict.fromkeys(k for c in claims for k in c.arms)]

    def find():
        # the folders that exist now: the runs below may make outputs/ (and the run folders' config keys)
        outputs = [p for p in arguments.folders(args.outputs) if Path(p).exists()]
        return collect(outputs, arms, seeds, arm_keys(arms, args.overrides))

    found = find()
    missing = {arm.key: [s for s in seeds if s not in found[arm.key].runs] for arm in arms}
    if not args.no_run and any(missing.values()):
        todo = [Missing(a.key, (*a.overrides, *args.overrides), tuple(missing[a.key])) for a in arms if missing[a.key]]
        run_missing(todo, jobs=args.jobs)
        found = find()
    arguments.archive_found(args, found)

    evidence = Evidence(found)
    verdicts: dict[str, Verdict] = {}
    laws = None
    mean_errors = None
    for c in claims:
        lacking = evidence.missing(c.arms)
        if c.key == "gaussian":
            rows = law_rows(args.law_seeds)
            laws = (rows, args.law_seeds)
            verdicts[c.key] = law_verdict(rows)
        elif c.key == "pi2_6":
            errors = mean_error_rows(args.law_seeds)
            mean_errors = (errors, args.law_seeds)
            verdicts[c.key] = pi2_6_verdict(errors)
        elif lacking:
            verdicts[c.key] = Verdict(NOT_RUN, [f"fewer than 2 finished seeds for: {', '.join(lacking)}"])
        else:
            verdicts[c.key] = judge(c, evidence)
    machine, setups = describe_runs([r.results for a in found.values() for r in a.runs.values()])
    this = " ".join(_command(args))
    return render(
        claims,
        evidence,
        verdicts,
        seeds=seeds,
        extra=args.overrides,
        laws=laws,
        mean_errors=mean_errors,
        machine=machine,
        setups=setups,
        command=this,
    )


def _command(args) -> list[str]:
    """The command that rebuilds this page: the options that differ from the page's defaults, and the overrides."""
    words = ["python -m bench.reproductions", *args.flag.split()]
    for flag, value, default in (
        ("--claims", args.claims, args.default_claims),
        ("--seeds", args.seeds, "0,1,2"),
        ("--outputs", args.outputs, arguments.RUN_FOLDERS),
        ("--out", args.out, args.default_out),
    ):
        if value != default:
            words += [flag, value]
    if args.keep_others:
        words.append("--keep-others")
    return words + list(args.overrides)


def describe_runs(runs: list[dict]) -> tuple[str, list[str]]:
    """The page's machine line and setup lines, from validated results.json dicts (aggregate.load_results)."""
    # optional keys (the schema types them when present): an older or foreign results.json may lack them
    devices = sorted(
        {
            f"{r['environment'].get('device', '?')}, torch {r['environment'].get('packages', {}).get('torch', '?')}"
            for r in runs
            if "environment" in r
        }
    )
    machine = "; ".join(devices) or "no runs yet"
    setups = sorted(
        {
            f"data={r['dataset']['name']}, model={r['config'].get('model', {}).get('name', '?')}: "
            f"D_0 of {_count(r['dataset'].get('n_initial'))} images, {len(r['generations'])} generations, "
            f"{r['evaluation']['n_generated']:,} generated images scored against "
            f"{r['evaluation']['n_reference']:,} held-out test images in the features of "
            f"{r['feature_extractor']['name']}"
            for r in runs
        }
    )
    return machine, setups


def _count(n) -> str:
    return "?" if n is None else f"{n:,}"


if __name__ == "__main__":
    sys.exit(main())
