"""Online dictionary learning methods: ``dl_online`` (FISTA codes) and ``dl_online_ws``.

The adapters of ``sparsecomp.dictionary.online``: they read ``config.dl_online``
(and ``config.working_set`` when the mini-batches are coded by the working-set
solver) and code val and OOD by FISTA on the learned dictionary
(``config.fista``).
"""

from __future__ import annotations

from sparsecomp.coding.fista import fista
from sparsecomp.coding.held_out import fista_val_and_ood
from sparsecomp.coding.working_set import working_set_lasso
from sparsecomp.data import sample_observations, sample_tags
from sparsecomp.dictionary.online import FORGETTING, online_dictionary_learning
from sparsecomp.errors import require_choice, require_int, require_positive
from sparsecomp.methods.registry import MethodOutput, register_method
from sparsecomp.methods.sections import fista_options, solver_options


def _options(config, spec, solver: str | None) -> dict:
    """``config.dl_online``'s fields, validated; ``solver`` (if given) replaces
    ``dl_online.solver``, whose ``working_set_lasso`` options land in ``"working_set"``.

    Raises:
      ConfigError: naming the field and its valid range.
    """
    cfg = config.dl_online
    for field in ("n_iter", "batch_size", "block_size"):
        require_int(f"dl_online.{field}", cfg[field], lower=1)
    require_int("dl_online.log_every", cfg.log_every, lower=0)
    require_positive("dl_online.lam", cfg.lam)
    require_positive("dl_online.rho", cfg.rho)
    require_choice("dl_online.forgetting", cfg.forgetting, FORGETTING)
    batch_size = min(int(cfg.batch_size), spec.n_train)
    return dict(lam=float(cfg.lam), n_iter=int(cfg.n_iter), batch_size=batch_size,
                n_batches=max(1, spec.n_train // batch_size), forgetting=cfg.forgetting,
                rho=float(cfg.rho), block_size=int(cfg.block_size), log_every=int(cfg.log_every),
                working_set=solver_options("dl_online.solver", solver or cfg.solver, config,
                                           spec))


def _make_dl_online(solver: str | None):
    def make_dl_online(config, spec):
        """Online DL on ``n_train`` fresh samples; reads ``config.dl_online``.

        The point's ``n_samples // 2`` sets how many samples it draws (rows then
        sit beside the batch learners' at the same ``samples_seen``), not what it
        holds: ``n_train // batch_size`` mini-batches, each new. Rows carry
        ``n_resampled`` (dead atoms replaced), ``samples_seen`` (all it drew,
        including the ``width`` samples of the initial atoms) and
        ``samples_per_atom``; its curve (every ``dl_online.log_every``
        mini-batches, step = samples drawn) holds ``atoms_found``.
        ``dl_online_ws`` always codes with the working-set solver.
        """
        options = _options(config, spec, solver)
        held_out = fista_options(config)
        lam, n_iter, working_set = options["lam"], options["n_iter"], options["working_set"]
        batch_size, n_batches = options["batch_size"], options["n_batches"]

        def encode(y, dictionary):
            if working_set is None:
                return fista(y, dictionary, lam, n_iter=n_iter)
            return working_set_lasso(y, dictionary, lam, **working_set).codes

        def run(key, data):
            def sample(sample_key, n):
                return sample_observations(sample_key, data.mixing, spec, n)

            state, curve = online_dictionary_learning(
                key, sample, spec.num_latents, encode=encode, batch_size=batch_size,
                n_batches=n_batches,
                support_size=None if working_set is None else working_set["size"],
                forgetting=options["forgetting"], rho=options["rho"],
                block_size=options["block_size"], truth=data.mixing,
                log_every=options["log_every"])
            d = state.dictionary
            codes_val, codes_ood = fista_val_and_ood(data.y_val, data.y_ood, d, **held_out)
            drawn = spec.num_latents + n_batches * batch_size
            return MethodOutput(
                codes_val=codes_val, codes_ood=codes_ood, dictionary=d, params={"dictionary": d},
                scalars={**sample_tags(spec, drawn), "n_resampled": state.n_resampled},
                curves={"step": curve.samples, "atoms_found": curve.atoms_found})

        return run

    return make_dl_online


# dl_online_ws: dl_online with dl_online.solver = "working_set", a method of its
# own so that sweeps run both and rows keep them apart.
register_method("dl_online", family="dictionary_learning",
                curve_step="samples drawn")(_make_dl_online(None))
register_method("dl_online_ws", family="dictionary_learning",
                curve_step="samples drawn")(_make_dl_online("working_set"))
