"""Write the golden screen images (and the README screenshots) from zerotap.ui.gallery.

    micropython tools/ui_golden.py            # host_tests/vectors/ui_<sample>_<W>x<H>.png, 1:1
    micropython tools/ui_golden.py --readme   # docs/screens/<sample>_<W>x<H>.png, 3x, OLED blue

The golden images are made under the MicroPython unix port (the board's framebuf) and committed;
the tests compare both runtimes against them. Regenerate only after a deliberate change to a screen,
and look at every image before committing it.
"""
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = HERE + "/.."
sys.path.insert(0, ROOT + "/firmware")

from zerotap.ui import canvas, gallery, png, screens  # noqa: E402


# The README shows the main screens only.
README = ("idle", "clear", "negotiating", "secure", "secure_b256", "verified", "mismatch", "failed",
          "config_error", "two_calls", "fallback_blocked", "fallback_exchanging",
          "fallback_connecting", "secure_direct", "fallback_failed", "web_password")


def main(argv):
    readme = "--readme" in argv
    out = ROOT + ("/docs/screens" if readme else "/host_tests/vectors")
    n = 0
    for name, build, want in gallery.SAMPLES:
        if readme and name not in README:
            continue
        for w, h in screens.SIZES:
            buf = bytearray(canvas.buffer_size(w, h))
            got = screens.render(build(), canvas.frame(buf, w, h), w, h)
            if got != want:
                raise SystemExit("%s: drew %s, want %s" % (name, got, want))
            if readme:
                path = "%s/%s_%dx%d.png" % (out, name, w, h)
                png.write(path, buf, w, h, 3, png.OLED_PALETTE)
            else:
                path = "%s/ui_%s_%dx%d.png" % (out, name, w, h)
                png.write(path, buf, w, h)
            n += 1
    print("wrote %d images to %s" % (n, out))


main(sys.argv[1:])
