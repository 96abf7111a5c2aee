"""RFC 3161 timestamps: read a TimeStampReq, write a TimeStampToken and a TimeStampResp.

A token signs (TSTInfo): the policy, the message imprint (hash algorithm and digest), a serial
number, genTime, and the nonce of the query if it had one. The ledger issues one only for a
hash it has already sequenced: genTime is the time of the block that holds it, and the serial
is that entry's log index, so each token names the entry that proves it (docs/timestamping.md).

The signer info carries contentType, messageDigest and ESS signingCertificateV2 (RFC 5816),
which `openssl ts -verify` and PDF validators require; the signature is deterministic ECDSA
(RFC 6979) over the DER of those attributes, so the same inputs give the same token bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from ledger.errors import InvalidRequest, TokenInvalid

__all__ = [
    "POLICY",
    "TimeStampAuthority",
    "TimeStampQuery",
    "TokenInfo",
    "TokenInvalid",  # defined in ledger.errors (code bad-timestamp), named here for callers
    "granted",
    "parse_query",
    "rejection",
    "verify_token",
]

# Under the private-enterprise arc reserved for documentation and examples (RFC 5612: 32473):
# a policy says what a token promises, and this one is documented in docs/timestamping.md.
POLICY = "1.3.6.1.4.1.32473.3161.1"
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32}
NAMES = {"sha3_256": "sha3-256"}  # asn1crypto's names to the ones the ledger speaks
MAX_QUERY_BYTES = 4096
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


@dataclass(frozen=True)
class TimeStampQuery:
    hash_algorithm: str  # sha256, sha384, sha512, sha3-256
    digest: bytes
    nonce: int | None
    cert_req: bool
    policy: str | None


@dataclass(frozen=True)
class TokenInfo:
    hash_algorithm: str
    digest: bytes
    gen_time: dt.datetime
    serial: int
    nonce: int | None
    policy: str


def parse_query(der: bytes) -> TimeStampQuery:
    """Read a DER TimeStampReq; InvalidRequest says what is wrong with it."""
    if len(der) > MAX_QUERY_BYTES:
        raise InvalidRequest(f"a timestamp query is at most {MAX_QUERY_BYTES} bytes")
    try:
        request = tsp.TimeStampReq.load(der, strict=True)
        native = request.native
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, IndexError) as e:
        # asn1crypto parses lazily and fails wherever damage is first read: a field holding
        # another universal type (a REAL where the nonce's INTEGER was) is an AttributeError.
        raise InvalidRequest(f"not a DER TimeStampReq (RFC 3161): {e}") from None
    if native["version"] != "v1":
        raise InvalidRequest(f"TimeStampReq version must be 1, not {native['version']}")
    algorithm = native["message_imprint"]["hash_algorithm"]["algorithm"]
    if algorithm not in DIGEST_SIZES:
        raise InvalidRequest(
            f"hash algorithm {algorithm} is not served; use sha256, sha384, sha512 or sha3-256"
        )
    digest = native["message_imprint"]["hashed_message"]
    if len(digest) != DIGEST_SIZES[algorithm]:
        raise InvalidRequest(
            f"a {algorithm} digest is {DIGEST_SIZES[algorithm]} bytes, not {len(digest)}"
        )
    policy = native["req_policy"]
    if policy is not None and policy != POLICY:
        raise InvalidRequest(f"policy {policy} is not served; this TSA's policy is {POLICY}")
    if native["extensions"]:
        raise InvalidRequest("timestamp query extensions are not supported")
    return TimeStampQuery(
        NAMES.get(algorithm, algorithm), digest, native["nonce"], bool(native["cert_req"]), policy
    )


def _der_set_of(encodings: list[bytes]) -> bytes:
    """The DER SET OF the given element encodings. DER orders a SET OF by its elements'
    encodings; verifiers re-encode the attributes before checking the signature, so another
    order would not verify."""
    body = b"".join(sorted(encodings))
    return b"\x31" + _der_length(len(body)) + body


class TimeStampAuthority:
    def __init__(
        self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ca_cert: x509.Certificate
    ) -> None:
        self.key, self.cert, self.ca_cert = key, cert, ca_cert
        # What every token repeats is encoded once, and loaded afresh for each token: asn1crypto
        # re-encodes a tree it has touched, and reusing one certificate object in every token
        # cost 15 ms a token.
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        parsed = asn1_x509.Certificate.load(self._cert_der)
        self._subject_der = parsed.subject.dump()
        self._issuer_der = parsed.issuer.dump()
        self._serial = parsed.serial_number
        self._ess_der = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "cert_hash": hashlib.sha256(self._cert_der).digest(),
                        "issuer_serial": {
                            "issuer": [
                                asn1_x509.GeneralName(
                                    name="directory_name",
                                    value=asn1_x509.Name.load(self._issuer_der),
                                )
                            ],
                            "serial_number": self._serial,
                        },
                    }
                ]
            }
        ).dump()
        # The two signed attributes every token repeats, encoded once: built per token around
        # the issuer's name, they cost asn1crypto 8 of a token's 10 ms.
        self._constant_attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump(),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [tsp.SigningCertificateV2.load(self._ess_der)],
                }
            ).dump(),
        ]

    def token(
        self,
        digest: bytes,
        hash_algorithm: str,
        gen_time: dt.datetime,
        serial: int,
        *,
        nonce: int | None = None,
        cert_req: bool = True,
    ) -> bytes:
        """DER ContentInfo(SignedData(TSTInfo)) for `digest`, stamped `gen_time` (aware UTC)."""
        algorithm = {v: k for k, v in NAMES.items()}.get(hash_algorithm, hash_algorithm)
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": POLICY,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": algorithm},
                    "hashed_message": digest,
                },
                "serial_number": serial,
                "gen_time": gen_time.astimezone(dt.UTC),
                "accuracy": {"millis": 1},
                "ordering": False,
                "nonce": nonce,
                "tsa": asn1_x509.GeneralName(
                    name="directory_name", value=asn1_x509.Name.load(self._subject_der)
                ),
            }
        )
        content = info.dump()
        message_digest = cms.CMSAttribute(
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
        ).dump()
        signed_der = _der_set_of([message_digest, *self._constant_attributes])
        signed_attrs = cms.CMSAttributes.load(signed_der)
        signature = self.key.sign(signed_der, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={
                        "issuer": asn1_x509.Name.load(self._issuer_der),
                        "serial_number": self._serial,
                    },
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
                "signature": signature,
            }
        )
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(content),
                },
                "certificates": [asn1_x509.Certificate.load(self._cert_der)] if cert_req else None,
                "signer_infos": [signer],
            }
        )
        der: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
        return der

    def reply(self, query: TimeStampQuery, gen_time: dt.datetime, serial: int) -> bytes:
        """DER TimeStampResp granting `query`, its nonce echoed."""
        token = self.token(
            query.digest,
            query.hash_algorithm,
            gen_time,
            serial,
            nonce=query.nonce,
            cert_req=query.cert_req,
        )
        return granted(token)

    def verify(self, token: bytes, digest: bytes) -> TokenInfo:
        return verify_token(token, digest, self.ca_cert)


def granted(token: bytes) -> bytes:
    """A TimeStampResp with status granted around `token` (what `openssl ts -verify -in` reads).

    Written as bytes around the token's own: asn1crypto would re-encode the whole token."""
    status = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted (0) }
    return b"\x30" + _der_length(len(status) + len(token)) + status + token


