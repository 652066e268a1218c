package testdeps

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// When neither SESSIONGW_TEST_DATABASE_URL nor SESSIONGW_TEST_REDIS_URL is
// set and a Docker engine answers, the tests of one package share one
// Postgres and one Redis container started with testcontainers-go (removed
// by its reaper when the test binary exits); otherwise they use the local
// services. Each test still gets its own schema and key prefix.
var (
	containersOnce sync.Once
	containerPG    string
	containerRedis string
	containersErr  error
)

// Container images used when Docker is available.
const (
	postgresImage = "postgres:15-alpine"
	redisImage    = "redis:7-alpine"
)

func useContainers() bool {
	if os.Getenv("SESSIONGW_TEST_DATABASE_URL") != "" || os.Getenv("SESSIONGW_TEST_REDIS_URL") != "" {
		return false
	}
	return dockerReachable()
}

var dockerOnce = sync.OnceValue(func() bool {
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.Ping(ctx, client.PingOptions{})
	return err == nil
})

func dockerReachable() bool { return dockerOnce() }

func startContainers() (pgURL, redisURL string, err error) {
	containersOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		pg, err := tcpostgres.Run(ctx, postgresImage,
			tcpostgres.WithDatabase("test"), tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"),
			tcpostgres.BasicWaitStrategies())
		if err != nil {
			containersErr = fmt.Errorf("start Postgres container: %w", err)
			return
		}
		if containerPG, err = pg.ConnectionString(ctx, "sslmode=disable"); err != nil {
			containersErr = err
			return
		}
		rd, err := tcredis.Run(ctx, redisImage)
		if err != nil {
			containersErr = fmt.Errorf("start Redis container: %w", err)
			return
		}
		containerRedis, containersErr = rd.ConnectionString(ctx)
	})
	return containerPG, containerRedis, containersErr
}
