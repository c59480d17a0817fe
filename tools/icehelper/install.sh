#!/usr/bin/env bash
# Install the ICE helper server on a Debian 12 server, as root, from a checkout of this repository:
#
#   sudo tools/icehelper/install.sh --domain helper.example.org [--redis] [--coturn] \
#        [--cert FILE --key FILE | --self-signed] [--no-plain-http] [--wheels DIR]
#
# - the helper in /opt/icehelper (its own venv), config in /etc/icehelper, a system user
#   `icehelper`, and the hardened unit icehelper.service (enabled and started);
# - --redis: redis-server on 127.0.0.1 with a password, and the helper's Redis store;
# - --coturn: coturn with the TURN REST secret shared with the helper, relays to private and
#   special-purpose ranges denied, TLS on 5349 with the same certificate;
# - the certificate: --cert/--key (e.g. from certbot; copied, re-run after renewal or point the
#   config at the live files), or --self-signed for a test (boxes must then trust it);
# - --wheels DIR: the Python packages from this folder of wheels, not from the package index (a
#   server without internet access; fill it elsewhere with the same Python:
#   pip download --only-binary=:all: -d DIR -r tools/icehelper/requirements.txt).
# A second run keeps the existing config, secrets and passwords and updates the code; it restarts
# the helper only when its code, venv, unit, config or TLS files changed (with the memory store a
# restart drops every live offer), Redis and coturn only when their config changed.
set -euo pipefail

DOMAIN="" CERT="" KEY="" SELF_SIGNED=0 WITH_REDIS=0 WITH_COTURN=0 PLAIN_HTTP=1 WHEELS=""
while (($#)); do
    case "$1" in
        --domain) DOMAIN=$2; shift 2 ;;
        --cert) CERT=$2; shift 2 ;;
        --key) KEY=$2; shift 2 ;;
        --self-signed) SELF_SIGNED=1; shift ;;
        --redis) WITH_REDIS=1; shift ;;
        --coturn) WITH_COTURN=1; shift ;;
        --no-plain-http) PLAIN_HTTP=0; shift ;;
        --wheels) WHEELS=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
[ -n "$DOMAIN" ] || { echo "install.sh: --domain NAME is required (the helper's host name)" >&2; exit 2; }
if [ -z "$CERT" ] && [ "$SELF_SIGNED" -eq 0 ] && [ ! -f /etc/icehelper/tls/fullchain.pem ]; then
    echo "install.sh: give --cert FILE --key FILE, or --self-signed" >&2; exit 2
fi
if [ -n "$WHEELS" ] && [ ! -d "$WHEELS" ]; then
    echo "install.sh: --wheels $WHEELS is not a folder" >&2; exit 2
fi

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=/opt/icehelper
ETC=/etc/icehelper
say() { printf 'icehelper install: %s\n' "$*"; }
# Temporary files live beside their destination (mktemp: mode 0600, root's), never in /tmp: they
# hold secrets (Redis's password, coturn's key and shared secret). The trap removes any left over.
TEMPS=()
trap 'rm -f ${TEMPS[@]+"${TEMPS[@]}"}' EXIT
# beside DEST: NEW is a fresh empty temporary file in DEST's folder
beside() {
    NEW=$(mktemp -p "$(dirname "$1")" ".$(basename "$1").XXXXXX")
    TEMPS+=("$NEW")
}
# DEST gets the contents of the file NEW (made by beside DEST) when they differ: NEW takes DEST's
# owner and mode and replaces it in one rename (a failure half way leaves DEST whole); CHANGED=1
# then. Otherwise NEW is removed. Redis, coturn and the helper restart only on a change: a restart
# of Redis drops every live offer (no persistence), one of coturn every relay of the calls in
# progress, one of the helper every offer of its memory store.
update() {
    if cmp -s "$1" "$2"; then
        rm -f "$1"
        return
    fi
    if [ -e "$2" ]; then
        chown --reference="$2" "$1"
        chmod --reference="$2" "$1"
    fi
    mv -f "$1" "$2"
    CHANGED=1
}
# put SRC DEST MODE [GROUP]: DEST gets SRC's contents through update, then MODE (and GROUP)
put() {
    beside "$2"
    cat "$1" >"$NEW"
    update "$NEW" "$2"
    chmod "$3" "$2"
    if [ -n "${4:-}" ]; then chgrp "$4" "$2"; fi
}

# --- packages -----------------------------------------------------------------------------------
pkgs=(python3 python3-venv openssl)
((WITH_REDIS)) && pkgs+=(redis-server)
((WITH_COTURN)) && pkgs+=(coturn)
say "installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null

