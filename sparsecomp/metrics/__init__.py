"""Per-seed evaluation metrics of section 4 of the protocol (arXiv 2603.28744).

Every function takes the arrays of ONE seed (numpy or JAX) and returns Python
floats or small host-side containers, so the trainer can write them straight
into ``results.jsonl``. Array math (correlation and cosine matrices, ROC ranks,
logistic regression, support counts) runs in jit-compiled JAX; Hungarian
matching (``scipy.optimize.linear_sum_assignment``) and the selection of
columns with data-dependent counts run on the host, because their output
shapes depend on the data.

Matchings wider than ``matching.EXACT_MAX_WIDTH`` columns (the study goes to
100,000 latents) never form the dense matrix: ``sparsecomp.metrics.matching``
computes it in row blocks, keeps the best ``candidates`` partners per column
and solves the matching on that sparse candidate graph (a lower bound on the
Hungarian optimum, equal to it whenever every optimal partner is among the
candidates).

Matrix products use ``Precision.HIGHEST`` so that accelerators do not fall
back to reduced-precision (TF32/bf16) passes, which would blur correlations
near 1.

Modules: ``correlation`` (latent MCC and its matching), ``probe`` (logistic
probe accuracy), ``auc`` (best single-feature AUC), ``dictionary``
(dictionary match), ``support`` (support recovery), ``reconstruction`` (MSE
and L0), ``matching`` (the sparse matching path) and ``rows`` (every metric of
one seed's method output as row fields: ``evaluate``). The public functions
are re-exported here. ``EXACT_MAX_WIDTH`` and ``CANDIDATES`` are copies for
reading; set them in ``sparsecomp.metrics.matching``.
"""

from sparsecomp.metrics import matching  # noqa: F401
from sparsecomp.metrics.auc import best_feature_auc
from sparsecomp.metrics.correlation import LatentMatching, latent_matching, latent_mcc
from sparsecomp.metrics.dictionary import DictionaryMatch, dictionary_match
from sparsecomp.metrics.matching import CANDIDATES, EXACT_MAX_WIDTH
from sparsecomp.metrics.probe import probe_accuracy
from sparsecomp.metrics.reconstruction import reconstruction
from sparsecomp.metrics.support import support_recovery

__all__ = [
    "CANDIDATES",
    "EXACT_MAX_WIDTH",
    "DictionaryMatch",
    "LatentMatching",
    "best_feature_auc",
    "dictionary_match",
    "latent_matching",
    "latent_mcc",
    "probe_accuracy",
    "reconstruction",
    "support_recovery",
]
