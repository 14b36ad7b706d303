"""Audio datasets: a synthetic vowel generator and class-per-folder I/O."""

from ._folder import AUDIO_EXTENSIONS, load_audio_folder, save_audio_folder
from ._synthetic import make_vowels

__all__ = [
    "AUDIO_EXTENSIONS",
    "load_audio_folder",
    "make_vowels",
    "save_audio_folder",
]
