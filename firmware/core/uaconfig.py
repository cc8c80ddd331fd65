"""The user agent's settings: a small flat object built from the phone config.

Rule: ``UaConfig.from_dict`` reads the nested configuration document (the
sections ``account``, ``outbound_proxy``, ``listen``, ``registration``,
``sip``, ``media``; either plain dicts or objects with attributes, such as a
validated app Config) and fills every missing field with a default. It does
not validate: the schema check happens before, in the application. The
password is never part of repr().
"""

DEFAULT_EXPIRES = 600


def _get(section, key, default=None):
    if section is None:
        return default
    if isinstance(section, dict):
        value = section.get(key, default)
    else:
        value = getattr(section, key, default)
    return default if value is None else value


class UaConfig:
    __slots__ = ("user", "password", "domain", "display_name", "auth_user",
                 "proxy_address", "proxy_hostname", "proxy_port", "proxy_transport",
                 "local_address", "local_port", "local_udp_port", "rtp_port", "expires",
                 "register", "t1", "t2", "t4", "instance_id", "reg_id", "use_outbound",
                 "user_agent", "codecs")

    def __init__(self, user, domain, password="", display_name="", auth_user="",
                 proxy_address=None, proxy_hostname=None, proxy_port=None,
                 proxy_transport="tls", local_address="127.0.0.1", local_port=5060,
                 local_udp_port=None, rtp_port=40000, expires=DEFAULT_EXPIRES, register=True,
                 t1=0.5, t2=4.0, t4=5.0, instance_id=None, reg_id=1, use_outbound=False,
                 user_agent="deskphone", codecs=("PCMU", "PCMA")):
        self.user = user
        self.domain = domain
        self.password = password
        self.display_name = display_name
        self.auth_user = auth_user
        self.proxy_address = proxy_address
        self.proxy_hostname = proxy_hostname
        self.proxy_transport = (proxy_transport or "udp").lower()
        if proxy_port is None:
            proxy_port = 5061 if self.proxy_transport == "tls" else 5060
        self.proxy_port = proxy_port
        self.local_address = local_address
        self.local_port = local_port
        # The port of Vias on datagrams (UDP is the default transport for
        # anything not sent to the proxy): local_port when the proxy is on UDP.
        if local_udp_port is None:
            local_udp_port = local_port if self.proxy_transport == "udp" else 5060
        self.local_udp_port = local_udp_port
        self.rtp_port = rtp_port
        self.expires = expires
        self.register = register
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.instance_id = instance_id
        self.reg_id = reg_id
        self.use_outbound = use_outbound
        self.user_agent = user_agent
        self.codecs = tuple(codecs)

    @classmethod
    def from_dict(cls, doc):
        """Build from the nested configuration document (dict-like)."""
        account = _get(doc, "account")
        proxy = _get(doc, "outbound_proxy")
        listen = _get(doc, "listen")
        reg = _get(doc, "registration")
        sip = _get(doc, "sip")
        media = _get(doc, "media")
        transport = _get(proxy, "transport", "tls")
        if transport == "tls":
            local_port = _get(listen, "tls_port", 5061)
        else:
            local_port = _get(listen, "udp_port", 5060)
        use_outbound = _get(sip, "use_outbound", _get(proxy, "use_outbound", False))
        return cls(
            user=_get(account, "user", ""),
            domain=_get(account, "domain", ""),
            password=_get(account, "password", ""),
            display_name=_get(account, "display_name", ""),
            auth_user=_get(account, "auth_user", ""),
            proxy_address=_get(proxy, "address"),
            proxy_hostname=_get(proxy, "hostname"),
            proxy_port=_get(proxy, "port"),
            proxy_transport=transport,
            local_address=_get(listen, "address", "127.0.0.1"),
            local_port=local_port,
            local_udp_port=_get(listen, "udp_port", 5060),
            rtp_port=_get(media, "rtp_port", 40000),
            expires=_get(reg, "expires_s", DEFAULT_EXPIRES),
            register=_get(reg, "enabled", True),
            t1=_get(sip, "t1_s", 0.5),
            t2=_get(sip, "t2_s", 4.0),
            t4=_get(sip, "t4_s", 5.0),
            instance_id=_get(sip, "instance_id"),
            reg_id=_get(sip, "reg_id", 1),
            use_outbound=bool(use_outbound),
            user_agent=_get(sip, "user_agent", "deskphone"),
            codecs=_get(media, "codecs", ("PCMU", "PCMA")),
        )

    @property
    def has_proxy(self):
        return bool(self.proxy_address or self.proxy_hostname)

    @property
    def proxy_reliable(self):
        return self.proxy_transport in ("tcp", "tls")

    @property
    def aor(self):
        """The address of record, sip:user@domain."""
        return "sip:%s@%s" % (self.user, self.domain)

    def __repr__(self):
        return "UaConfig(%s, proxy=%s:%s/%s, local=%s:%s)" % (
            self.aor, self.proxy_address or self.proxy_hostname, self.proxy_port,
            self.proxy_transport, self.local_address, self.local_port)
