"""C2PA content credentials: signed into a file, read back valid (trusted only with its CA), broken
by a one-byte change, absent from a file nobody signed; the watermark declared as the soft binding."""

from __future__ import annotations

import base64
import io
import json

import c2pa
import pytest
from PIL import Image

from plugin_core import credentials, watermark
from plugin_core.errors import RequestError


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (180, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return credentials.Signer.development(tmp_path_factory.mktemp("development"))


@pytest.mark.parametrize("fmt", sorted(credentials.MEDIA_TYPES))
def test_a_signed_file_reads_valid_from_an_untrusted_signer_and_trusted_with_its_ca(signer, fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (180, 120, 40)).save(buffer, fmt)
    signed = credentials.sign(buffer.getvalue(), fmt, signer, "painted", {"method": "adain"}, None)
    assert Image.open(io.BytesIO(signed)).size == (96, 64)
    assert credentials.read(signed, fmt) == ("untrusted", credentials.DEVELOPMENT_ISSUER)
    authority = signer.certificates[signer.certificates.index(b"-----BEGIN CERTIFICATE-----", 1):]
    assert credentials.read(signed, fmt, trust=authority) == ("trusted", credentials.DEVELOPMENT_ISSUER)


def test_one_changed_byte_reads_tampered_and_an_unsigned_file_absent(signer):
    signed = credentials.sign(png(), "PNG", signer, "painted.png", {"method": "fast"}, None)
    pixels = signed.index(b"IDAT") + 8
    tampered = signed[:pixels] + bytes([signed[pixels] ^ 1]) + signed[pixels + 1 :]
    assert credentials.read(tampered, "PNG")[0] == "tampered"
    assert credentials.read(png(), "PNG") == ("absent", None)


def test_the_manifest_says_what_made_it_and_declares_the_mark(signer):
    mark = watermark.brushwork_payload(321)
    signed = credentials.sign(png(), "PNG", signer, "painted.png", {"method": "feedforward", "models": ["waves"]}, mark)
    with c2pa.Reader("image/png", io.BytesIO(signed)) as reader:
        report = json.loads(reader.json())
    assertions = {a["label"]: a["data"] for a in report["manifests"][report["active_manifest"]]["assertions"]}
    created = assertions["c2pa.actions.v2"]["actions"][0]
    assert created["action"] == "c2pa.created" and created["digitalSourceType"] == credentials.TRAINED_MEDIA
    assert assertions["com.brushwork.painting"] == {"method": "feedforward", "models": ["waves"]}
    binding = assertions["c2pa.soft-binding"]
    assert binding["alg"] == credentials.SOFT_BINDING
    words = base64.b64decode(binding["blocks"][0]["value"])
    assert (int.from_bytes(words[:2], "big"), int.from_bytes(words[2:], "big")) == mark.words()


def test_the_development_certificate_is_made_once_with_a_private_key(tmp_path):
    first = credentials.Signer.development(tmp_path)
    assert credentials.Signer.development(tmp_path) == first
    assert (tmp_path / "signer.key").stat().st_mode & 0o777 == 0o600


def test_a_certificate_without_its_key_is_refused(tmp_path):
    (tmp_path / "chain.pem").write_bytes(b"")
    with pytest.raises(RequestError, match="give both, or neither"):
        credentials.chosen_signer(tmp_path / "chain.pem", None)
    with pytest.raises(RequestError, match="cannot read the signing certificate"):
        credentials.chosen_signer(tmp_path / "chain.pem", tmp_path / "missing.key")
