"""Signs a user token for fuzzing a backend whose routes take one.

Writes a fresh P-256 key's public half as a JWK set to JWKS_PATH and prints an ES256
token for ISSUER and AUDIENCE, subject SUBJECT, valid for an hour:

    python3 .ci/test-token.py JWKS_PATH ISSUER AUDIENCE SUBJECT

The backend reads the JWK set from the file named in IDENTITY_JWKS_FILES, as under
`shopgen up --jwks`. Needs the `cryptography` package (.ci/run installs it).
"""

import base64
import json
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    jwks_path, issuer, audience, subject = sys.argv[1:5]
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "kid": "fuzz",
        "alg": "ES256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }
    with open(jwks_path, "w") as f:
        json.dump({"keys": [jwk]}, f)
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT", "kid": "fuzz"}
    claims = {"iss": issuer, "aud": audience, "sub": subject, "iat": now, "exp": now + 3600}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    print(signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))


if __name__ == "__main__":
    main()
