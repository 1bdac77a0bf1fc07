"""The simulator's command line refuses configurations that could never work."""

from __future__ import annotations

from pathlib import Path

import pytest

from meter.cli import main


def test_a_credentials_file_missing_some_meters_is_refused_up_front(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    creds = tmp_path / "creds.csv"
    creds.write_text("meter_id,username,password\nr1-e000001,r1-e000001,secret\n")
    with pytest.raises(SystemExit) as stopped:
        main(["--region", "r1", "--count", "3", "--mode", "per-meter",
              "--credentials", str(creds), "--state-dir", str(tmp_path / "state")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "no account for 2 of these meters" in err and "r1-e000002" in err
