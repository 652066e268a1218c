#!/usr/bin/env bash
# `make run`: runs the gateway on 127.0.0.1:8080 against the local Postgres
# and Redis, creates a demo user and session through the admin API, and
# prints curl commands that use them. Ctrl-C stops the gateway.
set -euo pipefail
bin=${1:-bin/sessiongw}
export SESSIONGW_DATABASE_URL=${SESSIONGW_DATABASE_URL:-postgres://sessiongw:sessiongw@127.0.0.1:5432/sessiongw?sslmode=disable}
export SESSIONGW_REDIS_URL=${SESSIONGW_REDIS_URL:-redis://127.0.0.1:6379/0}
export SESSIONGW_HTTP_ADDR=${SESSIONGW_HTTP_ADDR:-127.0.0.1:8080}
export SESSIONGW_LOG_FORMAT=${SESSIONGW_LOG_FORMAT:-text}
export SESSIONGW_UI=${SESSIONGW_UI:-true}
# The demo is plain HTTP on 127.0.0.1: a Secure cookie would never be sent.
export SESSIONGW_COOKIE_SECURE=${SESSIONGW_COOKIE_SECURE:-false}
if [ -z "${SESSIONGW_ADMIN_TOKEN:-}" ]; then
  SESSIONGW_ADMIN_TOKEN="dev-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  export SESSIONGW_ADMIN_TOKEN
fi
base="http://$SESSIONGW_HTTP_ADDR"

"$bin" serve &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "sessiongw exited; see the log above" >&2; exit 1; }
  sleep 0.1
done

admin=(-H "Authorization: Bearer $SESSIONGW_ADMIN_TOKEN")
curl -fsS -X PUT "${admin[@]}" "$base/v1/admin/users/1" \
  -d '{"username":"demo","email":"demo@example.com","roles":["user"]}' >/dev/null
token=$(curl -fsS -X POST "${admin[@]}" "$base/v1/admin/sessions" \
  -d '{"user_id":1,"user_agent":"make run"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')

cat <<MSG

sessiongw is running on $base (Ctrl-C stops it).
Admin token for this run: $SESSIONGW_ADMIN_TOKEN
A demo user (id 1) and a session were created. Try:

  curl -i $base/v1/auth -H 'Cookie: session_id=$token'
  curl -s $base/v1/session -H 'Authorization: Bearer $token'
  curl -s $base/v1/session/all -H 'X-Session-Token: $token'
  curl -i -X DELETE $base/v1/session -H 'Authorization: Bearer $token'    # logout

The devices page: in your browser, set the cookie session_id=$token for
127.0.0.1 (developer tools), then open $base/ui/sessions

MSG
wait $pid
