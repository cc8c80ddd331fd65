"""An in-memory network and a virtual clock for sans-IO SIP tests.

Rule: everything is deterministic. Loss, duplication and delay come from a
seeded linear congruential generator (MicroPython's ``random`` differs from
CPython's, so the same seed must give the same run on both), and time only
moves when the simulator jumps to the earliest thing due: a packet delivery
or some node's ``next_deadline()``. Twenty-four simulated hours of
re-registrations therefore take milliseconds.

Datagrams may be lost, duplicated, delayed and so reordered; messages on a
flow (a modelled TLS/TCP connection) arrive once and in order.

A node is any object with ``addr`` ("host:port"), ``deliver(data, source,
reliable, now)``, ``next_deadline()``, ``on_timer(now)`` and ``flush(sim)``
(hand its pending output to the network). ``UaNode`` wraps a UserAgent and
records every command and event it produced (or, with ``cc`` set, the
events of that call-control object).
"""

from firmware.core.commands import PROXY, Datagram, Flow, Send


class Lcg:
    """The ANSI C generator: tiny, portable, good enough to drop packets."""

    def __init__(self, seed=1):
        self.state = seed & 0x7FFFFFFF

    def next(self):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state

    def random(self):
        return (self.next() >> 8) / 8388608.0

    def token(self, nbytes=8):
        out = []
        for _ in range(nbytes):
            out.append("%02x" % ((self.next() >> 16) & 0xFF))
        return "".join(out)


HISTORY = 150       # records kept per list: a day of traffic must fit a small heap


def remember(records, item, limit=HISTORY):
    """Append ``item`` to a history list, dropping the oldest past ``limit``."""
    records.append(item)
    if len(records) > limit + limit // 2:
        keep = records[-limit:]
        del records[:]
        records.extend(keep)


def addr_of(host, port):
    return "%s:%d" % (host, port)


class Packet:
    __slots__ = ("at", "seq", "src", "dst", "data", "flow")

    def __init__(self, at, seq, src, dst, data, flow):
        self.at = at
        self.seq = seq
        self.src = src
        self.dst = dst
        self.data = data
        self.flow = flow


class Network:
    """Links between nodes addressed "host:port"."""

    def __init__(self, seed=1, loss=0.0, duplicate=0.0, min_delay=0.01, max_delay=0.05):
        self.rng = Lcg(seed)
        self.loss = loss
        self.duplicate = duplicate
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.nodes = {}
        self.in_flight = []
        self.seq = 0
        self.sent = 0
        self.lost = 0
        self.log = []           # (time, src, dst, first line) of every packet sent
        self.flow_ready = {}    # flow id -> earliest delivery time (keeps order)
        self.drop = None        # drop(src, dst, data) -> True loses that datagram
        self.history = HISTORY  # records kept in each history list of the network's nodes

    def attach(self, node):
        self.nodes[node.addr] = node
        return node

    def _delay(self):
        return self.min_delay + (self.max_delay - self.min_delay) * self.rng.random()

    def _queue(self, at, src, dst, data, flow):
        self.seq += 1
        self.in_flight.append(Packet(at, self.seq, src, dst, data, flow))

    def send_datagram(self, src, dst, data, now):
        self.sent += 1
        remember(self.log, (now, src, dst, first_line(data)), self.history)
        if self.rng.random() < self.loss or (self.drop is not None and self.drop(src, dst, data)):
            self.lost += 1
            return
        self._queue(now + self._delay(), src, dst, data, None)
        if self.rng.random() < self.duplicate:
            self._queue(now + self._delay(), src, dst, data, None)

    def send_flow(self, src, dst, flow_id, data, now):
        """Reliable and ordered: never lost, never overtaking."""
        self.sent += 1
        remember(self.log, (now, src, dst, first_line(data)), self.history)
        at = now + self._delay()
        key = (src, dst)
        if key in self.flow_ready and self.flow_ready[key] > at:
            at = self.flow_ready[key]
        self.flow_ready[key] = at
        self._queue(at, src, dst, data, flow_id)

    def next_delivery(self):
        best = None
        for p in self.in_flight:
            if best is None or p.at < best:
                best = p.at
        return best

    def deliver_due(self, now):
        due = [p for p in self.in_flight if p.at <= now]
        if not due:
            return 0
        self.in_flight = [p for p in self.in_flight if p.at > now]
        due.sort(key=lambda p: (p.at, p.seq))
        for p in due:
            node = self.nodes.get(p.dst)
            if node is None:
                continue
            node.last_src = p.src
            if p.flow is None:
                host, port = split_addr(p.src)
                node.deliver(p.data, Datagram(host, port), False, p.at)
            else:
                node.deliver(p.data, Flow(p.flow), True, p.at)
        return len(due)


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


def first_line(data):
    end = data.find(b"\r\n")
    return data[:end].decode() if end >= 0 else data.decode()


