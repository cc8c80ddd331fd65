"""The screen model: what the character display shows, as lines of text.

Rule: a view is a list of ``Row(priority, left, right)`` in top-to-bottom
order; ``layout`` keeps the rows of highest priority that fit the display's
height (ties: the upper row wins), in their order, and makes each exactly
``width`` characters: the right part (a clock, a call timer) stays whole and
flush right, the left part is cut to what is left (from its start, or from
its end for a number being dialled, so the last key typed stays visible).
So one view serves a 16x2 and a 20x4 display: the small one drops the rows
that matter least. Nothing here does I/O or reads a clock: the time of day is
a ``wall`` tuple ``(year, month, day, hour, minute, second, ...)`` handed in.
"""


class Row:
    __slots__ = ("priority", "left", "right", "keep_end")

    def __init__(self, priority, left, right="", keep_end=False):
        self.priority = priority
        self.left = left or ""
        self.right = right or ""
        self.keep_end = keep_end

    def __repr__(self):
        return "Row(%d, %r, %r)" % (self.priority, self.left, self.right)


def fit(text, width, keep_end=False):
    """``text`` cut or padded with spaces to exactly ``width`` characters."""
    if len(text) > width:
        return text[len(text) - width:] if keep_end else text[:width]
    return text + " " * (width - len(text))


def row_text(row, width):
    right = row.right[:width]
    room = width - len(right)
    if right and room > 0 and row.left:
        room -= 1  # a space between the two parts
    left = fit(row.left, room, row.keep_end) if room > 0 else ""
    return fit(left + " " * (width - len(left) - len(right)) + right, width)


def layout(rows, width, height):
    """The ``height`` lines (each ``width`` characters) showing ``rows``."""
    ranked = []
    for index, row in enumerate(rows):
        ranked.append((-row.priority, index))
    ranked.sort()
    kept = [index for _, index in ranked[:height]]
    kept.sort()
    lines = [row_text(rows[index], width) for index in kept]
    while len(lines) < height:
        lines.append(" " * width)
    return lines


class ScreenModel:
    """The lines on the display now; ``show(rows)`` says whether they changed."""

    def __init__(self, width=16, height=2):
        if width < 1 or height < 1:
            raise ValueError("a display needs at least one line of one character")
        self.width = width
        self.height = height
        self.lines = [" " * width] * height

    def show(self, rows):
        lines = layout(rows, self.width, self.height)
        if lines == self.lines:
            return False
        self.lines = lines
        return True

    def text(self):
        """The lines with trailing spaces removed, joined by newlines (for tests, logs)."""
        return "\n".join([line.rstrip() for line in self.lines])


# -- formatting ----------------------------------------------------------------------


def two_digits(value):
    return ("0" + str(value)) if value < 10 else str(value)


def duration_text(seconds):
    """Call time as ``mm:ss`` (minutes go past 59 rather than wrap)."""
    seconds = int(seconds)
    if seconds < 0:
        seconds = 0
    return "%s:%s" % (two_digits(seconds // 60), two_digits(seconds % 60))


def clock_text(wall):
    """``HH:MM`` of a wall tuple, or "" when the time of day is unknown."""
    if not wall:
        return ""
    return "%s:%s" % (two_digits(wall[3]), two_digits(wall[4]))


def date_text(wall):
    if not wall:
        return ""
    return "%d-%s-%s" % (wall[0], two_digits(wall[1]), two_digits(wall[2]))


def uri_user_host(uri):
    """``user@host`` of a SIP URI (scheme, parameters and brackets dropped)."""
    text = (uri or "").strip()
    if text.startswith("<") and ">" in text:
        text = text[1:text.find(">")]
    colon = text.find(":")
    if colon >= 0 and text[:colon].lower() in ("sip", "sips", "tel"):
        text = text[colon + 1:]
    for mark in (";", "?"):
        cut = text.find(mark)
        if cut >= 0:
            text = text[:cut]
    return text.replace("%23", "#")


def party_text(name, uri):
    """What to call the other party: its display name, else the user part."""
    if name:
        return name
    text = uri_user_host(uri)
    user, at, _ = text.partition("@")
    return user if at and user else text


# -- the wall clock (days from civil, after H. Hinnant's public-domain algorithms) --------


def days_from_civil(year, month, day):
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days):
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def wall_add(wall, seconds):
    """The wall tuple ``seconds`` (an int, may be negative) after ``wall``."""
    total = (days_from_civil(wall[0], wall[1], wall[2]) * 86400
             + wall[3] * 3600 + wall[4] * 60 + wall[5] + int(seconds))
    days = total // 86400
    rest = total - days * 86400
    year, month, day = civil_from_days(days)
    return (year, month, day, rest // 3600, (rest // 60) % 60, rest % 60)


# -- views: the rows of each handset screen ----------------------------------------------

TOP = 9
SECOND = 8
THIRD = 7
FOURTH = 6
DETAIL = 5
LOW = 1


def idle_view(account, registration, wall, dnd=False, missed=0, problem=False):
    """Account and time; then what needs attention (a registration problem,
    DND, missed calls) before the plain registration state and the date."""
    rows = [Row(TOP, account, clock_text(wall))]
    rows.append(Row(SECOND if problem else DETAIL, registration))
    if dnd:
        rows.append(Row(THIRD, "Do not disturb"))
    if missed:
        rows.append(Row(FOURTH, "%d missed call%s" % (missed, "" if missed == 1 else "s")))
    if wall:
        rows.append(Row(LOW, date_text(wall)))
    return rows


def dialing_view(keys, hint=""):
    return [Row(TOP, "Dial", hint), Row(SECOND, keys, keep_end=True)]


def calling_view(status, party, detail=""):
    rows = [Row(TOP, status), Row(SECOND, party)]
    if detail and detail != party:
        rows.append(Row(DETAIL, detail))
    return rows


def ringing_view(title, party, detail=""):
    rows = [Row(TOP, title), Row(SECOND, party)]
    if detail and detail != party:
        rows.append(Row(DETAIL, detail))
    return rows


def talking_view(party, elapsed, status="", waiting="", held="", detail=""):
    """The other party with the call timer; a waiting caller takes the second
    line, then a call on hold, then the call's own status (on hold...)."""
    rows = [Row(TOP, party, duration_text(elapsed) if elapsed is not None else "")]
    if waiting:
        rows.append(Row(SECOND, "Waiting: " + waiting))
    if held:
        rows.append(Row(THIRD, "Held: " + held))
    if status:
        rows.append(Row(FOURTH, status))
    if detail and detail != party:
        rows.append(Row(DETAIL, detail))
    return rows


def notice_view(title, reason="", party=""):
    rows = [Row(TOP, title)]
    if reason:
        rows.append(Row(SECOND, reason))
    if party:
        rows.append(Row(DETAIL, party))
    return rows
