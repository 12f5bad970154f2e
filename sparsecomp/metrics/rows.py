"""Every metric of one seed's method output, as a flat dict of row fields.

The public ``sparsecomp.evaluate``: the definition of a row's metrics, one
seed at a time (a notebook's entry point, and the path of groups that
``sparsecomp.metrics.group.evaluate_group`` does not batch, e.g. the sparse
matching at large n). The trainer evaluates whole groups with
``evaluate_group``, which computes the same fields over the seed axis.
"""

from __future__ import annotations

import math

import numpy as np

from sparsecomp.data import Dataset
from sparsecomp.methods.registry import MethodOutput
from sparsecomp.metrics.auc import best_feature_auc
from sparsecomp.metrics.correlation import latent_matching, latent_mcc
from sparsecomp.metrics.dictionary import dictionary_match
from sparsecomp.metrics.probe import probe_accuracy
from sparsecomp.metrics.reconstruction import reconstruction
from sparsecomp.metrics.support import support_recovery


def evaluate(data: Dataset, output: MethodOutput) -> dict[str, float]:
    """Metrics named as in the reference results (``mcc_iid``, ``mcc_ood``, ...).

    Args:
      data: one seed's dataset (no seed axis).
      output: one seed's method output (no seed axis).

    Returns:
      ``mcc_*, acc_*, auc_*`` and ``support_*`` always; with a dictionary also
      ``dict_*``, ``mse_*`` and ``l0_*``. Support recovery compares code
      columns with the latents they are matched to: by the dictionary match
      when there is a dictionary, else by the ID MCC's matching. A seed whose codes or dictionary
      are not finite, or whose method reports ``scalars["nonfinite"]`` (e.g. a
      training loss that became NaN), gets only ``nonfinite=True``: no metric
      that could silently enter a mean.
    """
    codes_val = np.asarray(output.codes_val)
    codes_ood = np.asarray(output.codes_ood)
    arrays = [codes_val, codes_ood] + ([] if output.dictionary is None else [output.dictionary])
    diverged = bool((output.scalars or {}).get("nonfinite", False))
    if diverged or not all(np.isfinite(np.asarray(a)).all() for a in arrays):
        return {"nonfinite": True}
    z_val = np.asarray(data.z_val)  # dense OOD codes only while their MCC needs them
    id_match = latent_matching(z_val, codes_val, ood=False)
    row = {
        "mcc_iid": id_match.mcc,
        "mcc_ood": latent_mcc(np.asarray(data.z_ood), codes_ood, ood=True),
    }
    row["acc_iid"], row["acc_ood"] = probe_accuracy(
        codes_val, np.asarray(data.label_val), codes_ood, np.asarray(data.label_ood)
    )
    row["auc_iid"], row["auc_ood"] = best_feature_auc(
        codes_val, np.asarray(data.label_val), codes_ood, np.asarray(data.label_ood)
    )
    if output.dictionary is not None:
        row.update(_dictionary_metrics(data, output, z_val, codes_val, codes_ood))
    else:
        row.update(
            support_recovery(z_val, codes_val, id_match.true_index, id_match.code_index)
        )
    return {name: plain(value) for name, value in row.items()}


def _dictionary_metrics(data, output, z_val, codes_val, codes_ood) -> dict:
    dictionary = np.asarray(output.dictionary)
    bias = None if output.decoder_bias is None else np.asarray(output.decoder_bias)
    match = dictionary_match(np.asarray(data.mixing), dictionary)
    row = {
        "dict_mean_cosine": match.mean_cosine,
        "dict_mean_angular_error": match.mean_angular_error,
        "dict_mean_norm_ratio": match.mean_norm_ratio,
        "dict_frac_close": match.frac_close,
    }
    row.update(
        support_recovery(z_val, codes_val, match.true_index, match.learned_index)
    )
    row["mse_iid"], row["l0_iid"] = reconstruction(
        np.asarray(data.y_val), codes_val, dictionary, bias
    )
    row["mse_ood"], row["l0_ood"] = reconstruction(
        np.asarray(data.y_ood), codes_ood, dictionary, bias
    )
    return row


def dictionary_curves(mixing: np.ndarray, snapshots: np.ndarray) -> dict[str, np.ndarray]:
    """Dictionary match of every logged snapshot, for learning-dynamics curves.

    Args:
      mixing: [seeds, input_dim, num_latents] true mixing matrices.
      snapshots: [seeds, n_logged, input_dim, width] learned dictionaries;
        an all-NaN snapshot (a step the run never reached) gives NaN.

    Returns:
      ``dict_mean_cosine``, ``dict_mean_norm_ratio`` and ``dict_frac_close``,
      each [seeds, n_logged] float64.
    """
    names = ("dict_mean_cosine", "dict_mean_norm_ratio", "dict_frac_close")
    out = {name: np.full(snapshots.shape[:2], np.nan) for name in names}
    for i, j in np.ndindex(*snapshots.shape[:2]):
        if np.isfinite(snapshots[i, j]).all():
            match = dictionary_match(mixing[i], snapshots[i, j])
            out[names[0]][i, j] = match.mean_cosine
            out[names[1]][i, j] = match.mean_norm_ratio
            out[names[2]][i, j] = match.frac_close
    return out


def plain(value):
    """A JSON-ready Python scalar; non-finite floats become ``None``."""
    value = np.asarray(value).item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
