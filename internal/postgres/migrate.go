package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("postgres: migration %q: name must start with a number and '_'", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies pending migrations and returns how many it applied. It
// holds a session-level advisory lock (keyed by the current schema) for the
// whole run, so replicas starting at once apply each migration exactly once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	return MigrateTo(ctx, pool, int(^uint(0)>>1))
}

// MigrateTo applies pending migrations up to and including version target
// (tests use it to build a database of an earlier schema).
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, target int) (int, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, interpret("migrate: acquire", err)
	}
	defer conn.Release()
	const lockKey = `hashtext(current_schema() || ':sessiongw:migrate')`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`); err != nil {
		return 0, interpret("migrate: lock", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`) //nolint:errcheck // released with the connection anyway

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS sessiongw_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, interpret("migrate: version table", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM sessiongw_migrations`)
	if err != nil {
		return 0, interpret("migrate: read versions", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, interpret("migrate: read versions", err)
	}
	for _, v := range vs {
		applied[int(v)] = true
	}
	n := 0
	for _, m := range ms {
		if applied[m.Version] || m.Version > target {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO sessiongw_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return n, interpret("migrate: apply "+m.Name, err)
		}
		n++
	}
	return n, nil
}
