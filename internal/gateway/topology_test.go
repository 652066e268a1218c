package gateway_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/redis"
	"github.com/sessiongw/sessiongw/internal/testenv"
	"github.com/sessiongw/sessiongw/internal/testenv/redistest"
	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// TestRedisCluster runs three replicas against a real three-master Redis
// Cluster, configured with a single seed node: sessions spread over the
// masters, the bus uses sharded pub/sub, revocation is immediate on every
// replica, and a TRUNCATE empties every master.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodes := redistest.StartCluster(t, 3, 0)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	cfg := testenv.Config(t)
	cfg.RedisAddrs = []string{nodes[0].Addr()} // one seed is enough
	cfg.LocalCacheTTL = time.Minute
	var reps []*testenv.Replica
	for range 3 {
		reps = append(reps, testenv.Start(t, cfg, gateway.Options{}))
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	user(t, reps[0].URL, 1, "alice")

	// Sessions land on several masters, and every replica validates them.
	var toks []string
	for range 30 {
		tok, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
		for _, rep := range reps {
			wantStatus(t, "validate on the cluster", auth(t, rep.URL, tok), http.StatusOK)
		}
		toks = append(toks, tok)
	}
	holders := map[string]int{}
	var mu sync.Mutex
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		keys, err := node.Keys(ctx, cfg.RedisPrefix+":sess:*").Result()
		mu.Lock()
		holders[node.Options().Addr] = len(keys)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	total, masters := 0, 0
	for _, n := range holders {
		total += n
		if n > 0 {
			masters++
		}
	}
	if total != len(toks) || masters < 2 {
		t.Fatalf("cached entries per master: %v; want %d entries spread over at least 2 masters", holders, len(toks))
	}

	// The bus is sharded pub/sub on the channel's own master: every replica
	// is an SSUBSCRIBE subscriber there, none a plain one.
	owner, err := cc.MasterForKey(ctx, redis.Channel(cfg.RedisPrefix))
	if err != nil {
		t.Fatal(err)
	}
	shard, err := owner.Do(ctx, "PUBSUB", "SHARDNUMSUB", redis.Channel(cfg.RedisPrefix)).Slice()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := owner.PubSubNumSub(ctx, redis.Channel(cfg.RedisPrefix)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shard) != 2 || shard[1] != int64(len(reps)) || plain[redis.Channel(cfg.RedisPrefix)] != 0 {
		t.Fatalf("PUBSUB SHARDNUMSUB %v, NUMSUB %v; want %d sharded subscribers and no plain ones", shard, plain, len(reps))
	}

	// Revocation is immediate on every replica (acks over sharded pub/sub).
	rng := rand.New(rand.NewPCG(7, 8))
	trials, violations := testenv.Trials(100), 0
	for i := range trials {
		tok, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
		for _, rep := range reps {
			auth(t, rep.URL, tok)
			auth(t, rep.URL, tok)
		}
		by := reps[rng.IntN(len(reps))].URL
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, by+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
		for _, j := range rng.Perm(len(reps)) {
			if s := auth(t, reps[j].URL, tok).Status; s != http.StatusUnauthorized {
				violations++
				t.Logf("trial %d: replica %d answered %d after the logout returned", i, j, s)
			}
		}
		if n, err := cc.Exists(ctx, redis.Key(cfg.RedisPrefix, mustToken(t, tok).Hash())).Result(); err != nil || n != 0 {
			t.Fatalf("trial %d: cluster entry of the revoked session: exists=%d err=%v", i, n, err)
		}
	}
	testenv.Report(t, "revocation immediate on every replica (Redis Cluster)", trials, violations)
	for _, rep := range reps {
		if !rep.Gateway.Trusted() {
			t.Errorf("replica %s does not trust its caches on the cluster", rep.URL)
		}
	}

	// A TRUNCATE (outside the API) empties the cache on every master.
	if _, err := reps[0].Gateway.Pool().Exec(ctx, "TRUNCATE sessions CASCADE"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := 0
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			keys, err := node.Keys(ctx, cfg.RedisPrefix+":sess:*").Result()
			mu.Lock()
			left += len(keys)
			mu.Unlock()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d cached entries left on the cluster after TRUNCATE", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, rep := range reps {
		for _, tok := range toks[:5] {
			wantStatus(t, "after TRUNCATE", auth(t, rep.URL, tok), http.StatusUnauthorized)
		}
	}
}

