"""The callee's side of an INVITE session (RFC 3261 13.3, 9.2, 15).

Rule: an incoming INVITE is checked before the phone rings: a body that is
not SDP gets 415, SDP that is malformed or shares no codec gets the status
SdpError names (400 / 488), and nothing is offered to the application then.
Otherwise the callee's dialog exists at once (its tag goes into every
response), ``ring`` sends 180, ``answer`` sends a 2xx carrying our answer (or
our offer, when the INVITE had none: the ACK then answers) and keeps sending
it until the ACK; ``reject`` sends a final error; a CANCEL or an early BYE
from the caller ends the INVITE with 487.
"""

from firmware.core.commands import UaEvent
from firmware.core.dialog import Dialog
from firmware.core.sdp import SdpError
from firmware.core.session import ANSWERED, INCOMING, RINGING, Session, is_sdp

DEFAULT_REJECT = 486
RING_REFRESH = 60.0     # 13.3.1.1: a non-100 provisional every minute while ringing


class IncomingSession(Session):
    is_outgoing = False

    def __init__(self, ua, serial, stx, request):
        Session.__init__(self, ua, serial, request.call_id())
        self.invite_stx = stx
        stx.owner = self
        self.request = request
        origin = request.from_addr()
        self.remote_uri = origin.uri.serialize()
        self.remote_display = origin.display
        self.answer_body = None
        self.ring_refresh_at = None
        self.state = INCOMING

    def start(self, now):
        """Check the INVITE; True when the call is offered to the application."""
        ua = self.ua
        stx = self.invite_stx
        request = self.request
        if request.body:
            if not is_sdp(request):
                ua.respond(stx, 415, now, headers=[("Accept", "application/sdp")])
                return False
            try:
                self.answer_body, self.negotiated = self.media.receive_offer(request.body)
            except SdpError as error:
                ua.respond(stx, error.status, now, reason=error.reason)
                return False
        dialog = Dialog.from_request(request, ua.new_token())
        if dialog.remote_target is None:
            ua.respond(stx, 400, now, reason="Bad Request - INVITE without Contact")
            return False
        self.dialog = dialog
        ua.add_dialog(dialog, self)
        self._emit(UaEvent.INCOMING)
        return True

    def is_merged(self, call_id, from_tag, seq):
        return (self.call_id == call_id and self.dialog.remote_tag == from_tag
                and self.request.cseq()[0] == seq and self.state in (INCOMING, RINGING))

    # -- operations ------------------------------------------------------------------

    def ring(self, now):
        """Send 180 Ringing; False when the call is past that."""
        if self.state != INCOMING:
            return False
        self._provisional(180, now)
        self.state = RINGING
        self.ring_refresh_at = now + RING_REFRESH
        return True

    def next_deadline(self):
        best = Session.next_deadline(self)
        if self.ring_refresh_at is not None and (best is None or self.ring_refresh_at < best):
            best = self.ring_refresh_at
        return best

    def on_timer(self, now):
        if self.ring_refresh_at is not None and now >= self.ring_refresh_at:
            if self.state == RINGING:
                # Proxies may give up on an INVITE silent for 3 minutes.
                self._provisional(180, now)
                self.ring_refresh_at = now + RING_REFRESH
            else:
                self.ring_refresh_at = None
        Session.on_timer(self, now)

    def _record_routes(self):
        # 12.1.1: dialog-creating responses carry the request's Record-Route.
        return [("Record-Route", value)
                for value in self.request.headers.get_all("Record-Route")]

    def _provisional(self, status, now):
        headers = self._record_routes()
        headers.append(("Contact", self.ua.contact(True)))
        self.ua.respond(self.invite_stx, status, now, to_tag=self.dialog.local_tag,
                        headers=headers)

    def answer(self, now):
        """Send the 2xx; the call is CONNECTED when the ACK arrives."""
        if self.state not in (INCOMING, RINGING):
            return False
        body = self.answer_body
        if body is None:
            body = self.media.create_offer()
            self.offer_in_2xx = True
        self.ring_refresh_at = None
        response = self._make_2xx(self.invite_stx, body, now)
        for name, value in self._record_routes():
            response.headers.add(name, value)
        self.dialog.confirm(response)
        self.state = ANSWERED
        self._send_2xx(self.invite_stx, response, now)
        return True

    def reject(self, now, status=DEFAULT_REJECT):
        if self.state not in (INCOMING, RINGING):
            return False
        self.ua.respond(self.invite_stx, status, now, to_tag=self.dialog.local_tag)
        self._finish(UaEvent.ENDED, status, "rejected")
        return True

    def hang_up(self, now, status=None):
        if self.state in (INCOMING, RINGING):
            return self.reject(now, status or DEFAULT_REJECT)
        return Session.hang_up(self, now, status)

    # -- the caller's side ------------------------------------------------------------

    def cancelled(self, now):
        """The caller sent CANCEL (its 200 is already sent)."""
        if self.state in (INCOMING, RINGING):
            self.ua.respond(self.invite_stx, 487, now, to_tag=self.dialog.local_tag)
            self._finish(UaEvent.DISCONNECTED, 487, "cancelled")

    def _remote_bye(self, now):
        if self.state in (INCOMING, RINGING):
            # A BYE on the early dialog ends the pending INVITE (RFC 3261 15).
            self.ua.respond(self.invite_stx, 487, now, to_tag=self.dialog.local_tag)
        Session._remote_bye(self, now)
