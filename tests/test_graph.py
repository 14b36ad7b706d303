"""Graph-based semi-supervised learning: GraphClassifier and model_change_scores."""

import pickle
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from ci_support import run_estimator_check
from skaloe.graph import GraphClassifier, knn_graph, model_change_scores


def _blobs(n_per_class=30, n_classes=3, dim=4, seed=0, spread=5.0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(0, spread, (n_classes, dim))
    X = np.concatenate([c + rng.normal(0, 1, (n_per_class, dim)) for c in centers])
    labels = np.repeat(np.arange(n_classes), n_per_class)
    return X, labels


def _partial_labels(labels, per_class=2, seed=0):
    rng = np.random.RandomState(seed)
    y = np.full(len(labels), -1)
    for c in np.unique(labels):
        idx = rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        y[idx] = c
    return y


# -- scikit-learn compatibility ------------------------------------------------

# Each expected failure is a deliberate design choice, documented here as
# (reason, exception, message of the one sub-check that fails); see
# ci_support.run_estimator_check.
EXPECTED_FAILED_CHECKS = {
    # sklearn's check ends by feeding the labels [-1, 1] and expects both as
    # classes; -1 marks unlabeled samples here, as in sklearn.semi_supervised.
    "check_classifiers_classes": (
        "-1 marks unlabeled samples (semi-supervised convention)",
        AssertionError,
        r"(?s)Unexpected classes_ attribute for GraphClassifier.*expected '-1, 1', got '1'",
    ),
}
EXPECTED_FAILED_CHECKS_LAPLACE = {
    **EXPECTED_FAILED_CHECKS,
    # With every sample labeled, Laplace learning has no unknown to solve for:
    # n_iter_ is honestly 0 conjugate-gradient iterations.
    "check_non_transformer_estimators_n_iter": (
        "nothing to solve when all samples are labeled",
        AssertionError, r"(?s)should expose an `n_iter_` attribute.*greater or equal to 1",
    ),
}


# n_neighbors=5: several checks fit on 10 samples, and n_neighbors >= n_samples is
# an error by design (the default n_neighbors=10 also fails check_estimators_nan_inf,
# check_classifiers_one_label and check_fit2d_1feature for that reason alone).
@parametrize_with_checks(
    [
        GraphClassifier(n_neighbors=5),
        GraphClassifier("poisson", n_neighbors=5, kernel="uniform", metric="cosine"),
    ],
)
def test_sklearn_compatible(estimator, check):
    expected = (
        EXPECTED_FAILED_CHECKS_LAPLACE if estimator.method == "laplace" else EXPECTED_FAILED_CHECKS
    )
    run_estimator_check(check, estimator, expected)


# -- the graph -------------------------------------------------------------------


def test_knn_graph_self_tuning_weights():
    X, _ = _blobs(n_per_class=10, dim=3)
    W, _ = knn_graph(X, n_neighbors=4)
    assert sp.issparse(W) and W.shape == (30, 30)
    assert abs(W - W.T).max() == 0
    assert W.diagonal().max() == 0
    # Brute force: w_ij = exp(-4 d_ij^2 / d_4(x_i)^2) over the 4 nearest, then (W + W^T)/2.
    D = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(D, np.inf)
    dense = np.zeros_like(D)
    for i in range(30):
        nbrs = np.argsort(D[i])[:4]
        dense[i, nbrs] = np.exp(-4 * D[i, nbrs] ** 2 / D[i, nbrs[-1]] ** 2)
    np.testing.assert_allclose(W.toarray(), (dense + dense.T) / 2, rtol=1e-6, atol=1e-12)


def test_knn_graph_float32_and_uniform():
    X, _ = _blobs(n_per_class=10)
    W, _ = knn_graph(X.astype(np.float32), 3, kernel="uniform")
    assert set(np.unique(W.data)) <= {0.5, 1.0}
    assert W.dtype == np.float64


# -- Laplace learning --------------------------------------------------------


def test_laplace_matches_dense_solve():
    X, labels = _blobs()
    y = _partial_labels(labels)
    clf = GraphClassifier(n_neighbors=6, tol=1e-10).fit(X, y)
    W = clf.graph_.toarray()
    L = np.diag(W.sum(1)) - W
    lab, unl = y != -1, y == -1
    Y = np.eye(3)[y[lab]]
    u = np.linalg.solve(L[np.ix_(unl, unl)], W[np.ix_(unl, lab)] @ Y)
    assert clf.n_connected_components_ == 3
    np.testing.assert_allclose(clf.label_distributions_[unl], u, atol=1e-7)
    np.testing.assert_array_equal(clf.label_distributions_[lab], Y)
    np.testing.assert_allclose(clf.label_distributions_.sum(1), 1)
    np.testing.assert_array_equal(clf.transduction_, labels)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


def test_unlabeled_component_is_uniform():
    X, labels = _blobs(n_per_class=20)
    y = np.full(60, -1)
    y[0], y[1] = 0, 1  # both in the first blob; blob 3 has no label
    for method in ("laplace", "poisson"):
        clf = GraphClassifier(method, n_neighbors=5).fit(X, y)
        np.testing.assert_allclose(clf.label_distributions_[40:], 0.5)


# -- Poisson learning ----------------------------------------------------------


def test_poisson_symmetric_path_known_answer():
    # Path 0-1-2-3-4 with unit weights (uniform kernel, 1 neighbour each side):
    # labels 0 at node 0 and 1 at node 4. Source b = (+1/2, -1/2) at node 0 and
    # (-1/2, +1/2) at node 4; L u = b with sum_i d_i u_i = 0 gives, for class 0,
    # u = (1, 1/2, 0, -1/2, -1) (linear, antisymmetric), class 1 the opposite.
    X = np.arange(5.0)[:, None] ** 1.0001  # distinct gaps: no ties in the search
    clf = GraphClassifier("poisson", n_neighbors=1, kernel="uniform", tol=1e-12)
    clf.fit(X, np.array([0, -1, -1, -1, 1]))
    W = clf.graph_.toarray()
    np.testing.assert_allclose(W, np.diag([1, 0.5, 0.5, 0.5], 1) + np.diag([1, 0.5, 0.5, 0.5], -1))
    # Weights 1, .5, .5, .5: the flux 1/2 crosses every edge, so each drop is
    # (1/2)/w: 1/2, 1, 1, 1; fixed by sum_i d_i u_i = 0 with d = (1, 1.5, 1, 1, .5).
    drops = np.cumsum([0, 0.5, 1, 1, 1])
    d = np.array([1, 1.5, 1, 1, 0.5])
    u0 = -drops + (d @ drops) / d.sum()
    np.testing.assert_allclose(clf._scores[:, 0], u0, atol=1e-9)
    np.testing.assert_allclose(clf._scores[:, 1], -u0, atol=1e-9)
    # Probabilities: p = 1/2 + u / (2 m), m = -min u (see the class Notes).
    m = -min(u0.min(), (-u0).min())
    expected = 0.5 + u0 / (2 * m)
    np.testing.assert_allclose(clf.label_distributions_[1:4, 0], expected[1:4], atol=1e-9)
    np.testing.assert_array_equal(clf.label_distributions_[[0, 4]], [[1, 0], [0, 1]])


def test_poisson_matches_pseudo_inverse():
    X, labels = _blobs(n_per_class=25, spread=1.5)  # overlapping: one connected graph
    y = _partial_labels(labels, per_class=1)
    clf = GraphClassifier("poisson", n_neighbors=15, tol=1e-11).fit(X, y)
    assert clf.n_connected_components_ == 1
    W = clf.graph_.toarray()
    d = W.sum(1)
    L = np.diag(d) - W
    lab = np.flatnonzero(y != -1)
    onehot = np.eye(3)[y[lab]]
    b = np.zeros((len(y), 3))
    b[lab] = onehot - onehot.mean(0)
    u = np.linalg.pinv(L) @ b
    u -= (d @ u) / d.sum()  # the degree-weighted mean-zero solution
    np.testing.assert_allclose(clf._scores, u, atol=1e-7)
    np.testing.assert_allclose(clf._scores.sum(1), 0, atol=1e-9)
    p = clf.label_distributions_
    assert p.min() >= 0 and np.allclose(p.sum(1), 1)
    unl = y == -1
    np.testing.assert_array_equal(p[unl].argmax(1), u[unl].argmax(1))


def test_string_labels_and_object_marker():
    X, labels = _blobs(n_per_class=10)
    names = np.array(["a", "b", "c"], dtype=object)[labels]
    y = names.copy()
    y[_partial_labels(labels) == -1] = -1
    clf = GraphClassifier(n_neighbors=4).fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(clf.transduction_, names)


# -- one graph per pool ---------------------------------------------------------


@pytest.fixture
def graph_builds(monkeypatch):
    """The k-NN graphs built from now on (their shapes), with no graph held before."""
    from skaloe.graph import _classifier

    monkeypatch.setattr(_classifier, "_GRAPHS", weakref.WeakValueDictionary())
    builds = []

    def counting_knn_graph(X, *args, **kwargs):
        builds.append(X.shape)
        return knn_graph(X, *args, **kwargs)

    monkeypatch.setattr(_classifier, "knn_graph", counting_knn_graph)
    return builds


def _fit_alone(estimator, X, y, monkeypatch):
    """Fit with no graph to share: its graph is built for this fit."""
    from skaloe.graph import _classifier

    with monkeypatch.context() as patch:
        patch.setattr(_classifier, "_GRAPHS", weakref.WeakValueDictionary())
        return estimator.fit(X, y)


@pytest.mark.parametrize("method", ["laplace", "poisson"])
def test_graph_is_built_once_per_pool_content(method, graph_builds, monkeypatch):
    X, labels = _blobs(n_per_class=40, spread=1.5)
    y = _partial_labels(labels, per_class=1)
    first = GraphClassifier(method, n_neighbors=8).fit(X, y)
    y2 = y.copy()
    y2[[5, 50, 100]] = labels[[5, 50, 100]]
    # A fresh clone each round (as ActiveLearner makes them), an equal copy of
    # the pool, the other method: one graph, parameters untouched.
    again = clone(first).fit(X, y2)
    on_copy = GraphClassifier(method, n_neighbors=8).fit(X.copy(), y2)
    other = GraphClassifier("poisson" if method == "laplace" else "laplace", n_neighbors=8)
    other.fit(X, y2)
    assert graph_builds == [X.shape]
    assert again.graph_ is first.graph_ and on_copy.graph_ is first.graph_
    assert other.graph_ is first.graph_ and not again.warm_start
    # The same results as a classifier that builds its own graph.
    alone = _fit_alone(GraphClassifier(method, n_neighbors=8), X, y2, monkeypatch)
    assert len(graph_builds) == 2 and alone.graph_ is not first.graph_
    assert (alone.graph_ != first.graph_).nnz == 0
    for fitted in (again, on_copy):
        np.testing.assert_array_equal(fitted.label_distributions_, alone.label_distributions_)
        assert fitted.n_iter_ == alone.n_iter_
    # Other graph parameters or another dtype: another graph.
    clone(first).set_params(n_neighbors=9).fit(X, y2)
    clone(first).set_params(kernel="uniform").fit(X, y2)
    clone(first).fit(X.astype(np.float32), y2)
    assert len(graph_builds) == 5


def test_graph_rebuilt_after_an_in_place_change(graph_builds, monkeypatch):
    from skaloe.active._matching import fingerprints

    X, labels = _blobs(n_per_class=20)
    y = _partial_labels(labels)
    clf = GraphClassifier(n_neighbors=5).fit(X, y)
    before = fingerprints(X)
    # Two sign flips in a row: a change that 64-bit row fingerprints miss.
    X[7, [1, 3]] *= -1
    assert np.array_equal(fingerprints(X), before)
    changed = clone(clf).fit(X, y)
    assert len(graph_builds) == 2 and changed.graph_ is not clf.graph_
    alone = _fit_alone(GraphClassifier(n_neighbors=5), X, y, monkeypatch)
    np.testing.assert_array_equal(changed.label_distributions_, alone.label_distributions_)
    assert (changed.graph_ != alone.graph_).nnz == 0


def test_a_shared_graph_reads_each_classifiers_own_array(graph_builds):
    X, labels = _blobs(n_per_class=20)
    y = _partial_labels(labels)
    a = GraphClassifier(n_neighbors=5).fit(X, y)
    X_b = X.copy()
    b = GraphClassifier(n_neighbors=5).fit(X_b, y)
    assert b.graph_ is a.graph_ and len(graph_builds) == 1
    X_new = X[:6] + np.random.RandomState(0).normal(0, 0.5, (6, X.shape[1]))
    expected = b.predict_proba(X_new)
    X[:] = 0.0  # a's array changes (a is now stale); b's is another array
    np.testing.assert_array_equal(b.predict_proba(X_new), expected)
    np.testing.assert_array_equal(b.predict_proba(X_b), b.label_distributions_)


@pytest.mark.parametrize("method", ["laplace", "poisson"])
def test_warm_start_starts_from_the_previous_solution(method):
    X, labels = _blobs(n_per_class=40, spread=1.5)
    y = _partial_labels(labels, per_class=1)
    warm = GraphClassifier(method, n_neighbors=8, tol=1e-10, warm_start=True).fit(X, y)
    y2 = y.copy()
    y2[[5, 50, 100]] = labels[[5, 50, 100]]
    warm.fit(X, y2)
    cold = GraphClassifier(method, n_neighbors=8, tol=1e-10).fit(X, y2)
    assert warm.graph_ is cold.graph_
    np.testing.assert_allclose(warm.label_distributions_, cold.label_distributions_, atol=1e-7)
    # Refitted on the same labels, it starts at the solution.
    assert warm.fit(X, y2).n_iter_ <= 1 and cold.n_iter_ > 10
    assert clone(warm).set_params(warm_start=False).fit(X, y2).n_iter_ == cold.n_iter_


def test_warm_start_new_class_appears():
    X, labels = _blobs(n_per_class=20)
    y = np.full(60, -1)
    y[[0, 20]] = [0, 1]
    clf = GraphClassifier(n_neighbors=5, warm_start=True, tol=1e-10).fit(X, y)
    y[40] = 2
    clf.fit(X, y)
    cold = GraphClassifier(n_neighbors=5, tol=1e-10).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_allclose(clf.label_distributions_, cold.label_distributions_, atol=1e-7)


# -- prediction ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["laplace", "poisson"])
def test_predict_proba_new_points_is_neighbour_average(method):
    X, labels = _blobs()
    y = _partial_labels(labels)
    clf = GraphClassifier(method, n_neighbors=6).fit(X, y)
    rng = np.random.RandomState(1)
    X_new = X[:10] + rng.normal(0, 0.3, (10, X.shape[1]))
    proba = clf.predict_proba(X_new)
    D = np.linalg.norm(X_new[:, None] - X[None], axis=2)
    for i in range(10):
        nbrs = np.argsort(D[i])[:6]
        w = np.exp(-4 * D[i, nbrs] ** 2 / D[i, nbrs[-1]] ** 2)
        np.testing.assert_allclose(proba[i], w @ clf.label_distributions_[nbrs] / w.sum())
    np.testing.assert_array_equal(clf.predict(X_new), clf.classes_[proba.argmax(1)])
    # The pool itself, or a copy of pool rows, gets the pool's distributions.
    np.testing.assert_array_equal(clf.predict_proba(X), clf.label_distributions_)
    assert clf.predict_proba(X) is not clf.label_distributions_
    np.testing.assert_array_equal(clf.predict(X), clf.transduction_)


def _no_neighbour_search(clf, monkeypatch):
    def kneighbors(*args, **kwargs):
        raise AssertionError("a neighbour search ran for pool rows")

    monkeypatch.setattr(clf._graph.nn, "kneighbors", kneighbors)


def test_pool_rows_are_found_by_content_in_any_array(monkeypatch):
    X, labels = _blobs()
    y = _partial_labels(labels)
    clf = GraphClassifier("poisson", n_neighbors=6).fit(X, y)
    X_new = X[:3] + np.random.RandomState(1).normal(0, 0.3, (3, X.shape[1]))
    new_proba = clf.predict_proba(X_new)
    _no_neighbour_search(clf, monkeypatch)
    D = clf.label_distributions_
    picked = np.random.RandomState(0).permutation(len(X))[:25]
    for rows, positions in [
        (X, slice(None)),
        (X.copy(), slice(None)),
        (X[10:20], slice(10, 20)),             # a chunk of a scoring loop
        (X[10:20].copy(), slice(10, 20)),
        (X[::2], slice(None, None, 2)),
        (X[picked].copy(), picked),            # a copy of some pool rows
        (np.asfortranarray(X[picked]), picked),
    ]:
        np.testing.assert_array_equal(clf.predict_proba(rows), D[positions])
        np.testing.assert_array_equal(clf.predict(rows), clf.transduction_[positions])
    # Pool rows and new points together: only the new points are searched.
    monkeypatch.undo()
    mixed = np.vstack([X[[4, 70]], X_new])
    calls = []
    search = clf._graph.nn.kneighbors
    monkeypatch.setattr(
        clf._graph.nn, "kneighbors", lambda Z, **kw: calls.append(len(Z)) or search(Z, **kw)
    )
    proba = clf.predict_proba(mixed)
    assert calls == [3]
    np.testing.assert_array_equal(proba[:2], D[[4, 70]])
    np.testing.assert_allclose(proba[2:], new_proba)


def test_duplicated_pool_rows_keep_their_own_distributions():
    X, labels = _blobs(n_per_class=20)
    X[50] = X[5]  # the same clip twice, labeled differently by two annotators
    y = _partial_labels(labels)
    y[5], y[50] = 0, 2
    clf = GraphClassifier(n_neighbors=5).fit(X, y)
    D = clf.label_distributions_
    assert not np.array_equal(D[5], D[50])
    np.testing.assert_array_equal(clf.predict_proba(X.copy()), D)
    np.testing.assert_array_equal(clf.predict_proba(X[40:60].copy()), D[40:60])
    # Alone, a row the pool holds twice gets its first place.
    np.testing.assert_array_equal(clf.predict_proba(X[[50]]), D[[5]])


def test_new_clips_in_the_fitted_input_buffer_are_not_taken_for_the_pool():
    # The classifier keeps a float64 copy of a float16 pool; the caller then
    # writes other clips into its own buffer. Same object, new content: they
    # are read by content, not as the pool's first rows.
    X, labels = _blobs()
    buffer = X.astype(np.float16)
    y = _partial_labels(labels)
    clf = GraphClassifier(n_neighbors=6).fit(buffer, y)
    D = clf.label_distributions_
    assert clf.transduction_[0] != clf.transduction_[-1]
    buffer[:10] = buffer[-10:]
    np.testing.assert_array_equal(clf.predict_proba(buffer), np.vstack([D[-10:], D[10:]]))
    buffer[:10] += np.float16(0.25)  # not pool rows any more
    expected = clf.predict_proba(buffer[:10].copy())
    np.testing.assert_array_equal(clf.predict_proba(buffer)[:10], expected)
    assert not np.array_equal(expected, D[:10]) and not np.array_equal(expected, D[-10:])


def test_reproducible_and_picklable():
    X, labels = _blobs(n_per_class=30)
    y = _partial_labels(labels)
    a = GraphClassifier("poisson", n_neighbors=6, random_state=0).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.label_distributions_, b.label_distributions_)
    np.testing.assert_array_equal(
        model_change_scores(a, X, n_eigenvectors=8), model_change_scores(b, X, n_eigenvectors=8)
    )
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.predict_proba(X[:5]), a.predict_proba(X[:5]))


