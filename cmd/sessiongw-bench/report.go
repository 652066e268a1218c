package main

import (
	"fmt"
	"strings"
	"time"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func (b *bench) report(rows []row, args []string) string {
	var sb strings.Builder
	title, target := "# sessiongw benchmarks", "make bench"
	if b.o.peers {
		title, target = "## Beside a peer: oauth2-proxy", "make bench-peers"
	}
	fmt.Fprintf(&sb, "%s\n\n", title)
	fmt.Fprintf(&sb, "Machine: %s. Load: wrk, %d connections, %s per measurement, over loopback; "+
		"wrk and the servers share the machine (nothing pinned), so read the ratios, not the absolute numbers: "+
		"each scenario and its baseline run in the same process in %d alternating rounds (latency columns: the median round).\n\n",
		machine(), b.o.connections, b.o.duration, b.rounds())
	fmt.Fprintf(&sb, "Command: `%s` (`go run ./cmd/sessiongw-bench %s`), %s.\n\n", target, strings.Join(args, " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if b.o.profileDir != "" {
		fmt.Fprintf(&sb, "CPU and allocation profiles of both sides of each comparison are written to `%s/` "+
			"(not committed: run `make bench` to regenerate them; compare with `go tool pprof -diff_base NAME.baseline.cpu.pprof NAME.cpu.pprof`).\n\n", b.o.profileDir)
	}
	sb.WriteString("| scenario | requests/s | p50 | p99 | p99.9 | ratio to baseline (req/s; p99) | Postgres queries/req | Redis commands/req | server CPU s / 10k req |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var base *result
	for i := range rows {
		r := rows[i]
		ratio := "baseline"
		cpu := fmt.Sprintf("%.3f", r.res.cpu.Seconds()/float64(max(r.res.requests, 1))*10000)
		if !r.isBaseline {
			ratio = "–"
			if base != nil {
				ratio = fmt.Sprintf("%.2f; %.2f", r.res.rps()/base.rps(), float64(r.res.p99)/float64(max(base.p99, time.Microsecond)))
			}
		}
		pg, rd := "–", "–"
		if !r.isBaseline {
			pg = fmt.Sprintf("%.4f", float64(r.res.pgQueries)/float64(r.res.requests))
			rd = fmt.Sprintf("%.4f", float64(r.res.redisCalls)/float64(r.res.requests))
		}
		name := r.name
		if r.isBaseline {
			name = "↳ baseline: " + name
		}
		fmt.Fprintf(&sb, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", name, r.res.rps(), ms(r.res.p50), ms(r.res.p99), ms(r.res.p999), ratio, pg, rd, cpu)
		switch {
		case r.isBaseline:
			base = &rows[i].res
		case i+1 < len(rows) && rows[i+1].again:
		default:
			base = nil
		}
	}
	sb.WriteString("\n")
	for _, r := range rows {
		if r.note != "" {
			fmt.Fprintf(&sb, "* %s: %s.\n", r.name, r.note)
		}
	}
	for _, e := range b.extra {
		fmt.Fprintf(&sb, "* %s\n", e)
	}
	return sb.String()
}
