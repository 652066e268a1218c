package session

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func chain(n int) []AuditRecord {
	prev := GenesisHash
	var out []AuditRecord
	for i := 1; i <= n; i++ {
		r := AuditRecord{Seq: int64(i), At: time.Unix(1_800_000_000, int64(i)*1000).UTC(), Event: EventSessionCreated,
			UserID: "7", SessionID: "b78e32c8-1c73-4b34-b244-ba6ed8fb239b", Actor: ActorAdmin, Details: AuditDetails(map[string]any{"b": 1, "a": 2})}
		r.PrevHash = prev
		r.Hash = ChainHash(prev, r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func verify(rs []AuditRecord, head AuditHead, expect *AuditHead) *ChainVerifier {
	return verifyFrom(AuditHead{Hash: GenesisHash}, rs, head, expect)
}

func verifyFrom(base AuditHead, rs []AuditRecord, head AuditHead, expect *AuditHead) *ChainVerifier {
	v := NewChainVerifier(expect)
	v.Start(AuditChain{Base: base, Head: head})
	for _, r := range rs {
		if !v.Add(r) {
			break
		}
	}
	v.Finish(head)
	return v
}

func TestChainHashSeparatesFields(t *testing.T) {
	t.Parallel()
	a := AuditRecord{Seq: 1, Event: "ab", Actor: "c", Details: json.RawMessage(`{}`)}
	b := AuditRecord{Seq: 1, Event: "a", Actor: "bc", Details: json.RawMessage(`{}`)}
	if bytes.Equal(ChainHash(GenesisHash, a), ChainHash(GenesisHash, b)) {
		t.Error("moving a byte from one field to the next keeps the hash")
	}
	if string(AuditDetails(map[string]any{"b": 1, "a": 2})) != `{"a":2,"b":1}` || string(AuditDetails(nil)) != `{}` {
		t.Error("details are not canonical")
	}
}

func TestChainVerifier(t *testing.T) {
	t.Parallel()
	rs := chain(4)
	head := AuditHead{Seq: 4, Hash: rs[3].Hash}
	if v := verify(rs, head, nil); v.Broken != "" || v.Records() != 4 {
		t.Fatalf("intact chain: %q after %d", v.Broken, v.Records())
	}
	if v := verify(nil, AuditHead{Seq: 0, Hash: GenesisHash}, nil); v.Broken != "" {
		t.Errorf("empty chain: %q", v.Broken)
	}
	changed := chain(4)
	changed[2].Actor = ActorSystem
	if v := verify(changed, head, nil); v.BrokenAt != 3 {
		t.Errorf("changed record 3: broken at %d (%q)", v.BrokenAt, v.Broken)
	}
	if v := verify(append(chain(4)[:1], chain(4)[2:]...), head, nil); v.BrokenAt != 2 {
		t.Errorf("missing record 2: broken at %d", v.BrokenAt)
	}
	if v := verify(chain(4)[:3], head, nil); v.BrokenAt != 4 {
		t.Errorf("missing last record: broken at %d", v.BrokenAt)
	}
	anchored := AuditHead{Seq: 2, Hash: rs[1].Hash}
	if v := verify(rs, head, &anchored); v.Broken != "" {
		t.Errorf("true anchor: %q", v.Broken)
	}
	other := AuditHead{Seq: 2, Hash: rs[0].Hash}
	if v := verify(rs, head, &other); v.BrokenAt != 2 {
		t.Errorf("false anchor: broken at %d", v.BrokenAt)
	}
	beyond := AuditHead{Seq: 9, Hash: rs[0].Hash}
	if v := verify(rs, head, &beyond); v.BrokenAt != 9 {
		t.Errorf("anchor beyond the chain: broken at %d", v.BrokenAt)
	}
}

// TestChainVerifierAfterPrune: records 1-3 pruned, the chain continues
// with an audit.pruned record naming record 3.
func TestChainVerifierAfterPrune(t *testing.T) {
	t.Parallel()
	rs := chain(5)
	base := AuditHead{Seq: 3, Hash: rs[2].Hash}
	p := AuditRecord{Seq: 6, At: rs[4].At, Event: EventAuditPruned, Actor: ActorSystem,
		Details: AuditDetails(AuditPrunedEntry(base, 3).Details), PrevHash: rs[4].Hash}
	p.Hash = ChainHash(p.PrevHash, p)
	kept := []AuditRecord{rs[3], rs[4], p}
	head := AuditHead{Seq: 6, Hash: p.Hash}
	if v := verifyFrom(base, kept, head, nil); v.Broken != "" || v.Records() != 3 {
		t.Fatalf("pruned chain: %q after %d records", v.Broken, v.Records())
	}
	if v := verifyFrom(base, kept, head, &AuditHead{Seq: 5, Hash: rs[4].Hash}); v.Broken != "" {
		t.Errorf("anchor after the base: %q", v.Broken)
	}
	if v := verifyFrom(base, kept, head, &base); v.Broken != "" {
		t.Errorf("anchor at the base: %q", v.Broken)
	}
	if v := verifyFrom(base, kept, head, &AuditHead{Seq: 2, Hash: rs[1].Hash}); v.BrokenAt != 2 {
		t.Errorf("anchor inside the pruned part: broken at %d (%q)", v.BrokenAt, v.Broken)
	}
	// More removed at the start and the base moved to hide it: no prune
	// record names the new base.
	moved := AuditHead{Seq: 4, Hash: rs[3].Hash}
	if v := verifyFrom(moved, kept[1:], head, nil); v.BrokenAt != 5 {
		t.Errorf("base moved without a prune record: broken at %d (%q)", v.BrokenAt, v.Broken)
	}
	// A base with no prune record at all.
	if v := verifyFrom(base, []AuditRecord{rs[3], rs[4]}, AuditHead{Seq: 5, Hash: rs[4].Hash}, nil); v.BrokenAt != 4 {
		t.Errorf("base without any prune record: broken at %d (%q)", v.BrokenAt, v.Broken)
	}
}

func TestParseAuditHead(t *testing.T) {
	t.Parallel()
	h := AuditHead{Seq: 12, Hash: chain(1)[0].Hash}
	got, err := ParseAuditHead(h.String())
	if err != nil || got.Seq != 12 || !bytes.Equal(got.Hash, h.Hash) {
		t.Errorf("round trip: %v, %v", got, err)
	}
	for _, bad := range []string{"", "12", "0:" + h.Hash.String(), "x:" + h.Hash.String(), "12:abcd", "12:" + h.Hash.String() + "00"} {
		if _, err := ParseAuditHead(bad); err == nil {
			t.Errorf("ParseAuditHead(%q) accepted", bad)
		}
	}
}