class UaNode:
    """A UserAgent on the network. Its PROXY target is ``proxy_addr``; with
    ``proxy_flow`` set, the proxy is reached over a reliable flow of that id."""

    def __init__(self, ua, host, port, proxy_addr=None, proxy_flow=None):
        self.ua = ua
        self.addr = addr_of(host, port)
        self.proxy_addr = proxy_addr
        self.proxy_flow = proxy_flow
        self.flows = {}           # flow id -> peer addr, for Flow targets
        self.commands = []        # the latest commands the UA gave, for assertions
        self.events = []          # the latest events the UA gave
        self.counts = {}          # event name -> how many so far
        self.fail_targets = []    # targets whose sends fail (transport error)
        self.last_src = None
        self.cc = None            # an app-level object draining the UA's events

    def deliver(self, data, source, reliable, now):
        if reliable and isinstance(source, Flow):
            peer = self._flow_peer(source.flow_id)
            self.flows[source.flow_id] = peer
        self.ua.receive(data, source, reliable, now)

    def _flow_peer(self, flow_id):
        if flow_id == self.proxy_flow:
            return self.proxy_addr
        return self.flows.get(flow_id)

    def next_deadline(self):
        return self.ua.next_deadline()

    def on_timer(self, now):
        self.ua.on_timer(now)

    def flush(self, sim):
        for _ in range(100):
            commands = self.ua.commands()
            # With a call-control layer on top, it consumes the UA's events.
            for event in self.cc.events() if self.cc is not None else self.ua.events():
                remember(self.events, event, sim.net.history)
                self.counts[event.name] = self.counts.get(event.name, 0) + 1
            if not commands:
                return
            for cmd in commands:
                remember(self.commands, cmd, sim.net.history)
                if isinstance(cmd, Send):
                    self._send(sim, cmd)

    def _send(self, sim, cmd):
        target = cmd.target
        for bad in self.fail_targets:
            if bad == target:
                self.ua.transport_error(target, sim.now)
                return
        data = cmd.message.serialize()
        net = sim.net
        if target == PROXY:
            if self.proxy_flow is not None:
                net.send_flow(self.addr, self.proxy_addr, self.proxy_flow, data, sim.now)
            else:
                net.send_datagram(self.addr, self.proxy_addr, data, sim.now)
        elif isinstance(target, Datagram):
            net.send_datagram(self.addr, addr_of(target.host, target.port), data, sim.now)
        elif isinstance(target, Flow):
            peer = self._flow_peer(target.flow_id)
            if peer is None:
                self.ua.transport_error(target, sim.now)
            else:
                net.send_flow(self.addr, peer, target.flow_id, data, sim.now)

    def sent(self, what):
        """Messages sent whose first line contains ``what`` ('INVITE', ' 200 ')."""
        out = []
        for cmd in self.commands:
            if isinstance(cmd, Send):
                msg = cmd.message
                line = msg.method + " " if msg.is_request else " %d " % msg.status
                if what in line:
                    out.append(msg)
        return out

    def names(self):
        """Names of the events seen so far."""
        return [e.name for e in self.events]


class RawNode:
    """A scripted peer: sends the bytes a test gives it, keeps what arrives."""

    def __init__(self, host, port):
        self.addr = addr_of(host, port)
        self.host = host
        self.port = port
        self.outbox = []
        self.received = []          # parsed messages, in arrival order
        self.last_src = None

    def send(self, dst, data):
        if isinstance(data, str):
            data = data.encode()
        self.outbox.append((dst, data))

    def deliver(self, data, source, reliable, now):
        from firmware.core.parse import parse_message
        self.received.append(parse_message(data))

    def responses(self, status=None):
        return [m for m in self.received
                if not m.is_request and (status is None or m.status == status)]

    def requests(self, method=None):
        return [m for m in self.received
                if m.is_request and (method is None or m.method == method)]

    def next_deadline(self):
        return None

    def on_timer(self, now):
        pass

    def flush(self, sim):
        out = self.outbox
        self.outbox = []
        for dst, data in out:
            sim.net.send_datagram(self.addr, dst, data, sim.now)


class Sim:
    """The virtual clock driving a network and its nodes."""

    def __init__(self, net=None, start=1000.0):
        self.net = net or Network()
        self.now = start
        self.steps = 0

    def add(self, node):
        return self.net.attach(node)

    def flush(self):
        for _ in range(100):
            before = len(self.net.in_flight) + self.net.sent
            for node in list(self.net.nodes.values()):
                node.flush(self)
            if len(self.net.in_flight) + self.net.sent == before:
                return

    def next_time(self):
        best = self.net.next_delivery()
        for node in self.net.nodes.values():
            t = node.next_deadline()
            if t is not None and (best is None or t < best):
                best = t
        return best

    def step(self, until=None):
        """Jump to the next thing due and run it; False when nothing is left
        (or the next thing lies beyond ``until``)."""
        self.flush()
        t = self.next_time()
        if t is None or (until is not None and t > until):
            return False
        if t > self.now:
            self.now = t
        self.steps += 1
        self.net.deliver_due(self.now)
        for node in list(self.net.nodes.values()):
            d = node.next_deadline()
            if d is not None and d <= self.now:
                node.on_timer(self.now)
        self.flush()
        return True

    def run(self, seconds):
        """Advance the clock by ``seconds`` of simulated time."""
        end = self.now + seconds
        while self.step(end):
            pass
        if self.now < end:
            self.now = end

    def run_until(self, done, limit=600.0):
        """Run until ``done()`` is true; False when ``limit`` seconds passed."""
        end = self.now + limit
        self.flush()
        while not done():
            if not self.step(end):
                return done()
        return True
