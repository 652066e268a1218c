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

func TestReports(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	r := ratelimit.NewReports(1, 3, 2, time.Hour)
	ratelimit.SetReportsClock(r, func() time.Time { return now })
	steps := []struct {
		session, value string
		advance        time.Duration
		want           bool
	}{
		{"a", "v1", 0, true},
		{"a", "v1", 0, true},
		{"a", "v2", 0, true},
		{"a", "v3", time.Second, false},    // a third distinct value within the window
		{"a", "v1", 0, false},              // the burst of 3 is spent (one refilled, taken above)
		{"b", "v9", 0, true},               // another session has its own budget
		{"a", "v1", 2 * time.Second, true}, // refilled
		{"a", "v3", time.Hour, true},       // a new window
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got := r.AllowReport(s.session, s.value); got != s.want {
			t.Errorf("step %d: AllowReport(%s, %s) = %v; want %v", i, s.session, s.value, got, s.want)
		}
	}
}
