"""A local HTTP server that answers every GET with a random token (proof a forward reached *this*
process), and the client side that reads its answer through a forward."""

from __future__ import annotations

import http.server
import secrets
import threading


class TokenServer:
    """Answers GET with `token` (bytes) on a free 127.0.0.1 port and counts the requests it served."""

    def __init__(self):
        self.token = secrets.token_hex(8).encode()
        self.hits = 0
        token, owner = self.token, self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection, as the forward tests need

            def do_GET(self):  # noqa: N802 (http.server API)
                owner.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(token)))
                self.end_headers()
                self.wfile.write(token)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


def get_over_socket(sock) -> bytes:
    """GET / over a connected socket; the body of a 200 answer.

    Reads exactly Content-Length bytes instead of waiting for EOF, because a
    WebSocket port-forward need not close when the remote side does.
    """
    sock.sendall(b"GET / HTTP/1.0\r\nHost: forward\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv_some(sock)
    head, body = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.0 200"):
        raise AssertionError(head)
    length = int(
        next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    )
    while len(body) < length:
        body += _recv_some(sock)
    return body


def _recv_some(sock) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("connection closed before the full response")
    return chunk