# -- model change ----------------------------------------------------------------


def _brute_force_model_change(W, y, proba, n_eig, gamma):
    """GraphLearning's recipe step by step: dense eigh, rank-one updates, a loop per node."""
    d = W.sum(1)
    L_sym = np.eye(len(d)) - W / np.sqrt(np.outer(d, d))
    lam, V = np.linalg.eigh(L_sym)
    lam, V = lam[:n_eig], V[:, :n_eig]
    C = np.diag(1.0 / (np.clip(lam, 0, None) + 1e-11))
    for k in np.flatnonzero(y != -1):
        Cv = C @ V[k]
        C = C - np.outer(Cv, Cv) / (gamma**2 + V[k] @ Cv)
    scores = []
    for k in range(len(d)):
        top = np.sort(proba[k])[::-1]
        Cv = C @ V[k]
        scores.append((1 - (top[0] - top[1])) * np.linalg.norm(Cv) / (gamma**2 + V[k] @ Cv))
    return np.array(scores)


@pytest.mark.parametrize("method", ["laplace", "poisson"])
def test_model_change_matches_brute_force(method):
    X, labels = _blobs(n_per_class=15, spread=1.5)
    y = _partial_labels(labels, per_class=1)
    clf = GraphClassifier(method, n_neighbors=6).fit(X, y)
    n_eig = 12
    lam = np.linalg.eigvalsh(
        np.eye(45) - clf.graph_.toarray() / np.sqrt(np.outer(clf.graph_.sum(1), clf.graph_.sum(1)))
    )
    assert lam[n_eig] - lam[n_eig - 1] > 1e-6  # the truncation does not split an eigenspace
    scores = model_change_scores(clf, X, n_eigenvectors=n_eig, gamma=0.1)
    expected = _brute_force_model_change(
        clf.graph_.toarray(), y, clf.label_distributions_, n_eig, 0.1
    )
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-9)
    assert np.all(scores[y != -1] == 0)
    assert scores.shape == (45,)


