#!/usr/bin/env bash
# Makes sure a local PostgreSQL and Redis are installed, running on
# 127.0.0.1, and that the development role and databases exist:
#   role sessiongw (password sessiongw), databases sessiongw and sessiongw_test.
# Used by `make run` and `make test`. Safe to run again; changes nothing
# that is already in place. Installs with apt-get on Debian when needed.
set -euo pipefail

log() { printf 'dev-services: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; exit 1; fi
}

apt_install() {
  log "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

# --- PostgreSQL -------------------------------------------------------------
if ! command -v pg_isready >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  command -v pg_isready >/dev/null && pg_up || apt_install postgresql
fi
if ! pg_up; then
  ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $ver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 50); do pg_up && break; sleep 0.2; done
  pg_up || { log "PostgreSQL did not start on 127.0.0.1:5432"; exit 1; }
fi

# Run SQL as a superuser: over TCP if trusted, else as the postgres OS user.
psql_admin() {
  if psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 </dev/null; then
    psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  elif [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- psql -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  else
    sudo -u postgres psql -d postgres -v ON_ERROR_STOP=1 -Atq "$@"
  fi
}

# The role must be able to connect to both databases and create in them.
can_use() {
  [ "$(PGPASSWORD=sessiongw psql -h 127.0.0.1 -U sessiongw -d "$1" -Atqc \
    "select has_database_privilege(current_database(), 'CREATE') and has_schema_privilege('public', 'CREATE')" 2>/dev/null </dev/null)" = t ]
}
if ! can_use sessiongw || ! can_use sessiongw_test; then
  log "setting up role sessiongw and databases sessiongw, sessiongw_test"
  psql_admin <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sessiongw') THEN
    CREATE ROLE sessiongw LOGIN PASSWORD 'sessiongw';
  END IF;
END $$;
SELECT 'CREATE DATABASE sessiongw OWNER sessiongw' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sessiongw')
\gexec
SELECT 'CREATE DATABASE sessiongw_test OWNER sessiongw' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sessiongw_test')
\gexec
ALTER DATABASE sessiongw OWNER TO sessiongw;
ALTER DATABASE sessiongw_test OWNER TO sessiongw;
SQL
fi

# --- Redis --------------------------------------------------------------------
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install redis-server
fi
if ! redis_up; then
  log "starting Redis on 127.0.0.1:6379 (no persistence)"
  dir=/var/lib/redis; [ -w "$dir" ] || dir=$(mktemp -d)
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$dir" --logfile "$dir/sessiongw-dev.log"
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || { log "Redis did not start on 127.0.0.1:6379"; exit 1; }
fi
log "PostgreSQL and Redis are ready"
