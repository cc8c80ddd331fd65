"""The caller's side of an INVITE session (RFC 3261 13.2, 9.1, 13.2.2.4).

Rule: the initial INVITE carries our SDP offer and proactive credentials;
a tagged 1xx opens an early dialog, the first 2xx confirms one dialog and is
ACKed by us (not by the transaction), and every further 2xx from another
fork is ACKed and then ended with a BYE. Hanging up before the final
response sends CANCEL, but only once some provisional response came (9.1);
a 2xx that crosses our CANCEL is ACKed and followed by BYE. A 401/407 is
answered once per challenge with the next CSeq.

Early media (RFC 3261 13.2.1, RFC 3960): the first SDP in an early dialog's
provisional responses is that dialog's answer; it is reported as
EARLY_MEDIA (after the PROGRESS of the same response) and becomes the
session's ``negotiated`` media, the latest fork's winning. The 2xx of a
dialog that answered early keeps that answer and its own SDP is ignored;
a 2xx from any other dialog carries the answer as usual. An early answer
that cannot be used is ignored: the call goes on without early media.
"""

from firmware.core.commands import UaEvent
from firmware.core.dialog import Dialog
from firmware.core.headers import NameAddr, parse_name_addr
from firmware.core.message import Request
from firmware.core.sdp import SdpError
from firmware.core.session import (ALLOW, CALLING, CANCELLING, CONFIRMED, EARLY,
                                   TERMINATED, Session, is_sdp)
from firmware.core.uri import parse_uri


