"""Argument checks shared by every backend, so that each raises the same precise ValueError."""


def aes_key(key):
    n = len(key)
    if n != 16 and n != 32:
        raise ValueError("AES key must be 16 or 32 bytes, got %d" % n)


def aes_block(block):
    if len(block) != 16:
        raise ValueError("AES block must be 16 bytes, got %d" % len(block))


def iv(iv, mode):
    if len(iv) != 16:
        raise ValueError("%s IV must be 16 bytes, got %d" % (mode, len(iv)))


def srtp_keys(cipher_key, cipher_salt, auth_key, tag_len):
    if len(cipher_key) != 16 and len(cipher_key) != 32:
        raise ValueError("SRTP cipher key must be 16 or 32 bytes, got %d" % len(cipher_key))
    if len(cipher_salt) != 14:
        raise ValueError("SRTP cipher salt must be 14 bytes, got %d" % len(cipher_salt))
    if len(auth_key) != 20:
        raise ValueError("SRTP auth key must be 20 bytes, got %d" % len(auth_key))
    if tag_len != 4 and tag_len != 10:
        raise ValueError("SRTP tag length must be 4 or 10 bytes, got %d" % tag_len)


def srtp_span(size, enc_start, enc_end, auth_end, tag_len, ssrc, index):
    """Bounds of one protect/unprotect call on a buffer of SIZE bytes."""
    if not 0 <= enc_start <= enc_end <= auth_end:
        raise ValueError("SRTP spans must satisfy 0 <= enc_start <= enc_end <= auth_end, got %d, %d, %d"
                         % (enc_start, enc_end, auth_end))
    if auth_end + tag_len > size:
        raise ValueError("SRTP buffer of %d bytes has no room for the tag at %d" % (size, auth_end))
    if not 0 <= ssrc <= 0xFFFFFFFF:
        raise ValueError("SRTP SSRC must fit 32 bits")
    if not 0 <= index < (1 << 48):
        raise ValueError("SRTP index must fit 48 bits")
