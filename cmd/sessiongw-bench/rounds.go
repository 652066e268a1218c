package main

import (
	"slices"
	"strconv"
	"time"
)

// roundLength is the length of one round of an alternating comparison.
const roundLength = 2 * time.Second

// rounds is how many alternating rounds a comparison of b.o.duration per
// side is split into (wrk counts whole seconds).
func (b *bench) rounds() int {
	return int(min(5, max(1, b.o.duration/roundLength)))
}

// alternate measures a baseline and a scenario in alternating rounds that
// add up to b.o.duration each, so that the drift of a shared machine (other
// tenants, frequency changes) falls on both sides instead of on whichever
// ran second. The CPU and allocation profiles (-profile) cover the last
// round of each side: go tool pprof -diff_base NAME.baseline.cpu.pprof
// NAME.cpu.pprof shows what the gateway adds to its baseline.
func (b *bench) alternate(profileName string, base, scenario func(d time.Duration) (result, error)) (result, result, error) {
	rs, err := b.alternateAll(profileName, base, scenario)
	if err != nil {
		return result{}, result{}, err
	}
	return rs[0], rs[1], nil
}

// alternateAll is alternate over any number of sides, measured in turn in
// each round: the first is the baseline (profile NAME.baseline), the second
// the scenario (NAME), further ones NAME.2, NAME.3, ….
func (b *bench) alternateAll(profileName string, sides ...func(d time.Duration) (result, error)) ([]result, error) {
	n := b.rounds()
	per := b.o.duration / time.Duration(n)
	all := make([][]result, len(sides))
	for i := range n {
		last := i == n-1
		for j, side := range sides {
			name := profileSlug(profileName)
			switch {
			case j == 0:
				name += ".baseline"
			case j > 1:
				name += "." + strconv.Itoa(j)
			}
			r, err := b.profiled(last, name, side, per)
			if err != nil {
				return nil, err
			}
			all[j] = append(all[j], r)
		}
	}
	out := make([]result, len(sides))
	for j, rs := range all {
		out[j] = merge(rs)
	}
	return out, nil
}

// merge adds up the rounds of one side; its latencies are the median
// round's (wrk reports percentiles, which do not add up).
func merge(rs []result) result {
	var m result
	for _, r := range rs {
		m.requests += r.requests
		m.duration += r.duration
		m.non2xx += r.non2xx
		m.socketErrors += r.socketErrors
		m.cpu += r.cpu
		m.pgQueries += r.pgQueries
		m.redisCalls += r.redisCalls
		m.distinct += r.distinct
		m.gatewayAuths += r.gatewayAuths
		m.appHits += r.appHits
		m.churn += r.churn
		m.nearHits += r.nearHits
		m.split = m.split.add(r.split)
		m.max = max(m.max, r.max)
	}
	median := func(f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m.p50 = median(func(r result) time.Duration { return r.p50 })
	m.p99 = median(func(r result) time.Duration { return r.p99 })
	m.p999 = median(func(r result) time.Duration { return r.p999 })
	return m
}

// profiled runs f, under the CPU profiler when on is set.
func (b *bench) profiled(on bool, name string, f func(time.Duration) (result, error), d time.Duration) (result, error) {
	if !on {
		return f(d)
	}
	stop, err := b.startProfile(name)
	if err != nil {
		return result{}, err
	}
	r, err := f(d)
	if perr := stop(); err == nil {
		err = perr
	}
	return r, err
}