# --- user, code, venv ---------------------------------------------------------------------------
id icehelper >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin icehelper
# HELPER_CHANGED=1: the helper's code, venv, unit, config or TLS files changed (it restarts then)
CHANGED=0
install -d -m 0755 "$PREFIX/tools/icehelper" "$PREFIX/firmware/zerotap/dtmf"
for f in "$SRC"/tools/icehelper/*.py "$SRC/tools/icehelper/README.md" \
        "$SRC/tools/icehelper/icehelper.conf.example"; do
    put "$f" "$PREFIX/tools/icehelper/$(basename "$f")" 0644
done
# the id rules come from the firmware's DTMF framing (zerotap.dtmf.frame), not from a copy
for f in __init__.py shim.py dtmf/__init__.py dtmf/frame.py; do
    put "$SRC/firmware/zerotap/$f" "$PREFIX/firmware/zerotap/$f" 0644
done
[ -x "$PREFIX/venv/bin/python" ] || { python3 -m venv "$PREFIX/venv"; CHANGED=1; }
pip_from=()
[ -n "$WHEELS" ] && pip_from=(--no-index --find-links "$WHEELS")
freeze() { "$PREFIX/venv/bin/python" -m pip freeze --all --disable-pip-version-check 2>/dev/null; }
before=$(freeze)
"$PREFIX/venv/bin/pip" install -q --disable-pip-version-check "${pip_from[@]}" \
    -r "$SRC/tools/icehelper/requirements.txt"
[ "$(freeze)" = "$before" ] || CHANGED=1

# --- TLS ----------------------------------------------------------------------------------------
install -d -m 0750 -g icehelper "$ETC" "$ETC/tls"
if [ -n "$CERT" ]; then
    put "$CERT" "$ETC/tls/fullchain.pem" 0644
    put "$KEY" "$ETC/tls/privkey.pem" 0640 icehelper
elif [ "$SELF_SIGNED" -eq 1 ] && [ ! -f "$ETC/tls/fullchain.pem" ]; then
    CHANGED=1
    say "making a self-signed certificate for $DOMAIN (a test only)"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
        -keyout "$ETC/tls/privkey.pem" -out "$ETC/tls/fullchain.pem" 2>/dev/null
    chgrp icehelper "$ETC/tls/privkey.pem"
    chmod 0640 "$ETC/tls/privkey.pem"
fi

# --- secrets ------------------------------------------------------------------------------------
if [ ! -s "$ETC/turn-secret" ]; then
    (umask 0027; openssl rand -hex 32 >"$ETC/turn-secret")
    chgrp icehelper "$ETC/turn-secret"
    CHANGED=1
fi
TURN_SECRET=$(cat "$ETC/turn-secret")

# --- config -------------------------------------------------------------------------------------
if [ ! -f "$ETC/icehelper.conf" ]; then
    say "writing $ETC/icehelper.conf"
    CHANGED=1
    backend=memory redis_url="redis://127.0.0.1:6379/0"
    if ((WITH_REDIS)); then
        backend=redis
        if [ ! -s "$ETC/redis-password" ]; then
            (umask 0077; openssl rand -hex 24 >"$ETC/redis-password")
        fi
        redis_url="redis://:$(cat "$ETC/redis-password")@127.0.0.1:6379/0"
    fi
    turn_uris=""
    ((WITH_COTURN)) && turn_uris="turn:$DOMAIN:3478?transport=udp turn:$DOMAIN:3478?transport=tcp turns:$DOMAIN:5349?transport=tcp"
    sed -e "s|^backend = memory|backend = $backend|" \
        -e "s|^redis_url = .*|redis_url = $redis_url|" \
        -e "s|^uris = .*|uris = $turn_uris|" \
        -e "s|^http = 0.0.0.0:9090|$( ((PLAIN_HTTP)) && echo 'http = 0.0.0.0:9090' || echo '# http = 0.0.0.0:9090')|" \
        "$SRC/tools/icehelper/icehelper.conf.example" >"$ETC/icehelper.conf"
    chgrp icehelper "$ETC/icehelper.conf"
    chmod 0640 "$ETC/icehelper.conf"
    ((WITH_COTURN)) || sed -i -e 's|^secret_file = |# secret_file = |' "$ETC/icehelper.conf"
fi
HELPER_CHANGED=$CHANGED

# --- Redis --------------------------------------------------------------------------------------
if ((WITH_REDIS)); then
    say "configuring redis-server: loopback only, a password, no persistence (offers live 5 min)"
    conf=/etc/redis/redis.conf
    pw=$(cat "$ETC/redis-password")
    beside "$conf"
    { sed -e '/^# icehelper:/,$d' "$conf"; cat <<REDIS
# icehelper: set by tools/icehelper/install.sh (a second run rewrites this block)
bind 127.0.0.1 -::1
protected-mode yes
requirepass $pw
save ""
appendonly no
maxmemory 1gb
maxmemory-policy noeviction
rename-command FLUSHALL ""
rename-command FLUSHDB ""
rename-command CONFIG ""
REDIS
    } >"$NEW"
    CHANGED=0
    update "$NEW" "$conf"
    systemctl enable --now redis-server >/dev/null
    if ((CHANGED)); then systemctl restart redis-server; fi
fi

# --- coturn -------------------------------------------------------------------------------------
if ((WITH_COTURN)); then
    say "configuring coturn: REST credentials with the shared secret, private peers denied, TLS"
    CHANGED=0
    install -d -m 0750 -g turnserver /etc/coturn
    for f in fullchain.pem privkey.pem; do
        [ -f /etc/coturn/$f ] || install -m 0640 -g turnserver /dev/null /etc/coturn/$f
        beside /etc/coturn/$f; cat "$ETC/tls/$f" >"$NEW"; update "$NEW" /etc/coturn/$f
    done
    chmod 0644 /etc/coturn/fullchain.pem
    [ -f /etc/turnserver.conf ] || install -m 0640 -g turnserver /dev/null /etc/turnserver.conf
    beside /etc/turnserver.conf
    cat >"$NEW" <<TURN
# Written by tools/icehelper/install.sh: coturn for the ICE helper's boxes.
realm=$DOMAIN
server-name=$DOMAIN
listening-port=3478
tls-listening-port=5349
cert=/etc/coturn/fullchain.pem
pkey=/etc/coturn/privkey.pem
no-tlsv1
no-tlsv1_1
# TURN REST credentials: the helper mints them with this secret (password = HMAC-SHA1).
use-auth-secret
static-auth-secret=$TURN_SECRET
fingerprint
no-cli
no-multicast-peers
no-software-attribute
min-port=49152
max-port=65535
user-quota=12
total-quota=1200
max-bps=256000
stale-nonce=600
# No relaying into private, loopback, link-local, CGNAT, multicast or reserved ranges.
denied-peer-ip=0.0.0.0-0.255.255.255
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=100.64.0.0-100.127.255.255
denied-peer-ip=127.0.0.0-127.255.255.255
denied-peer-ip=169.254.0.0-169.254.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.0.0.0-192.0.0.255
denied-peer-ip=192.0.2.0-192.0.2.255
denied-peer-ip=192.168.0.0-192.168.255.255
denied-peer-ip=198.18.0.0-198.19.255.255
denied-peer-ip=198.51.100.0-198.51.100.255
denied-peer-ip=203.0.113.0-203.0.113.255
denied-peer-ip=224.0.0.0-255.255.255.255
denied-peer-ip=::-::ffff:ffff:ffff:ffff
denied-peer-ip=64:ff9b::-64:ff9b::ffff:ffff
denied-peer-ip=100::-100::ffff:ffff:ffff:ffff
denied-peer-ip=2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff
denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
denied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff
denied-peer-ip=ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
simple-log
log-file=syslog
TURN
    update "$NEW" /etc/turnserver.conf
    chgrp turnserver /etc/turnserver.conf
    chmod 0640 /etc/turnserver.conf
    if [ -f /etc/default/coturn ] && ! grep -q '^TURNSERVER_ENABLED=1' /etc/default/coturn; then
        sed -i 's/^#\?TURNSERVER_ENABLED=.*/TURNSERVER_ENABLED=1/' /etc/default/coturn
        CHANGED=1
    fi
    systemctl enable --now coturn >/dev/null
    if ((CHANGED)); then systemctl restart coturn; fi
fi

# --- the service --------------------------------------------------------------------------------
CHANGED=$HELPER_CHANGED
put "$SRC/tools/icehelper/icehelper.service" /etc/systemd/system/icehelper.service 0644
systemctl daemon-reload
systemctl enable icehelper >/dev/null
if ((CHANGED)) || ! systemctl is-active -q icehelper; then
    systemctl restart icehelper
else
    say "icehelper unchanged: not restarted (its live offers stay)"
fi
say "done: systemctl status icehelper; curl -s https://$DOMAIN/healthz"
((WITH_COTURN)) && say "open UDP/TCP 3478, TCP 5349 and UDP 49152-65535 for coturn"
((PLAIN_HTTP)) && say "plain HTTP for ZSipOs boxes on port 9090"
exit 0
