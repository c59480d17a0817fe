"""What each call's network leg needs for ZRTP: the engine's policy from the config, the trust
cache (ZID and retained secrets, in ``zrtp.cache``), and a key pool filled while idle.

``factory(cfg)`` gives the Box its :class:`zerotap.seams.SecureFactory`: ``leg(call_status,
call_media)`` makes each call's :class:`zerotap.media.ZrtpLeg`, ``step_pool()`` makes key pairs
while no call has media, ``close()`` writes the trust cache, ``warning`` tells of a cache that
could not be read.
"""
from zerotap import crypto
from zerotap import media as _media
from zerotap import seams
from zerotap import storage as _storage
from zerotap.zrtp import algorithms, cache as _cache, engine as _engine


class SecureFactory(seams.SecureFactory):
    def __init__(self, cfg, log=None, random_bytes=None):
        self.cfg = cfg
        self.log = log
        self.random_bytes = random_bytes or crypto.random_bytes
        z = cfg.zrtp
        kas = [k for k in z.key_agreement if k != "Mult"]
        self.offer = algorithms.Offer(hashes=z.hash, ciphers=z.cipher, auth_tags=z.auth,
                                      key_agreements=kas, sas_types=z.sas)
        self.config = _engine.Config(offer=self.offer, client_id="ZeroTap box")
        self.storage = _storage.Storage(cfg.zrtp.cache)
        self.cache = _cache.Cache(self.storage)
        self.warning = getattr(self.cache, "warning", None)
        self.pool = crypto.KeyPool(self.offer.crypto_names(), 1)

    def leg(self, call_status, call_media):
        ssrc = int.from_bytes(self.random_bytes(4), "big")
        eng = _engine.Engine(ssrc, cache=self.cache, config=self.config, key_pool=self.pool,
                             random_bytes=self.random_bytes, log=self.log)
        return _media.ZrtpLeg(eng, call_status, self.log)

    def step_pool(self):
        """One slice of idle key generation; True while more is pending."""
        return self.pool.step()

    def close(self):
        try:
            self.cache.save()
        except OSError as e:
            if self.log:
                self.log("zrtp cache not written: %s" % (e,))


def factory(cfg, log=None):
    return SecureFactory(cfg, log)
