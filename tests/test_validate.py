"""Golden cases, the check of other implementations' answers, and the
located errors of a deliberately wrong implementation."""

import json
import os

import numpy as np
import pytest

from hessian_ref.cli import main
from hessian_ref.dense import autograd_gradient, autograd_hessian, autograd_loss
from hessian_ref.examples.faulty import FAULTS, faulty_answers
from hessian_ref.validate import (
    CASE_KEYS,
    check_answers,
    check_directory,
    load_answers,
    load_case,
    parameter_blocks,
    save_case,
    standard_suite,
    validate,
)


@pytest.fixture(scope="module")
def suite():
    return standard_suite()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, suite):
    directory = tmp_path_factory.mktemp("cases")
    for case in suite:
        save_case(case, directory)
    return directory


_DENSE = {}


def dense_answers(case):
    """An independent implementation: autograd's loss, gradient and Hessian
    (a transcription of the network separate from the structured one), and a
    dense solve. Computed once per case."""
    if case.name not in _DENSE:
        _DENSE[case.name] = _dense_answers(case)
    return _DENSE[case.name]


def _dense_answers(case):
    net = case.net
    H = autograd_hessian(net, case.theta, case.X, case.targets)
    return {
        "loss": autograd_loss(net, case.X, case.targets)(case.theta),
        "gradient": autograd_gradient(net, case.theta, case.X, case.targets),
        "hvp": H @ case.v,
        "inverse_hvp": np.linalg.solve(H + case.eps * np.eye(len(H)), case.v),
        "hessian": H,
    }


# -------------------------------------------------------------- the suite


def test_suite_covers_what_it_promises(suite):
    assert 18 <= len(suite) <= 24
    depths = {len(c.widths) - 1 for c in suite}
    widths = {h for c in suite for h in c.widths[1:-1]}
    batches = {len(c.X) for c in suite}
    assert min(depths) == 1 and max(depths) == 65
    assert min(widths) == 1 and max(widths) == 8
    assert min(batches) == 1 and max(batches) == 10
    assert {a for c in suite for a in c.activations} == {
        "tanh", "sigmoid", "softplus", "identity"}
    assert {c.loss for c in suite} == {"cross_entropy", "squared_error"}
    assert {c.reduction for c in suite} == {"mean", "sum"}
    conditions = [c.condition for c in suite]
    assert min(conditions) < 100 and max(conditions) > 1e7
    indefinite = [c for c in suite if "hessian" in c.expected
                  and np.linalg.eigvalsh(c.expected["hessian"] + c.eps
                                         * np.eye(len(c.theta)))[0] < 0]
    assert indefinite, "no case with an indefinite H + eps I"
    assert len({c.name for c in suite}) == len(suite)


def test_expected_values_agree_with_an_independent_dense_computation(suite):
    # the tolerances of the cases must leave room for an honest independent
    # implementation: autograd agrees with the expected values to a hundredth
    # of each tolerance on every case small enough for a dense Hessian
    for case in suite:
        if "hessian" not in case.expected:
            continue
        report = check_answers(case, dense_answers(case))
        for q in report.quantities:
            assert q.error <= q.tolerance / 100, (case.name, q.message())


def test_large_cases_agree_with_the_banded_solve(suite):
    # no dense Hessian for the largest cases: the banded LU solves the same
    # system by another elimination
    from hessian_ref.augmented import hessian_inverse_product

    large = [c for c in suite if "hessian" not in c.expected]
    assert large
    for case in large:
        x = hessian_inverse_product(case.net, case.theta, case.X, case.targets,
                                    case.v, case.eps, method="banded")
        error = np.linalg.norm(x - case.expected["inverse_hvp"]) / np.linalg.norm(x)
        assert error <= case.tolerance["inverse_hvp"] / 10, case.name


def test_hessian_ref_answers_pass_the_check(exported, tmp_path):
    # recomputed from the case files through the public API, the inverse
    # product by the banded LU rather than the default solver; written as
    # answer files and judged by the command line
    from hessian_ref import hessian_inverse_product, hessian_vector_product

    def own(case):
        net, args = case.net, (case.theta, case.X, case.targets)
        return {
            "loss": net.loss(*args),
            "gradient": net.gradient(*args),
            "hvp": hessian_vector_product(net, *args, case.v),
            "inverse_hvp": hessian_inverse_product(net, *args, case.v, case.eps,
                                                   method="banded"),
        }

    report = validate(own, str(exported))
    assert report.passed
    assert len(report.checked()) == 4 * len(report.cases)
    for name in os.listdir(exported):
        np.savez(tmp_path / name, **own(load_case(os.path.join(exported, name))))
    assert main(["check", str(exported), str(tmp_path)]) == 0


# ------------------------------------------------------------- the format


