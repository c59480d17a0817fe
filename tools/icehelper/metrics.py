"""Counters of one front end, in Prometheus's text format (GET /metrics).

Counters count what this process did; with several front ends, sum them (``sum(rate(...))``).
``icehelper_offers_live`` is the store's count (with Redis: all front ends together).
"""
import collections

_COUNTERS = (
    ("stored", "icehelper_offers_stored_total", "Offers stored (PUT)."),
    ("merged", "icehelper_offers_merged_total", "Merges into a stored offer (POST)."),
    ("read", "icehelper_offers_read_total", "Offers read (GET answered 200)."),
    ("expired", "icehelper_offers_expired_total", "Offers that expired (5 minutes without a write)."),
    ("deleted", "icehelper_offers_deleted_total", "Offers deleted by their owner (DELETE)."),
    ("not_found", "icehelper_not_found_total",
     "Requests answered 404: unknown or expired id, wrong token, read budget spent."),
    ("backend_errors", "icehelper_backend_errors_total", "Calls to Redis that failed (503)."),
)
LIMIT_KINDS = ("put", "post", "get", "miss")


class Metrics:
    def __init__(self):
        for attr, _, _ in _COUNTERS:
            setattr(self, attr, 0)
        self.limited = dict.fromkeys(LIMIT_KINDS, 0)
        self.responses = collections.Counter()  # (method, status) -> responses (server.handle)

    def render(self, live, backend_up):
        out = []
        for attr, name, text in _COUNTERS:
            out += ["# HELP %s %s" % (name, text), "# TYPE %s counter" % name,
                    "%s %d" % (name, getattr(self, attr))]
        out += ["# HELP icehelper_limited_total Requests answered 429, by the limit they hit.",
                "# TYPE icehelper_limited_total counter"]
        out += ['icehelper_limited_total{kind="%s"} %d' % (k, self.limited[k]) for k in LIMIT_KINDS]
        out += ["# HELP icehelper_responses_total Responses by method and status.",
                "# TYPE icehelper_responses_total counter"]
        out += ['icehelper_responses_total{method="%s",code="%d"} %d' % (m, s, n)
                for (m, s), n in sorted(self.responses.items())]
        out += ["# HELP icehelper_offers_live Offers stored and not yet expired.",
                "# TYPE icehelper_offers_live gauge", "icehelper_offers_live %d" % live,
                "# HELP icehelper_backend_up 1 when the store answers.",
                "# TYPE icehelper_backend_up gauge", "icehelper_backend_up %d" % backend_up]
        return "\n".join(out) + "\n"
