#!/usr/bin/env python3
"""Generate the TLS certificates of nevoa's brokers: one CA, one server certificate per region.

Written next to the MQTT accounts of broker/gen_accounts.py (default broker/generated/):

  ca/ca.key            the CA's private key (mode 0600; never mounted anywhere)
  ca/ca.crt            the CA certificate: what meters and fog nodes trust
  {region}/tls/ca.crt      a copy of it, so a region's directory is all a region host needs
  {region}/tls/server.crt  the broker's certificate; its names (subjectAltName) are the
                           compose service name (mqtt-{region}), localhost, 127.0.0.1 and ::1
  {region}/tls/server.key  its private key (mode 0600; 0644 with --container-readable, for
                           a broker container whose user is not the file's owner: the 0700
                           output directory keeps it private on the host, as for meters.csv)

Clients verify the broker's certificate against the CA and the name they connect to;
the broker asks clients for no certificate (they log in with their MQTT account).
Keys are ECDSA P-256. Running it again keeps every certificate that is still good (signed
by the current CA, the same names, its key beside it, more than 30 days to go); --rotate
makes a new CA and new certificates. Uses the ``cryptography`` package when it is
importable, else the ``openssl`` command.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

REGION_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
SERVICE_NAME = "mqtt-{region}"  # the broker's service name in compose/docker-compose.yml
LOCAL_DNS = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")
CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = timedelta(days=30)
CA_NAME = "nevoa MQTT CA"


class CertError(RuntimeError):
    """A certificate could not be made (the message says which and why)."""


@dataclass(frozen=True)
class Names:
    """A server certificate's subjectAltName entries."""

    dns: tuple[str, ...]
    ips: tuple[str, ...]  # normalised by ipaddress

    @classmethod
    def of(cls, dns: Sequence[str], ips: Sequence[str]) -> Names:
        unique_dns = tuple(dict.fromkeys(d.lower() for d in dns))
        unique_ips = tuple(dict.fromkeys(str(ipaddress.ip_address(i)) for i in ips))
        return cls(unique_dns, unique_ips)

    def same_as(self, other: Names) -> bool:
        return set(self.dns) == set(other.dns) and set(self.ips) == set(other.ips)

    def __str__(self) -> str:
        return ", ".join((*self.dns, *self.ips))


@dataclass(frozen=True)
class Existing:
    """What an existing server certificate is, as far as keeping it goes."""

    names: Names
    not_after: datetime
    issued_by_ca: bool
    matches_key: bool


class Backend(Protocol):
    name: str

    def new_ca(self, key: Path, cert: Path, days: int) -> None: ...

    def new_server(self, ca_key: Path, ca_cert: Path, key: Path, cert: Path,
                   common_name: str, names: Names, days: int) -> None: ...

    def ca_expiry(self, ca_cert: Path) -> datetime | None: ...

    def inspect(self, cert: Path, key: Path, ca_cert: Path) -> Existing | None: ...


