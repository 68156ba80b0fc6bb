#!/usr/bin/env python3
"""A minimal OpenID Connect issuer for tests/e2e/oidc_test.cc: serves the discovery document
and the JWK Set over HTTPS, nothing else (the test signs tokens itself).

    oidc_issuer.py --dir DIR [--port PORT]

DIR holds cert.pem and key.pem (the TLS certificate and key) and jwks.json, read at every
request so the test can rotate keys by rewriting it. The issuer is https://127.0.0.1:PORT; once
listening, the port is written to DIR/port (port 0, the default, picks a free one).
"""
import argparse
import http.server
import json
import os
import ssl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            issuer = "https://127.0.0.1:%d" % self.server.server_port
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps({
                    "issuer": issuer,
                    "jwks_uri": issuer + "/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }).encode()
            elif self.path == "/jwks":
                with open(os.path.join(args.dir, "jwks.json"), "rb") as f:
                    body = f.read()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *log_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(args.dir, "cert.pem"), os.path.join(args.dir, "key.pem"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port_file = os.path.join(args.dir, "port")
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_port)
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
