package faultproxy_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/faultproxy"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
)

func TestProxyModes(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	p, err := faultproxy.Start(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("through Pass: %v", err)
	}
	p.SetMode(faultproxy.Cut)
	if err := rdb.Get(ctx, "k").Err(); err == nil {
		t.Error("Get through Cut succeeded")
	}
	p.SetMode(faultproxy.Blackhole)
	if err := rdb.Get(ctx, "k").Err(); err == nil {
		t.Error("Get through Blackhole succeeded")
	}
	p.SetMode(faultproxy.Pass)
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("Get after restore = %q, %v; want v (the data behind the proxy survives)", v, err)
	}
}