// TestRedisSentinelFailover runs three replicas through Sentinel (with
// passwords on the data nodes and on the Sentinel) and forces a failover
// under validation traffic while sessions are being revoked. Valid
// sessions keep being answered, and once every replica has noticed the new
// master, no revoked session is accepted anywhere, including those revoked
// while the old master was still taking writes.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set := redistest.StartSentinel(t)
	cfg := testenv.Config(t)
	// The URL's host is ignored with SESSIONGW_REDIS_ADDRS: only the
	// password and database count.
	cfg.RedisURL = "redis://:" + set.Password + "@ignored.invalid:1/0"
	cfg.RedisAddrs = []string{set.SentinelAddr}
	cfg.RedisMasterName = set.MasterName
	cfg.RedisSentinelPassword = set.SentinelPassword
	cfg.LocalCacheTTL = time.Minute
	var reps []*testenv.Replica
	for range 3 {
		reps = append(reps, testenv.Start(t, cfg, gateway.Options{}))
	}
	user(t, reps[0].URL, 1, "alice")
	sc := set.SentinelClient()
	defer sc.Close()
	// make chaos fails over back and forth; make test once.
	rounds, violations := testenv.Trials(1), 0
	for round := range rounds {
		violations += sentinelFailover(t, ctx, set, sc, reps, cfg.RedisPrefix, round)
	}
	testenv.Report(t, "no revoked session accepted after a Sentinel failover", rounds*45, violations)
	if strings.Contains(reps[0].Logs.String(), "Bearer") {
		t.Error("a token reached the logs")
	}
}

