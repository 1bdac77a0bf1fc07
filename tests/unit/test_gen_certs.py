"""broker/gen_certs.py: the brokers' certificates carry the right names and chain to the
CA, private keys are not readable by others, and a second run keeps what is still good
(with either backend: the cryptography package or the openssl command)."""

from __future__ import annotations

import importlib.util
import ipaddress
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

SCRIPT = Path(__file__).resolve().parents[2] / "broker" / "gen_certs.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_certs", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_certs"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen_certs = _load()


@pytest.fixture(params=["cryptography", "openssl"])
def backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "openssl" and shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    return gen_certs.pick_backend(request.param)


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_server_certificates_name_the_broker_and_chain_to_the_ca(tmp_path: Path,
                                                                 backend: Any) -> None:
    gen_certs.generate(["r1", "r2"], tmp_path, backend=backend)
    ca = cert(tmp_path / "ca" / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for region in ("r1", "r2"):
        tls = tmp_path / region / "tls"
        server = cert(tls / "server.crt")
        server.verify_directly_issued_by(ca)
        alt = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(alt.get_values_for_type(x509.DNSName)) == {f"mqtt-{region}", "localhost"}
        assert set(alt.get_values_for_type(x509.IPAddress)) == {
            ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
        assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
        assert (tls / "ca.crt").read_bytes() == (tmp_path / "ca" / "ca.crt").read_bytes()


def test_other_names_and_no_local_names(tmp_path: Path, backend: Any) -> None:
    gen_certs.generate(["r7"], tmp_path, service_name="broker-{region}",
                       extra_names=["mqtt-r7.example.net", "10.0.0.7"], local_names=False,
                       backend=backend)
    alt = cert(tmp_path / "r7" / "tls" / "server.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["broker-r7", "mqtt-r7.example.net"]
    assert alt.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7")]


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path, backend: Any) -> None:
    out = tmp_path / "generated"
    gen_certs.generate(["r1"], out, backend=backend)
    assert mode(out) == 0o700 and mode(out / "ca") == 0o700
    assert mode(out / "ca" / "ca.key") == 0o600
    assert mode(out / "r1" / "tls" / "server.key") == 0o600
    assert mode(out / "r1" / "tls" / "server.crt") == 0o644
    # for a broker container whose user owns nothing on the host; never the CA's key
    gen_certs.generate(["r1"], out, container_readable=True, backend=backend)
    assert mode(out / "r1" / "tls" / "server.key") == 0o644
    assert mode(out / "ca" / "ca.key") == 0o600
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no temporary files left


def test_a_second_run_keeps_everything_and_rotate_replaces_it(tmp_path: Path,
                                                              backend: Any) -> None:
    gen_certs.generate(["r1", "r2"], tmp_path, backend=backend)
    first = files(tmp_path)
    report = gen_certs.generate(["r1", "r2"], tmp_path, backend=backend)
    assert files(tmp_path) == first
    assert all("kept" in line for line in report)
    gen_certs.generate(["r1", "r2"], tmp_path, rotate=True, backend=backend)
    rotated = files(tmp_path)
    assert set(rotated) == set(first)
    assert all(rotated[name] != first[name] for name in first)


def test_a_new_region_gets_a_certificate_from_the_same_ca(tmp_path: Path,
                                                          backend: Any) -> None:
    gen_certs.generate(["r1"], tmp_path, backend=backend)
    first = files(tmp_path)
    gen_certs.generate(["r1", "r2"], tmp_path, backend=backend)
    after = files(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("r2/")} == first
    cert(tmp_path / "r2" / "tls" / "server.crt").verify_directly_issued_by(
        cert(tmp_path / "ca" / "ca.crt"))


@pytest.mark.parametrize("change", ["names", "ca", "expiry", "key"])
def test_a_certificate_that_is_no_longer_good_is_replaced(tmp_path: Path, backend: Any,
                                                          change: str) -> None:
    days = 10 if change == "expiry" else gen_certs.SERVER_DAYS  # within the renewal window
    gen_certs.generate(["r1"], tmp_path, days=days, backend=backend)
    server = tmp_path / "r1" / "tls" / "server.crt"
    before = server.read_bytes()
    extra: list[str] = []
    if change == "names":
        extra = ["mqtt-r1.example.net"]
    elif change == "ca":
        shutil.rmtree(tmp_path / "ca")
    elif change == "key":  # a crash between writing the new key and its certificate
        (tmp_path / "r1" / "tls" / "server.key").write_bytes(
            (tmp_path / "ca" / "ca.key").read_bytes())
    gen_certs.generate(["r1"], tmp_path, extra_names=extra, backend=backend)
    assert server.read_bytes() != before
    cert(server).verify_directly_issued_by(cert(tmp_path / "ca" / "ca.crt"))


def test_either_backend_keeps_the_others_certificates(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    gen_certs.generate(["r1"], tmp_path, backend=gen_certs.pick_backend("cryptography"))
    first = files(tmp_path)
    gen_certs.generate(["r1"], tmp_path, backend=gen_certs.pick_backend("openssl"))
    assert files(tmp_path) == first
    gen_certs.generate(["r1"], tmp_path, rotate=True, backend=gen_certs.pick_backend("openssl"))
    second = files(tmp_path)
    gen_certs.generate(["r1"], tmp_path, backend=gen_certs.pick_backend("cryptography"))
    assert files(tmp_path) == second


def test_command_line(tmp_path: Path) -> None:
    run = [sys.executable, str(SCRIPT)]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, check=True)
    assert "--rotate" in shown.stdout and "--container-readable" in shown.stdout
    made = subprocess.run([*run, "--regions", "r1", "--out", str(tmp_path)],
                          capture_output=True, text=True, check=True)
    assert "r1: new certificate" in made.stdout
    refused = subprocess.run([*run, "--regions", "R1!", "--out", str(tmp_path)],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "region 'R1!'" in refused.stderr
