package httpapi

import (
	"context"

	"github.com/sessiongw/sessiongw/internal/session"
)

// The HTTP layer's view of the domain, declared here by its consumer and
// split by who calls: *session.Service implements all of it, and the
// handler tests use a fake.

// Validator validates a session (Validate) and runs the per-request check
// of /v1/auth and its variants (Authorize).
type Validator interface {
	Validate(ctx context.Context, t session.Token, c session.Client) (session.Restored, error)
	Authorize(ctx context.Context, t session.Token, c session.Client, from session.Source, reqs ...session.Requirements) (session.Restored, error)
}

// Holder is what the holder of a session may do with it.
type Holder interface {
	Validator
	// Each takes the requesting client: its address spends the rate
	// limit's budget when the token turns out unknown.
	Logout(ctx context.Context, t session.Token, c session.Client) error
	RecordActivity(ctx context.Context, t session.Token, c session.Client, ip, userAgent string) error
	ListOwn(ctx context.Context, t session.Token, c session.Client) ([]session.CurrentSession, error)
	RevokeOwn(ctx context.Context, t session.Token, c session.Client, id string) error
	RevokeOthers(ctx context.Context, t session.Token, c session.Client) (int, error)
	OwnStats(ctx context.Context, t session.Token, c session.Client) (session.Stats, error)
	AcknowledgeNewDevice(ctx context.Context, t session.Token, c session.Client) error
	Rotate(ctx context.Context, t session.Token, c session.Client) (session.Token, session.Session, error)
}

// Admin is what the admin API does.
type Admin interface {
	UpsertUser(ctx context.Context, u session.User) (session.User, bool, error)
	GetUser(ctx context.Context, id string) (session.User, error)
	DeleteUser(ctx context.Context, id string) error
	CreateSession(ctx context.Context, p session.CreateParams) (session.Created, error)
	RotateByID(ctx context.Context, id string) (session.Token, session.Session, error)
	Reauthenticated(ctx context.Context, id string, amr []string) (session.Session, error)
	CreateAPIToken(ctx context.Context, userID string, p session.APITokenParams) (session.Token, session.APIToken, error)
	ListAPITokens(ctx context.Context, userID string) ([]session.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string) error
	ListUserSessions(ctx context.Context, userID string) ([]session.Session, error)
	RevokeUserSessions(ctx context.Context, userID string, except session.Token) (int, error)
	RevokeByID(ctx context.Context, id string) error
	UserStats(ctx context.Context, userID string) (session.Stats, error)
	Cleanup(ctx context.Context) (int, error)
	AuditRecords(ctx context.Context, f session.AuditFilter) ([]session.AuditRecord, error)
	VerifyAudit(ctx context.Context, expect *session.AuditHead) (session.AuditVerification, error)
	RecordAdminAuthFailure(ctx context.Context) error
}

// Service is everything the HTTP layer asks of the domain.
type Service interface {
	Holder
	Admin
	IdP
}

var _ Service = (*session.Service)(nil)
