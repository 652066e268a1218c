package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sessiongw/sessiongw/internal/config"
	"github.com/sessiongw/sessiongw/internal/httpapi"
)

// There is no Docker engine on the development machines; these tests check
// what can be checked without one.

// TestDockerfileBuildCommand runs the Dockerfile's own go build command.
func TestDockerfileBuildCommand(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no `RUN CGO_ENABLED=0 go build` line in the Dockerfile")
	}
	out := filepath.Join(t.TempDir(), "sessiongw")
	cmdline := strings.NewReplacer("${VERSION}", "test", "/out/sessiongw", out).Replace(string(m[1]))
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	if got, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, got)
	}
	if got, err := exec.Command(out, "version").Output(); err != nil || !strings.Contains(string(got), "sessiongw test") {
		t.Errorf("built binary: version = %q, %v", got, err)
	}
	for _, want := range []string{"EXPOSE 8080", `ENTRYPOINT ["sessiongw"]`, `CMD ["serve"]`, "HEALTHCHECK", "USER nonroot", "SESSIONGW_HTTP_ADDR=0.0.0.0:8080"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Ports   []string `yaml:"ports"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
}

// TestComposeFile checks docker-compose.yml against the gateway's real
// configuration: every variable is a setting and the set parses; every
// service has a healthcheck; start order waits on health; ports stay on
// loopback; nginx balances over the three replicas.
func TestComposeFile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s[0]] = true
	}
	for _, name := range []string{"postgres", "redis", "gateway-1", "gateway-2", "gateway-3", "nginx"} {
		svc, ok := c.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if len(svc.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
		for _, p := range svc.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %q beyond loopback", name, p)
			}
		}
	}
	for _, name := range []string{"gateway-1", "gateway-2", "gateway-3"} {
		svc := c.Services[name]
		for k := range svc.Environment {
			if strings.HasPrefix(k, "SESSIONGW_") && !known[k] {
				t.Errorf("%s sets %s, which is not a sessiongw setting", name, k)
			}
		}
		env := svc.Environment
		if _, _, err := config.Parse("compose", nil, func(k string) string { return env[k] }, io.Discard); err != nil {
			t.Errorf("%s's environment does not validate: %v", name, err)
		}
		for _, dep := range []string{"postgres", "redis"} {
			if svc.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s does not wait for %s to be healthy", name, dep)
			}
		}
		if !strings.Contains(strings.Join(svc.Healthcheck.Test, " "), "sessiongw healthcheck") {
			t.Errorf("%s's healthcheck does not use `sessiongw healthcheck`", name)
		}
		if svc.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
		}
	}
	for _, g := range []string{"gateway-1", "gateway-2", "gateway-3"} {
		if c.Services["nginx"].DependsOn[g].Condition != "service_healthy" {
			t.Errorf("nginx does not wait for %s", g)
		}
	}
	conf, err := os.ReadFile("../../deploy/nginx/compose.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server gateway-1:8080", "server gateway-2:8080", "server gateway-3:8080", "auth_request /_auth", "proxy_pass http://sessiongw/v1/auth", "keepalive"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("deploy/nginx/compose.conf lacks %q", want)
		}
	}
	if !strings.Contains(strings.Join(c.Services["nginx"].Volumes, " "), "deploy/nginx/compose.conf") {
		t.Error("nginx does not mount deploy/nginx/compose.conf")
	}
}

// TestTraefikAndEnvoyConfigs: no Traefik or Envoy package exists for this
// machine, so their shipped configurations are checked for the fields their
// documentation requires, against the gateway's real paths and headers:
// each must keep every identity header a client sends, in every spelling
// and of every set, from reaching the app.
func TestTraefikAndEnvoyConfigs(t *testing.T) {
	t.Parallel()
	var traefik struct {
		HTTP struct {
			Middlewares map[string]struct {
				ForwardAuth struct {
					Address             string   `yaml:"address"`
					TrustForwardHeader  bool     `yaml:"trustForwardHeader"`
					AuthResponseHeaders []string `yaml:"authResponseHeaders"`
				} `yaml:"forwardAuth"`
				Headers struct {
					CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
				} `yaml:"headers"`
			} `yaml:"middlewares"`
			Routers map[string]struct {
				Middlewares []string `yaml:"middlewares"`
			} `yaml:"routers"`
		} `yaml:"http"`
	}
	b, err := os.ReadFile("../../deploy/traefik/dynamic.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &traefik); err != nil {
		t.Fatal(err)
	}
	fa := traefik.HTTP.Middlewares["sessiongw"].ForwardAuth
	if !strings.HasSuffix(fa.Address, "/v1/auth/redirect") && !strings.HasSuffix(fa.Address, "/v1/auth") {
		t.Errorf("traefik forwardAuth address %q does not end in /v1/auth or /v1/auth/redirect", fa.Address)
	}
	if fa.TrustForwardHeader {
		t.Error("traefik trusts X-Forwarded-* from any client")
	}
	// Every sessiongw header, and the signed identity (Traefik removes a
	// listed header the answer lacks, so it is safe with the JWT off).
	copied := strings.Join(append(httpapi.IdentityHeaderNames("sessiongw"), "X-Auth-Jwt"), ",")
	if strings.Join(fa.AuthResponseHeaders, ",") != copied {
		t.Errorf("traefik authResponseHeaders = %v; want %v", fa.AuthResponseHeaders, copied)
	}
	// Traefik's headers middleware deletes a header set to "" (names match
	// in any case); it must run before forwardAuth on the router.
	strip := traefik.HTTP.Middlewares["sessiongw-strip"].Headers.CustomRequestHeaders
	for _, h := range httpapi.AllIdentityHeaderNames() {
		for _, name := range []string{h, strings.ReplaceAll(h, "-", "_")} {
			if v, ok := strip[name]; !ok || v != "" {
				t.Errorf("traefik: sessiongw-strip does not remove %s", name)
			}
		}
	}
	if mw := traefik.HTTP.Routers["app"].Middlewares; len(mw) != 2 || mw[0] != "sessiongw-strip" || mw[1] != "sessiongw" {
		t.Errorf("traefik router middlewares = %v; want [sessiongw-strip sessiongw]", mw)
	}
	// The role check: its own forwardAuth with requirements, after the strip.
	admin := traefik.HTTP.Middlewares["sessiongw-admin"].ForwardAuth
	if !strings.Contains(admin.Address, "/v1/auth") || !strings.Contains(admin.Address, "roles=admin") ||
		strings.Join(admin.AuthResponseHeaders, ",") != copied {
		t.Errorf("traefik sessiongw-admin = %+v; want /v1/auth…?roles=admin copying every sessiongw header", admin)
	}
	if mw := traefik.HTTP.Routers["admin"].Middlewares; len(mw) != 2 || mw[0] != "sessiongw-strip" || mw[1] != "sessiongw-admin" {
		t.Errorf("traefik admin router middlewares = %v; want [sessiongw-strip sessiongw-admin]", mw)
	}

	e, err := os.ReadFile("../../deploy/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var anyDoc map[string]any
	if err := yaml.Unmarshal(e, &anyDoc); err != nil {
		t.Fatalf("envoy.yaml is not valid YAML: %v", err)
	}
	env := string(e)
	for _, want := range []string{"envoy.filters.http.ext_authz", "failure_mode_allow: false", "path_prefix: /v1/ext_authz",
		"- exact: cookie", "- exact: x-forwarded-for", "use_remote_address: true", "allowed_upstream_headers",
		"headers_with_underscores_action: REJECT_REQUEST",
		// The role check: a second ext_authz filter adding requirements in
		// a header, disabled on the routes that do not need it.
		"- name: sessiongw-admin", "key: x-sessiongw-require", `value: "roles=admin"`, "disabled: true"} {
		if !strings.Contains(env, want) {
			t.Errorf("envoy.yaml lacks %q", want)
		}
	}
	for _, h := range httpapi.IdentityHeaderNames("sessiongw") {
		if !strings.Contains(env, "- exact: "+strings.ToLower(h)) {
			t.Errorf("envoy.yaml does not copy %s upstream", h)
		}
	}
	mutation, authz := strings.Index(env, "envoy.filters.http.header_mutation"), strings.Index(env, "name: envoy.filters.http.ext_authz")
	if mutation < 0 || mutation > authz {
		t.Error("envoy.yaml: no header_mutation filter before ext_authz")
	}
	for _, h := range httpapi.AllIdentityHeaderNames() {
		if !strings.Contains(env, "- remove: "+strings.ToLower(h)) {
			t.Errorf("envoy.yaml lets a client-sent %s through (the gateway does not always send it)", h)
		}
	}
}
