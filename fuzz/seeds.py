"""Writes the seed corpus of each fuzz target from tests/vectors (fuzz/corpus/<target>/).

The corpus is generated, never committed: run `python3 fuzz/seeds.py` before `cargo fuzz run`
(`make fuzz` does). Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VECTORS = ROOT.parent / "tests" / "vectors"


def load(relative: str) -> dict:
    return json.loads((VECTORS / relative).read_text())


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def seeds() -> dict[str, list[bytes]]:
    a2 = load("rfc/rfc7515_a2_rs256_jws.json")
    a3 = load("rfc/rfc7515_a3_es256_jws.json")
    a4 = load("rfc/rfc8037_a4_ed25519_jws.json")
    a2_compact = f"{a2['protected_header_b64url']}.{a2['payload_b64url']}.{a2['signature_b64url']}"
    compacts = [a2_compact, a3["compact"], a4["compact"]]
    tokens = [c.encode() for c in compacts]
    headers = [b64decode(c.split(".")[0]) for c in compacts]
    payloads = [b64decode(c.split(".")[1]) for c in compacts]
    k8s_claims = load("kubernetes/claims_expected.json")
    for case in k8s_claims["cases"]:
        for value in case.values():
            if isinstance(value, dict):
                payloads.append(json.dumps(value).encode())
    public = [a2["jwk_public"], {k: v for k, v in a3["jwk"].items() if k != "d"}]
    jwks = [
        json.dumps(load("rfc/rfc7517_a1_public_jwks.json")["jwks"]).encode(),
        json.dumps({"keys": public}).encode(),
        json.dumps(load("rfc/rfc7517_b_x5c_rsa_jwk.json")).encode(),
    ]
    metadata = load("kubernetes/openid_metadata_expected.json")
    if isinstance(metadata.get("jwks_exact"), str):
        jwks.append(metadata["jwks_exact"].encode())
    cache = [
        b"public, max-age=3600\n\n\n\n",
        b"max-age=600\n\n100\nWed, 21 Oct 2015 07:28:00 GMT\n120",
        b"no-cache, no-store, max-age=0, must-revalidate\n0\n\n\nWed, 21 Oct 2015 07:28:00 GMT",
        b"\nThu, 01 Dec 1994 16:00:00 GMT\n\nThu, 01 Dec 1994 15:00:00 GMT\n3600",
        b'max-age="120"\n\n\n\n99999999999999999999',
    ]
    return {"jws": tokens, "jwk": jwks, "claims": payloads + headers, "cache_headers": cache}


def main() -> None:
    for target, inputs in seeds().items():
        directory = ROOT / "corpus" / target
        directory.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"{target}: {len(inputs)} seeds in {directory.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
