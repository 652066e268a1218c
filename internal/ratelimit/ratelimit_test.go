package ratelimit_test

import (
	"testing"
	"time"

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

func TestConcurrentFailuresGoIntoDebt(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := ratelimit.New(10, 1).WithClock(func() time.Time { return now }) // 10/s, burst 1
	// Five lookups passed Allow together, then all found nothing.
	for range 5 {
		if !l.Allow("10.0.0.1") {
			t.Fatal("limited before any failure")
		}
	}
	for range 5 {
		l.Failed("10.0.0.1")
	}
	// 150 ms refill 1.5 tokens: enough to pass again if the overshoot were
	// forgiven, not enough to pay back a debt of four.
	now = now.Add(150 * time.Millisecond)
	if l.Allow("10.0.0.1") {
		t.Error("allowed while in debt: the concurrent overshoot was not paid back")
	}
	now = now.Add(time.Second)
	if !l.Allow("10.0.0.1") {
		t.Error("still limited after the debt was repaid")
	}
}
