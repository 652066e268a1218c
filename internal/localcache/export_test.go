package localcache

import "time"

// NewTiered is New with a smaller hot tier and a clock, for tests.
func NewTiered(maxEntries, hotMax int, now func() time.Time) *Cache {
	c := NewSized(maxEntries, hotMax)
	c.now = now
	return c
}
