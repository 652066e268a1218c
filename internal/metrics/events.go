package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// eventMetrics are the webhook, back-channel logout and identity JWT
// collectors.
type eventMetrics struct {
	deliveries *prometheus.CounterVec
	oldest     *prometheus.GaugeVec
	logouts    *prometheus.CounterVec
	jwtSigned  prometheus.Counter
}

func newEventMetrics(reg *prometheus.Registry) *eventMetrics {
	e := &eventMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_webhook_deliveries_total", Help: "Webhook delivery attempts by endpoint and result: delivered, retry (it will be tried again) or failed (given up).",
		}, []string{"endpoint", "result"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sessiongw_webhook_oldest_pending_seconds", Help: "Age of the oldest event not yet delivered, per endpoint (0: none pending).",
		}, []string{"endpoint"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiongw_oidc_backchannel_logouts_total", Help: "OIDC back-channel logout requests by result: ok, or the reason the logout token was refused.",
		}, []string{"result"}),
		jwtSigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sessiongw_identity_jwt_signed_total", Help: "Identity JWTs signed (each is reused for half its lifetime per session and replica).",
		}),
	}
	reg.MustRegister(e.deliveries, e.oldest, e.logouts, e.jwtSigned)
	return e
}

// WebhookDelivery counts one delivery attempt (result: delivered, retry or
// failed).
func (m *Metrics) WebhookDelivery(endpoint, result string) {
	m.events.deliveries.WithLabelValues(endpoint, result).Inc()
}

// WebhookOldest sets the age of the endpoint's oldest pending event.
func (m *Metrics) WebhookOldest(endpoint string, age time.Duration) {
	m.events.oldest.WithLabelValues(endpoint).Set(age.Seconds())
}

// BackchannelLogout counts one back-channel logout request; result is "ok"
// or one of a closed set of refusal reasons.
func (m *Metrics) BackchannelLogout(result string) { m.events.logouts.WithLabelValues(result).Inc() }

// JWTSigned counts one identity JWT signed.
func (m *Metrics) JWTSigned() { m.events.jwtSigned.Inc() }
