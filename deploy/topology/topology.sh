#!/usr/bin/env bash
# A local copy of Medico24's production data tier, for topology tests and failure drills:
#
#   PostgreSQL 15 primary + streaming read replica (stands in for Neon's primary and read replica)
#   PgBouncer in transaction mode in front of both  (stands in for Neon's pooled endpoint)
#   a 3-master Redis 7 cluster + one standalone Redis, TLS only (stands in for Redis Cloud)
#   3 replicas of the `medico24` API behind HAProxy (stands in for the cloud load balancer)
#
# Every network hop is TLS with certificates from a CA made here, passwords are fixed local
# test values, and everything lives in $TOPOLOGY_DIR (default /tmp/medico24-topology).
#
# Usage: topology.sh COMMAND [ARG] [COMMAND [ARG]]...   (commands run in the order given)
#   tls                 make the CA, the server certificate and an unrelated CA
#   db-up               PostgreSQL primary + replica, PgBouncer
#   redis-up            Redis cluster (3 masters) + standalone Redis
#   api-up [BINARY]     migrate, then 3 replicas of `BINARY serve` (default: the last BINARY)
#   lb-up               HAProxy in front of the API replicas
#   up [BINARY]         tls db-up redis-up, then api-up lb-up when a BINARY is given
#   down                stop everything (data is kept)
#   clean               down, then delete $TOPOLOGY_DIR
#   status              what is running (exit status 1 when something is down)
#   env                 `export NAME='value'` lines for the server and the tests
#   psql-primary [ARGS] / psql-replica [ARGS]   admin psql over the Unix socket (rest of the line)
#   kill-api PORT       SIGKILL one API replica (drill)
#   stop-replica / start-replica                stop or start the read replica (drill)
#   restart-redis PORT  stop and start one Redis node with its node config (drill)
#
# Run as root (PostgreSQL and PgBouncer are run as the `postgres` user with runuser). Missing
# Debian packages are installed with apt-get; nothing else is downloaded.
set -euo pipefail

# --- Settings (each port can be overridden from the environment) ----------------------------

TOPOLOGY_DIR="${TOPOLOGY_DIR:-/tmp/medico24-topology}"
case "$TOPOLOGY_DIR" in
    /*) ;;
    *) TOPOLOGY_DIR="$PWD/$TOPOLOGY_DIR" ;;
esac
TOPOLOGY_DIR="${TOPOLOGY_DIR%/}"

PG_BIN="${TOPOLOGY_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PRIMARY_PORT="${TOPOLOGY_PG_PRIMARY_PORT:-55432}"
PG_REPLICA_PORT="${TOPOLOGY_PG_REPLICA_PORT:-55433}"
PGBOUNCER_PORT="${TOPOLOGY_PGBOUNCER_PORT:-56432}"
REDIS_STANDALONE_PORT="${TOPOLOGY_REDIS_STANDALONE_PORT:-57000}"
read -r -a REDIS_CLUSTER_PORTS <<<"${TOPOLOGY_REDIS_CLUSTER_PORTS:-57001 57002 57003}"
# Redis puts the cluster bus on port+10000 by default, which is past 65535 for 57001: each
# node gets `cluster-port` = its TLS port + this offset instead (57101..57103).
REDIS_BUS_OFFSET="${TOPOLOGY_REDIS_BUS_OFFSET:-100}"
read -r -a API_PORTS <<<"${TOPOLOGY_API_PORTS:-58081 58082 58083}"
LB_PORT="${TOPOLOGY_LB_PORT:-58080}"

# Fixed local test credentials (never used anywhere but this machine).
DB_NAME=medico24
DB_USER=medico24
# Deliberately full of characters that must be percent-encoded in a URL.
DB_PASSWORD='Med!co24 p@ss:w/rd%'
REPL_USER=replicator
REPL_PASSWORD='replicator-pw-Med24'
REPL_SLOT=medico24_replica
REDIS_PASSWORD='redis-pw-Med24'

TLS_DIR="$TOPOLOGY_DIR/tls"
PG_TLS_DIR="$TLS_DIR/postgres"
RUN_DIR="$TOPOLOGY_DIR/run"
PG_LOG_DIR="$TOPOLOGY_DIR/pg-logs"
PRIMARY_DIR="$TOPOLOGY_DIR/pg-primary"
REPLICA_DIR="$TOPOLOGY_DIR/pg-replica"
REPL_PASSFILE="$PG_TLS_DIR/replicator.pgpass"
PGB_DIR="$TOPOLOGY_DIR/pgbouncer"
HAPROXY_DIR="$TOPOLOGY_DIR/haproxy"
API_BIN_FILE="$TOPOLOGY_DIR/api.bin"
MARKER="$TOPOLOGY_DIR/.medico24-topology"

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# libpq variables from the caller's shell would change where the admin psql goes: every
# connection below names its host, port, user and TLS mode itself.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE PGSERVICE \
    PGSSLMODE PGSSLROOTCERT PGOPTIONS PGAPPNAME 2>/dev/null || true

# --- Small helpers ------------------------------------------------------------------------------

# Progress goes to stderr so that `env` output on stdout stays clean for eval.
log() { printf '==> %s\n' "$*" >&2; }
# A detail under the last step.
note() { printf '    %s\n' "$*" >&2; }
# Something went wrong but the caller decides whether it is fatal.
warn() { printf 'topology: warning: %s\n' "$*" >&2; }
# Stops with a message that names the cause (CI logs show only this).
die() {
    printf 'topology: error: %s\n' "$*" >&2
    exit 1
}

# PostgreSQL, PgBouncer, runuser and apt-get all need root; say so plainly instead of failing
# halfway through with a permission error.
need_root() {
    [[ $EUID -eq 0 ]] || die "run as root (PostgreSQL and PgBouncer are started as the postgres user with runuser)"
}

# PostgreSQL and PgBouncer refuse to run as root, so they run as `postgres`, from a directory
# that user can enter (initdb and pg_ctl fail in an unreadable working directory like /root).
as_postgres() {
    (
        cd "$TOPOLOGY_DIR" 2>/dev/null || cd /
        runuser -u postgres -- "$@"
    )
}

# Prints the last lines of a log, to put the cause next to a failure.
tail_log() {
    local file=$1
    if [[ -f $file ]]; then
        printf -- '--- last lines of %s ---\n' "$file" >&2
        tail -n 25 "$file" >&2 || true
    fi
}

# Polls COMMAND until it succeeds or SECONDS pass; the drills and CI depend on waiting for a
# state rather than sleeping a fixed time.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            warn "timed out after ${seconds}s waiting for $what"
            return 1
        fi
        sleep 0.25
    done
}

# Whether something accepts TCP connections on 127.0.0.1:PORT (bash's /dev/tcp, no tools needed).
port_open() {
    local port=$1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# Raises the soft open-files limit to N when it is lower (never lowers a limit: `ulimit -n`
# alone would set the hard limit too, for every later child of this shell).
raise_fd_limit() {
    local want=$1 soft hard
    soft=$(ulimit -Sn)
    hard=$(ulimit -Hn)
    [[ $soft == unlimited ]] && return 0
    ((soft >= want)) && return 0
    if [[ $hard != unlimited ]] && ((hard < want)); then
        ulimit -Hn "$want" 2>/dev/null || want=$hard
    fi
    ulimit -Sn "$want" 2>/dev/null || true
}

# Waits up to SECONDS for PORT to accept connections while process PID lives; fails as soon
# as the process is gone, instead of waiting out the timeout.
wait_pid_port() {
    local pid=$1 port=$2 seconds=$3 deadline=$((SECONDS + $3))
    until port_open "$port"; do
        proc_alive "$pid" || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Refuses to start a service on a port someone else already holds, with a message naming it,
# rather than letting the service die with a bind error in its log.
require_free_port() {
    local port=$1 what=$2
    if port_open "$port"; then
        die "port $port (for $what) is already in use by another process; stop it or override the port (see README.md)"
    fi
}

# Percent-encodes TEXT for a URL (everything but unreserved characters; KEEP adds characters
# to leave alone, e.g. / for paths).
urlencode() {
    local LC_ALL=C text=$1 keep=${2:-} out='' c i
    for ((i = 0; i < ${#text}; i++)); do
        c=${text:i:1}
        if [[ $c == [A-Za-z0-9._~-] || (-n $keep && $keep == *"$c"*) ]]; then
            out+=$c
        else
            printf -v c '%%%02X' "'$c"
            out+=$c
        fi
    done
    printf '%s' "$out"
}

# Single-quotes a value for `export NAME='value'` lines that are safe to eval.
shell_quote() {
    local escaped=${1//\'/\'\\\'\'}
    printf "'%s'" "$escaped"
}

# Whether process PID is alive. A daemon that exited stays a zombie until PID 1 reaps it, which
# some container inits do only every few seconds: a zombie counts as gone.
proc_alive() {
    local pid=$1 stat
    kill -0 "$pid" 2>/dev/null || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Whether process PID is named NAME: its comm, or the base name of one of its first two
# arguments (a program run through an interpreter shows the interpreter as comm).
proc_named() {
    local pid=$1 name=$2 arg n=0
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "${name:0:15}" ]] && return 0
    while IFS= read -r -d '' arg && ((n++ < 2)); do
        [[ ${arg##*/} == "$name" ]] && return 0
    done <"/proc/$pid/cmdline" 2>/dev/null
    return 1
}

