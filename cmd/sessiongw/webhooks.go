package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sessiongw/sessiongw/internal/gateway"
	"github.com/sessiongw/sessiongw/internal/postgres"
	"github.com/sessiongw/sessiongw/internal/webhook"
)

// webhookStore opens the outbox.
func webhookStore(ctx context.Context, e *cmdEnv) (webhook.Store, func(), error) {
	pool, err := postgres.Connect(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return nil, nil, err
	}
	return postgres.NewStore(pool), pool.Close, nil
}

func webhooksList(ctx context.Context, e *cmdEnv) error {
	store, done, err := webhookStore(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	q := webhook.Query{Endpoint: e.flags.endpoint, Limit: e.flags.limit}
	if e.flags.failed {
		q.State = webhook.StateFailed
	}
	list, err := store.Deliveries(ctx, q)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no deliveries")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tWRITTEN\tTYPE\tUSER\tENDPOINT\tSTATE\tATTEMPTS\tLAST ERROR")
	for _, d := range list {
		msg := d.LastError
		if d.State == webhook.StatePending && !d.NextAt.IsZero() {
			msg = strings.TrimSpace(msg + " (next " + d.NextAt.UTC().Format(time.RFC3339) + ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Event.UID, d.Event.At.Format(time.RFC3339), d.Event.Type,
			d.Event.UserID, d.Endpoint, d.State, d.Attempts, msg)
	}
	return tw.Flush()
}

func webhooksReplay(ctx context.Context, e *cmdEnv) error {
	since, err := parseSince(e.flags.since, time.Now())
	if err != nil {
		return err
	}
	eps, err := gateway.WebhookEndpoints(e.cfg)
	if err != nil {
		return err
	}
	if len(eps) == 0 {
		return errors.New("webhooks replay: no endpoint is configured (SESSIONGW_WEBHOOK_URL or the file's webhooks list)")
	}
	routes := webhook.New(webhook.Options{Endpoints: eps}).Routes()
	if e.flags.endpoint != "" {
		var only []webhook.Route
		for _, r := range routes {
			if r.Endpoint == e.flags.endpoint {
				only = append(only, r)
			}
		}
		if only == nil {
			return fmt.Errorf("webhooks replay: no endpoint named %q is configured", e.flags.endpoint)
		}
		routes = only
	}
	store, done, err := webhookStore(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	n, err := store.Replay(ctx, routes, since)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "queued %d deliveries of events written since %s; a running gateway sends them\n", n, since.UTC().Format(time.RFC3339))
	return nil
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, errors.New("webhooks replay: say since when: --since TIME (RFC 3339) or --since 2h")
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("webhooks replay: --since %q is neither an RFC 3339 time nor a duration", v)
}