def rejection(failure: str, text: str) -> bytes:
    """A TimeStampResp refusing a query: `failure` is a PKIFailureInfo name (bad_alg,
    bad_request, bad_data_format, unaccepted_policy, system_failure, ...)."""
    status: bytes = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [text],
            "fail_info": tsp.PKIFailureInfo({failure}),
        }
    ).dump()
    # asn1crypto's TimeStampResp insists on a token, which a refusal has none of (RFC 3161
    # 2.4.2: timeStampToken OPTIONAL): the SEQUENCE around the status is written here.
    return b"\x30" + _der_length(len(status)) + status


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _check_certificate(cert: x509.Certificate, ca_cert: x509.Certificate, at: dt.datetime) -> None:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise TokenInvalid("the TSA certificate is not issued by the trusted CA") from e
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise TokenInvalid("the TSA certificate was not valid at the token's time")
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as e:
        raise TokenInvalid("the TSA certificate has no extended key usage") from e
    if not usage.critical or list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TokenInvalid("the TSA certificate is not for timestamping only (critical EKU)")


def verify_token(token: bytes, digest: bytes, ca_cert: x509.Certificate) -> TokenInfo:
    """Check a DER TimeStampToken for `digest` against the CA: the imprint, the signed
    attributes, the ESS certificate binding, the certificate's chain and timestamping EKU,
    and the signature. Raises TokenInvalid saying which failed."""
    try:
        return _verify(token, digest, ca_cert)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        OverflowError,
        x509.InvalidVersion,
    ) as e:
        # asn1crypto parses lazily: a damaged token fails wherever it is first read
        raise TokenInvalid(f"not a timestamp token: {e}") from None


