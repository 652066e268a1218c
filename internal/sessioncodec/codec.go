// Package sessioncodec is the compact binary form of a cached session and
// its user, shared by the Redis cache and the in-process cache's compact
// tier.
package sessioncodec

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/sessiongw/sessiongw/internal/session"
)

// The cached form of a session and its user, binary and compact (a typical
// entry is about 150 bytes where JSON took about 300; MEMORY USAGE counts
// key and overhead on top):
//
//	version byte (2)
//	session id: 16 bytes (a UUID)
//	user id: uvarint length + bytes
//	created: varint, Unix microseconds
//	expires, last activity, authenticated: varint, microseconds after created
//	flags: 1 byte (1: remember me, 2: user active, 4: new device, 8: API token)
//	ip, last ip, user agent, username, email, token name: uvarint length + bytes each
//	roles, amr: uvarint count, then uvarint length + bytes each
//
// A value in any other form (an older version, garbage) does not decode,
// and the cache treats it as a miss and removes it. Version 1 held the user
// id as a uvarint (ids were integers then).
const codecVersion = 2

const (
	flagRemember = 1 << iota
	flagActive
	flagNewDevice
	flagAPIToken
)

var errEntry = errors.New("sessioncodec: cached entry does not decode")

// Encode returns the cached form of r.
func Encode(r session.Restored) ([]byte, error) {
	s, u := r.Session, r.User
	id, err := uuid.Parse(s.ID)
	if err != nil {
		return nil, errors.New("sessioncodec: session id is not a UUID")
	}
	created := s.CreatedAt.UnixMicro()
	b := make([]byte, 0, 64+len(u.ID)+len(s.IPAddress)+len(s.UserAgent)+len(u.Username)+len(u.Email)+8*len(u.Roles))
	b = append(b, codecVersion)
	b = append(b, id[:]...)
	b = appendString(b, u.ID)
	b = binary.AppendVarint(b, created)
	b = binary.AppendVarint(b, s.ExpiresAt.UnixMicro()-created)
	b = binary.AppendVarint(b, s.LastActivityAt.UnixMicro()-created)
	b = binary.AppendVarint(b, s.AuthenticatedAt.UnixMicro()-created)
	var flags byte
	if s.RememberMe {
		flags |= flagRemember
	}
	if u.IsActive {
		flags |= flagActive
	}
	if s.NewDevice {
		flags |= flagNewDevice
	}
	if s.IsAPIToken() {
		flags |= flagAPIToken
	}
	b = append(b, flags)
	for _, str := range []string{s.IPAddress, s.LastIPAddress, s.UserAgent, u.Username, u.Email, s.TokenName} {
		b = appendString(b, str)
	}
	for _, list := range [][]string{u.Roles, s.AMR} {
		b = binary.AppendUvarint(b, uint64(len(list)))
		for _, v := range list {
			b = appendString(b, v)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decode parses the cached form (copying what it keeps).
func Decode(b []byte) (session.Restored, error) { return DecodeString(string(b)) }

// DecodeString parses the cached form as go-redis returns it; the strings
// of the result share v's memory (no copies).
func DecodeString(v string) (session.Restored, error) {
	d := decoder{v: v}
	if d.byte() != codecVersion {
		return session.Restored{}, errEntry
	}
	var id uuid.UUID
	copy(id[:], d.take(16))
	userID := d.string()
	created := d.varint()
	expires, activity, authenticated := created+d.varint(), created+d.varint(), created+d.varint()
	flags := d.byte()
	if flags&^(flagRemember|flagActive|flagNewDevice|flagAPIToken) != 0 {
		return session.Restored{}, errEntry
	}
	ip, lastIP, ua, username, email, tokenName := d.string(), d.string(), d.string(), d.string(), d.string(), d.string()
	roles, amr := d.list(64), d.list(16) // NormalizeUser and ValidateAMR bound them
	kind := session.KindSession
	if flags&flagAPIToken != 0 {
		kind = session.KindAPIToken
	}
	if d.bad || len(d.v) != 0 || userID == "" || id == (uuid.UUID{}) {
		return session.Restored{}, errEntry
	}
	return session.Restored{
		Session: session.Session{
			ID: id.String(), UserID: userID,
			CreatedAt: time.UnixMicro(created).UTC(), ExpiresAt: time.UnixMicro(expires).UTC(),
			LastActivityAt: time.UnixMicro(activity).UTC(),
			IPAddress:      ip, LastIPAddress: lastIP, UserAgent: ua, RememberMe: flags&flagRemember != 0, NewDevice: flags&flagNewDevice != 0,
			AuthenticatedAt: time.UnixMicro(authenticated).UTC(), AMR: amr, Kind: kind, TokenName: tokenName,
		},
		User: session.User{ID: userID, Username: username, Email: email, IsActive: flags&flagActive != 0, Roles: roles},
	}, nil
}

// decoder reads the cached form; any short or malformed read sets bad.
type decoder struct {
	v   string
	bad bool
}

func (d *decoder) take(n int) string {
	if n < 0 || n > len(d.v) {
		d.bad, d.v = true, ""
		return ""
	}
	s := d.v[:n]
	d.v = d.v[n:]
	return s
}

func (d *decoder) byte() byte {
	s := d.take(1)
	if s == "" {
		return 0
	}
	return s[0]
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if len(d.v) == 0 {
			break
		}
		c := d.v[0]
		d.v = d.v[1:]
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.bad, d.v = true, ""
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// list reads a counted list of at most max strings.
func (d *decoder) list(max uint64) []string {
	n := d.uvarint()
	if n > max {
		d.bad, d.v = true, ""
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string()
	}
	return out
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.v)) {
		d.bad, d.v = true, ""
		return ""
	}
	return d.take(int(n))
}
