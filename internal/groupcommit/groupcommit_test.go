package groupcommit_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessiongw/sessiongw/internal/groupcommit"
)

// A lone call is written alone; the calls that arrive while a batch is
// written form the next ones, at most max each, in arrival order; every
// call is written exactly once.
func TestCallsThatArriveMeanwhileFormTheNextBatches(t *testing.T) {
	var (
		mu      sync.Mutex
		batches [][]int
		release = make(chan struct{})
		written sync.WaitGroup
	)
	q := groupcommit.New(3, func(batch []int) {
		mu.Lock()
		batches = append(batches, slices.Clone(batch))
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release
		}
		for range batch {
			written.Done()
		}
	})
	written.Add(8)
	q.Add(0)
	for {
		mu.Lock()
		started := len(batches) == 1
		mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 8; i++ {
		q.Add(i)
	}
	if n := q.Pending(); n != 7 {
		t.Fatalf("Pending() = %d while the first batch is written; want 7", n)
	}
	close(release)
	written.Wait()
	want := [][]int{{0}, {1, 2, 3}, {4, 5, 6}, {7}}
	mu.Lock()
	if !slices.EqualFunc(batches, want, slices.Equal) {
		t.Errorf("batches %v; want %v", batches, want)
	}
	mu.Unlock()
	if n := q.Pending(); n != 0 {
		t.Errorf("Pending() = %d after every batch; want 0", n)
	}

	// Once idle, the next call starts a writer again.
	written.Add(1)
	q.Add(8)
	written.Wait()
	mu.Lock()
	defer mu.Unlock()
	if last := batches[len(batches)-1]; len(batches) != 5 || !slices.Equal(last, []int{8}) {
		t.Errorf("after idling, batches %v; want a fifth, [8]", batches)
	}
}
