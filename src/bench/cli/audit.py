"""Estimate the synthetic share of an image pool: python -m bench.audit --data mnist --pool PATH

PATH: a .npy/.npz array of uint8 images, a folder of PNGs, or a run folder's gen_XXX/. The detector learns the
data set's clean real images against a fixed earlier generator's images (generation 0 of `--model`, trained and
cached as for `data.contamination`), or against `--synthetic PATH`; see `bench.analysis.audit`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.cli import arguments


@arguments.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = arguments.Parser(prog="python -m bench.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="mnist", help="the data set the pool claims to be (default: mnist)")
    parser.add_argument("--pool", required=True, help=".npy/.npz of uint8 images, a folder of PNGs, or a gen_XXX/")
    parser.add_argument("--model", default="vae", help="the earlier generator's model config (default: vae)")
    parser.add_argument("--synthetic", help="known synthetic images to train the detector on, instead of --model's")
    parser.add_argument(
        "--n-train", type=arguments.positive, default=2000, help="known images of each kind the detector learns"
    )
    parser.add_argument(
        "--n-calibration", type=arguments.positive, default=2000, help="held-out images of each kind for α, β"
    )
    parser.add_argument("--seed", type=arguments.seed, default=0, help="0 to 2**63 - 1")
    parser.add_argument("--out", help="where to write the audit JSON (default: ./<pool name>.audit.json)")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. trainer.max_epochs=20")
    args = parser.parse_args(argv)

    import torch

    from bench.errors import BenchError
    from bench.io.writable import check_writable_file

    torch.set_flush_denormal(True)
    out = Path(args.out) if args.out else Path(f"{Path(args.pool).resolve().name}.audit.json")
    try:
        check_writable_file(out, "--out")  # before the work: the earlier generator may train for minutes
        result = _audit(args)
    except BenchError as e:
        return arguments.fail(str(e))
    from bench.io.atomic import write_json

    write_json(out, result)
    s = result["synthetic_share"]
    print(
        f"synthetic share {s['estimate']:.3f} (95% interval {s['low']:.3f} to {s['high']:.3f}) "
        f"of {s['n_pool']} images; "
        f"flagged {s['flag_rate']:.3f}, detector false-positive rate {s['false_positive_rate']:.4f}, "
        f"true-positive rate {s['true_positive_rate']:.4f}"
    )
    if result["warning"]:
        print(f"warning: {result['warning']}", file=sys.stderr)
    print(f"wrote {out}")
    return 0


def _audit(args) -> dict:
    from bench.analysis.audit import audit_pool
    from bench.config import compose
    from bench.data import build_data
    from bench.engine.contamination import PoolContamination
    from bench.engine.evaluation import Evaluator
    from bench.io.image_files import load_images

    # the earlier generator trains without a progress bar (its console is the audit line); overrides come last
    cfg = compose([f"data={args.data}", f"model={args.model}", "trainer.enable_progress_bar=false", *args.overrides])
    data = build_data(cfg.data)
    pool = load_images(args.pool, data.image_shape, "--pool")
    synthetic = load_images(args.synthetic, data.image_shape, "--synthetic") if args.synthetic else None
    evaluator = Evaluator(data, cfg.metrics, cache_dir=cfg.cache_dir, data_cfg=cfg.data)
    result = audit_pool(
        PoolContamination.of(cfg),
        evaluator,
        pool,
        synthetic=synthetic,
        n_train=args.n_train,
        n_calibration=args.n_calibration,
        seed=args.seed,
    )
    result["pool"]["path"] = str(args.pool)
    return result


if __name__ == "__main__":
    sys.exit(main())
