"""Training an SAE entirely on-device: optimiser, loss, one step, the whole run.

The loss is ``MSE(x, x_hat) + gamma * mean(penalty)``, the MSE averaged over
batch and features, optimised by AdamW with the decoder gradient projected
orthogonal to the decoder columns, which are renormalised to unit norm every
``renorm_every`` epochs. Two kinds add to this:

* ``topk_auxk``: the auxiliary dead-latent loss of Gao et al. 2024
  (section A.2). A latent is dead when it has had no code > 0 on any of the
  last ``AuxK.dead_after`` real training samples (counted in whole batches,
  the current one included, as their code counts steps; padding rows do not
  count). With the residual ``e = x - x_hat`` held fixed (stop-gradient, as
  in their ``train.py``: the auxiliary loss must not pull the main
  reconstruction), the ``AuxK.k`` largest pre-activations among dead latents,
  ReLU'd, reconstruct it without bias, ``e_hat = z_aux W_d^T``, and the loss
  gains ``AuxK.alpha * MSE(e, e_hat)`` (0 when no latent is dead);
* ``batchtopk``: the inference threshold ``theta`` (the parameter
  ``threshold``) is the exponential moving average over training batches of
  the smallest kept positive code (the paper's estimate averages it over
  batches; the moving average forgets the untrained encoder of the first
  epochs), excluded from AdamW (no step, no decay) and set after each step.

Training is one pure function of a PRNG key (``make_train``): a ``lax.scan``
over epochs whose body is a ``lax.scan`` over mini-batches, so
``jax.jit(jax.vmap(train))`` trains every seed in one compiled call with no
host round trip.

Design notes (what differs from a literal transcription, and why):

* The last partial batch (2500 samples: 39 batches of 64 and one of 4) is
  kept, as the reference's DataLoader does, by padding it to 64 rows with a
  mask; the masked loss equals the loss of the real rows, and shapes stay
  static.
* XLA:CPU runs a training step as a few dozen small kernels whose launch
  cost, not arithmetic, dominates at these sizes. Hence epochs shuffle with
  one-array sorts (``shuffle``), whole splits are encoded in cache-sized row
  blocks (``map_rows``) and loops are rolled (unrolling measured no faster
  and compiles slower).

References:
  Gao et al. 2024, "Scaling and evaluating sparse autoencoders" (TopK, AuxK;
  arXiv 2406.04093).
  Bussmann, Leask & Nanda 2024, "BatchTopK Sparse Autoencoders"
  (arXiv 2412.06410).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sparsecomp.blocking import map_rows
from sparsecomp.linalg import unit_columns
from sparsecomp.sae.activations import auxk_codes
from sparsecomp.sae.model import Params, SparseAutoencoder

# Activity threshold of the logged L0, the same as the reconstruction metric's.
L0_THRESHOLD = 0.01


class TrainState(NamedTuple):
    """Everything a training step carries (leading seed axis under vmap)."""

    # W_e [width, m], b_e [width], W_d [m, width], b_d [m] (+ log_theta [width]
    # for jumprelu, threshold [] for batchtopk)
    params: Params
    opt_state: optax.OptState  # AdamW moments, same shapes as params, and a [] int32 count
    nonfinite: jax.Array  # [] bool, a training loss has been NaN/inf
    # [width] int32 for topk_auxk, else None: real training samples since each
    # latent last had a code > 0, counted in whole batches (AuxK's dead latents).
    since_fired: jax.Array | None = None


class AuxK(NamedTuple):
    """Static settings of TopK's auxiliary dead-latent loss (``topk_auxk``)."""

    alpha: float  # weight of the auxiliary MSE in the loss
    k: int  # dead latents each sample reconstructs its residual with, 1 <= k <= width
    dead_after: int  # real samples without a code > 0 after which a latent is dead


class Batch(NamedTuple):
    """A mini-batch padded to a static size; padding rows have ``mask == 0``."""

    y: jax.Array  # [batch_size, input_dim] float32
    mask: jax.Array  # [batch_size] float32, 1 for real samples, 0 for padding


