"""Header text and wire bytes, converted both ways without loss.

Rule: header text may hold any bytes. UTF-8 is decoded as such; each byte
that is not part of valid UTF-8 becomes the private-use character
U+F700+byte (U+F780..U+F7FF), and encoding maps those characters back, so
encode_text(decode_text(data)) == data for every byte string, with the same
result on CPython and MicroPython. Pure ASCII, the usual case, costs one
decode or encode and a length comparison.
"""


def _decode_slow(data):
    out = []
    n = len(data)
    run = 0
    i = 0
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        need = 0
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif b == 0xE0:
            need, lo = 2, 0xA0
        elif 0xE1 <= b <= 0xEF:
            need = 2
            if b == 0xED:
                hi = 0x9F
        elif b == 0xF0:
            need, lo = 3, 0x90
        elif 0xF1 <= b <= 0xF3:
            need = 3
        elif b == 0xF4:
            need, hi = 3, 0x8F
        ok = need > 0 and i + need < n and lo <= data[i + 1] <= hi
        k = 2
        while ok and k <= need:
            ok = 0x80 <= data[i + k] <= 0xBF
            k += 1
        if ok and b == 0xEF and (data[i + 1] == 0x9E or data[i + 1] == 0x9F):
            ok = False  # U+F780..U+F7FF stand for raw bytes: never take them literally
        if ok:
            i += need + 1
            continue
        if run < i:
            out.append(data[run:i].decode())
        out.append(chr(0xF700 + b))
        i += 1
        run = i
    if run < n:
        out.append(data[run:].decode())
    return "".join(out)


def decode_text(data):
    """bytes -> str, reversibly (see the module rule); identical on every interpreter."""
    try:
        text = data.decode()
        if len(text) == len(data):
            return text  # pure ASCII
    except Exception:
        pass
    return _decode_slow(data)


def encode_text(text):
    """str -> bytes, the inverse of decode_text()."""
    data = text.encode()
    if len(data) == len(text) or (b"\xef\x9e" not in data and b"\xef\x9f" not in data):
        return data
    out = bytearray()
    for char in text:
        code = ord(char)
        if 0xF780 <= code <= 0xF7FF:
            out.append(code - 0xF700)
        else:
            out.extend(char.encode())
    return bytes(out)


__all__ = ("decode_text", "encode_text")
