package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/device"
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
