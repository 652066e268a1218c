package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/device"
	"github.com/sessiongw/sessiongw/internal/httpapi"
	"github.com/sessiongw/sessiongw/internal/idtoken"
	"github.com/sessiongw/sessiongw/internal/oidc"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// newWebhooks builds the webhook worker of cfg's endpoints (nil when there
// are none) and registers them, so events are written from now on.
func (g *Gateway) newWebhooks(ctx context.Context, cfg config.Config, firstRetry time.Duration) (*webhook.Worker, error) {
	if len(cfg.Webhooks) == 0 {
		return nil, nil
	}
	eps, err := WebhookEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	w := webhook.New(webhook.Options{
		Store: g.store, Endpoints: eps, MaxAge: cfg.WebhookMaxAge, CheckpointInterval: cfg.AuditCheckpointInterval,
		Device: func(ua string) string { return device.Describe(ua).Name }, Log: g.log,
		OnDelivery: g.metrics.WebhookDelivery, OnOldest: g.metrics.WebhookOldest, FirstRetry: firstRetry,
	})
	if err := w.Register(ctx); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return w, nil
}

// WebhookEndpoints turns the configured endpoints into the worker's (the
// command line's webhooks commands use it too).
func WebhookEndpoints(cfg config.Config) ([]webhook.Endpoint, error) {
	eps := make([]webhook.Endpoint, len(cfg.Webhooks))
	for i, h := range cfg.Webhooks {
		key, err := webhook.ParseSecret(h.Secret)
		if err != nil {
			return nil, fmt.Errorf("webhook endpoint %s: secret %w", h.Name, err)
		}
		eps[i] = webhook.Endpoint{Name: h.Name, URL: h.URL, Key: key, Types: h.Events}
	}
	return eps, nil
}

// WebhookStore returns the webhook outbox (tests, the command line).
func (g *Gateway) WebhookStore() webhook.Store { return g.store }

// backchannel configures OIDC back-channel logout (off without issuers).
func (g *Gateway) backchannel(cfg config.Config) httpapi.BackchannelConfig {
	if len(cfg.OIDCIssuers) == 0 {
		return httpapi.BackchannelConfig{}
	}
	return httpapi.BackchannelConfig{
		Verifier: oidc.New(cfg.OIDCIssuers, cfg.OIDCAudience, oidc.Options{}),
		Observe:  g.metrics.BackchannelLogout,
	}
}

// identitySigner returns the identity JWT's signer (nil when off), with the
// keys of SESSIONGW_JWT_KEY_FILE or those shared through Postgres.
func (g *Gateway) identitySigner(ctx context.Context, cfg config.Config) (httpapi.TokenSigner, error) {
	if !cfg.IdentityJWT {
		return nil, nil
	}
	var keys []idtoken.Key
	var err error
	if cfg.JWTKeyFile != "" {
		keys, err = idtoken.LoadKeyFile(cfg.JWTKeyFile)
	} else {
		keys, err = idtoken.SharedKeys(ctx, g.store)
	}
	if err != nil {
		return nil, fmt.Errorf("identity JWT: %w", err)
	}
	return idtoken.New(cfg.PublicURL, keys, idtoken.Options{Signed: g.metrics.JWTSigned})
}
