#!/usr/bin/env python3
"""A token server for the registry's bearer-token auth, for the image e2e tests.

Usage: registry_token_server.py KEY_PEM CERT_PEM ISSUER SERVICE USER PASSWORD PORT_FILE

Answers GET /token?service=...&scope=repository:NAME:ACTIONS with a JWT (RS256, the signing
certificate in x5c, which the registry verifies against its rootcertbundle) granting the asked
actions when the request carries HTTP Basic credentials USER:PASSWORD; 401 for wrong credentials;
an anonymous request gets a token without access. Signs with the openssl CLI, so no Python
packages beyond the standard library are needed. Writes its port to PORT_FILE once listening and
logs one line per token request to stdout ("token user=alice scope=...").
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    key_pem, cert_pem, issuer, service, user, password, port_file = sys.argv[1:8]
    der = subprocess.run(["openssl", "x509", "-in", cert_pem, "-outform", "DER"],
                         check=True, capture_output=True).stdout

    def sign(claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(claims).encode())).encode()
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_pem],
                                   input=signing_input, check=True, capture_output=True).stdout
        return signing_input.decode() + "." + b64url(signature)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                self.send_error(404)
                return
            query = urllib.parse.parse_qs(url.query)
            who = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                given_user, _, given_password = base64.b64decode(auth[6:]).decode().partition(":")
                if given_user != user or given_password != password:
                    print(f"refused user={given_user}", flush=True)
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"details":"wrong user name or password"}')
                    return
                who = given_user
            access = []
            for scope in query.get("scope", []):
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                if who and kind == "repository":
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            token = sign({"iss": issuer, "sub": who or "", "aud": query.get("service", [service])[0],
                          "exp": now + 300, "nbf": now - 10, "iat": now,
                          "jti": b64url(os.urandom(12)), "access": access})
            print(f"token user={who or '-'} scope={' '.join(query.get('scope', []))}", flush=True)
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
