#!/usr/bin/env bash
# `make chaos`: the consistency property tests with SESSIONGW_CHAOS times
# their `make test` trials (default 10: thousands of revocations), then a
# summary table: property, trials, violations. Exits non-zero on any
# violation or failure. All traffic stays on 127.0.0.1.
set -uo pipefail
factor=${SESSIONGW_CHAOS:-10}
log=$(mktemp)
echo "chaos: property tests with ${factor}x trials (log: $log)"
SESSIONGW_CHAOS=$factor go test -count=1 -timeout 40m -run 'TestProperty|TestRedisCluster|TestRedisSentinelFailover' -v ./internal/gateway/ >"$log" 2>&1
status=$?
printf '\n| property | trials | violations |\n|---|---:|---:|\n'
grep -o 'CHAOS|.*' "$log" | awk -F'|' '{ printf "| %s | %s | %s |\n", $2, $3, $4 }'
echo
grep -E '^(--- FAIL|FAIL|ok)' "$log"
exit $status
