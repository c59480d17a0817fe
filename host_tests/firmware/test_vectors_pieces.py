"""vectors.each() and vectors.fields(), the readers that take a vector file in pieces, give what
json.load of the whole file gives (checked on every vector file small enough to load whole on a
board-sized heap; the larger ones are read only in pieces, by the tests that use them)."""
import os

import vectors
from support import scratch

SMALL = 12000  # bytes: files up to this size are loaded whole for the comparison


def _files():
    return sorted(n for n in os.listdir(vectors.VECTORS)
                  if n.endswith(".json") and os.stat(vectors.VECTORS + "/" + n)[6] <= SMALL)


def test_pieces_match_the_whole_document():
    names = _files()
    assert len(names) >= 15, names
    arrays = 0
    for name in names:
        doc = vectors.load(name)
        if not isinstance(doc, dict):  # the readers take objects only
            continue
        keys = sorted(doc)
        assert vectors.fields(name, *keys) == [doc[k] for k in keys], name
        for k in keys:
            if isinstance(doc[k], list) and doc[k]:
                assert list(vectors.each(name, k)) == doc[k], (name, k)
                assert vectors.count(name, k) == len(doc[k]), (name, k)
                arrays += 1
        doc = None
    assert arrays >= 20


def test_chunk_boundaries_anywhere():
    # every split point of a file with escapes, nesting and strings holding the syntax
    d = scratch("vectors")
    name = "edge.json"
    path = d + "/" + name
    text = ('{"a": "x\\\\\\"y,]}", "list": [[1, [2, 3]], {"k": "v,\\"]"}, "s[", 4, null],'
            ' "z": {"q": [5, 6]}, "empty": [ ], "end": true}')
    want_list = [[1, [2, 3]], {"k": 'v,"]'}, "s[", 4, None]
    old_dir, old_chunk = vectors.VECTORS, vectors._CHUNK
    with open(path, "w") as f:
        f.write(text)
    try:
        vectors.VECTORS = d
        for chunk in range(1, len(text) + 2):
            vectors._CHUNK = chunk
            assert list(vectors.each(name, "list")) == want_list, chunk
            assert vectors.fields(name, "end", "a", "z") == [True, 'x\\"y,]}', {"q": [5, 6]}], chunk
            assert vectors.count(name, "empty") == 0 and vectors.count(name, "list") == 5, chunk
    finally:
        vectors.VECTORS, vectors._CHUNK = old_dir, old_chunk
        os.remove(path)
        os.rmdir(d)


def test_missing_keys_are_named():
    for f in (lambda: list(vectors.each("crypto_aes.json", "nothing")),
              lambda: vectors.fields("crypto_aes.json", "source", "nothing")):
        try:
            f()
        except KeyError as e:
            assert "nothing" in str(e)
            continue
        raise AssertionError("no KeyError")
