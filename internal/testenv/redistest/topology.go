package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/testenv/testdeps"
)

// StartCluster starts masters×(1+replicas) redis-server nodes in
// cluster mode on free loopback ports, assigns every slot across the
// masters (each with that many replicas) with redis-cli --cluster create,
// and waits until the cluster is ok. The nodes are stopped when the test
// ends.
func StartCluster(t testing.TB, masters, replicas int) []*Server {
	t.Helper()
	return startCluster(t, masters, replicas, func() []string { return nil })
}

// StartClusterTLS starts a cluster of masters whose clients and
// cluster bus speak TLS (certificates from TLSFiles); it returns the
// nodes and their TLS addresses. Each node also keeps a plain port, used
// only to set the cluster up.
func StartClusterTLS(t testing.TB, masters int, caFile, certFile, keyFile string) ([]*Server, []string) {
	t.Helper()
	var tlsAddrs []string
	nodes := startCluster(t, masters, 0, func() []string {
		port := testdeps.FreePort(t)
		tlsAddrs = append(tlsAddrs, fmt.Sprintf("127.0.0.1:%d", port))
		return []string{"--tls-port", strconv.Itoa(port), "--tls-cluster", "yes", "--tls-replication", "yes",
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no"}
	})
	return nodes, tlsAddrs
}

func startCluster(t testing.TB, masters, replicas int, nodeArgs func() []string) []*Server {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("testenv: redis-cli is not installed: %v", err)
	}
	dir := t.TempDir()
	nodes := make([]*Server, masters*(1+replicas))
	addrs := make([]string, len(nodes))
	for i := range nodes {
		port := testdeps.FreePort(t)
		nodes[i] = StartServer(t, append([]string{"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-port", strconv.Itoa(testdeps.FreePort(t)), "--cluster-node-timeout", "2000"}, nodeArgs()...)...)
		addrs[i] = nodes[i].Addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, node := range nodes {
		rdb := goredis.NewClient(&goredis.Options{Addr: node.Addr()})
		for {
			info, err := rdb.ClusterInfo(context.Background()).Result()
			role, rerr := rdb.Do(context.Background(), "ROLE").Slice()
			linked := rerr == nil && len(role) > 0 && (role[0] == "master" || (len(role) > 3 && role[3] == "connected"))
			if err == nil && strings.Contains(info, "cluster_state:ok") && linked {
				break
			}
			if time.Now().After(deadline) {
				rdb.Close()
				t.Fatalf("testenv: cluster node %s not ok: %v %s", node.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rdb.Close()
	}
	return nodes
}

// SentinelSet is a Redis master, one replica and one Sentinel watching
// them, all on loopback, with passwords on the data nodes and on the
// Sentinel.
type SentinelSet struct {
	Master, Replica  *Server
	SentinelAddr     string
	MasterName       string
	Password         string // data nodes
	SentinelPassword string
	sentinel         *exec.Cmd
}

// StartSentinel starts a SentinelSet; it is stopped when the test
// ends.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	s := &SentinelSet{MasterName: "sgw-master", Password: "data-" + testdeps.Name("pw"), SentinelPassword: "sentinel-" + testdeps.Name("pw")}
	auth := []string{"--requirepass", s.Password, "--masterauth", s.Password}
	s.Master = StartServer(t, auth...)
	s.Replica = StartServer(t, append(auth, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))...)
	s.waitLinked(t, s.Replica)

	dir := t.TempDir()
	port := testdeps.FreePort(t)
	s.SentinelAddr = fmt.Sprintf("127.0.0.1:%d", port)
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
loglevel warning
requirepass %s
sentinel monitor %s 127.0.0.1 %d 1
sentinel auth-pass %s %s
sentinel down-after-milliseconds %s 2000
sentinel failover-timeout %s 10000
`, port, dir, s.SentinelPassword, s.MasterName, s.Master.Port, s.MasterName, s.Password, s.MasterName, s.MasterName)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.sentinel = exec.Command("redis-server", path, "--sentinel")
	if err := s.sentinel.Start(); err != nil {
		t.Fatalf("testenv: start sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = s.sentinel.Process.Kill()
		_ = s.sentinel.Wait()
	})
	// Ready when the Sentinel knows the master and has found the replica.
	sc := s.SentinelClient()
	defer sc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		replicas, err := sc.Replicas(context.Background(), s.MasterName).Result()
		if err == nil && len(replicas) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: sentinel not ready: %v %v", err, replicas)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// SentinelClient returns a client of the Sentinel itself.
func (s *SentinelSet) SentinelClient() *goredis.SentinelClient {
	return goredis.NewSentinelClient(&goredis.Options{Addr: s.SentinelAddr, Password: s.SentinelPassword})
}

// MasterAddr asks the Sentinel for the current master.
func (s *SentinelSet) MasterAddr(t testing.TB) string {
	t.Helper()
	sc := s.SentinelClient()
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(context.Background(), s.MasterName).Result()
	if err != nil {
		t.Fatalf("testenv: sentinel get-master-addr-by-name: %v", err)
	}
	return a[0] + ":" + a[1]
}

// Client returns a client of one data node.
func (s *SentinelSet) Client(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, Password: s.Password})
}

func (s *SentinelSet) waitLinked(t testing.TB, replica *Server) {
	t.Helper()
	rdb := s.Client(replica.Addr())
	defer rdb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := rdb.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: replica %s never linked to its master: %v", replica.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