def test_case_files_round_trip_and_are_documented(exported, suite):
    for case in suite:
        path = os.path.join(exported, f"{case.name}.npz")
        loaded = load_case(path)
        assert loaded.widths == case.widths and loaded.eps == case.eps
        for q, value in case.expected.items():
            np.testing.assert_array_equal(loaded.expected[q], value)
        with np.load(path, allow_pickle=False) as data:  # numpy alone
            keys = set(data.files)
            W1 = data["W_1"]
        documented = {k for k in CASE_KEYS if "<" not in k and "," not in k}
        assert documented - {"hessian"} <= keys
        assert {f"tolerance_{q}" for q in case.expected} <= keys
        assert {f"W_{l}" for l in range(1, len(case.widths))} <= keys
        np.testing.assert_array_equal(W1, case.net.unpack(case.theta)[0][0])


def test_parameter_blocks_tile_the_layout():
    blocks = parameter_blocks((3, 4, 2))
    assert [label for label, _ in blocks] == [
        "layer 1 weights", "layer 1 bias", "layer 2 weights", "layer 2 bias"]
    assert [(s.start, s.stop) for _, s in blocks] == [(0, 12), (12, 16), (16, 24),
                                                      (24, 26)]


def test_a_case_of_another_format_version_is_refused(tmp_path, suite):
    path = save_case(suite[0], tmp_path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["format_version"] = np.int64(99)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="expected a case of format version 1, got 99"):
        load_case(path)


# ----------------------------------------------------------- planted faults


def _spoiled(case, answers):
    """Quantities the planted fault changes beyond their tolerance: a sum over
    a batch of one changes nothing, nor does a transposed 1 x n matrix, nor
    layer 2 of a deep sigmoid chain whose curvature has vanished, nor a
    factor B on H where eps = 1e-8 dominates the inverse along H's null
    space."""
    return {q for q, value in answers.items()
            if np.linalg.norm(value - case.expected[q])
            > case.tolerance[q] * np.linalg.norm(case.expected[q])}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_planted_fault_is_caught_and_located(suite, fault):
    cases = [c for c in suite if "hessian" in c.expected]
    answers = {c.name: faulty_answers(c, fault) for c in cases}
    cases = [c for c in cases if _spoiled(c, answers[c.name])]
    assert len(cases) >= 8
    report = validate(lambda case: answers[case.name], cases)
    assert not report.passed
    for case, result in zip(cases, report.cases):
        failed = {q.quantity: q for q in result.failures()}
        # exactly the quantities the fault spoils fail, and no others
        assert set(failed) == _spoiled(case, answers[case.name]), case.name
        assert set(failed) <= set(FAULTS[fault])
        batch = len(case.X)
        if fault == "bias-curvature-dropped":
            # one bias when only one carries curvature above the tolerance
            assert failed["hessian"].cause in (
                ["the error lies in the rows and columns of every bias"]
                + [f"the error lies in the rows and columns of layer {l} bias"
                   for l in range(1, len(case.widths))]), failed["hessian"].cause
        elif fault == "sum-not-mean":
            factor = batch if case.reduction == "mean" else 1 / batch
            for q in ("loss", "gradient", "hvp", "hessian"):
                assert failed[q].scale == pytest.approx(factor, rel=1e-9), q
            if "inverse_hvp" in failed:
                assert "(B H + eps I)^{-1} v" in failed["inverse_hvp"].cause
        elif fault == "eps-sign":
            assert failed["inverse_hvp"].cause.startswith(
                "eps enters with the wrong sign")
        elif fault == "cross-block-transposed":
            assert failed["hessian"].cause == (
                "the error lies in the rows and columns of layer 2 weights")
            assert failed["hvp"].locations[0][0].startswith("layer ")


def test_a_fault_in_one_block_is_located_in_that_block(suite):
    case = next(c for c in suite if c.name == "tanh-cross-entropy")
    answers = {q: np.array(case.expected[q], dtype=float) for q in ("gradient",)}
    blocks = dict(parameter_blocks(case.widths))
    answers["gradient"][blocks["layer 2 bias"]] *= 1.5
    q = check_answers(case, answers).quantities[0]
    assert not q.passed
    assert [label for label, _ in q.locations] == ["layer 2 bias"]
    assert "located at layer 2 bias" in q.message()


# ------------------------------------------------------------------ the CLI


def _write_answers(directory, cases, answer):
    os.makedirs(directory, exist_ok=True)
    for case in cases:
        np.savez(os.path.join(directory, f"{case.name}.npz"), **answer(case))


def test_export_writes_the_suite(tmp_path, capsys):
    assert main(["export", str(tmp_path / "cases")]) == 0
    files = sorted(os.listdir(tmp_path / "cases"))
    assert len(files) >= 18 and all(f.endswith(".npz") for f in files)
    assert "wrote" in capsys.readouterr().out


def test_check_passes_correct_answers_and_fails_faulty_ones(tmp_path, exported,
                                                            suite, capsys):
    small = [c for c in suite if "hessian" in c.expected]
    good, bad = tmp_path / "good", tmp_path / "bad"
    _write_answers(good, suite, dense_answers_or_expected)
    _write_answers(bad, suite, lambda c: faulty_answers(c, "eps-sign"))
    assert main(["check", str(exported), str(good)]) == 0
    assert main(["check", str(exported), str(bad), "--json",
                 str(tmp_path / "report.json")]) == 1
    out = capsys.readouterr().out
    assert "eps enters with the wrong sign" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is False
    failing = {c["case"] for c in report["cases"] if not c["passed"]}
    assert failing == {c.name for c in small}
    entry = next(c for c in report["cases"] if c["case"] == small[0].name)
    inverse = next(q for q in entry["quantities"] if q["quantity"] == "inverse_hvp")
    assert inverse["relative_error"] > inverse["tolerance"]
    assert inverse["locations"] and inverse["locations"][0]["block"].startswith("layer")


