"""Sparse autoencoders, pure: sparsity mechanisms, the Flax model and its on-device training.

``activations`` (JumpReLU, TopK, BatchTopK, AuxK selections), ``model``
(``SAE_KINDS``, ``SparseAutoencoder``), ``train`` (loss, optimiser, the whole
training run) and ``analysis`` (what methods compute from a trained SAE).
The registered methods are adapters in ``sparsecomp.methods.sae`` and
``sparsecomp.methods.sae_derived``.
"""

from sparsecomp.sae.activations import auxk_codes, batch_topk_mask, jumprelu, kth_largest, step
from sparsecomp.sae.analysis import amortisation_gap, oracle_norm_dictionary
from sparsecomp.sae.model import (
    K_SPARSE_KINDS,
    PROTOCOL_KINDS,
    SAE_KINDS,
    SAEOutput,
    SparseAutoencoder,
    decoder,
    encode_rows,
    kind_label,
)
from sparsecomp.sae.train import (
    AuxK,
    Batch,
    TrainState,
    init_state,
    loss_fn,
    make_optimizer,
    make_train,
    make_train_step,
    renormalise_decoder,
    shuffle,
    split_metrics,
    update_threshold,
)

__all__ = [
    "K_SPARSE_KINDS",
    "PROTOCOL_KINDS",
    "SAE_KINDS",
    "AuxK",
    "Batch",
    "SAEOutput",
    "SparseAutoencoder",
    "TrainState",
    "amortisation_gap",
    "auxk_codes",
    "batch_topk_mask",
    "decoder",
    "encode_rows",
    "init_state",
    "jumprelu",
    "kind_label",
    "kth_largest",
    "loss_fn",
    "make_optimizer",
    "make_train",
    "make_train_step",
    "oracle_norm_dictionary",
    "renormalise_decoder",
    "shuffle",
    "split_metrics",
    "step",
    "update_threshold",
]
