"""C2PA content credentials: a signed manifest inside each file brushwork writes, saying that a
trained model made it (``c2pa.created``, IPTC's ``trainedAlgorithmicMedia``), with what method and
model, and declaring the invisible watermark (:mod:`plugin_core.watermark`) as its soft binding,
so the manifest can be found again from the pixels once the file has lost it.

Needs ``c2pa-python`` (the ``c2pa`` extra; the ``serve`` extra has it). Signing takes a PEM
certificate chain (the signer's first) and its private key; without them brushwork makes a
development certificate once (:meth:`Signer.development`), whose manifests read as signed by an
untrusted signer. Reading tells one of :data:`STATES`.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from . import __version__, watermark
from .errors import RequestError

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "TIFF": "image/tiff"}
"""The Pillow formats brushwork writes, as C2PA names them."""
TRAINED_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING = "com.brushwork.watermark.1"
"""The soft-binding algorithm: brushwork's watermark; its value, the payload's two 16-bit words."""
DEVELOPMENT_ISSUER = "brushwork (development certificate)"
DEVELOPMENT_VARIABLE = "BRUSHWORK_C2PA_DIR"
"""Where the development certificate is kept, when set (else ``~/.local/share/brushwork/c2pa``)."""
DEVELOPMENT_FILES = ("ca.pem", "signer.pem", "signer.key")
STATES = {
    "trusted": "valid, signed by a trusted signer",
    "untrusted": "valid, but the signer is not on a trust list",
    "tampered": "the file changed after it was signed, or the signature is broken",
    "absent": "no C2PA manifest",
    "unchecked": "not checked: c2pa-python is not installed (pip install 'brushwork[c2pa]')",
}


def installed() -> bool:
    return find_spec("c2pa") is not None


def _c2pa():
    if not installed():
        raise RequestError("content credentials need c2pa-python: pip install 'brushwork[c2pa]'")
    import c2pa

    return c2pa


@dataclass(frozen=True)
class Signer:
    """A PEM certificate chain (the signer's certificate first) and the signer's PEM private key."""

    certificates: bytes
    key: bytes

    @classmethod
    def load(cls, certificates: Path, key: Path) -> Signer:
        try:
            return cls(Path(certificates).read_bytes(), Path(key).read_bytes())
        except OSError as error:
            raise RequestError(f"cannot read the signing certificate or key: {error}") from None

    @classmethod
    def development(cls, folder: Path | None = None) -> Signer:
        """The development signer kept in ``folder`` (default: :func:`development_folder`), made there
        (a CA and a signer it certifies, ECDSA P-256) the first time."""
        folder = development_folder() if folder is None else folder
        if not all((folder / name).is_file() for name in DEVELOPMENT_FILES):
            _make_development_certificates(folder)
        return cls((folder / "signer.pem").read_bytes() + (folder / "ca.pem").read_bytes(),
                   (folder / "signer.key").read_bytes())


def chosen_signer(certificates: Path | None, key: Path | None, folder: Path | None = None) -> Signer:
    """The signer a user names (a certificate chain and its key, both), else the development one
    kept in ``folder``."""
    if (certificates is None) != (key is None):
        raise RequestError("a C2PA certificate and its private key go together: give both, or neither")
    _c2pa()  # says how to install it, before any painting
    return Signer.development(folder) if certificates is None else Signer.load(certificates, key)


def development_folder() -> Path:
    return Path(os.environ.get(DEVELOPMENT_VARIABLE) or Path.home() / ".local" / "share" / "brushwork" / "c2pa")


def _make_development_certificates(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEVELOPMENT_ISSUER)])

    def certificate(subject: x509.Name, key, issuer: x509.Name, issuer_key, authority: bool):
        usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                               "encipher_only", "decipher_only"), False)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=authority, path_length=0 if authority else None), True)
                   .add_extension(x509.KeyUsage(digital_signature=not authority, key_cert_sign=authority,
                                                crl_sign=authority, **usage), True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
        if not authority:
            builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                      False))
        return builder.sign(issuer_key, hashes.SHA256())

    authority_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    authority_name = name("brushwork development CA")
    authority = certificate(authority_name, authority_key, authority_name, authority_key, True)
    signer = certificate(name("brushwork development signer"), signer_key, authority_name, authority_key, False)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    (folder / "signer.pem").write_bytes(signer.public_bytes(serialization.Encoding.PEM))
    private = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    (folder / "signer.key").touch(mode=0o600)
    (folder / "signer.key").write_bytes(private)


@dataclass(frozen=True)
class Signing:
    """How a file is signed: by ``signer``, declaring the watermark ``mark`` its pixels carry (None: none)."""

    signer: Signer
    mark: watermark.Payload | None


def manifest(title: str, parameters: dict, mark: watermark.Payload | None) -> dict:
    """The manifest brushwork signs: created by a trained model, the method and model, the mark."""
    assertions = [
        {"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": TRAINED_MEDIA,
            "softwareAgent": {"name": "brushwork", "version": __version__}}]}},
        {"label": "com.brushwork.painting", "data": {key: parameters.get(key) for key in ("method", "model", "models")
                                                    if parameters.get(key) is not None}},
    ]
    if mark is not None:
        words = b"".join(word.to_bytes(2, "big") for word in mark.words())
        assertions.append({"label": "c2pa.soft-binding", "data": {
            "alg": SOFT_BINDING, "blocks": [{"scope": {}, "value": base64.b64encode(words).decode()}]}})
    return {"claim_generator_info": [{"name": "brushwork", "version": __version__}], "title": title,
            "assertions": assertions}


def sign(data: bytes, fmt: str, signer: Signer, title: str, parameters: dict,
         mark: watermark.Payload | None) -> bytes:
    """``data``, a file of Pillow format ``fmt``, with brushwork's manifest signed by ``signer``."""
    c2pa = _c2pa()
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, signer.certificates, signer.key, None)
    signed = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as native, c2pa.Builder(manifest(title, parameters, mark)) as builder:
            builder.sign(native, MEDIA_TYPES[fmt], io.BytesIO(data), signed)
    except c2pa.C2paError as error:
        raise RequestError(f"could not sign the content credentials: {error}") from None
    return signed.getvalue()


def read(data: bytes, fmt: str | None, trust: bytes | None = None) -> tuple[str, str | None]:
    """``(state, signer)`` of the manifest in ``data`` (a file of Pillow format ``fmt``): a key of
    :data:`STATES` and the signer's organisation. ``trust``: PEM certificates to trust."""
    if not installed():
        return "unchecked", None
    c2pa = _c2pa()
    if fmt not in MEDIA_TYPES:
        return "absent", None
    settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust.decode()}} if trust else None
    try:
        context = c2pa.Context(c2pa.Settings.from_dict(settings)) if settings else None
        with c2pa.Reader(MEDIA_TYPES[fmt], io.BytesIO(data), context=context) as reader:
            report = json.loads(reader.json())
    except c2pa.C2paError as error:
        return ("absent" if "ManifestNotFound" in type(error).__name__ + str(error) else "tampered"), None
    active = report.get("manifests", {}).get(report.get("active_manifest"), {})
    signer = active.get("signature_info", {}).get("issuer")
    state = {"Trusted": "trusted", "Valid": "untrusted"}.get(report.get("validation_state"), "tampered")
    return state, signer
