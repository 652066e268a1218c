package redis_test

import (
	"reflect"
	"testing"

	"github.com/sessiongw/sessiongw/internal/redis"
)

// FuzzDecode: no input makes Decode panic, and whatever it accepts
// re-encodes to the same value.
func FuzzDecode(f *testing.F) {
	good, err := redis.Encode(restored())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(`{"i":"b78e32c8-1c73-4b34-b244-ba6ed8fb239b","u":42,"e":1}`)) // the old JSON form
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := redis.Decode(b)
		if err != nil {
			return
		}
		again, err := redis.Encode(r)
		if err != nil {
			t.Fatalf("Encode of a decoded entry: %v", err)
		}
		r2, err := redis.Decode(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decode = %+v, %v; want %+v", r2, err, r)
		}
	})
}

func TestDecodeRejectsDamage(t *testing.T) {
	t.Parallel()
	good, _ := redis.Encode(restored())
	if len(good) > 160 {
		t.Errorf("encoded entry is %d bytes; want a compact form", len(good))
	}
	for name, b := range map[string][]byte{
		"truncated":     good[:len(good)-1],
		"trailing data": append(append([]byte{}, good...), 0),
		"version 1":     append([]byte{1}, good[1:]...),
		"version 3":     append([]byte{3}, good[1:]...),
		"old JSON":      []byte(`{"i":"b78e32c8-1c73-4b34-b244-ba6ed8fb239b","u":42,"e":1}`),
		"empty":         nil,
	} {
		if _, err := redis.Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