def dense_answers_or_expected(case):
    if "hessian" in case.expected:
        return dense_answers(case)
    return {"loss": case.expected["loss"], "gradient": case.expected["gradient"]}


def test_a_missing_answer_file_fails_the_check(tmp_path, exported, suite):
    _write_answers(tmp_path, suite[1:], lambda c: {"loss": c.expected["loss"]})
    report = check_directory(str(exported), str(tmp_path))
    assert not report.passed
    missing = [c for c in report.cases if c.problem]
    assert [c.case for c in missing] == [suite[0].name]
    assert "no answer file" in missing[0].problem


def test_unknown_keys_and_wrong_shapes_are_named(tmp_path, suite):
    case = suite[0]
    path = tmp_path / "answers.npz"
    np.savez(path, gradiant=case.expected["gradient"])
    with pytest.raises(ValueError, match="expected keys among .* got \\['gradiant'\\]"):
        load_answers(path)
    report = check_answers(case, {"gradient": case.expected["gradient"][:-1]})
    assert not report.passed
    assert "expected shape" in report.quantities[0].problem
    report = check_answers(case, {"hvp": np.full(len(case.theta), np.nan)})
    assert "NaN or infinity" in report.quantities[0].problem
    assert not check_answers(case, {}).passed


def test_check_refuses_bad_paths_with_exit_2(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none"), str(tmp_path)]) == 2
    assert main(["check", str(tmp_path), str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "cases: expected" in err and "answers: expected" in err


def test_validate_names_a_bad_implementation(suite):
    with pytest.raises(TypeError, match="implementation: expected a callable"):
        validate("not callable", suite[:1])
    report = validate(lambda case: [1, 2], suite[:1])
    assert not report.passed
    assert "return a dict, got list" in report.cases[0].problem


def test_answers_in_another_layout_are_converted_before_the_check(tmp_path, suite,
                                                                  exported, capsys):
    from hessian_ref.layouts import (
        FLAX_RAVEL_PYTREE,
        HESSIAN_REF,
        convert,
        convert_matrix,
    )

    cases = [c for c in suite if "hessian" in c.expected][:3]
    out = tmp_path / "flax"
    out.mkdir()
    for case in cases:
        answers = dense_answers(case)
        moved = {"loss": answers["loss"],
                 "hessian": convert_matrix(answers["hessian"], case.widths,
                                           HESSIAN_REF, FLAX_RAVEL_PYTREE)}
        for q in ("gradient", "hvp", "inverse_hvp"):
            moved[q] = convert(answers[q], case.widths, HESSIAN_REF, FLAX_RAVEL_PYTREE)
        np.savez(out / f"{case.name}.npz", **moved)
        # read as hessian_ref's layout they fail; converted they pass
        assert not check_answers(case, moved).passed
        assert check_answers(case, moved, FLAX_RAVEL_PYTREE).passed
    # validate() takes the same layout for an implementation's answers
    flax_answers = {case.name: np.load(out / f"{case.name}.npz") for case in cases}

    def in_flax_layout(case):
        return dict(flax_answers[case.name])

    assert not validate(in_flax_layout, cases).passed
    assert validate(in_flax_layout, cases, layout=FLAX_RAVEL_PYTREE).passed
    cases_dir = tmp_path / "cases"
    for case in cases:
        save_case(case, cases_dir)
    assert main(["check", str(cases_dir), str(out), "--layout", "in_out,first,C"]) == 0
    assert main(["check", str(cases_dir), str(out)]) == 1
    with pytest.raises(SystemExit):
        main(["check", str(cases_dir), str(out), "--layout", "in_out,first"])
    assert "expected WEIGHTS,BIAS,ORDER" in capsys.readouterr().err


def test_the_readme_documents_every_key_of_a_case():
    path = os.path.join(os.path.dirname(__file__), "..", "README.md")
    with open(path) as handle:
        readme = handle.read()
    for key, content in CASE_KEYS.items():
        shown = "`W_l`, `b_l`" if key == "W_l, b_l" else f"`{key}`"
        assert f"| {shown} | {content} |" in readme, key


def test_an_error_in_every_block_is_said_so():
    from hessian_ref.validate import _confinement

    blocks = [("layer 1 weights", np.arange(0, 4)), ("layer 1 bias", np.arange(4, 6)),
              ("layer 2 weights", np.arange(6, 9))]
    D = np.ones((9, 9))
    assert _confinement(D, blocks, 1e-12) == "every block"
    D[6:, :] = D[:, 6:] = 0  # now only layer 1's rows and columns hold it
    assert _confinement(D, blocks, 1e-12) == "layer 1 weights and layer 1 bias"