def test_model_change_sparse_eigensolver_matches_dense(monkeypatch):
    X, labels = _blobs(n_per_class=200, dim=3, spread=1.5)
    y = _partial_labels(labels, per_class=2)
    clf = GraphClassifier(n_neighbors=8, random_state=0).fit(X, y)
    scores = model_change_scores(clf, X, n_eigenvectors=5)  # 600 nodes: eigsh
    lam, _ = clf._graph.spectra[5, 0]  # cached with the graph, per seed
    W = clf.graph_.toarray()
    d = W.sum(1)
    dense = np.linalg.eigvalsh(np.eye(600) - W / np.sqrt(np.outer(d, d)))[:5]
    np.testing.assert_allclose(lam, np.clip(dense, 0, None), atol=1e-4)  # eigsh tol=1e-3
    assert np.all(np.isfinite(scores)) and scores.max() > 0
    assert model_change_scores(clf, X, n_eigenvectors=5) is not scores
    assert model_change_scores(clf, X[:4].copy(), n_eigenvectors=5).shape == (4,)
    # Another seed on the same (shared) graph gets its own eigenvectors: the
    # scores a classifier with that seed gets when it builds the graph alone.
    other = GraphClassifier(n_neighbors=8, random_state=1).fit(X, y)
    assert other.graph_ is clf.graph_
    seeded = model_change_scores(other, X, n_eigenvectors=5)
    alone = _fit_alone(GraphClassifier(n_neighbors=8, random_state=1), X, y, monkeypatch)
    np.testing.assert_array_equal(seeded, model_change_scores(alone, X, n_eigenvectors=5))
    assert not np.array_equal(seeded, scores)
    np.testing.assert_array_equal(model_change_scores(clf, X, n_eigenvectors=5), scores)
    # A RandomState is read through a copy: the same scores on every call.
    rs = GraphClassifier(n_neighbors=8, random_state=np.random.RandomState(1)).fit(X, y)
    np.testing.assert_array_equal(model_change_scores(rs, X, n_eigenvectors=5), seeded)
    np.testing.assert_array_equal(model_change_scores(rs, X, n_eigenvectors=5), seeded)


