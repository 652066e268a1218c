// Package groupcommit gathers concurrent calls into batches written one at
// a time: the calls that arrive while a batch is being written form the
// next one, so a lone call waits for nobody and a busy caller's batches
// grow with its load. What a batch is and how its callers learn their
// results is the user's (logouts in package session, logins in package
// postgres).
package groupcommit

import "sync"

// Queue batches calls of type T. Write sees each batch from one goroutine
// at a time; it must let every call of the batch know its result.
type Queue[T any] struct {
	max     int
	write   func(batch []T)
	mu      sync.Mutex
	pending []T
	writing bool // a goroutine is writing batches
}

// New returns a queue of batches of at most max calls, written by write.
func New[T any](max int, write func(batch []T)) *Queue[T] {
	return &Queue[T]{max: max, write: write}
}

// Add queues c for the next batch, starting a writer when none is running.
func (q *Queue[T]) Add(c T) {
	q.mu.Lock()
	q.pending = append(q.pending, c)
	start := !q.writing
	q.writing = true
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// Pending is how many calls wait for the next batch.
func (q *Queue[T]) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// run writes the pending calls, a batch at a time, until none is left.
func (q *Queue[T]) run() {
	for {
		q.mu.Lock()
		n := min(len(q.pending), q.max)
		if n == 0 {
			q.writing = false
			q.mu.Unlock()
			return
		}
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		if len(q.pending) == 0 {
			q.pending = nil // let the array go
		}
		q.mu.Unlock()
		q.write(batch)
	}
}
