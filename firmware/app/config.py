"""The phone's configuration: one JSON document, checked whole before anything starts.

Rule: ``parse_config`` either returns a complete ``Config`` (every default
filled in) or raises ``ConfigError`` listing *every* wrong field with its path
(``outbound_proxy.port: must be an integer 1..65535``). Nothing here reads
files: the runtime checks that the files named here exist, with the same path
style, before it opens a socket.
"""

from firmware.app.dialplan import DialPlan, DialPlanError

TRANSPORTS = ("tls", "tcp", "udp")
PERSISTENCE = ("none", "transaction", "user")
CODECS = ("PCMU", "PCMA")
REGIONS = ("eu", "na", "uk")


class ConfigError(Exception):
    """Every problem found in a configuration, as ``path: message`` strings."""

    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


class Section:
    """A validated section: attributes named after the JSON fields."""

    def __init__(self, values):
        for key in values:
            setattr(self, key, values[key])

    def as_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        fields = []
        for key in sorted(self.__dict__):
            value = self.__dict__[key]
            if key == "password" and value:
                value = "***"
            fields.append("%s=%r" % (key, value))
        return "Section(%s)" % ", ".join(fields)


class Config:
    """The whole validated configuration; one ``Section`` per JSON object."""

    def __init__(self, sections):
        for key in sections:
            setattr(self, key, sections[key])

    @property
    def persistent_proxy_connection(self):
        """DESIGN rule 1: both IP and hostname, over TLS, persistence ``user``."""
        proxy = self.outbound_proxy
        return (proxy.transport == "tls" and proxy.persistence == "user"
                and bool(proxy.address) and bool(proxy.hostname))


# Field specs: (name, kind, default, required). Kinds are checked by _check.
_REQUIRED = object()

SCHEMA = (
    ("account", (
        ("user", "token", _REQUIRED),
        ("password", "str", ""),
        ("domain", "host", _REQUIRED),
        ("display_name", "str", ""),
        ("auth_user", "token_or_empty", ""),
    )),
    ("outbound_proxy", (
        ("address", "ip_or_null", None),
        ("hostname", "hostname_or_null", None),
        ("port", "port", 5061),
        ("transport", ("enum", TRANSPORTS), "tls"),
        ("persistence", ("enum", PERSISTENCE), "user"),
    )),
    ("tls", (
        ("ca_file", "path_or_null", None),
        ("cert_file", "path_or_null", None),
        ("key_file", "path_or_null", None),
    )),
    ("listen", (
        ("address", "ip", "127.0.0.1"),
        ("udp_port", "port_or_zero", 5060),
        ("tls_port", "port_or_zero", 5061),
        ("tls_cert_file", "path_or_null", None),
        ("tls_key_file", "path_or_null", None),
    )),
    ("keepalive", (
        ("interval_s", ("number", 5, 3600), 90),
        ("pong_timeout_s", ("number", 1, 120), 10),
    )),
    ("reconnect", (
        ("base_s", ("number", 0.1, 3600), 30),
        ("max_s", ("number", 1, 86400), 1800),
    )),
    ("registration", (
        ("expires_s", ("number", 30, 86400), 600),
    )),
    ("sip", (
        ("t1_s", ("number", 0.05, 10), 0.5),
        ("t2_s", ("number", 0.5, 60), 4.0),
        ("t4_s", ("number", 0.5, 60), 5.0),
        ("user_agent", "str", "deskphone"),
        ("instance_id", "str_or_null", None),
        ("use_outbound", "bool", True),
    )),
    ("phone", (
        ("dial_plan", "dial_plan", ""),
        ("digit_timeout_s", ("number", 1, 60), 4),
        ("first_digit_timeout_s", ("number", 1, 300), 20),
        ("call_waiting", "bool", True),
        ("dnd", "bool", False),
        ("region", ("enum", REGIONS), "eu"),
        ("call_log_size", ("number", 0, 500), 50),
        ("call_log_file", "path_or_null", None),
    )),
    ("media", (
        ("rtp_port", "port", 40000),
        ("codecs", ("list_of", CODECS), ["PCMU", "PCMA"]),
        ("symmetric_rtp", "bool", False),
    )),
)


def _is_ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or len(part) > 3 or int(part) > 255:
            return False
    return True


def _is_ipv6(text):
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" not in text or text.count("::") > 1:
        return False
    groups = text.split(":")
    if _is_ipv4(groups[-1]):
        groups = groups[:-1] + ["0", "0"]
    if len(groups) > 8 or ("::" not in text and len(groups) != 8):
        return False
    for group in groups:
        if len(group) > 4:
            return False
        for ch in group:
            if ch not in "0123456789abcdefABCDEF":
                return False
    return True


def is_ip_address(text):
    return _is_ipv4(text) or _is_ipv6(text)


