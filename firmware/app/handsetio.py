"""What the handset asks of the rest of the phone: its output objects.

Rule: an output is a plain object with a ``kind`` and compares equal to
another of its class with the same FIELDS, so tests and the runtime can
match on it:

    "call"    MakeCall, AcceptCall, AnswerCall, DropCall, ReleaseCall, HoldCall,
              ResumeCall: ``apply(control, now)`` runs one on a CallControl,
              ``run_commands`` runs them all
    "dtmf"    SendDtmf(call, digit)
    "tone"    PlayTone(name, tone) (a core.tones.Tone of the region) / StopTone()
    "ringer"  RingerOn(region, cadence) ((on_s, off_s) pairs) / RingerOff()
    "led"     SetLed(name, state): line, message, ringing; off, on or blink
    "screen"  ShowScreen(lines): exactly height lines of width characters
    "log"     SaveCallLog(text): the call log's JSON, for runtime/storage.py

Call commands run themselves on a CallControl; the rest are the runtime's
to carry out on the drivers, the audio path and storage.
LED states are names (off, on, blink): the runtime picks the driver pattern
(the ringing LED blinks fast, the line LED blinks slowly for a call on hold,
the message LED flashes).
"""

# The LEDs (SetLed.name) and their states (SetLed.state).
LED_LINE = "line"
LED_MESSAGE = "message"
LED_RINGING = "ringing"
LED_OFF = "off"
LED_ON = "on"
LED_BLINK = "blink"


class Output:
    """Base of every output: equality and repr by the FIELDS of each class."""

    kind = ""
    FIELDS = ()

    def values(self):
        return tuple([getattr(self, name) for name in self.FIELDS])

    def __eq__(self, other):
        return type(other) is type(self) and other.values() == self.values()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__,
                           ", ".join([repr(value) for value in self.values()]))


class MakeCall(Output):
    kind = "call"
    FIELDS = ("uri",)

    def __init__(self, uri, line=None):
        self.uri = uri
        self.line = line

    def apply(self, control, now):
        """Returns the call number; hand it to ``Handset.placed``."""
        return control.make_call(self.uri, now=now)


class _CallCommand(Output):
    kind = "call"
    FIELDS = ("call",)

    def __init__(self, call):
        self.call = call


class AcceptCall(_CallCommand):
    def apply(self, control, now):
        return control.accept_call(self.call, now)


class AnswerCall(_CallCommand):
    def apply(self, control, now):
        return control.answer_call(self.call, now)


class DropCall(Output):
    kind = "call"
    FIELDS = ("call", "status")

    def __init__(self, call, status=None):
        self.call = call
        self.status = status

    def apply(self, control, now):
        return control.drop_call(self.call, self.status, now)


class ReleaseCall(_CallCommand):
    def apply(self, control, now):
        return control.release_call(self.call, now)


class HoldCall(_CallCommand):
    def apply(self, control, now):
        return control.hold_call(self.call, now)


class ResumeCall(_CallCommand):
    def apply(self, control, now):
        return control.resume_call(self.call, now)


class SendDtmf(Output):
    kind = "dtmf"
    FIELDS = ("call", "digit")

    def __init__(self, call, digit):
        self.call = call
        self.digit = digit


class PlayTone(Output):
    kind = "tone"
    FIELDS = ("name",)

    def __init__(self, name, tone=None):
        self.name = name
        self.tone = tone


class StopTone(Output):
    kind = "tone"


class RingerOn(Output):
    kind = "ringer"
    FIELDS = ("name",)

    def __init__(self, name, cadence):
        self.name = name
        self.cadence = cadence


class RingerOff(Output):
    kind = "ringer"


class SetLed(Output):
    kind = "led"
    FIELDS = ("name", "state")

    def __init__(self, name, state):
        self.name = name
        self.state = state


class ShowScreen(Output):
    kind = "screen"
    FIELDS = ("lines",)

    def __init__(self, lines):
        self.lines = list(lines)


class SaveCallLog(Output):
    kind = "log"
    FIELDS = ("text",)

    def __init__(self, text):
        self.text = text


def seconds_pairs(cadence_ms):
    """A tones.py cadence (ms, on first) as the drivers' (on_s, off_s) pairs."""
    pairs = []
    for i in range(0, len(cadence_ms), 2):
        off = cadence_ms[i + 1] if i + 1 < len(cadence_ms) else 0
        pairs.append((cadence_ms[i] / 1000.0, off / 1000.0))
    return pairs


def run_commands(handset, control, now):
    """Carry out the handset's call commands on ``control`` (a CallControl),
    binding each MakeCall to its call number; return the other outputs in order."""
    rest = []
    while True:
        batch = handset.commands()
        if not batch:
            return rest
        for command in batch:
            if command.kind != "call":
                rest.append(command)
                continue
            result = command.apply(control, now)
            if isinstance(command, MakeCall):
                handset.placed(command, result, now)
