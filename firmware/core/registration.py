"""Registration of the phone's contact with its registrar (RFC 3261 10, RFC 5626).

Rule: one Call-ID for every REGISTER of this user agent, the CSeq going up
by one each time (10.2). A REGISTER asks for the configured expiry; the
registrar's grant (the ``expires`` of our Contact in the 2xx, else Expires)
decides when the refresh goes out, well before expiry. 423 Interval Too
Brief is answered at once with Min-Expires. Any other failure is reported
and retried with the RFC 5626 4.5 back-off (honouring Retry-After). With
the outbound flag the Contact carries ``+sip.instance`` and ``reg-id`` and
REGISTER says ``Supported: outbound``. ``stop`` sends the un-REGISTER.

States and events: registering -> registered -> refreshing -> registered;
failed (REG_FAILED with status and cause) -> registering again after the
back-off; unregistering -> unregistered.
"""

from firmware.core.commands import UaEvent
from firmware.core.headers import NameAddr, parse_uint
from firmware.core.message import Request
from firmware.core.uri import parse_uri

IDLE = "idle"
REGISTERING = "registering"
REGISTERED = "registered"
REFRESHING = "refreshing"
FAILED = "failed"
UNREGISTERING = "unregistering"
UNREGISTERED = "unregistered"

BACKOFF_BASE = 30.0
BACKOFF_MAX = 1800.0


def refresh_delay(granted):
    """Seconds after a grant at which to refresh: never at the last moment,
    a tenth of the period early for long ones, half-way for short ones."""
    margin = max(granted * 0.1, min(32.0, granted / 2.0))
    return granted - margin


