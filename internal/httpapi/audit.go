package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/internal/session"
)

// withActor is the middleware that tells the store who is acting, for the
// audit log: the caller's address and user agent, as kind.
func withActor(kind string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			setActor(c, kind)
			return next(c)
		}
	}
}

func setActor(c echo.Context, kind string) {
	r := c.Request()
	a := session.Actor{Kind: kind, ClientIP: c.RealIP(), UserAgent: session.TruncateUserAgent(r.UserAgent())}
	c.SetRequest(r.WithContext(session.WithActor(r.Context(), a)))
}

// recordAdminAuthFailure audits a wrong or missing admin token. A failure
// to record it is logged; the caller still gets its 401.
func recordAdminAuthFailure(c echo.Context, svc Admin, log *slog.Logger) {
	setActor(c, session.ActorAnonymous)
	if err := svc.RecordAdminAuthFailure(c.Request().Context()); err != nil {
		log.Warn("could not audit a failed admin authentication", "err", err)
	}
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, session.Invalid(name, "must be a non-negative integer")
	}
	return n, nil
}

type auditPage struct {
	Records []session.AuditRecord `json:"records"`
	// NextAfter is the after= of the next page; absent on the last page.
	NextAfter *int64 `json:"next_after,omitempty"`
}

// handleAudit pages through the audit log:
// GET /v1/admin/audit?user_id=&after=&limit=.
func handleAudit(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		var f session.AuditFilter
		var err error
		if v := c.QueryParam("user_id"); v != "" {
			if f.UserID, err = session.ParseUserID(v); err != nil {
				return err
			}
		}
		if f.After, err = queryInt(c, "after"); err != nil {
			return err
		}
		limit, err := queryInt(c, "limit")
		if err != nil {
			return err
		}
		if limit > session.MaxAuditPage || (c.QueryParam("limit") != "" && limit == 0) {
			return session.Invalid("limit", "must be between 1 and 1000")
		}
		f.Limit = int(limit)
		records, err := svc.AuditRecords(c.Request().Context(), f)
		if err != nil {
			return err
		}
		page := auditPage{Records: records}
		if f.Limit == 0 {
			f.Limit = session.DefaultAuditPage
		}
		if n := len(records); n > 0 && n == f.Limit {
			last := records[n-1].Seq
			page.NextAfter = &last
		}
		return c.JSON(http.StatusOK, page)
	}
}

// handleAuditVerify runs the chain check: GET /v1/admin/audit/verify
// (?expect_head=SEQ:HASH). A broken chain is a finding, not a failed
// request: 200 with "ok": false and where it broke.
func handleAuditVerify(svc Admin) echo.HandlerFunc {
	return func(c echo.Context) error {
		var expect *session.AuditHead
		if v := c.QueryParam("expect_head"); v != "" {
			h, err := session.ParseAuditHead(v)
			if err != nil {
				return err
			}
			expect = &h
		}
		res, err := svc.VerifyAudit(c.Request().Context(), expect)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}
}
