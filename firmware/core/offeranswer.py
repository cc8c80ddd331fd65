"""The offer/answer model (RFC 3264) for a G.711 phone, over the SDP grammar of
``sdp``.

Rule: a ``MediaSession`` is one call's media: it builds offers (PCMU, PCMA and
telephone-event), answers an offer by intersecting codecs in the offerer's
order, rejects every stream it cannot play (video, T.38 fax, SRTP) with port 0,
and raises ``SdpError(488)`` when no audio stream is left (``SdpError(400)``
when the body is malformed). Hold follows the direction attributes, and the
legacy ``c=0.0.0.0`` hold is read as the offerer not wanting media. The origin
version is bumped for each new offer, and for an answer only when its content
changed.
"""

from firmware.core.sdp import (
    DIRECTIONS, Connection, MediaDescription, SdpError, SessionDescription, parse_sdp)

SUPPORTED_CODECS = ("PCMU", "PCMA")
_CODEC_PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}
TELEPHONE_EVENT = "telephone-event"
DEFAULT_DTMF_PAYLOAD_TYPE = 101
DTMF_EVENTS = "0-16"


def _mirror(direction):
    """The direction as seen from the other end."""
    if direction == "sendonly":
        return "recvonly"
    if direction == "recvonly":
        return "sendonly"
    return direction


def _intersect(first, second):
    """The direction both ends allow."""
    send = first in ("sendrecv", "sendonly") and second in ("sendrecv", "sendonly")
    receive = first in ("sendrecv", "recvonly") and second in ("sendrecv", "recvonly")
    if send and receive:
        return "sendrecv"
    if send:
        return "sendonly"
    if receive:
        return "recvonly"
    return "inactive"


def _is_unspecified(address):
    return address in ("0.0.0.0", "::", "0:0:0:0:0:0:0:0")


class Negotiated:
    """The outcome of one offer/answer exchange for the audio stream.

    ``remote_port`` 0 means the stream was rejected (``codec`` is then None);
    ``direction`` is from the phone's point of view; ``media_index`` is the
    audio m-line's position.
    """

    __slots__ = ("codec", "payload_type", "clock_rate", "dtmf_payload_type", "ptime",
                 "remote_address", "remote_port", "direction", "media_index")

    def __init__(self, codec, payload_type, clock_rate, dtmf_payload_type, ptime,
                 remote_address, remote_port, direction, media_index=0):
        self.codec = codec
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.dtmf_payload_type = dtmf_payload_type
        self.ptime = ptime
        self.remote_address = remote_address
        self.remote_port = remote_port
        self.direction = direction
        self.media_index = media_index

    def __repr__(self):
        return "Negotiated(%s/%s pt=%s dtmf=%s ptime=%s -> %s:%s %s)" % (
            self.codec, self.clock_rate, self.payload_type, self.dtmf_payload_type,
            self.ptime, self.remote_address, self.remote_port, self.direction)


def _remote_direction(media, connection):
    """The remote end's direction, reading c=0.0.0.0 as RFC 2543 hold."""
    direction = media.direction
    if connection is not None and _is_unspecified(connection.address):
        if direction == "sendrecv":
            return "sendonly"
        if direction == "recvonly":
            return "inactive"
    return direction


