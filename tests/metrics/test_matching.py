"""Sparse candidate matching (sparsecomp.metrics.matching) against the dense Hungarian path."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_array

from sparsecomp import metrics
from sparsecomp.metrics import correlation, dictionary, matching


def _sparse_latents(rng, n_samples, num_latents, p_active=0.1):
    values = rng.uniform(0.0, 1.0, (n_samples, num_latents))
    return (values * (rng.random((n_samples, num_latents)) < p_active)).astype(np.float32)


def _codes(kind, rng, z):
    """Codes of a given quality for ground truth z: [N, n] -> [N, width]."""
    n_samples, n = z.shape
    perm = rng.permutation(n)
    noise = rng.standard_normal((n_samples, n)).astype(np.float32)
    if kind == "permuted_rescaled":
        return z[:, perm] * rng.uniform(0.2, 5.0, n).astype(np.float32) - 1.0
    if kind == "noisy":
        return z[:, perm] + 0.5 * noise
    if kind == "random":
        return noise
    if kind == "partial":  # 60% of the latents recovered with noise, the rest random
        out = noise.copy()
        out[:, : int(0.6 * n)] += 3.0 * z[:, perm[: int(0.6 * n)]]
        return out
    raise ValueError(kind)


def _assert_same_matching(dense, sparse, *, pairs=True):
    np.testing.assert_allclose(sparse.mcc, dense.mcc, rtol=0, atol=1e-6)
    if pairs:
        np.testing.assert_array_equal(sparse.true_index, dense.true_index)
        np.testing.assert_array_equal(sparse.code_index, dense.code_index)


# ----------------------------------------------------------------- latent MCC


@pytest.mark.parametrize(
    "kind, n, ood",
    [
        ("permuted_rescaled", 2000, False),
        ("noisy", 1000, False),
        ("noisy", 1000, True),
        ("random", 600, False),
        ("partial", 800, False),
        ("partial", 800, True),
    ],
)
def test_sparse_latent_matching_equals_hungarian(kind, n, ood):
    rng = np.random.default_rng(n)
    z = _sparse_latents(rng, 400, n)
    codes = _codes(kind, rng, z)
    dense = metrics.latent_matching(z, codes, ood=ood, exact=True)
    sparse = metrics.latent_matching(z, codes, ood=ood, exact=False)
    # Noise-level pairs of random codes may tie to float precision: compare values only.
    _assert_same_matching(dense, sparse, pairs=kind in ("permuted_rescaled", "noisy"))
    if kind == "permuted_rescaled":
        np.testing.assert_allclose(sparse.mcc, 1.0, atol=1e-5)


def test_sparse_mcc_codes_narrower_uses_the_dense_paths_noise_padding():
    rng = np.random.default_rng(1)
    z = _sparse_latents(rng, 400, 700)
    z[:, :40] = 0.0  # never active: dropped
    codes = _codes("noisy", rng, z)[:, :400]  # 400 codes for 660 kept latents
    for ood in (False, True):
        dense = metrics.latent_matching(z, codes, ood=ood, pad_seed=3, exact=True)
        sparse = metrics.latent_matching(z, codes, ood=ood, pad_seed=3, exact=False)
        _assert_same_matching(dense, sparse, pairs=False)
        assert sparse.true_index.size == sparse.code_index.size <= 400
        assert np.unique(sparse.code_index).size == sparse.code_index.size


def test_sparse_mcc_codes_wider_is_the_rectangular_optimum():
    """The padded ground-truth rows are not materialised: the sparse MCC is the
    rectangular optimum over the kept latents, at least the dense (padded) one."""
    rng = np.random.default_rng(2)
    z = _sparse_latents(rng, 400, 700)
    z[:, 600:] = 0.0
    codes = np.concatenate([_codes("noisy", rng, z), rng.standard_normal((400, 300))], axis=1)
    sparse = metrics.latent_matching(z, codes, ood=False, exact=False)
    corr = np.asarray(correlation._abs_correlation(jnp.asarray(z[:, :600]), jnp.asarray(codes)))
    rows, cols = linear_sum_assignment(corr, maximize=True)
    np.testing.assert_allclose(sparse.mcc, corr[rows, cols].mean(), atol=1e-6)
    np.testing.assert_array_equal(sparse.true_index, rows)
    np.testing.assert_array_equal(sparse.code_index, cols)
    dense = metrics.latent_matching(z, codes, ood=False, exact=True)
    assert dense.mcc - 1e-6 <= sparse.mcc <= dense.mcc + 0.01


def _sparse_codes(rng, z, width, p_noise=0.02):
    """Sparse non-negative codes: 80% of z's entries kept (permuted, rescaled)
    in the first columns, sparse noise everywhere: [N, n] -> [N, width]."""
    n_samples, n = z.shape
    codes = rng.uniform(0, 1, (n_samples, width)) * (rng.random((n_samples, width)) < p_noise)
    codes[:, :n] += 2.0 * z[:, rng.permutation(n)] * (rng.random((n_samples, n)) < 0.8)
    return codes.astype(np.float32)


def _assert_cooccurrence_candidates_are_the_blocked_ones(z, codes, k):
    """``correlation_candidates`` equals ``_candidates`` on unit columns; returns its columns."""
    values, index = matching.correlation_candidates(z, codes, k)
    unit = correlation._unit_centred_columns
    want_values, want_index = matching._candidates(
        unit(jnp.asarray(z)), unit(jnp.asarray(codes)), k, matching.BLOCK_BYTES)
    np.testing.assert_allclose(np.sort(values, axis=1), np.sort(want_values, axis=1), atol=1e-5)
    np.testing.assert_array_equal(np.sort(index, axis=1), np.sort(want_index, axis=1))
    return index


def test_correlation_candidates_equal_the_blocked_products():
    rng = np.random.default_rng(4)
    z = _sparse_latents(rng, 400, 300, p_active=0.03)
    z = z[:, z.std(axis=0) > 0]
    codes = _sparse_codes(rng, z, 900)
    index = _assert_cooccurrence_candidates_are_the_blocked_ones(z, codes, 16)
    assert all(np.unique(row).size == 16 for row in index)


def test_correlation_candidates_of_a_latent_that_shares_almost_every_column():
    """Latent 0 of the study is active in most samples, so it co-occurs with
    nearly every code column, so its unshared candidates lie deep in the
    global list (the old dense mask of them was as large as the correlation
    matrix: 17 GB at n = 100,000)."""
    rng = np.random.default_rng(6)
    z = _sparse_latents(rng, 300, 200, p_active=0.03)
    z[:, 0] = rng.uniform(0.5, 1.0, 300)  # active in every sample
    z[:, 1] = np.where(np.arange(300) < 297, rng.uniform(0.5, 1.0, 300), 0.0)
    z = z[:, z.std(axis=0) > 0]
    codes = _sparse_codes(rng, z, 600, p_noise=0.02)
    shared = (z[:, :2].T != 0).astype(int) @ (codes != 0).astype(int)
    assert (shared[0] > 0).mean() > 0.95 and (shared[1] > 0).mean() > 0.9
    _assert_cooccurrence_candidates_are_the_blocked_ones(z, codes, 16)


def test_unshared_places_against_a_direct_scan():
    rng = np.random.default_rng(7)
    q, k = 40, 5
    mask = rng.random((6, q)) < np.array([0.0, 0.3, 0.9, 1.0, 0.5, 0.97])[:, None]
    mask[5, :] = True
    mask[5, [3, 30]] = False  # two unshared columns left: three places missing
    order = rng.permutation(q)
    places = matching._unshared_places(csr_array(mask.astype(np.float32)), order, k)
    for row in range(mask.shape[0]):
        free = [place for place in range(q) if not mask[row, order[place]]][:k]
        np.testing.assert_array_equal(places[row], free + [q] * (k - len(free)))


@pytest.mark.parametrize("ood", [False, True])
def test_sparse_mcc_of_sparse_codes_uses_cooccurrences_with_the_same_result(ood, monkeypatch):
    """Sparse latents and codes take their candidates from co-occurrences; the
    matching is that of the blocked candidates (the same candidates), and the
    MCC is within the sparse path's documented distance of the Hungarian one."""
    calls = []
    original = matching.correlation_candidates
    monkeypatch.setattr(matching, "correlation_candidates",
                        lambda *a, **kw: calls.append(1) or original(*a, **kw))
    rng = np.random.default_rng(5)
    z = _sparse_latents(rng, 600, 1000, p_active=0.02)
    codes = _sparse_codes(rng, z, 1500)
    cooccurrence = metrics.latent_matching(z, codes, ood=ood, exact=False)
    assert calls == [1]
    monkeypatch.setattr(correlation, "SPARSE_DENSITY", 0.0)
    blocked = metrics.latent_matching(z, codes, ood=ood, exact=False)
    assert calls == [1]
    _assert_same_matching(blocked, cooccurrence)
    dense = metrics.latent_matching(z, codes, ood=ood, exact=True)
    np.testing.assert_allclose(cooccurrence.mcc, dense.mcc, atol=5e-5)


