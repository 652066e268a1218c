// Package httpapi is the HTTP face of the gateway, on Echo v4.
package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/sessiongw/sessiongw/internal/push"
	"github.com/sessiongw/sessiongw/internal/session"
)

// RequestRecorder records each request (metrics).
type RequestRecorder interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// Config is what the HTTP layer needs.
type Config struct {
	Service    Service
	Cookie     CookieConfig
	AdminToken string // empty disables the admin API (404)
	Checks     []Check
	Metrics    http.Handler
	Recorder   RequestRecorder
	Logger     *slog.Logger
	// Draining reports that the server is about to stop: /readyz fails and
	// every answer carries Connection: close, so clients leave cleanly.
	Draining func() bool
	// TrustedProxies may name the client in X-Forwarded-For / X-Real-IP.
	TrustedProxies []netip.Prefix
	// AuthHeaders selects the identity header set (default "sessiongw").
	AuthHeaders string
	// Redirect configures /v1/auth/redirect.
	Redirect RedirectConfig
	// Tracer, when set, makes a span of every request, continuing the
	// trace context (W3C traceparent) the request carries.
	Tracer trace.Tracer
	// UI, when set, serves the "Your devices" page under /ui/.
	UI Pages
	// NearCaches, with NearCacheToken, serves POST /v1/invalidations, the
	// stream of app processes' near caches (404 without a token).
	NearCaches     *push.Hub
	NearCacheToken string
	// IdentityJWT, when set, adds X-Auth-Jwt to every allow and serves
	// its keys at /.well-known/jwks.json (404 otherwise).
	IdentityJWT TokenSigner
	// Backchannel serves POST /v1/oidc/backchannel-logout (404 without a
	// verifier).
	Backchannel BackchannelConfig
	// IdentityCacheSize bounds the cache of rendered identity headers
	// (sessions; default 10,000): size it like the in-process cache.
	IdentityCacheSize int
}

// Pages are static pages served for GET and HEAD on their paths.
type Pages interface {
	http.Handler
	Paths() []string
}

// New returns the gateway's HTTP handler with every route.
func New(cfg Config) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	draining := cfg.Draining
	if draining == nil {
		draining = func() bool { return false }
	}
	e.Use(around(cfg.Recorder, cfg.Logger, draining, cfg.Tracer))
	svc, cookie := cfg.Service, cfg.Cookie.Name
	identity := newIdentityWriter(cfg.AuthHeaders, cfg.IdentityCacheSize, cfg.IdentityJWT, cfg.TrustedProxies)

	e.Any("/v1/auth", handleAuth(svc, cookie, identity, true, cfg.Logger))
	e.Any("/v1/auth/redirect", handleAuthRedirect(svc, cookie, identity, cfg.Redirect, cfg.Logger))
	// Envoy's HTTP ext_authz service appends the original path (and query)
	// to its path_prefix: every path under the prefix is the same check,
	// and requirements come only from X-Sessiongw-Require.
	e.Any("/v1/ext_authz", handleAuth(svc, cookie, identity, false, cfg.Logger))
	e.Any("/v1/ext_authz/*", handleAuth(svc, cookie, identity, false, cfg.Logger))
	// The session holder's own endpoints: changes are audited as "self",
	// and browsers may change state only from this origin (CSRF).
	self, so := withActor(session.ActorSelf), sameOrigin()
	e.GET("/v1/session", handleRestore(svc, cookie), self)
	e.DELETE("/v1/session", handleLogout(svc, cfg.Cookie), self, so)
	e.POST("/v1/session/rotate", handleRotate(svc, cfg.Cookie), self, so)
	e.POST("/v1/session/activity", handleActivity(svc, cookie), self, so)
	e.GET("/v1/session/all", handleListOwn(svc, cookie), self)
	e.DELETE("/v1/session/all/:id", handleRevokeOwn(svc, cookie), self, so)
	e.DELETE("/v1/session/others", handleRevokeOthers(svc, cookie), self, so)
	e.GET("/v1/session/stats", handleOwnStats(svc, cookie), self)
	e.DELETE("/v1/session/new_device", handleAcknowledgeNewDevice(svc, cookie), self, so)
	if cfg.UI != nil {
		for _, p := range cfg.UI.Paths() {
			e.GET(p, echo.WrapHandler(cfg.UI))
			e.HEAD(p, echo.WrapHandler(cfg.UI))
		}
	}

	admin := e.Group("/v1/admin", requireAdmin(cfg.AdminToken, svc, cfg.Logger))
	admin.PUT("/users/:user_id", handlePutUser(svc))
	admin.GET("/users/:user_id", handleGetUser(svc))
	admin.DELETE("/users/:user_id", handleDeleteUser(svc))
	admin.GET("/users/:user_id/sessions", handleListUserSessions(svc))
	admin.POST("/users/:user_id/sessions/revoke", handleRevokeUserSessions(svc))
	admin.GET("/users/:user_id/stats", handleUserStats(svc))
	admin.POST("/sessions", handleCreateSession(svc, cfg.Cookie))
	admin.DELETE("/sessions/:id", handleRevokeSession(svc))
	admin.POST("/sessions/:id/rotate", handleRotateByID(svc))
	admin.POST("/sessions/:id/reauthenticated", handleReauthenticated(svc))
	admin.POST("/users/:user_id/tokens", handleCreateAPIToken(svc))
	admin.GET("/users/:user_id/tokens", handleListAPITokens(svc))
	admin.DELETE("/tokens/:id", handleRevokeAPIToken(svc))
	admin.POST("/cleanup", handleCleanup(svc))
	admin.GET("/audit", handleAudit(svc))
	admin.GET("/audit/verify", handleAuditVerify(svc))

	e.POST("/v1/invalidations", handleNearCacheStream(cfg.NearCaches, cfg.NearCacheToken))
	e.POST("/v1/oidc/backchannel-logout", handleBackchannelLogout(svc, cfg.Backchannel, cfg.Logger))
	e.GET("/v1/openapi.json", handleOpenAPI)
	e.GET("/.well-known/jwks.json", handleJWKS(cfg.IdentityJWT))
	e.GET("/healthz", handleHealthz)
	e.GET("/readyz", handleReadyz(cfg.Checks, draining))
	if cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(cfg.Metrics))
	}
	return e
}

// clientIP returns the extractor of the client address: the TCP peer, or,
// when the peer is a trusted proxy, the nearest untrusted address in
// X-Forwarded-For (else X-Real-IP). Echo's own defaults also trust loopback
// and private networks; here only the configured ranges are trusted.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	xff, realIP := echo.ExtractIPFromXFFHeader(opts...), echo.ExtractIPFromRealIPHeader(opts...)
	return func(r *http.Request) string {
		if len(r.Header[echo.HeaderXForwardedFor]) > 0 {
			return xff(r)
		}
		return realIP(r)
	}
}

// sameOrigin refuses state-changing browser requests sent from another
// origin, with Go's http.CrossOriginProtection: Sec-Fetch-Site when the
// browser sends it, else Origin against Host. Requests without either
// (servers, curl, apps) pass; they are not a browser acting for a user.
func sameOrigin() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return errCrossOrigin
			}
			return next(c)
		}
	}
}
