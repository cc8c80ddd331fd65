"""INVITE sessions: what both call directions share once a dialog exists.

Rule: a Session is one call. It owns the dialog(s), the MediaSession (SDP
offer/answer) and every transaction of the call after the initial INVITE:
BYE in both directions, re-INVITE in both directions (hold and resume, 491
and glare back-off per RFC 3261 14.1, 500 with Retry-After for overlapping
INVITEs, 481/408 ending the dialog), the ACK for our 2xx (retransmitting the
2xx until the ACK arrives, 13.3.1.4) and the ACK for 2xx responses we get.
OutgoingSession (session_uac.py) and IncomingSession (session_uas.py) add
the initial INVITE of each side. Sessions report through UaEvent.
"""

from firmware.core.commands import UaEvent
from firmware.core.message import make_response
from firmware.core.sdp import SdpError
from firmware.core.transaction import TERMINATED as TX_TERMINATED

CALLING = "calling"          # caller: INVITE sent, nothing heard yet
EARLY = "early"              # caller: a provisional response came
CANCELLING = "cancelling"    # caller: hang-up asked before the final response
INCOMING = "incoming"        # callee: INVITE received
RINGING = "ringing"          # callee: 180 sent
ANSWERED = "answered"        # callee: 2xx sent, waiting for the ACK
CONFIRMED = "confirmed"
TERMINATING = "terminating"  # our BYE is on its way
TERMINATED = "terminated"

HOLD = "hold"
RESUME = "resume"

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


