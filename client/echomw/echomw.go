// Package echomw puts sessiongw's session check in front of Echo (v4)
// handlers, as client.Middleware does for net/http.
//
//	e.Use(echomw.Middleware(c))
//	e.GET("/account", func(ctx echo.Context) error {
//		id, _ := echomw.Identity(ctx)
//		return ctx.String(http.StatusOK, "hello "+id.Username)
//	})
package echomw

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessiongw/sessiongw/client"
)

// Middleware validates the session of every request with c, puts the
// identity in the request's context (Identity, or client.IdentityFrom),
// and otherwise answers 401, 403 or 503 itself, as client.Middleware does.
func Middleware(c *client.Client, opts ...client.MiddlewareOption) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ctx echo.Context) error {
			var nextErr error
			h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx.SetRequest(r)
				nextErr = next(ctx)
			}), opts...)
			h.ServeHTTP(ctx.Response(), ctx.Request())
			return nextErr
		}
	}
}

// Identity returns the identity Middleware found for the request.
func Identity(ctx echo.Context) (client.Identity, bool) {
	return client.IdentityFrom(ctx.Request().Context())
}
