"""``linear_probe``: the ridge baseline, ridge regression from observations to latents.

Reads ``config.linear_probe.alphas`` and fits ``sparsecomp.coding.ridge``
on ``y_train -> z_train`` (alpha by exact leave-one-out); its predictions on
val and OOD are the codes (protocol section 3: the supervised ceiling for
linear read-outs).
"""

from __future__ import annotations

from sparsecomp.coding.ridge import fit_ridge_loo, ridge_predict
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import MethodOutput, register_method


@register_method("linear_probe", family="probe")
def make_linear_probe(config, spec):
    """Factory of the ``linear_probe`` method (reads ``config.linear_probe.alphas``).

    Args:
      config: the experiment ``ConfigDict``; section ``linear_probe`` with
        field ``alphas`` (sequence of floats > 0).
      spec: the sweep point's ``DataSpec`` (unused: the probe has no sizes to set).

    Returns:
      ``run(key, data) -> MethodOutput`` with the probe's predictions on val
      and OOD as codes, its weights as params and the chosen alpha as a scalar.

    Raises:
      ConfigError: if ``alphas`` is empty or holds a value that is not a number > 0.
    """
    del spec
    alphas = tuple(config.linear_probe.alphas)
    if not alphas or not all(
        not isinstance(a, bool) and isinstance(a, (int, float)) and a > 0 for a in alphas
    ):
        raise ConfigError(f"linear_probe.alphas={alphas!r} is invalid: it must be a non-empty "
                          "sequence of numbers > 0")

    def run(key, data):
        del key  # deterministic: ridge regression has no randomness
        fit = fit_ridge_loo(data.y_train, data.z_train, alphas)
        return MethodOutput(
            codes_val=ridge_predict(fit, data.y_val),
            codes_ood=ridge_predict(fit, data.y_ood),
            params={"weights": fit.weights},
            scalars={"alpha": fit.alpha},
        )

    return run
