"""Method order and styles from registry metadata, and the line figures drawn with them."""


from sparsecomp.methods import registry
from sparsecomp.report import figures, styles


def test_method_order_and_styles_are_canonical():
    names = ["zeta", "refined_relu", "sae_topk", "fista+relu", "fista_oracle", "alpha",
             "warm_dl_relu", "warm_relu", "fista+topk", "linear_probe"]
    assert styles.method_order(names) == [
        "fista_oracle", "linear_probe", "sae_topk", "fista+relu", "refined_relu", "warm_relu",
        "warm_dl_relu", "fista+topk", "alpha", "zeta"]
    relu = styles.method_style("sae_relu")
    assert styles.method_style("refined_relu")["color"] == relu["color"]
    assert styles.method_style("refined_relu")["linestyle"] != relu["linestyle"]
    # Derived from a newer SAE type: that SAE's colour, from metadata alone.
    assert (styles.method_style("refined_topk_auxk")["color"]
            == styles.method_style("sae_topk_auxk")["color"])
    # Names are never parsed: one nothing registers is an "other" method.
    assert styles.method_sort_key("fista+sae_relu") == (2, 0, 0, "fista+sae_relu")
    assert styles.method_style("unknown") == styles.method_style("unknown")
    assert figures.choose_xscale([50, 100, 10000]) == "log"
    assert figures.choose_xscale([0, 1, 10, 500]) == "symlog"
    assert figures.choose_xscale([20, 40]) == "linear"
    labels = [figures.tick_label(x) for x in (0.01, 5000, 10000, 50000, 100000, 12345)]
    assert labels == ["0.01", "5000", "10k", "50k", "100k", "12345"]


def test_a_familys_nth_method_of_an_sae_type_takes_the_familys_nth_slot(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})

    def make(config, spec):
        raise NotImplementedError

    registry.register_method("sae_topk_auxk", family="sae", sae_type="topk_auxk")(make)
    for name in ("toy_warm", "toy_cold", "toy_third"):
        registry.register_method(name, family="warmstart_encoder", sae_type="topk_auxk")(make)
    registry.register_method("toy_custom", sae_type="topk_auxk")(make)
    assert styles.method_order(["toy_custom", "toy_third", "toy_cold", "toy_warm",
                                "sae_topk_auxk", "fista_oracle"]) == [
        "fista_oracle", "sae_topk_auxk", "toy_warm", "toy_cold", "toy_custom", "toy_third"]
    sae, warm, cold = (styles.method_style(m) for m in ("sae_topk_auxk", "toy_warm", "toy_cold"))
    assert warm["color"] == cold["color"] == sae["color"]
    assert len({(s["linestyle"], s["marker"]) for s in (sae, warm, cold)}) == 3
    # Past the family's slots, or in a family without any: a colour of its own.
    for name in ("toy_third", "toy_custom"):
        assert styles.method_style(name)["color"] != sae["color"]
        assert styles.method_style(name)["marker"] == "d"


def test_line_figure_draws_guide_lines_and_new_methods_have_their_own_colours():
    panel = figures.Panel("p", [figures.Line("itkrm", [1, 10], [0.5, 0.95], [0.1, 0.0])])
    fig = figures.line_figure([panel], xlabel="x", ylabel="y", xscale="log", ylines=(0.9,))
    assert any(list(line.get_ydata()) == [0.9, 0.9] for line in fig.axes[0].lines)
    new = ["dl_fista_data", "dl_fista_resample", "dl_online", "itkrm", "sae_topk_auxk",
           "sae_batchtopk"]
    colours = {str(styles.method_style(m)["color"]) for m in styles.BASE_METHODS}
    assert len(colours) == len(styles.BASE_METHODS)
    assert styles.method_order(new[::-1] + ["sae_MP", "fista_oracle"]) == [
        "fista_oracle", "sae_MP", *new]


def test_every_registered_method_has_its_own_colour_and_marker():
    import sparsecomp.methods  # noqa: F401  (registers the methods)

    pairs = {}
    for name in registry.registered_methods():
        style = styles.method_style(name)
        pairs.setdefault((str(style["color"]), style["marker"]), []).append(name)
    assert [names for names in pairs.values() if len(names) > 1] == []
    # The n = 10,000 headline point and the streaming learner no longer share a style.
    assert styles.method_style("itkrm_stream") != styles.method_style("lasso+dl_online_ws")
    # An unregistered name (old rows) still gets a stable style of the others' set.
    assert styles.method_style("old_name") == styles.method_style("old_name")
    assert styles.method_style("old_name")["marker"] in {m for _, m in styles.other_styles()}
