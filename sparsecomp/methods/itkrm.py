"""ITKrM methods: ``itkrm`` (passes over the train half) and ``itkrm_stream`` (fresh batches).

The adapters of ``sparsecomp.dictionary.itkrm``: they read ``config.itkrm``
and code val and OOD by FISTA on the learned dictionary (``config.fista``).
"""

from __future__ import annotations

from sparsecomp.coding.held_out import fista_val_and_ood
from sparsecomp.data import sample_observations, sample_tags
from sparsecomp.dictionary.itkrm import itkrm_batch, itkrm_stream
from sparsecomp.errors import require_int, require_interval
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import fista_options


def _options(config) -> dict:
    """``config.itkrm``'s fields, validated.

    Raises:
      ConfigError: naming the field and its valid range.
    """
    cfg = config.itkrm
    for field in ("n_iter", "batch_size"):
        require_int(f"itkrm.{field}", cfg[field], lower=1)
    require_interval("itkrm.duplicate_cosine", cfg.duplicate_cosine, 0, 1, include_high=True)
    return dict(n_iter=int(cfg.n_iter), batch_size=int(cfg.batch_size),
                duplicate_cosine=float(cfg.duplicate_cosine))


def _output(dictionary, replaced, data, spec, samples_seen: int, held_out: dict) -> MethodOutput:
    """The row of a learned dictionary: FISTA codes of val and OOD, sample tags."""
    codes_val, codes_ood = fista_val_and_ood(data.y_val, data.y_ood, dictionary, **held_out)
    return MethodOutput(codes_val=codes_val, codes_ood=codes_ood, dictionary=dictionary,
                        params={"dictionary": dictionary},
                        scalars={**sample_tags(spec, samples_seen), "n_replaced": replaced})


@register_method("itkrm", family="dictionary_learning")
def make_itkrm(config, spec):
    """ITKrM on ``y_train`` (``config.itkrm.n_iter`` passes); FISTA codes for val/OOD.

    Rows carry ``n_replaced`` (atoms replaced over all passes),
    ``samples_seen`` (``n_train``) and ``samples_per_atom``.
    """
    options = _options(config)
    held_out = fista_options(config)

    def run(key, data):
        d, replaced = itkrm_batch(key, data.y_train, spec.num_latents, sparsity=spec.k,
                                  n_iter=options["n_iter"],
                                  duplicate_cosine=options["duplicate_cosine"])
        return _output(d, replaced, data, spec, spec.n_train, held_out)

    return run


@register_method("itkrm_stream", family="dictionary_learning")
def make_itkrm_stream(config, spec):
    """Streaming ITKrM: ``n_train`` fresh samples in batches of ``config.itkrm.batch_size``.

    The point's ``n_samples // 2`` sets how many samples it draws (so rows sit
    beside the batch learners' at the same ``samples_seen``), not what it
    holds: ``n_train // batch_size`` iterations, each on a new batch.
    ``samples_seen`` counts all it drew, the ``width`` samples of the initial
    atoms included.
    """
    options = _options(config)
    held_out = fista_options(config)
    batch_size = min(options["batch_size"], spec.n_train)
    n_iter = max(1, spec.n_train // batch_size)

    def run(key, data):
        def sample(sample_key, n):
            return sample_observations(sample_key, data.mixing, spec, n)

        d, replaced = itkrm_stream(key, sample, spec.num_latents,
                                   sparsity=spec.k, batch_size=batch_size, n_iter=n_iter,
                                   duplicate_cosine=options["duplicate_cosine"])
        return _output(d, replaced, data, spec, spec.num_latents + n_iter * batch_size, held_out)

    return run
