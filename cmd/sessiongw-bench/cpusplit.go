package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSplit is CPU time spent during a measurement, by whom: this process
// (in the write rows: the three replicas and the load generator), the
// Postgres processes, redis-server, and the whole machine (the kernel's
// work for all of them included). It says where a write's cost goes, on a
// machine where every process shares two cores.
type cpuSplit struct {
	self, postgres, redis, machine time.Duration
}

func (c cpuSplit) sub(o cpuSplit) cpuSplit {
	return cpuSplit{c.self - o.self, c.postgres - o.postgres, c.redis - o.redis, c.machine - o.machine}
}

func (c cpuSplit) add(o cpuSplit) cpuSplit {
	return cpuSplit{c.self + o.self, c.postgres + o.postgres, c.redis + o.redis, c.machine + o.machine}
}

// readCPUSplit reads the CPU used so far by each part.
func readCPUSplit() cpuSplit {
	byName := commCPU("postgres", "redis-server")
	return cpuSplit{self: cpuTime(), postgres: byName["postgres"], redis: byName["redis-server"], machine: machineBusy()}
}

// perOp says how much CPU one of n operations cost each part, in ms.
func (c cpuSplit) perOp(n int64) string {
	each := func(d time.Duration) string {
		return fmt.Sprintf("%.3f", d.Seconds()*1000/float64(max(n, 1)))
	}
	return fmt.Sprintf("%s ms in all on the machine (this process %s, Postgres %s, Redis %s, the rest the kernel's and other processes')",
		each(c.machine), each(c.self), each(c.postgres), each(c.redis))
}

// commCPU is the CPU time of every process whose name (comm) is one of
// names, by name, the children they reaped included: Postgres's backends
// and autovacuum workers come and go, and an exited one's time moves to
// the postmaster's count of reaped children, so the sum never goes back.
func commCPU(names ...string) map[string]time.Duration {
	out := map[string]time.Duration{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		c := strings.TrimSpace(string(comm))
		for _, n := range names {
			if c == n {
				out[n] += statCPU(pid, true)
			}
		}
	}
	return out
}

// postgresCPU is the CPU time of every process named postgres on the
// machine (the server's backends and its background processes).
func postgresCPU() time.Duration { return commCPU("postgres")["postgres"] }

// machineBusy is the CPU time every core of the machine spent busy (not
// idle, not waiting for I/O) since boot, from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}
