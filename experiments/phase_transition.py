"""phase_transition: where recovery breaks as observations get scarce (protocol section 5).

Command::

    python -m sparsecomp --config experiments/phase_transition.py \
        --workdir runs/phase_transition

The grid n in (50, 100, 200) x k in (3, 5, 10) x c in (0.5, 1, 1.5, 2, 2.5,
3, 4, 5, 6), with ``input_dim = max(k + 1, ceil(c k ln(n / k)))`` from c;
plot MCC against ``eps = m / (k ln(n / k))`` (rows carry ``input_dim``, ``k``
and ``num_latents``). Methods: the oracle (supervised dictionary), DL-FISTA
(learned dictionary), the linear probe and the four SAEs; seeds 0-2.

Expected headline (paper): the oracle's mcc_ood rises sharply around eps ~ 1
and is >= 0.95 from eps ~ 2; DL-FISTA follows it a little later; the SAEs
stay well below at every eps.
Expected runtime on the 2-core CPU: about 2 hours (77 distinct points: large c
gives input_dim = n at n = 50, where several c coincide).

``:smoke`` runs a 2 x 2 grid in seconds.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke


def get_config(arg: str | None = None):
    config = base_config()
    config.sweep.num_latents = (50, 100, 200)
    config.sweep.k = (3, 5, 10)
    config.sweep.c = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
    config.methods = ("fista_oracle", "dl_fista", "linear_probe") + per_sae("sae_{}")
    if arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (20,)
        config.sweep.k = (3,)
        config.sweep.c = (1.0, 2.0)
        config.methods = ("fista_oracle", "dl_fista", "linear_probe") + per_sae(
            "sae_{}", types=SWEEP_SMOKE_SAE_TYPES)
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'smoke' or nothing")
    return config
