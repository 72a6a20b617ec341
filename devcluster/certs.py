"""The PKI of a throwaway control plane: written fresh into its temp dir on every start.

Two CAs as in a real cluster (one signs the apiserver's serving cert, the other the client
certs it trusts), one client cert per component so the audit log tells who did what, and an
RSA key pair that signs and verifies service-account tokens.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Who each component is. Everything is in system:masters because this is a test cluster:
# the point is a real apiserver, not a least-privilege setup for the built-in components.
ADMIN_USER = "spacecast-admin"
MASTERS = "system:masters"
COMPONENT_USERS = {
    "admin": ADMIN_USER,
    "controller-manager": "system:kube-controller-manager",
    "scheduler": "system:kube-scheduler",
    "kwok": "kwok-controller",
}
# With a real node: the kubelet is a node (the Node authorizer and NodeRestriction confine it to
# its own node and pods), and the apiserver calls the kubelet (logs, exec) as its own client.
NODES = "system:nodes"
NODE_ADDONS = "spacecast:node-addons"  # a group that no role names
APISERVER_KUBELET_USER = "kube-apiserver-kubelet-client"
# Names clients may use for the apiserver: loopback plus the in-cluster service names.
SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
_VALIDITY = datetime.timedelta(days=7)

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ClusterPKI:
    serving_ca: Path
    serving: KeyPair
    client_ca: Path
    clients: dict[str, KeyPair]  # component -> its client cert
    sa_private_key: Path
    sa_public_key: Path
    kubelet_serving: KeyPair | None = None  # with a real node: its serving cert (serving CA)


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(subject: x509.Name, issuer: x509.Name, key: _PrivateKey) -> x509.CertificateBuilder:
    # Back-dated a minute so a freshly started process never sees "not yet valid".
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + _VALIDITY)
    )


class _CA:
    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            _builder(self.name, self.name, self.key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        sans: list[x509.GeneralName] | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(subject, self.name, key).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _write_pair(directory: Path, name: str, cert: x509.Certificate, key: _PrivateKey) -> KeyPair:
    return KeyPair(
        cert=_write(directory / f"{name}.crt", _cert_pem(cert)),
        key=_write(directory / f"{name}.key", _key_pem(key)),
    )


def _client_subject(user: str, group: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
        x509.NameAttribute(NameOID.COMMON_NAME, user),
    ])  # fmt: skip


def generate(directory: Path, service_ip: str, node: tuple[str, str] | None = None) -> ClusterPKI:
    """Write every certificate and key the control plane needs into `directory`; with `node`
    (its name and address), also the real node's: its kubelet's client (`kubelet`) and serving
    certs, and the apiserver's client cert for calling it (`apiserver-kubelet`)."""
    directory.mkdir(parents=True, exist_ok=True)
    serving_ca, client_ca = _CA("spacecast-serving-ca"), _CA("spacecast-client-ca")
    sans: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVING_DNS]
    # The real node's bridge address too: the apiserver listens there when the node has a
    # Service network (devcluster/cluster.py).
    addresses = ("127.0.0.1", service_ip, *([node[1]] if node else []))
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in addresses]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    serving = _write_pair(
        directory, "apiserver", *serving_ca.issue(subject, ExtendedKeyUsageOID.SERVER_AUTH, sans)
    )
    users = {component: (user, MASTERS) for component, user in COMPONENT_USERS.items()}
    kubelet_serving = None
    if node:
        name, address = node
        users["kubelet"] = (f"system:node:{name}", NODES)
        users["apiserver-kubelet"] = (APISERVER_KUBELET_USER, MASTERS)
        # Its Service network's (devcluster/service_network.py), bound by RBAC to what they read.
        users["kube-proxy"] = ("system:kube-proxy", NODE_ADDONS)
        users["coredns"] = ("system:coredns", NODE_ADDONS)
        names = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(address))]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}")])
        kubelet_serving = _write_pair(
            directory, "kubelet", *serving_ca.issue(subject, ExtendedKeyUsageOID.SERVER_AUTH, names)
        )
    clients = {}
    for component, (user, group) in users.items():
        cert, key = client_ca.issue(_client_subject(user, group), ExtendedKeyUsageOID.CLIENT_AUTH)
        clients[component] = _write_pair(directory, f"client-{component}", cert, key)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_public = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ClusterPKI(
        serving_ca=_write(directory / "serving-ca.crt", _cert_pem(serving_ca.cert)),
        serving=serving,
        client_ca=_write(directory / "client-ca.crt", _cert_pem(client_ca.cert)),
        clients=clients,
        sa_private_key=_write(directory / "sa.key", _key_pem(sa_key)),
        sa_public_key=_write(directory / "sa.pub", sa_public),
        kubelet_serving=kubelet_serving,
    )
