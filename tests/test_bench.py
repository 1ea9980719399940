"""The benchmark's quick mode: complete, sane results (no timing asserted)."""

import math

import pytest
from conftest import strict_json

from hessian_ref.bench import SETTINGS, run_bench, targets
from hessian_ref.cli import main


@pytest.fixture(scope="module")
def result():
    return run_bench(quick=True, repeats=1)


def test_every_route_is_timed_at_every_depth(result):
    quick = SETTINGS["quick"]
    assert [p["depth"] for p in result["depth"]] == list(quick["depths"])
    for p in result["depth"]:
        for route in ("structured", "unjudged", "elimination", "riccati",
                      "lapack_floor", "hvp", "hvp_on_blocks", "gradient"):
            assert 0 < p["seconds"][route] < 60, (p["depth"], route)
        assert p["n_params"] <= quick["dense_max_params"]
        assert p["seconds"]["dense"] > 0 and p["seconds"]["cg"] > 0
        assert p["cg_iterations"] >= 1
        # the structured solve needs at least the storage of K' itself
        assert p["peak_bytes"]["structured"] >= p["band_bytes"]
        assert p["peak_bytes"]["dense"] >= 8 * p["n_params"] ** 2


def test_sweeps_grow_the_blocks(result):
    for key in ("width_sweep", "batch_sweep"):
        sizes = [p["block_size"] for p in result[key]]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
        for p in result[key]:
            assert p["seconds"]["elimination"] > 0 and p["seconds"]["lapack_floor"] > 0
    assert result["many_rhs"]["seconds"]["together"] > 0
    for p in result["iris_batch"]:
        # the two solvers agree on the same system (cond * eps_mach ~ 1e-12),
        # and each is within 100 cond * eps_mach of the dense solve, the
        # bound for a backward-stable solve with room for the constants
        assert p["difference"] < 1e-8
        assert 0 <= p["error"]["riccati"] < 100
        assert 0 <= p["error"]["elimination"] < 100
        assert p["pivot_size"] == 20 and p["block_size"] == 20 + 2 * 4 * p["batch"]
        assert p["seconds"]["riccati"] > 0 and p["seconds"]["elimination"] > 0


def test_every_target_is_evaluated_from_the_run(result):
    listed = result["targets"]
    assert len(listed) == 14
    for t in listed:
        assert math.isfinite(t["measured"]) and t["kind"] in ("at most", "at least")
        assert t["passed"] == (t["measured"] <= t["bound"] if t["kind"] == "at most"
                               else t["measured"] >= t["bound"])
    assert targets(result) == listed  # recomputed from the numbers alone
    assert result["machine"]["blas"] and result["machine"]["cpus"] >= 1


def test_the_command_writes_json_and_figures(tmp_path, capsys):
    assert main(["bench", "--quick", "--repeats", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "BLAS:" in out and "structured time against depth" in out
    data = strict_json((tmp_path / "paper" / "bench_quick.json").read_text())
    assert len(data["targets"]) == 14
    assert (tmp_path / "figures" / "bench.png").stat().st_size > 10_000
    assert (tmp_path / "figures" / "bench.svg").exists()
