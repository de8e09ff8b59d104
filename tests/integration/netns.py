"""A network namespace joined to this host by one veth pair, whose link a drill can cut.

A process started with `prefix` (`ip netns exec NAME ...`) sees only the namespace's
side of the pair; it reaches the host at `host_address` and nothing else. `cut()`
takes the host's end down: packets in both directions are dropped (no reset, no
error), as a pulled cable or a partitioned network drops them, until `restore()`.
Names and the /30 are new per instance, so parallel runs never share one; `remove()`
deletes both, and is safe to call twice. Needs root and iproute2 (`ip`).
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
import uuid
from pathlib import Path

IP = shutil.which("ip") or "/usr/sbin/ip"
# A /16 of RFC 1918 space for the drills' /30s; an address already on this host is skipped.
POOL = ipaddress.ip_network("10.213.0.0/16")


class NetnsUnavailable(Exception):
    """This machine cannot make a network namespace (not root, no iproute2, no kernel support)."""


def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def _addresses_in_use() -> set[ipaddress.IPv4Address]:
    done = subprocess.run([IP, "-4", "-o", "addr"], capture_output=True, text=True, check=True)
    found = set()
    for line in done.stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            found.add(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).ip)
    return found


class NetnsLink:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name = f"spectrum-chaos-{tag}"
        # Interface names are at most 15 characters.
        self.host_if = f"sch{tag}"
        self.ns_if = f"scn{tag}"
        self.host_address = ""
        self.ns_address = ""
        self._made_ns = False
        self._made_link = False

    @property
    def prefix(self) -> tuple[str, ...]:
        """Run a command inside the namespace (ip execs it: the process id is the command's)."""
        return (IP, "netns", "exec", self.name)

    def create(self) -> NetnsLink:
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespaces need root")
        if not Path(IP).is_file():
            raise NetnsUnavailable("no `ip` command (Debian package iproute2)")
        used = _addresses_in_use()
        subnets = list(POOL.subnets(new_prefix=30))
        subnet = next(s for s in random.sample(subnets, 64) if not used & set(s))
        host, ns = list(subnet.hosts())
        self.host_address, self.ns_address = str(host), str(ns)
        _ip("netns", "add", self.name)
        self._made_ns = True
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._made_link = True
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{host}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        inside = ("netns", "exec", self.name, "ip")
        _ip(*inside, "addr", "add", f"{ns}/30", "dev", self.ns_if)
        _ip(*inside, "link", "set", self.ns_if, "up")
        _ip(*inside, "link", "set", "lo", "up")
        return self

    def cut(self) -> None:
        _ip("link", "set", self.host_if, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_if, "up")

    def remove(self) -> None:
        """Delete the pair (deleting one end deletes both) and the namespace; errors ignored
        so that a teardown after a half-made namespace still removes what exists."""
        if self._made_link:
            subprocess.run([IP, "link", "del", self.host_if], capture_output=True, check=False)
            self._made_link = False
        if self._made_ns:
            subprocess.run([IP, "netns", "del", self.name], capture_output=True, check=False)
            self._made_ns = False
