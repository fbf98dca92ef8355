"""Verifies a logout token the hub sent to a service (OpenID Connect Back-Channel Logout
1.0 §2.6) with PyJWT, not the hub's JOSE library, and prints its claims as JSON.

    python verify_logout_token.py --jwks-url URL --issuer ISS --audience AUD < token

Exits 1 with the reason on stderr when the token does not verify. Used by
crates/cli/tests/external/backchannel_logout.rs.
"""

import argparse
import json
import sys

import jwt

EVENT = "http://schemas.openid.net/event/backchannel-logout"

parser = argparse.ArgumentParser()
parser.add_argument("--jwks-url", required=True)
parser.add_argument("--issuer", required=True)
parser.add_argument("--audience", required=True)
args = parser.parse_args()

token = sys.stdin.read().strip()
try:
    header = jwt.get_unverified_header(token)
    if header.get("typ") != "logout+jwt":
        raise ValueError(f"typ is {header.get('typ')!r}, not logout+jwt")
    key = jwt.PyJWKClient(args.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["ES256", "RS256"],
        audience=args.audience,
        issuer=args.issuer,
        options={"require": ["iss", "aud", "iat", "exp", "jti"]},
    )
    if not isinstance(claims.get("events", {}).get(EVENT), dict):
        raise ValueError("no back-channel logout event")
    if "nonce" in claims:
        raise ValueError("a nonce claim")
    if "sub" not in claims and "sid" not in claims:
        raise ValueError("neither sub nor sid")
except Exception as error:  # every refusal names why
    print(f"{type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(claims))
