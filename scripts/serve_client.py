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

import http.client
import json
import socket
from urllib.parse import urlencode, urlsplit

ENVIRONMENT = "JEEVES_SERVER"
TIMEOUT = 10.0


class ServerUnavailable(Exception):
    """Nothing answers at the URL, or the daemon failed."""


class ServerRefused(Exception):
    """The daemon answered 4xx: one line, the daemon's reason."""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def connection(url, timeout=TIMEOUT):
    """An http.client connection to the daemon at ``url``; ValueError for a bad URL."""
    if url.startswith("unix:"):
        return UnixHTTPConnection(url[len("unix:"):], timeout)
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("a server URL is http://127.0.0.1:PORT or unix:PATH, not %r" % url)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)


class Client:
    """One connection kept open (HTTP/1.1 keep-alive) for several requests."""

    def __init__(self, url, timeout=TIMEOUT):
        self.url = url
        self.conn = connection(url, timeout)

    def request(self, method, path, body=None, headers=None):
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.conn.close()
            raise ServerUnavailable("%s: %s" % (self.url, error or type(error).__name__)
                                    ) from None
        try:
            answer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ServerUnavailable("%s answered %d with no JSON" % (self.url, response.status)
                                    ) from None
        if 400 <= response.status < 500:
            raise ServerRefused(str(answer.get("error") if isinstance(answer, dict) else answer))
        if response.status != 200:
            raise ServerUnavailable("%s answered %d: %s" % (
                self.url, response.status,
                answer.get("error") if isinstance(answer, dict) else answer))
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
        self.conn.close()
