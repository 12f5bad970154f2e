"""Every row metric of a (point, method) group, computed over the seed axis on the device.

``evaluate_group`` gives the rows ``sparsecomp.metrics.rows.evaluate`` gives
seed by seed, with the array work done by two compiled, seed-vmapped
programs on the device where the outputs already are:

1. before the matching: finiteness, the |correlation| matrices of the ID and
   OOD MCC, the |cosine| matrix of the dictionary match, probe accuracy
   (L-BFGS logistic regression), best-feature AUC and reconstruction;
2. after it: support recovery and the matched atoms' statistics.

Between the two, the host solves the assignment problems
(``scipy.optimize.linear_sum_assignment``) on the matrices, fetched once per
group. A method with variants (one row per lambda, budget, ...) is a second
vmapped axis. The matrices are ``width x width`` per (seed, variant), so the
dense path serves widths up to ``matching.EXACT_MAX_WIDTH`` with codes at
least as wide as the latents (every built-in method); other groups are
evaluated seed by seed by ``evaluate`` (the sparse matching of large n).

The definitions are ``evaluate``'s, computed the same way: kept latents (ID
variance > 1e-8) come first in the ID problem and the rest of its rows are
the same standard-normal noise columns (``np.random.default_rng(0)``); the
OOD problem keeps the top-variance code columns. MCCs and AUCs agree with the
per-seed path to float rounding (batched products), probe accuracies up to
samples on the decision boundary.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from sparsecomp.data import Dataset
from sparsecomp.methods.registry import MethodOutput
from sparsecomp.metrics import matching
from sparsecomp.metrics.auc import batched_best_feature_auc
from sparsecomp.metrics.correlation import (
    _GT_VARIANCE_THRESHOLD,
    _column_variance,
    _unit_centred_columns,
)
from sparsecomp.metrics.dictionary import _abs_cosine, _matched_pair_stats
from sparsecomp.metrics.probe import _LOGREG_MAX_ITER, _probe_accuracy
from sparsecomp.metrics.reconstruction import _reconstruction
from sparsecomp.metrics.rows import evaluate, plain
from sparsecomp.metrics.support import _support_counts

_HIGHEST = jax.lax.Precision.HIGHEST
_PAD_SEED = 0  # latent_mcc's default noise seed
_SUPPORT_THRESHOLD = 1e-4  # support_recovery's default
_L0_THRESHOLD = 0.01  # reconstruction's default


@functools.lru_cache(maxsize=8)
def _noise_stream(n_values: int) -> np.ndarray:
    """The first ``n_values`` draws of ``latent_mcc``'s padding noise, float32.

    ``default_rng(0).standard_normal((N, missing))`` fills row by row from one
    stream, so its entry (i, j) is draw ``i * missing + j`` of this stream,
    whatever ``missing`` is.
    """
    return np.random.default_rng(_PAD_SEED).standard_normal(n_values).astype(np.float32)


def _abs_corr(a: jax.Array, b: jax.Array) -> jax.Array:
    """|Pearson correlation| of the columns of ``a`` [N, p] and ``b`` [N, q]: [p, q]."""
    return jnp.abs(jnp.matmul(_unit_centred_columns(a).T, _unit_centred_columns(b),
                              precision=_HIGHEST))


def _kept(z: jax.Array) -> jax.Array:
    """[n] bool: the latents ``latent_mcc`` keeps (variance > 1e-8 on these samples)."""
    return _column_variance(z) > _GT_VARIANCE_THRESHOLD


def _id_problem(z: jax.Array, codes: jax.Array, noise: jax.Array):
    """The ID MCC's |correlation| matrix, [width, width], rows in latent order.

    Row j < n is latent j when it is kept; the other rows (latents not kept,
    then rows n .. width - 1 when the codes are wider) are ``latent_mcc``'s
    noise columns 0, 1, ... of an [N, width - n_kept] draw, in row order. The
    host puts the kept rows first (``_id_order``), which gives the matrix
    ``latent_mcc`` solves, without gathering columns on the device.
    """
    n_samples, width = codes.shape
    kept = _kept(z)
    padded_kept = jnp.pad(kept, (0, width - z.shape[1]))
    missing = width - jnp.sum(kept, dtype=jnp.int32)
    noise_column = jnp.cumsum(~padded_kept, dtype=jnp.int32) - 1
    index = jnp.arange(n_samples)[:, None] * missing + noise_column[None, :]
    padding = noise[jnp.clip(index, 0, noise.shape[0] - 1)]
    latents = jnp.pad(z, ((0, 0), (0, width - z.shape[1])))
    return _abs_corr(jnp.where(padded_kept, latents, padding), codes), kept


def _ood_problem(z: jax.Array, codes: jax.Array):
    """The OOD MCC's |correlation| of all latents and codes, and the codes' variance order.

    ``latent_mcc``'s OOD problem is the block of kept rows and the first
    n_kept columns of ``top`` (the host takes it).
    """
    _, top = jax.lax.top_k(_column_variance(codes), codes.shape[1])
    return _abs_corr(z, codes), _kept(z), top.astype(jnp.int32)


def _first_pass(data: Dataset, output: MethodOutput, noise: jax.Array) -> dict:
    """Everything computable before the matchings, for one (seed, variant)."""
    arrays = [output.codes_val, output.codes_ood]
    if output.dictionary is not None:
        arrays.append(output.dictionary)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in arrays]))
    if (output.scalars or {}).get("nonfinite") is not None:
        finite &= ~jnp.asarray(output.scalars["nonfinite"], bool)
    id_corr, id_kept = _id_problem(data.z_val, output.codes_val, noise)
    ood_corr, ood_kept, ood_top = _ood_problem(data.z_ood, output.codes_ood)
    acc = _probe_accuracy(output.codes_val, data.label_val, output.codes_ood, data.label_ood,
                          _LOGREG_MAX_ITER)
    out = {"finite": finite, "id_corr": id_corr, "id_kept": id_kept, "ood_corr": ood_corr,
           "ood_kept": ood_kept, "ood_top": ood_top, "acc": acc}
    if output.dictionary is not None:
        d, mixing = output.dictionary, data.mixing
        bias = (jnp.zeros(d.shape[0], d.dtype) if output.decoder_bias is None
                else output.decoder_bias)
        out["dict_cos"] = _abs_cosine(mixing, d)
        # The true dictionary itself (fista_oracle): the identity is an optimal matching.
        out["dict_is_truth"] = jnp.asarray(d.shape == mixing.shape and jnp.array_equal(d, mixing))
        out["recon_val"] = _reconstruction(data.y_val, output.codes_val, d, bias, _L0_THRESHOLD)
        out["recon_ood"] = _reconstruction(data.y_ood, output.codes_ood, d, bias, _L0_THRESHOLD)
    return out


def _second_pass(data: Dataset, output: MethodOutput, support_index, dict_index) -> dict:
    """Support recovery and matched-atom statistics of one (seed, variant).

    Args:
      support_index: ``(true [n], code [n], mask [n])`` int32/int32/bool, the
        pairs support recovery compares (masked entries are padding).
      dict_index: ``(true [n], learned [n])`` int32, the dictionary match, or None.
    """
    true_index, code_index, mask = support_index
    out = {"support": _support_counts(data.z_val, output.codes_val, true_index, code_index,
                                      _SUPPORT_THRESHOLD, mask)}
    if dict_index is not None:
        out["pairs"] = _matched_pair_stats(data.mixing, output.dictionary, *dict_index)
    return out


# Compiled evaluation programs by (program, static arguments, argument
# signature), the most recently used first out: tracing and lowering them
# costs about a second per group on a CPU, which a process pays once per shape
# (the persistent compilation cache then only saves the XLA compilation). A
# sweep point needs a few (with or without a dictionary or variants, per code
# width). Bounded, and emptied by ``clear_programs``: an XLA:CPU executable
# keeps memory mappings of its code, about 300 for each of these.
_EXECUTABLES: collections.OrderedDict = collections.OrderedDict()
_MAX_EXECUTABLES = 8


def clear_programs() -> None:
    """Frees the compiled evaluation programs (the trainer does after each sweep point)."""
    _EXECUTABLES.clear()


def _executable(program, args: tuple, timings: dict, compile_lock, **static):
    """``program`` compiled for ``args`` (under ``compile_lock``), timed in ``timings``."""
    leaves, structure = jax.tree.flatten(args)
    signature = tuple((x.shape, x.dtype, getattr(x, "sharding", None)) for x in leaves)
    key = (program, tuple(sorted(static.items())), structure, signature)
    if key not in _EXECUTABLES:
        tic = time.perf_counter()
        with compile_lock:
            _EXECUTABLES[key] = program.lower(*args, **static).compile()
        timings["compile_s"] = timings.get("compile_s", 0.0) + time.perf_counter() - tic
        if len(_EXECUTABLES) > _MAX_EXECUTABLES:
            _EXECUTABLES.popitem(last=False)
    _EXECUTABLES.move_to_end(key)
    return _EXECUTABLES[key]


def _dense_path_serves(data: Dataset, output: MethodOutput) -> bool:
    """Whether the group's matchings fit ``evaluate_group``'s dense square problems."""
    num_latents, width = data.z_val.shape[-1], output.codes_val.shape[-1]
    return jax.process_count() == 1 and num_latents <= width <= matching.EXACT_MAX_WIDTH


@functools.partial(jax.jit, static_argnames="variants")
def _first(data, output, noise, variants):
    """``_first_pass`` over the seed axis (and the variant axis)."""
    per_row = functools.partial(_first_pass, noise=noise)
    if variants:
        per_row = jax.vmap(per_row, in_axes=(None, 0))
    first = jax.vmap(per_row)(data, output)
    # Outside the per-row vmap: it picks the AUC's sort once for the whole group.
    first["auc"] = batched_best_feature_auc(
        output.codes_val, data.label_val, output.codes_ood, data.label_ood,
        batch=(True, False) if variants else (True,))
    return first


@functools.partial(jax.jit, static_argnames="variants")
def _second(data, output, support_index, dict_index, variants):
    """``_second_pass`` over the seed axis (and the variant axis)."""
    per_row = _second_pass
    if variants:
        per_row = jax.vmap(per_row, in_axes=(None, 0, 0, 0))
    return jax.vmap(per_row)(data, output, support_index, dict_index)


def evaluate_group(data: Dataset, output: MethodOutput, *, variants: bool = False,
                   num_seeds: int | None = None, fetch=jax.device_get,
                   timings: dict | None = None,
                   compile_lock=None) -> list[list[dict]]:
    """``evaluate`` of every seed (and variant) of a group, in two device passes.

    Args:
      data: the point's datasets, seed axis first (on the device, as placed).
      output: the method's output, seed axis first; with ``variants`` its
        codes, dictionary, bias and scalars carry a variant axis second.
      variants: whether ``output`` has a variant axis.
      num_seeds: the real seeds, first along the axis (the rest is padding,
        evaluated and dropped); default all.
      fetch: copies a pytree of device arrays to the host (the trainer's
        gathers arrays sharded over several processes).
      timings: if given, ``compile_s`` there grows by the seconds spent
        tracing and compiling the evaluation programs (once per shape and
        process), so a caller can count them as compilation, not evaluation.
      compile_lock: held while compiling (the trainer's lock, shared with its
        methods' compilation); None holds nothing.

    Returns:
      ``rows[seed][variant]``: ``evaluate``'s dict for each (one per seed
      without variants).
    """
    output = output._replace(params=None, curves=None, variants=None)
    num_seeds = data.z_val.shape[0] if num_seeds is None else num_seeds
    if not _dense_path_serves(data, output):
        return _per_seed(fetch((data, output)), variants, num_seeds)
    n_samples, width = output.codes_val.shape[-2:]
    timings = {} if timings is None else timings
    compile_lock = contextlib.nullcontext() if compile_lock is None else compile_lock
    noise = jnp.asarray(_noise_stream(n_samples * width))
    args = (data, output, noise)
    first = jax.device_get(
        _executable(_first, args, timings, compile_lock, variants=variants)(*args))
    first = jax.tree.map(lambda x: x[:num_seeds], first)
    if not variants:
        first = jax.tree.map(lambda x: x[:, None], first)
    num_variants = first["finite"].shape[1]
    has_dictionary = output.dictionary is not None
    num_latents = data.z_val.shape[-1]
    partial, support, dict_index = {}, [], []
    for s, v in np.ndindex(num_seeds, num_variants):
        row_first = jax.tree.map(lambda x, s=s, v=v: x[s, v], first)
        row, pairs = _matched(row_first, has_dictionary, num_latents)
        partial[s, v] = row
        support.append(pairs["support"])
        dict_index.append(pairs.get("dictionary"))
    second = _run_second(data, output, support, dict_index, variants, num_seeds, num_variants,
                         has_dictionary, timings, compile_lock)
    rows = []
    for s in range(num_seeds):
        rows.append([])
        for v in range(num_variants):
            row = partial[s, v]
            if not row.get("nonfinite"):
                row.update(_second_fields(jax.tree.map(lambda x, s=s, v=v: x[s, v], second),
                                          has_dictionary))
                row = _ordered(row)
            rows[-1].append({name: plain(value) for name, value in row.items()})
    return rows


def _matched(first: dict, has_dictionary: bool, num_latents: int) -> tuple[dict, dict]:
    """Row fields from the assignments of one (seed, variant), and the matched pairs."""
    none = np.zeros(num_latents, np.int32)
    empty = {"support": (none, none, np.zeros(num_latents, bool))}
    if has_dictionary:
        empty["dictionary"] = (none, none)
    if not first["finite"]:
        return {"nonfinite": True}, empty
    row = {"mcc_iid": float("nan"), "mcc_ood": float("nan")}
    id_index = (np.zeros(0, np.int64),) * 2
    kept = np.flatnonzero(first["id_kept"])
    if kept.size:
        width = first["id_corr"].shape[0]
        padded_kept = np.pad(first["id_kept"], (0, width - num_latents))
        corr = first["id_corr"][np.concatenate([kept, np.flatnonzero(~padded_kept)])]
        rows, cols = linear_sum_assignment(corr, maximize=True)
        real = rows < kept.size  # noise rows do not count
        row["mcc_iid"] = float(corr[rows[real], cols[real]].mean())
        id_index = (kept[rows[real]], cols[real])
    kept = np.flatnonzero(first["ood_kept"])
    if kept.size:
        corr = first["ood_corr"][kept][:, first["ood_top"][:kept.size]]
        rows, cols = linear_sum_assignment(corr, maximize=True)
        row["mcc_ood"] = float(corr[rows, cols].mean())
    row["acc_iid"], row["acc_ood"] = (float(a) for a in first["acc"])
    row["auc_iid"], row["auc_ood"] = (float(a) for a in first["auc"])
    pairs = {}
    support_index = id_index
    if has_dictionary:
        if first["dict_is_truth"]:
            dict_index = (np.arange(num_latents),) * 2
        else:
            dict_index = linear_sum_assignment(first["dict_cos"], maximize=True)
        pairs["dictionary"] = tuple(np.asarray(i, np.int32) for i in dict_index)
        support_index = dict_index
        row["mse_iid"], row["l0_iid"] = (float(x) for x in first["recon_val"])
        row["mse_ood"], row["l0_ood"] = (float(x) for x in first["recon_ood"])
    pairs["support"] = _padded_pairs(*support_index, num_latents)
    return row, pairs


def _padded_pairs(true_index, code_index, length: int):
    """``(true, code, mask)``: the pairs padded with index 0 (masked out) to ``length``."""
    count = len(true_index)
    pad = length - count
    return (np.pad(np.asarray(true_index, np.int32), (0, pad)),
            np.pad(np.asarray(code_index, np.int32), (0, pad)),
            np.arange(length) < count)


def _run_second(data, output, support, dict_index, variants, num_seeds, num_variants,
                has_dictionary, timings, compile_lock):
    """The second device pass over the (seed, variant) grid; padding seeds repeat the last."""
    padded_seeds = data.z_val.shape[0]

    def grid(items):
        stacked = [np.stack(parts) for parts in zip(*items, strict=True)]
        shaped = [x.reshape(num_seeds, num_variants, *x.shape[1:]) for x in stacked]
        shaped = [np.concatenate([x, np.repeat(x[-1:], padded_seeds - num_seeds, axis=0)])
                  for x in shaped]
        return tuple(x if variants else x[:, 0] for x in shaped)

    args = (data, output, grid(support), grid(dict_index) if has_dictionary else None)
    second = _executable(_second, args, timings, compile_lock, variants=variants)(*args)
    second = jax.tree.map(lambda x: np.asarray(x)[:num_seeds], jax.device_get(second))
    if not variants:
        second = jax.tree.map(lambda x: x[:, None], second)
    return second


def _second_fields(second: dict, has_dictionary: bool) -> dict:
    """Row fields of the second pass of one (seed, variant)."""
    fields = {name: float(value) for name, value in second["support"].items()}
    if has_dictionary:
        names = ("dict_mean_cosine", "dict_mean_angular_error", "dict_mean_norm_ratio",
                 "dict_frac_close")
        fields.update({name: float(v) for name, v in zip(names, second["pairs"], strict=True)})
    return fields


_ORDER = ("mcc_iid", "mcc_ood", "acc_iid", "acc_ood", "auc_iid", "auc_ood", "dict_mean_cosine",
          "dict_mean_angular_error", "dict_mean_norm_ratio", "dict_frac_close",
          "support_f1", "support_precision", "support_pred_l0", "support_recall",
          "support_true_l0", "mse_iid", "l0_iid", "mse_ood", "l0_ood")


def _ordered(row: dict) -> dict:
    """The fields in ``evaluate``'s order."""
    return {name: row[name] for name in _ORDER if name in row}


def _per_seed(host, variants: bool, num_seeds: int) -> list[list[dict]]:
    """``evaluate`` seed by seed (and variant by variant) of host copies ``(data, output)``."""
    host_data, host_output = host
    rows = []
    for s in range(num_seeds):
        seed_data, seed_output = jax.tree.map(lambda x, s=s: x[s], (host_data, host_output))
        if not variants:
            rows.append([evaluate(seed_data, seed_output)])
            continue
        num_variants = seed_output.codes_val.shape[0]
        rows.append([evaluate(seed_data, jax.tree.map(lambda x, v=v: x[v], seed_output))
                     for v in range(num_variants)])
    return rows

