// Package device turns a user agent into the short device name people
// recognise on a "your devices" screen ("Chrome on Windows"), with
// github.com/medama-io/go-useragent.
package device

import (
	"strings"
	"sync"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// Description is what a device list shows of one user agent. Crawlers,
// scripts and command-line clients are "Automated client".
type Description struct {
	Name string // "Chrome on Windows", "Safari on iOS", "Unknown device"
	Type string // desktop, mobile, tablet, tv, bot, or "" when unknown
}

// The parser builds its trie once (a few milliseconds), on first use.
var parser = sync.OnceValue(useragent.NewParser)

// osNames spells operating systems the way their makers do.
var osNames = map[agents.OS]string{agents.OSMacOS: "macOS"}

// Describe names the device of a user agent.
func Describe(userAgent string) Description {
	if strings.TrimSpace(userAgent) == "" {
		return Description{Name: "Unknown device"}
	}
	a := parser().Parse(userAgent)
	browser, os := string(a.Browser()), string(a.OS())
	if n, ok := osNames[a.OS()]; ok {
		os = n
	}
	d := Description{Type: strings.ToLower(string(a.Device()))}
	switch {
	case a.IsBot():
		d.Name = "Automated client"
	case browser != "" && os != "":
		d.Name = browser + " on " + os
	case browser != "":
		d.Name = browser
	case os != "":
		d.Name = os + " device"
	default:
		d.Name = "Unknown device"
	}
	return d
}
