import os
import sys

# Quiet TensorFlow's C++ logging; must happen before anything imports TF.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from collections.abc import Mapping  # noqa: E402

import pytest  # noqa: E402

# Make the helper module ``savedmodels`` importable whatever the import mode,
# and keep it out of collection (it is no test module and imports TensorFlow).
_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
collect_ignore = ["savedmodels.py", "ci_support.py", "ge2e_clips.py", "figure_layout.py"]


class _LazySavedModels(Mapping):
    """family -> SavedModel path; each model is built on first access."""

    def __init__(self, builders, root):
        self._builders = builders
        self._root = root
        self._paths = {}

    def __getitem__(self, family):
        if family not in self._paths:
            build = self._builders[family]
            self._paths[family] = build(str(self._root / family))
        return self._paths[family]

    def __iter__(self):
        return iter(self._builders)

    def __len__(self):
        return len(self._builders)


@pytest.fixture(scope="session")
def tiny_savedmodels(tmp_path_factory):
    """Tiny TF-Hub-like SavedModels: ``tiny_savedmodels["yamnet"]`` is a path.

    Families: trillsson, trill, trill-distilled, frill, yamnet, vggish (see
    ``tests/savedmodels.py``). Models are built lazily, once per session.
    """
    from savedmodels import BUILDERS

    return _LazySavedModels(BUILDERS, tmp_path_factory.mktemp("savedmodels"))


@pytest.fixture
def count_spectral(monkeypatch):
    """Record how many waveforms each SpectralRunner.embed call receives (all test modules)."""
    from skaloe.encoders._runners import SpectralRunner

    calls = []
    original = SpectralRunner.embed

    def spy(self, waveforms, indices):
        calls.append(len(waveforms))
        return original(self, waveforms, indices)

    monkeypatch.setattr(SpectralRunner, "embed", spy)
    return calls
