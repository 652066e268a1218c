package redis_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// BenchmarkClusterBus measures one invalidation (publish, then the acks of
// two other replicas) on a three-master Redis Cluster, with sharded pub/sub
// (what the bus uses) and with plain pub/sub (the baseline), in the same
// run. bus-msgs/op counts the messages the cluster bus carried per
// invalidation: plain PUBLISH is broadcast to every node, heartbeats
// included.
func BenchmarkClusterBus(b *testing.B) {
	nodes := redistest.StartCluster(b, 3, 0)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	for _, mode := range []string{"plain", "sharded"} {
		b.Run(mode, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			prefix := testdeps.Name("bench")
			var buses []*redis.Bus
			var wg sync.WaitGroup
			for range 3 {
				rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
				defer rdb.Close()
				bus := redis.NewBus(rdb, redis.BusOptions{Prefix: prefix, Window: time.Second})
				if mode == "plain" {
					redis.UsePlainPubSub(bus)
				}
				buses = append(buses, bus)
				wg.Add(1)
				go func() { defer wg.Done(); _ = bus.Run(ctx, &recorder{wake: make(chan struct{}, 1)}) }()
			}
			defer wg.Wait()
			defer cancel()
			deadline := time.Now().Add(10 * time.Second)
			for _, bus := range buses {
				for !bus.Trusted() {
					if time.Now().After(deadline) {
						b.Fatal("bus never trusted")
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			hs := []session.Hash{{1}}
			// Every other replica must be registered before timing starts.
			for {
				if err := buses[0].Publish(ctx, hs); err != nil {
					b.Fatal(err)
				}
				if n := busMessages(b, addrs); n > 0 || mode == "sharded" {
					break
				}
			}
			before := busMessages(b, addrs)
			b.ResetTimer()
			for range b.N {
				if err := buses[0].Publish(ctx, hs); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(busMessages(b, addrs)-before)/float64(b.N), "bus-msgs/op")
		})
	}
}

// busMessages sums the pub/sub messages the cluster bus has sent.
func busMessages(b *testing.B, addrs []string) int {
	total := 0
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a})
		info, err := c.ClusterInfo(context.Background()).Result()
		c.Close()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "cluster_stats_messages_publish_sent" || k == "cluster_stats_messages_publishshard_sent" {
				n, _ := strconv.Atoi(v)
				total += n
			}
		}
	}
	return total
}
