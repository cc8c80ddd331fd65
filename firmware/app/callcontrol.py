"""Call control: the call model the phone application programs against.

Rule: calls are numbered (``call`` numbers, 1, 2, ...), every function
returns at once and its outcome arrives later as an event, and a function
called in a state that does not allow it gives a TASKFAIL event with the
reason instead of raising. The model follows the reference product's call
control:

    outbound  make_call -> DIALING -> (PROCEEDING) -> (ALERTING) -> CONNECTED
    inbound   OFFERED -> accept_call (180, ACCEPT) -> answer_call (200) -> CONNECTED
    ending    drop_call -> DROPCALL (state IDLE) -> release_call -> RELEASECALL (NULL)
              the far end hanging up or cancelling gives DISCONNECTED; drop_call
              then completes at once.

A failed outgoing call (a final error response, a timeout, a transport
error) gives TASKFAIL with the SIP status and a cause, and leaves the call
IDLE for release_call. Registration is reported as REGISTERING, REFRESHING,
REGISTERED, REGFAIL and UNREGISTERED. Sans-IO: every function takes ``now``
(defaulting to the user agent's latest time); the runtime drains ``events()``
here instead of the user agent's, which this object consumes.
"""

from firmware.core.commands import UaEvent as ua_ev

# Call states.
NULL = "NULL"
DIALING = "DIALING"
PROCEEDING = "PROCEEDING"
ALERTING = "ALERTING"
OFFERED = "OFFERED"
ACCEPTED = "ACCEPTED"
CONNECTED = "CONNECTED"
DISCONNECTED = "DISCONNECTED"
IDLE = "IDLE"

# Events (PROCEEDING, ALERTING, OFFERED, CONNECTED, DISCONNECTED share the state names).
ACCEPT = "ACCEPT"
DROPCALL = "DROPCALL"
RELEASECALL = "RELEASECALL"
TASKFAIL = "TASKFAIL"
HOLDACK = "HOLDACK"
HOLDREJ = "HOLDREJ"
RESUMEACK = "RESUMEACK"
RESUMEREJ = "RESUMEREJ"
MEDIA = "MEDIA"
EARLYMEDIA = "EARLYMEDIA"
REGISTERING = "REGISTERING"
REFRESHING = "REFRESHING"
REGISTERED = "REGISTERED"
REGFAIL = "REGFAIL"
UNREGISTERED = "UNREGISTERED"

_REGISTRATION_EVENTS = {
    ua_ev.REGISTERING: REGISTERING,
    ua_ev.REFRESHING: REFRESHING,
    ua_ev.REGISTERED: REGISTERED,
    ua_ev.REG_FAILED: REGFAIL,
    ua_ev.UNREGISTERED: UNREGISTERED,
}


class CallEvent:
    """One event; ``str()`` gives ``NAME call=1 remote=sip:x@y status=486 cause="..."``."""

    __slots__ = ("name", "call", "remote", "status", "cause", "state", "expires",
                 "direction", "media", "display")

    def __init__(self, name, call=None, remote=None, status=None, cause=None, state=None,
                 expires=None, direction=None, media=None, display=None):
        self.name = name
        self.call = call
        self.remote = remote
        self.status = status
        self.cause = cause
        self.state = state
        self.expires = expires
        self.direction = direction
        self.media = media
        self.display = display

    def __str__(self):
        parts = [self.name]
        for key, value in (("call", self.call), ("remote", self.remote), ("display", self.display),
                           ("status", self.status), ("expires", self.expires),
                           ("direction", self.direction), ("cause", self.cause)):
            if value is None:
                continue
            text = str(value)
            if " " in text or '"' in text or not text:
                text = '"' + text.replace('"', "'") + '"'
            parts.append("%s=%s" % (key, text))
        return " ".join(parts)

    def __repr__(self):
        return "<CallEvent %s>" % self.__str__()