def test_model_change_on_a_pipeline_finds_the_transformed_pool(monkeypatch):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, labels = _blobs(n_per_class=15)
    y = _partial_labels(labels)
    pipe = make_pipeline(StandardScaler(), GraphClassifier(n_neighbors=5)).fit(X, y)
    clf = pipe[-1]
    expected = model_change_scores(clf, pipe[0].transform(X), n_eigenvectors=8)
    # The transform makes a new array each call: its rows are still pool rows.
    _no_neighbour_search(clf, monkeypatch)
    np.testing.assert_array_equal(model_change_scores(pipe, X, n_eigenvectors=8), expected)


def test_model_change_errors():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, labels = _blobs(n_per_class=10)
    y = _partial_labels(labels)
    for estimator, got in [
        (LogisticRegression().fit(X, labels), r"got LogisticRegression\(\)"),
        (make_pipeline(StandardScaler(), LogisticRegression()).fit(X, labels),
         r"got a Pipeline ending in LogisticRegression\(\)"),
    ]:
        with pytest.raises(ValueError, match=got + r".*estimator=skaloe.graph.GraphClassifier"):
            model_change_scores(estimator, X)
    with pytest.raises(NotFittedError):
        model_change_scores(GraphClassifier(), X)
    clf = GraphClassifier(n_neighbors=4).fit(X, y)
    with pytest.raises(ValueError, match="n_eigenvectors"):
        model_change_scores(clf, X, n_eigenvectors=0)
    with pytest.raises(ValueError, match="gamma"):
        model_change_scores(clf, X, gamma=0.0)


