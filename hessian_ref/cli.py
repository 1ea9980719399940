"""The ``hessian-ref`` command line; the only module that prints."""

import argparse
import json
import math
import os
import sys
import time

import matplotlib
import numpy as np
from tqdm import tqdm

from . import __version__
from .block_tridiagonal import RCOND_WARN
from .claims import (
    build_context,
    claims_markdown,
    claims_records,
    claims_table,
    draw_figures,
    run_claims,
)
from .figures import plot_sparsity_of_K
from .reproduce import check_iris, checks_table


def _positive_float(text):
    value = float(text)
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _seed(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _output_directory(text):
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"expected a directory, got the file {text}")
    return text


def _layout(text):
    from .layouts import Layout

    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"expected WEIGHTS,BIAS,ORDER such as in_out,first,C, got {text}")
    try:
        return Layout(*parts)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser():
    parser = argparse.ArgumentParser(
        prog="hessian-ref",
        description="Reference implementation of the linear-in-depth damped "
        "inverse Hessian-vector product for tall-skinny networks.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="command")
    rep = commands.add_parser(
        "reproduce",
        help="train a deep tanh MLP on Iris and check every structured "
        "quantity against dense",
    )
    rep.add_argument("--eps", type=_positive_float, default=1e-2,
                     help="damping of (H + eps I)^{-1} v (default 1e-2)")
    rep.add_argument("--depth", type=_positive_int, default=16,
                     help="hidden layers (default 16)")
    rep.add_argument("--width", type=_positive_int, default=4,
                     help="width of every hidden layer (default 4)")
    rep.add_argument("--steps", type=_positive_int, default=3000,
                     help="gradient-descent steps before the checks (default 3000)")
    rep.add_argument("--seed", type=_seed, default=0, help="seed (default 0)")
    rep.add_argument("--out", type=_output_directory, default=".",
                     help="directory that receives paper/ and figures/ (default .)")
    rep.add_argument("--quick", action="store_true",
                     help="smaller sweeps and a shallower generated network "
                     "(about a minute; for tests and CI)")
    rep.add_argument("--iris-only", action="store_true",
                     help="only the Iris checks, not the paper's claims")
    ben = commands.add_parser(
        "bench", help="time the structured solve against dense, conjugate "
        "gradients and the LAPACK floor; write bench.json and figures")
    ben.add_argument("--out", type=_output_directory, default=".",
                     help="directory that receives paper/bench.json and "
                     "figures/bench_*.{png,svg} (default .)")
    ben.add_argument("--quick", action="store_true",
                     help="small sweeps (seconds; for tests)")
    ben.add_argument("--repeats", type=_positive_int, default=3,
                     help="runs per timing, the median kept (default 3)")
    exp = commands.add_parser(
        "export", help="write the standard golden cases (one .npz per case)")
    exp.add_argument("directory", type=_output_directory,
                     help="directory that receives the case files")
    chk = commands.add_parser(
        "check", help="check another implementation's answers against golden "
        "cases; exits 1 if anything fails")
    chk.add_argument("cases", help="a case file, or a directory of them")
    chk.add_argument("answers", help="directory of answer files, named as the "
                     "cases, holding any of loss, gradient, hvp, inverse_hvp, "
                     "hessian")
    chk.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    chk.add_argument("--layout", type=_layout, metavar="WEIGHTS,BIAS,ORDER",
                     help="parameter layout of the answers: weights out_in or "
                     "in_out, bias last or first, order C or F (default "
                     "out_in,last,C, hessian_ref's; a Flax pytree raveled is "
                     "in_out,first,C)")
    return parser


def _bench(args):
    from .bench import run_bench
    from .figures import plot_bench

    print(f"hessian-ref {__version__}: benchmark"
          + (" (quick)" if args.quick else ""))
    result = run_bench(quick=args.quick, repeats=args.repeats,
                       progress=lambda step: print(f"- {step}", flush=True))
    blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['num_threads']} "
                     f"thread{'s' if b['num_threads'] != 1 else ''} of "
                     f"{result['machine']['cpus']} cpus)"
                     for b in result["machine"]["blas"])
    print(f"BLAS: {blas}; timings single-threaded, medians of {args.repeats}")
    print()
    routes = ("structured", "unjudged", "elimination", "riccati", "lapack_floor",
              "dense", "cg", "hvp", "gradient")
    print("| depth | P | block | " + " | ".join(routes) + " | dense / structured |")
    print("| ---: " * (len(routes) + 4) + "|")
    for p in result["depth"]:
        sec = p["seconds"]
        cells = [f"{sec[r]:.2e}" if r in sec else "-" for r in routes]
        ratio = (f"{sec['dense'] / sec['structured']:.0f}" if "dense" in sec
                 else "-")
        print(f"| {p['depth']} | {p['n_params']} | {p['block_size']} | "
              + " | ".join(cells) + f" | {ratio} |")
    print()
    print("Iris, 16 tanh layers of width 4 (errors against dense in units of "
          "cond eps_mach):")
    print()
    print("| batch | block | pivot | elimination | riccati | elimination / riccati "
          "| error elimination | error riccati |")
    print("| ---: " * 8 + "|")
    for p in result["iris_batch"]:
        sec, err = p["seconds"], p["error"]
        print(f"| {p['batch']} | {p['block_size']} | {p['pivot_size']} | "
              f"{sec['elimination']:.2e} | {sec['riccati']:.2e} | "
              f"{sec['elimination'] / sec['riccati']:.1f} | "
              f"{err['elimination']:.2g} | {err['riccati']:.2g} |")
    print()
    for t in result["targets"]:
        mark = "met" if t["passed"] else "MISSED"
        print(f"{mark}: {t['target']}: {t['measured']:.3g} ({t['kind']} "
              f"{t['bound']:g}; {t['detail']})")
    paper = os.path.join(args.out, "paper")
    os.makedirs(paper, exist_ok=True)
    path = os.path.join(paper, "bench_quick.json" if args.quick else "bench.json")
    _write_json(_rounded(result), path)
    figures = plot_bench(result, os.path.join(args.out, "figures", "bench"))
    for written in [path, *figures]:
        print(f"wrote {written}")
    print(f"benchmark done in {result['seconds_total']:.0f} s")
    return 0


