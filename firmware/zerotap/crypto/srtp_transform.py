"""The SRTP/SRTCP packet transform in pure Python: AES-CM keystream XOR (RFC 3711 section 4.1.1)
and the HMAC-SHA1 tag (section 4.2.1), in place on the caller's buffer.

A backend subclasses :class:`SrtpTransform` and provides the block cipher (``_ecb``) and the two
HMAC halves; the bounds checks and the IV layout are shared. The native module does all of it in
one C call per packet.
"""
from zerotap.crypto import checks

# Keystream buffer: 100 blocks covers a 1600-byte packet in one go; longer ones loop.
_BLOCKS = 100


def wipe(buf):
    """Overwrite a bytearray (or a list of ints) with zeros; None and immutable bytes are left
    alone (an interpreter gives no way to overwrite those)."""
    if isinstance(buf, bytearray):
        for i in range(len(buf)):
            buf[i] = 0
    elif isinstance(buf, list):
        for i in range(len(buf)):
            buf[i] = 0


class SrtpTransform:
    def __init__(self, cipher_key, cipher_salt, auth_key, tag_len):
        checks.srtp_keys(cipher_key, cipher_salt, auth_key, tag_len)
        self.tag_len = tag_len
        self._salt = bytes(cipher_salt)
        self._iv = bytearray(16)
        self._ks = bytearray(16 * _BLOCKS)
        self._suffix = bytearray(4)
        self._setup(bytes(cipher_key), bytes(auth_key))

    def wipe(self):
        """Overwrite the key material this object holds (the call ended); it is unusable after."""
        self._salt = bytes(14)
        wipe(self._iv)
        wipe(self._ks)
        self._wipe()

    # --- what a backend provides
    def _wipe(self):
        pass

    def _setup(self, cipher_key, auth_key):
        raise NotImplementedError

    def _ecb(self, buf, nblocks):
        raise NotImplementedError

    def _mac(self, buf, auth_end, suffix):
        """HMAC-SHA1(auth_key, buf[0:auth_end] || suffix) as 20 bytes."""
        raise NotImplementedError

    # --- shared
    def _set_iv(self, ssrc, index):
        # IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711 section 4.1.1
        iv = self._iv
        iv[0:14] = self._salt
        iv[14] = 0
        iv[15] = 0
        iv[4] ^= (ssrc >> 24) & 0xFF
        iv[5] ^= (ssrc >> 16) & 0xFF
        iv[6] ^= (ssrc >> 8) & 0xFF
        iv[7] ^= ssrc & 0xFF
        for i in range(6):
            iv[8 + i] ^= (index >> (40 - 8 * i)) & 0xFF

    def _crypt(self, buf, start, end, ssrc, index):
        self._set_iv(ssrc, index)
        iv = self._iv
        ks = self._ks
        block = 0
        pos = start
        while pos < end:
            n = min(end - pos, 16 * _BLOCKS)
            nb = (n + 15) // 16
            for j in range(nb):
                o = 16 * j
                ks[o:o + 14] = iv[0:14]
                c = block + j  # the 16-bit block counter in the low bits of the IV
                ks[o + 14] = (c >> 8) & 0xFF
                ks[o + 15] = c & 0xFF
            self._ecb(ks, nb)
            self._xor(buf, pos, ks, n)
            pos += n
            block += nb

    def _xor(self, buf, pos, ks, n):
        for i in range(n):
            buf[pos + i] ^= ks[i]

    def _suffix_bytes(self, suffix):
        s = self._suffix
        s[0] = (suffix >> 24) & 0xFF
        s[1] = (suffix >> 16) & 0xFF
        s[2] = (suffix >> 8) & 0xFF
        s[3] = suffix & 0xFF
        return s

    def protect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        checks.srtp_span(len(buf), enc_start, enc_end, auth_end, self.tag_len, ssrc, index)
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        tag = self._mac(buf, auth_end, suffix)
        buf[auth_end:auth_end + self.tag_len] = tag[0:self.tag_len]
        return auth_end + self.tag_len

    def unprotect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        checks.srtp_span(len(buf), enc_start, enc_end, auth_end, self.tag_len, ssrc, index)
        tag = self._mac(buf, auth_end, suffix)
        diff = 0
        for i in range(self.tag_len):  # constant time over the tag
            diff |= tag[i] ^ buf[auth_end + i]
        if diff:
            return False
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        return True
