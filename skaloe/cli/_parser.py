"""What the commands share: option types, the parser class, encoder options, wording."""

from __future__ import annotations

import argparse


class CLIError(Exception):
    """A user error found by the command line itself: printed as one line, exit code 2."""


def _one_line(text):
    return " ".join(str(text).split())


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _argument_type(cast, accept, expected):
    """An argparse ``type`` that casts and checks a value, naming what it expected."""

    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "a non-negative integer")
_positive_float = _argument_type(
    float, lambda v: 0 < v < float("inf"), "a positive number"
)
_fraction = _argument_type(
    float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1"
)
_finite_float = _argument_type(
    float, lambda v: abs(v) < float("inf"), "a number")
_non_negative_float = _argument_type(
    float, lambda v: 0 <= v < float("inf"), "a non-negative number"
)


def _comma_list(text):
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names without empty items, got {text!r}")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"names are repeated in {text!r}")
    return items


def _choice_list(what, choices, *, single=False):
    """An argparse type: a comma-separated list, each item among ``choices()``.

    With ``single``, one item, not a list.
    """

    def parse(text):
        items = [text] if single else _comma_list(text)
        known = choices()
        unknown = [s for s in items if s not in known]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {unknown[0]!r}; choose from {', '.join(known)}")
        return items[0] if single else items

    return parse


def _query_scorer_names():
    from ..active import get_query_scorer_names

    return get_query_scorer_names()


_SELECTIONS = ("class-aware", "class-agnostic", "one-per-class")
_STOPPING_RULES = ("plateau", "stabilizing")
_strategy_list = _choice_list("query strategy", _query_scorer_names)
_strategy_name = _choice_list("query strategy", _query_scorer_names, single=True)
_selection_list = _choice_list("selection", lambda: _SELECTIONS)
_stopping_list = _choice_list("stopping rule", lambda: _STOPPING_RULES)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``<prog>: error: <message>``."""

    def error(self, message):
        message = _one_line(message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _model_option(text):
    """--model: a name, URL, Kaggle id or folder; else what a command-line user can give."""
    import os

    from ..encoders._transformer import names_a_model, unknown_model_message

    if names_a_model(text) or os.sep in text or text.startswith("."):
        return text  # a folder that does not exist is named by the encoder's own error
    raise argparse.ArgumentTypeError(unknown_model_message(text, callables=False))


def _add_encoder_options(parser, *, cache_help):
    parser.add_argument(
        "--model", default="ge2e", metavar="MODEL", type=_model_option,
        help="encoder: a built-in that runs offline ('ge2e', a pretrained speech network "
             "whose weights ship with skaloe; the spectral baselines 'mfcc', 'logmel'), a "
             "TF-Hub model name such as 'trillsson1'...'trillsson5', 'yamnet', 'vggish' "
             "(downloaded on first use), a tfhub.dev or Kaggle URL, or a SavedModel folder "
             "(default: ge2e)",
    )
    parser.add_argument("--cache", default=None, metavar="DIR", help=cache_help)
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="threads for decoding and encoding (default: 1; -1: all cores)")
    parser.add_argument("--timeout", type=_positive_float, default=10.0, metavar="S",
                        help="seconds to wait for a model download server (default: 10)")
