package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/api"
)

// Check is one dependency that /readyz asks.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// handleOpenAPI serves the API's OpenAPI document as JSON.
func handleOpenAPI(c echo.Context) error {
	doc, err := api.JSON()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

func handleHealthz(c echo.Context) error {
	noStore(c)
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 200 only when every dependency answers; the body says
// which did not. While draining for shutdown it answers 503 "draining".
func handleReadyz(checks []Check, draining func() bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if draining() {
			noStore(c)
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "draining", "checks": map[string]string{}})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		results := make(map[string]string, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, ch := range checks {
			wg.Go(func() {
				res := "ok"
				if err := ch.Ping(ctx); err != nil {
					res = "unavailable"
				}
				mu.Lock()
				results[ch.Name] = res
				mu.Unlock()
			})
		}
		wg.Wait()
		status, code := "ok", http.StatusOK
		for _, r := range results {
			if r != "ok" {
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		noStore(c)
		if code != http.StatusOK {
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
		}
		return c.JSON(code, map[string]any{"status": status, "checks": results})
	}
}

// handleJWKS serves the identity token's public keys (404 when the token
// is off).
func handleJWKS(s TokenSigner) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s == nil {
			return errNotFound
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.Blob(http.StatusOK, "application/jwk-set+json", s.JWKS())
	}
}
