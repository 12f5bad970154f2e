"""Tests of the packaged paper results and of the report's comparison with them."""

import csv
import hashlib
import json
from pathlib import Path

import pytest

from sparsecomp.errors import ConfigError
from sparsecomp.report.cli import main
from sparsecomp.report.reference import (
    experiment_of,
    experiments,
    reference_for,
    reference_sources,
    results_dir,
)
from sparsecomp.run.schema import COMPARISON_FILE

SHARED = Path("/work/shared/reference/results")  # the project's copy, where there is one
POINT = {"num_latents": 100, "k": 10, "input_dim": 47, "n_samples": 5000, "width": 100}


def _digests(entries) -> dict[str, str]:
    return {entry.name: hashlib.sha256(entry.read_bytes()).hexdigest() for entry in entries}


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared copy of the reference here")
def test_packaged_files_are_the_published_files_byte_for_byte():
    packaged = _digests(e for e in results_dir().iterdir() if e.name.endswith(".json"))
    assert packaged == _digests(SHARED.glob("*.json"))


def test_experiments_and_their_files_in_reading_order():
    assert {"vary_latents", "dict_quality", "frozen_decoder", "large_latents",
            "phase_transition"} <= set(experiments())
    assert [f.name for f in reference_for("vary_latents")] == [
        "exp_vary_latents.json", "exp_vary_latents_10k.json"]
    names = [f.name for f in reference_for("dict_quality")]
    assert names[:2] == ["exp_dict_quality_n50.json", "exp_dict_quality_n100.json"]
    assert names[6] == "exp_dict_quality_diagnostics_n50.json" and len(names) == 12
    with pytest.raises(ConfigError, match="no published results for experiment 'nope'"):
        reference_for("nope")


def test_a_results_directory_name_finds_its_experiment():
    assert experiment_of("vary_latents") == "vary_latents"
    assert experiment_of("vary_latents_large") == "vary_latents"
    assert experiment_of("large_latents_100k_fista100") == "large_latents"
    assert experiment_of("dictionary_scaling") is None
    files, experiment = reference_sources([], "frozen_decoder")
    assert experiment == "frozen_decoder"
    assert [f.name for f in files] == ["exp_frozen_decoder.json", "exp_frozen_decoder_10k.json"]
    files, experiment = reference_sources(["mine.json", "paper:vary_sparsity"], "run")
    assert files[0] == "mine.json" and files[1].name == "exp_vary_sparsity.json"
    assert experiment == "vary_sparsity"
    with pytest.raises(ConfigError, match="no experiment matches the workdir name 'run'"):
        reference_sources(["paper"], "run")


def _workdir(path, rows):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"seeds": [0, 1], "data": {"k": 10},
                                                  "methods": ["sae_relu"]}))
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_difference_in_acc_iid_is_marked_and_written(tmp_path):
    rows = [{**POINT, "method": "sae_relu", "seed": s, "mcc_ood": 0.5, "acc_iid": 0.9}
            for s in (0, 1)]
    ref = [{**POINT, "method": "sae_relu", "seed": s, "mcc_ood": 0.52, "acc_iid": 0.7}
           for s in (0, 1)]
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    workdir = _workdir(tmp_path / "run", rows)
    assert main([str(workdir), "--reference", str(tmp_path / "ref.json")]) == 0
    text = (workdir / "report.md").read_text()
    assert ("- **`sae_relu`** at num_latents=100, k=10, input_dim=47, n_samples=5000, "
            "`acc_iid`: ours 0.900 vs reference 0.700 (**+0.200** ⚠)") in text
    assert "`mcc_ood`: ours" not in text  # 0.02 apart: not marked
    assert "| sae | 2 | 1 | 1 | +0.200 (`sae_relu`, `acc_iid`," in text
    with (workdir / COMPARISON_FILE).open() as f:
        lines = {row["metric"]: row for row in csv.DictReader(f)}
    assert lines["acc_iid"]["marked"] == "1" and float(lines["acc_iid"]["diff"]) == 0.2
    assert lines["mcc_ood"]["marked"] == "0" and lines["mcc_ood"]["family"] == "sae"


def test_the_report_uses_the_packaged_reference_of_its_experiment(tmp_path, capsys):
    rows = [{**POINT, "method": "fista_oracle", "seed": s, "mcc_ood": 0.97} for s in (0, 1)]
    workdir = _workdir(tmp_path / "vary_latents", rows)
    assert main([str(workdir)]) == 0
    text = (workdir / "report.md").read_text()
    assert ("- reference: `exp_vary_latents.json`, `exp_vary_latents_10k.json` (the paper's "
            "published results for `vary_latents`") in text
    assert "1 of 1 groups have a reference match; 1 comparisons." in text
    assert main([str(workdir), "--no-reference"]) == 0
    assert "- reference:" not in (workdir / "report.md").read_text()
    assert not (workdir / COMPARISON_FILE).exists()
    other = _workdir(tmp_path / "run", rows)
    assert main([str(other), "--reference", "paper"]) == 2
    assert "no experiment matches the workdir name 'run'" in capsys.readouterr().err
    assert main([str(other), "--reference", "paper:vary_latents"]) == 0
    assert "1 of 1 groups have a reference match" in (other / "report.md").read_text()
