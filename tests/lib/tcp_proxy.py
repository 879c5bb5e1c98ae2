"""A TCP forwarder in front of a server (the Kubernetes API server), whose outage a test switches on and off.

While ``down``, every connection it accepts is reset at once (SO_LINGER 0), as clients see a server behind a load
balancer while the server restarts, and the connections that were open are cut; ``refused`` counts the attempts,
so a test knows its client really met the outage. When the server itself is down (a real restart), ``unreachable``
counts the connections it could not pass on. TLS passes through untouched (the server's certificate names
127.0.0.1)."""

from __future__ import annotations

import socket
import struct
import threading


class TcpProxy(object):
    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.refused = 0
        self.unreachable = 0  # connections accepted while the server did not accept them (it restarts)
        self.open = set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            if self.down:
                with self.lock:
                    self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                with self.lock:
                    self.unreachable += 1
                _reset(client)
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with self.lock:
                self.open.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def cut(self):
        """The outage begins: open connections are reset, new ones too until restore()."""
        self.down = True
        with self.lock:
            sockets = list(self.open)
            self.open.clear()
        for sock in sockets:
            _reset(sock)

    def restore(self):
        self.down = False

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