class MediaSession:
    """The SDP side of one call: offers, answers and what they agreed on.

    ``direction`` is what the phone itself wants (sendrecv, or sendonly while
    it holds the call); ``negotiated`` is the last Negotiated or None.
    """

    __slots__ = ("local_address", "local_port", "session_id", "codecs", "telephone_event",
                 "ptime", "version", "direction", "negotiated", "_layout", "_audio_index",
                 "_dtmf_pt", "_offer", "_last_content")

    def __init__(self, local_address, local_port, session_id, codecs=SUPPORTED_CODECS,
                 telephone_event=True, ptime=20):
        wanted = []
        for codec in codecs:
            name = codec.upper()
            if name not in SUPPORTED_CODECS:
                raise ValueError("unsupported codec %r" % codec)
            wanted.append(name)
        if not wanted:
            raise ValueError("no codec configured")
        self.local_address = local_address
        self.local_port = local_port
        self.session_id = str(session_id)
        self.codecs = tuple(wanted)
        self.telephone_event = telephone_event
        self.ptime = ptime
        self.version = 0
        self.direction = "sendrecv"
        self.negotiated = None
        # m-lines that were rejected stay in every later SDP (RFC 3264 8): the
        # list holds their port-0 copies and None where the audio line goes.
        self._layout = [None]
        self._audio_index = 0
        self._dtmf_pt = DEFAULT_DTMF_PAYLOAD_TYPE
        self._offer = None
        self._last_content = None

    def _describe(self, audio):
        session = SessionDescription(self.local_address, self.session_id)
        session.connection = Connection(self.local_address)
        session.timing = ["0 0"]
        session.media = [audio if item is None else item for item in self._layout]
        return session

    def _audio(self, formats, dtmf_pt, direction):
        """Our audio m-line offering ``formats`` [(pt, codec name)] in that order."""
        audio = MediaDescription("audio", self.local_port, "RTP/AVP")
        for pt, name in formats:
            audio.formats.append(pt)
            audio.rtpmap.append((pt, name, 8000, None))
        if dtmf_pt is not None:
            audio.formats.append(dtmf_pt)
            audio.rtpmap.append((dtmf_pt, TELEPHONE_EVENT, 8000, None))
            audio.fmtp.append((dtmf_pt, DTMF_EVENTS))
        audio.ptime = self.ptime
        audio.direction = direction
        return audio

    def _emit(self, session, new_offer):
        session.session_version = 0
        content = session.serialize()
        if new_offer or content != self._last_content:
            self.version += 1
            self._last_content = content
        session.session_version = self.version
        return session.serialize()

    def create_offer(self, direction="sendrecv"):
        """A new offer (bytes); the origin version goes up by one."""
        if direction not in DIRECTIONS:
            raise ValueError("bad direction %r" % direction)
        self.direction = direction
        formats = [(_CODEC_PAYLOAD_TYPES[name], name) for name in self.codecs]
        dtmf_pt = self._dtmf_pt if self.telephone_event else None
        session = self._describe(self._audio(formats, dtmf_pt, direction))
        self._offer = session
        return self._emit(session, True)

    def hold(self):
        """Offer putting the call on hold (a=sendonly)."""
        return self.create_offer("sendonly")

    def resume(self):
        """Offer taking the call off hold (a=sendrecv)."""
        return self.create_offer("sendrecv")

    def receive_answer(self, data, early=False):
        """Read the answer to our last offer; raises SdpError (400 or 488) and
        then leaves the offer open. An ``early`` answer (from an early dialog's
        provisional response) leaves it open too: another fork may answer it,
        and the 2xx settles it (``settle_early``)."""
        if self._offer is None:
            raise SdpError(400, "Bad SDP: answer without an offer")
        answer = parse_sdp(data)
        index = self._audio_index
        if len(answer.media) <= index or answer.media[index].media != "audio":
            raise SdpError(400, "Bad SDP: answer lacks the offered audio stream")
        media = answer.media[index]
        connection = answer.media_connection(media)
        address = connection.address if connection is not None else None
        if media.port == 0:
            negotiated = Negotiated(None, None, None, None, None, address, 0, "inactive",
                                    index)
        else:
            found = self._match(media)
            if found is None:
                raise SdpError(488, "Not Acceptable Here - answer has no offered codec")
            formats, dtmf_pt = found
            pt, codec = formats[0]
            direction = _intersect(self.direction, _mirror(_remote_direction(media, connection)))
            if dtmf_pt is not None:
                self._dtmf_pt = dtmf_pt
            negotiated = Negotiated(codec, pt, 8000, dtmf_pt, self._remote_ptime(media),
                                    address, media.port, direction, index)
        if not early:
            self._offer = None
        self.negotiated = negotiated
        return negotiated

    def settle_early(self, negotiated):
        """The 2xx confirmed the early dialog whose answer was ``negotiated``:
        that answer stands (RFC 3261 13.2.1: later SDP in responses to the
        INVITE is ignored) and the offer is closed."""
        self._offer = None
        self.negotiated = negotiated
        return negotiated

    def receive_offer(self, data):
        """Answer an offer: (answer bytes, Negotiated); raises SdpError (400 or 488)."""
        offer = parse_sdp(data)
        chosen = None
        layout = []
        for index in range(len(offer.media)):
            media = offer.media[index]
            found = None
            if chosen is None and media.media == "audio" and media.port != 0 and \
                    media.proto.upper() == "RTP/AVP":
                found = self._match(media)
            if found is None:
                layout.append(_rejected(media))
            else:
                chosen = (index, media, found)
                layout.append(None)
        if chosen is None:
            raise SdpError(488, "Not Acceptable Here - no common audio codec")
        index, media, found = chosen
        formats, dtmf_pt = found
        connection = offer.media_connection(media)
        direction = _intersect(self.direction, _mirror(_remote_direction(media, connection)))
        self._layout = layout
        self._audio_index = index
        if dtmf_pt is not None:
            self._dtmf_pt = dtmf_pt
        self._offer = None
        answer = self._describe(self._audio(formats, dtmf_pt, direction))
        body = self._emit(answer, False)
        pt, codec = formats[0]
        self.negotiated = Negotiated(codec, pt, 8000, dtmf_pt, self._remote_ptime(media),
                                     connection.address, media.port, direction, index)
        return body, self.negotiated

    def _remote_ptime(self, media):
        if media.ptime is None:
            return self.ptime
        return int(media.ptime)

    def _match(self, media):
        """([(pt, codec)] we share in the remote order, dtmf pt|None), or None."""
        formats = []
        dtmf_pt = None
        for pt in media.formats:
            info = media.codec(pt)
            if info is None:
                continue
            name = info[0].upper()
            rate = info[1]
            if info[2] not in (None, 1):
                continue
            if name in self.codecs and rate in (8000, None):
                formats.append((pt, name))
            elif self.telephone_event and dtmf_pt is None and \
                    name == TELEPHONE_EVENT.upper() and rate == 8000:
                dtmf_pt = pt
        if not formats:
            return None
        return formats, dtmf_pt


def _rejected(media):
    """The port-0 copy of an offered m-line that the answer declines."""
    copy = MediaDescription(media.media, 0, media.proto, list(media.formats))
    if not copy.formats:
        copy.formats = [0] if media.is_rtp else ["0"]
    return copy
