"""An app behind hubauth that trusts only the hub's signed identity assertion.

It verifies the JWT in the assertion header with PyJWT (not the hub's JOSE library)
against the hub's published JWKS: signature (ES256 or RS256), iss, aud, exp and iat, as
any app should. Used by crates/cli/tests/external/identity_assertion.rs.

    python app.py --jwks-url URL --issuer ISS --audience AUD [--header NAME]

It listens on 127.0.0.1 (a free port), prints "READY <port>", and answers every GET with
200 and {"claims": {...}} when the assertion verifies, or 401 and {"error": "..."} when
it is missing or does not. It exits when stdin closes.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

parser = argparse.ArgumentParser()
parser.add_argument("--jwks-url", required=True)
parser.add_argument("--issuer", required=True)
parser.add_argument("--audience", required=True)
parser.add_argument("--header", default="X-Auth-Request-Assertion")
args = parser.parse_args()

# Keys are fetched at the first request (the hub may start after this app).
jwks = jwt.PyJWKClient(args.jwks_url, cache_keys=True)


def verify(token):
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["ES256", "RS256"],
        audience=args.audience,
        issuer=args.issuer,
        options={"require": ["iss", "aud", "sub", "iat", "exp"]},
    )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        tokens = self.headers.get_all(args.header) or []
        if len(tokens) != 1:
            self.answer(401, {"error": f"expected one {args.header} header, got {len(tokens)}"})
            return
        try:
            claims = verify(tokens[0])
        except Exception as error:  # every refusal is a 401 naming why
            self.answer(401, {"error": f"{type(error).__name__}: {error}"})
            return
        self.answer(200, {"claims": claims, "path": self.path})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"READY {server.server_address[1]}", flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
