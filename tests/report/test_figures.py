"""Line figures: readable ticks, one entry for identical methods, dot plots for one x."""

import pytest

from sparsecomp.report import figures


def _overlapping(fig):
    fig.canvas.draw()
    return [ax.get_title() for ax in fig.axes if ax.axison
            and figures._overlaps(figures.xtick_boxes(ax), 0.0)]


# Enough legend entries to squeeze the panels, as in frozen_decoder's figures.
_MANY = ("sae_relu", "sae_topk", "sae_jumprelu", "sae_MP", "fista_oracle", "dl_fista",
         "softplus_adam", "linear_probe", "itkrm", "itkrm_stream", "lasso+dl_online_ws",
         "dl_online", "dl_online_ws", "dl_fista_data", "dl_fista_resample", "lista")


@pytest.mark.parametrize("xscale", [None, "linear"])
@pytest.mark.parametrize("xs", [
    [50, 100, 500, 1000],  # vary_latents ("50100" on a linear axis)
    [10000, 20000, 40000, 100000, 200000],  # dictionary_scaling ("10k20k40k...")
    [0, 1, 2, 5, 10, 20, 50, 100, 200, 500],  # n_iter with 0: symlog
])
def test_tick_labels_never_overlap(xs, xscale):
    lines = [figures.Line(m, xs, [j + 0.1 * i for i in range(len(xs))])
             for j, m in enumerate(_MANY)]
    panels = [figures.Panel(f"p{i}", lines) for i in range(3)]
    fig = figures.line_figure(panels, xlabel="x", ylabel="y", xscale=xscale)
    assert _overlapping(fig) == []
    assert all(len(figures.xtick_boxes(ax)) >= 2 for ax in fig.axes if ax.axison)


def test_default_log_ticks_never_overlap():
    xs = [3.0 * 1.3 ** i for i in range(30)]
    fig = figures.line_figure([figures.Panel("p", [figures.Line("itkrm", xs, xs)])],
                              xlabel="x", ylabel="y", xscale="log", value_ticks=False)
    assert _overlapping(fig) == []
    assert figures.choose_xscale([10000, 200000]) == "log"  # a x20 span is a log axis


def test_identical_methods_are_drawn_once_with_one_legend_entry():
    same = ([1, 2, 3], [0.5, 0.6, 0.7], [0.01, 0.01, 0.0])
    panels = [figures.Panel("a", [
        figures.Line("refined_relu", *same), figures.Line("fista+relu", *same),
        figures.Line("sae_relu", [1, 2, 3], [0.4, 0.5, 0.6]),
        figures.Line("refined_relu", [1, 2, 3], [0.3, 0.3, 0.3], reference=True)],
        [figures.HLine("fista_oracle", 0.9), figures.HLine("linear_probe", 0.9)])]
    merged, labels = figures.merge_identical(panels)
    assert labels["fista+relu"] == "fista+relu = refined_relu"
    assert labels["fista_oracle"] == "fista_oracle = linear_probe"
    drawn = [(ln.method, ln.reference) for ln in merged[0].lines]
    # The dropped method's reference stays, in the kept method's colour.
    assert drawn == [("fista+relu", False), ("sae_relu", False), ("fista+relu", True)]
    fig = figures.line_figure(panels, xlabel="x", ylabel="y")
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["fista_oracle = linear_probe", "sae_relu", "fista+relu = refined_relu",
                     "reference"]
    # Equal in one panel only is not identical.
    other = figures.Panel("b", [figures.Line("fista+relu", [1], [0.1]),
                                figures.Line("refined_relu", [1], [0.2])])
    assert figures.merge_identical(panels + [other])[1]["fista+relu"] == "fista+relu"
    # Within 0.5% of the y range (drawn on top of each other): one entry, "≈".
    close = figures.Panel("b", [figures.Line("fista+relu", [1], [0.1]),
                                figures.Line("refined_relu", [1], [0.1001])])
    merged, labels = figures.merge_identical(panels + [close])
    assert labels["fista+relu"] == "fista+relu ≈ refined_relu"
    assert "refined_relu" not in {ln.method for ln in merged[1].lines}


def test_single_x_figures_are_dot_plots_without_lines():
    panels = [figures.Panel("k=10", [
        figures.Line("sae_relu", [100000], [0.5], [0.02]),
        figures.Line("fista_oracle", [100000], [0.9], [0.01]),
        figures.Line("fista_oracle", [100000], [0.88], reference=True)])]
    assert figures.is_single_point(panels)
    fig = figures.line_figure(panels, xlabel="num_latents", ylabel="mcc_ood")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fista_oracle", "sae_relu"]
    assert "num_latents = 100k" in ax.get_title()
    assert all(line.get_linestyle() == "None" for line in ax.lines)
    # A lone point among longer lines is a marker too.
    mixed = [figures.Panel("p", [figures.Line("sae_relu", [1, 2], [0.1, 0.2]),
                                 figures.Line("itkrm", [2], [0.3])])]
    fig = figures.line_figure(mixed, xlabel="x", ylabel="y")
    styles = {tuple(line.get_xdata()): line.get_linestyle() for line in fig.axes[0].lines}
    assert styles[(2,)] == "None" and styles[(1, 2)] == "-"


def test_curve_axes_say_what_a_step_counts_and_titles_what_a_figure_shows():
    import sparsecomp.methods  # noqa: F401  (registers the methods)
    from sparsecomp.report import plots

    assert plots.curve_xlabel(["sae_relu", "sae_topk"]) == "epoch"
    assert plots.curve_xlabel(["sae_relu", "dl_fista"]) == "round / epoch"  # canonical order
    assert plots.curve_xlabel(["dl_online"]) == "samples drawn"
    assert plots.curve_xlabel(["softplus_adam"]) == "Adam step"
    assert plots.curve_xlabel(["unregistered"]) == "step"
    assert (plots.metric_title("mcc_ood", "num_latents")
            == "OOD latent recovery (mcc_ood) vs number of latents n")
    assert plots.metric_title("new_metric", "lam") == "new_metric vs L1 weight λ"
