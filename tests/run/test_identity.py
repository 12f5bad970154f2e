"""Group fingerprints: what they cover, for every registered method, and how runs use them."""

import json
import shutil
from pathlib import Path

import jax
import pytest

import sparsecomp
from sparsecomp.data import make_dataset
from sparsecomp.errors import ConfigError, WorkdirError
from sparsecomp.methods import registry
from sparsecomp.run import identity
from sparsecomp.run.defaults import base_config, shrink_for_smoke
from sparsecomp.run.resume import ROUNDING_RTOL
from sparsecomp.run.schema import CONFIG_FILE, RESULTS_FILE, TIMING_FIELDS

# One valid change per top-level config field. A field added to base_config
# must be added here (test_the_perturbations_cover_every_config_field).
PERTURBATIONS = {
    "fista": ("lam", 0.2),
    "working_set": ("tol", 2e-3),
    "warmstart": ("n_iters", (0, 2, 11)),
    "support_recovery": ("n_iter", 31),
    "linear_probe": ("alphas", (1e-6, 1.0)),
    "sae": ("epochs", 3),
    "dl_fista": ("max_rounds", 21),
    "softplus_adam": ("max_steps", 250),
    "itkrm": ("n_iter", 6),
    "dl_online": ("rho", 10.0),
    "lista": ("n_epochs", 100),
    # Never part of a fingerprint: the point is the spec, the rest say what runs and how.
    "data": ("c", 3.0),
    "sweep": ("num_latents", (20, 40)),
    "limits": ("dl_fista", {"n_samples": 10}),
    "seeds": (None, (0, 1, 2)),
    "methods": (None, ("fista_oracle",)),
    "devices": (None, 1),
    "concurrent_methods": (None, 1),
}
SPEC = sparsecomp.make_spec(num_latents=20, k=3, n_samples=300)


def smoke_config():
    config = shrink_for_smoke(base_config())
    config.sweep.num_latents = (20,)
    return config


def builtin_methods():
    """The library's methods (tests elsewhere may register their own)."""
    return [name for name in registry.registered_methods()
            if registry.method_info(name).factory.__module__.startswith("sparsecomp.methods.")]


def identity_of(config, name, spec=SPEC):
    return identity.point_identities(config, spec, registry.with_requirements((name,)))[name]


def perturbed(section):
    config = smoke_config()
    field, value = PERTURBATIONS[section]
    if field is None:
        config[section] = value
    else:
        config[section][field] = value
    return config


def test_the_perturbations_cover_every_config_field():
    assert set(PERTURBATIONS) == set(smoke_config().keys())
    assert len(builtin_methods()) >= 84


@pytest.mark.parametrize("section", sorted(PERTURBATIONS))
def test_a_fingerprint_changes_exactly_with_the_sections_its_method_reads(section):
    """For every method: a field of a section it (or a method it requires) reads changes
    its fingerprint; any other section does not."""
    config = perturbed(section)
    for name in builtin_methods():
        before = identity_of(smoke_config(), name)
        after = identity_of(config, name)
        assert (before.fingerprint != after.fingerprint) == (section in before.sections), (
            name, section, sorted(before.sections))


def test_the_sections_are_those_the_methods_read():
    """Checks the recorder against what the adapters' docstrings say they read."""
    def sections(name, config=None):
        return identity_of(config or smoke_config(), name).sections

    assert sections("fista_oracle") == {"fista"}
    solver = smoke_config()
    solver.fista.solver = "working_set"
    assert sections("fista_oracle", solver) == {"fista", "working_set"}
    assert sections("linear_probe") == {"linear_probe"}
    assert sections("sae_relu") == {"sae", "fista"}  # fista: the amortisation gap
    assert sections("support_lstsq_relu") == {"support_recovery", "sae", "fista"}
    assert sections("lasso+dl_fista") == {"fista", "working_set", "dl_fista"}
    # A method that requires another carries that group's fingerprint.
    derived = identity_of(smoke_config(), "fista+relu")
    assert derived.content["requires"] == {"sae_relu": identity_of(smoke_config(),
                                                                   "sae_relu").fingerprint}
    # same_as methods are one computation: one fingerprint.
    assert identity_of(smoke_config(), "cold_dl_topk") == identity_of(smoke_config(),
                                                                      "cold_dl_relu")


def test_the_point_is_part_of_every_fingerprint():
    other = sparsecomp.make_spec(num_latents=20, k=3, n_samples=400)
    for name in builtin_methods():
        assert identity_of(smoke_config(), name) != identity_of(smoke_config(), name, other)


