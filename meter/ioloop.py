"""Many paho clients on one thread: a selector drives their sockets.

paho's ``loop_start`` costs a thread per client; ten thousand meters with their own
connections would need ten thousand threads. paho 2.x supports external event loops
instead: it tells us when a socket opens or closes and when it has something to
write, and we call ``loop_read``/``loop_write``/``loop_misc`` when the selector says
so. One thread, any number of connections (up to the process's file limit).
"""

from __future__ import annotations

import selectors
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class IoLoop:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def attach(self, client: mqtt.Client) -> None:
        """Let this loop drive ``client``'s socket from now on."""
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._wrote

    def _opened(self, client: mqtt.Client, _userdata: object, sock: Any) -> None:
        try:
            self._selector.register(sock, _READ, client)
        except KeyError:
            self._selector.modify(sock, _READ, client)

    def _closed(self, _client: mqtt.Client, _userdata: object, sock: Any) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _want_write(self, client: mqtt.Client, _userdata: object, sock: Any) -> None:
        try:
            self._selector.modify(sock, _READ | _WRITE, client)
        except (KeyError, ValueError):
            pass

    def _wrote(self, client: mqtt.Client, _userdata: object, sock: Any) -> None:
        try:
            self._selector.modify(sock, _READ, client)
        except (KeyError, ValueError):
            pass

    def poll(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for socket events and serve them; how many."""
        events = self._selector.select(max(0.0, timeout))
        for key, mask in events:
            client: mqtt.Client = key.data
            if mask & _READ:
                client.loop_read()
            if mask & _WRITE and client.socket() is key.fileobj:
                client.loop_write()
        return len(events)

    @staticmethod
    def housekeeping(clients: Sequence[mqtt.Client]) -> None:
        """Keepalive pings and dead-connection checks for these clients."""
        for client in clients:
            if client.socket() is not None:
                client.loop_misc()

    def sockets(self) -> int:
        return len(self._selector.get_map())

    def close(self) -> None:
        self._selector.close()