def is_hostname(text):
    if not text or len(text) > 253 or is_ip_address(text):
        return False
    for label in text.rstrip(".").split("."):
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return False
        for ch in label:
            if not (ch.isalpha() or ch.isdigit() or ch == "-"):
                return False
    return True


_TOKEN_EXTRA = "-.!%*_+`'~"


def _is_token(text):
    if not text:
        return False
    for ch in text:
        if not (ch.isalpha() or ch.isdigit() or ch in _TOKEN_EXTRA):
            return False
    return True


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(kind, value):
    """Return an error message for ``value`` of ``kind``, or None when it fits."""
    if isinstance(kind, tuple):
        if kind[0] == "enum":
            if value not in kind[1]:
                return "must be one of " + ", ".join('"%s"' % v for v in kind[1])
            return None
        if kind[0] == "list_of":
            if (not isinstance(value, list) or not value
                    or [v for v in value if v not in kind[1]]):
                return "must be a non-empty list of " + ", ".join('"%s"' % v for v in kind[1])
            return None
        low, high = kind[1], kind[2]
        if not _is_number(value) or not low <= value <= high:
            return "must be a number %s..%s" % (low, high)
        return None
    if kind.endswith("_or_null"):
        if value is None:
            return None
        kind = kind[:-8]
    if kind.endswith("_or_empty"):
        if value == "":
            return None
        kind = kind[:-9]
    if kind == "dial_plan":
        if not isinstance(value, str):
            return "must be a string"
        try:
            DialPlan(value)
        except DialPlanError as error:
            return str(error)
        return None
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind in ("port", "port_or_zero"):
        low = 0 if kind == "port_or_zero" else 1
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 65535:
            return "must be an integer %d..65535" % low
        return None
    if not isinstance(value, str):
        return "must be a string"
    if kind == "str":
        return None
    if kind == "token":
        return None if _is_token(value) else "must be a SIP user name (letters, digits, -.!%*_+`'~)"
    if kind == "ip":
        return None if is_ip_address(value) else "must be an IPv4 or IPv6 address"
    if kind == "hostname":
        return None if is_hostname(value) else "must be a DNS host name (not an IP address)"
    if kind == "host":
        if is_ip_address(value) or is_hostname(value):
            return None
        return "must be a host name or an IP address"
    if kind == "path":
        return None if value else "must be a file path"
    return "unknown kind " + kind


def _cross_checks(sections, problems):
    proxy = sections["outbound_proxy"]
    tls = sections["tls"]
    listen = sections["listen"]
    if proxy["address"] is None and proxy["hostname"] is None:
        problems.append("outbound_proxy: needs an address, a hostname or both")
    if proxy["transport"] == "tls" and tls["ca_file"] is None:
        problems.append("tls.ca_file: required with transport \"tls\": the proxy certificate "
                        "is always verified")
    if (tls["cert_file"] is None) != (tls["key_file"] is None):
        problems.append("tls: cert_file and key_file go together (mutual TLS needs both)")
    if proxy["transport"] == "tls" and listen["tls_port"]:
        for name in ("tls_cert_file", "tls_key_file"):
            if listen[name] is None:
                problems.append("listen.%s: required while listen.tls_port is set (the phone "
                                "is a TLS server too); set tls_port to 0 to accept no TLS" % name)
    keepalive = sections["keepalive"]
    if keepalive["pong_timeout_s"] >= keepalive["interval_s"]:
        problems.append("keepalive.pong_timeout_s: must be shorter than keepalive.interval_s")
    reconnect = sections["reconnect"]
    if reconnect["base_s"] > reconnect["max_s"]:
        problems.append("reconnect.base_s: must not exceed reconnect.max_s")


def parse_config(document):
    """Validate a decoded JSON document; return a ``Config`` or raise ``ConfigError``."""
    problems = []
    if not isinstance(document, dict):
        raise ConfigError(["(top level): must be a JSON object"])
    known = [name for name, _ in SCHEMA]
    for key in sorted(document):
        if key not in known:
            problems.append("%s: unknown section (expected one of %s)" % (key, ", ".join(known)))
    sections = {}
    for section_name, fields in SCHEMA:
        raw = document.get(section_name, {})
        if not isinstance(raw, dict):
            problems.append("%s: must be a JSON object" % section_name)
            raw = {}
        names = [f[0] for f in fields]
        for key in sorted(raw):
            if key not in names:
                problems.append("%s.%s: unknown field" % (section_name, key))
        values = {}
        for name, kind, default in fields:
            path = section_name + "." + name
            if name not in raw:
                if default is _REQUIRED:
                    problems.append(path + ": required")
                    values[name] = None
                else:
                    values[name] = default
                continue
            message = _check(kind, raw[name])
            if message:
                problems.append(path + ": " + message)
                values[name] = default if default is not _REQUIRED else None
            else:
                values[name] = raw[name]
        sections[section_name] = values
    _cross_checks(sections, problems)
    if problems:
        raise ConfigError(problems)
    return Config(dict((name, Section(values)) for name, values in sections.items()))