# The pid in PIDFILE if that process is alive and named NAME (so a pid reused by an unrelated
# process after a crash is never signalled).
live_pid() {
    local pidfile=$1 name=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(head -n 1 "$pidfile" 2>/dev/null | tr -dc '0-9')
    [[ -n $pid ]] || return 1
    proc_alive "$pid" || return 1
    proc_named "$pid" "$name" || return 1
    printf '%s\n' "$pid"
}

# Stops the process of PIDFILE: SIGNAL, then SIGKILL after TIMEOUT seconds. Only the recorded
# pid is signalled, never processes found by name.
stop_pidfile() {
    local what=$1 pidfile=$2 comm=$3 signal=$4 timeout=$5 pid
    if pid=$(live_pid "$pidfile" "$comm"); then
        log "stopping $what (pid $pid)"
        kill "-$signal" "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + timeout))
        while proc_alive "$pid"; do
            if ((SECONDS >= deadline)); then
                warn "$what did not exit ${timeout}s after SIG$signal: killing it"
                kill -KILL "$pid" 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
        done
    fi
    rm -f "$pidfile"
}

# Installs Debian packages, refreshing the package lists once if the first attempt fails (a
# brand-new machine may never have run apt-get update).
apt_install() {
    log "installing Debian packages: $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; then
        note "apt-get install failed; running apt-get update and trying again"
        DEBIAN_FRONTEND=noninteractive apt-get update >&2 ||
            die "apt-get update failed: cannot install $*"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 ||
            die "could not install the Debian packages: $*"
    fi
}

# Installing pgbouncer or haproxy may start the distribution's own service (outside containers
# whose policy-rc.d forbids it). We run our own configuration on other ports, so stop the
# service the package just started; called only right after this script installed it.
stop_distro_service() {
    local service=$1
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl stop "$service" >/dev/null 2>&1 || true
        systemctl disable "$service" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        service "$service" stop >/dev/null 2>&1 || true
    fi
}

# Makes sure openssl is there (TLS material is made with the openssl CLI).
ensure_openssl() {
    command -v openssl >/dev/null 2>&1 || apt_install openssl
}

# PostgreSQL 15 server and client binaries, and PostGIS for the application's schema.
ensure_postgres_packages() {
    local missing=()
    [[ -x $PG_BIN/postgres ]] || missing+=(postgresql-15)
    [[ -x $PG_BIN/pg_basebackup && -x $PG_BIN/psql ]] || missing+=(postgresql-client-15)
    [[ -f /usr/share/postgresql/15/extension/postgis.control ]] || missing+=(postgresql-15-postgis-3)
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
    id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (it comes with the postgresql-15 package)"
}

# PgBouncer 1.18 from Debian; its own service is stopped if installing it started one.
ensure_pgbouncer_package() {
    if ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]]; then
        apt_install pgbouncer
        stop_distro_service pgbouncer
    fi
}

# Redis server and redis-cli (7.0 on Debian 12, built with TLS).
ensure_redis_packages() {
    local missing=()
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
        # redis-server's package starts a default instance on 6379 unless policy-rc.d stops it.
        [[ " ${missing[*]} " == *" redis-server "* ]] && stop_distro_service redis-server
    fi
    return 0
}

# HAProxy 2.6 from Debian; its own service is stopped if installing it started one.
ensure_haproxy_package() {
    if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
        apt_install haproxy
        stop_distro_service haproxy
    fi
}

# curl answers the HTTP health checks of the API replicas and the load balancer.
ensure_curl() {
    command -v curl >/dev/null 2>&1 || apt_install curl
}

# Creates $TOPOLOGY_DIR with a marker file, so that `clean` only ever deletes a directory this
# script made, and checks that the postgres user can reach it.
prepare_topology_dir() {
    if [[ -d $TOPOLOGY_DIR && ! -e $MARKER ]] && [[ -n "$(ls -A "$TOPOLOGY_DIR")" ]]; then
        die "$TOPOLOGY_DIR exists, is not empty and was not made by this script; choose another TOPOLOGY_DIR"
    fi
    mkdir -p "$TOPOLOGY_DIR"
    chmod 0755 "$TOPOLOGY_DIR"
    touch "$MARKER"
    if id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$TOPOLOGY_DIR"; then
        die "the postgres user cannot reach $TOPOLOGY_DIR (a parent directory is not traversable); use a TOPOLOGY_DIR under /tmp"
    fi
}

# A directory owned by postgres with MODE (data directories must be 0700, socket and log
# directories are read by root too).
postgres_dir() {
    local dir=$1 mode=$2
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod "$mode" "$dir"
}

# Writes stdin to FILE owned by OWNER with MODE, replacing it atomically.
write_file() {
    local file=$1 owner=$2 mode=$3 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    chown "$owner" "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$file"
}

# --- TLS ------------------------------------------------------------------------------------------

# A self-signed CA: KEY and CRT, with the CA extensions rustls/webpki insist on.
make_ca() {
    local key=$1 crt=$2 name=$3
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$key" -out "$crt" -days 3650 -sha256 -subj "/O=Medico24 topology/CN=$name" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>/dev/null
    chmod 0600 "$key"
    chmod 0644 "$crt"
}

# The server certificate every service presents: signed by ca.crt, valid for localhost and
# 127.0.0.1 (verify-full checks the name, rustls checks IP SANs too), usable as a client
# certificate as well since Redis nodes present it to each other on the cluster bus.
make_server_cert() {
    local csr ext
    csr=$(mktemp)
    ext=$(mktemp)
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$TLS_DIR/server.key" -out "$csr" -subj "/O=Medico24 topology/CN=localhost" 2>/dev/null
    cat >"$ext" <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
    openssl x509 -req -in "$csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 -extfile "$ext" \
        -out "$TLS_DIR/server.crt" 2>/dev/null
    rm -f "$csr" "$ext"
    chmod 0600 "$TLS_DIR/server.key"
    chmod 0644 "$TLS_DIR/server.crt"
}

