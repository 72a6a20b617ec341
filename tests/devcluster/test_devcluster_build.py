"""The build inputs and the PKI: checks that need no built binaries."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devcluster import binaries, certs
from spacecast.settings import DevClusterSettings

GO_DIR = binaries.PACKAGE_DIR / "go"


def test_wrapper_pins_kubernetes_and_every_staging_module_to_the_same_patch() -> None:
    version = binaries.pinned_versions()["KUBERNETES_VERSION"]
    gomod = (GO_DIR / "kubernetes" / "go.mod").read_text()
    assert f"k8s.io/kubernetes {version}" in gomod
    replaces = re.findall(r"^replace (\S+) => (\S+) (\S+)$", gomod, re.M)
    staging = "v0." + version.removeprefix("v1.")
    assert len(replaces) >= 31  # 33 staging modules in 1.36+
    assert {(mod, target, v) for mod, target, v in replaces} == {
        (mod, mod, staging) for mod, _, _ in replaces
    }


def test_etcd_wrapper_builds_the_pinned_3_6_server() -> None:
    version = binaries.pinned_versions()["ETCD_VERSION"]
    assert version.startswith("v3.6.")
    assert f"go.etcd.io/etcd/server/v3 {version}" in (GO_DIR / "etcd" / "go.mod").read_text()


def test_build_script_and_python_agree_on_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPACECAST_K8S_CACHE_DIR", str(tmp_path))
    out = subprocess.run(
        ["bash", str(binaries.BUILD_SCRIPT), "--print-bindir"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    version = binaries.pinned_versions()["KUBERNETES_VERSION"]
    assert Path(out.stdout.strip()) == tmp_path / version / "bin"
    with pytest.raises(binaries.BinariesMissing, match="make k8s-binaries"):
        binaries.locate(DevClusterSettings())


def test_pki_chains_to_the_right_cas(tmp_path: Path) -> None:
    pki = certs.generate(tmp_path, "10.0.0.1")
    serving_ca = x509.load_pem_x509_certificate(pki.serving_ca.read_bytes())
    client_ca = x509.load_pem_x509_certificate(pki.client_ca.read_bytes())
    serving = x509.load_pem_x509_certificate(pki.serving.cert.read_bytes())
    serving.verify_directly_issued_by(serving_ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    admin = x509.load_pem_x509_certificate(pki.clients["admin"].cert.read_bytes())
    admin.verify_directly_issued_by(client_ca)
    org = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == "system:masters"
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert oct(pki.sa_private_key.stat().st_mode & 0o777) == "0o600"