def test_sparse_mcc_with_mostly_dead_codes_still_matches_every_latent():
    """Thousands of constant code columns tie at correlation 0: every latent's
    candidates beyond the live columns are the same few dead ones, so the
    candidates admit no full matching and the fallback has to finish it."""
    rng = np.random.default_rng(3)
    z = _sparse_latents(rng, 300, 400)
    codes = np.concatenate([z[:, :30] * 2.0, np.full((300, 700), 0.7, np.float32)], axis=1)
    dense = metrics.latent_matching(z, codes, ood=False, exact=True)
    sparse = metrics.latent_matching(z, codes, ood=False, exact=False, candidates=8)
    np.testing.assert_allclose(sparse.mcc, dense.mcc, atol=1e-6)
    np.testing.assert_allclose(sparse.mcc, 30 / 400, atol=1e-6)
    np.testing.assert_array_equal(sparse.true_index, np.arange(400))
    assert np.unique(sparse.code_index).size == 400
    np.testing.assert_array_equal(sparse.code_index[:30], np.arange(30))


# ----------------------------------------------------------------- dictionary


def _live_pairs(match, first_live=5):
    return {
        (t, w)
        for t, w in zip(match.true_index, match.learned_index, strict=True)
        if w >= first_live
    }


def _unit_gaussian(rng, m, n):
    d = rng.standard_normal((m, n)).astype(np.float32)
    return d / np.linalg.norm(d, axis=0)


