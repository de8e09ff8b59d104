"""A network namespace joined to this host by one veth pair, whose link a drill can cut.

A process started with `prefix` (`ip netns exec NAME ...`) sees only the namespace's
side of the pair; it reaches the host at `host_address` and nothing else. `cut()`
takes the host's end down: packets in both directions are dropped (no reset, no
error), as a pulled cable or a partitioned network drops them, until `restore()`.
Names and the /30 are new per instance, so parallel runs never share one; `remove()`
deletes both, and is safe to call twice. Needs root and iproute2 (`ip`).

`NetnsLan` is the other shape, for `make scale`: one bridge on this host with one
address (the servers listen there), and N namespaces plugged into it, each its own
"machine" with one address on the bridge's /24; `tc netem` delays every packet on each
namespace's link, both ways, as a switch between separate hosts would. A kernel
built without netem (CONFIG_NET_SCH_NETEM, absent from some VM kernels) gets the LAN
without the delay: `delay_ms` then reads 0 and `no_delay_reason` says why. Its names
and its /24 are new per instance too, and `remove()` deletes everything it made.
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
TC = shutil.which("tc") or "/usr/sbin/tc"
# A /16 of RFC 1918 space for the drills' /30s; an address already on this host is skipped.
POOL = ipaddress.ip_network("10.213.0.0/16")


class NetnsUnavailable(Exception):
    """This machine cannot make a network namespace (not root, no iproute2, no kernel support)."""


def _ip(*args: str) -> None:
    _run(IP, *args)


def _run(tool: str, *args: str) -> None:
    done = subprocess.run([tool, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        name = Path(tool).name
        raise NetnsUnavailable(f"`{name} {' '.join(args)}` failed: {done.stderr.strip()}")


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


class NetnsLan:
    """A bridge at `host_address` and `count` namespaces on it, each link delayed
    `delay_ms` each way (0: no netem). Namespace i is `names[i]` at `addresses[i]`;
    `prefix(i)` runs a command inside it."""

    def __init__(self, count: int, delay_ms: float) -> None:
        if not 1 <= count <= 200:
            raise ValueError("between 1 and 200 namespaces")
        tag = uuid.uuid4().hex[:6]
        self.count = count
        self.delay_ms = delay_ms
        self.bridge = f"sbr{tag}"
        self.names = [f"spectrum-lan-{tag}-{i}" for i in range(count)]
        self._host_ifs = [f"slh{tag}{i:02x}" for i in range(count)]
        self._ns_ifs = [f"sln{tag}{i:02x}" for i in range(count)]
        self.host_address = ""
        self.addresses: list[str] = []
        self.no_delay_reason = ""
        self._made_bridge = False
        self._made: list[int] = []  # namespaces made, whose link may exist

    def prefix(self, index: int) -> tuple[str, ...]:
        return (IP, "netns", "exec", self.names[index])

    def create(self) -> NetnsLan:
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespaces need root")
        for tool, package in ((IP, "iproute2"), (TC, "iproute2")):
            if not Path(tool).is_file():
                raise NetnsUnavailable(f"no `{Path(tool).name}` command (Debian package {package})")
        used = _addresses_in_use()
        subnets = list(POOL.subnets(new_prefix=24))
        subnet = next(s for s in random.sample(subnets, 64) if not used & set(s))
        hosts = list(subnet.hosts())
        self.host_address = str(hosts[0])
        self.addresses = [str(address) for address in hosts[1 : 1 + self.count]]
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self._made_bridge = True
            _ip("addr", "add", f"{self.host_address}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            if self.delay_ms > 0:
                self._check_netem()
            for index in range(self.count):
                self._plug(index)
        except BaseException:
            self.remove()
            raise
        return self

    def _check_netem(self) -> None:
        """Try a netem qdisc on the bridge once; without one, the links get no delay."""
        try:
            _run(TC, "qdisc", "add", "dev", self.bridge, "root", "netem", "delay", "1ms")
        except NetnsUnavailable as exc:
            self.no_delay_reason = f"no netem in this kernel: {exc}"
            self.delay_ms = 0.0
            return
        _run(TC, "qdisc", "del", "dev", self.bridge, "root")

    def _plug(self, index: int) -> None:
        name, host_if, ns_if = self.names[index], self._host_ifs[index], self._ns_ifs[index]
        _ip("netns", "add", name)
        self._made.append(index)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("link", "set", host_if, "master", self.bridge)
        _ip("link", "set", host_if, "up")
        inside = ("netns", "exec", name)
        _ip(*inside, IP, "addr", "add", f"{self.addresses[index]}/24", "dev", ns_if)
        _ip(*inside, IP, "link", "set", ns_if, "up")
        _ip(*inside, IP, "link", "set", "lo", "up")
        if self.delay_ms > 0:
            delay = f"{self.delay_ms:g}ms"
            # Egress of each end: towards the namespace on the host's end, towards the
            # host inside it; so a round trip pays the delay twice.
            _run(TC, "qdisc", "add", "dev", host_if, "root", "netem", "delay", delay)
            _ip(*inside, TC, "qdisc", "add", "dev", ns_if, "root", "netem", "delay", delay)

    def remove(self) -> None:
        """Delete every link, namespace and the bridge made; errors ignored (safe twice)."""
        for index in self._made:
            subprocess.run([IP, "link", "del", self._host_ifs[index]], capture_output=True)
            subprocess.run([IP, "netns", "del", self.names[index]], capture_output=True)
        self._made = []
        if self._made_bridge:
            subprocess.run([IP, "link", "del", self.bridge], capture_output=True)
            self._made_bridge = False
