"""The provisioning export and the customer naming it shares with the cloud's demo."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from meter.cli import main
from meter.provisioning import FIELDS, fleet_rows, to_csv, to_json
from nevoa_core.fleet_naming import customer_naming, region_number
from nevoa_core.kinds import Kind


def test_the_demo_customers_keep_their_names() -> None:
    maria = customer_naming("r1", 1, 1)
    assert (maria.username, maria.registration) == ("maria", "10001")
    assert customer_naming("r2", 2, 1).username == "joao"
    assert customer_naming("r2", 2, 1).registration == "10002"
    other = customer_naming("r2", 2, 7)
    assert (other.username, other.registration) == ("customer-r2-000007", "2000007")
    assert region_number("r12") == 12
    with pytest.raises(ValueError):
        region_number("north")


def test_csv_and_json_carry_the_same_rows() -> None:
    rows = list(fleet_rows("r1", 1, Kind.WATER, range(500_001, 500_004)))
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert tuple(table[0]) == FIELDS
    assert table == json.loads(to_json(rows))
    assert table[0] == {"meter_id": "r1-w500001", "kind": "water", "region": "r1",
                        "username": "customer-r1-500001", "registration": "1500001"}


def test_the_cli_exports_without_simulating(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    assert main(["--region", "r1", "--count", "3", "--export", str(tmp_path / "f.csv"),
                 "--export", str(tmp_path / "f.json"), "--export", "-", "--export-only"]) == 0
    printed = capsys.readouterr().out
    assert printed == (tmp_path / "f.csv").read_text()
    assert printed.splitlines()[1] == "r1-e000001,electricity,r1,maria,10001"
    assert [m["meter_id"] for m in json.loads((tmp_path / "f.json").read_text())] == [
        "r1-e000001", "r1-e000002", "r1-e000003"]


def test_replicas_export_their_own_ranges(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--region", "r2", "--count", "2", "--replica-index", "3", "--export", "-",
          "--export-only"])
    assert [line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "r2-e000005", "r2-e000006"]


def test_help_and_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "--fault" in capsys.readouterr().out
    for bad in (["--count", "0"], ["--fault", "fire=0.1"], ["--tendency", "wild"],
                ["--start", "yesterday"], ["--interval", "-1"]):
        with pytest.raises(SystemExit) as done:
            main(["--region", "r1", *bad, "--export-only"])
        assert done.value.code == 2