# `tls`: the CA, the server certificate and an unrelated CA (tests prove that verification
# against a CA that did not sign the server fails). Existing files are kept; PostgreSQL and
# PgBouncer get their own copy of the key, owned by postgres with mode 0600 as they require.
# With "report", says so when nothing had to be made.
cmd_tls() {
    need_root
    ensure_openssl
    prepare_topology_dir
    mkdir -p "$TLS_DIR"
    chmod 0755 "$TLS_DIR"
    local made=0
    if [[ ! -s $TLS_DIR/ca.crt || ! -s $TLS_DIR/ca.key ]]; then
        log "making the topology CA"
        make_ca "$TLS_DIR/ca.key" "$TLS_DIR/ca.crt" "Medico24 topology CA"
        rm -f "$TLS_DIR/server.crt" "$TLS_DIR/server.key"
        made=1
    fi
    if [[ ! -s $TLS_DIR/server.crt || ! -s $TLS_DIR/server.key ]]; then
        log "making the server certificate (DNS:localhost, IP:127.0.0.1)"
        make_server_cert
        made=1
    fi
    if [[ ! -s $TLS_DIR/other-ca.crt ]]; then
        log "making an unrelated CA (other-ca.crt) for negative tests"
        make_ca "$TLS_DIR/other-ca.key" "$TLS_DIR/other-ca.crt" "Unrelated CA"
        made=1
    fi
    openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" >/dev/null ||
        die "$TLS_DIR/server.crt is not signed by $TLS_DIR/ca.crt; run clean"
    if id postgres >/dev/null 2>&1; then
        postgres_dir "$PG_TLS_DIR" 0700
        install -o postgres -g postgres -m 0644 "$TLS_DIR/server.crt" "$PG_TLS_DIR/server.crt"
        install -o postgres -g postgres -m 0600 "$TLS_DIR/server.key" "$PG_TLS_DIR/server.key"
        install -o postgres -g postgres -m 0644 "$TLS_DIR/ca.crt" "$PG_TLS_DIR/ca.crt"
    fi
    if ((made == 0)) && [[ ${1:-} == report ]]; then
        note "TLS material already present in $TLS_DIR"
    fi
}

# --- PostgreSQL ---------------------------------------------------------------------------------

# Admin psql over the Unix socket (trust, superuser `postgres`); TCP needs TLS and a password.
admin_psql() {
    local port=$1 db=$2
    shift 2
    PGOPTIONS='-c client_min_messages=warning' \
        psql -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$port" -U postgres -d "$db" "$@"
}

# Whether the cluster in DIR is running.
pg_running() {
    local dir=$1
    [[ -s $dir/PG_VERSION ]] && as_postgres "$PG_BIN/pg_ctl" status -D "$dir" >/dev/null 2>&1
}

# Whether the server on PORT accepts connections (pg_isready over the socket).
pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$RUN_DIR" -p "$1" -d postgres -U postgres
}

# Writes the settings both clusters share (listen, TLS, WAL for replication, hot standby) and
# the pg_hba.conf that admits TCP clients only over TLS with SCRAM. postgresql.conf includes
# topology.conf, which is rewritten on every db-up (the replica's copy gets its own port).
write_pg_config() {
    local dir=$1 port=$2 name=$3
    write_file "$dir/topology.conf" postgres:postgres 0600 <<EOF
# Written by deploy/topology/topology.sh; rewritten on every db-up.
cluster_name = '$name'
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$RUN_DIR'
max_connections = 400

ssl = on
ssl_cert_file = '$PG_TLS_DIR/server.crt'
ssl_key_file = '$PG_TLS_DIR/server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'

wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
hot_standby_feedback = on

# A throwaway test copy: an OS crash may lose it, a clean stop (pg_ctl -m fast) never does.
fsync = off

log_line_prefix = '%m [%p] %q%u@%d/%a '
log_connections = off
log_min_messages = warning
EOF
    if ! grep -qxF "include = 'topology.conf'" "$dir/postgresql.conf"; then
        printf "\ninclude = 'topology.conf'\n" >>"$dir/postgresql.conf"
    fi
    write_file "$dir/pg_hba.conf" postgres:postgres 0600 <<EOF
# Written by deploy/topology/topology.sh. First match wins.
# TYPE    DATABASE     USER        ADDRESS         METHOD
# Administration: superuser over the Unix socket only (its directory is this topology's run/).
local     all          all                         trust
# Every TCP client must use TLS and SCRAM; replication too.
hostssl   all          all         127.0.0.1/32    scram-sha-256
hostssl   replication  $REPL_USER  127.0.0.1/32    scram-sha-256
# Plaintext TCP is refused outright (Neon accepts TLS only).
hostnossl all          all         0.0.0.0/0       reject
hostnossl replication  all         0.0.0.0/0       reject
host      all          all         ::/0            reject
host      replication  all         ::/0            reject
EOF
}

# Starts the cluster in DIR on PORT unless it is already running.
pg_start() {
    local dir=$1 port=$2 what=$3 logfile=$4
    if pg_running "$dir"; then
        note "$what already running on port $port"
        return 0
    fi
    require_free_port "$port" "$what"
    log "starting $what on port $port"
    if ! as_postgres "$PG_BIN/pg_ctl" start -D "$dir" -l "$logfile" -w -t 90 >/dev/null; then
        tail_log "$logfile"
        die "$what did not start"
    fi
}

# Stops the cluster in DIR with a fast shutdown (sessions are cut, everything is flushed).
pg_stop() {
    local dir=$1 what=$2
    if pg_running "$dir"; then
        log "stopping $what"
        as_postgres "$PG_BIN/pg_ctl" stop -D "$dir" -m fast -w -t 60 >/dev/null
    fi
}

# The primary: initdb on first use, configuration, start.
primary_up() {
    postgres_dir "$RUN_DIR" 0755
    postgres_dir "$PG_LOG_DIR" 0755
    if [[ ! -s $PRIMARY_DIR/PG_VERSION ]]; then
        log "initdb of the primary in $PRIMARY_DIR"
        rm -rf "$PRIMARY_DIR"
        postgres_dir "$PRIMARY_DIR" 0700
        as_postgres "$PG_BIN/initdb" -D "$PRIMARY_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$PG_LOG_DIR/initdb.log" 2>&1 ||
            {
                tail_log "$PG_LOG_DIR/initdb.log"
                die "initdb failed"
            }
    fi
    write_pg_config "$PRIMARY_DIR" "$PG_PRIMARY_PORT" medico24_primary
    pg_start "$PRIMARY_DIR" "$PG_PRIMARY_PORT" "PostgreSQL primary" "$PG_LOG_DIR/primary.log"
}

# Roles, the application database and PostGIS; safe to run on every db-up. Passwords are set
# only when a role is created: re-setting one would change its SCRAM salt under PgBouncer.
primary_bootstrap() {
    admin_psql "$PG_PRIMARY_PORT" postgres \
        -v app_user="$DB_USER" -v app_password="$DB_PASSWORD" -v app_db="$DB_NAME" \
        -v repl_user="$REPL_USER" -v repl_password="$REPL_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') AS create_app \gset
\if :create_app
CREATE ROLE :"app_user" LOGIN CREATEDB PASSWORD :'app_password';
\endif
ALTER ROLE :"app_user" LOGIN CREATEDB NOSUPERUSER;
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'repl_user') AS create_repl \gset
\if :create_repl
CREATE ROLE :"repl_user" LOGIN REPLICATION PASSWORD :'repl_password';
\endif
ALTER ROLE :"repl_user" LOGIN REPLICATION NOSUPERUSER;
-- PostGIS is not a trusted extension: only a superuser may create it. Creating it in
-- template1 gives it to every database made later, including the ones tests create.
\connect template1
CREATE EXTENSION IF NOT EXISTS postgis;
\connect postgres
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'app_db') \gexec
\connect :"app_db"
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
}

