package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiongw/sessiongw/internal/session"
)

func TestInterpret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err         error
		unavailable bool
	}{
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("read: %w", io.EOF), true},
		{context.DeadlineExceeded, true},
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "53300"}, true}, // too_many_connections
		{&pgconn.PgError{Code: "40001"}, true}, // serialization_failure
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "42P01"}, false}, // undefined_table: a bug, not an outage
		{pgx.ErrNoRows, false},
		{errors.New("something else"), false},
	}
	for _, tt := range tests {
		got := interpret("op", tt.err)
		if errors.Is(got, session.ErrUnavailable) != tt.unavailable {
			t.Errorf("interpret(%v) unavailable = %v; want %v", tt.err, !tt.unavailable, tt.unavailable)
		}
		if !errors.Is(got, tt.err) {
			t.Errorf("interpret(%v) lost the cause", tt.err)
		}
	}
	if interpret("op", nil) != nil {
		t.Error("interpret(nil) != nil")
	}
	if !isUniqueViolation(fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505"})) {
		t.Error("isUniqueViolation missed a wrapped 23505")
	}
}
