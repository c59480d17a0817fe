"""The helper's ids and tokens: its fast id generator keeps zerotap.dtmf.frame's rules and draws
the ids as frame.make_id does; its memo of frame.valid_id answers as valid_id does; tokens are
32 lowercase letters."""
import collections
import hashlib
import random
import sys

from hostenv import FIRMWARE, ROOT

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(FIRMWARE))
from icehelper import store  # noqa: E402
from zerotap.dtmf import frame  # noqa: E402


def _seeded(monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(store._pool, "take", rng.randbytes)
    monkeypatch.setattr(store, "_WORDS", [])  # no words left from earlier draws
    monkeypatch.setattr(store, "_IDS", [])  # nor ids drawn ahead
    return rng


def test_ids_keep_the_frame_rules():
    ids = [store.new_id() for _ in range(20000)]
    for i in ids:
        assert len(i) == 10 and i.isdigit() and i[0] != "0", i
        assert frame.valid_id(i), i  # no equal neighbours, check digits included
        assert int(i[9]) == frame.icestorage_checksum(i[:9]), i  # ZSipOs's helper's checksum
    assert len(set(ids)) > 19990  # ~280 million ids: a handful of repeats at most


def test_ids_are_drawn_as_frame_make_id_draws_them(monkeypatch):
    """Digit counts per position of 20,000 ids from each generator (seeded, so the outcome is
    fixed) agree within what chance gives: a chi-square of two samples per position. A generator
    that skewed any position (say, by picking the 9th digit to dodge the checksum) fails."""
    n = 20000
    _seeded(monkeypatch, 1)
    ours = [store.new_id() for _ in range(n)]
    rng = random.Random(2)
    theirs = [frame.make_id(rng.randbytes) for _ in range(n)]
    for pos in range(10):
        a = collections.Counter(i[pos] for i in ours)
        b = collections.Counter(i[pos] for i in theirs)
        chi2 = sum((a[d] - b[d]) ** 2 / (a[d] + b[d]) for d in "0123456789" if a[d] + b[d])
        assert chi2 < 40, (pos, chi2, a, b)  # 9 degrees of freedom: p < 1e-5 beyond 40
    # and a skewed sample does fail the same check
    skewed = [i for i in ours if i[8] != "7"][:n // 2] + ours[:n // 2]
    a = collections.Counter(i[8] for i in skewed)
    b = collections.Counter(i[8] for i in theirs)
    assert sum((a[d] - b[d]) ** 2 / (a[d] + b[d]) for d in "0123456789") > 40


def test_the_valid_id_memo_answers_as_valid_id(monkeypatch):
    """The memo keys frame.valid_id's answer by (9th digit, 10th digit, id mod 97) for texts whose
    first nine digits have no equal neighbours: learnt on one set of texts, it gives valid_id's
    answer on another."""
    monkeypatch.setattr(store, "_VALID", {})
    _seeded(monkeypatch, 3)
    for _ in range(40000):
        store.new_id()
    memo = store._VALID
    assert len(memo) > 5000 and set(memo.values()) == {True, False}
    rng = random.Random(4)
    checked = 0
    for _ in range(40000):
        digits = [rng.randrange(1, 10)]
        while len(digits) < 10:
            d = rng.randrange(10)
            if len(digits) == 9 or d != digits[-1]:  # the 10th digit free: may equal the 9th
                digits.append(d)
        text = "".join(map(str, digits))
        key = (digits[8] * 10 + digits[9]) * 97 + int(text) % 97
        if key in memo:
            checked += 1
            assert memo[key] == frame.valid_id(text), text
    assert checked > 30000


def _check_tokens(tokens):
    assert all(len(t) == 32 and t.isascii() and t.isalpha() and t.islower() for t in tokens)
    counts = collections.Counter("".join(tokens))
    assert len(counts) == 26 and min(counts.values()) > 0.8 * 64000 / 26
    assert len(set(tokens)) == len(tokens)


def test_tokens_are_32_lowercase_letters_all_used():
    _check_tokens([store.new_token(32) for _ in range(2000)])


def test_tokens_drawn_ahead_come_with_their_hash():
    pairs = []
    while len(pairs) < 2000:  # some 20 draws of the pool, taken 1 to 64 at a time
        pairs += store.new_tokens_hashed(1 + len(pairs) % 64)
    _check_tokens([t for t, _ in pairs])
    for token, hashed in pairs:
        assert hashed == hashlib.sha256(token.encode()).hexdigest() == store.token_hash(token)
