"""A certificate authority made in the test, and the server and client certificates it issues,
written as PEM files (ECDSA P-256, valid for a day): what the TLS tests serve and verify with."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    """A certificate's files and serial number."""

    cert_file: Path
    key_file: Path
    serial: int


@dataclass(frozen=True)
class LocalCa:
    """A self-signed CA; `ca_file` is what a peer trusts."""

    name: str
    ca_file: Path
    _key: ec.EllipticCurvePrivateKey
    _cert: x509.Certificate

    @classmethod
    def create(cls, directory: Path, name: str) -> LocalCa:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / f"{name}-ca.pem"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(name, ca_file, key, cert)

    def issue(self, directory: Path, name: str, *, client: bool = False) -> Issued:
        """A leaf for `localhost` and 127.0.0.1 (server) or named `name` (client), written to
        `<name>.pem` and `<name>-key.pem` in `directory` (replacing files already there)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        cert = (
            _builder(subject, self._cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / f"{name}.pem", directory / f"{name}-key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Issued(cert_file, key_file, cert.serial_number)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID)
    )


def client_context(ca_file: Path, client: Issued | None = None) -> ssl.SSLContext:
    """A client context trusting only `ca_file`, presenting `client`'s certificate when given."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if client is not None:
        context.load_cert_chain(client.cert_file, client.key_file)
    return context


def served_serial(host: str, port: int, context: ssl.SSLContext) -> int:
    """The serial of the certificate a new TLS connection to host:port is shown (blocking)."""
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


async def assert_refuses_plain_http_and_unknown_cas(url: str, scratch: Path) -> None:
    """A client trusting a CA of its own (made in `scratch`) and a plain HTTP client get no answer
    at `url` (https://...)."""
    stranger = LocalCa.create(scratch / "stranger", "stranger")
    async with httpx.AsyncClient(verify=client_context(stranger.ca_file)) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(url)
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError):
            await http.get(url.replace("https://", "http://", 1))
