"""The main job: a smaller run of the same pipeline, and the CLI end to end."""


import numpy as np
import pytest
from conftest import strict_json

from hessian_ref.cli import main
from hessian_ref.reproduce import Check, check_iris, checks_table, train_on_iris


def test_training_lowers_the_loss_and_is_seeded():
    _, theta_a, _, _, losses = train_on_iris(depth=4, steps=300)
    _, theta_b, _, _, _ = train_on_iris(depth=4, steps=300)
    np.testing.assert_array_equal(theta_a, theta_b)
    assert losses[-1] < 0.5 * losses[0]


def test_small_iris_run_passes_every_check():
    run = check_iris(eps=1e-2, depth=4, steps=300)
    failed = [c.quantity for c in run.checks if not c.passed]
    assert not failed
    assert len(run.checks) == 12
    assert len(run.block_norms) == 5
    # the guard measures what it claims: ||H||_2 over eps
    guard = {c.quantity: c for c in run.checks}["curvature guard: ||H||_2 / eps"]
    assert guard.measured == pytest.approx(run.hessian_norm / 1e-2)


def test_curvature_guard_fails_when_eps_swamps_H():
    run = check_iris(eps=1e3, depth=2, steps=50)
    guard = {c.quantity: c for c in run.checks}
    assert not guard["curvature guard: ||H||_2 / eps"].passed
    assert not guard["curvature guard: min_l ||H_ll||_2 / eps"].passed


def test_check_semantics():
    assert Check("a", 1e-12, 1e-10, "").passed
    assert not Check("a", 1e-9, 1e-10, "").passed
    assert not Check("a", float("nan"), 1e-10, "").passed
    assert Check("b", 2.0, 1.0, "", "at least").passed
    assert not Check("b", 0.5, 1.0, "", "at least").passed
    assert Check("c", 1.0, 1.25, "", "between", 0.8).passed
    assert not Check("c", 0.7, 1.25, "", "between", 0.8).passed
    assert not Check("c", 1.3, 1.25, "", "between", 0.8).passed
    assert Check("c", 1.0, 1.25, "", "between", 0.8).bound == "in [0.8, 1.25]"
    table = checks_table([Check("a", 1e-9, 1e-10, "why")])
    assert "| a | 1.000e-09 | <= 1.0e-10 | NO | why |" in table


def test_cli_reproduce_writes_results_and_exits_zero(tmp_path, capsys):
    code = main(["reproduce", "--depth", "3", "--steps", "100", "--iris-only",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "all 12 checks passed" in out
    report = strict_json((tmp_path / "paper" / "iris_checks.json").read_text())
    assert report["depth"] == 3 and all(c["passed"] for c in report["checks"])
    assert (tmp_path / "paper" / "iris_checks.md").read_text().count("| yes |") == 12
    for ext in ("png", "svg"):
        assert (tmp_path / "figures" / f"iris_K_sparsity.{ext}").stat().st_size > 1000


def test_cli_exits_nonzero_when_a_check_fails(tmp_path, capsys):
    code = main(["reproduce", "--depth", "2", "--steps", "10", "--eps", "1e4",
                 "--iris-only", "--out", str(tmp_path)])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_cli_rejects_bad_eps(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--eps", "-1"])
    assert exc.value.code == 2
    assert "expected a finite number > 0, got -1" in capsys.readouterr().err


def test_cli_without_a_command_prints_help(capsys):
    assert main([]) == 2
    assert "reproduce" in capsys.readouterr().err


def test_cli_checks_its_output_and_seed_before_any_work(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--out", str(target)])
    assert exc.value.code == 2
    assert "expected a directory, got the file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "--seed", "-1"])
    assert "expected an integer >= 0, got -1" in capsys.readouterr().err
