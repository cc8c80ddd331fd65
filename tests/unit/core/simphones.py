"""Simulated phones around a SimProxy: the set-up most user-agent tests share.

Rule: everything is built from one seed, so a test is one deterministic run;
phones live at 10.0.0.1x:5060, the proxy/registrar at 10.0.0.1:5060 in
domain sim.test, every phone's password is "pw-<user>".
"""

from firmware.core.uaconfig import UaConfig
from firmware.core.useragent import UserAgent
from netsim import Lcg, Network, Sim, UaNode
from simproxy import SimProxy

PROXY_HOST = "10.0.0.1"
DOMAIN = "sim.test"


class World:
    def __init__(self, seed=1, loss=0.0, duplicate=0.0, auth=True, auth_invite=False,
                 min_expires=None, max_expires=None, nonce_ttl=None, min_delay=0.01,
                 max_delay=0.05, history=150):
        self.rng = Lcg(seed * 7919 + 1)
        self.sim = Sim(Network(seed, loss, duplicate, min_delay, max_delay))
        self.sim.net.history = history
        self.users = {}
        self.proxy = self.sim.add(SimProxy(PROXY_HOST, 5060, DOMAIN, self.users,
                                           auth_invite=auth_invite, min_expires=min_expires,
                                           max_expires=max_expires, nonce_ttl=nonce_ttl))
        self.proxy.history = history
        self.auth = auth
        self.count = 0

    @property
    def now(self):
        return self.sim.now

    def phone(self, user, reliable=False, start=True, **options):
        """A phone registered (or registering) with the proxy."""
        self.count += 1
        host = "10.0.0.%d" % (10 + self.count)
        if self.auth:
            self.users[user] = "pw-" + user
        settings = dict(user=user, domain=DOMAIN, password="pw-" + user,
                        proxy_address=PROXY_HOST, proxy_port=5060,
                        proxy_transport="tcp" if reliable else "udp",
                        local_address=host, local_port=5060, expires=600)
        for key in options:
            settings[key] = options[key]
        ua = UserAgent(UaConfig(**settings), self.rng.token)
        node = self.sim.add(UaNode(ua, host, 5060, proxy_addr="%s:5060" % PROXY_HOST,
                                   proxy_flow=("flow-" + user) if reliable else None))
        if start:
            ua.start(self.sim.now)
        return node

    def run_until(self, done, limit=600.0):
        return self.sim.run_until(done, limit)

    def registered(self, *nodes):
        return self.run_until(lambda: all(n.ua.registration.is_registered for n in nodes))


def has(node, name, count=1):
    return lambda: node.names().count(name) >= count


def events(node, name):
    return [e for e in node.events if e.name == name]


def last_session(node, name="incoming"):
    found = events(node, name)
    return found[-1].session if found else None
