"""Runs the `recommender` command with the network forbidden: `python tests/netguard.py ARGS...`.

An audit hook sees every socket connection and DNS lookup any Python code makes (the telemetry
senders of our dependencies included, in whatever thread), writes it to $NETGUARD_LOG and makes it
fail. Local sockets (AF_UNIX) and binding (urllib3 binds ::1 to probe IPv6 support) are not network.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

NETWORK_EVENTS = {
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
    "socket.sendto",
    "socket.sendmsg",
}
LOG = os.environ["NETGUARD_LOG"]


def _guard(event: str, args: tuple) -> None:
    if event not in NETWORK_EVENTS:
        return
    if event == "socket.connect" and isinstance(args[1], str | bytes):  # an AF_UNIX path
        return
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps({"event": event, "args": repr(args[1:])[:300]}) + "\n")
    raise OSError(f"network access blocked by tests/netguard.py: {event}")


sys.addaudithook(_guard)
sys.argv = ["recommender", *sys.argv[1:]]
runpy.run_module("recommender.cli", run_name="__main__", alter_sys=True)
