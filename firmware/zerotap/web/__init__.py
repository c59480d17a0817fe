"""The box's web page (docs/web.md): sans-IO HTTP (:mod:`.http`), sessions, CSRF and login limits
(:mod:`.auth`) and the pages (:mod:`.app`). :mod:`zerotap.runtime.web` serves them on the
runtime's stream layer, from the box's own loop, on the phone side only."""