# Whether the replica's WAL receiver shows as streaming on the primary.
replica_streaming() {
    [[ "$(admin_psql "$PG_PRIMARY_PORT" postgres -At -c \
        "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'medico24_replica' AND state = 'streaming'")" == 1 ]]
}

# The read replica: a pg_basebackup -R of the primary over verify-full TLS (with a physical
# replication slot, so a stopped replica can catch up), then started as a hot standby.
replica_up() {
    if [[ ! -s $REPLICA_DIR/PG_VERSION ]]; then
        log "pg_basebackup of the primary into $REPLICA_DIR (TLS verify-full)"
        printf '127.0.0.1:%s:replication:%s:%s\nlocalhost:%s:replication:%s:%s\n' \
            "$PG_PRIMARY_PORT" "$REPL_USER" "$REPL_PASSWORD" \
            "$PG_PRIMARY_PORT" "$REPL_USER" "$REPL_PASSWORD" |
            write_file "$REPL_PASSFILE" postgres:postgres 0600
        # A slot left by an earlier replica whose directory was deleted would make -C fail.
        admin_psql "$PG_PRIMARY_PORT" postgres -v slot="$REPL_SLOT" >/dev/null <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = :'slot' AND NOT active;
SQL
        rm -rf "$REPLICA_DIR"
        postgres_dir "$REPLICA_DIR" 0700
        local conninfo="host=localhost port=$PG_PRIMARY_PORT user=$REPL_USER passfile=$REPL_PASSFILE"
        conninfo+=" sslmode=verify-full sslrootcert=$PG_TLS_DIR/ca.crt application_name=medico24_replica"
        if ! as_postgres "$PG_BIN/pg_basebackup" -D "$REPLICA_DIR" -R -X stream -c fast \
            -S "$REPL_SLOT" -C -d "$conninfo" >"$PG_LOG_DIR/basebackup.log" 2>&1; then
            tail_log "$PG_LOG_DIR/basebackup.log"
            rm -rf "$REPLICA_DIR"
            die "pg_basebackup failed"
        fi
        chmod 0700 "$REPLICA_DIR"
    fi
    write_pg_config "$REPLICA_DIR" "$PG_REPLICA_PORT" medico24_replica
    [[ -f $REPLICA_DIR/standby.signal ]] ||
        die "$REPLICA_DIR has no standby.signal (was it promoted?); run clean to rebuild it"
    pg_start "$REPLICA_DIR" "$PG_REPLICA_PORT" "PostgreSQL read replica" "$PG_LOG_DIR/replica.log"
    if ! wait_for 60 "the replica to stream from the primary" replica_streaming; then
        tail_log "$PG_LOG_DIR/replica.log"
        die "the replica is not streaming"
    fi
    note "replica streaming from the primary"
}

# --- PgBouncer ------------------------------------------------------------------------------------