def _export(args):
    from .validate import export_suite

    print(f"hessian-ref {__version__}: writing the standard cases to "
          f"{args.directory}")
    paths = export_suite(args.directory,
                         progress=lambda name: print(f"- {name}", flush=True))
    print(f"wrote {len(paths)} cases")
    return 0


def _check(args):
    from .validate import check_directory, report_json

    if not os.path.isdir(args.answers):
        print(f"answers: expected a directory of answer files, got "
              f"{args.answers!r}", file=sys.stderr)
        return 2
    try:
        report = check_directory(args.cases, args.answers, args.layout)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    if args.json:
        report_json(report, args.json)
        print(f"wrote {args.json}")
    return 0 if report.passed else 1


def _reproduce(args):
    start = time.perf_counter()
    print(f"hessian-ref {__version__}: reproduce on Iris (150 samples, 4 features, "
          f"3 classes)")
    print(f"network: 4 -> {args.depth} x tanh({args.width}) -> softmax(3), "
          f"eps = {args.eps:g}")
    bar = tqdm(total=args.steps, desc="gradient descent", unit="step",
               file=sys.stdout, leave=True, mininterval=0.5,
               disable=None)  # no bar when the output is not a terminal

    def progress(*event):
        if len(event) == 2:
            step, loss = event
            bar.update(1)
            if step % 100 == 0:
                bar.set_postfix(loss=f"{loss:.4f}")
        elif event[0] == "training":
            print(f"- training: {args.steps} steps of full-batch gradient descent",
                  flush=True)
        else:
            bar.close()
            print(f"- {event[0]}", flush=True)

    run = check_iris(eps=args.eps, depth=args.depth, width=args.width,
                     steps=args.steps, seed=args.seed, progress=progress)
    bar.close()

    lo, hi = run.eigenvalue_range
    print(f"loss {run.train_losses[0]:.4f} -> {run.train_losses[-1]:.4f} after "
          f"{args.steps} steps; P = {run.net.n_params} parameters")
    print(f"||H||_2 = {run.hessian_norm:.3e}, eigenvalues of H in "
          f"[{lo:.3e}, {hi:.3e}], eps = {run.eps:g}, "
          f"cond(H + eps I) = {run.condition:.3e}")
    print("per-layer ||H_ll||_2: "
          + " ".join(f"{b:.1e}" for b in run.block_norms))
    poor = sum(r < RCOND_WARN for r in run.pivot_rcond)
    print(f"pivot blocks: smallest reciprocal condition estimate "
          f"{min(run.pivot_rcond):.1e}; {poor} of {len(run.pivot_rcond)} below "
          f"sqrt(eps_mach), so the solve is judged by its error and residual")
    table = checks_table(run.checks)
    print()
    print(table)
    print()

    paper = os.path.join(args.out, "paper")
    os.makedirs(paper, exist_ok=True)
    md_path = os.path.join(paper, "iris_checks.md")
    with open(md_path, "w") as f:
        f.write("# Iris checks: structured against dense\n\n")
        f.write(f"Written by `hessian-ref reproduce` (hessian-ref {__version__}).\n\n")
        f.write(f"Network: 4 -> {args.depth} x tanh({args.width}) -> softmax(3), "
                f"{run.net.n_params} parameters, full Iris batch (150), "
                f"{args.steps} steps of gradient descent from seed {args.seed}; "
                f"loss {run.train_losses[-1]:.4f}.\n\n")
        f.write(f"eps = {run.eps:g}; ||H||_2 = {run.hessian_norm:.3e}; eigenvalues "
                f"of H in [{lo:.3e}, {hi:.3e}]; cond(H + eps I) = "
                f"{run.condition:.3e}.\n\n")
        f.write("Per-layer ||H_ll||_2: "
                + ", ".join(f"{b:.2e}" for b in run.block_norms) + ".\n\n")
        f.write(table + "\n")
    json_path = os.path.join(paper, "iris_checks.json")
    _write_json({
            "eps": run.eps,
            "depth": args.depth,
            "width": args.width,
            "steps": args.steps,
            "seed": args.seed,
            "n_params": run.net.n_params,
            "final_loss": run.train_losses[-1],
            "hessian_norm": run.hessian_norm,
            "eigenvalue_range": list(run.eigenvalue_range),
            "condition": run.condition,
            "layer_block_norms": run.block_norms,
            # 3 digits: the last ones vary with BLAS threading from run to run
            "pivot_rcond": [float(f"{r:.3g}") for r in run.pivot_rcond],
            "checks": [
                {"quantity": c.quantity, "measured": c.measured,
                 "tolerance": c.tolerance, "kind": c.kind, "passed": c.passed,
                 "why": c.why}
                for c in run.checks
            ],
        }, json_path, indent=2)

    print("- drawing the sparsity of K")
    figures = plot_sparsity_of_K(
        run.lin, run.eps, os.path.join(args.out, "figures", "iris_K_sparsity"),
        title_prefix=f"Iris, {args.depth} tanh layers of width {args.width}: ",
    )
    for path in [md_path, json_path, *figures]:
        print(f"wrote {path}")

    failed = [c for c in run.checks if not c.passed]
    elapsed = time.perf_counter() - start
    if failed:
        print(f"FAILED: {len(failed)} of {len(run.checks)} checks "
              f"({', '.join(c.quantity for c in failed)}) in {elapsed:.1f} s")
    else:
        print(f"all {len(run.checks)} checks passed in {elapsed:.1f} s")
    claims_ok = True if args.iris_only else _claims(args, run)
    return 0 if not failed and claims_ok else 1


