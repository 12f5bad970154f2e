"""Probe accuracy (logistic regression on the codes) against scikit-learn."""

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from sparsecomp import metrics


def test_probe_accuracy_matches_sklearn_on_non_separable_problem():
    rng = np.random.default_rng(4)
    w = np.array([1.5, -1.0, 0.5, 0.0])
    x_id, x_ood = rng.normal(size=(400, 4)), rng.normal(1.0, 1.5, size=(300, 4))
    y_id = x_id @ w + rng.normal(size=400) > 0.2
    y_ood = x_ood @ w + rng.normal(size=300) > 0.2
    # C=inf is penalty=None; scikit-learn >= 1.8 deprecates the penalty argument.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        clf = LogisticRegression(C=np.inf, max_iter=1000).fit(x_id, y_id)
    acc_id, acc_ood = metrics.probe_accuracy(x_id, y_id, x_ood, y_ood)
    assert abs(acc_id - clf.score(x_id, y_id)) <= 0.01
    assert abs(acc_ood - clf.score(x_ood, y_ood)) <= 0.01


def test_probe_accuracy_separable_data_and_constant_columns_stay_finite():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 100)).astype(np.float32)  # more features than samples
    x[:, 10:20] = 0.0
    x[:, 20:30] = 2.5
    y = x[:, 0] > 0
    acc_id, acc_ood = metrics.probe_accuracy(x, y, x[:30], y[:30])
    assert np.isfinite(acc_id) and np.isfinite(acc_ood)
    assert acc_id == 1.0 and acc_ood == 1.0


def test_probe_accuracy_matches_sklearn_on_separable_sparse_codes():
    """On (near-)separable codes the iteration cap decides OOD accuracy; ours
    must behave like scikit-learn's capped lbfgs on the raw codes (as the
    reference does), not like a standardised or fully converged fit."""
    import jax

    from sparsecomp.data import make_dataset, make_spec

    data = make_dataset(jax.random.key(0), make_spec(num_latents=60, k=6, n_samples=2000))
    z_val, z_ood = np.asarray(data.z_val), np.asarray(data.z_ood)
    l_val, l_ood = np.asarray(data.label_val), np.asarray(data.label_ood)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs "failed to converge" is the point here
        model = LogisticRegression(C=np.inf, max_iter=100).fit(z_val, l_val)
    ours = metrics.probe_accuracy(z_val, l_val, z_ood, l_ood)
    np.testing.assert_allclose(ours, (model.score(z_val, l_val), model.score(z_ood, l_ood)),
                               atol=0.03)