def _verify(token: bytes, digest: bytes, ca_cert: x509.Certificate) -> TokenInfo:
    info = cms.ContentInfo.load(token, strict=True)
    signed = info["content"]
    content = signed["encap_content_info"]["content"].parsed.dump()
    tst = tsp.TSTInfo.load(content, strict=True).native
    (signer,) = signed["signer_infos"]
    certs = [c.chosen for c in signed["certificates"] or []]
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    if (
        info["content_type"].native != "signed_data"
        or signed["version"].native != "v3"
        or signed["encap_content_info"]["content_type"].native != "tst_info"
        or attrs.get("content_type") is None
        or attrs["content_type"].native != "tst_info"
    ):
        raise TokenInvalid("not a timestamp token: its content is not a signed TSTInfo")
    if [a["algorithm"].native for a in signed["digest_algorithms"]] != ["sha256"] or (
        signer["digest_algorithm"]["algorithm"].native != "sha256"
        or signer["signature_algorithm"]["algorithm"].native != "sha256_ecdsa"
    ):
        raise TokenInvalid("the token is not signed with ECDSA over SHA-256")
    identifiers = [*signed["digest_algorithms"], signer["digest_algorithm"]]
    if signer["version"].native != "v1" or any(
        a["parameters"].dump() not in (b"", b"\x05\x00") for a in identifiers
    ):
        raise TokenInvalid("the signer info is malformed")
    if tst["message_imprint"]["hashed_message"] != digest:
        raise TokenInvalid("the token is for another digest")
    if attrs.get("message_digest") is None or attrs["message_digest"].native != (
        hashlib.sha256(content).digest()
    ):
        raise TokenInvalid("the signed message digest does not match the token's content")
    if len(certs) != 1:
        raise TokenInvalid("the token must carry the TSA certificate")
    cert = x509.load_der_x509_certificate(certs[0].dump())
    essential = attrs.get("signing_certificate_v2")
    cert_hash = hashlib.sha256(certs[0].dump()).digest()
    if essential is None or essential["certs"][0]["cert_hash"].native != cert_hash:
        raise TokenInvalid("the signing certificate attribute does not name this certificate")
    sid = signer["sid"].chosen
    if (
        signer["sid"].name != "issuer_and_serial_number"
        or sid["serial_number"].native != cert.serial_number
        or sid["issuer"].dump() != certs[0].issuer.dump()
    ):
        raise TokenInvalid("the signer info does not name the certificate in the token")
    gen_time: dt.datetime = tst["gen_time"]
    _check_certificate(cert, ca_cert, gen_time)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise TokenInvalid("the TSA key is not ECDSA")
    # RFC 5652 5.4: the signature covers the attributes as a SET OF (tag 0x31), not as the
    # [0] IMPLICIT field they are stored in; the bytes after the tag are the same.
    signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]
    try:
        public.verify(signer["signature"].native, signed_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise TokenInvalid("the TSA's signature does not verify") from e
    algorithm = tst["message_imprint"]["hash_algorithm"]["algorithm"]
    return TokenInfo(
        NAMES.get(algorithm, algorithm),
        digest,
        gen_time,
        tst["serial_number"],
        tst["nonce"],
        tst["policy"],
    )
