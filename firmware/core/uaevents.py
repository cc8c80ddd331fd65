"""Events the user agent reports to the application.

Rule: an event is a name plus a few plain fields; it carries no password and
no reference the application could use to bypass the user agent, except the
``session`` it is about (whose public methods are the call operations).
``str(event)`` gives one line, ``name key=value ...``, listing only fields set.
"""

# Registration.
REGISTERING = "registering"      # first REGISTER (or a retry after a failure) sent
REGISTERED = "registered"        # 2xx; ``expires`` is what the registrar granted
REFRESHING = "refreshing"        # refresh REGISTER sent before expiry
REG_FAILED = "reg_failed"        # ``status`` and ``cause``; a retry is scheduled
UNREGISTERED = "unregistered"    # un-REGISTER done (or given up)

# INVITE sessions.
INCOMING = "incoming"            # a new call was offered to us
PROGRESS = "progress"            # 1xx to our INVITE: ``status`` 100/180/183...
CONNECTED = "connected"          # ACK sent (caller) or received (callee)
DISCONNECTED = "disconnected"    # the far end hung up, cancelled, or the dialog died
ENDED = "ended"                  # our own hang-up / reject / cancel completed
FAILED = "failed"                # our INVITE got a final error (``status``, ``cause``)
MEDIA = "media"                  # a re-INVITE (either way) changed the media
UPDATE_FAILED = "update_failed"  # our re-INVITE (hold/resume) was refused


class UaEvent:
    __slots__ = ("name", "session", "status", "cause", "expires", "media")

    def __init__(self, name, session=None, status=None, cause=None, expires=None,
                 media=None):
        self.name = name
        self.session = session
        self.status = status
        self.cause = cause
        self.expires = expires
        self.media = media

    def __repr__(self):
        parts = [self.name]
        if self.session is not None:
            parts.append("session=%s" % self.session.serial)
        if self.status is not None:
            parts.append("status=%d" % self.status)
        if self.cause is not None:
            parts.append("cause=%s" % self.cause)
        if self.expires is not None:
            parts.append("expires=%s" % self.expires)
        return " ".join(parts)

    __str__ = __repr__
