"""Counter and feedback modes (SP 800-38A) over a block function ``ecb(buf, nblocks)`` that
encrypts the first NBLOCKS 16-byte blocks of a bytearray in place.

Used by the pure backends; the native module does the same in C.
"""
from zerotap.crypto import checks


def ctr(ecb, iv, data):
    """SP 800-38A section 6.5 with a 128-bit big-endian counter that starts at IV (SRTP's AES-CM,
    RFC 3711 section 4.1.1, is this with the low 16 bits of IV as the block counter)."""
    n = len(data)
    blocks = (n + 15) // 16
    counter = int.from_bytes(iv, "big")
    ks = bytearray(16 * blocks)
    for i in range(blocks):
        ks[16 * i:16 * i + 16] = ((counter + i) & ((1 << 128) - 1)).to_bytes(16, "big")
    ecb(ks, blocks)
    out = bytearray(data)
    for i in range(n):
        out[i] ^= ks[i]
    return bytes(out)


def cfb_encrypt(ecb, iv, data):
    """CFB-128, SP 800-38A section 6.3: C_j = P_j ^ E(C_{j-1}), C_0 = IV; a short last block is fine."""
    out = bytearray(data)
    reg = bytearray(iv)
    for off in range(0, len(out), 16):
        ecb(reg, 1)
        end = min(off + 16, len(out))
        for i in range(off, end):
            out[i] ^= reg[i - off]
        reg[0:end - off] = out[off:end]
    return bytes(out)


def cfb_decrypt(ecb, iv, data):
    out = bytearray(data)
    reg = bytearray(iv)
    for off in range(0, len(out), 16):
        ecb(reg, 1)
        end = min(off + 16, len(out))
        for i in range(off, end):
            c = out[i]
            out[i] ^= reg[i - off]
            reg[i - off] = c
    return bytes(out)


def aes_modes(ecb_for_key):
    """The backend functions aes_ctr, aes_cfb_encrypt and aes_cfb_decrypt over ECB_FOR_KEY(key),
    which returns a block function as above; the arguments are checked as the contract says."""
    def aes_ctr(key, iv, data):
        checks.aes_key(key)
        checks.iv(iv, "AES-CTR")
        return ctr(ecb_for_key(key), iv, data)

    def aes_cfb_encrypt(key, iv, data):
        checks.aes_key(key)
        checks.iv(iv, "AES-CFB")
        return cfb_encrypt(ecb_for_key(key), iv, data)

    def aes_cfb_decrypt(key, iv, data):
        checks.aes_key(key)
        checks.iv(iv, "AES-CFB")
        return cfb_decrypt(ecb_for_key(key), iv, data)

    return aes_ctr, aes_cfb_encrypt, aes_cfb_decrypt