// sentinelFailover runs one forced failover under traffic (see
// TestRedisSentinelFailover) and returns how many times a revoked session
// was accepted afterwards.
func sentinelFailover(t *testing.T, ctx context.Context, set *redistest.SentinelSet, sc *goredis.SentinelClient, reps []*testenv.Replica, prefix string, round int) int {
	t.Helper()
	newWarm := func(n int) []string {
		toks := make([]string, n)
		for i := range toks {
			toks[i], _ = testenv.NewSession(t, reps[0].URL, 1, false, "")
			for _, rep := range reps {
				wantStatus(t, "warm", auth(t, rep.URL, toks[i]), http.StatusOK)
				auth(t, rep.URL, toks[i])
			}
		}
		return toks
	}
	valid, before, during := newWarm(30), newWarm(15), newWarm(30)
	logout := func(rep *testenv.Replica, tok string) {
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, rep.URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	}
	for i, tok := range before {
		logout(reps[i%len(reps)], tok)
	}

	// Validation traffic on the valid sessions across all replicas.
	type failure struct {
		at     time.Time
		status int
	}
	var (
		mu       sync.Mutex
		failures []failure
		requests int
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, reps[i%len(reps)].URL+"/v1/auth", nil)
				req.Header.Set("Authorization", "Bearer "+valid[i%len(valid)])
				status := 0
				if resp, err := client.Do(req); err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				requests++
				if status != http.StatusOK {
					failures = append(failures, failure{time.Now(), status})
				}
				mu.Unlock()
			}
		}()
	}

	oldMaster := set.MasterAddr(t)
	resets := make([]uint64, len(reps))
	for i, rep := range reps {
		resets[i] = rep.Gateway.BusResets()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	// The demoted master of an earlier round may still be syncing.
	for {
		err := sc.Failover(ctx, set.MasterName).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "NOGOODSLAVE") && !strings.Contains(err.Error(), "INPROG") {
			t.Fatalf("round %d: SENTINEL FAILOVER: %v", round, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Revoke while the failover is under way, through every replica.
	rng := rand.New(rand.NewPCG(9, uint64(round)))
	for _, tok := range during {
		logout(reps[rng.IntN(len(reps))], tok)
		time.Sleep(60 * time.Millisecond)
	}
	revoked := time.Now()
	// The failover is over once the Sentinel names the new master and every
	// replica has noticed the change and trusts its caches again.
	for set.MasterAddr(t) == oldMaster {
		if time.Now().After(deadline) {
			t.Fatalf("round %d: the Sentinel never switched masters", round)
		}
		time.Sleep(20 * time.Millisecond)
	}
	switched := time.Now()
	for i, rep := range reps {
		for rep.Gateway.BusResets() == resets[i] || !rep.Gateway.Trusted() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: replica %d: resets %d→%d, trusted %v: never recovered from the failover", round, i, resets[i], rep.Gateway.BusResets(), rep.Gateway.Trusted())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	end := time.Now()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("round %d: revokes during the failover done after %v; Sentinel switch seen after %v; every replica recovered after %v; %d validations, %d failed",
		round, revoked.Sub(start).Round(time.Millisecond), switched.Sub(start).Round(time.Millisecond), end.Sub(start).Round(time.Millisecond), requests, len(failures))
	for _, f := range failures {
		if f.at.Before(start) || f.at.After(end) {
			t.Errorf("round %d: a valid session got %d at %v, outside the failover (%v to %v)", round, f.status, f.at.Format(time.StampMicro), start.Format(time.StampMicro), end.Format(time.StampMicro))
		}
	}

	newMaster := set.Client(set.MasterAddr(t))
	defer newMaster.Close()
	violations := 0
	for check := range 3 {
		for _, tok := range append(append([]string{}, before...), during...) {
			for j, rep := range reps {
				if s := auth(t, rep.URL, tok).Status; s != http.StatusUnauthorized {
					violations++
					t.Errorf("round %d, check %d: replica %d answered %d for a session revoked before or during the failover", round, check, j, s)
				}
			}
			if n, _ := newMaster.Exists(ctx, redis.Key(prefix, mustToken(t, tok).Hash())).Result(); n != 0 {
				t.Errorf("round %d, check %d: the new master still caches a revoked session", round, check)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, tok := range valid {
		wantStatus(t, "valid after the failover", auth(t, reps[1].URL, tok), http.StatusOK)
	}
	return violations
}

// TestRedisClusterFailoverReappliesRevocations: a failover of a shard other
// than the bus's leaves every subscription alone, yet the new master may
// hold entries whose deletion its old master acknowledged (asynchronous
// replication). The test plants exactly that: a revoked session's entry,
// written back to its master and replicated, then fails that shard over.
// Every replica must notice the new master and re-apply recent revocations
// before trusting its caches again.
func TestRedisClusterFailoverReappliesRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nodes := redistest.StartCluster(t, 3, 1)
	cfg := testenv.Config(t)
	cfg.RedisAddrs = []string{nodes[0].Addr(), nodes[1].Addr()}
	cfg.LocalCacheTTL = time.Minute
	var reps []*testenv.Replica
	for range 3 {
		reps = append(reps, testenv.Start(t, cfg, gateway.Options{}))
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cc.Close() })
	user(t, reps[0].URL, 1, "alice")
	busOwner, err := cc.MasterForKey(ctx, redis.Channel(cfg.RedisPrefix))
	if err != nil {
		t.Fatal(err)
	}

	// A session cached on a master that does not carry the bus.
	var tok, key string
	var master *goredis.Client
	for tok == "" {
		tk, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
		k := redis.Key(cfg.RedisPrefix, mustToken(t, tk).Hash())
		m, err := cc.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr != busOwner.Options().Addr {
			tok, key, master = tk, k, m
		}
	}
	for _, rep := range reps {
		wantStatus(t, "warm", auth(t, rep.URL, tok), http.StatusOK)
	}
	entry, err := cc.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("cached entry: %v", err)
	}
	wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[1].URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)

	// What a lost DEL looks like on the promoted replica.
	if err := cc.Set(ctx, key, entry, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := master.Wait(ctx, 1, 5000).Result(); err != nil {
		t.Fatalf("WAIT: %v", err)
	}

	resets := make([]uint64, len(reps))
	for i, rep := range reps {
		resets[i] = rep.Gateway.BusResets()
	}
	replica := replicaOf(t, ctx, master, addrs)
	if err := replica.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER: %v", err)
	}
	testdeps.WaitFor(t, 30*time.Second, func() bool {
		role, err := replica.Do(ctx, "ROLE").Slice()
		return err == nil && role[0] == "master"
	}, "the replica never took over")
	for i, rep := range reps {
		testdeps.WaitFor(t, 30*time.Second, func() bool { return rep.Gateway.BusResets() != resets[i] && rep.Gateway.Trusted() },
			"replica %d never noticed the new master", i)
	}
	for j, rep := range reps {
		wantStatus(t, "revoked session after the failover on replica "+string(rune('0'+j)), auth(t, rep.URL, tok), http.StatusUnauthorized)
	}
	if n, err := replica.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("the new master still holds the revoked session's entry (exists=%d, err=%v)", n, err)
	}

	// Now the shard that carries the bus: every replica must end up
	// subscribed on its new master and revocation must be immediate again.
	for i, rep := range reps {
		resets[i] = rep.Gateway.BusResets()
	}
	busReplica := replicaOf(t, ctx, busOwner, addrs)
	if err := busReplica.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER of the bus shard: %v", err)
	}
	channel := redis.Channel(cfg.RedisPrefix)
	testdeps.WaitFor(t, 30*time.Second, func() bool {
		n, err := busReplica.Do(ctx, "PUBSUB", "SHARDNUMSUB", channel).Slice()
		return err == nil && len(n) == 2 && n[1] == int64(len(reps))
	}, "after the bus shard's failover, the new master does not have %d subscribers", len(reps))
	for i, rep := range reps {
		testdeps.WaitFor(t, 30*time.Second, func() bool { return rep.Gateway.BusResets() != resets[i] && rep.Gateway.Trusted() },
			"replica %d never recovered from the bus shard's failover", i)
	}
	for i := range 20 {
		tk, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
		for _, rep := range reps {
			auth(t, rep.URL, tk)
			auth(t, rep.URL, tk)
		}
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[i%len(reps)].URL+"/v1/session", nil, testenv.Bearer(tk)...), http.StatusNoContent)
		for j, rep := range reps {
			if s := auth(t, rep.URL, tk).Status; s != http.StatusUnauthorized {
				t.Errorf("after the bus shard's failover, revoke %d: replica %d answered %d", i, j, s)
			}
		}
	}
}