class Registration:
    def __init__(self, ua):
        self.ua = ua
        self.state = IDLE
        self.call_id = None
        self.from_tag = None
        self.cseq = 0
        self.requested = ua.config.expires
        self.granted = None
        self.expires_at = None
        self.refresh_at = None
        self.retry_at = None
        self.tx = None
        self.failures = 0
        self.flow_timer = None

    def __repr__(self):
        return "Registration(%s, granted=%s)" % (self.state, self.granted)

    @property
    def is_registered(self):
        return self.state in (REGISTERED, REFRESHING)

    # -- operations -------------------------------------------------------------------

    def start(self, now):
        """Register now (also to re-register over a new connection)."""
        self.refresh_at = self.retry_at = None
        refreshing = self.state in (REGISTERED, REFRESHING)
        self.state = REFRESHING if refreshing else REGISTERING
        self.ua.emit(UaEvent(UaEvent.REFRESHING if refreshing else UaEvent.REGISTERING))
        self._send(self.requested, now)

    def stop(self, now):
        """Remove our binding (un-REGISTER); nothing to do if never registered."""
        self.refresh_at = self.retry_at = None
        if self.state in (REGISTERED, REFRESHING, REGISTERING):
            self.state = UNREGISTERING
            self._send(0, now)
        else:
            self.state = IDLE

    # -- timers -------------------------------------------------------------------------

    def next_deadline(self):
        best = None
        for t in (self.refresh_at, self.retry_at):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now):
        if self.refresh_at is not None and now >= self.refresh_at:
            self.refresh_at = None
            self.state = REFRESHING
            self.ua.emit(UaEvent(UaEvent.REFRESHING))
            self._send(self.requested, now)
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
            self.state = REGISTERING
            self.ua.emit(UaEvent(UaEvent.REGISTERING))
            self._send(self.requested, now)

    # -- messages -------------------------------------------------------------------------

    def contact(self):
        ua = self.ua
        c = ua.config
        contact = ua.contact(False)
        if c.use_outbound and c.instance_id:
            contact += ';+sip.instance="<%s>";reg-id=%d' % (c.instance_id, c.reg_id)
        return contact

    def _send(self, expires, now):
        ua = self.ua
        c = ua.config
        if self.call_id is None:
            self.call_id = ua.new_call_id()
            self.from_tag = ua.new_token()
        self.cseq += 1
        aor = NameAddr(parse_uri(c.aor))
        if c.display_name:
            aor.display = c.display_name
        request = Request("REGISTER", "sip:" + c.domain)
        h = request.headers
        h.add("Max-Forwards", "70")
        h.add("From", aor.serialize() + ";tag=" + self.from_tag)
        h.add("To", aor.serialize())
        h.add("Call-ID", self.call_id)
        h.add("CSeq", "%d REGISTER" % self.cseq)
        h.add("Contact", self.contact())
        h.add("Expires", "%d" % expires)
        if c.use_outbound:
            h.add("Supported", "path, outbound")
        self.tx = ua.send_request(request, self, now)

    def on_response(self, tx, response, now):
        if tx is not self.tx:
            return
        status = response.status
        if status < 200:
            return
        self.tx = None
        self.cseq = max(self.cseq, response.cseq()[0])
        if self.state == UNREGISTERING:
            if status in (401, 407) and self._retry_auth(tx, response, now):
                return
            self.state = UNREGISTERED
            self.ua.emit(UaEvent(UaEvent.UNREGISTERED, status=status))
            return
        if 200 <= status < 300:
            self._registered(response, now)
        elif status in (401, 407):
            if not self._retry_auth(tx, response, now):
                self._failed(status, "authentication failed", now)
        elif status == 423:
            minimum = self._header_int(response, "Min-Expires")
            if minimum is None or minimum <= self.requested:
                self._failed(status, "423 without a usable Min-Expires", now)
            else:
                self.requested = minimum
                self._send(minimum, now)
        else:
            self._failed(status, tx.local_failure or response.reason, now, response)

    def on_server_failure(self, tx, reason, now):
        pass

    def _retry_auth(self, tx, response, now):
        new = self.ua.resend_with_auth(tx, response, now)
        if new is None:
            return False
        self.tx = new
        self.cseq = new.request.cseq()[0]
        return True

    def _registered(self, response, now):
        granted = self._granted(response)
        if granted <= 0:
            self._failed(response.status, "registrar kept no binding", now)
            return
        self.granted = granted
        self.failures = 0
        self.state = REGISTERED
        self.expires_at = now + granted
        self.refresh_at = now + refresh_delay(granted)
        self.flow_timer = self._header_int(response, "Flow-Timer")
        self.ua.emit(UaEvent(UaEvent.REGISTERED, status=response.status, expires=granted))

    def _granted(self, response):
        c = self.ua.config
        for contact in response.contacts():
            if contact == "*":
                continue
            uri = contact.uri
            ours = uri.user == c.user and (uri.port or 5060) == c.local_port and \
                uri.host.strip("[]").lower() == c.local_address.strip("[]").lower()
            if c.use_outbound and c.instance_id:
                instance = contact.param("+sip.instance")
                if instance is not None:
                    ours = instance.strip('"') == "<%s>" % c.instance_id
            value = contact.param("expires")
            if ours and value is not None:
                try:
                    return parse_uint(value, 1 << 32)
                except ValueError:
                    break
        value = self._header_int(response, "Expires")
        return self.requested if value is None else value

    def _header_int(self, message, name):
        value = message.headers.get(name)
        if value is None:
            return None
        try:
            return parse_uint(value.strip(), 1 << 32)
        except ValueError:
            return None

    def _failed(self, status, cause, now, response=None):
        self.state = FAILED
        self.failures += 1
        wait = None
        if response is not None:
            wait = self._header_int(response, "Retry-After")
        if wait is None:
            # RFC 5626 4.5: min(max, base * 2^(failures-1)), 50-100 % of it.
            wait = BACKOFF_BASE
            for _ in range(self.failures - 1):
                wait *= 2
                if wait >= BACKOFF_MAX:
                    break
            wait = min(wait, BACKOFF_MAX) * (0.5 + 0.5 * self.ua.rand_unit())
        self.retry_at = now + wait
        self.ua.emit(UaEvent(UaEvent.REG_FAILED, status=status, cause=cause))