@pytest.mark.parametrize(
    "kind, width",
    [("close", 1500), ("random", 1500), ("random", 2100), ("close_narrow", 600), ("random", 600)],
)
def test_sparse_dictionary_match_equals_hungarian(kind, width):
    rng = np.random.default_rng(width)
    m, n = 139, 1500
    true = _unit_gaussian(rng, m, n)
    if kind.startswith("close"):
        perm = rng.permutation(n)[:width]
        learned = true[:, perm] * rng.uniform(0.5, 2.0, width).astype(np.float32)
        learned += 0.03 * rng.standard_normal((m, width)).astype(np.float32)
        learned[:, :5] = 0.0  # dead atoms
    else:
        learned = rng.standard_normal((m, width)).astype(np.float32)
    dense = metrics.dictionary_match(true, learned, exact=True)
    sparse = metrics.dictionary_match(true, learned, exact=False)
    np.testing.assert_allclose(sparse.mean_cosine, dense.mean_cosine, rtol=0, atol=1e-6)
    assert sparse.true_index.size == sparse.learned_index.size == min(n, width)
    assert np.all(np.diff(sparse.true_index) > 0)
    assert np.unique(sparse.learned_index).size == sparse.learned_index.size
    if kind.startswith("close"):
        np.testing.assert_allclose(sparse[:4], dense[:4], rtol=1e-6)
        # The dead atoms tie at cosine 0 with every true atom: compare the live pairs.
        assert _live_pairs(sparse) == _live_pairs(dense)


# ----------------------------------------------------------------- dispatch, memory


