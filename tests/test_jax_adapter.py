"""The JAX implementation of hessian_ref.examples.jax_adapter passes the
golden cases: an independent check of every quantity hessian_ref computes."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from hessian_ref.examples import jax_adapter
from hessian_ref.examples.jax_adapter import jax_answers, main
from hessian_ref.validate import (
    check_answers,
    check_directory,
    load_answers,
    save_case,
    standard_suite,
    validate,
)

ALWAYS = {"loss", "gradient", "hvp"}
WHERE_GIVEN = {"inverse_hvp", "hessian"}


@pytest.fixture(scope="module")
def suite():
    return {case.name: case for case in standard_suite()}


def expected_checks(case):
    return ALWAYS | (WHERE_GIVEN & set(case.expected))


def test_jax_passes_the_standard_suite(suite):
    report = validate(jax_answers, list(suite.values()))
    assert report.passed, "\n".join(report.lines())
    assert len(report.cases) == len(suite)
    for case_report in report.cases:
        case = suite[case_report.case]
        checked = {q.quantity for q in case_report.quantities}
        assert checked == expected_checks(case), case.name
        assert not case_report.not_checked, case.name
    # the suite holds cases with and without the dense Hessian
    assert any("hessian" in case.expected for case in suite.values())
    assert any("hessian" not in case.expected for case in suite.values())


def test_answers_do_not_depend_on_the_expected_values(suite):
    case = suite["mixed-activations"]
    blind = dataclasses.replace(case, expected={}, tolerance={})
    first, second = jax_answers(case), jax_answers(blind)
    assert set(first) == set(second) == expected_checks(case)
    for quantity in first:
        np.testing.assert_array_equal(first[quantity], second[quantity])


def test_answer_files_round_trip_through_the_writer_and_the_check(tmp_path, suite):
    names = ["sum-reduction", "softplus-cross-entropy", "depth-64"]
    cases_dir, answers_dir = tmp_path / "cases", tmp_path / "answers"
    for name in names:
        save_case(suite[name], cases_dir)

    assert main([str(cases_dir), str(answers_dir)]) == 0

    assert sorted(os.listdir(answers_dir)) == sorted(f"{n}.npz" for n in names)
    for name in names:
        answers = load_answers(answers_dir / f"{name}.npz")
        assert set(answers) == expected_checks(suite[name])
    report = check_directory(str(cases_dir), str(answers_dir))
    assert report.passed, "\n".join(report.lines())
    assert sorted(c.case for c in report.cases) == sorted(names)
    for case_report in report.cases:
        assert ({q.quantity for q in case_report.quantities}
                == expected_checks(suite[case_report.case]))


@pytest.mark.parametrize("name", ["iris-10", "depth-16", "depth-64"])
def test_the_gmres_route_passes(suite, name):
    case = suite[name]
    answers = jax_answers(case, dense_limit=0, hessian_limit=0)
    assert "hessian" not in answers
    report = check_answers(case, answers)
    assert report.passed, "\n".join(q.message() for q in report.quantities)
    assert "inverse_hvp" in {q.quantity for q in report.quantities}


def test_stagnating_gmres_leaves_the_inverse_unanswered(suite, monkeypatch):
    monkeypatch.setattr(jax_adapter, "GMRES_RESTART", 2)
    monkeypatch.setattr(jax_adapter, "GMRES_PRODUCTS", 1)
    case = suite["depth-16"]
    with pytest.warns(RuntimeWarning, match="inverse_hvp is left unanswered"):
        answers = jax_answers(case, dense_limit=0, hessian_limit=0)
    assert "inverse_hvp" not in answers
    assert "inverse_hvp" in check_answers(case, answers).not_checked


def test_the_module_imports_without_jax_and_says_what_is_missing():
    code = (
        "import sys\n"
        "sys.modules['jax'] = None\n"
        "import hessian_ref.examples.jax_adapter as m\n"
        "try:\n"
        "    m.jax_answers(None)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=120, check=True)
    assert "pip install jax" in result.stdout
