"""The ICE helper server: ZSipOs-compatible offer storage, hardened, shared over Redis.

Run it with ``python tools/icehelper --config FILE`` (see README.md).
"""
