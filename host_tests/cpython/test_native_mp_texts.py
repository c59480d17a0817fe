"""The MicroPython user module's error texts (native/zcrypto/zcrypto_mp.c), read as C text.

MicroPython compresses every MP_ERROR_TEXT of a build and, to raise one, decompresses it into a
stack buffer of MP_MAX_UNCOMPRESSED_TEXT_LEN bytes, the length of the build's longest text
(py/objexcept.c, mp_obj_new_exception_msg_vlist), then writes its terminating NUL one byte past
that buffer when the text raised is the longest one (found with the unix port built with the
module under AddressSanitizer: a stack-buffer-overflow in mp_decompress_rom_string on each
"SRTP spans must satisfy ..." error, 77 characters, the longest text of that build). MicroPython's
own longest texts are 73 characters ("can't switch from automatic field numbering to manual field
specification"): a module text no longer than that never makes the longest one of a build."""
import os
import re

MP_C = os.path.join(os.path.dirname(__file__), "..", "..", "native", "zcrypto", "zcrypto_mp.c")
CORE_LONGEST = len("can't switch from automatic field numbering to manual field specification")


def test_no_error_text_of_the_module_is_the_longest_of_a_build():
    text = open(MP_C).read()
    found = re.findall(r'MP_ERROR_TEXT\("((?:[^"\\]|\\.)*)"\)', text)
    assert len(found) >= 10, found  # the module's texts were found
    long = [s for s in found if len(s) > CORE_LONGEST]
    assert not long, long
