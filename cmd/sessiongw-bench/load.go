package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// wrkScript sends GET $REQ_PATH (/v1/auth) with a token drawn at random
// from the file in $TOKENS (or none) in the header $REQ_HEADER
// (Authorization) after $REQ_PREFIX ("Bearer "), and prints one BENCH line
// with the results.
const wrkScript = `
local tokens = {}
local f = os.getenv("TOKENS")
if f ~= nil and f ~= "" then
  for line in io.lines(f) do tokens[#tokens + 1] = line end
end
local path = os.getenv("REQ_PATH") or "/v1/auth"
local header = os.getenv("REQ_HEADER") or "Authorization"
local prefix = os.getenv("REQ_PREFIX") or "Bearer "
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
request = function()
  if #tokens == 0 then return wrk.format("GET", path) end
  local t = tokens[math.random(#tokens)]
  return wrk.format("GET", path, {[header] = prefix .. t})
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`

// floodScript sends random well-formed tokens (UUID v4) that match no
// session.
const floodScript = `
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
local hex = "0123456789abcdef"
local function r(n)
  local t = {}
  for i = 1, n do local k = math.random(16) t[i] = hex:sub(k, k) end
  return table.concat(t)
end
request = function()
  local tok = r(8) .. "-" .. r(4) .. "-4" .. r(3) .. "-" .. hex:sub(9 + math.random(4) - 1, 9 + math.random(4) - 1) .. r(3) .. "-" .. r(12)
  return wrk.format("GET", "/v1/auth", {["Authorization"] = "Bearer " .. tok})
end
`

// result is one measurement.
type result struct {
	requests              int64
	duration              time.Duration
	p50, p99, p999, max   time.Duration
	non2xx, socketErrors  int64
	cpu                   time.Duration // this process's CPU time during the run
	pgQueries, redisCalls int64
	distinct              int64    // distinct sessions looked up in Postgres (cold start)
	gatewayAuths          int64    // /v1/auth answers the gateway itself counted
	appHits               int64    // requests the app behind a proxy received
	churn                 int64    // logouts, revokes and logins (realistic mix)
	nearHits              int64    // validations a client's near cache answered
	split                 cpuSplit // CPU by process (the write rows)
}

func (r result) rps() float64 { return float64(r.requests) / r.duration.Seconds() }

// flood runs a second wrk with random unknown tokens until ctx ends.
func (b *bench) flood(ctx context.Context, url string, connections int, d time.Duration) error {
	script, err := os.CreateTemp(b.tokenDir, "flood-*.lua")
	if err != nil {
		return err
	}
	script.WriteString(floodScript)
	script.Close()
	cmd := exec.CommandContext(ctx, "wrk", "-t", "1", "-c", strconv.Itoa(connections),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Seconds()))), "-s", script.Name(), url+"/v1/auth")
	return cmd.Run()
}

// wrkReq is what each request of a load carries: its path, and the header
// a token goes in, after a prefix.
type wrkReq struct{ path, header, prefix string }

// bearer is GET /v1/auth with Authorization: Bearer <token>.
var bearer = wrkReq{"/v1/auth", "Authorization", "Bearer "}

// load runs wrk against url with the given token file ("" for none).
func (b *bench) load(ctx context.Context, url, tokens string, connections int, d time.Duration) (result, error) {
	return b.loadReq(ctx, url, tokens, bearer, connections, d)
}

// loadReq is load with requests shaped by req.
func (b *bench) loadReq(ctx context.Context, url, tokens string, req wrkReq, connections int, d time.Duration) (result, error) {
	script, err := os.CreateTemp(b.tokenDir, "script-*.lua")
	if err != nil {
		return result{}, err
	}
	script.WriteString(wrkScript)
	script.Close()
	threads := "2"
	cmd := exec.CommandContext(ctx, "wrk", "-t", threads, "-c", strconv.Itoa(connections),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Seconds()))), "-s", script.Name(), url+"/v1/auth")
	cmd.Env = append(os.Environ(), "TOKENS="+tokens, "REQ_PATH="+req.path, "REQ_HEADER="+req.header, "REQ_PREFIX="+req.prefix)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before := cpuTime()
	err = cmd.Run()
	cpu := cpuTime() - before
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 8 || f[0] != "BENCH" {
			continue
		}
		n := make([]int64, 7)
		for i := range n {
			n[i], _ = strconv.ParseInt(f[i+1], 10, 64)
		}
		return result{requests: n[0], duration: time.Duration(n[1]) * time.Microsecond,
			p50: time.Duration(n[2]) * time.Microsecond, p99: time.Duration(n[3]) * time.Microsecond,
			p999: time.Duration(n[4]) * time.Microsecond, non2xx: n[5], socketErrors: n[6], cpu: cpu}, nil
	}
	return result{}, fmt.Errorf("wrk printed no result:\n%s", out.String())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