def make_optimizer(
    *, lr: float, weight_decay: float, frozen: tuple[str, ...] = ()
) -> optax.GradientTransformation:
    """AdamW as in the reference (PyTorch defaults: decay on every parameter).

    Betas (0.9, 0.999), eps 1e-8, decoupled ``weight_decay``. Parameters named
    in ``frozen`` get no update at all (no step, no decay): BatchTopK's
    ``threshold``, which training sets by a moving average.
    """
    adamw = optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=weight_decay)
    if not frozen:
        return adamw
    return optax.multi_transform(
        {"adamw": adamw, "frozen": optax.set_to_zero()},
        lambda params: {name: "frozen" if name in frozen else "adamw" for name in params},
    )


def init_state(
    key: jax.Array, model: SparseAutoencoder, optimizer: optax.GradientTransformation
) -> TrainState:
    """Initial parameters (protocol init) and optimiser state of one seed."""
    params = dict(model.init(key, jnp.zeros((1, model.input_dim), jnp.float32))["params"])
    since_fired = jnp.zeros(model.width, jnp.int32) if model.kind == "topk_auxk" else None
    return TrainState(params, optimizer.init(params), jnp.array(False), since_fired)


def loss_fn(
    params: Params,
    model: SparseAutoencoder,
    batch: Batch,
    gamma: float,
    since_fired: jax.Array | None = None,
    auxk: AuxK | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Masked ``MSE + gamma * penalty`` of one batch, plus AuxK's term for topk_auxk.

    ``loss = sum_i mask_i (||x_i - x_hat_i||^2 / m + gamma * penalty_i) / sum_i mask_i``,
    i.e. the MSE averaged over real samples and features plus the batch mean of
    the penalty, exactly the unmasked loss of the real samples.

    With ``auxk``, ``since_fired`` first counts this batch (reset where a real
    row has a code > 0, else increased by the number of real rows), latents
    at ``auxk.dead_after`` or more are dead, and the loss gains
    ``auxk.alpha * sum_i mask_i ||e_i - e_hat_i||^2 / m / sum_i mask_i`` with
    ``e = stop_gradient(x - x_hat)`` and
    ``e_hat = auxk_codes(pre, dead, auxk.k) @ W_d^T`` (no bias); the term is 0
    when no latent is dead.

    Args:
      since_fired: [width] int32 for topk_auxk (see ``TrainState``), else None.
      auxk: the AuxK settings for topk_auxk, else None.

    Returns:
      ``(loss, aux)``: loss [] float32; aux holds [] float32 ``mse`` and
      ``penalty``; for topk_auxk also [] float32 ``aux_mse`` and the updated
      ``since_fired``; for batchtopk [] float32 ``min_kept``, the batch's
      smallest positive code (inf if none).
    """
    out = model.apply({"params": params}, batch.y, batch.mask)
    count = jnp.sum(batch.mask)
    mse = jnp.sum(batch.mask * jnp.mean((out.x_hat - batch.y) ** 2, axis=-1)) / count
    penalty = jnp.sum(batch.mask * out.penalty) / count
    loss, aux = mse + gamma * penalty, {"mse": mse, "penalty": penalty}
    if model.kind == "batchtopk":
        codes = jax.lax.stop_gradient(out.codes)
        aux["min_kept"] = jnp.min(jnp.where(codes > 0, codes, jnp.inf))
    if auxk is not None:
        fired = jnp.any((out.codes > 0) & (batch.mask[:, None] > 0), axis=0)
        since_fired = jnp.where(fired, 0, since_fired + count.astype(jnp.int32))
        dead = since_fired >= auxk.dead_after
        residual = jax.lax.stop_gradient(batch.y - out.x_hat)
        residual_hat = jnp.matmul(auxk_codes(out.pre, dead, auxk.k), params["W_d"].T,
                                  precision=jax.lax.Precision.HIGHEST)  # as the model's
        aux_mse = jnp.sum(batch.mask * jnp.mean((residual - residual_hat) ** 2, axis=-1)) / count
        aux_mse = jnp.where(jnp.any(dead), aux_mse, 0.0)
        loss = loss + auxk.alpha * aux_mse
        aux.update(aux_mse=aux_mse, since_fired=since_fired)
    return loss, aux


def update_threshold(threshold: jax.Array, min_kept: jax.Array, decay: float) -> jax.Array:
    """One step of BatchTopK's estimate of its inference threshold.

    ``theta <- decay * theta + (1 - decay) * min_kept``: an exponential moving
    average of each batch's smallest kept positive code, started at the first
    batch's value (``theta < 0`` marks it unset) and left unchanged by a batch
    that kept no positive code (``min_kept = inf``).

    Args:
      threshold: [] float32; min_kept: [] float32; decay: static, in [0, 1).

    Returns:
      [] float32.
    """
    average = jnp.where(threshold < 0, min_kept, decay * threshold + (1 - decay) * min_kept)
    return jnp.where(jnp.isfinite(min_kept), average, threshold)


def _project_decoder_grad(grad: jax.Array, decoder: jax.Array) -> jax.Array:
    """Removes from each column of ``grad`` its component along that decoder column.

    Keeps steps tangent to the atom norms, so the optimiser spends no effort on
    a scale the renormalisation would undo (``g_j -= (g_j . d_j) d_j / ||d_j||^2``).
    """
    along = jnp.sum(grad * decoder, axis=0) / jnp.sum(decoder * decoder, axis=0)
    return grad - along * decoder


def renormalise_decoder(params: Params) -> Params:
    """``params`` with the decoder columns scaled to unit norm."""
    return {**params, "W_d": unit_columns(params["W_d"])}


def make_train_step(
    model: SparseAutoencoder,
    optimizer: optax.GradientTransformation,
    gamma: float,
    *,
    auxk: AuxK | None = None,
    threshold_decay: float | None = None,
):
    """Builds the pure ``train_step(state, batch) -> (state, metrics)``.

    One AdamW step on the masked loss, with the decoder gradient projected
    orthogonal to the decoder columns first. ``metrics`` holds [] float32
    ``loss``, ``mse`` and ``penalty`` (and ``aux_mse`` for topk_auxk) of the
    batch before the step. topk_auxk needs ``auxk`` and carries
    ``since_fired``; batchtopk needs ``threshold_decay`` and then sets its
    ``threshold`` by ``update_threshold`` (``optimizer`` must leave it alone).
    """

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, model, batch, gamma, state.since_fired, auxk
        )
        grads = {**grads, "W_d": _project_decoder_grad(grads["W_d"], state.params["W_d"])}
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        if model.kind == "batchtopk":
            threshold = state.params["threshold"]
            params = {**params, "threshold": update_threshold(threshold, aux.pop("min_kept"),
                                                              threshold_decay)}
        nonfinite = state.nonfinite | ~jnp.isfinite(loss)
        state = TrainState(params, opt_state, nonfinite, aux.pop("since_fired", None))
        return state, {"loss": loss, **aux}

    return train_step


def split_metrics(
    params: Params, model: SparseAutoencoder, splits: dict[str, jax.Array], gamma: float
) -> dict[str, jax.Array]:
    """Loss, MSE and mean L0 (``|code| > 0.01``) on whole data splits.

    All splits go through one blocked forward pass (``map_rows``).

    Args:
      splits: name -> [n_name, input_dim] float32.

    Returns:
      ``loss_<name>``, ``mse_<name>`` and ``l0_<name>``, each [] float32.
    """

    def per_sample(y):
        out = model.apply({"params": params}, y)
        return {
            "mse": jnp.mean((out.x_hat - y) ** 2, axis=-1),
            "penalty": out.penalty,
            "l0": jnp.sum(jnp.abs(out.codes) > L0_THRESHOLD, axis=-1).astype(jnp.float32),
        }

    stats = map_rows(per_sample, jnp.concatenate(list(splits.values())))
    metrics, start = {}, 0
    for name, split in splits.items():
        part = {k: jnp.mean(v[start : start + split.shape[0]]) for k, v in stats.items()}
        metrics[f"loss_{name}"] = part["mse"] + gamma * part["penalty"]
        metrics[f"mse_{name}"] = part["mse"]
        metrics[f"l0_{name}"] = part["l0"]
        start += split.shape[0]
    return metrics


def shuffle(key: jax.Array, n: int) -> jax.Array:
    """A uniformly random permutation of ``0 .. n-1``, faster on CPU.

    JAX's algorithm (``jax.random.permutation``): sort by random keys for
    ``ceil(3 log2(n) / key_bits)`` rounds, so that ties in one round are broken
    by the (random) order of the previous ones. Here each key carries its index
    in its low ``ceil(log2 n)`` bits, which makes every round a sort of one
    uint32 array (XLA:CPU sorts that ~3.5x faster than the (key, index) pairs
    of ``jnp.argsort``), at ``32 - ceil(log2 n)`` random bits per round.

    Args:
      key: PRNG key.
      n: static, 2 <= n <= 2^24.

    Returns:
      [n] int32.
    """
    index_bits = max(1, (n - 1).bit_length())
    rounds = math.ceil(3 * math.log2(n) / (32 - index_bits))
    index = jnp.arange(n, dtype=jnp.uint32)
    order = jnp.arange(n, dtype=jnp.int32)
    for bits in jax.random.bits(key, (rounds, n), jnp.uint32):
        keyed = (bits >> index_bits << index_bits) | index
        order = order[(jax.lax.sort(keyed) & ((1 << index_bits) - 1)).astype(jnp.int32)]
    return order


def _check_settings(model: SparseAutoencoder, sizes: dict[str, int], auxk: AuxK | None,
                    threshold_decay: float | None) -> None:
    """Raises ``ValueError`` for settings ``make_train`` cannot run with."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is invalid: it must be an integer >= 1")
    if (auxk is not None) != (model.kind == "topk_auxk"):
        raise ValueError(f"auxk={auxk!r} is invalid for kind={model.kind!r}: "
                         "topk_auxk needs AuxK settings, other kinds none")
    if auxk is not None and not (1 <= auxk.k <= model.width and auxk.dead_after >= 1):
        raise ValueError(f"auxk={auxk!r} is invalid: it needs 1 <= k <= width={model.width} "
                         "and dead_after >= 1")
    if (threshold_decay is not None) != (model.kind == "batchtopk"):
        raise ValueError(f"threshold_decay={threshold_decay!r} is invalid for "
                         f"kind={model.kind!r}: batchtopk needs one, other kinds none")
    if threshold_decay is not None and not 0 <= threshold_decay < 1:
        raise ValueError(f"threshold_decay={threshold_decay!r} is invalid: it must be in [0, 1)")