class OutgoingSession(Session):
    is_outgoing = True

    def __init__(self, ua, serial, destination, origination=None):
        Session.__init__(self, ua, serial, ua.new_call_id())
        self.remote_uri = destination
        self.invite = self._build_invite(destination, origination)
        self.invite_tx = None
        self.early = {}           # remote tag -> early Dialog
        self.early_answers = {}   # remote tag -> Negotiated from its provisional SDP
        self.cancel_tx = None
        self.cancel_wanted = False
        self.provisional = False
        self.forks = []           # extra dialogs from forking, ended with BYE
        self.state = CALLING

    def _build_invite(self, destination, origination):
        ua = self.ua
        local = self._origin(origination)
        local.set_param("tag", ua.new_token())
        invite = Request("INVITE", destination)
        h = invite.headers
        h.add("Max-Forwards", "70")
        h.add("From", local.serialize())
        h.add("To", NameAddr(parse_uri(destination)).serialize())
        h.add("Call-ID", self.call_id)
        h.add("CSeq", "1 INVITE")
        h.add("Contact", ua.contact(True))
        ua.add_capabilities(invite)
        h.add("Content-Type", "application/sdp")
        invite.body = self.media.create_offer()
        return invite

    def _origin(self, origination):
        c = self.ua.config
        if origination:
            text = origination.strip()
            if ":" in text or "<" in text:
                return parse_name_addr(text)
            local = NameAddr(parse_uri(c.aor))
            local.display = text
            return local
        local = NameAddr(parse_uri(c.aor))
        if c.display_name:
            local.display = c.display_name
        return local

    def start(self, now):
        self.invite_tx = self.ua.send_request(self.invite, self, now)

    def is_merged(self, call_id, from_tag, seq):
        return False

    # -- operations ------------------------------------------------------------------

    def hang_up(self, now, status=None):
        if self.state == CALLING:
            self.cancel_wanted = True
            self.state = CANCELLING          # CANCEL once a provisional arrives
            return True
        if self.state == EARLY:
            self.cancel_wanted = True
            self.state = CANCELLING
            self._send_cancel(now)
            return True
        return Session.hang_up(self, now, status)

    def _send_cancel(self, now):
        if self.cancel_tx is None and self.invite_tx is not None:
            self.cancel_tx = self.ua.send_cancel(self.invite_tx, self, now)

    # -- responses ------------------------------------------------------------------

    def on_response(self, tx, response, now):
        if tx is self.invite_tx:
            self._invite_response(tx, response, now)
        elif tx is self.cancel_tx or tx.method == "CANCEL":
            pass                              # the INVITE's final response decides
        elif tx.method == "BYE" and tx is not self.bye_tx:
            pass                              # BYE ending an extra fork
        else:
            Session.on_response(self, tx, response, now)

    def _invite_response(self, tx, response, now):
        status = response.status
        if status < 200:
            self._provisional(response, now)
        elif status < 300:
            self._success(response, now)
        elif status in (401, 407) and not self.cancel_wanted:
            new = self.ua.resend_with_auth(tx, response, now)
            if new is not None:
                self.invite_tx = new
                self.invite = new.request
                return
            self._failed(tx, response)
        else:
            self._failed(tx, response)

    def _provisional(self, response, now):
        if self.state == TERMINATED:
            return
        self.provisional = True
        tag = response.to_addr().tag
        if tag is not None and response.status > 100 and tag not in self.early:
            dialog = Dialog.from_response(self.invite, response)
            self.early[tag] = dialog
            self.ua.add_dialog(dialog, self)
        if self.cancel_wanted:
            self._send_cancel(now)
            return
        if self.state == CALLING:
            self.state = EARLY
        self._emit(UaEvent.PROGRESS, response.status, response.reason)
        if tag is not None and response.status > 100 and tag not in self.early_answers \
                and response.body and is_sdp(response):
            try:
                negotiated = self.media.receive_answer(response.body, early=True)
            except SdpError:
                return
            self.early_answers[tag] = negotiated
            self.negotiated = negotiated
            self._emit(UaEvent.EARLY_MEDIA)

    def _success(self, response, now):
        tag = response.to_addr().tag
        if self.dialog is not None or self.state == TERMINATED:
            if self.dialog is not None and tag == self.dialog.remote_tag:
                self._send_ack(self.dialog, response, self.invite, now)     # retransmitted 2xx
            else:
                self._end_fork(response, now)
            return
        dialog = self.early.pop(tag, None)
        if dialog is None:
            dialog = Dialog.from_response(self.invite, response)
        else:
            dialog.confirm(response)
        for other in self.early.values():
            self.ua.drop_dialog(other)
        self.early = {}
        early_answer = self.early_answers.get(tag)
        self.early_answers = {}
        self.dialog = dialog
        self.ua.add_dialog(dialog, self)
        self._send_ack(dialog, response, self.invite, now)
        if self.cancel_wanted:
            # Our CANCEL crossed the 2xx: the call exists now, end it.
            self._send_bye(now)
            return
        try:
            if early_answer is not None:
                self.negotiated = self.media.settle_early(early_answer)
            else:
                self.negotiated = self.media.receive_answer(response.body)
        except SdpError as error:
            self._send_bye(now)
            self._finish(UaEvent.FAILED, error.status, "bad SDP answer: %s" % error.reason)
            return
        self.state = CONFIRMED
        self._emit(UaEvent.CONNECTED)

    def _end_fork(self, response, now):
        """A 2xx from a second fork: ACK it, then BYE it (13.2.2.4)."""
        dialog = Dialog.from_response(self.invite, response)
        for fork in self.forks:
            if fork.remote_tag == dialog.remote_tag:
                self._send_ack(fork, response, self.invite, now)             # its retransmission
                return
        self.forks.append(dialog)
        self._send_ack(dialog, response, self.invite, now)
        self._send_bye(now, dialog)

    def _failed(self, tx, response):
        for dialog in self.early.values():
            self.ua.drop_dialog(dialog)
        self.early = {}
        cause = tx.local_failure or response.reason
        if self.cancel_wanted:
            self._finish(UaEvent.ENDED, response.status, "cancelled")
        else:
            self._finish(UaEvent.FAILED, response.status, cause)

    def on_server_failure(self, tx, reason, now):
        pass

    def receive_request(self, stx, request, now):
        if self.dialog is not None:
            Session.receive_request(self, stx, request, now)
            return
        # A request on an early dialog (before any 2xx).
        stx.owner = self
        method = request.method
        if method == "OPTIONS":
            self.ua.respond_options(stx, now)
        elif method == "BYE":
            self.ua.respond(stx, 200, now)
            dialog = self.early.pop(request.from_addr().tag, None)
            self.ua.drop_dialog(dialog)
        elif method == "INVITE":
            self.ua.respond(stx, 491, now)      # no re-INVITE before the dialog exists
        else:
            self.ua.respond(stx, 405, now, headers=[("Allow", ALLOW)])

    def stray_2xx(self, response, now):
        if self.dialog is not None and response.to_addr().tag == self.dialog.remote_tag:
            Session.stray_2xx(self, response, now)
        elif response.cseq()[0] == self.invite.cseq()[0]:
            self._end_fork(response, now)
        else:
            Session.stray_2xx(self, response, now)
