"""A local stand-in for Better Auth's `/api/auth/jwks` endpoint, serving real Ed25519 keys over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}


class JwksServer:
    """Serves whatever keys are published at the moment; counts the fetches so tests can see the caching."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey("key-1")]
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/api/auth/jwks":
                    self.send_error(404)
                    return
                server.fetches += 1
                body = json.dumps({"keys": [key.public_jwk() for key in server.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def rotate(self, kid: str) -> SigningKey:
        key = SigningKey(kid)
        self.keys.insert(0, key)
        return key