class Call:
    """What the application may read about one call."""

    __slots__ = ("number", "state", "remote", "outbound", "session", "dropping", "held")

    def __init__(self, number, state, remote, outbound, session):
        self.number = number
        self.state = state
        self.remote = remote
        self.outbound = outbound
        self.session = session
        self.dropping = False
        self.held = False

    @property
    def media(self):
        """The negotiated audio (codec, remote RTP address...) or None."""
        return self.session.negotiated if self.session is not None else None

    @property
    def local_rtp_port(self):
        return self.session.media.local_port if self.session is not None else None

    def __repr__(self):
        return "Call(%d, %s, %s)" % (self.number, self.state, self.remote)


class CallControl:
    def __init__(self, ua):
        self.ua = ua
        self.calls = []
        self._events = []
        self._next_number = 1

    # -- the runtime's side -------------------------------------------------------------

    def events(self):
        """Drain every call-control event (after reading the user agent's)."""
        self.poll()
        out = self._events
        self._events = []
        return out

    def poll(self):
        for event in self.ua.events():
            self._translate(event)

    def call(self, number):
        for call in self.calls:
            if call.number == number:
                return call
        return None

    def state(self, number):
        call = self.call(number)
        return call.state if call is not None else NULL

    # -- functions ------------------------------------------------------------------------

    def make_call(self, destination, origination=None, now=None):
        """Call ``destination`` (a SIP URI or a user at our domain); returns the
        call number. ``origination`` is a display name or a From address."""
        now = self._now(now)
        self.poll()
        call = self._new_call(DIALING, destination, True, None)
        try:
            session = self.ua.call(destination, now, origination)
        except ValueError as error:
            call.state = IDLE
            self._fail(call, "make_call", "bad destination: %s" % error)
            return call.number
        session.app = call
        call.session = session
        call.remote = session.remote_uri
        return call.number

    def accept_call(self, number, now=None):
        """Tell the caller the phone is ringing (180); ACCEPT, state ACCEPTED."""
        call = self._check(number, "accept_call", (OFFERED,))
        if call is None:
            return False
        if not call.session.ring(self._now(now)):
            return self._fail(call, "accept_call", "the call can no longer be accepted")
        call.state = ACCEPTED
        self._emit(ACCEPT, call)
        return True

    def answer_call(self, number, now=None):
        """Answer (200 with our SDP); CONNECTED follows when the ACK arrives."""
        call = self._check(number, "answer_call", (OFFERED, ACCEPTED))
        if call is None:
            return False
        if not call.session.answer(self._now(now)):
            return self._fail(call, "answer_call", "the call is already answered")
        return True

    def drop_call(self, number, status=None, now=None):
        """End the call as its state needs: CANCEL, BYE or a final error
        response (``status``, default 486). DROPCALL when done."""
        call = self._check(number, "drop_call", (DIALING, PROCEEDING, ALERTING, OFFERED,
                                                 ACCEPTED, CONNECTED, DISCONNECTED))
        if call is None:
            return False
        if call.dropping:
            return self._fail(call, "drop_call", "drop already in progress")
        if call.state == DISCONNECTED:
            call.state = IDLE
            self._emit(DROPCALL, call)
            return True
        call.dropping = True
        if not call.session.hang_up(self._now(now), status):
            call.dropping = False
            return self._fail(call, "drop_call", "the call is already ending")
        self.poll()          # a reject completes at once
        return True

    def release_call(self, number, now=None):
        """Free an IDLE call's number: RELEASECALL, state NULL."""
        call = self._check(number, "release_call", (IDLE,))
        if call is None:
            return False
        call.state = NULL
        self.calls.remove(call)
        self._emit(RELEASECALL, call)
        return True

    def hold_call(self, number, now=None):
        """Put a connected call on hold (re-INVITE, sendonly): HOLDACK/HOLDREJ."""
        call = self._check(number, "hold_call", (CONNECTED,))
        if call is None:
            return False
        if call.held:
            return self._fail(call, "hold_call", "the call is already on hold")
        if not call.session.hold(self._now(now)):
            return self._fail(call, "hold_call", "a re-INVITE is already in progress")
        return True

    def resume_call(self, number, now=None):
        """Take a held call off hold (re-INVITE, sendrecv): RESUMEACK/RESUMEREJ."""
        call = self._check(number, "resume_call", (CONNECTED,))
        if call is None:
            return False
        if not call.held:
            return self._fail(call, "resume_call", "the call is not on hold")
        if not call.session.resume(self._now(now)):
            return self._fail(call, "resume_call", "a re-INVITE is already in progress")
        return True

    def register(self, now=None):
        self.ua.register(self._now(now))

    def shutdown(self, now=None):
        """Hang up everything and un-REGISTER."""
        self.ua.shutdown(self._now(now))
        self.poll()

    # -- internals ------------------------------------------------------------------------

    def _now(self, now):
        return self.ua.now if now is None else now

    def _new_call(self, state, remote, outbound, session):
        call = Call(self._next_number, state, remote, outbound, session)
        self._next_number += 1
        self.calls.append(call)
        return call

    def _check(self, number, function, states):
        self.poll()
        call = self.call(number)
        if call is None:
            self._events.append(CallEvent(TASKFAIL, number,
                                          cause="%s: no call %s" % (function, number)))
            return None
        if call.state not in states:
            self._fail(call, function, "not allowed in state %s" % call.state)
            return None
        return call

    def _fail(self, call, function, reason):
        self._emit(TASKFAIL, call, cause="%s: %s" % (function, reason))
        return False

    def _emit(self, name, call, status=None, cause=None, **fields):
        event = CallEvent(name, call.number if call else None, call.remote if call else None,
                          status, cause, call.state if call else None)
        for key in fields:
            setattr(event, key, fields[key])
        self._events.append(event)

    def _translate(self, event):
        name = event.name
        if name in _REGISTRATION_EVENTS:
            self._events.append(CallEvent(_REGISTRATION_EVENTS[name], status=event.status,
                                          cause=event.cause, expires=event.expires))
            return
        session = event.session
        if name == ua_ev.INCOMING:
            call = self._new_call(OFFERED, session.remote_uri, False, session)
            session.app = call
            self._emit(OFFERED, call, display=getattr(session, "remote_display", None))
            return
        call = session.app if session is not None else None
        if call is None or call.state == NULL:
            return
        if name == ua_ev.PROGRESS:
            self._progress(call, event.status)
        elif name == ua_ev.EARLY_MEDIA:
            if call.state in (DIALING, PROCEEDING, ALERTING) and not call.dropping:
                self._emit(EARLYMEDIA, call, direction=event.media.direction, media=event.media)
        elif name == ua_ev.CONNECTED:
            call.state = CONNECTED
            self._emit(CONNECTED, call, media=event.media)
        elif name == ua_ev.ENDED:
            call.state = IDLE
            call.dropping = False
            self._emit(DROPCALL, call, event.status)
        elif name == ua_ev.DISCONNECTED:
            if call.dropping:
                call.state = IDLE
                call.dropping = False
                self._emit(DROPCALL, call, event.status)
            else:
                call.state = DISCONNECTED
                self._emit(DISCONNECTED, call, event.status, event.cause)
        elif name == ua_ev.FAILED:
            call.state = IDLE
            call.dropping = False
            self._emit(TASKFAIL, call, event.status, event.cause)
        elif name == ua_ev.MEDIA:
            self._media(call, event)
        elif name == ua_ev.UPDATE_FAILED:
            wanted_hold = session.update_kind == "hold"
            self._emit(HOLDREJ if wanted_hold else RESUMEREJ, call, event.status, event.cause)

    def _progress(self, call, status):
        if call.state not in (DIALING, PROCEEDING, ALERTING) or call.dropping:
            return
        if status in (180, 183):
            if call.state != ALERTING:
                call.state = ALERTING
                self._emit(ALERTING, call, status)
        elif call.state == DIALING:
            call.state = PROCEEDING
            self._emit(PROCEEDING, call, status)

    def _media(self, call, event):
        direction = event.media.direction if event.media is not None else None
        if event.cause == "hold":
            call.held = True
            self._emit(HOLDACK, call, direction=direction, media=event.media)
        elif event.cause == "resume":
            call.held = False
            self._emit(RESUMEACK, call, direction=direction, media=event.media)
        else:
            self._emit(MEDIA, call, direction=direction, media=event.media)