def test_fields_at_their_default_are_left_out():
    """A field added to the library later, at its default, changes no fingerprint."""
    config = smoke_config()
    content = identity_of(config, "fista_oracle").content
    assert content["sections"] == {"fista": {"n_iter": 30}}  # smoke's; lam at its default
    assert len(identity_of(config, "fista_oracle").fingerprint) == identity.FINGERPRINT_HEX
    config.fista.lam = 0.1  # the default, set explicitly
    assert identity_of(config, "fista_oracle").content == content


def test_run_reads_only_covered_sections_when_traced():
    """Every method's run, traced, reads no section that its fingerprint does not cover
    (the trainer checks the same as it compiles)."""
    config = smoke_config()
    names = registry.with_requirements(builtin_methods())
    runs = {(registry.computed_as(name), SPEC): identity.recorded_factory(config, name, SPEC)
            for name in names}
    identities = identity.point_identities(config, SPEC, names, runs)
    key = jax.random.key(0)
    data = jax.eval_shape(lambda k: make_dataset(k, SPEC), key)
    params = {}
    for name in names:
        source = registry.computed_as(name)
        run, reads = runs[source, SPEC]
        requires = registry.method_info(source).requires
        args = (key, data) + (({r: params[r] for r in requires},) if requires else ())
        params[name] = jax.eval_shape(run, *args).params
        identity.check_late_reads(name, reads, identities[name])


def test_config_reads_records_what_a_factory_sees():
    reads = identity.ConfigReads(smoke_config())
    _ = reads.fista.lam, reads["sae"], reads.get("lista"), "itkrm" in reads, reads.devices
    assert reads.read == {"fista", "sae", "lista", "itkrm"}  # devices: execution only
    reads.to_dict()  # sees everything
    assert reads.read == set(smoke_config().keys()) - {"devices", "concurrent_methods"}
    reads.seal()
    _ = reads.dl_fista
    assert reads.late == {"dl_fista"}
    with pytest.raises(TypeError, match="must not change the config"):
        reads.fista = None


def test_a_run_reading_an_uncovered_section_late_is_a_bug(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @sparsecomp.register_method("test_lazy_reader")
    def make(config, spec):
        def run(key, data):
            scale = float(config.lista.lam)  # read while traced, in no fingerprint
            return sparsecomp.MethodOutput(codes_val=data.z_val * scale,
                                           codes_ood=data.z_ood * scale)

        return run

    config = tiny_config()
    config.methods = ("test_lazy_reader",)
    with pytest.raises(RuntimeError, match="test_lazy_reader.*lista.*factory"):
        sparsecomp.train_and_evaluate(config, tmp_path)


# -- runs on a workdir ------------------------------------------------------------------


def tiny_config(seeds=(0, 1), methods=("fista_oracle", "linear_probe")):
    config = base_config()
    config.data.k = 3
    config.data.n_samples = 200
    config.sweep.num_latents = (16,)
    config.seeds = seeds
    config.methods = methods
    return config


def _rows(workdir):
    return [json.loads(line) for line in (Path(workdir) / RESULTS_FILE).read_text().splitlines()]


def _untimed(rows):
    return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in rows]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished")
    sparsecomp.train_and_evaluate(tiny_config(), workdir)
    return workdir


def _copy(finished, tmp_path, *, config_json=True):
    workdir = tmp_path / "w"
    shutil.copytree(finished, workdir)
    if not config_json:
        (workdir / CONFIG_FILE).unlink()
    return workdir


def test_rows_carry_their_groups_fingerprint(finished):
    config = tiny_config()
    spec = sparsecomp.make_spec(num_latents=16, k=3, n_samples=200)
    for row in _rows(finished):
        assert row["fingerprint"] == identity_of(config, row["method"], spec).fingerprint


@pytest.mark.parametrize("config_json", [True, False])
def test_another_lam_is_refused_with_or_without_config_json(finished, tmp_path, config_json):
    workdir = _copy(finished, tmp_path, config_json=config_json)
    config = tiny_config()
    config.fista.lam = 5.0
    with pytest.raises(ConfigError) as error:
        sparsecomp.train_and_evaluate(config, workdir)
    message = str(error.value)
    assert "\n" not in message and "fista_oracle at n16_k3_m11_s200" in message
    assert "linear_probe" not in message  # it does not read fista
    # With config.json the fields are named; without, what the fingerprint covers.
    assert ("fista.lam" if config_json else "sections fista") in message
    assert _rows(workdir) == _rows(finished)
    assert (workdir / CONFIG_FILE).exists() == config_json  # nothing written
    if config_json:
        assert (workdir / CONFIG_FILE).read_text() == (finished / CONFIG_FILE).read_text()


