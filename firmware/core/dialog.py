"""SIP dialogs (RFC 3261 section 12): identity, route set, target, CSeq.

Rule: a dialog is the state two user agents share about one peer-to-peer
relationship and nothing more. It is created from a 2xx or a tagged 1xx
(early dialog) on the caller's side and from the request on the callee's
side; it builds in-dialog requests (Request-URI, Route, From, To, Call-ID,
CSeq; loose and strict routing) and checks incoming ones (CSeq order). The
Via and Contact headers are the user agent's business, not the dialog's.
"""

from firmware.core.headers import parse_name_addr
from firmware.core.message import Request

EARLY = "early"
CONFIRMED = "confirmed"
TERMINATED = "terminated"


def dialog_key(call_id, local_tag, remote_tag):
    return "%s;%s;%s" % (call_id, local_tag, remote_tag)


def _contact_uri(message):
    """The first Contact URI of ``message`` as a string, or None."""
    try:
        contacts = message.contacts()
    except Exception:
        return None
    for contact in contacts:
        if contact != "*":
            return contact.uri.serialize()
    return None


class Dialog:
    """One dialog. ``local`` and ``remote`` are the From/To NameAddr objects
    (with tags) that in-dialog requests carry as From and To."""

    __slots__ = ("call_id", "local_tag", "remote_tag", "local", "remote", "local_seq",
                 "remote_seq", "remote_target", "route_set", "state", "is_caller")

    def __init__(self, call_id, local, remote, remote_target, route_set, is_caller):
        self.call_id = call_id
        self.local = local
        self.remote = remote
        self.local_tag = local.tag
        self.remote_tag = remote.tag
        self.remote_target = remote_target
        self.route_set = route_set
        self.is_caller = is_caller
        self.local_seq = None
        self.remote_seq = None
        self.state = EARLY

    @property
    def key(self):
        return dialog_key(self.call_id, self.local_tag, self.remote_tag)

    def __repr__(self):
        return "Dialog(%s, %s)" % (self.key, self.state)

    # -- creation -------------------------------------------------------------------

    @classmethod
    def from_response(cls, request, response):
        """The caller's dialog from a 2xx or tagged 1xx to ``request`` (12.1.2)."""
        routes = response.headers.get_all("Record-Route")
        routes.reverse()
        target = _contact_uri(response) or request.uri
        dialog = cls(request.call_id(), request.from_addr(), response.to_addr(),
                     target, routes, True)
        dialog.local_seq = request.cseq()[0]
        dialog.state = CONFIRMED if response.status >= 200 else EARLY
        return dialog

    @classmethod
    def from_request(cls, request, local_tag):
        """The callee's dialog from a dialog-creating ``request`` (12.1.1)."""
        local = request.to_addr()
        local.set_param("tag", local_tag)
        target = _contact_uri(request)
        dialog = cls(request.call_id(), local, request.from_addr(), target,
                     request.headers.get_all("Record-Route"), False)
        dialog.remote_seq = request.cseq()[0]
        return dialog

    def confirm(self, request_or_response):
        """A 2xx (caller) or the ACK-awaiting 2xx we sent (callee): confirmed.
        The caller takes route set and target from the 2xx (12.1.2)."""
        msg = request_or_response
        if self.is_caller and not msg.is_request:
            routes = msg.headers.get_all("Record-Route")
            routes.reverse()
            self.route_set = routes
            self.refresh_target(msg)
        self.state = CONFIRMED

    def refresh_target(self, message):
        """Target refresh (12.2): a re-INVITE or its 2xx names a new Contact."""
        target = _contact_uri(message)
        if target is not None:
            self.remote_target = target

    # -- requests ---------------------------------------------------------------------

    def next_cseq(self):
        if self.local_seq is None:
            self.local_seq = 1
        else:
            self.local_seq += 1
        return self.local_seq

    def create_request(self, method, cseq=None):
        """An in-dialog request (12.2.1.1). ACK and CANCEL pass the INVITE's
        ``cseq``; every other method takes the next local sequence number."""
        if cseq is None:
            cseq = self.next_cseq()
        ruri, routes = self._route()
        request = Request(method, ruri)
        h = request.headers
        for route in routes:
            h.add("Route", route)
        h.add("Max-Forwards", "70")
        h.add("From", self.local.serialize())
        h.add("To", self.remote.serialize())
        h.add("Call-ID", self.call_id)
        h.add("CSeq", "%d %s" % (cseq, method))
        return request

    def _route(self):
        if not self.route_set:
            return self.remote_target, []
        first = parse_name_addr(self.route_set[0])
        if first.uri.param("lr") is not None:
            return self.remote_target, list(self.route_set)
        # Strict router: it wants itself as Request-URI, the target goes last.
        uri = first.uri
        uri.headers = []
        routes = list(self.route_set[1:])
        routes.append("<%s>" % self.remote_target)
        return uri.serialize(), routes

    def first_hop(self):
        """The URI the first hop of an in-dialog request is resolved from."""
        if self.route_set:
            return parse_name_addr(self.route_set[0]).uri
        return None

    # -- incoming requests -------------------------------------------------------------

    def check_request(self, request):
        """None when ``request`` is in order, else the status to reject it with
        (12.2.2: a lower CSeq than the last one is out of order: 500)."""
        seq = request.cseq()[0]
        if request.method in ("ACK", "CANCEL"):
            return None
        if self.remote_seq is not None and seq < self.remote_seq:
            return 500
        self.remote_seq = seq
        return None

    def matches(self, message, incoming_request):
        """Whether ``message`` belongs to this dialog (call id and both tags)."""
        if message.call_id() != self.call_id:
            return False
        if incoming_request:
            return (message.to_addr().tag == self.local_tag
                    and message.from_addr().tag == self.remote_tag)
        return (message.from_addr().tag == self.local_tag
                and message.to_addr().tag == self.remote_tag)
