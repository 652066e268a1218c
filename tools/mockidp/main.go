// Command mockidp runs a mock OpenID Connect provider
// (github.com/oauth2-proxy/mockoidc) on 127.0.0.1 for `make bench-peers`:
// it prints one JSON line with its issuer, client id and client secret, then
// serves until it is killed or its standard input closes. Every
// authorization request is approved at once for the default user.
//
// It is a module of its own so that the gateway's module does not depend on
// it.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net"
	"os"

	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	flag.Parse()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		log.Fatal(err)
	}
	c := m.Config()
	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{
		"issuer": c.Issuer, "client_id": c.ClientID, "client_secret": c.ClientSecret,
	}); err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the harness goes away
	_ = m.Shutdown()
}