# -- errors --------------------------------------------------------------------


def test_errors_name_the_offending_value():
    X, labels = _blobs(n_per_class=3)
    y = _partial_labels(labels, per_class=1)
    with pytest.raises(ValueError, match="n_neighbors=9 must be smaller than n_samples=9"):
        GraphClassifier(n_neighbors=9).fit(X, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples|has 9 samples"):
        GraphClassifier(n_neighbors=2).fit(X, y[:-1])
    with pytest.raises(ValueError, match="no labeled sample: all 9 entries are -1"):
        GraphClassifier(n_neighbors=2).fit(X, np.full(9, -1))
    with pytest.raises(ValueError, match="method"):
        GraphClassifier("spectral").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        GraphClassifier(n_neighbors=2).fit(X, np.linspace(0, 1, 9))
    with pytest.raises(ValueError, match="2 features"):
        GraphClassifier(n_neighbors=2).fit(X, y).predict(X[:, :2])


def test_convergence_warning():
    from sklearn.exceptions import ConvergenceWarning

    X, labels = _blobs()
    y = _partial_labels(labels)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        GraphClassifier(n_neighbors=6, max_iter=1, tol=1e-12).fit(X, y)


def test_poisson_component_with_labels_of_one_class_takes_that_class():
    # Two far-apart groups, each labeled with a single class, and a third
    # group with two classes: Poisson learning proper runs only in the third.
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(c, 0.2, (15, 2)) for c in (0.0, 50.0, 100.0)])
    y = np.full(45, -1)
    y[0], y[1] = 2, 2          # group 1: class 2 only
    y[15] = 0                  # group 2: class 0 only
    y[30], y[31] = 0, 1        # group 3: both
    clf = GraphClassifier("poisson", n_neighbors=5).fit(X, y)
    assert clf.n_connected_components_ == 3
    np.testing.assert_array_equal(clf.transduction_[:15], 2)
    np.testing.assert_array_equal(clf.transduction_[15:30], 0)
    np.testing.assert_allclose(clf.label_distributions_[:15, 2], 1.0)
    third = clf.label_distributions_[32:]
    assert (third.max(axis=1) < 1.0).all()  # the mixed group keeps Poisson scores
    assert set(clf.transduction_[30:]) <= {0, 1}
