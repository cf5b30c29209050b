from pathlib import Path

import yaml

from mtsed.cli.main import main
from tests.conftest import tiny_params_dict


def test_cli_runs_a_stage_and_writes_metrics(tmp_path: Path, clip_folder: Path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_dict(clip_folder)))
    metrics = tmp_path / "m.json"
    code = main(["--params", str(params), "--metrics", str(metrics), "clips", "--out", str(tmp_path / "clips")])
    assert code == 0 and '"clips": 16' in metrics.read_text()


def test_cli_reports_a_bad_parameter_by_key(tmp_path: Path, capsys):
    raw = tiny_params_dict()
    raw["features"]["hop_lenght"] = 10
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert main(["--params", str(params), "features", "--data", "x", "--out", "y"]) == 2
    assert "'features.hop_lenght' is not a known parameter" in capsys.readouterr().err


def test_cli_reports_a_missing_data_set(tmp_path: Path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params_dict()))
    assert (
        main(["--params", str(params), "features", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f")])
        == 2
    )
    assert "nowhere/manifest.json" in capsys.readouterr().err


def test_an_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    from mtsed.cli import commands
    from mtsed.model.training import TrainingInterrupted

    def interrupted(args):
        raise TrainingInterrupted(
            "fold 1 of baseline: stopped during training; last saved epoch 3/5 in x/last.pt; rerun to resume"
        )

    monkeypatch.setattr(commands, "detect", interrupted)
    assert main(["detect", "a.wav"]) == 130
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "mtsed detect: interrupted: fold 1 of baseline: stopped during training; last saved epoch 3/5 in "
        "x/last.pt; rerun to resume"
        and "Traceback" not in err
    )
