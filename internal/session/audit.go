package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Audit events (a public contract: they are stored and exported).
const (
	EventSessionCreated         = "session.created"
	EventSessionCleared         = "session.cleared" // logout
	EventSessionRevoked         = "session.revoked" // one session, by its holder or an admin
	EventSessionsRevokedOthers  = "sessions.revoked_others"
	EventSessionsRevokedAll     = "sessions.revoked_all"
	EventSessionsExpired        = "sessions.expired_cleanup"
	EventUserCreated            = "user.created"
	EventUserUpdated            = "user.updated"
	EventUserDeactivated        = "user.deactivated"
	EventUserDeleted            = "user.deleted"
	EventAdminAuthFailed        = "admin.auth_failed"
	EventSessionNewDevice       = "session.new_device"
	EventNewDeviceAcknowledged  = "session.new_device_acknowledged"
	EventSessionEvicted         = "session.evicted"         // revoked to make room under the session limit
	EventSessionRotated         = "session.rotated"         // given a new token
	EventSessionReauthenticated = "session.reauthenticated" // the user authenticated again
	EventAPITokenCreated        = "api_token.created"
	EventAPITokenRevoked        = "api_token.revoked"
	// EventAuditPruned records a prune of old records: details through_seq
	// and through_hash name the last record removed (the chain's new base).
	EventAuditPruned = "audit.pruned"
)

// Actor kinds.
const (
	ActorSelf   = "self"   // the holder of the session
	ActorAdmin  = "admin"  // a caller with the admin token
	ActorSystem = "system" // the gateway itself (cleanup) or the command line
	// ActorAnonymous is a caller that failed to authenticate.
	ActorAnonymous = "anonymous"
)

// Actor is who caused a change, as the audit log records it.
type Actor struct {
	Kind      string
	ClientIP  string
	UserAgent string
}

type actorKey struct{}

// WithActor returns ctx carrying a; the store records it with every change
// made under ctx.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx (the system when none).
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Kind != "" {
		return a
	}
	return Actor{Kind: ActorSystem}
}

// AuditRecord is one link of the audit chain. Hash is
// SHA-256(PrevHash ‖ canonical encoding of the other fields); the first
// record's PrevHash is 32 zero bytes.
type AuditRecord struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Event     string          `json:"event"`
	UserID    string          `json:"user_id,omitempty"` // "": none
	SessionID string          `json:"session_id,omitempty"`
	ClientIP  string          `json:"client_ip"`
	UserAgent string          `json:"user_agent"`
	Actor     string          `json:"actor"`
	Details   json.RawMessage `json:"details"`
	PrevHash  HexBytes        `json:"prev_hash"`
	Hash      HexBytes        `json:"hash"`
}

// HexBytes is a byte string that reads and writes as lower-case hex.
type HexBytes []byte

func (b HexBytes) String() string { return hex.EncodeToString(b) }

// MarshalJSON writes b as a hex string.
func (b HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(b)) }

// GenesisHash is the PrevHash of the first record.
var GenesisHash = make([]byte, sha256.Size)

// AuditDetails encodes details canonically (object keys sorted, no
// whitespace), the form that is stored and hashed.
func AuditDetails(details map[string]any) json.RawMessage {
	if len(details) == 0 {
		return json.RawMessage(`{}`)
	}
	b, err := json.Marshal(details)
	if err != nil {
		panic(fmt.Sprintf("session: audit details do not encode: %v", err)) // our own maps of plain values
	}
	return b
}

// ChainHash returns the hash of r chained to prev. The canonical encoding
// is a version line followed by every field but the hashes as a netstring
// (decimal byte length, ':', bytes, ','), so no field can bleed into the
// next. Times count in Unix microseconds (what Postgres stores).
func ChainHash(prev []byte, r AuditRecord) []byte {
	var b bytes.Buffer
	b.WriteString("sessiongw-audit-v1\n")
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(',')
	}
	field(strconv.FormatInt(r.Seq, 10))
	field(strconv.FormatInt(r.At.UnixMicro(), 10))
	field(r.Event)
	// A user id is its text; ids that were integers before user ids
	// became strings were hashed as their decimal form, so old records
	// still verify.
	field(r.UserID)
	field(r.SessionID)
	field(r.ClientIP)
	field(r.UserAgent)
	field(r.Actor)
	field(string(r.Details))
	h := sha256.New()
	h.Write(prev)
	h.Write(b.Bytes())
	return h.Sum(nil)
}

// ChainVerifier checks records handed to it in sequence order.
type ChainVerifier struct {
	n    int64
	prev []byte
	// Broken describes the first broken link (empty while the chain holds).
	Broken   string
	BrokenAt int64
	expect   *AuditHead
	sawHead  bool
	base     AuditHead
	pruned   *AuditHead // the base the latest audit.pruned record names
}

// AuditHead is the sequence number and hash of the latest record, for
// anchoring the chain outside the database.
type AuditHead struct {
	Seq  int64    `json:"seq"`
	Hash HexBytes `json:"hash"`
}

// String renders the head as SEQ:HASH (the form --expect-head takes).
func (h AuditHead) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash.String() }

