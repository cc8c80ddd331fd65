"""SDP bodies shared by the grammar (test_sdp) and offer/answer (test_offeranswer) tests."""


def sdp(*lines):
    return ("\r\n".join(lines) + "\r\n").encode()


def offer(media_lines, connection="c=IN IP4 192.0.2.10", session_extra=()):
    lines = ["v=0", "o=far 2890844526 2890844526 IN IP4 192.0.2.10", "s=call"]
    if connection:
        lines.append(connection)
    lines.append("t=0 0")
    lines.extend(session_extra)
    lines.extend(media_lines)
    return sdp(*lines)


AUDIO_OFFER = offer(["m=audio 49170 RTP/AVP 8 18 0 96",
                     "a=rtpmap:8 PCMA/8000",
                     "a=rtpmap:18 G729/8000",
                     "a=rtpmap:0 PCMU/8000",
                     "a=rtpmap:96 telephone-event/8000",
                     "a=fmtp:96 0-15",
                     "a=ptime:30",
                     "a=sendrecv"])