# The configuration: transaction pooling, TLS required from clients, verify-full towards the
# servers, SCRAM with the role's secret copied from pg_authid (PgBouncer then logs in to
# PostgreSQL with the keys the client's own SCRAM exchange proved, no plaintext on disk).
write_pgbouncer_config() {
    local secret
    secret=$(admin_psql "$PG_PRIMARY_PORT" postgres -At \
        -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$DB_USER'")
    [[ $secret == SCRAM-SHA-256* ]] || die "no SCRAM secret for $DB_USER in pg_authid"
    printf '"%s" "%s"\n' "$DB_USER" "$secret" | write_file "$PGB_DIR/userlist.txt" postgres:postgres 0600
    write_file "$PGB_DIR/pgbouncer.ini" postgres:postgres 0600 <<EOF
; Written by deploy/topology/topology.sh; rewritten on every db-up.
[databases]
$DB_NAME = host=127.0.0.1 port=$PG_PRIMARY_PORT dbname=$DB_NAME
${DB_NAME}_replica = host=127.0.0.1 port=$PG_REPLICA_PORT dbname=$DB_NAME
; One server connection for every client: tests use it to make sure what one client leaves on a
; server connection is met by the next.
${DB_NAME}_single = host=127.0.0.1 port=$PG_PRIMARY_PORT dbname=$DB_NAME pool_size=1
; Any other database name (tests create their own) goes to the primary under that name.
* = host=127.0.0.1 port=$PG_PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
; No Unix socket: every client comes over TCP with TLS, as at Neon.
unix_socket_dir =
pidfile = $PGB_DIR/pgbouncer.pid
logfile = $PGB_DIR/pgbouncer.log

pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
server_idle_timeout = 60
ignore_startup_parameters = extra_float_digits

auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
stats_users = $DB_USER

client_tls_sslmode = require
client_tls_key_file = $PG_TLS_DIR/server.key
client_tls_cert_file = $PG_TLS_DIR/server.crt
client_tls_protocols = secure

server_tls_sslmode = verify-full
server_tls_ca_file = $PG_TLS_DIR/ca.crt
server_tls_protocols = secure
EOF
}

# Whether the PgBouncer of this topology is running.
pgbouncer_pid() { live_pid "$PGB_DIR/pgbouncer.pid" pgbouncer; }

# Starts PgBouncer (daemonized, as postgres) unless it is running.
pgbouncer_up() {
    postgres_dir "$PGB_DIR" 0700
    write_pgbouncer_config
    if pgbouncer_pid >/dev/null; then
        note "PgBouncer already running on port $PGBOUNCER_PORT"
        return 0
    fi
    require_free_port "$PGBOUNCER_PORT" PgBouncer
    log "starting PgBouncer on port $PGBOUNCER_PORT"
    local bin
    bin=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
    # PgBouncer (running as postgres) appends to its log: it must own the file.
    touch "$PGB_DIR/pgbouncer.log"
    chown postgres:postgres "$PGB_DIR/pgbouncer.log"
    # max_client_conn needs about as many file descriptors. runuser's PAM session resets the
    # soft limit (often to 1024), so it is raised after runuser, just for PgBouncer.
    # shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
    if ! as_postgres bash -c 'ulimit -Sn 4096 2>/dev/null || true; exec "$0" "$@"' \
        "$bin" -d "$PGB_DIR/pgbouncer.ini" >>"$PGB_DIR/pgbouncer.log" 2>&1; then
        tail_log "$PGB_DIR/pgbouncer.log"
        die "PgBouncer did not start"
    fi
    if ! wait_for 15 "PgBouncer to listen" port_open "$PGBOUNCER_PORT"; then
        tail_log "$PGB_DIR/pgbouncer.log"
        die "PgBouncer is not listening on $PGBOUNCER_PORT"
    fi
}

# End-to-end proof of the chain a client uses: TLS verify-full to PgBouncer with the
# URL-encoded password, then PgBouncer's own verify-full TLS login to each server.
pgbouncer_check() {
    local query out
    query="SELECT current_user || '@' || current_database() || ':' || CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END"
    out=$(psql -X -At "$(pg_url "$PGBOUNCER_PORT" "$DB_NAME")" -c "$query" 2>&1) ||
        {
            printf '%s\n' "$out" >&2
            tail_log "$PGB_DIR/pgbouncer.log"
            die "cannot query $DB_NAME through PgBouncer"
        }
    [[ $out == "$DB_USER@$DB_NAME:primary" ]] || die "unexpected answer through PgBouncer: $out"
    out=$(psql -X -At "$(pg_url "$PGBOUNCER_PORT" "${DB_NAME}_replica")" -c "$query" 2>&1) ||
        {
            printf '%s\n' "$out" >&2
            tail_log "$PGB_DIR/pgbouncer.log"
            die "cannot query ${DB_NAME}_replica through PgBouncer"
        }
    [[ $out == "$DB_USER@$DB_NAME:replica" ]] || die "unexpected answer through PgBouncer: $out"
    note "PgBouncer answers for the primary and the replica over TLS"
}

# `db-up`: primary, replica and PgBouncer; each step leaves a running component alone.
cmd_db_up() {
    need_root
    local started=$SECONDS
    ensure_postgres_packages
    ensure_pgbouncer_package
    cmd_tls
    primary_up
    primary_bootstrap
    replica_up
    pgbouncer_up
    pgbouncer_check
    log "database tier up in $((SECONDS - started))s"
}

# --- Redis ------------------------------------------------------------------------------------------

# redis-cli over TLS with the shared password, against 127.0.0.1:PORT.
redis_cli() {
    local port=$1
    shift
    redis-cli --tls --cacert "$TLS_DIR/ca.crt" -a "$REDIS_PASSWORD" --no-auth-warning \
        -h 127.0.0.1 -p "$port" "$@"
}

# Whether the node on PORT answers PING over TLS.
redis_ping() { [[ "$(redis_cli "$1" ping 2>/dev/null)" == PONG ]]; }

# One field of CLUSTER INFO of the node on PORT.
redis_cluster_field() {
    local port=$1 field=$2
    redis_cli "$port" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$field://p"
}

# Whether the node on PORT sees the cluster as ok.
redis_cluster_ok() { [[ "$(redis_cluster_field "$1" cluster_state)" == ok ]]; }

# Whether every cluster node sees the cluster as ok and knows all its peers.
redis_cluster_all_ok() {
    local port
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        redis_cluster_ok "$port" || return 1
        [[ "$(redis_cluster_field "$port" cluster_known_nodes)" == "${#REDIS_CLUSTER_PORTS[@]}" ]] || return 1
    done
}

# The node's configuration: TLS only (`port 0`), password; MODE is cluster or standalone.
# Cluster nodes keep an append-only file, as a managed Redis with persistence does, so a node
# restarted in a drill comes back with its keys (sessions); the standalone one keeps nothing.
write_redis_config() {
    local port=$1 mode=$2 dir="$TOPOLOGY_DIR/redis-$1"
    mkdir -p "$dir"
    chmod 0700 "$dir"
    {
        cat <<EOF
# Written by deploy/topology/topology.sh; rewritten before every start.
bind 127.0.0.1
port 0
tls-port $port
tls-cert-file $TLS_DIR/server.crt
tls-key-file $TLS_DIR/server.key
tls-ca-cert-file $TLS_DIR/ca.crt
tls-auth-clients no
tls-replication yes
tls-protocols "TLSv1.2 TLSv1.3"
requirepass $REDIS_PASSWORD
masterauth $REDIS_PASSWORD
dir $dir
save ""
appendonly $([[ $mode == cluster ]] && echo yes || echo no)
appendfsync everysec
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
EOF
        if [[ $mode == cluster ]]; then
            cat <<EOF
cluster-enabled yes
cluster-config-file $dir/nodes.conf
cluster-port $((port + REDIS_BUS_OFFSET))
cluster-node-timeout 3000
tls-cluster yes
EOF
        fi
    } | write_file "$dir/redis.conf" root:root 0600
}

# Starts the node on PORT unless it is running, and waits for it to answer PING.
redis_node_up() {
    local port=$1 mode=$2 dir="$TOPOLOGY_DIR/redis-$1"
    if live_pid "$dir/redis.pid" redis-server >/dev/null; then
        note "Redis $mode node already running on port $port"
        return 0
    fi
    require_free_port "$port" "Redis ($mode)"
    [[ $mode == cluster ]] && require_free_port "$((port + REDIS_BUS_OFFSET))" "Redis cluster bus"
    write_redis_config "$port" "$mode"
    log "starting Redis ($mode) on TLS port $port"
    redis-server "$dir/redis.conf" >/dev/null
    if ! wait_for 20 "Redis on port $port" redis_ping "$port"; then
        tail_log "$dir/redis.log"
        die "Redis on port $port did not start"
    fi
}

# Stops the node on PORT (SIGTERM: a cluster node flushes its append-only file first).
redis_node_down() {
    local port=$1
    stop_pidfile "Redis on port $port" "$TOPOLOGY_DIR/redis-$port/redis.pid" redis-server TERM 15
}

# Forms the cluster on first start; later starts find it in each node's nodes.conf.
redis_cluster_form() {
    local port fresh=0 formed=0 addrs=()
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        addrs+=("127.0.0.1:$port")
        if [[ "$(redis_cluster_field "$port" cluster_known_nodes)" == 1 &&
            "$(redis_cluster_field "$port" cluster_slots_assigned)" == 0 ]]; then
            fresh=$((fresh + 1))
        else
            formed=$((formed + 1))
        fi
    done
    if ((fresh == ${#REDIS_CLUSTER_PORTS[@]})); then
        log "creating the Redis cluster (${#addrs[@]} masters, no replicas)"
        redis-cli --tls --cacert "$TLS_DIR/ca.crt" -a "$REDIS_PASSWORD" --no-auth-warning \
            --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$TOPOLOGY_DIR/redis-cluster-create.log" 2>&1 ||
            {
                tail_log "$TOPOLOGY_DIR/redis-cluster-create.log"
                die "redis-cli --cluster create failed"
            }
    elif ((fresh > 0)); then
        die "$fresh Redis node(s) lost their cluster configuration while $formed kept it; run clean and redis-up"
    fi
    if ! wait_for 30 "cluster_state:ok on every Redis node" redis_cluster_all_ok; then
        redis_cli "${REDIS_CLUSTER_PORTS[0]}" cluster info >&2 || true
        die "the Redis cluster is not ok"
    fi
    note "Redis cluster ok on ports ${REDIS_CLUSTER_PORTS[*]}"
}

# `redis-up`: the standalone node and the cluster nodes, then the cluster itself.
cmd_redis_up() {
    need_root
    local started=$SECONDS port
    ensure_redis_packages
    cmd_tls
    redis_node_up "$REDIS_STANDALONE_PORT" standalone
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        redis_node_up "$port" cluster
    done
    redis_cluster_form
    log "Redis up in $((SECONDS - started))s"
}

# `restart-redis PORT`: stop one node and start it again with the same node config, so a
# cluster node rejoins with its slots (its data is gone: no persistence, as with a failover
# to an empty node); waits until the cluster is ok again.
cmd_restart_redis() {
    need_root
    local port=$1 mode=cluster
    [[ $port =~ ^[0-9]+$ ]] || die "restart-redis needs a port"
    [[ $port == "$REDIS_STANDALONE_PORT" ]] && mode=standalone
    [[ -f $TOPOLOGY_DIR/redis-$port/redis.conf ]] || die "no Redis node on port $port in $TOPOLOGY_DIR"
    redis_node_down "$port"
    redis_node_up "$port" "$mode"
    if [[ $mode == cluster ]]; then
        wait_for 30 "the Redis cluster to be ok again" redis_cluster_all_ok ||
            die "the Redis cluster did not recover after restarting $port"
        note "node $port rejoined; cluster ok"
    fi
}

# --- API replicas -----------------------------------------------------------------------------------

# The environment of the server and the tests, as NAME/VALUE pairs in ENV_NAMES/ENV_VALUES.
# The development settings are those `cargo xtask run` gives a local server
# (xtask/src/config.rs DEV_DEFAULTS), except LOG_FORMAT: json suits log files.
collect_env() {
    ENV_NAMES=()
    ENV_VALUES=()
    add_env DATABASE_URL "$(pg_url "$PGBOUNCER_PORT" "$DB_NAME")"
    add_env DATABASE_DIRECT_URL "$(pg_url "$PG_PRIMARY_PORT" "$DB_NAME")"
    add_env DATABASE_READ_URL "$(pg_url "$PG_REPLICA_PORT" "$DB_NAME")"
    add_env DATABASE_POOLER transaction
    add_env REDIS_URL "rediss://:$REDIS_PASSWORD@127.0.0.1:${REDIS_CLUSTER_PORTS[0]}"
    add_env REDIS_CLUSTER true
    add_env REDIS_CA_FILE "$TLS_DIR/ca.crt"
    add_env ENVIRONMENT development
    add_env JWT_SECRET_KEY dev-access-key-not-for-production-0123456789
    add_env JWT_REFRESH_SECRET_KEY dev-refresh-key-not-for-production-0123456789
    add_env FIREBASE_PROJECT_ID medico24-dev
    add_env FIREBASE_AUTH_EMULATOR_HOST 127.0.0.1:9099
    add_env LOG_FORMAT json
    add_env CORS_ORIGINS http://localhost:3000
    # The replicas sit behind HAProxy on 127.0.0.1: take the client from X-Forwarded-For.
    add_env TRUSTED_PROXIES 127.0.0.1/32
    add_env TOPOLOGY_STANDALONE_REDIS_URL "rediss://:$REDIS_PASSWORD@127.0.0.1:$REDIS_STANDALONE_PORT"
    add_env TOPOLOGY_POOLED_READ_URL "$(pg_url "$PGBOUNCER_PORT" "${DB_NAME}_replica")"
    add_env TOPOLOGY_LB_URL "http://127.0.0.1:$LB_PORT"
    add_env TOPOLOGY_API_PORTS "${API_PORTS[*]}"
    add_env TOPOLOGY_DIR "$TOPOLOGY_DIR"
    add_env TOPOLOGY_OTHER_CA "$TLS_DIR/other-ca.crt"
    add_env TOPOLOGY_SCRIPT "$SCRIPT_PATH"
}

# Appends one pair to the environment being collected.
add_env() {
    ENV_NAMES+=("$1")
    ENV_VALUES+=("$2")
}

# A postgresql:// URL for the application role on PORT/DB with verify-full TLS.
pg_url() {
    local port=$1 db=$2
    printf 'postgresql://%s:%s@localhost:%s/%s?sslmode=verify-full&sslrootcert=%s' \
        "$DB_USER" "$(urlencode "$DB_PASSWORD")" "$port" "$db" "$(urlencode "$TLS_DIR/ca.crt" /)"
}

# `env`: export lines for eval; needs nothing running.
cmd_env() {
    collect_env
    local i
    for i in "${!ENV_NAMES[@]}"; do
        printf 'export %s=%s\n' "${ENV_NAMES[i]}" "$(shell_quote "${ENV_VALUES[i]}")"
    done
}

# The HTTP status of GET URL ("000" when nothing answered).
http_status() {
    curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
}

# The status of one API replica's liveness route (/api/v1/health).
api_live() { [[ "$(http_status "http://127.0.0.1:$1/api/v1/health")" == 200 ]]; }

# The binary to run: the argument, else the one the last api-up used.
resolve_api_binary() {
    local bin=${1:-}
    if [[ -z $bin && -s $API_BIN_FILE ]]; then
        bin=$(cat "$API_BIN_FILE")
    fi
    [[ -n $bin ]] || die "api-up needs the medico24 binary (e.g. target/release/medico24)"
    [[ -f $bin && -x $bin ]] || die "$bin is not an executable file"
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
    printf '%s\n' "$bin"
}

# Starts one replica in its own session (so it outlives this script), in $TOPOLOGY_DIR so a
# repository .env cannot leak in; the environment is `env` plus PORT and HOST.
api_start() {
    local bin=$1 port=$2 pid
    local log="$TOPOLOGY_DIR/api-$port.log" pidfile="$TOPOLOGY_DIR/api-$port.pid"
    local pairs=() i
    for i in "${!ENV_NAMES[@]}"; do
        pairs+=("${ENV_NAMES[i]}=${ENV_VALUES[i]}")
    done
    require_free_port "$port" "API replica"
    log "starting API replica on port $port"
    (
        cd "$TOPOLOGY_DIR"
        export "${pairs[@]}" PORT="$port" HOST=127.0.0.1
        exec setsid "$bin" serve
    ) >>"$log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
}

# Waits until the replica on PORT answers its liveness route; fails early if it exited (by
# pid alone: it was just started, and may still be between exec calls).
api_wait() {
    local port=$1 deadline=$((SECONDS + 60)) pid
    local log="$TOPOLOGY_DIR/api-$port.log"
    pid=$(cat "$TOPOLOGY_DIR/api-$port.pid")
    until api_live "$port"; do
        if ! proc_alive "$pid"; then
            tail_log "$log"
            die "the API replica on port $port exited"
        fi
        if ((SECONDS >= deadline)); then
            tail_log "$log"
            die "the API replica on port $port did not answer /api/v1/health within 60s"
        fi
        sleep 0.25
    done
    note "API replica on port $port is live"
}

# `api-up [BINARY]`: migrations through the direct (unpooled) URL, as production runs them,
# then every replica that is not running. TOPOLOGY_MIGRATE=0 skips the migrations.
cmd_api_up() {
    need_root
    ensure_curl
    prepare_topology_dir
    local bin comm port to_start=()
    bin=$(resolve_api_binary "${1:-}")
    printf '%s\n' "$bin" >"$API_BIN_FILE"
    comm=$(basename "$bin")
    collect_env
    for port in "${API_PORTS[@]}"; do
        if live_pid "$TOPOLOGY_DIR/api-$port.pid" "$comm" >/dev/null; then
            note "API replica already running on port $port"
        else
            to_start+=("$port")
        fi
    done
    ((${#to_start[@]})) || return 0
    if [[ ${TOPOLOGY_MIGRATE:-1} != 0 ]]; then
        log "migrating through the direct primary URL"
        local pairs=() i
        for i in "${!ENV_NAMES[@]}"; do
            pairs+=("${ENV_NAMES[i]}=${ENV_VALUES[i]}")
        done
        if ! (cd "$TOPOLOGY_DIR" && env "${pairs[@]}" DATABASE_URL="$(pg_url "$PG_PRIMARY_PORT" "$DB_NAME")" \
            "$bin" migrate) >"$TOPOLOGY_DIR/api-migrate.log" 2>&1; then
            tail_log "$TOPOLOGY_DIR/api-migrate.log"
            die "\`medico24 migrate\` failed"
        fi
        # Demo data (pharmacies around Mumbai, clinics, doctors); adds nothing when present.
        log "loading demo data through the direct primary URL"
        if ! (cd "$TOPOLOGY_DIR" && env "${pairs[@]}" DATABASE_URL="$(pg_url "$PG_PRIMARY_PORT" "$DB_NAME")" \
            "$bin" seed --pharmacies 2000 --users 20 --appointments 50) >"$TOPOLOGY_DIR/api-seed.log" 2>&1; then
            tail_log "$TOPOLOGY_DIR/api-seed.log"
            die "\`medico24 seed\` failed"
        fi
    fi
    for port in "${to_start[@]}"; do
        api_start "$bin" "$port"
    done
    for port in "${to_start[@]}"; do
        api_wait "$port"
    done
    # A running load balancer needs `rise` good checks before it sends traffic to them again.
    if live_pid "$HAPROXY_DIR/haproxy.pid" haproxy >/dev/null; then
        wait_for 15 "HAProxy to see a ready replica" lb_ready || true
    fi
}

# The name of the API replicas' program (from the last binary api-up ran).
api_comm() {
    local comm=medico24
    [[ -s $API_BIN_FILE ]] && comm=$(basename "$(cat "$API_BIN_FILE")")
    printf '%s\n' "$comm"
}

# `kill-api PORT`: SIGKILL one replica, as a crash would (no graceful drain).
cmd_kill_api() {
    need_root
    local port=$1 pid
    [[ $port =~ ^[0-9]+$ ]] || die "kill-api needs a port"
    pid=$(live_pid "$TOPOLOGY_DIR/api-$port.pid" "$(api_comm)") || die "no API replica running on port $port"
    log "SIGKILL to the API replica on port $port (pid $pid)"
    kill -KILL "$pid"
    while proc_alive "$pid"; do sleep 0.05; done
    rm -f "$TOPOLOGY_DIR/api-$port.pid"
}

# --- Load balancer ----------------------------------------------------------------------------------

# The API's JSON error envelope as HAProxy rules: `http-error` pages for the errors HAProxy
# raises itself (kind `http-error`), or `http-response return` rules replacing a replica's
# non-JSON error answers (kind `http-response`). Each line: status, `error` code, message.
# Both read the request id and path from the variables the frontend sets. HAProxy 2.6 answers
# requests it cannot parse itself with its built-in HTML page whatever is configured
# (haproxy/haproxy issue 3032, fixed in 3.2): see docs/security.md.
haproxy_error_pages() {
    local kind=$1 status code message rule
    local common='content-type application/json hdr X-Request-ID "%[var(txn.request_id)]" hdr X-Content-Type-Options nosniff hdr Cache-Control no-store'
    while IFS='|' read -r status code message; do
        [[ -n $status ]] || continue
        local body="{\\\"error\\\":\\\"$code\\\",\\\"message\\\":\\\"$message\\\",\\\"detail\\\":\\\"$message\\\",\\\"path\\\":\\\"%[var(txn.path),json(utf8s)]\\\",\\\"request_id\\\":\\\"%[var(txn.request_id),json(utf8s)]\\\"}"
        local retry=""
        [[ $status == 503 ]] && retry=" hdr Retry-After 5"
        if [[ $kind == http-error ]]; then
            rule="http-error status $status $common$retry lf-string \"$body\""
        else
            rule="http-response return status $status $common$retry lf-string \"$body\" if { status $status } !{ res.hdr(content-type) -m sub json }"
        fi
        printf '    %s\n' "$rule"
    done <<<"$(haproxy_error_table "$kind")"
}

# Status, `error` code and message of each JSON error page (codes from the API's closed set).
haproxy_error_table() {
    if [[ $1 == http-error ]]; then
        cat <<'TABLE'
500|internal_error|Internal server error
502|bad_gateway|The service answered with an invalid response
503|service_unavailable|Service temporarily unavailable
504|service_unavailable|The service did not answer in time
TABLE
    else
        cat <<'TABLE'
400|bad_request|The request could not be parsed
408|bad_request|The request was not received in time
413|payload_too_large|Request body too large
431|bad_request|Too many or too large request headers
500|internal_error|Internal server error
TABLE
    fi
}

# HAProxy's configuration. Retries, and why POSTs stay safe (HAProxy 2.6 semantics):
#  - `retries 3` + `option redispatch 1`: each retry may go to another replica.
#  - `retry-on conn-failure` covers a refused or failed connection: the request was never sent,
#    so retrying it elsewhere is safe for every method (a SIGKILLed replica refuses connections
#    until the health check marks it down).
#  - `empty-response`, `response-timeout`, 502 and 503 mean the request *was* sent and may have
#    run (a replica killed after COMMIT but before answering is an empty response); replaying it
#    is only safe for GET/HEAD/OPTIONS. `http-request disable-l7-retry` turns every retry but
#    the connection-failure one off for the other methods, so a POST is never sent twice.
write_haproxy_config() {
    mkdir -p "$HAPROXY_DIR"
    {
        cat <<EOF
# Written by deploy/topology/topology.sh; rewritten on every lb-up.
global
    # Run in the foreground (-db) by the script, so stdout is haproxy.log.
    log stdout format raw local0 info
    maxconn 2000
    stats socket $HAPROXY_DIR/admin.sock mode 600 level admin

defaults
    mode http
    log global
    option httplog
    option dontlognull
    option forwardfor
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 5s
    timeout check 3s
    retries 3
    option redispatch 1

frontend medico24_api
    bind 127.0.0.1:$LB_PORT
    # Keep the caller's X-Request-ID end to end; give one to requests that have none.
    unique-id-format %[uuid()]
    http-request set-header X-Request-ID %[unique-id] unless { req.hdr(x-request-id) -m found }
    http-request capture req.hdr(x-request-id) len 64
    http-request set-header X-Forwarded-Proto http
    # Remembered for the JSON error pages below (response rules cannot read request headers).
    http-request set-var(txn.request_id) req.hdr(x-request-id)
    http-request set-var(txn.path) path
    # Errors the load balancer raises itself (no replica, replica failed or timed out) speak
    # the API's JSON error envelope.
$(haproxy_error_pages http-error)
    default_backend medico24_replicas

backend medico24_replicas
    balance roundrobin
    option httpchk GET /api/v1/health/ready
    http-check expect status 200
    retry-on conn-failure empty-response response-timeout 502 503
    # Only safe methods are replayed after the request reached a replica (see above).
    http-request disable-l7-retry if !METH_GET !METH_OPTIONS
    # A replica's HTTP server answers some malformed requests before the application runs
    # (too many headers: 431; an unparsable head: 400; a slow head: 408) with an empty body.
    # Those answers, recognised by not being JSON, are replaced with the JSON envelope.
$(haproxy_error_pages http-response)
    default-server inter 500ms fall 2 rise 2
EOF
        local port
        for port in "${API_PORTS[@]}"; do
            printf '    server api-%s 127.0.0.1:%s check\n' "$port" "$port"
        done
    } | write_file "$HAPROXY_DIR/haproxy.cfg" root:root 0644
}

# Whether the load balancer forwards readiness checks to a replica.
lb_ready() { [[ "$(http_status "http://127.0.0.1:$LB_PORT/api/v1/health/ready")" == 200 ]]; }

# `lb-up`: HAProxy in front of the replicas (checked with -c before it starts).
cmd_lb_up() {
    need_root
    ensure_haproxy_package
    ensure_curl
    prepare_topology_dir
    write_haproxy_config
    local bin
    bin=$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
    "$bin" -c -q -f "$HAPROXY_DIR/haproxy.cfg" || die "HAProxy rejects $HAPROXY_DIR/haproxy.cfg"
    if live_pid "$HAPROXY_DIR/haproxy.pid" haproxy >/dev/null; then
        note "HAProxy already running on port $LB_PORT"
    else
        require_free_port "$LB_PORT" HAProxy
        log "starting HAProxy on port $LB_PORT"
        (
            raise_fd_limit 8192
            exec setsid "$bin" -db -f "$HAPROXY_DIR/haproxy.cfg"
        ) >>"$HAPROXY_DIR/haproxy.log" 2>&1 </dev/null &
        local pid=$!
        printf '%s\n' "$pid" >"$HAPROXY_DIR/haproxy.pid"
        if ! wait_pid_port "$pid" "$LB_PORT" 15; then
            tail_log "$HAPROXY_DIR/haproxy.log"
            die "HAProxy is not listening on $LB_PORT"
        fi
    fi
    if ! wait_for 30 "a ready API replica behind HAProxy" lb_ready; then
        die "HAProxy runs but no replica answers /api/v1/health/ready through it (api-up first; see $TOPOLOGY_DIR/api-*.log)"
    fi
    note "HAProxy serves http://127.0.0.1:$LB_PORT"
}

# --- Whole topology -------------------------------------------------------------------------------

# `up [BINARY]`: the data tier, then the API and the load balancer when a binary is given.
cmd_up() {
    local started=$SECONDS
    cmd_db_up
    cmd_redis_up
    if [[ -n ${1:-} ]]; then
        cmd_api_up "$1"
        cmd_lb_up
    else
        note "no BINARY given: API replicas and load balancer not started"
    fi
    log "topology up in $((SECONDS - started))s"
}

# `down`: everything stops, front to back, by pidfile or pg_ctl; data stays.
cmd_down() {
    need_root
    [[ -d $TOPOLOGY_DIR ]] || return 0
    local port comm
    stop_pidfile HAProxy "$HAPROXY_DIR/haproxy.pid" haproxy TERM 10
    comm=$(api_comm)
    for port in "${API_PORTS[@]}"; do
        # SIGTERM drains in-flight requests (SHUTDOWN_TIMEOUT_SECONDS, 30 s by default).
        stop_pidfile "API replica $port" "$TOPOLOGY_DIR/api-$port.pid" "$comm" TERM 35
    done
    # SIGTERM is PgBouncer's immediate shutdown (SIGINT would wait for clients to leave).
    stop_pidfile PgBouncer "$PGB_DIR/pgbouncer.pid" pgbouncer TERM 10
    for port in "$REDIS_STANDALONE_PORT" "${REDIS_CLUSTER_PORTS[@]}"; do
        redis_node_down "$port"
    done
    if id postgres >/dev/null 2>&1; then
        pg_stop "$REPLICA_DIR" "PostgreSQL read replica"
        pg_stop "$PRIMARY_DIR" "PostgreSQL primary"
    fi
    log "topology stopped (data kept in $TOPOLOGY_DIR)"
}

# `clean`: down, then delete the directory (only one this script made).
cmd_clean() {
    need_root
    [[ -d $TOPOLOGY_DIR ]] || return 0
    [[ -e $MARKER ]] || die "$TOPOLOGY_DIR was not made by this script; not deleting it"
    cmd_down
    log "deleting $TOPOLOGY_DIR"
    rm -rf "$TOPOLOGY_DIR"
}

# One line of `status`; counts components that are down.
status_line() {
    local name=$1 port=$2 state=$3
    printf '%-22s %-6s %s\n' "$name" "$port" "$state"
    [[ $state == up* ]] || DOWN_COUNT=$((DOWN_COUNT + 1))
}

# `status`: one line per component; exit status 1 if any is down.
cmd_status() {
    DOWN_COUNT=0
    local pid port state lag comm
    if pg_running "$PRIMARY_DIR" 2>/dev/null; then
        status_line "postgres primary" "$PG_PRIMARY_PORT" "up"
    else
        status_line "postgres primary" "$PG_PRIMARY_PORT" "down"
    fi
    if pg_running "$REPLICA_DIR" 2>/dev/null; then
        state="up (not streaming)"
        if pg_running "$PRIMARY_DIR" 2>/dev/null && replica_streaming 2>/dev/null; then
            lag=$(admin_psql "$PG_PRIMARY_PORT" postgres -At -c \
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication WHERE application_name = 'medico24_replica'" 2>/dev/null || echo '?')
            state="up, streaming, replay lag ${lag} bytes"
        fi
        status_line "postgres replica" "$PG_REPLICA_PORT" "$state"
    else
        status_line "postgres replica" "$PG_REPLICA_PORT" "down"
    fi
    if pid=$(pgbouncer_pid 2>/dev/null); then
        status_line pgbouncer "$PGBOUNCER_PORT" "up (pid $pid)"
    else
        status_line pgbouncer "$PGBOUNCER_PORT" "down"
    fi
    if pid=$(live_pid "$TOPOLOGY_DIR/redis-$REDIS_STANDALONE_PORT/redis.pid" redis-server); then
        status_line "redis standalone" "$REDIS_STANDALONE_PORT" "up (pid $pid)"
    else
        status_line "redis standalone" "$REDIS_STANDALONE_PORT" "down"
    fi
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        if pid=$(live_pid "$TOPOLOGY_DIR/redis-$port/redis.pid" redis-server); then
            state=$(redis_cluster_field "$port" cluster_state 2>/dev/null || true)
            status_line "redis cluster node" "$port" "up (pid $pid, cluster_state:${state:-?})"
        else
            status_line "redis cluster node" "$port" "down"
        fi
    done
    comm=$(api_comm)
    for port in "${API_PORTS[@]}"; do
        if pid=$(live_pid "$TOPOLOGY_DIR/api-$port.pid" "$comm"); then
            status_line "api replica" "$port" "up (pid $pid, /api/v1/health $(http_status "http://127.0.0.1:$port/api/v1/health"))"
        else
            status_line "api replica" "$port" "down"
        fi
    done
    if pid=$(live_pid "$HAPROXY_DIR/haproxy.pid" haproxy); then
        status_line "haproxy" "$LB_PORT" "up (pid $pid, /api/v1/health/ready $(http_status "http://127.0.0.1:$LB_PORT/api/v1/health/ready"))"
    else
        status_line "haproxy" "$LB_PORT" "down"
    fi
    ((DOWN_COUNT == 0))
}

# `stop-replica` / `start-replica`: the read replica alone, for failover drills.
cmd_stop_replica() {
    need_root
    pg_stop "$REPLICA_DIR" "PostgreSQL read replica"
}

# Starts the replica again (it catches up from its slot); rebuilds it if it was deleted.
cmd_start_replica() {
    need_root
    pg_running "$PRIMARY_DIR" || die "the primary is not running (db-up first)"
    replica_up
}

# Prints the usage block at the top of this file.
usage() {
    sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# Whether WORD is a command name (so an optional argument is not mistaken for one).
is_command() {
    case $1 in
        tls | db-up | redis-up | api-up | lb-up | up | down | clean | status | env | \
            psql-primary | psql-replica | kill-api | stop-replica | start-replica | restart-redis | help) return 0 ;;
        *) return 1 ;;
    esac
}

# Runs the commands of the command line in order.
main() {
    (($#)) || {
        usage
        exit 2
    }
    local cmd arg
    while (($#)); do
        cmd=$1
        shift
        arg=''
        case $cmd in
            api-up | up)
                if (($#)) && ! is_command "$1"; then
                    arg=$1
                    shift
                fi
                ;;
            kill-api | restart-redis)
                (($#)) || die "$cmd needs a PORT"
                arg=$1
                shift
                ;;
        esac
        case $cmd in
            tls) cmd_tls report ;;
            db-up) cmd_db_up ;;
            redis-up) cmd_redis_up ;;
            api-up) cmd_api_up "$arg" ;;
            lb-up) cmd_lb_up ;;
            up) cmd_up "$arg" ;;
            down) cmd_down ;;
            clean) cmd_clean ;;
            status) cmd_status ;;
            env) cmd_env ;;
            psql-primary) exec psql -X -h "$RUN_DIR" -p "$PG_PRIMARY_PORT" -U postgres -d "$DB_NAME" "$@" ;;
            psql-replica) exec psql -X -h "$RUN_DIR" -p "$PG_REPLICA_PORT" -U postgres -d "$DB_NAME" "$@" ;;
            kill-api) cmd_kill_api "$arg" ;;
            stop-replica) cmd_stop_replica ;;
            start-replica) cmd_start_replica ;;
            restart-redis) cmd_restart_redis "$arg" ;;
            help | -h | --help) usage ;;
            *)
                usage >&2
                die "unknown command: $cmd"
                ;;
        esac
    done
}

main "$@"
