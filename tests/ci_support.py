"""What the test suite may skip, and where it may not.

The README's test command installs the ``tests`` extra, and ``.ci/run``
exports ``CI=true``. Locally a developer may run the suite without an optional
test dependency (pandas, ipywidgets, dask, selenium, Chromium):
those tests are skipped. In CI a missing one is a broken install, so the same
tests fail instead. skaloe's own dependencies (TensorFlow, tensorflow-hub,
librosa, soundfile, matplotlib) are imported directly by the tests: never
skipped.
"""

import importlib
import os

import pytest

_TRUE = ("1", "true", "yes")


def running_in_ci():
    """True when the ``CI`` environment variable says so (1, true or yes)."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def unavailable(why):
    """Skip the current test locally; fail it in CI."""
    if running_in_ci():
        pytest.fail(f"{why} (CI=true: nothing the test extra provides may be skipped)",
                    pytrace=False)
    pytest.skip(why, allow_module_level=True)


def require(module, why="it is part of the 'tests' extra"):
    """Import an optional test dependency: skipped locally when missing, failed in CI."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{module} cannot be imported ({exc}); {why}; "
                    "install it with pip install -e '.[tests]'")


def run_estimator_check(check, estimator, expected_failures):
    """Run one scikit-learn estimator check, holding documented failures to their word.

    ``expected_failures`` maps a check's name to ``(reason, exception type,
    message pattern)``: the one sub-check that a deliberate design choice
    fails. Such a check must fail there and only there: it is an error if it
    passes (the exception is gone: drop the entry) or fails in any other way
    (a regression hidden behind an expected failure). Any other check must pass.
    """
    name = getattr(check, "func", check).__name__
    expected = expected_failures.get(name)
    if expected is None:
        check(estimator)
        return
    _reason, exception, pattern = expected
    with pytest.raises(exception, match=pattern):
        check(estimator)