// ParseAuditHead parses SEQ:HASH.
func ParseAuditHead(s string) (AuditHead, error) {
	seqText, hashText, ok := bytes.Cut([]byte(s), []byte(":"))
	seq, err := strconv.ParseInt(string(seqText), 10, 64)
	if !ok || err != nil || seq < 1 {
		return AuditHead{}, Invalid("expect_head", "must be SEQ:HASH (a sequence number and a hex SHA-256)")
	}
	h, err := hex.DecodeString(string(hashText))
	if err != nil || len(h) != sha256.Size {
		return AuditHead{}, Invalid("expect_head", "must be SEQ:HASH (a sequence number and a hex SHA-256)")
	}
	return AuditHead{Seq: seq, Hash: h}, nil
}

// NewChainVerifier returns a verifier; expect, when non-nil, is a head
// recorded earlier that the chain must still contain unchanged.
func NewChainVerifier(expect *AuditHead) *ChainVerifier {
	return &ChainVerifier{prev: GenesisHash, expect: expect, base: AuditHead{Hash: GenesisHash}}
}

// Start implements AuditWalker: the chain starts after its base, the last
// pruned record.
func (v *ChainVerifier) Start(c AuditChain) { v.startAt(c.Base) }

func (v *ChainVerifier) startAt(base AuditHead) {
	if base.Seq == 0 {
		return
	}
	v.base, v.n, v.prev = base, base.Seq, base.Hash
	if v.expect != nil && v.expect.Seq <= base.Seq {
		if v.expect.Seq == base.Seq && bytes.Equal(v.expect.Hash, base.Hash) {
			v.sawHead = true
			return
		}
		v.fail(v.expect.Seq, fmt.Sprintf("the expected head's record was pruned (the chain now starts after record %d): verify against a checkpoint taken since", base.Seq))
	}
}

// Add checks the next record; it reports false once the chain is broken.
func (v *ChainVerifier) Add(r AuditRecord) bool {
	if v.Broken != "" {
		return false
	}
	want := v.n + 1
	switch {
	case r.Seq != want:
		v.fail(want, fmt.Sprintf("record %d is missing (found %d next)", want, r.Seq))
	case !bytes.Equal(r.PrevHash, v.prev):
		v.fail(r.Seq, "prev_hash does not match the previous record's hash (a record before it was removed, reordered or rewritten)")
	case !bytes.Equal(ChainHash(r.PrevHash, r), r.Hash):
		v.fail(r.Seq, "hash does not match the record's contents (the record was changed)")
	case v.expect != nil && r.Seq == v.expect.Seq && !bytes.Equal(r.Hash, v.expect.Hash):
		v.fail(r.Seq, "hash differs from the expected head (the chain up to it was rewritten)")
	}
	if v.Broken != "" {
		return false
	}
	if v.expect != nil && r.Seq == v.expect.Seq {
		v.sawHead = true
	}
	if r.Event == EventAuditPruned {
		v.pruned = prunedThrough(r.Details)
	}
	v.n, v.prev = r.Seq, r.Hash
	return true
}

// prunedThrough reads the base an audit.pruned record names (nil when its
// details do not say).
func prunedThrough(details json.RawMessage) *AuditHead {
	var d struct {
		Seq  int64  `json:"through_seq"`
		Hash string `json:"through_hash"`
	}
	if json.Unmarshal(details, &d) != nil {
		return nil
	}
	h, err := hex.DecodeString(d.Hash)
	if err != nil || d.Seq < 1 {
		return nil
	}
	return &AuditHead{Seq: d.Seq, Hash: h}
}

func (v *ChainVerifier) fail(seq int64, why string) { v.BrokenAt, v.Broken = seq, why }

// Finish checks the end of the chain against the stored head (which the
// appends keep in step) and the expected head, and the base against the
// latest audit.pruned record (which must name it exactly).
func (v *ChainVerifier) Finish(stored AuditHead) {
	if v.Broken != "" {
		return
	}
	if v.base.Seq > 0 && (v.pruned == nil || v.pruned.Seq != v.base.Seq || !bytes.Equal(v.pruned.Hash, v.base.Hash)) {
		v.fail(v.base.Seq+1, fmt.Sprintf("the chain starts after record %d, but no audit.pruned record names that point (records at the start were removed, or the base was changed)", v.base.Seq))
		return
	}
	if stored.Seq != v.n || !bytes.Equal(stored.Hash, v.prev) {
		v.fail(v.n+1, fmt.Sprintf("the chain ends at %d but its head says %d (records at the end were removed or the head was changed)", v.n, stored.Seq))
		return
	}
	if v.expect != nil && !v.sawHead {
		v.fail(v.expect.Seq, "the expected head's record is missing")
	}
}

// Records returns how many records were verified (after the base).
func (v *ChainVerifier) Records() int64 { return v.n - v.base.Seq }

// AuditVerification is the result of a chain check.
type AuditVerification struct {
	OK       bool      `json:"ok"`
	Records  int64     `json:"records"`
	BrokenAt int64     `json:"broken_at,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Head     AuditHead `json:"head"`
	// Base is the last pruned record (seq 0: nothing was pruned).
	Base AuditHead `json:"base"`
}

// AuditFilter pages through the log: records after seq After, of UserID
// when not empty, at most Limit.
type AuditFilter struct {
	UserID string
	After  int64
	Limit  int
}
