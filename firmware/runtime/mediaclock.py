"""The sound card's clock for the media path, on each interpreter.

Rule: on CPython the clock is a thread that sleeps until the card's next
period is due and then ticks the Media under its lock (waking a thread costs
a fraction of what a timer callback on the event loop costs: a pass of the
loop's Python code every 20 ms, more than the audio work itself); on
MicroPython, which has no threads, Media runs its clock as an asyncio task
and the lock is a no-op. Whatever the clock thread reports reaches the
phone's loop through ``call_soon_threadsafe`` (``on_clock_thread`` tells).
"""

import time

try:
    import threading
except ImportError:  # MicroPython: the clock is an asyncio task
    threading = None


def new_lock():
    """The lock that keeps the clock thread and the phone's loop apart."""
    return threading.RLock() if threading is not None else NoLock()


def start_thread(media):
    """Start ``media``'s clock thread and return it (``cancel()`` ends it), or
    None where there are no threads: Media then runs an asyncio task."""
    if threading is None:
        return None
    clock = ClockThread(media)
    clock.start()
    return clock


def on_clock_thread(media):
    """True when the caller runs on ``media``'s clock thread."""
    return threading is not None and threading.get_ident() == media.clock_thread_id


class NoLock:
    """The lock where there is no clock thread (MicroPython): one loop, no races."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, trace):
        return False


class ClockThread:
    """The card's clock on CPython: sleeps until the next period is due, then
    ticks under the Media lock. ``cancel`` (under that lock) ends it."""

    def __init__(self, media):
        self.media = media
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="media-clock", daemon=True)

    def start(self):
        self.thread.start()

    def cancel(self):
        self.cancelled = True

    def _run(self):
        self.media.clock_thread_id = threading.get_ident()
        media = self.media
        clock = media.clock
        lock = media.lock
        loop = media.loop
        sleep = time.sleep
        with lock:
            due = media.due
        now = clock()
        while True:
            # Slept from the tick's start, the wake-up comes as late as the
            # tick took, which only makes the period surer to be there; and
            # the clock is read once a period (a system call on some boards).
            if due > now:
                sleep(due - now)
            with lock:
                if self.cancelled or loop.is_closed():
                    return  # closed, or nobody left to hear it: the loop has ended
                now = clock()
                if not media.guarded_tick(now):
                    return
                due = media.due
