"""The client of `jeeves serve` (scripts/serve.py): the standard library only.

`jeeves predict --server URL` and the mail filter (``--add-header``) use it
for each message; it imports neither numpy nor scikit-learn nor skops, so
a filter that finds the daemon answering starts and finishes in tens of
milliseconds. URL is ``http://127.0.0.1:PORT`` or ``unix:PATH`` (the
daemon's --socket).

``ServerUnavailable``: nothing answers, or the daemon failed (5xx): the
caller scores with the bundle itself. ``ServerRefused``: the daemon
answered 4xx (the message is not mail, too large...): the caller does
what it does with input it cannot score.
"""

import json
import socket
from urllib.parse import urlencode, urlsplit

ENVIRONMENT = "JEEVES_SERVER"
TIMEOUT = 10.0
MAX_HEADER_BYTES = 65536


class ServerUnavailable(Exception):
    """Nothing answers at the URL, or the daemon failed."""


class ServerRefused(Exception):
    """The daemon answered 4xx: one line, the daemon's reason."""


def address_of(url):
    """(socket family, address) of a server URL; ValueError for a bad one."""
    if url.startswith("unix:") and len(url) > len("unix:"):
        return socket.AF_UNIX, url[len("unix:"):]
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError("a server URL is http://127.0.0.1:PORT or unix:PATH, not %r" % url)
    try:
        return socket.AF_INET, (parts.hostname, parts.port or 80)
    except ValueError as error:  # a port that is no number
        raise ValueError("bad server URL %r: %s" % (url, error)) from None


class Client:
    """HTTP/1.1 to the daemon over one connection kept open between requests.

    A few lines of socket code rather than http.client, whose imports (ssl,
    the email parser) would be a good part of a filter's start; the daemon
    always answers with a Content-Length."""

    def __init__(self, url, timeout=TIMEOUT):
        self.url = url
        self.family, self.address = address_of(url)
        self.timeout = timeout
        self.sock = None
        self.buffer = b""

    def _connect(self):
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.address)
        except BaseException:
            sock.close()
            raise
        if self.family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""

    def _read_until(self, marker):
        while marker not in self.buffer:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise OSError("the answer's header is too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("the connection closed")
            self.buffer += chunk
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _read_exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(max(65536, count - len(self.buffer)))
            if not chunk:
                raise OSError("the connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _exchange(self, method, path, body, headers):
        if self.sock is None:
            self._connect()
        head = ["%s %s HTTP/1.1" % (method, path), "Host: localhost"]
        head += ["%s: %s" % item for item in headers.items()]
        if body is not None:
            head.append("Content-Length: %d" % len(body))
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))
        lines = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise OSError("not an HTTP answer: %r" % lines[0][:80])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        try:
            length = int(fields["content-length"])
        except (KeyError, ValueError):
            raise OSError("an answer without a Content-Length") from None
        data = self._read_exactly(length)
        if fields.get("connection", "").lower() == "close":
            self.close()
        return int(parts[1]), data

    def request(self, method, path, body=None, headers=None):
        """The daemon's JSON answer; ServerRefused (4xx) or ServerUnavailable."""
        try:
            try:
                status, data = self._exchange(method, path, body, headers or {})
            except (BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the daemon closed meanwhile: once more, anew
                self.close()
                status, data = self._exchange(method, path, body, headers or {})
        except OSError as error:
            self.close()
            raise ServerUnavailable("%s: %s" % (self.url, error or type(error).__name__)
                                    ) from None
        try:
            answer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ServerUnavailable("%s answered %d with no JSON" % (self.url, status)
                                    ) from None
        if 400 <= status < 500:
            raise ServerRefused(str(answer.get("error") if isinstance(answer, dict) else answer))
        if status != 200:
            raise ServerUnavailable("%s answered %d: %s" % (
                self.url, status, answer.get("error") if isinstance(answer, dict) else answer))
        return answer

    def score(self, raw, uri=None, relpath=None):
        """The daemon's answer for the message (or mbox) ``raw`` (bytes)."""
        query = {key: value for key, value in (("uri", uri), ("relpath", relpath)) if value}
        return self.request("POST", "/score" + ("?" + urlencode(query) if query else ""),
                            raw, {"Content-Type": "message/rfc822"})

    def learn(self, label, message_id=None, message=None):
        request = {"label": label}
        if message_id is not None:
            request["message_id"] = message_id
        if message is not None:
            request["message"] = message
        return self.request("POST", "/learn", json.dumps(request).encode("utf-8"),
                            {"Content-Type": "application/json"})

    def health(self):
        return self.request("GET", "/health")

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""