class Session:
    """One call. ``serial`` numbers calls in this user agent; ``app`` is free
    for the application's own object."""

    is_outgoing = False

    def __init__(self, ua, serial, call_id):
        self.ua = ua
        self.serial = serial
        self.call_id = call_id
        self.state = None
        self.dialog = None
        self.media = ua.new_media(serial)
        self.negotiated = None
        self.remote_uri = None
        self.app = None
        self.local_hold = False
        self.bye_tx = None
        self.bye_pending = False
        self.update_tx = None        # our re-INVITE
        self.update_kind = None      # HOLD / RESUME wanted by it
        self.update_retry_at = None  # glare back-off (RFC 3261 14.1)
        self.update_deferred = False # waiting for the ACK of the peer's INVITE
        self.pending_2xx = None      # (server tx, 2xx) waiting for its ACK
        self.offer_in_2xx = False    # that 2xx carried our offer: the ACK answers
        self.retx_at = None
        self.retx_interval = 0.0
        self.ack_deadline = None
        self.acks = {}               # (remote tag, cseq) -> (target, ACK) we sent

    def __repr__(self):
        return "Session(%d, %s, %s)" % (self.serial, self.state, self.remote_uri)

    @property
    def is_active(self):
        return self.state not in (TERMINATING, TERMINATED)

    def is_merged(self, call_id, from_tag, seq):
        return False

    # -- timers --------------------------------------------------------------------

    def next_deadline(self):
        best = None
        for t in (self.retx_at, self.ack_deadline, self.update_retry_at):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now):
        if self.ack_deadline is not None and now >= self.ack_deadline:
            # 13.3.1.4: no ACK for our 2xx within 64*T1 ends the dialog.
            self.ack_deadline = self.retx_at = None
            self.pending_2xx = None
            self._send_bye(now)
            self._finish(UaEvent.DISCONNECTED, None, "no ACK for 2xx")
            return
        if self.retx_at is not None and now >= self.retx_at and self.pending_2xx:
            stx, response = self.pending_2xx
            if stx.state == TX_TERMINATED:
                self.ua.resend(stx.target, response)
            else:
                stx.respond(response, now)
            self.retx_interval = min(self.retx_interval * 2, self.ua.config.t2)
            self.retx_at = now + self.retx_interval
        if self.update_retry_at is not None and now >= self.update_retry_at:
            self.update_retry_at = None
            if self.state == CONFIRMED and self.update_tx is None and self.update_kind:
                if self.pending_2xx is not None:
                    self.update_deferred = True
                else:
                    self._send_update(self.update_kind, now)

    # -- operations ------------------------------------------------------------------

    def hang_up(self, now, status=None):
        """End the call in whatever way its state needs; False if already ending."""
        if self.state == CONFIRMED:
            self._send_bye(now)
            return True
        if self.state == ANSWERED:
            self.bye_pending = True      # BYE once the ACK comes (RFC 3261 15)
            self.state = TERMINATING
            return True
        return False

    def hold(self, now):
        return self._start_update(HOLD, now)

    def resume(self, now):
        return self._start_update(RESUME, now)

    def _start_update(self, kind, now):
        if self.state != CONFIRMED or self.update_tx is not None or self.update_deferred:
            return False
        self.update_kind = kind
        self.update_retry_at = None
        if self.pending_2xx is not None:
            # The peer's INVITE is not ACKed yet (14.1): ours goes after the ACK.
            self.update_deferred = True
        else:
            self._send_update(kind, now)
        return True

    def _send_update(self, kind, now):
        request = self.dialog.create_request("INVITE")
        request.headers.add("Contact", self.ua.contact(True))
        self.ua.add_capabilities(request)
        request.headers.add("Content-Type", "application/sdp")
        request.body = self.media.hold() if kind == HOLD else self.media.resume()
        self.update_tx = self.ua.send_request(request, self, now)

    def _send_bye(self, now, dialog=None):
        dialog = dialog or self.dialog
        request = dialog.create_request("BYE")
        tx = self.ua.send_request(request, self, now)
        if dialog is self.dialog:
            self.bye_tx = tx
            self.state = TERMINATING
        return tx

    def _send_ack(self, dialog, response, invite, now):
        """ACK a 2xx to ``invite`` (again, for a retransmitted 2xx)."""
        seq = response.cseq()[0]
        key = (dialog.remote_tag, seq)
        sent = self.acks.get(key)
        if sent is not None:
            self.ua.resend(sent[0], sent[1])
            return
        ack = dialog.create_request("ACK", seq)
        # 22.1: the ACK carries the credentials of the INVITE it acknowledges.
        for name in ("Authorization", "Proxy-Authorization"):
            for value in invite.headers.get_all(name):
                ack.headers.add(name, value)
        target = self.ua.send_ack(ack, now)
        self.acks[key] = (target, ack)

    def _send_2xx(self, stx, response, now):
        """Send a 2xx to an INVITE and keep sending it until the ACK."""
        stx.respond(response, now)
        self.pending_2xx = (stx, response)
        self.retx_interval = self.ua.config.t1
        self.retx_at = now + self.retx_interval
        self.ack_deadline = now + 64 * self.ua.config.t1

    def _finish(self, name, status=None, cause=None, media=None):
        """The call is over: forget it and say why (once)."""
        if self.state == TERMINATED:
            return
        self.state = TERMINATED
        self.retx_at = self.ack_deadline = self.update_retry_at = None
        self.ua.session_ended(self)
        self.ua.emit(UaEvent(name, self, status, cause, media=media))

    def _emit(self, name, status=None, cause=None):
        self.ua.emit(UaEvent(name, self, status, cause, media=self.negotiated))

    # -- incoming in-dialog requests -------------------------------------------------------

    def receive_request(self, stx, request, now):
        stx.owner = self
        method = request.method
        if self.dialog.check_request(request) is not None:
            self.ua.respond(stx, 500, now, reason="Server Internal Error - CSeq out of order")
            return
        if method == "BYE":
            self.ua.respond(stx, 200, now)
            self._remote_bye(now)
        elif method == "INVITE":
            self._receive_reinvite(stx, request, now)
        elif method == "OPTIONS":
            self.ua.respond_options(stx, now)
        else:
            self.ua.respond(stx, 405, now, headers=[("Allow", ALLOW)])

    def _remote_bye(self, now):
        if self.state in (TERMINATING, TERMINATED):
            self._finish(UaEvent.ENDED, None, "bye crossed")
        else:
            self._finish(UaEvent.DISCONNECTED, None, "remote hung up")

    def _receive_reinvite(self, stx, request, now):
        if self.state in (TERMINATING, TERMINATED):
            self.ua.respond(stx, 481, now)
            return
        if self.pending_2xx is not None:
            # 14.2: the previous INVITE is not finished (no ACK yet).
            retry = "%d" % int(self.ua.rand_unit() * 10)
            self.ua.respond(stx, 500, now, headers=[("Retry-After", retry)])
            return
        if self.state != CONFIRMED or self.update_tx is not None:
            self.ua.respond(stx, 491, now)           # glare: both sides offered
            return
        negotiated = None
        if request.body:
            try:
                answer, negotiated = self.media.receive_offer(request.body)
            except SdpError as error:
                self.ua.respond(stx, error.status, now, reason=error.reason)
                return
            body = answer
            self.offer_in_2xx = False
        else:
            body = self.media.create_offer(self.media.direction)
            self.offer_in_2xx = True
        self.dialog.refresh_target(request)
        response = self._make_2xx(stx, body, now)
        self._send_2xx(stx, response, now)
        if negotiated is not None:
            self.negotiated = negotiated
            self._emit(UaEvent.MEDIA, cause="remote update")

    def _make_2xx(self, stx, body, now):
        response = make_response(stx.request, 200, None, self.dialog.local_tag)
        response.headers.add("Contact", self.ua.contact(True))
        self.ua.add_capabilities(response)
        response.headers.add("Content-Type", "application/sdp")
        response.body = body
        return response

    def receive_ack(self, request, now):
        """The ACK for a 2xx we sent (it has a transaction of its own)."""
        if self.pending_2xx is None:
            return
        stx, response = self.pending_2xx
        if request.cseq()[0] != response.cseq()[0]:
            return
        self.pending_2xx = None
        self.retx_at = self.ack_deadline = None
        negotiated = None
        if self.offer_in_2xx:
            self.offer_in_2xx = False
            try:
                negotiated = self.media.receive_answer(request.body)
            except SdpError as error:
                self._send_bye(now)
                self._finish(UaEvent.DISCONNECTED, error.status, "bad SDP in ACK: %s" % error.reason)
                return
            self.negotiated = negotiated
        self._acked(now, negotiated)

    def _acked(self, now, negotiated):
        if self.update_deferred and self.state == CONFIRMED:
            self.update_deferred = False
            self._send_update(self.update_kind, now)
        if self.state == ANSWERED:
            self.state = CONFIRMED
            self._emit(UaEvent.CONNECTED)
        elif self.state == TERMINATING and self.bye_pending:
            self.bye_pending = False
            self._send_bye(now)
        elif negotiated is not None:
            self._emit(UaEvent.MEDIA, cause="remote update")

    # -- responses to our in-dialog requests -----------------------------------------------

    def on_response(self, tx, response, now):
        if tx.method == "INVITE":
            self._update_response(tx, response, now)
        elif tx is self.bye_tx:
            self._bye_response(tx, response, now)

    def _bye_response(self, tx, response, now):
        status = response.status
        if status < 200:
            return
        if status in (401, 407):
            new = self.ua.resend_with_auth(tx, response, now)
            if new is not None:
                self.bye_tx = new
                self.dialog.local_seq = new.request.cseq()[0]
                return
        self._finish(UaEvent.ENDED, status, tx.local_failure)

    def _update_response(self, tx, response, now):
        status = response.status
        if status < 200:
            return
        if 200 <= status < 300:
            self._send_ack(self.dialog, response, tx.request, now)
            if tx is not self.update_tx:
                return                          # a retransmitted 2xx: ACKed again
            self.update_tx = None
            if self.state != CONFIRMED:
                return                          # the call ended meanwhile
            self.dialog.refresh_target(response)
            try:
                self.negotiated = self.media.receive_answer(response.body)
            except SdpError as error:
                self._emit(UaEvent.UPDATE_FAILED, error.status, "bad SDP answer: %s" % error.reason)
                return
            self.local_hold = self.update_kind == HOLD
            self._emit(UaEvent.MEDIA, cause=self.update_kind)
            return
        if tx is not self.update_tx:
            return
        self.update_tx = None
        if status in (401, 407):
            new = self.ua.resend_with_auth(tx, response, now)
            if new is not None:
                self.update_tx = new
                self.dialog.local_seq = new.request.cseq()[0]
                return
        if status == 491:
            # 14.1: the Call-ID owner waits 2.1-4 s, the other side 0-2 s.
            if self.dialog.is_caller:
                wait = 2.1 + 1.9 * self.ua.rand_unit()
            else:
                wait = 2.0 * self.ua.rand_unit()
            self.update_retry_at = now + wait
            return
        retry_after = _retry_after(response) if status in (500, 503) else None
        if retry_after is not None:
            # 14.2: the peer was still busy with an earlier INVITE; try again.
            self.update_retry_at = now + retry_after
            return
        if status in (408, 481):
            # 12.2.1.2: the dialog is gone (or unreachable).
            if status == 408:
                self._send_bye(now)
            self._finish(UaEvent.DISCONNECTED, status, tx.local_failure or response.reason)
            return
        self._emit(UaEvent.UPDATE_FAILED, status, tx.local_failure or response.reason)

    def on_server_failure(self, tx, reason, now):
        if self.state in (INCOMING, RINGING, ANSWERED):
            self._finish(UaEvent.DISCONNECTED, None, reason)

    def stray_2xx(self, response, now):
        """A 2xx to an INVITE whose transaction has ended: ACK it again."""
        sent = self.acks.get((response.to_addr().tag, response.cseq()[0]))
        if sent is not None:
            self.ua.resend(sent[0], sent[1])


def _retry_after(response):
    """Seconds from a Retry-After header (at most 32), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    digits = value.split(";")[0].split("(")[0].strip()
    if not digits.isdigit() or len(digits) > 6:
        return None
    return min(int(digits), 32)


def is_sdp(message):
    """True when the message's Content-Type is application/sdp (parameters aside)."""
    kind = message.headers.get("Content-Type", "")
    return kind.split(";")[0].strip().lower() == "application/sdp"
