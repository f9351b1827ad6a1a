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
        self.down = False  # answer 503, as during an outage
        self.redirect_to: str | None = None  # answer 302 to this path (which serves keys too)
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                if server.redirect_to and self.path == "/api/auth/jwks":
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path not in ("/api/auth/jwks", server.redirect_to):
                    self.send_error(404)
                    return
                server.fetches += 1
                if server.down:
                    self.send_error(503)
                    return
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

    def remove(self, kid: str) -> None:
        self.keys = [key for key in self.keys if key.kid != kid]

    def rotate(self, kid: str) -> SigningKey:
        key = SigningKey(kid)
        self.keys.insert(0, key)
        return key