def _claims(args, run):
    """The paper's claims: build, measure, draw, report. True if all hold."""
    start = time.perf_counter()
    print()
    print("the paper's claims" + (" (quick)" if args.quick else ""))

    def progress(stage):
        print(f"- {stage}", flush=True)

    ctx = build_context(quick=args.quick, eps=args.eps, progress=progress,
                        trained=(run.net, run.theta))
    progress("drawing figures")
    figure_paths = draw_figures(ctx, os.path.join(args.out, "figures"))
    progress("measuring the claims")
    results = run_claims(ctx, progress=lambda name: None)

    print()
    print(claims_table(results))
    print()
    paper = os.path.join(args.out, "paper")
    md_path = os.path.join(paper, "claims.md")
    with open(md_path, "w") as f:
        f.write(claims_markdown(results, args.quick, args.eps))
    json_path = os.path.join(paper, "claims.json")
    _write_json({"quick": args.quick, "eps": args.eps,
                 "claims": claims_records(results),
                 "sweeps": _rounded(ctx.sweeps)}, json_path)
    for path in [md_path, json_path] + [p for ps in figure_paths.values() for p in ps]:
        print(f"wrote {path}")

    failed = [r.id for r in results if not r.passed]
    elapsed = time.perf_counter() - start
    if failed:
        print(f"FAILED: claims {', '.join(failed)} ({len(failed)} of "
              f"{len(results)}) in {elapsed:.1f} s")
        return False
    print(f"all {len(results)} claims hold in {elapsed:.1f} s")
    return True


def _json_ready(value, digits=None):
    """`value` for strict JSON: a NaN or infinite float becomes ``null``
    (JSON has no such numbers), and with `digits` every float is cut to that
    many significant digits."""
    if isinstance(value, dict):
        return {k: _json_ready(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if digits else float(value)
    return value


def _rounded(value):
    """Sweep results with floats cut to 3 significant digits (timings vary),
    ready for strict JSON."""
    return _json_ready(value, 3)


def _write_json(data, path, indent=1):
    """`data` as strict JSON (no NaN literals) at `path`."""
    with open(path, "w") as f:
        json.dump(_json_ready(data), f, indent=indent, allow_nan=False)


def main(argv=None):
    """Entry point of the ``hessian-ref`` console script."""
    # the command draws only into files; the library leaves the backend alone
    matplotlib.use("Agg")
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "reproduce":
        return _reproduce(args)
    if args.command == "export":
        return _export(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "check":
        return _check(args)
    raise AssertionError(f"unhandled command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
