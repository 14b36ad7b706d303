"""Audio datasets and embeddings on disk.

A synthetic vowel generator, class-per-folder audio I/O, the windows of long
recordings, and the one reader and writer of the embeddings file (``.npz``) and
of the labels of an embedding store.
"""

from ._embeddings import load_embeddings, save_embeddings, save_store_labels
from ._folder import AUDIO_EXTENSIONS, load_audio_folder, save_audio_folder
from ._segments import segment_recordings
from ._synthetic import make_vowels

__all__ = [
    "AUDIO_EXTENSIONS",
    "load_audio_folder",
    "load_embeddings",
    "make_vowels",
    "save_audio_folder",
    "save_embeddings",
    "save_store_labels",
    "segment_recordings",
]
