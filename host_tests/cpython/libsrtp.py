"""ctypes harness over Debian's libsrtp2 (package libsrtp2-1): an independent SRTP peer.

pylibsrtp exposes only the AES-128 profiles; this reaches all four RFC 4568/6188 profiles,
AES-256 included, through ``srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80`` and ``_32``.

    tx = LibSrtp("AES_256_CM_HMAC_SHA1_80", key, salt, outbound=True)
    srtp = tx.protect(rtp)

The policy is libsrtp 2.x's ``srtp_policy_t`` (include/srtp.h, unchanged from 2.0 to 2.6), with
``ssrc_any_outbound`` or ``ssrc_any_inbound`` so that one session serves every SSRC.
"""
import ctypes
import ctypes.util

import pytest

LIBRARY = "libsrtp2.so.1"
PACKAGE = "libsrtp2-1"

ssrc_any_inbound = 2
ssrc_any_outbound = 3

# srtp_err_status_t values (include/srtp.h)
ERR_OK = 0
ERR_AUTH_FAIL = 7
ERR_REPLAY_FAIL = 9
ERR_REPLAY_OLD = 10

SEC_SERV_AUTH = 2  # srtp_sec_serv_t: authentication only

SRTP_MAX_TRAILER_LEN = 16 + 128 + 4  # tag + MKI + SRTCP index, with room to spare


class _CryptoPolicy(ctypes.Structure):
    _fields_ = [
        ("cipher_type", ctypes.c_uint32),
        ("cipher_key_len", ctypes.c_int),
        ("auth_type", ctypes.c_uint32),
        ("auth_key_len", ctypes.c_int),
        ("auth_tag_len", ctypes.c_int),
        ("sec_serv", ctypes.c_int),
    ]


class _Ssrc(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("value", ctypes.c_uint)]


class _Policy(ctypes.Structure):
    pass


_Policy._fields_ = [
    ("ssrc", _Ssrc),
    ("rtp", _CryptoPolicy),
    ("rtcp", _CryptoPolicy),
    ("key", ctypes.c_void_p),
    ("keys", ctypes.c_void_p),
    ("num_master_keys", ctypes.c_ulong),
    ("deprecated_ekt", ctypes.c_void_p),
    ("window_size", ctypes.c_ulong),
    ("allow_repeat_tx", ctypes.c_int),
    ("enc_xtn_hdr", ctypes.c_void_p),
    ("enc_xtn_hdr_count", ctypes.c_int),
    ("next", ctypes.POINTER(_Policy)),
]

# profile -> (master key length, RTP policy setter, RTCP policy setter). The 128-bit _80 setter
# is a macro in srtp.h for the *_default functions, which the library exports.
# RFC 4568 section 6.2.2 / RFC 6188 section 6: SRTCP keeps the 80-bit tag in the _32 profiles.
PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": (16, "srtp_crypto_policy_set_rtp_default",
                                "srtp_crypto_policy_set_rtcp_default"),
    "AES_CM_128_HMAC_SHA1_32": (16, "srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32",
                                "srtp_crypto_policy_set_rtcp_default"),
    "AES_256_CM_HMAC_SHA1_80": (32, "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80",
                                "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"),
    "AES_256_CM_HMAC_SHA1_32": (32, "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32",
                                "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"),
}

_lib = None


def library():
    """The loaded libsrtp2, initialised once; fails the test naming the package when missing."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError:
            pytest.fail("%s is missing: install %s (make test does it)" % (LIBRARY, PACKAGE),
                        pytrace=False)
        lib.srtp_get_version_string.restype = ctypes.c_char_p
        for name in ("srtp_protect", "srtp_unprotect", "srtp_protect_rtcp", "srtp_unprotect_rtcp"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                           ctypes.POINTER(ctypes.c_int)]
        lib.srtp_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(_Policy)]
        lib.srtp_dealloc.argtypes = [ctypes.c_void_p]
        check(lib.srtp_init(), "srtp_init")
        _lib = lib
    return _lib


def version():
    return library().srtp_get_version_string().decode()


class LibSrtpError(Exception):
    def __init__(self, call, status):
        Exception.__init__(self, "%s failed with srtp_err_status %d" % (call, status))
        self.status = status


def check(status, call):
    if status != ERR_OK:
        raise LibSrtpError(call, status)


class LibSrtp:
    """One libsrtp session: every SSRC, one direction, one master key."""

    _ctx = None

    def __init__(self, profile, master_key, master_salt, outbound, window_size=128,
                 rtcp_encrypted=True):
        lib = library()
        key_length, rtp_setter, rtcp_setter = PROFILES[profile]
        assert len(master_key) == key_length and len(master_salt) == 14
        self._key = ctypes.create_string_buffer(bytes(master_key) + bytes(master_salt))
        policy = _Policy()
        getattr(lib, rtp_setter)(ctypes.byref(policy.rtp))
        getattr(lib, rtcp_setter)(ctypes.byref(policy.rtcp))
        if not rtcp_encrypted:
            policy.rtcp.sec_serv = SEC_SERV_AUTH  # SRTCP with the E flag clear
        policy.ssrc.type = ssrc_any_outbound if outbound else ssrc_any_inbound
        policy.key = ctypes.cast(self._key, ctypes.c_void_p)
        policy.window_size = window_size
        self._policy = policy
        self._ctx = ctypes.c_void_p()
        check(lib.srtp_create(ctypes.byref(self._ctx), ctypes.byref(policy)), "srtp_create")
        self._buf = ctypes.create_string_buffer(2048)
        self._len = ctypes.c_int()
        self._lib = lib

    def close(self):
        if self._ctx:
            self._lib.srtp_dealloc(self._ctx)
            self._ctx = None

    def __del__(self):
        if _lib is not None:
            self.close()

    def _process(self, func, name, packet):
        n = len(packet)
        assert n + SRTP_MAX_TRAILER_LEN <= len(self._buf)
        ctypes.memmove(self._buf, bytes(packet), n)
        self._len.value = n
        check(func(self._ctx, self._buf, ctypes.byref(self._len)), name)
        return self._buf.raw[:self._len.value]

    def protect(self, packet):
        return self._process(self._lib.srtp_protect, "srtp_protect", packet)

    def unprotect(self, packet):
        return self._process(self._lib.srtp_unprotect, "srtp_unprotect", packet)

    def protect_rtcp(self, packet):
        return self._process(self._lib.srtp_protect_rtcp, "srtp_protect_rtcp", packet)

    def unprotect_rtcp(self, packet):
        return self._process(self._lib.srtp_unprotect_rtcp, "srtp_unprotect_rtcp", packet)