def test_a_section_no_group_reads_may_change(finished, tmp_path):
    workdir = _copy(finished, tmp_path)
    config = tiny_config()
    config.sae.epochs = 7  # neither fista_oracle nor linear_probe reads sae
    rows = sparsecomp.train_and_evaluate(config, workdir)
    assert rows == _rows(finished)  # nothing rerun
    assert json.loads((workdir / CONFIG_FILE).read_text())["sae"]["epochs"] == 7


def test_adding_seeds_and_methods_extends_the_workdir(finished, tmp_path, capsys):
    workdir = _copy(finished, tmp_path, config_json=False)
    config = tiny_config(seeds=(0, 1, 2), methods=("fista_oracle", "linear_probe",
                                                   "softplus_adam"))
    config.softplus_adam.update({"max_steps": 50, "log_every": 25})
    rows = sparsecomp.train_and_evaluate(config, workdir)
    log = capsys.readouterr().out
    assert "fista_oracle at n16_k3_m11_s200: seeds [2] added; seeds [0, 1] recomputed" in log
    before = _rows(finished)
    assert _rows(workdir)[:len(before)] == before  # finished rows kept as they were
    fresh = sparsecomp.train_and_evaluate(config, tmp_path / "fresh")
    key = lambda row: (row["method"], row["seed"])  # noqa: E731
    assert sorted(map(key, rows)) == sorted(map(key, fresh))  # no row lost or duplicated
    fresh_of = {key(row): row for row in _untimed(fresh)}
    for row in _untimed(rows):
        if key(row) in {key(old) for old in before}:  # computed with 2 seeds, not 3
            expected = fresh_of[key(row)]
            assert row.keys() == expected.keys()
            for field, value in row.items():
                if isinstance(value, float):
                    assert value == pytest.approx(expected[field], rel=ROUNDING_RTOL), field
                else:
                    assert value == expected[field], field
        else:  # added: as in a fresh run with every seed
            assert row == fresh_of[key(row)]
    # Fewer seeds, in another order, fewer methods: all finished; nothing is deleted.
    assert sparsecomp.train_and_evaluate(tiny_config(seeds=(2, 0)), workdir) == _rows(workdir)
    sparsecomp.train_and_evaluate(tiny_config(seeds=(1,), methods=("linear_probe",)), workdir)
    assert _rows(workdir) == rows


def test_rows_written_twice_are_refused_not_dropped(finished, tmp_path):
    workdir = _copy(finished, tmp_path)
    lines = (workdir / RESULTS_FILE).read_text().splitlines(keepends=True)
    (workdir / RESULTS_FILE).write_text("".join(lines + lines[:1]))
    (workdir / CONFIG_FILE).unlink()
    with pytest.raises(WorkdirError,
                       match="the same row .`fista_oracle` at num_latents=16.*seed 0"):
        sparsecomp.train_and_evaluate(tiny_config(), workdir)
    assert (workdir / RESULTS_FILE).read_text() == "".join(lines + lines[:1])
    assert not (workdir / CONFIG_FILE).exists()


def _without_fingerprints(workdir):
    rows = [{k: v for k, v in row.items() if k != "fingerprint"} for row in _rows(workdir)]
    (workdir / RESULTS_FILE).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return rows


def test_rows_from_before_fingerprints_are_checked_against_config_json(finished, tmp_path):
    workdir = _copy(finished, tmp_path)
    legacy = _without_fingerprints(workdir)
    assert sparsecomp.train_and_evaluate(tiny_config(), workdir) == legacy  # as before
    changed = tiny_config()
    changed.sae.epochs = 7  # refused as before: config.json must keep describing them
    with pytest.raises(ConfigError, match=r"without fingerprints.*fields sae\.epochs"):
        sparsecomp.train_and_evaluate(changed, workdir)
    # Adding methods or seeds extends it; the new rows carry fingerprints, the old none.
    rows = sparsecomp.train_and_evaluate(tiny_config(seeds=(0, 1, 2)), workdir)
    assert rows[:len(legacy)] == legacy
    assert all("fingerprint" in row for row in rows[len(legacy):]) and len(rows) == 6
    (workdir / CONFIG_FILE).unlink()
    with pytest.raises(ConfigError, match=f"4 rows without a fingerprint.*{CONFIG_FILE}"):
        sparsecomp.train_and_evaluate(tiny_config(), workdir)
