"""A TCP relay on 127.0.0.1 that can cut a connection after N bytes from the server.

The TLS session passes through untouched (the certificate is for 127.0.0.1,
which the relay also is). ``DroppingProxy(port, drop_after=N)`` relays each
connection to 127.0.0.1:port and closes both sockets once N bytes have come
back from the server; ``None`` relays everything. ``downstream`` counts the
bytes relayed back over all connections. ``source_ip`` (another loopback
address, e.g. 127.0.0.2) is where the relay connects from, so that the
server's per-address penalty for a wrong password stays on that address.
"""

import select
import socket
import threading

from tests.mailbox.dovecot import free_port

CHUNK = 4096
IDLE_SECONDS = 30


class DroppingProxy:
    def __init__(self, upstream_port, drop_after=None, source_ip="127.0.0.1"):
        self.upstream_port = upstream_port
        self.source_ip = source_ip
        self.drop_after = drop_after
        self.downstream = 0
        self.dropped = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(4)
        self.listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        self.listener.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10,
                                                source_address=(self.source_ip, 0))
            self._relay(client, upstream)

    def _relay(self, client, upstream):
        peers = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select(list(peers), [], [], IDLE_SECONDS)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(CHUNK)
                    if not data:
                        return
                    if sock is upstream and self.drop_after is not None:
                        room = self.drop_after - self.downstream
                        if room <= len(data):
                            client.sendall(data[:max(room, 0)])
                            self.downstream += max(room, 0)
                            self.dropped.set()
                            return
                    peers[sock].sendall(data)
                    if sock is upstream:
                        self.downstream += len(data)
        finally:
            for sock in peers:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
