"""The names the box's parts share: one home for each, so that a status line, the display, the
controls, the ZRTP engine and the tests spell them alike.

- Security of a call (``CallStatus.security`` in :mod:`zerotap.status`, the ``security`` field of a
  status line): :data:`CLEAR`, :data:`NEGOTIATING`, :data:`SECURE`, :data:`FAILED`. SECURE is set
  only by ``CallStatus.set_secure`` (the ZRTP engine's Secure event, through the media session).
- ZRTP cache results (``CallStatus.cache``, the engine's Secure event; RFC 6189 section 4.9):
  :data:`CACHE_NEW` (no retained secret yet), :data:`CACHE_MATCH`, :data:`CACHE_MISMATCH` (a
  possible man in the middle).
- Actions on a call (:data:`ACTIONS`): what the board button (:mod:`zerotap.ui.button`), the keypad
  codes (``board.keypad``, :mod:`zerotap.ui.keypad`) and the local control
  (:mod:`zerotap.runtime.control`) ask of ``Box.action``: :data:`SET_VERIFIED` (``verified``),
  :data:`SET_UNVERIFIED` (``unverified``), :data:`TOGGLE_VERIFIED` (``toggle_verified``: the
  button's press), :data:`SWITCH_CALL` (``switch_call``: the button's hold),
  :data:`RETRY_FALLBACK` (``retry_fallback``: start the ICE fallback again, docs/fallback.md).
"""
# Call security
CLEAR = "clear"
NEGOTIATING = "negotiating"
SECURE = "secure"
FAILED = "failed"
SECURITY = (CLEAR, NEGOTIATING, SECURE, FAILED)

# ZRTP cache results
CACHE_NEW = "new"
CACHE_MATCH = "match"
CACHE_MISMATCH = "mismatch"
CACHE_RESULTS = (CACHE_NEW, CACHE_MATCH, CACHE_MISMATCH)

# Actions on a call
SET_VERIFIED = "verified"
SET_UNVERIFIED = "unverified"
TOGGLE_VERIFIED = "toggle_verified"
SWITCH_CALL = "switch_call"
RETRY_FALLBACK = "retry_fallback"
ACTIONS = (TOGGLE_VERIFIED, SWITCH_CALL, SET_VERIFIED, SET_UNVERIFIED, RETRY_FALLBACK)
