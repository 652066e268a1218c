package session

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// newAdminAuthFailureLimiter bounds how many failed admin authentications
// are written to the audit log (10 a second, bursts of 50), so a client
// hammering the admin API with wrong tokens cannot turn it into a flood of
// serialised writes; the rest still show as 401s in the request metrics.
func newAdminAuthFailureLimiter() *rate.Limiter { return rate.NewLimiter(10, 50) }

// VerifyAudit walks the audit chain and reports the first broken link;
// expect, when non-nil, is a head anchored earlier that must still be in
// the chain unchanged.
func (s *Service) VerifyAudit(ctx context.Context, expect *AuditHead) (AuditVerification, error) {
	if s.audit == nil {
		return AuditVerification{}, ErrUnavailable
	}
	v := NewChainVerifier(expect)
	chain, err := s.audit.WalkAudit(ctx, v)
	if err != nil {
		return AuditVerification{}, err
	}
	v.Finish(chain.Head)
	return AuditVerification{OK: v.Broken == "", Records: v.Records(), BrokenAt: v.BrokenAt, Reason: v.Broken, Head: chain.Head, Base: chain.Base}, nil
}

// AuditHead returns the sequence number and hash of the latest record.
func (s *Service) AuditHead(ctx context.Context) (AuditHead, error) {
	if s.audit == nil {
		return AuditHead{}, ErrUnavailable
	}
	chain, err := s.audit.WalkAudit(ctx, headOnly{})
	return chain.Head, err
}

// headOnly reads no record.
type headOnly struct{}

func (headOnly) Start(AuditChain)     {}
func (headOnly) Add(AuditRecord) bool { return false }

// PruneAudit deletes the audit records written before before, keeping the
// chain verifiable: an audit.pruned record naming the last removed record
// (sequence number and hash) is appended first, and verification starts
// from that point. The newest record is never removed, so the chain keeps
// its head.
func (s *Service) PruneAudit(ctx context.Context, before time.Time) (AuditPruned, error) {
	if s.audit == nil {
		return AuditPruned{}, ErrUnavailable
	}
	if !before.Before(s.now()) {
		return AuditPruned{}, Invalid("before", "must be in the past")
	}
	return s.audit.PruneAudit(ctx, before, AuditPrunedEntry)
}

// AuditPrunedEntry records a prune through the record through.
func AuditPrunedEntry(through AuditHead, records int) AuditEntry {
	return AuditEntry{Event: EventAuditPruned, Details: map[string]any{
		"through_seq": through.Seq, "through_hash": through.Hash.String(), "records": records}}
}

// Page sizes of the audit log.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AuditRecords returns one page of the audit log (Limit 0 means
// DefaultAuditPage).
func (s *Service) AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	if s.audit == nil {
		return nil, ErrUnavailable
	}
	if f.UserID != "" {
		if _, err := ParseUserID(f.UserID); err != nil {
			return nil, err
		}
	}
	switch {
	case f.After < 0:
		return nil, Invalid("after", "must be a sequence number (0 or more)")
	case f.Limit < 0 || f.Limit > MaxAuditPage:
		return nil, Invalid("limit", "must be between 1 and 1000")
	case f.Limit == 0:
		f.Limit = DefaultAuditPage
	}
	return s.audit.AuditRecords(ctx, f)
}

// RecordAdminAuthFailure audits a request that presented a wrong admin
// token (the client address and user agent come from the context's Actor).
func (s *Service) RecordAdminAuthFailure(ctx context.Context) error {
	if s.audit == nil || !s.adminAuthFailures.Allow() {
		return nil
	}
	return s.audit.AppendAudit(ctx, AdminAuthFailedEntry())
}
