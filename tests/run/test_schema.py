"""The row schema: point tags written and read back, group keys, labels."""

import sparsecomp
from sparsecomp.run import schema


def test_point_tags_leave_defaults_out_and_readers_put_them_back():
    spec = sparsecomp.make_spec(num_latents=20, k=3, n_samples=300)
    tags = schema.point_tags(spec)
    assert tags == {"num_latents": 20, "k": 3, "input_dim": spec.input_dim, "n_samples": 300}
    assert schema.point_of(tags) == (("num_latents", 20), ("k", 3),
                                     ("input_dim", spec.input_dim), ("n_samples", 300),
                                     ("noise", 0.0), ("n_eval", None))
    noisy = sparsecomp.make_spec(num_latents=20, k=3, n_samples=300, noise=0.1, n_eval=50)
    assert schema.point_tags(noisy)["noise"] == 0.1 and schema.point_tags(noisy)["n_eval"] == 50
    assert schema.point_name(noisy) == f"n20_k3_m{spec.input_dim}_s300_noise0.1_eval50"
    assert schema.point_label(schema.point_of(schema.point_tags(noisy))) == (
        f"num_latents=20, k=3, input_dim={spec.input_dim}, n_samples=300, noise=0.1, n_eval=50")


def test_group_key_tells_every_point_tag_apart():
    row = {"num_latents": 20, "k": 3, "input_dim": 11, "n_samples": 300, "method": "m"}
    keys = {schema.group_key(r) for r in (row, {**row, "noise": 0.0}, {**row, "noise": 0.1},
                                          {**row, "n_eval": 50}, {**row, "method": "other"})}
    assert len(keys) == 4  # an explicit default is the same point
    assert schema.group_key({**row, "seed": 1, "lam": 0.1}) == schema.group_key(row)


def test_variants_and_metrics():
    row = {"num_latents": 20, "method": "m", "lam": 0.1, "n_iter": None, "mcc_ood": 0.5}
    assert schema.variant_of(row) == (("lam", 0.1),)
    assert schema.variant_label(schema.variant_of(row)) == "lam=0.1"
    assert schema.variant_label(()) == ""
    assert set(schema.POINT_TAGS + schema.VARIANT_TAGS) <= schema.NOT_METRICS
    assert not set(schema.SUMMARY_METRICS + schema.HEADLINE_METRICS) & schema.NOT_METRICS