def test_automatic_dispatch_by_width_and_nothing_dense_on_the_sparse_path(monkeypatch):
    rng = np.random.default_rng(4)
    z = _sparse_latents(rng, 200, 300)
    codes = _codes("noisy", rng, z)
    true = _unit_gaussian(rng, 20, 300)
    expected = (metrics.latent_mcc(z, codes, ood=False), metrics.dictionary_match(true, true))

    def forbidden(*args, **kwargs):
        raise AssertionError("dense path used")

    monkeypatch.setattr(matching, "EXACT_MAX_WIDTH", 299)
    for module, name in ((correlation, "linear_sum_assignment"), (correlation, "_abs_correlation"),
                         (dictionary, "linear_sum_assignment"), (dictionary, "_abs_cosine")):
        monkeypatch.setattr(module, name, forbidden)
    np.testing.assert_allclose(metrics.latent_mcc(z, codes, ood=False), expected[0], atol=1e-6)
    np.testing.assert_allclose(metrics.dictionary_match(true, true)[:4], expected[1][:4], atol=1e-6)
    with pytest.raises(AssertionError, match="dense path"):
        metrics.latent_mcc(z, codes, ood=False, exact=True)
    monkeypatch.setattr(metrics.matching, "max_abs_dot_matching", forbidden)
    monkeypatch.setattr(matching, "EXACT_MAX_WIDTH", 300)
    with pytest.raises(AssertionError, match="dense path"):
        metrics.latent_mcc(z, codes, ood=False)


def test_blocks_overlap_and_orientation_do_not_change_the_matching():
    rng = np.random.default_rng(5)
    x = jnp.asarray(_unit_gaussian(rng, 30, 203))
    y = jnp.asarray(_unit_gaussian(rng, 30, 251))
    whole = matching.max_abs_dot_matching(x, y, candidates=16)
    # 4 * 251 * 37 bytes: blocks of 37 rows, the last one shifted back to overlap.
    blocked = matching.max_abs_dot_matching(x, y, candidates=16, block_bytes=4 * 251 * 37)
    for a, b in zip(whole, blocked, strict=True):
        np.testing.assert_array_equal(a, b)
    swapped = matching.max_abs_dot_matching(y, x, candidates=16)
    order = np.argsort(whole.cols)
    np.testing.assert_array_equal(swapped.rows, whole.cols[order])
    np.testing.assert_array_equal(swapped.cols, whole.rows[order])
    dense = np.abs(np.asarray(x).T @ np.asarray(y))
    np.testing.assert_allclose(whole.weights, dense[whole.rows, whole.cols], atol=1e-6)
    rows, cols = linear_sum_assignment(dense, maximize=True)
    np.testing.assert_allclose(np.sum(whole.weights), dense[rows, cols].sum(), rtol=1e-6)


def test_fallback_gives_a_full_matching_with_true_weights_and_a_lower_bound():
    """All rows share the same best columns: 2 candidates per row admit only 2
    matched rows per round; the rest is paired in order, with its real weights."""
    rng = np.random.default_rng(6)
    base = rng.standard_normal(40)
    x = base[:, None] + 0.1 * rng.standard_normal((40, 50))
    y = np.linspace(1.0, 0.0, 120) * base[:, None] + rng.standard_normal((40, 120))
    x, y = (jnp.asarray(a / np.linalg.norm(a, axis=0), jnp.float32) for a in (x, y))
    match = matching.max_abs_dot_matching(x, y, candidates=2)
    np.testing.assert_array_equal(match.rows, np.arange(50))
    assert np.unique(match.cols).size == 50
    dense = np.abs(np.asarray(x).T @ np.asarray(y))
    np.testing.assert_allclose(match.weights, dense[match.rows, match.cols], atol=1e-6)
    rows, cols = linear_sum_assignment(dense, maximize=True)
    assert match.weights.sum() <= dense[rows, cols].sum() + 1e-5
    assert match.weights.sum() >= 0.5 * dense[rows, cols].sum()


def test_non_finite_input_behaves_like_the_dense_path():
    rng = np.random.default_rng(7)
    z = rng.random((50, 20)).astype(np.float32)
    codes = z.copy()
    codes[3, 4] = np.nan  # the column normalises to zero (correlation 0) on both paths
    dense = metrics.latent_mcc(z, codes, ood=False, exact=True)
    np.testing.assert_allclose(metrics.latent_mcc(z, codes, ood=False, exact=False), dense)
    learned = z[:5].copy()
    learned[0, 3] = np.nan  # a NaN atom: both paths refuse
    for exact in (True, False):
        with pytest.raises(ValueError):
            metrics.dictionary_match(z[:5], learned, exact=exact)
