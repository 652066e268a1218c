package redis

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Target says which Redis to talk to. With no Addrs it is the standalone
// server of URL; with Addrs and a MasterName, the master the Sentinels at
// Addrs name; with Addrs alone, the Redis Cluster those seed nodes belong
// to. In the last two cases URL supplies only the scheme (rediss:// for
// TLS), user, password, database and options: its host is ignored.
type Target struct {
	URL              string
	Addrs            []string
	MasterName       string
	SentinelPassword string
	// CAFile, when set, holds the PEM certificates of the authorities that
	// sign the servers' TLS certificates (rediss:// only).
	CAFile string
}

// Mode names the topology of a Target.
func (t Target) Mode() string {
	switch {
	case len(t.Addrs) == 0:
		return "standalone"
	case t.MasterName != "":
		return "sentinel"
	default:
		return "cluster"
	}
}

// isCluster reports whether rdb talks to a Redis Cluster.
func isCluster(rdb goredis.UniversalClient) bool {
	_, ok := rdb.(*goredis.ClusterClient)
	return ok
}

// Connect builds the client for t (go-redis's universal client for
// Sentinel and Cluster) and checks that Redis answers. Unless
// the URL sets them (dial_timeout, read_timeout, write_timeout,
// max_retries), timeouts are short: a gateway that answers in microseconds
// should fall back to Postgres quickly rather than wait seconds on Redis.
func Connect(ctx context.Context, t Target) (goredis.UniversalClient, error) {
	opt, err := goredis.ParseURL(t.URL)
	if err != nil {
		return nil, errors.New("redis: URL is not valid")
	}
	q := map[string]bool{}
	if i := strings.IndexByte(t.URL, '?'); i >= 0 {
		for _, kv := range strings.Split(t.URL[i+1:], "&") {
			k, _, _ := strings.Cut(kv, "=")
			q[k] = true
		}
	}
	if !q["dial_timeout"] {
		opt.DialTimeout = time.Second
	}
	if !q["read_timeout"] {
		opt.ReadTimeout = 500 * time.Millisecond
	}
	if !q["write_timeout"] {
		opt.WriteTimeout = 500 * time.Millisecond
	}
	if !q["max_retries"] {
		opt.MaxRetries = 1
	}
	if t.CAFile != "" {
		if opt.TLSConfig == nil {
			return nil, errors.New("redis: a CA file needs a rediss:// URL")
		}
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis: CA file %s holds no PEM certificate", t.CAFile)
		}
		opt.TLSConfig.RootCAs = pool
	}
	if len(t.Addrs) > 0 && opt.TLSConfig != nil {
		// Verify each node by its own name, not the URL's placeholder host.
		opt.TLSConfig.ServerName = ""
	}
	var rdb goredis.UniversalClient
	if t.Mode() == "standalone" {
		rdb = goredis.NewClient(opt)
	} else {
		rdb = goredis.NewUniversalClient(&goredis.UniversalOptions{
			// A copy: go-redis appends discovered nodes to this slice, which
			// must not share an array with the caller's (or another client's).
			Addrs: slices.Clone(t.Addrs), MasterName: t.MasterName, IsClusterMode: t.Mode() == "cluster",
			SentinelPassword: t.SentinelPassword,
			Username:         opt.Username, Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig,
			ClientName: opt.ClientName, Protocol: opt.Protocol,
			DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
			MaxRetries: opt.MaxRetries, MinRetryBackoff: opt.MinRetryBackoff, MaxRetryBackoff: opt.MaxRetryBackoff,
			PoolSize: opt.PoolSize, PoolTimeout: opt.PoolTimeout, MinIdleConns: opt.MinIdleConns,
			MaxIdleConns: opt.MaxIdleConns, ConnMaxIdleTime: opt.ConnMaxIdleTime, ConnMaxLifetime: opt.ConnMaxLifetime,
			// A cluster answers MOVED/ASK during resharding and failover;
			// allow a few redirects within the short timeouts.
			MaxRedirects: 3,
		})
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis (%s): connect: %w", t.Mode(), err)
	}
	return rdb, nil
}
