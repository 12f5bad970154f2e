"""large_latents: the oracle at every size, other methods where feasible (protocol section 5).

Command::

    python -m sparsecomp --config experiments/large_latents.py --workdir runs/large_latents

k = 10, 5000 samples, n in (1000, 10000, 50000, 100000), seeds 0-2 (the
reference used 1000 samples at n in (1000, 10000): add
``--config.data.n_samples=1000`` to put rows beside theirs). The oracle on
the true matrix (never an n x n matrix; on CPU in row blocks) and the linear
probe run at every size; ``:all`` adds the SAEs and the FISTA-on-decoder
methods, which are feasible up to n = 10000 on a CPU (their n x m decoders
are small; training cost grows with n).

The oracle solves the Lasso to its optimum here (``fista.solver =
"working_set"``, ``sparsecomp.coding.working_set``): the paper's 100 FISTA
steps from zero do not converge at these widths (step 1 / ||A||^2 with
||A||^2 ~ (1 + sqrt(n / m))^2, ~550 at n = 100,000, m = 185; their result
there is ``results/large_latents_100k_fista100``). The working-set solver
solves each sample on 64 coordinates and adds those whose optimality
condition fails on the full problem, until every condition holds to 1e-3
lam (``kkt_violation`` in each row); its speed against FISTA is in
``docs/benchmarks.md`` (``benchmarks/bench_working_set.py``).
``--config.fista.solver=fista`` gives the paper's oracle.

Results: ``results/large_latents_100k/report.md`` (the oracle at n = 100,000
alone: ``--config.sweep.num_latents='(100000,)'
--config.methods='("fista_oracle",)'``); its notes give the runtime and peak
memory on the 2-core CPU. Expected headline (paper): ``fista_oracle``
near 1 at every n; ``linear_probe`` falls towards 0. Codes of val and OOD are
dense (3 x 5000 x n float32, 6 GB at n = 100,000); ground-truth codes are
stored sparse; the latent MCC of sparse codes takes its candidates from
co-occurrences (11 s per ID MCC at n = 100,000).

``:smoke`` runs two tiny points in seconds.
"""

from sparsecomp.errors import ConfigError
from sparsecomp.run.defaults import SWEEP_SMOKE_SAE_TYPES, base_config, per_sae, shrink_for_smoke


def get_config(arg: str | None = None):
    config = base_config()
    config.sweep.num_latents = (1000, 10000, 50000, 100000)
    config.methods = ("fista_oracle", "linear_probe")
    # One method at a time: at n = 100,000 a method's codes alone are
    # 3 seeds x 5000 x 100,000 float32 = 6 GB.
    config.concurrent_methods = 1
    config.fista.solver = "working_set"
    if arg == "all":
        config.sweep.num_latents = (1000, 10000)
        config.methods += per_sae("sae_{}", "fista+{}", "refined_{}")
    elif arg == "smoke":
        shrink_for_smoke(config)
        config.sweep.num_latents = (50, 200)
        config.methods += per_sae("sae_{}", "fista+{}", types=SWEEP_SMOKE_SAE_TYPES)
    elif arg:
        raise ConfigError(f"unknown config argument {arg!r}; use 'all', 'smoke' or nothing")
    return config
