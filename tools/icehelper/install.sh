#!/usr/bin/env bash
# Install the ICE helper server on a Debian 12 server, as root, from a checkout of this repository:
#
#   sudo tools/icehelper/install.sh --domain helper.example.org [--redis] [--coturn] \
#        [--cert FILE --key FILE | --self-signed] [--no-plain-http]
#
# - the helper in /opt/icehelper (its own venv), config in /etc/icehelper, a system user
#   `icehelper`, and the hardened unit icehelper.service (enabled and started);
# - --redis: redis-server on 127.0.0.1 with a password, and the helper's Redis store;
# - --coturn: coturn with the TURN REST secret shared with the helper, relays to private and
#   special-purpose ranges denied, TLS on 5349 with the same certificate;
# - the certificate: --cert/--key (e.g. from certbot; copied, re-run after renewal or point the
#   config at the live files), or --self-signed for a test (boxes must then trust it).
# A second run keeps the existing config, secrets and passwords and updates the code.
set -euo pipefail

DOMAIN="" CERT="" KEY="" SELF_SIGNED=0 WITH_REDIS=0 WITH_COTURN=0 PLAIN_HTTP=1
while (($#)); do
    case "$1" in
        --domain) DOMAIN=$2; shift 2 ;;
        --cert) CERT=$2; shift 2 ;;
        --key) KEY=$2; shift 2 ;;
        --self-signed) SELF_SIGNED=1; shift ;;
        --redis) WITH_REDIS=1; shift ;;
        --coturn) WITH_COTURN=1; shift ;;
        --no-plain-http) PLAIN_HTTP=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
[ -n "$DOMAIN" ] || { echo "install.sh: --domain NAME is required (the helper's host name)" >&2; exit 2; }
if [ -z "$CERT" ] && [ "$SELF_SIGNED" -eq 0 ] && [ ! -f /etc/icehelper/tls/fullchain.pem ]; then
    echo "install.sh: give --cert FILE --key FILE, or --self-signed" >&2; exit 2
fi

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=/opt/icehelper
ETC=/etc/icehelper
say() { printf 'icehelper install: %s\n' "$*"; }

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
install -d -m 0755 "$PREFIX/tools/icehelper" "$PREFIX/firmware/zerotap/dtmf"
install -m 0644 "$SRC"/tools/icehelper/*.py "$SRC/tools/icehelper/README.md" \
    "$SRC/tools/icehelper/icehelper.conf.example" "$PREFIX/tools/icehelper/"
# the id rules come from the firmware's DTMF framing (zerotap.dtmf.frame), not from a copy
install -m 0644 "$SRC/firmware/zerotap/__init__.py" "$SRC/firmware/zerotap/shim.py" \
    "$PREFIX/firmware/zerotap/"
install -m 0644 "$SRC/firmware/zerotap/dtmf/__init__.py" "$SRC/firmware/zerotap/dtmf/frame.py" \
    "$PREFIX/firmware/zerotap/dtmf/"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --disable-pip-version-check "aiohttp>=3.9" "redis>=5" "hiredis>=2" "msgspec>=0.18"

# --- TLS ----------------------------------------------------------------------------------------
install -d -m 0750 -g icehelper "$ETC" "$ETC/tls"
if [ -n "$CERT" ]; then
    install -m 0644 "$CERT" "$ETC/tls/fullchain.pem"
    install -m 0640 -g icehelper "$KEY" "$ETC/tls/privkey.pem"
elif [ "$SELF_SIGNED" -eq 1 ] && [ ! -f "$ETC/tls/fullchain.pem" ]; then
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
fi
TURN_SECRET=$(cat "$ETC/turn-secret")

# --- config -------------------------------------------------------------------------------------
if [ ! -f "$ETC/icehelper.conf" ]; then
    say "writing $ETC/icehelper.conf"
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

# --- Redis --------------------------------------------------------------------------------------
if ((WITH_REDIS)); then
    say "configuring redis-server: loopback only, a password, no persistence (offers live 5 min)"
    conf=/etc/redis/redis.conf
    pw=$(cat "$ETC/redis-password")
    sed -i -e '/^# icehelper:/,$d' "$conf"
    cat >>"$conf" <<REDIS
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
    systemctl enable --now redis-server >/dev/null
    systemctl restart redis-server
fi

# --- coturn -------------------------------------------------------------------------------------
if ((WITH_COTURN)); then
    say "configuring coturn: REST credentials with the shared secret, private peers denied, TLS"
    install -d -m 0750 -g turnserver /etc/coturn
    install -m 0644 "$ETC/tls/fullchain.pem" /etc/coturn/fullchain.pem
    install -m 0640 -g turnserver "$ETC/tls/privkey.pem" /etc/coturn/privkey.pem
    (umask 0027; cat >/etc/turnserver.conf <<TURN
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
    )
    chgrp turnserver /etc/turnserver.conf
    [ -f /etc/default/coturn ] && sed -i 's/^#\?TURNSERVER_ENABLED=.*/TURNSERVER_ENABLED=1/' /etc/default/coturn
    systemctl enable --now coturn >/dev/null
    systemctl restart coturn
fi

# --- the service --------------------------------------------------------------------------------
install -m 0644 "$SRC/tools/icehelper/icehelper.service" /etc/systemd/system/icehelper.service
systemctl daemon-reload
systemctl enable icehelper >/dev/null
systemctl restart icehelper
say "done: systemctl status icehelper; curl -s https://$DOMAIN/healthz"
((WITH_COTURN)) && say "open UDP/TCP 3478, TCP 5349 and UDP 49152-65535 for coturn"
((PLAIN_HTTP)) && say "plain HTTP for ZSipOs boxes on port 9090"
exit 0
