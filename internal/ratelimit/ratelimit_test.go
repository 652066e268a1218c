package ratelimit_test

import (
	"testing"

	"github.com/sessiongw/sessiongw/internal/ratelimit"
)

func TestOnlyFailuresSpendTheBudget(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(0.001, 3) // effectively no refill during the test
	for range 100 {
		if !l.Allow("10.0.0.1") {
			t.Fatal("Allow spent budget: a client with no failures was limited")
		}
	}
	for range 3 {
		l.Failed("10.0.0.1")
	}
	if l.Allow("10.0.0.1") {
		t.Error("a client that spent its burst on failures is still allowed")
	}
	if !l.Allow("10.0.0.2") {
		t.Error("another client was limited")
	}
	l.Failed("")
	if !l.Allow("") {
		t.Error("the empty client (no HTTP request) was limited")
	}
}
