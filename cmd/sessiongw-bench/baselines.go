package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/session"
	"github.com/sessiongw/sessiongw/internal/sessioncodec"
)

// The baselines are the ceilings each scenario is compared with: bare Echo
// handlers that do the least the gateway must do on that path.

func setHeaders(h http.Header) {
	h["Cache-Control"] = []string{"no-store"}
	h["Content-Length"] = []string{"0"}
	h["X-Auth-User-Id"] = []string{"1"}
	h["X-Auth-Username"] = []string{"user1"}
	h["X-Auth-Email"] = []string{"user1@example.com"}
	h["X-Auth-Roles"] = []string{"user"}
	h["X-Auth-Session-Id"] = []string{"305a3c16-043e-46cc-8f0a-69f4ec4d1904"}
}

// allow answers 200 with the same headers as the gateway's allow.
func allow(c echo.Context) error {
	setHeaders(c.Response().Header())
	c.Response().WriteHeader(http.StatusOK)
	return nil
}

// ceiling: 200 with the same five headers, nothing else.
func ceilingHandler() http.Handler {
	e := echo.New()
	e.Any("/v1/auth", allow)
	return e
}

// redisGetHandler: one go-redis GET of a value the size of a cached session.
func redisGetHandler(ctx context.Context, rdb *goredis.Client, key string, r session.Restored) (http.Handler, error) {
	v, err := sessioncodec.Encode(r)
	if err != nil {
		return nil, err
	}
	if err := rdb.Set(ctx, key, v, 10*time.Minute).Err(); err != nil {
		return nil, err
	}
	e := echo.New()
	e.Any("/v1/auth", func(c echo.Context) error {
		if _, err := rdb.Get(c.Request().Context(), key).Bytes(); err != nil {
			return c.NoContent(http.StatusServiceUnavailable)
		}
		return allow(c)
	})
	return e, nil
}

// pgQueryHandler: one pgx primary-key query joining users, for a fixed
// session (the baseline this row has had since round one: twelve columns,
// as the validation query had then).
func pgQueryHandler(pool *pgxpool.Pool, hash []byte) http.Handler {
	e := echo.New()
	e.Any("/v1/auth", func(c echo.Context) error {
		var (
			id                  [16]byte
			uid                 string
			created, exp, act   time.Time
			ip, ua, name, email string
			remember, active    bool
			roles               []string
		)
		err := pool.QueryRow(c.Request().Context(), `
			SELECT s.public_id, s.user_id, s.created_at, s.expires_at, s.last_activity_at,
			       s.ip_address, s.user_agent, s.remember_me, u.username, u.email, u.is_active, u.roles
			FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.token_hash = $1`, hash).Scan(&id, &uid, &created, &exp, &act, &ip, &ua, &remember, &name, &email, &active, &roles)
		if err != nil {
			return c.NoContent(http.StatusServiceUnavailable)
		}
		return allow(c)
	})
	return e
}

// pgQueryPerTokenHandler: the gateway's own validation query for the
// session the request's bearer token names (its SHA-256, as stored), so
// the baseline reads the same rows and columns as the gateway, and what
// the gateway takes beyond it is its per-request work.
func pgQueryPerTokenHandler(pool *pgxpool.Pool) http.Handler {
	e := echo.New()
	e.Any("/v1/auth", func(c echo.Context) error {
		tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok {
			return c.NoContent(http.StatusUnauthorized)
		}
		h := sha256.Sum256([]byte(tok))
		var (
			id                                   [16]byte
			uid, ip, lastIP, ua, kind, tokenName string
			created, exp, act, authAt            time.Time
			remember, newDevice, active          bool
			amr, roles                           []string
			name, email                          string
		)
		err := pool.QueryRow(c.Request().Context(), postgres.RestoreQuery(), h[:]).Scan(&id, &uid, &created, &exp, &act, &ip, &lastIP, &ua,
			&remember, &newDevice, &authAt, &amr, &kind, &tokenName, &name, &email, &active, &roles)
		if err != nil {
			return c.NoContent(http.StatusServiceUnavailable)
		}
		return allow(c)
	})
	return e
}

// serve runs h on 127.0.0.1:0 until stop is called.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return fmt.Sprintf("http://%s", ln.Addr()), func() { srv.Close() }, nil
}
