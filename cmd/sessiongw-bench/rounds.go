package main

import (
	"slices"
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
	n := b.rounds()
	per := b.o.duration / time.Duration(n)
	var bs, ss []result
	for i := range n {
		last := i == n-1
		r, err := b.profiled(last, profileSlug(profileName)+".baseline", base, per)
		if err != nil {
			return result{}, result{}, err
		}
		bs = append(bs, r)
		if r, err = b.profiled(last, profileSlug(profileName), scenario, per); err != nil {
			return result{}, result{}, err
		}
		ss = append(ss, r)
	}
	return merge(bs), merge(ss), nil
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