def make_train(
    model: SparseAutoencoder,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    gamma: float,
    renorm_every: int,
    log_every: int,
    log_dictionary: bool = False,
    auxk: AuxK | None = None,
    threshold_decay: float | None = None,
):
    """Builds ``train(key, y_train, y_val, y_ood) -> (state, curves, loss_train_last)``.

    The whole run is a ``lax.scan`` over epochs. Each epoch shuffles the
    training samples (``shuffle``), cuts them into
    ``ceil(n_train / batch_size)`` batches and scans
    ``train_step`` over them. The last batch is padded and masked, so every
    step has a static shape and the short batch still trains, as with PyTorch's
    ``DataLoader(drop_last=False)`` of the reference (2500 samples: 39 batches
    of 64 and one of 4). After epochs ``e`` with ``e % renorm_every == 0`` the
    decoder columns are renormalised; after epochs with ``e % log_every == 0``
    and after the last epoch (after the renormalisation, as in the reference's
    learning-dynamics logs: epochs 0, 10, ..., 490, 499) the curves are
    evaluated on val and OOD.

    Args:
      model: the SAE to train.
      epochs: passes over ``y_train``, >= 1.
      batch_size: rows per mini-batch, >= 1.
      lr, weight_decay: AdamW's (``make_optimizer``).
      gamma: weight of the sparsity penalty in the loss.
      renorm_every: decoder columns -> unit norm after epochs 0, renorm_every, ...; >= 1.
      log_every: curves after epochs 0, log_every, ... and the last one; >= 1.
      log_dictionary: also log the decoder at every logged epoch.
      auxk: AuxK's settings, for topk_auxk only (and required there).
      threshold_decay: decay of the threshold's moving average, in [0, 1),
        for batchtopk only (and required there).

    Returns:
      ``train``; its ``curves`` map ``step`` ([n_logged] int32 epoch),
      ``loss_train`` (mean over that epoch) and ``loss``/``mse``/``l0`` on
      ``val`` and ``ood`` ([n_logged] float32, suffixes ``_val``/``_ood``),
      where ``n_logged = ceil(epochs / log_every)``, plus one when the last
      epoch is not a multiple of ``log_every``; and ``loss_train_last``,
      the [] float32 mean loss of the last epoch. With ``log_dictionary`` the
      curves also hold ``dictionary``: [n_logged, input_dim, width] float32,
      the decoder (``model.decoder``) at each logged epoch.

    Raises:
      ValueError: for a size below 1, or ``auxk``/``threshold_decay`` missing,
        out of range or given to a kind that does not use it.
    """
    sizes = dict(epochs=epochs, batch_size=batch_size, renorm_every=renorm_every,
                 log_every=log_every)
    _check_settings(model, sizes, auxk, threshold_decay)
    optimizer = make_optimizer(lr=lr, weight_decay=weight_decay,
                               frozen=("threshold",) if model.kind == "batchtopk" else ())
    train_step = make_train_step(model, optimizer, gamma, auxk=auxk,
                                 threshold_decay=threshold_decay)
    logged_epochs = sorted({*range(0, epochs, log_every), epochs - 1})
    slot_of_epoch = np.full(epochs, len(logged_epochs), np.int32)
    slot_of_epoch[logged_epochs] = np.arange(len(logged_epochs))

    def train(key, y_train, y_val, y_ood):
        n_train, input_dim = y_train.shape
        n_batches = -(-n_train // batch_size)
        padding = n_batches * batch_size - n_train
        mask = (jnp.arange(n_batches * batch_size) < n_train).astype(jnp.float32)
        mask = mask.reshape(n_batches, batch_size)
        # One split for everything: each threefry call site compiles to ~25 kernels.
        keys = jax.random.split(key, epochs + 1)
        state = init_state(keys[0], model, optimizer)
        splits = {"val": y_val, "ood": y_ood}
        n_snapshots = len(logged_epochs) if log_dictionary else 0
        snapshots = jnp.zeros((n_snapshots, input_dim, model.width), jnp.float32)

        def log(params):
            return split_metrics(params, model, splits, gamma)

        def skip_log(params):
            return jax.tree.map(jnp.zeros_like, jax.eval_shape(log, params))

        def epoch(carry, inputs):
            state, snapshots = carry
            e, epoch_key, slot = inputs
            # Padding rows point at sample 0; their mask is 0, so they add nothing.
            order = jnp.pad(shuffle(epoch_key, n_train), (0, padding))
            batches = Batch(y_train[order].reshape(n_batches, batch_size, input_dim), mask)
            state, metrics = jax.lax.scan(train_step, state, batches)
            loss_train = jnp.sum(metrics["loss"] * jnp.sum(mask, axis=1)) / n_train
            # The epoch index is not batched under vmap, so these stay real
            # branches: the evaluation runs only on logged epochs.
            params = jax.lax.cond(
                e % renorm_every == 0, renormalise_decoder, lambda p: p, state.params
            )
            logged = jax.lax.cond((e % log_every == 0) | (e == epochs - 1), log, skip_log, params)
            if log_dictionary:  # slot == n_snapshots on epochs that are not logged: dropped
                decoder = model.apply({"params": params}, method=model.decoder)
                snapshots = snapshots.at[slot].set(decoder, mode="drop")
            return (state._replace(params=params), snapshots), {"loss_train": loss_train, **logged}

        (state, snapshots), per_epoch = jax.lax.scan(
            epoch, (state, snapshots), (jnp.arange(epochs), keys[1:], jnp.asarray(slot_of_epoch))
        )
        curves = {"step": jnp.array(logged_epochs, jnp.int32)}
        curves.update({name: v[jnp.array(logged_epochs)] for name, v in per_epoch.items()})
        if log_dictionary:
            curves["dictionary"] = snapshots
        return state, curves, per_epoch["loss_train"][-1]

    return train


__all__ = [
    "L0_THRESHOLD", "AuxK", "Batch", "TrainState", "init_state", "loss_fn", "make_optimizer",
    "make_train", "make_train_step", "renormalise_decoder", "shuffle", "split_metrics",
    "update_threshold",
]