// replicaOf returns a client of master's replica (nodes are on addrs).
func replicaOf(t *testing.T, ctx context.Context, master *goredis.Client, addrs []string) *goredis.Client {
	t.Helper()
	id, err := master.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, a := range addrs {
			c := goredis.NewClient(&goredis.Options{Addr: a})
			info, err := c.Info(ctx, "replication").Result()
			_, port, _ := strings.Cut(master.Options().Addr, ":")
			if err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+port+"\r") {
				t.Cleanup(func() { c.Close() })
				return c
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica of %s (%s) found", master.Options().Addr, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisACL is the ACL rule set docs/operations.md gives for the gateway's user.
const redisACL = "resetkeys ~<prefix>:* ~{<prefix>}:* resetchannels &{<prefix>}:* -@all +@connection +info +time " +
	"+get +set +del +scan +zadd +zrangebyscore +zremrangebyscore +pexpire +eval +evalsha +script|load " +
	"+publish +subscribe +unsubscribe +spublish +ssubscribe +sunsubscribe +cluster|slots +cluster|shards"

// TestRedisTLSAndACLUser runs a replica against Redis over TLS only
// (rediss://, certificate from a private CA given by
// SESSIONGW_REDIS_CA_FILE), as an ACL user, with the default user off.
// A wrong password or a missing CA is refused at start with a clear error.
func TestRedisTLSAndACLUser(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile := redistest.TLSFiles(t)
	tlsPort := testdeps.FreePort(t)
	cfg := testenv.Config(t)
	// The least the gateway needs (the ACL line of docs/operations.md).
	acl := strings.Fields(strings.ReplaceAll(redisACL, "<prefix>", cfg.RedisPrefix))
	redistest.StartServer(t, append([]string{
		"--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no",
		"--user", "default", "off", "--user", "gateway", "on", ">s3cret-pw"}, acl...)...)
	cfg.RedisURL = fmt.Sprintf("rediss://gateway:s3cret-pw@127.0.0.1:%d/0", tlsPort)
	cfg.RedisCAFile = caFile
	cfg.LocalCacheTTL = time.Minute
	reps := []*testenv.Replica{testenv.Start(t, cfg, gateway.Options{}), testenv.Start(t, cfg, gateway.Options{})}
	user(t, reps[0].URL, 1, "alice")
	tok, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
	for _, rep := range reps {
		wantStatus(t, "validate over TLS", auth(t, rep.URL, tok), http.StatusOK)
	}
	opt, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	opt.TLSConfig.RootCAs = pool
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	key := redis.Key(cfg.RedisPrefix, mustToken(t, tok).Hash())
	if _, err := rdb.Get(context.Background(), key).Result(); err != nil {
		t.Fatalf("cached entry over TLS: %v", err)
	}
	wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[1].URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
	for _, rep := range reps {
		wantStatus(t, "after logout", auth(t, rep.URL, tok), http.StatusUnauthorized)
	}
	// A TRUNCATE needs SCAN and DEL under the prefix.
	tok2, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
	wantStatus(t, "validate", auth(t, reps[0].URL, tok2), http.StatusOK)
	if _, err := reps[0].Gateway.Pool().Exec(context.Background(), "TRUNCATE sessions CASCADE"); err != nil {
		t.Fatal(err)
	}
	testdeps.WaitFor(t, 10*time.Second, func() bool {
		return !(rdb.Get(context.Background(), redis.Key(cfg.RedisPrefix, mustToken(t, tok2).Hash())).Err() != goredis.Nil)
	}, "the cache entry survived a TRUNCATE under the restricted ACL")
	for _, rep := range reps {
		if !rep.Gateway.Trusted() {
			t.Errorf("replica %s does not trust its caches under the restricted ACL", rep.URL)
		}
	}

	for name, mod := range map[string]func(*config.Config){
		"wrong password": func(c *config.Config) { c.RedisURL = strings.Replace(c.RedisURL, "s3cret-pw", "wrong", 1) },
		"no CA file":     func(c *config.Config) { c.RedisCAFile = "" },
		"plain TCP": func(c *config.Config) {
			c.RedisURL = strings.Replace(c.RedisURL, "rediss://", "redis://", 1)
			c.RedisCAFile = ""
		},
	} {
		bad := cfg
		mod(&bad)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		g, err := gateway.New(ctx, bad, slog.New(slog.DiscardHandler), gateway.Options{})
		cancel()
		if err == nil {
			g.Close()
			t.Errorf("%s: the gateway started", name)
			continue
		}
		if !strings.Contains(err.Error(), "redis") || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: error %q; want a Redis error without the password", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

// TestRedisClusterOverTLS: a cluster whose clients and bus speak TLS
// (private CA), configured with one TLS seed: every node is verified by
// its own address, and revocation stays immediate.
func TestRedisClusterOverTLS(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile := redistest.TLSFiles(t)
	nodes, tlsAddrs := redistest.StartClusterTLS(t, 3, caFile, certFile, keyFile)
	cfg := testenv.Config(t)
	cfg.RedisURL = "rediss://ignored.invalid:1/0"
	cfg.RedisAddrs = tlsAddrs[:1]
	cfg.RedisCAFile = caFile
	cfg.LocalCacheTTL = time.Minute
	reps := []*testenv.Replica{testenv.Start(t, cfg, gateway.Options{}), testenv.Start(t, cfg, gateway.Options{})}
	user(t, reps[0].URL, 1, "alice")
	for i := range 20 {
		tok, _ := testenv.NewSession(t, reps[0].URL, 1, false, "")
		for _, rep := range reps {
			wantStatus(t, "validate over TLS", auth(t, rep.URL, tok), http.StatusOK)
			auth(t, rep.URL, tok)
		}
		wantStatus(t, "logout", testenv.Do(t, http.MethodDelete, reps[i%2].URL+"/v1/session", nil, testenv.Bearer(tok)...), http.StatusNoContent)
		for j, rep := range reps {
			if s := auth(t, rep.URL, tok).Status; s != http.StatusUnauthorized {
				t.Errorf("revoke %d: replica %d answered %d", i, j, s)
			}
		}
	}
	// Every connection to every node came in on its TLS port: the plain
	// port serves only this check (CLIENT LIST's laddr is the port a
	// client connected to).
	for _, n := range nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr()})
		list, err := c.ClientList(context.Background()).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			if strings.Contains(line, "laddr="+n.Addr()+" ") && !strings.Contains(line, "cmd=client|list") {
				t.Errorf("node %s: a client on the plain port: %s", n.Addr(), line)
			}
		}
	}
	for _, rep := range reps {
		if !rep.Gateway.Trusted() {
			t.Errorf("replica %s does not trust its caches on the TLS cluster", rep.URL)
		}
	}
}