class CryptographyBackend:
    name = "cryptography"

    def __init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.x509, self.hashes, self.serialization, self.ec = x509, hashes, serialization, ec

    def _key(self, path: Path) -> Any:
        key = self.ec.generate_private_key(self.ec.SECP256R1())
        _write_private(path, key.private_bytes(
            self.serialization.Encoding.PEM, self.serialization.PrivateFormat.PKCS8,
            self.serialization.NoEncryption()))
        return key

    def _name(self, common_name: str) -> Any:
        oid = self.x509.oid.NameOID
        return self.x509.Name([self.x509.NameAttribute(oid.ORGANIZATION_NAME, "nevoa"),
                               self.x509.NameAttribute(oid.COMMON_NAME, common_name)])

    def _builder(self, subject: Any, issuer: Any, public_key: Any, days: int) -> Any:
        now = datetime.now(UTC)
        x = self.x509
        return (x.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(public_key).serial_number(x.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=days))
                .add_extension(x.SubjectKeyIdentifier.from_public_key(public_key), False))

    def new_ca(self, key: Path, cert: Path, days: int) -> None:
        x = self.x509
        private = self._key(key)
        name = self._name(CA_NAME)
        usage = x.KeyUsage(digital_signature=False, content_commitment=False,
                           key_encipherment=False, data_encipherment=False, key_agreement=False,
                           key_cert_sign=True, crl_sign=True, encipher_only=False,
                           decipher_only=False)
        built = (self._builder(name, name, private.public_key(), days)
                 .add_extension(x.BasicConstraints(ca=True, path_length=0), True)
                 .add_extension(usage, True)
                 .sign(private, self.hashes.SHA256()))
        _write_public(cert, built.public_bytes(self.serialization.Encoding.PEM))

    def new_server(self, ca_key: Path, ca_cert: Path, key: Path, cert: Path,
                   common_name: str, names: Names, days: int) -> None:
        x = self.x509
        ca = x.load_pem_x509_certificate(ca_cert.read_bytes())
        signer = self.serialization.load_pem_private_key(ca_key.read_bytes(), None)
        private = self._key(key)
        alt = [x.DNSName(d) for d in names.dns] + [
            x.IPAddress(ipaddress.ip_address(i)) for i in names.ips]
        usage = x.KeyUsage(digital_signature=True, content_commitment=False,
                           key_encipherment=False, data_encipherment=False, key_agreement=False,
                           key_cert_sign=False, crl_sign=False, encipher_only=False,
                           decipher_only=False)
        ski = ca.extensions.get_extension_for_class(x.SubjectKeyIdentifier).value
        built = (self._builder(self._name(common_name), ca.subject, private.public_key(), days)
                 .add_extension(x.SubjectAlternativeName(alt), False)
                 .add_extension(x.BasicConstraints(ca=False, path_length=None), True)
                 .add_extension(usage, True)
                 .add_extension(x.ExtendedKeyUsage([x.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                False)
                 .add_extension(
                     x.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
                 .sign(signer, self.hashes.SHA256()))
        _write_public(cert, built.public_bytes(self.serialization.Encoding.PEM))

    def ca_expiry(self, ca_cert: Path) -> datetime | None:
        try:
            return self.x509.load_pem_x509_certificate(ca_cert.read_bytes()).not_valid_after_utc
        except (OSError, ValueError):
            return None

    def inspect(self, cert: Path, key: Path, ca_cert: Path) -> Existing | None:
        x, enc = self.x509, self.serialization.Encoding.PEM
        spki = self.serialization.PublicFormat.SubjectPublicKeyInfo
        try:
            server = x.load_pem_x509_certificate(cert.read_bytes())
            ca = x.load_pem_x509_certificate(ca_cert.read_bytes())
            private = self.serialization.load_pem_private_key(key.read_bytes(), None)
            alt = server.extensions.get_extension_for_class(x.SubjectAlternativeName).value
        except (OSError, ValueError, x.ExtensionNotFound):
            return None
        try:
            server.verify_directly_issued_by(ca)
            issued = True
        except Exception:  # InvalidSignature, or ValueError/TypeError: not its issuer
            issued = False
        names = Names.of(alt.get_values_for_type(x.DNSName),
                         [str(i) for i in alt.get_values_for_type(x.IPAddress)])
        matches = (private.public_key().public_bytes(enc, spki)
                   == server.public_key().public_bytes(enc, spki))
        return Existing(names, server.not_valid_after_utc, issued, matches)


class OpensslBackend:
    name = "openssl"

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def _run(self, *args: str) -> str:
        done = subprocess.run([self.binary, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise CertError(f"openssl {args[0]} failed: {done.stderr.strip()[-400:]}")
        return done.stdout

    def _config(self, tmp: Path, common_name: str, names: Names | None) -> Path:
        alt = ", ".join([*(f"DNS:{d}" for d in names.dns), *(f"IP:{i}" for i in names.ips)]
                        ) if names else ""
        conf = tmp / "openssl.cnf"
        conf.write_text(f"""\
[req]
distinguished_name = dn
prompt = no
[dn]
O = nevoa
CN = {common_name}
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{"subjectAltName = " + alt if alt else ""}
""")
        return conf

    def new_ca(self, key: Path, cert: Path, days: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            self._run("req", "-x509", "-new", "-config", str(self._config(t, CA_NAME, None)),
                      "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", str(days),
                      "-keyout", str(t / "key"), "-out", str(t / "crt"))
            _write_private(key, (t / "key").read_bytes())
            _write_public(cert, (t / "crt").read_bytes())

    def new_server(self, ca_key: Path, ca_cert: Path, key: Path, cert: Path,
                   common_name: str, names: Names, days: int) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            conf = str(self._config(t, common_name, names))
            self._run("req", "-new", "-config", conf, "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(t / "key"),
                      "-out", str(t / "csr"))
            self._run("x509", "-req", "-in", str(t / "csr"), "-CA", str(ca_cert), "-CAkey",
                      str(ca_key), "-set_serial", f"0x{os.urandom(16).hex()}", "-sha256",
                      "-days", str(days), "-extfile", conf, "-extensions", "server_ext",
                      "-out", str(t / "crt"))
            _write_private(key, (t / "key").read_bytes())
            _write_public(cert, (t / "crt").read_bytes())

    def ca_expiry(self, ca_cert: Path) -> datetime | None:
        try:
            return self._not_after(ca_cert)
        except (CertError, ValueError):
            return None

    def _not_after(self, cert: Path) -> datetime:
        text = self._run("x509", "-in", str(cert), "-noout", "-enddate").strip()
        moment = datetime.strptime(text.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
        return moment.replace(tzinfo=UTC)

    def inspect(self, cert: Path, key: Path, ca_cert: Path) -> Existing | None:
        if not (cert.exists() and key.exists() and ca_cert.exists()):
            return None
        try:
            not_after = self._not_after(cert)
            alt = self._run("x509", "-in", str(cert), "-noout", "-ext", "subjectAltName")
            ours = self._run("pkey", "-in", str(key), "-pubout")
            theirs = self._run("x509", "-in", str(cert), "-noout", "-pubkey")
        except (CertError, ValueError):
            return None
        verified = subprocess.run([self.binary, "verify", "-CAfile", str(ca_cert), str(cert)],
                                  capture_output=True).returncode == 0
        entries = [e.strip() for e in alt.splitlines()[-1].split(",") if ":" in e]
        dns = [e.split(":", 1)[1] for e in entries if e.startswith("DNS:")]
        ips = [e.split(":", 1)[1] for e in entries if e.startswith("IP Address:")]
        return Existing(Names.of(dns, ips), not_after, verified, ours == theirs)


def pick_backend(preference: str = "auto") -> Backend:
    if preference in ("auto", "cryptography"):
        try:
            return CryptographyBackend()
        except ImportError:
            if preference == "cryptography":
                raise CertError("the cryptography package is not installed") from None
    binary = shutil.which("openssl")
    if binary is None:
        raise CertError("neither the cryptography package nor the openssl command is available")
    return OpensslBackend(binary)


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a file created mode 0600 (never readable by others,
    not even while it is written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_public(path: Path, data: bytes) -> None:
    _write_private(path, data)
    os.chmod(path, 0o644)


def server_names(region: str, service_name: str = SERVICE_NAME, extra: Sequence[str] = (),
                 local: bool = True) -> Names:
    """The names a region's broker answers to: its service name, ``extra`` (host names or
    IP addresses) and, unless ``local`` is off, localhost, 127.0.0.1 and ::1."""
    dns, ips = [service_name.format(region=region)], []
    for name in [*extra, *(LOCAL_DNS + LOCAL_IPS if local else ())]:
        try:
            ips.append(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(name)
    return Names.of(dns, ips)


def generate(regions: Sequence[str], out: Path, *, rotate: bool = False,
             service_name: str = SERVICE_NAME, extra_names: Sequence[str] = (),
             local_names: bool = True, days: int = SERVER_DAYS, ca_days: int = CA_DAYS,
             container_readable: bool = False, backend: Backend | None = None) -> list[str]:
    """Make or keep the CA and each region's server certificate; one line per action."""
    for region in regions:
        if not REGION_RE.fullmatch(region):
            raise CertError(f"region {region!r} must match {REGION_RE.pattern}")
    backend = backend or pick_backend()
    now = datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    ca_dir = out / "ca"
    ca_dir.mkdir(exist_ok=True)
    os.chmod(ca_dir, 0o700)
    ca_key, ca_cert = ca_dir / "ca.key", ca_dir / "ca.crt"
    report = []
    ca_until = None if rotate or not ca_key.exists() else backend.ca_expiry(ca_cert)
    if ca_until is None or ca_until - now < RENEW_BEFORE:
        backend.new_ca(ca_key, ca_cert, ca_days)
        report.append(f"CA: new certificate {ca_cert} ({backend.name})")
    else:
        report.append(f"CA: kept {ca_cert} (until {ca_until:%Y-%m-%d})")
    os.chmod(ca_key, 0o600)
    ca_pem = ca_cert.read_bytes()
    for region in regions:
        tls = out / region / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        os.chmod(tls, 0o755)  # the broker container's user must traverse it
        key, cert = tls / "server.key", tls / "server.crt"
        names = server_names(region, service_name, extra_names, local_names)
        found = None if rotate else backend.inspect(cert, key, ca_cert)
        if (found and found.issued_by_ca and found.matches_key and found.names.same_as(names)
                and found.not_after - now > RENEW_BEFORE):
            report.append(f"{region}: kept {cert} ({names}; until {found.not_after:%Y-%m-%d})")
        else:
            backend.new_server(ca_key, ca_cert, key, cert, names.dns[0], names, days)
            report.append(f"{region}: new certificate {cert} ({names})")
        os.chmod(key, 0o644 if container_readable else 0o600)
        if not (tls / "ca.crt").exists() or (tls / "ca.crt").read_bytes() != ca_pem:
            _write_public(tls / "ca.crt", ca_pem)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description="Generate a CA and a TLS server certificate per region for nevoa's "
                    "MQTT brokers (kept on later runs unless --rotate).",
        epilog="examples:\n"
               "  broker/gen_certs.py --regions r1,r2 --container-readable   # make certs\n"
               "  broker/gen_certs.py --regions r1 --host mqtt-r1.example.net --out /srv/tls\n"
               "files: <out>/ca/ca.{key,crt}, <out>/<region>/tls/{ca.crt,server.crt,server.key}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", default=os.environ.get("NEVOA_REGIONS", "r1,r2"),
                        help="comma-separated regions (default: %(default)s; env NEVOA_REGIONS)")
    parser.add_argument("--out", type=Path, default=here / "generated",
                        help="output directory, the accounts' one (default: broker/generated)")
    parser.add_argument("--service-name", default=SERVICE_NAME,
                        help="the broker's host name, {region} replaced (default: %(default)s)")
    parser.add_argument("--host", action="append", default=[], metavar="NAME",
                        help="another name or IP address of every broker (repeatable)")
    parser.add_argument("--no-local-names", action="store_true",
                        help="leave localhost, 127.0.0.1 and ::1 out of the certificates")
    parser.add_argument("--days", type=int, default=SERVER_DAYS,
                        help="server certificate validity (default: %(default)s)")
    parser.add_argument("--ca-days", type=int, default=CA_DAYS,
                        help="CA certificate validity (default: %(default)s)")
    parser.add_argument("--rotate", action="store_true",
                        help="new CA, keys and certificates even where the old ones are good")
    parser.add_argument("--container-readable", action="store_true",
                        help="server keys mode 0644 instead of 0600, for a broker container "
                             "running as another user (the 0700 --out keeps them private)")
    parser.add_argument("--backend", choices=["auto", "cryptography", "openssl"],
                        default="auto", help="how to make keys (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    try:
        if not regions:
            raise CertError("no regions given")
        report = generate(regions, args.out, rotate=args.rotate, service_name=args.service_name,
                          extra_names=args.host, local_names=not args.no_local_names,
                          days=args.days, ca_days=args.ca_days,
                          container_readable=args.container_readable,
                          backend=pick_backend(args.backend))
    except (CertError, OSError, ValueError) as exc:
        print(f"gen_certs: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
