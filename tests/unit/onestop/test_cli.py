"""The onestop command line on the embedded default."""

import json

from click.testing import CliRunner

from onestop.cli import main


def test_migrate_seed_and_api_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    r = runner.invoke(main, ["seed-demo"])
    assert r.exit_code == 0, r.output
    creds = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert set(creds) == {"admin", "district", "staff", "agency", "people"}
    assert creds["people"]["sec.admin"]["second_factor_secret"]  # shown when made
    assert "second_factor_secret" not in creds["people"]["chen.jing"]
    assert creds["agency"]["agency_id"] == "ag-pat-1"
    again = runner.invoke(main, ["seed-demo"])  # keeps the same keys
    assert again.exit_code == 0
    assert json.loads((tmp_path / "var" / "demo-credentials.json").read_text()) == creds
    r = runner.invoke(
        main,
        [
            "apikey",
            "create",
            "--role",
            "district",
            "--jurisdiction",
            "630103",
            "--name",
            "城中区 system",
        ],
    )
    assert r.exit_code == 0 and r.output.startswith("osk_")
    key_id = r.output.strip().split("_")[1]
    assert runner.invoke(main, ["apikey", "revoke", key_id]).exit_code == 0
    assert runner.invoke(main, ["apikey", "revoke", key_id]).exit_code != 0
    bad = runner.invoke(
        main, ["apikey", "create", "--role", "district", "--jurisdiction", "999999", "--name", "x"]
    )
    assert bad.exit_code == 2 and "unknown jurisdiction" in bad.output


def test_the_first_security_administrator_is_made_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESTOP_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    assert (
        runner.invoke(main, ["directory", "import-divisions", "--province", "630000"]).exit_code
        == 0
    )
    args = ["directory", "create-person", "--id", "qh.sec", "--name", "省安全管理员"]
    args += ["--unit", "630000", "--role", "secadmin"]
    weak = runner.invoke(main, [*args, "--password", "password"])
    assert weak.exit_code == 2 and "password" in weak.output
    made = runner.invoke(main, [*args, "--password", "Qinghai-Security-2026"])
    assert made.exit_code == 0, made.output
    person = json.loads(made.output)
    assert person["roles"] == ["secadmin"] and person["second_factor_uri"].startswith("otpauth://")
    assert runner.invoke(main, ["directory", "rotate-signing-key"]).exit_code == 0
