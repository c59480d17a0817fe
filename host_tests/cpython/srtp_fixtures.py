"""Write host_tests/vectors/srtp_libsrtp_fixtures.json: packets protected by libsrtp (Debian's
libsrtp2 through the ctypes harness), for the MicroPython runner, which cannot call libsrtp.

    .venv/bin/python host_tests/cpython/srtp_fixtures.py

Per profile: a random master key and salt, RTP on two SSRCs (one crossing the sequence-number
wrap, so its rollover counter goes from 0 to 1) and compound RTCP, each as [plain, protected].
test_srtp_libsrtp.py checks that the committed file still verifies against libsrtp.
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import libsrtp  # noqa: E402
import srtp_traffic  # noqa: E402

OUT = HERE.parent / "vectors" / "srtp_libsrtp_fixtures.json"
PROFILES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
            "AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32")


def make(seed=3711):
    rng = random.Random(seed)
    cases = []
    for profile in PROFILES:
        key = rng.randbytes(libsrtp.PROFILES[profile][0])
        salt = rng.randbytes(14)
        tx = libsrtp.LibSrtp(profile, key, salt, outbound=True)
        ssrc_a, ssrc_b = rng.getrandbits(32), rng.getrandbits(32)
        seq_a, seq_b = 65531, rng.randint(0, 65535)
        rtp = []
        for i in range(14):
            if i % 4 == 3:
                p = srtp_traffic.rtp(rng, seq_b, ssrc_b)
                seq_b = (seq_b + 1) & 0xFFFF
            else:
                p = srtp_traffic.rtp(rng, seq_a, ssrc_a)
                seq_a = (seq_a + 1) & 0xFFFF
            rtp.append([p.hex(), tx.protect(p).hex()])
        rtcp = []
        for ssrc in (ssrc_a, ssrc_b, ssrc_a, ssrc_a):
            p = srtp_traffic.rtcp_compound(rng, ssrc)
            rtcp.append([p.hex(), tx.protect_rtcp(p).hex()])
        tx.close()
        cases.append({"profile": profile, "master_key": key.hex(), "master_salt": salt.hex(),
                      "rtp": rtp, "rtcp": rtcp})
    return {
        "source": "made by %s through host_tests/cpython/libsrtp.py (srtp_fixtures.py, seed %d); "
                  "libsrtp's first SRTCP index per SSRC is 1" % (libsrtp.version(), seed),
        "cases": cases,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(make(), indent=1) + "\n")
    print("wrote", OUT)
