"""ActiveLearner: pool-based active learning as a scikit-learn meta-estimator."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..base import is_transductive
from ._diversity import DIVERSITY_METHODS, fit_pool_clusters, select_diverse
from ._labels import (
    UNLABELED,
    as_label_array,
    check_labels,
    check_no_nan_labels,
    check_positions,
    classes_in_order,
    num_rows,
    unlabeled_mask,
)
from ._matching import PoolLookup, assign_positions
from ._pipeline import (
    FittedView,
    assemble,
    check_finite_rows,
    default_estimator,
    final_step,
    fit_frozen_prefix,
    fit_one_thread,
    split_frozen_prefix,
    transform_frozen,
)
from ._scorer import get_query_scorer, get_query_scorer_names, score_pool
from ._selection import (
    cold_start_order,
    cold_start_picks,
    select_class_agnostic,
    select_class_aware,
    select_one_per_class,
)
from ._stopping import check_stopping_rules, stopping_hint

_NOT_FITTED = (
    "This %(name)s is not fitted yet: call fit(X_pool) first (y is optional; -1 marks "
    "unlabeled samples), then query() for the samples to label and teach() their labels."
)


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_") and self.estimator_ is not None:
            return hasattr(self.estimator_, attr)
        est = self.estimator if self.estimator is not None else default_estimator()
        return hasattr(est, attr)

    return check


def _stack(parts):
    """Samples of several parts in one: a CSR matrix, an array or a list, as the first."""
    first = parts[0]
    if hasattr(first, "tocsr"):
        import scipy.sparse as sp

        return sp.vstack(parts, format="csr")
    if isinstance(first, np.ndarray):
        return np.concatenate(parts)
    return [x for part in parts for x in part]


class ActiveLearner(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Pool-based active learning around any probabilistic classifier.

    Fit it on a pool with ``-1`` marking unlabeled samples; ask which samples
    to label next with :meth:`query`; give the labels a person chose with
    :meth:`teach`, which refits the classifier. This is the ALOE loop (Lee et
    al., 2023): a linear softmax classifier on frozen embeddings, smallest-
    margin uncertainty sampling, class-aware batches.
    :func:`~skaloe.active.aloe_learner` returns one set up to select exactly
    as ALOE's code does.

    Read more in the :ref:`User Guide <active_learning>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        A classifier with ``fit`` and ``predict_proba``; cloned. None means a
        multinomial ``LogisticRegression(max_iter=1000, warm_start=True)``.
        A Pipeline whose first steps are frozen (see :mod:`skaloe.base`:
        :class:`~skaloe.EncoderTransformer`, ``sklearn.frozen.FrozenEstimator``
        or your own :class:`~skaloe.base.FrozenStepMixin` steps) may take
        file paths: the
        frozen prefix runs once over the pool in :meth:`fit`, and each round
        refits only the steps after it. If the classifier (or the last step of
        the trainable part) has ``warm_start=True``, refits continue from the
        previous solution while the set of classes is unchanged.
        Transductive classifiers (:class:`skaloe.graph.GraphClassifier`,
        scikit-learn's ``LabelPropagation``, ``LabelSpreading`` and
        ``SelfTrainingClassifier``, or any
        :class:`~skaloe.base.TransductiveMixin`) are fitted on the whole pool with ``-1``
        for the unlabeled samples, and the pool is scored with their
        ``label_distributions_`` when they have one. The pool is passed as
        the same array every round (unless samples were added outside it),
        so a classifier that keeps what it built from ``X`` can reuse it.
        The estimator's parameters are never changed.

    query_strategy : str or callable, default="margin"
        How informative each sample is: a name from
        :func:`~skaloe.active.get_query_scorer_names` (``"margin"``,
        ``"largest_margin"``, ``"least_confidence"``, ``"entropy"``,
        ``"norm"``, ``"random"``), a scorer from
        :func:`~skaloe.active.make_query_scorer` (e.g. scoring logits), or a
        callable ``(estimator, X) -> scores``, higher = ask first, such as
        :func:`skaloe.graph.model_change_scores` for a graph classifier.

    selection : {"class-aware", "class-agnostic", "one-per-class"}, \
            default="class-aware"
        ``"class-aware"`` spreads a batch over the predicted classes, best of
        each class first, then every class's second best, and so on until
        the batch is full (``query(n_classes)`` asks one label per predicted
        class when every class is predicted somewhere); ``"class-agnostic"``
        takes the top scores; ``"one-per-class"`` asks at most one label per
        predicted class, each class's best (ALOE's class-aware round exactly:
        fewer labels when a class is predicted nowhere among the unlabeled
        samples; see :func:`~skaloe.active.aloe_learner`).

    batch_diversity : {"kmeans++", "cluster-margin"} or None, default=None
        Keep near copies out of a batch. None takes the best scores (per
        predicted class with class-aware selection). ``"kmeans++"`` chooses
        the batch among the ``10 * n`` best candidates by k-means++ seeding
        (the best first, then far from those chosen); ``"cluster-margin"``
        clusters the pool once (on the first query) and takes the best
        candidates round-robin over clusters, smallest cluster first
        (Citovsky et al., 2021), each time the member farthest from the picks
        so far. Both work with any ``query_strategy`` and both ``selection``
        modes (with class-aware selection, each class's picks keep away from
        those of the other classes too). They measure distances in the
        pool's features (the embeddings, after a frozen encoder prefix), so
        the pool must be a dense numeric array.

    cold_start : {"kmeans", "random"}, default="kmeans"
        How :meth:`query` picks samples while fewer than two classes are
        labeled: representatives of k-means clusters of the pool, ordered
        from coarse to fine regions (computed once, at the first cold query,
        then consumed in order; see the user guide), or uniformly at random.

    chunk_size : int, default=8192
        Rows of the pool scored at a time; bounds the memory of a query.

    tie_break : {"random", "first"}, default="random"
        Which of several candidates with equal scores is taken first (within
        a predicted class, with class-aware selection). ``"random"``: in a
        random order drawn once per round from ``random_state``; ``"first"``:
        the lowest pool position, the rule of ``np.argmax``, as in ALOE's
        code. Ties are common with the random strategy's float32 draws, with
        duplicate samples, and with rounded or constant features.

    random_state : int, RandomState instance or None, default=None
        Seeds the cold start, the random strategy and random tie-breaking.

    stopping : stopping rule or list of stopping rules, default=None
        Rules that say when labeling more is no longer worth it, such as
        :class:`~skaloe.active.PlateauStopping` (needs the validation set
        given to :meth:`fit`: its ``needs_validation`` is True) and
        :class:`~skaloe.active.StabilizingPredictions` (needs no labels).
        Clones are kept in ``stopping_`` and given the learner
        (``rule.update(learner)``) after every refit; :meth:`stopping_hint`
        and ``should_stop_`` report what they say.

    scoring : str, callable or None, default=None
        The validation score computed after every refit when :meth:`fit`
        got ``X_val`` and ``y_val``: a scikit-learn scorer name (e.g.
        ``"balanced_accuracy"``, ``"f1_macro"``) or a callable
        ``(estimator, X, y) -> float``. None means accuracy.

    Attributes
    ----------
    estimator_ : estimator or None
        The classifier fitted on the labels so far (a Pipeline including the
        frozen prefix when there is one), trained on integer codes
        ``0 .. n_classes - 1`` of ``classes_``; None while fewer than two
        classes are labeled.

    classes_ : ndarray of shape (n_classes,)
        The labels seen so far (sorted when they can be sorted).

    labeled_mask_ : ndarray of bool, shape (n_pool,)
        Which pool positions are labeled.

    y_pool_ : ndarray of shape (n_pool,)
        Each pool position's label, ``-1`` where unlabeled.

    history_ : list of dict
        Every label ever given, in order: ``{"round", "index", "label",
        "source"}`` with source ``"fit"``, ``"teach"`` (a pool position) or
        ``"add"`` (a sample outside the pool, from :meth:`add_labeled` or a
        :meth:`teach` sample not found in the pool; index None). Relabeling a
        position keeps the earlier entry.

    taught_positions_ : ndarray of int
        After :meth:`teach`: the pool position of each position or sample it
        was given, ``-1`` for a sample not in the pool (added outside it).

    n_rounds_ : int
        Number of :meth:`teach` and :meth:`add_labeled` calls since fit.

    n_features_in_ : int
        Number of features of ``X`` seen during fit (when defined).

    validation_score_ : float or None
        The score on the validation set of the latest model; None without a
        validation set, or while fewer than two classes are labeled.

    validation_scores_ : list of dict
        One ``{"round", "n_labels", "score"}`` per model scored on the
        validation set: the learning curve of this labeling session.

    stopping_ : list of stopping rules
        Fitted copies of ``stopping``, fed after every refit.

    See Also
    --------
    skaloe.active.get_query_scorer : The query strategies.
    sklearn.semi_supervised.SelfTrainingClassifier : The same ``-1`` convention.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner
    >>> X, y = make_classification(200, n_classes=3, n_informative=4, random_state=0)
    >>> learner = ActiveLearner(random_state=0).fit(X)      # nothing labeled yet
    >>> first = learner.query(3)                             # diverse cold-start picks
    >>> learner = learner.teach(first, y[first])
    >>> batch = learner.query(3)                             # one per predicted class
    >>> learner = learner.teach(batch, y[batch])
    >>> int(learner.labeled_mask_.sum())
    6

    With a validation set and a stopping rule, the learner reports when
    labeling has stopped paying off:

    >>> from skaloe.active import PlateauStopping
    >>> learner = ActiveLearner(stopping=PlateauStopping(patience=3), random_state=0)
    >>> learner = learner.fit(X[:150], X_val=X[150:], y_val=y[150:])
    >>> while not learner.should_stop_:
    ...     batch = learner.query(3)
    ...     learner = learner.teach(batch, y[batch])
    >>> print(learner.stopping_hint())  # doctest: +ELLIPSIS
    21 labels; validation accuracy 0.620; validation score has not improved ... you can stop
    """

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "predict_proba"])],
        "query_strategy": [StrOptions(set(get_query_scorer_names())), callable],
        "selection": [StrOptions({"class-aware", "class-agnostic", "one-per-class"})],
        "batch_diversity": [None, StrOptions(set(DIVERSITY_METHODS))],
        "cold_start": [StrOptions({"kmeans", "random"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "tie_break": [StrOptions({"random", "first"})],
        "random_state": ["random_state"],
        "stopping": [None, HasMethods(["describe", "update"]), list, tuple],
        "scoring": [None, StrOptions(set(get_scorer_names())), callable],
    }

    def __init__(
        self,
        estimator=None,
        *,
        query_strategy="margin",
        selection="class-aware",
        batch_diversity=None,
        cold_start="kmeans",
        chunk_size=8192,
        tie_break="random",
        random_state=None,
        stopping=None,
        scoring=None,
    ):
        self.estimator = estimator
        self.query_strategy = query_strategy
        self.selection = selection
        self.batch_diversity = batch_diversity
        self.cold_start = cold_start
        self.chunk_size = chunk_size
        self.tie_break = tie_break
        self.random_state = random_state
        self.stopping = stopping
        self.scoring = scoring

    # -- fitting -----------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, X_val=None, y_val=None):
        """Take the pool and its labels so far, and fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_pool, n_features), or what the estimator takes
            The pool. With a Pipeline that starts with an encoder, e.g. a list
            of file paths; the frozen prefix is run over it once, here.
        y : array-like of shape (n_pool,), default=None
            Labels, ``-1`` for unlabeled samples (use an object array to mix
            ``-1`` with string labels). None means nothing is labeled yet.
        X_val : array-like, default=None
            A labeled validation set, in the same form as ``X`` (never
            queried, never trained on). Each model is scored on it with
            ``scoring``: see ``validation_scores_``. Needed by
            :class:`~skaloe.active.PlateauStopping`.
        y_val : array-like of shape (n_val,), default=None
            The labels of ``X_val``.

        Returns
        -------
        self : ActiveLearner
        """
        stopping_rules = self._check_stopping(X_val is not None)
        template = self.estimator if self.estimator is not None else default_estimator()
        prefix, trainable = split_frozen_prefix(template)
        for attr in ("n_features_in_", "feature_names_in_"):  # none left from a previous fit
            if hasattr(self, attr):
                delattr(self, attr)
        self._prefix, pool = fit_frozen_prefix(prefix, X)
        if prefix:
            first = self._prefix[0][1]
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(first, attr):
                    setattr(self, attr, getattr(first, attr))
        elif not isinstance(template, Pipeline):
            pool = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=None,
                ensure_all_finite=False, ensure_min_samples=1,
            )
        self._allow_nan = get_tags(trainable).input_tags.allow_nan
        check_finite_rows(pool, "the encoded X" if prefix else "X", allow_nan=self._allow_nan)
        self._pool = pool
        # The pool in the form samples are given in (file paths for an encoder
        # Pipeline), when that is not the pool itself: query(return_X=True)
        # returns it, and teach() finds samples in it.
        self._X_fit = X if self._prefix else None
        self._lookup = PoolLookup(X if self._prefix else pool, pool)
        self._cold_order = None  # the cold-start order, computed at the first cold query
        self._semi_supervised = is_transductive(trainable)
        self._trainable = trainable
        self._clusters = None
        n_pool = num_rows(pool)
        if self.batch_diversity is not None and self.selection == "one-per-class":
            raise ValueError(
                f"batch_diversity={self.batch_diversity!r} cannot be combined with "
                "selection='one-per-class', which asks one label per predicted class and "
                "has no batch to diversify; use batch_diversity=None, or "
                "selection='class-aware' for several labels per class."
            )
        if self.batch_diversity is not None and not (
            isinstance(pool, np.ndarray) and pool.ndim == 2 and pool.dtype.kind in "iufb"
        ):
            kind = type(pool).__name__ if not isinstance(pool, np.ndarray) else (
                f"array of dtype {pool.dtype} and shape {pool.shape}"
            )
            raise ValueError(
                f"batch_diversity={self.batch_diversity!r} measures distances between pool "
                f"samples, so it needs a dense numeric 2-D pool; got a {kind}. Put the "
                "encoder in front as a frozen step (the pool becomes its embeddings) or "
                "use batch_diversity=None."
            )

        if y is None:
            y = np.full(n_pool, UNLABELED)
        y = as_label_array(y) if isinstance(y, (list, tuple)) else np.asarray(y)
        y = column_or_1d(y, warn=True)
        if len(y) != n_pool:
            raise ValueError(
                f"X has {n_pool} samples but y has {len(y)}; give one label (or -1) per sample."
            )
        check_no_nan_labels(y)
        unlabeled = unlabeled_mask(y)
        if y.dtype.kind in "iufb" and (~unlabeled).any():
            check_classification_targets(y[~unlabeled])

        self._rng = check_random_state(self.random_state)
        self._scorer = get_query_scorer(self.query_strategy)
        method = getattr(self._scorer, "response_method", None)
        if method is not None and not hasattr(trainable, method):
            raise ValueError(
                f"The query strategy scores {method} outputs, but the classifier "
                f"{type(trainable).__name__} has no {method} method; use a strategy on "
                "'predict_proba' or a classifier that has it."
            )
        self.y_pool_ = np.empty(n_pool, dtype=object)
        self.y_pool_[:] = UNLABELED
        self.y_pool_[~unlabeled] = y[~unlabeled]
        self.labeled_mask_ = ~unlabeled
        self.history_ = [
            {"round": 0, "index": int(i), "label": self.y_pool_[i], "source": "fit"}
            for i in np.flatnonzero(self.labeled_mask_)
        ]
        self.n_rounds_ = 0
        self._extra_X = []
        self._extra_y = []
        self.estimator_ = None
        self._final = None
        self._val = self._prepare_validation(X_val, y_val)
        self._val_scorer = None if self.scoring is None else get_scorer(self.scoring)
        self.validation_score_ = None
        self.validation_scores_ = []
        self.stopping_ = stopping_rules
        self._refit()
        self._monitor()
        return self

    # -- validation and stopping --------------------------------------------

    def _check_stopping(self, has_validation):
        return check_stopping_rules(self.stopping, has_validation=has_validation)

    def _prepare_validation(self, X_val, y_val):
        if X_val is None and y_val is None:
            return None
        if X_val is None or y_val is None:
            raise ValueError("Give both X_val and y_val (a labeled validation set), or neither.")
        Xt = self._as_pool_features(X_val, "X_val")
        y_val = as_label_array(y_val) if isinstance(y_val, (list, tuple)) else np.asarray(y_val)
        y_val = column_or_1d(y_val)
        n_val = num_rows(Xt)
        if len(y_val) != n_val:
            raise ValueError(
                f"X_val has {n_val} samples but y_val has {len(y_val)}; give one label per "
                "validation sample."
            )
        if n_val == 0:
            raise ValueError("The validation set is empty; give at least one sample.")
        check_no_nan_labels(y_val, "y_val")
        unlabeled = unlabeled_mask(y_val)
        if unlabeled.any():
            raise ValueError(
                f"y_val[{int(np.flatnonzero(unlabeled)[0])}] is -1, the marker of unlabeled "
                "samples; every validation sample needs its true label."
            )
        return Xt, y_val

    def _as_pool_features(self, X, name="X"):
        """Samples that are not in the pool, in the form the pool is kept in.

        The frozen prefix (an encoder) is run over them; a plain classifier's
        input is checked against the pool's number of features.
        """
        Xt = transform_frozen(self._prefix, X)
        if not self._prefix and not isinstance(self._trainable, Pipeline):
            Xt = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=None,
                ensure_all_finite=False, reset=False,
            )
        check_finite_rows(Xt, name, allow_nan=self._allow_nan)
        return Xt

    @property
    def n_labels_(self):
        """Number of labels the current model is trained on (pool and added samples)."""
        check_is_fitted(self, msg=_NOT_FITTED)
        return int(self.labeled_mask_.sum()) + len(self._extra_y)

    def _validation_score(self):
        X_val, y_val = self._val
        view = FittedView(self._final, self.classes_)
        if self._val_scorer is None:
            return float(np.mean(view.predict(X_val) == y_val))
        score = self._val_scorer(view, X_val, y_val)
        return float(score.item() if isinstance(score, np.generic) else score)

    def _monitor(self):
        """Score the new model on the validation set and feed the stopping rules."""
        score = None
        if self._val is not None and self._final is not None:
            score = self._validation_score()
            self.validation_scores_.append(
                {"round": self.n_rounds_, "n_labels": self.n_labels_, "score": score}
            )
        self.validation_score_ = score
        for rule in self.stopping_:
            rule.update(self)

    @property
    def should_stop_(self):
        """True when every stopping rule says stop (False without rules)."""
        check_is_fitted(self, msg=_NOT_FITTED)
        return bool(self.stopping_) and all(getattr(r, "stop_", False) for r in self.stopping_)

    def stopping_hint(self):
        """One line for the person labeling: labels so far, score, and advice.

        Returns
        -------
        text : str
            The number of labels, the latest validation score (with a
            validation set) and each stopping rule's
            :meth:`~skaloe.active.PlateauStopping.describe` line.
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        parts = [f"{self.n_labels_} labels"]
        if self.validation_score_ is not None:
            name = self.scoring if isinstance(self.scoring, str) else (
                "accuracy" if self.scoring is None else "score"
            )
            parts.append(f"validation {name} {self.validation_score_:.3f}")
        head = "; ".join(parts)
        if not self.stopping_:
            return head + "; no stopping rule set (pass stopping=... to ActiveLearner)"
        hint = f"{head}; {stopping_hint(self.stopping_)}"
        if len(self.stopping_) == 1:
            return hint
        n_stop = sum(bool(getattr(r, "stop_", False)) for r in self.stopping_)
        verdict = "you can stop" if self.should_stop_ else "keep labeling"
        return f"{hint} ({n_stop} of {len(self.stopping_)} rules say stop: {verdict})"

    def _training_set(self):
        positions = np.flatnonzero(self.labeled_mask_)
        X_train = _safe_indexing(self._pool, positions)
        return _stack([X_train] + self._extra_X) if self._extra_X else X_train

    def _transductive_set(self, y_codes):
        """The whole pool (and added samples) with codes, ``-1`` where unlabeled.

        Without added samples the pool itself is passed, the same object every
        round, so a graph classifier with ``warm_start`` reuses its graph.
        """
        positions = np.flatnonzero(self.labeled_mask_)
        n_extra = len(self._extra_y)
        y_all = np.full(self.n_pool_ + n_extra, UNLABELED, dtype=np.intp)
        y_all[positions] = y_codes[: len(positions)]
        y_all[self.n_pool_:] = y_codes[len(positions):]
        if not self._extra_X:
            return self._pool, y_all
        return _stack([self._pool] + self._extra_X), y_all

    def _refit(self):
        values = list(self.y_pool_[self.labeled_mask_]) + list(self._extra_y)
        classes = classes_in_order(values)
        previous = getattr(self, "classes_", None)
        self._version = getattr(self, "_version", 0) + 1
        self._query_cache = None
        self._cold_cache = None
        if len(classes) < 2:
            self.classes_ = classes
            self.estimator_ = None
            self._final = None
            return
        code = {label: i for i, label in enumerate(classes.tolist())}
        y_codes = np.fromiter((code[v] for v in values), dtype=np.intp, count=len(values))
        if self._semi_supervised:
            X_train, y_codes = self._transductive_set(y_codes)
        else:
            X_train = self._training_set()
        same_classes = previous is not None and np.array_equal(previous, classes)
        last = final_step(self._final)
        if (
            self._final is not None
            and (same_classes or self._semi_supervised)
            and getattr(last, "warm_start", False) is True
        ):
            model = self._final
        else:
            model = clone(self._trainable)
        fit_one_thread(model, X_train, y_codes)
        # classes_ changes only with the model: if fit raises, estimator_ and
        # classes_ stay consistent (the labels are already recorded).
        self.classes_ = classes
        self._adopt_model(model)
        # With a frozen prefix, X is what the prefix takes (e.g. file paths), not
        # the features the classifier sees.
        if (
            not self._prefix
            and not hasattr(self, "n_features_in_")
            and hasattr(model, "n_features_in_")
        ):
            self.n_features_in_ = model.n_features_in_

    def _adopt_model(self, model):
        """Make a fitted trainable part the current model (None: no model yet)."""
        self._final = model
        self.estimator_ = assemble(self._prefix, model)

    # -- labeling ----------------------------------------------------------

    @property
    def n_pool_(self):
        """Number of samples in the pool."""
        return len(self.labeled_mask_)

    def teach(self, indices, labels):
        """Record labels for pool positions or for samples, and refit.

        Parameters
        ----------
        indices : array-like of int, or samples
            What was labeled, either

            - pool positions: 1-D integers, as :meth:`query` returns them
              (whole numbers in a float array are taken as positions too);
            - samples, in the form of the ``X`` given to :meth:`fit`: a 2-D
              array, sparse matrix or DataFrame of feature rows, or for a
              Pipeline that starts with an encoder a list of file paths or
              waveforms (``X_pool[idx]`` in modAL-style code). A sample that
              is in the pool (same content, or the same path for files) is
              labeled at its position; any other sample is added as a labeled
              sample outside the pool, as :meth:`add_labeled` does.
              ``taught_positions_`` and ``history_`` say which was which.

        labels : array-like
            One label per position or sample, of any hashable type; a class
            never seen before may appear. A position labeled before is
            relabeled (with a warning; the earlier label stays in
            ``history_``).

        Returns
        -------
        self : ActiveLearner

        Examples
        --------
        The loop as modAL users write it, with samples:

        >>> import numpy as np
        >>> from sklearn.datasets import make_classification
        >>> from skaloe.active import ActiveLearner
        >>> X, y = make_classification(200, n_classes=3, n_informative=4, random_state=0)
        >>> learner = ActiveLearner(random_state=0).fit(X)
        >>> for _ in range(3):
        ...     idx, X_new = learner.query(6, return_X=True)
        ...     learner = learner.teach(X_new, y[idx])   # the samples a person labeled
        >>> learner.taught_positions_.tolist() == idx.tolist()   # found in the pool
        True
        >>> int(learner.labeled_mask_.sum())
        18
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        positions = self._lookup.as_positions(indices)
        if positions is None:
            return self._teach_samples(indices, labels)
        positions = check_positions(positions, self.n_pool_)
        labels = check_labels(labels, len(positions))
        self.taught_positions_ = positions.copy()
        return self._record(positions, labels)

    def add_labeled(self, X, labels):
        """Add labeled samples that are not part of the pool, and refit.

        They are used for training but never returned by :meth:`query`. To
        label samples that may be rows of the pool, use :meth:`teach`.

        Parameters
        ----------
        X : array-like
            Samples in the same form as the pool given to :meth:`fit` (file
            paths for a Pipeline that starts with an encoder).
        labels : array-like
            One label per sample.

        Returns
        -------
        self : ActiveLearner
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        Xt = self._as_pool_features(X)
        labels = check_labels(labels, num_rows(Xt))
        return self._record(np.empty(0, dtype=np.intp), labels[:0], Xt, labels)

    def _record(self, positions, labels, extra_X=None, extra_labels=()):
        """Record labels of pool positions and of samples outside the pool, then refit once."""
        for i in positions[self.labeled_mask_[positions]]:
            warnings.warn(
                f"Pool position {int(i)} was already labeled {self.y_pool_[i]!r}; it is "
                "relabeled (the earlier label stays in history_).",
                UserWarning,
                stacklevel=3,
            )
        self.n_rounds_ += 1
        # Labels are recorded before refitting, so a failing refit loses none.
        for i, label in zip(positions.tolist(), labels.tolist()):
            self.y_pool_[i] = label
            self.history_.append(
                {"round": self.n_rounds_, "index": i, "label": label, "source": "teach"}
            )
        self.labeled_mask_[positions] = True
        if len(extra_labels):
            self._extra_X.append(extra_X)
            for label in extra_labels.tolist():
                self._extra_y.append(label)
                self.history_.append(
                    {"round": self.n_rounds_, "index": None, "label": label, "source": "add"}
                )
        self._refit()
        self._monitor()
        return self

    def _teach_samples(self, X, labels):
        """teach() with samples: label those found in the pool, add the others."""
        n = num_rows(X)
        labels = check_labels(labels, n)
        found, features = self._lookup.find(X, self._as_pool_features)
        positions = assign_positions(found, self.labeled_mask_)
        in_pool = positions >= 0
        new = np.flatnonzero(~in_pool)
        extra_X = None
        if len(new) and features is not None:  # already through the frozen prefix
            extra_X = _safe_indexing(features, new)
        elif len(new):
            extra_X = self._as_pool_features(_safe_indexing(X, new) if hasattr(X, "shape")
                                             else [X[i] for i in new])
        self.taught_positions_ = positions
        return self._record(positions[in_pool], labels[in_pool], extra_X, labels[new])

    # -- querying ----------------------------------------------------------

    def query(self, n=1, *, return_X=False):
        """Pool positions to label next, most informative first.

        Parameters
        ----------
        n : int, default=1
            Batch size. With ``selection="class-aware"``, ``n`` equal to the
            number of classes asks one label per predicted class (ALOE); with
            ``selection="one-per-class"``, the batch holds at most one
            position per predicted class, so it can be smaller than ``n``.
        return_X : bool, default=False
            Also return those samples, in the form of the ``X`` given to
            :meth:`fit` (file paths for an encoder Pipeline); they can be
            passed back to :meth:`teach` as they are.

        Returns
        -------
        indices : ndarray of int, shape (n_selected,)
            Positions into the ``X`` given to :meth:`fit`. Fewer than ``n``
            when fewer are unlabeled (or, with ``selection="one-per-class"``,
            fewer classes are predicted among them); equal scores in the
            order ``tie_break`` says; empty (with a warning) when the pool is
            exhausted. While fewer than two classes are labeled, the picks
            come from the ``cold_start`` strategy.
        X_query : array-like
            The samples at ``indices``; only with ``return_X=True``.
        """
        indices = self._query(n)
        if not return_X:
            return indices
        X = self._X_fit if self._X_fit is not None else self._pool
        return indices, _safe_indexing(X, indices)

    def _query(self, n):
        check_is_fitted(self, msg=_NOT_FITTED)
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}.")
        candidates = np.flatnonzero(~self.labeled_mask_)
        if not len(candidates):
            warnings.warn(
                "The pool is exhausted: every sample is labeled; query() returns no positions.",
                UserWarning,
                stacklevel=2,
            )
            return np.empty(0, dtype=np.intp)
        if self.estimator_ is None:
            key = (self._version, n)
            if self._cold_cache is None or self._cold_cache[0] != key:
                self._cold_cache = (key, self._cold_start(candidates, n))
            return self._cold_cache[1].copy()
        scores, predicted, tiebreak = self._round_state()
        if self.batch_diversity is not None:
            return self._diverse_batch(scores, predicted, tiebreak, candidates, n)
        if self.selection == "class-aware":
            return select_class_aware(scores, predicted, candidates, n, tiebreak)
        if self.selection == "one-per-class":
            return select_one_per_class(scores, predicted, candidates, n, tiebreak)
        return select_class_agnostic(scores, candidates, n, tiebreak)

    def _diverse_batch(self, scores, predicted, tiebreak, candidates, n):
        """A diverse batch, drawn once per round and size (query() repeats it)."""
        key = (self._version, n)
        cache = getattr(self, "_diverse_cache", None)
        if cache is not None and cache[0] == key:
            return cache[1].copy()
        cluster_labels = None
        if self.batch_diversity == "cluster-margin":
            if self._clusters is None:  # once per pool; labeled samples keep theirs
                self._clusters = fit_pool_clusters(self._pool, random_state=self._rng)
            cluster_labels = self._clusters
        batch = select_diverse(
            self._pool,
            scores, predicted, candidates, n,
            method=self.batch_diversity,
            class_aware=self.selection == "class-aware",
            rng=self._rng,
            tiebreak=tiebreak,
            cluster_labels=cluster_labels,
        )
        self._diverse_cache = (key, batch)
        return batch.copy()

    def _round_state(self):
        """Scores, predicted classes and tie-breaks of this round, computed once."""
        if self._query_cache is None or self._query_cache[0] != self._version:
            distributions = (
                getattr(self._final, "label_distributions_", None)
                if self._semi_supervised else None
            )
            scores, predicted = score_pool(
                self._scorer, self._final, self._pool, chunk_size=self.chunk_size,
                random_state=self._rng, distributions=distributions,
            )
            tiebreak = (
                np.arange(self.n_pool_) if self.tie_break == "first"
                else self._rng.permutation(self.n_pool_)
            )
            self._query_cache = (self._version, (scores, predicted, tiebreak))
        return self._query_cache[1]

    def _cold_start(self, candidates, n):
        if self._cold_order is None and self.cold_start == "kmeans":
            self._cold_order = cold_start_order(self._pool, candidates, n, self._rng)
        return cold_start_picks(self._cold_order, self.labeled_mask_, candidates, n, self._rng)

    def query_scores(self):
        """Informativeness of every pool sample under the current model.

        Returns
        -------
        scores : ndarray of shape (n_pool,)
            Higher = ask first; labeled positions are included (ignore them
            with ``labeled_mask_``). None while fewer than two classes are
            labeled.
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        if self.estimator_ is None:
            return None
        return self._round_state()[0].copy()

    # -- prediction --------------------------------------------------------

    def _check_predictable(self):
        check_is_fitted(self, msg=_NOT_FITTED)
        if len(self.classes_) == 0:
            raise ValueError(
                "No sample is labeled yet, so there is nothing to predict; label some with "
                "query() and teach() first."
            )

    def _delegate(self, method, X, one_class):
        """The model's ``method`` on X; with one class labeled, ``one_class((n, 1))``."""
        self._check_predictable()
        if self.estimator_ is None:
            return one_class((num_rows(X), 1))
        return getattr(self.estimator_, method)(X)

    def predict_pool(self, indices=None):
        """Predicted classes of pool samples, from the features kept at fit.

        Unlike ``predict(X_pool[indices])`` this never runs the frozen
        prefix (the encoder) again.

        Parameters
        ----------
        indices : array-like of int, default=None
            Pool positions; None means the whole pool.

        Returns
        -------
        y : ndarray of shape (n_indices,)
            Labels from ``classes_``; with one class labeled, that class.
        """
        self._check_predictable()
        positions = (
            np.arange(self.n_pool_) if indices is None
            else check_positions(indices, self.n_pool_, unique=False)
        )
        if self._final is None:
            return np.repeat(self.classes_[:1], len(positions))
        codes = self._final.predict(_safe_indexing(self._pool, positions))
        return self.classes_[np.asarray(codes, dtype=np.intp)]

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict classes with the classifier fitted on the labels so far.

        With one class labeled, every sample is predicted as that class.

        Parameters
        ----------
        X : array-like
            Samples in the same form as the pool.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        self._check_predictable()
        if self.estimator_ is None:
            return np.repeat(self.classes_[:1], num_rows(X))
        return self.classes_[np.asarray(self.estimator_.predict(X), dtype=np.intp)]

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like
            Samples in the same form as the pool.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_proba", X, np.ones)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._delegate("predict_log_proba", X, np.zeros)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted classifier (logits for the default).

        Parameters
        ----------
        X : array-like

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        self._check_predictable()
        if self.estimator_ is None:
            raise ValueError(
                "decision_function needs at least two labeled classes; "
                f"only {list(self.classes_)} so far."
            )
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        est = self.estimator if self.estimator is not None else default_estimator()
        inner = get_tags(est)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.string = inner.input_tags.string
        tags.input_tags.two_d_array = inner.input_tags.two_d_array
        return tags
