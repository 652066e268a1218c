package client

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The near cache's stream to a gateway replica (POST /v1/invalidations):
// one full-duplex request, server-sent events in, newline-delimited JSON
// acks and pings out. docs/consistency.md describes the protocol.

// probe opens the stream with an empty body, which the gateway ends at
// once: a refusal (a wrong token, a gateway without near caches) comes back
// as itself, where the streaming request might only time out (a transport
// whose server refused the request waits for its body to end).
func (n *nearCache) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, streamAnswerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.c.base+"/v1/invalidations", http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := n.stream.Do(req)
	if err != nil {
		return unavailable(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, b)
	}
	return nil
}

// streamAnswerTimeout bounds the wait for the stream's first answer.
const streamAnswerTimeout = 5 * time.Second

// run keeps a stream open, reconnecting with backoff, until close.
func (n *nearCache) run(ctx context.Context) {
	defer close(n.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := n.serve(ctx)
		n.reset()
		n.mu.Lock()
		n.lastErr = err
		n.mu.Unlock()
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// serve runs one stream until it ends.
func (n *nearCache) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := n.probe(ctx); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	// The transport may wait for the request body to end before it gives
	// up on a request (a refusal that closes the connection): end the
	// body when the stream ends, and give up on an answer that does not
	// come.
	defer context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.c.base+"/v1/invalidations", pr)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "text/event-stream")
	giveUp := time.AfterFunc(streamAnswerTimeout, cancel)
	resp, err := n.stream.Do(req)
	giveUp.Stop()
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return statusError(resp, b)
	}
	n.wmu.Lock()
	n.w = pw
	n.wmu.Unlock()
	defer func() {
		n.wmu.Lock()
		n.w = nil
		n.wmu.Unlock()
	}()

	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var name string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			if err := n.handle(ctx, name, []byte(line[len("data: "):])); err != nil {
				return err
			}
		}
	}
}

// handle applies one event of the stream.
func (n *nearCache) handle(ctx context.Context, name string, data []byte) error {
	switch name {
	case "hello":
		var h struct {
			WindowMS int64 `json:"window_ms"`
		}
		if err := json.Unmarshal(data, &h); err != nil || h.WindowMS <= 0 {
			return fmt.Errorf("sessiongw: near cache: bad hello %q", data)
		}
		n.mu.Lock()
		n.window = time.Duration(h.WindowMS) * time.Millisecond
		n.lastErr = nil
		n.mu.Unlock()
		go n.pinger(ctx, n.window/4)
	case "invalidate":
		var e struct {
			ID     string   `json:"id"`
			Hashes []string `json:"hashes"`
			All    bool     `json:"all"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("sessiongw: near cache: bad invalidation %q", data)
		}
		n.mu.Lock()
		n.epoch++
		if e.All {
			n.entries, n.order = map[[32]byte]nearEntry{}, nil
		}
		for _, s := range e.Hashes {
			var h [32]byte
			if b, err := hex.DecodeString(s); err == nil && len(b) == len(h) {
				copy(h[:], b)
				delete(n.entries, h)
			}
		}
		n.mu.Unlock()
		return n.send(`{"ack":"` + e.ID + `"}`)
	case "pong":
		var p struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("sessiongw: near cache: bad pong %q", data)
		}
		n.mu.Lock()
		if sent, ok := n.pings[p.Seq]; ok {
			delete(n.pings, p.Seq)
			// Everything published before the ping was sent reached us
			// before this pong: trust until the ping's send time plus the
			// window (the publisher's longest wait).
			if until := sent.Add(n.window); until.After(n.trustUntil) {
				n.trustUntil = until
			}
		}
		n.mu.Unlock()
	case "flush":
		n.reset()
	}
	return nil
}

// pinger pings every interval while the stream lives.
func (n *nearCache) pinger(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n.mu.Lock()
		n.nextPing++
		seq, now := n.nextPing, time.Now()
		n.pings[seq] = now
		for s, at := range n.pings { // unanswered pings grow stale
			if now.Sub(at) > n.window {
				delete(n.pings, s)
			}
		}
		n.mu.Unlock()
		if n.send(`{"ping":`+strconv.FormatUint(seq, 10)+`}`) != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// send writes one message on the stream's request body.
func (n *nearCache) send(msg string) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if n.w == nil {
		return errors.New("sessiongw: near cache: no stream")
	}
	_, err := io.WriteString(n.w, msg+"\n")
	return err
}
