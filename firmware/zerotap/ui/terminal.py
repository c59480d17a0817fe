"""The panel in a terminal: two pixel rows per text line with Unicode half blocks."""

_BLOCKS = (" ", "\u2580", "\u2584", "\u2588")  # none, upper half, lower half, full


def lines(buf, width, height, frame=True):
    """The MONO_VLSB frame BUF as a list of strings, HEIGHT/2 lines of WIDTH characters."""
    out = []
    for y in range(0, height, 2):
        top = (y >> 3) * width
        bot = ((y + 1) >> 3) * width
        tb = 1 << (y & 7)
        bb = 1 << ((y + 1) & 7)
        row = []
        for x in range(width):
            i = (1 if buf[top + x] & tb else 0) | (2 if y + 1 < height and buf[bot + x] & bb else 0)
            row.append(_BLOCKS[i])
        line = "".join(row)
        out.append("\u2502" + line + "\u2502" if frame else line)
    if frame:
        edge = "\u2500" * width
        out.insert(0, "\u250c" + edge + "\u2510")
        out.append("\u2514" + edge + "\u2518")
    return out


def side_by_side(panels, gap=2):
    """Several panels' lines next to each other (the host demo's two boxes)."""
    columns = [p for p in panels]
    n = max(len(c) for c in columns)
    out = []
    for i in range(n):
        parts = []
        for c in columns:
            w = len(c[0]) if c else 0
            parts.append(c[i] if i < len(c) else " " * w)
        out.append((" " * gap).join(parts))
    return out
