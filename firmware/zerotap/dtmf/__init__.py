"""DTMF for the box: RFC 4733 events, in-band detection and generation, and the number framing.

- :mod:`zerotap.dtmf.events`: RFC 4733 telephone-event packets, a sender and a receiver.
- :mod:`zerotap.dtmf.detector`: a Goertzel detector for 8 kHz audio (PCMU, PCMA, 16-bit linear).
- :mod:`zerotap.dtmf.tones`: tone generation into linear, PCMU or PCMA frames.
- :mod:`zerotap.dtmf.frame`: the ``*A``/``#A`` number framing of the ICE helper exchange.
- :mod:`zerotap.dtmf.wav`: 8 kHz mono WAV files, for the CLI (``python -m zerotap.dtmf``).
"""
# The keypad, row by row (ITU-T Q.23 table 1). A key's index is 4 * row + column.
KEYPAD = "123A456B789C*0#D"
ROW_HZ = (697, 770, 852, 941)
COLUMN_HZ = (1209, 1336, 1477, 1633)

# RFC 4733 section 3.2, table 3: DTMF named events 0-15.
EVENT_DIGITS = "0123456789*#ABCD"


def key_frequencies(digit):
    """The (row, column) frequencies in Hz of one keypad symbol, or ValueError."""
    i = KEYPAD.find(digit) if isinstance(digit, str) and len(digit) == 1 else -1
    if i < 0:
        raise ValueError("dtmf: %r is not a DTMF symbol (0-9 * # A-D)" % (digit,))
    return ROW_HZ[i >> 2], COLUMN_HZ[i & 3]


def check_digits(digits):
    """DIGITS upper-cased if every symbol is a DTMF symbol, else ValueError naming the first bad one."""
    if not isinstance(digits, str):
        raise ValueError("dtmf: digits must be a str, not %s" % type(digits).__name__)
    digits = digits.upper()
    for ch in digits:
        if KEYPAD.find(ch) < 0:
            raise ValueError("dtmf: %r is not a DTMF symbol (0-9 * # A-D)" % ch)
    return digits
