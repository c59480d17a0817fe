"""libnice's ICE agent (Debian gir1.2-nice-0.1, driven through Debian's python3-gi), for
test_ice_libnice.py. Run with the system /usr/bin/python3:

    nice_agent.py CONTROLLING(0|1) AGGRESSIVE(0|1)

It gathers on 127.0.0.1 only and talks JSON lines:
  out {"ufrag", "pwd", "candidates": ["<a=candidate value>", ...]}   after gathering
  in  {"ufrag", "pwd", "candidates": [...]}                         the far side's
  out {"state": "<component state>"}                                 on every change
  out {"selected": ["<local>", "<remote>"]}                          on a selected pair
  out {"recv": "<text>"}                                             data received; it answers
                                                                     "ping..." with "pong..."
  in  {"send": "<text>"}                                             data to send
Closing stdin ends it.
"""
import ctypes
import json
import sys
import threading

import gi

gi.require_version("Nice", "0.1")
from gi.repository import GLib, Nice  # noqa: E402


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    controlling = sys.argv[1] == "1"
    aggressive = sys.argv[2] == "1"
    ctx = GLib.MainContext.default()
    loop = GLib.MainLoop.new(ctx, False)
    flags = Nice.AgentOption.CONSENT_FRESHNESS
    if not aggressive:
        flags |= Nice.AgentOption.REGULAR_NOMINATION
    agent = Nice.Agent.new_full(ctx, Nice.Compatibility.RFC5245, flags)
    agent.props.controlling_mode = controlling
    agent.props.upnp = False
    agent.props.ice_tcp = False
    addr = Nice.Address()
    addr.set_from_string("127.0.0.1")
    agent.add_local_address(addr)
    stream = agent.add_stream(1)

    # attach_recv() is not introspectable (and the GI wrappers of the recv functions pass a
    # bogus buffer): attach the receive callback through ctypes, on the same context.
    nice = ctypes.CDLL("libnice.so.10")
    glib = ctypes.CDLL("libglib-2.0.so.0")
    glib.g_main_context_default.restype = ctypes.c_void_p
    ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
    ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    agent_ptr = ctypes.pythonapi.PyCapsule_GetPointer(agent.__gpointer__, None)
    recv_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.POINTER(ctypes.c_char), ctypes.c_void_p)

    def on_recv(agent_, stream_id, component_id, length, buf, data):
        text = ctypes.string_at(buf, length).decode("latin-1")
        out({"recv": text})
        if text.startswith("ping"):
            send("pong" + text[4:])

    def send(text):
        agent.send(stream, 1, len(text), text)

    callback = recv_type(on_recv)
    nice.nice_agent_attach_recv.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint,
                                            ctypes.c_void_p, recv_type, ctypes.c_void_p]
    nice.nice_agent_attach_recv(agent_ptr, stream, 1, glib.g_main_context_default(), callback,
                                None)

    def gathered(agent_, stream_id):
        ok, ufrag, pwd = agent.get_local_credentials(stream)
        cands = [agent.generate_local_candidate_sdp(c)[len("a=candidate:"):]
                 for c in agent.get_local_candidates(stream, 1)]
        out({"ufrag": ufrag, "pwd": pwd, "candidates": cands})

    def state(agent_, stream_id, component_id, st):
        out({"state": Nice.component_state_to_string(st)})

    def selected(agent_, stream_id, component_id, local, remote):
        out({"selected": [agent.generate_local_candidate_sdp(local),
                          agent.generate_local_candidate_sdp(remote)]})

    agent.connect("candidate-gathering-done", gathered)
    agent.connect("component-state-changed", state)
    agent.connect("new-selected-pair-full", selected)

    def command(line):
        msg = json.loads(line)
        if "ufrag" in msg:
            agent.set_remote_credentials(stream, msg["ufrag"], msg["pwd"])
            cands = []
            for c in msg["candidates"]:
                cand = agent.parse_remote_candidate_sdp(stream, "a=candidate:" + c)
                if cand is not None:
                    cands.append(cand)
            n = agent.set_remote_candidates(stream, 1, cands)
            out({"remote_added": n})
        if "send" in msg:
            send(msg["send"])
        return False

    def reader():
        for line in sys.stdin:
            GLib.idle_add(command, line)
        GLib.idle_add(loop.quit)

    threading.Thread(target=reader, daemon=True).start()
    if not agent.gather_candidates(stream):
        out({"error": "gather_candidates failed"})
        return 1
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
