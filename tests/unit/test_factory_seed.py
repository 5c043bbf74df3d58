"""The `factory` fixture's seed: a failing test prints it, and ORDER_FACTORY_SEED replays it."""

from __future__ import annotations

import pytest

from tests.sandbox_support import SEED_VARIABLE

CONFTEST = 'pytest_plugins = ["tests.sandbox_support"]\n'
FAILING = """
def test_uses_the_factory(factory):
    print("factory seed", factory.seed)
    assert factory.order(status="UNSHIPPED").order_id == "not this one"
"""
PASSING = """
def test_uses_the_factory(factory):
    assert factory.seed >= 0
"""


@pytest.fixture
def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Run `test_seeded.py` (the given source) in a pytest session of its own with the sandbox support
    plugin; `seed` sets ORDER_FACTORY_SEED for it (None: unset, whatever the outer run has)."""
    pytester.makeconftest(CONFTEST)

    def run(source: str, *args: str, seed: str | None = None) -> pytest.RunResult:
        if seed is None:
            monkeypatch.delenv(SEED_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(SEED_VARIABLE, seed)
        pytester.makepyfile(test_seeded=source)
        return pytester.runpytest_inprocess(*args)

    return run


def test_a_failing_test_shows_the_factory_seed_and_how_to_rerun_it(run_inner) -> None:
    """The failure report has an "order factory seed" section with the seed the test used."""
    result = run_inner(FAILING)

    result.assert_outcomes(failed=1)
    [printed] = [line for line in result.outlines if line.startswith("factory seed ")]
    seed = printed.split()[-1]
    result.stdout.fnmatch_lines(
        [
            "*- order factory seed -*",
            f"seed {seed}; to run it again with the same orders: "
            f"{SEED_VARIABLE}={seed} ./dev test test_seeded.py::test_uses_the_factory",
        ]
    )


def test_the_seed_can_be_forced_with_the_environment_variable(run_inner) -> None:
    """ORDER_FACTORY_SEED=123 makes the factory use seed 123, and the report says so."""
    result = run_inner(FAILING, seed="123")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["factory seed 123", f"seed 123; *{SEED_VARIABLE}=123 ./dev test *"])


def test_a_passing_test_prints_no_seed(run_inner, pytester: pytest.Pytester) -> None:
    """Only failures carry the section; passing tests keep the seed as a user property (JUnit XML) alone."""
    result = run_inner(PASSING, "--junitxml=report.xml")

    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*order factory seed*")
    assert 'name="order_factory_seed"' in (pytester.path / "report.xml").read_text()


def test_a_seed_that_is_not_a_number_is_refused_with_the_variable_named(run_inner) -> None:
    """ORDER_FACTORY_SEED=abc fails the test's set-up with a message naming the variable."""
    result = run_inner(PASSING, seed="abc")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{SEED_VARIABLE} must be an integer, not 'abc'*"])
