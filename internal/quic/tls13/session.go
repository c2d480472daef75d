package tls13

import (
	"container/list"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/iroh-go/iroh/key"
	"golang.org/x/crypto/cryptobyte"
)

// Session limits.
const (
	// DefaultSessionCacheSize is the number of server names a SessionCache
	// remembers, as Rust iroh's in-memory cache (256).
	DefaultSessionCacheSize = 256
	// ticketsPerServer bounds the tickets kept per server name; each ticket
	// is used once.
	ticketsPerServer = 4
	// TicketLifetime is how long a ticket we issue can be redeemed. Short
	// enough that the single-use table of TicketKeys stays small.
	TicketLifetime = 2 * time.Hour
	// maxTicketLifetime is RFC 8446's limit on a ticket we accept: 7 days.
	maxTicketLifetime = 7 * 24 * time.Hour
	// DefaultMaxRedeemed bounds the single-use table of TicketKeys.
	DefaultMaxRedeemed = 65536
	// earlyDataAgeWindow is how far the client's view of a ticket's age may
	// differ from ours for 0-RTT to be accepted (RFC 8446 §8.3).
	earlyDataAgeWindow = 10 * time.Second
	// maxTicketData bounds Config.TicketData.
	maxTicketData = 1024
	// maxPSKIdentities is how many offered tickets a server looks at.
	maxPSKIdentities = 4
)

// Session is what a client remembers from one NewSessionTicket to resume a
// connection: the ticket, its PSK, and the parameters 0-RTT must reuse.
type Session struct {
	Suite CipherSuite
	// ALPN is the protocol negotiated on the connection that got the ticket;
	// 0-RTT is only offered for it.
	ALPN string
	// ServerKey is the server's authenticated key; a resumed connection's
	// PeerKey.
	ServerKey key.PublicKey
	// TransportParameters are the server's transport parameters of that
	// connection, as received (RFC 9000 §7.4.1: 0-RTT must respect them).
	TransportParameters []byte
	// EarlyData reports whether the server allows 0-RTT with this ticket.
	EarlyData bool

	psk        []byte
	ticket     []byte
	ageAdd     uint32
	lifetime   time.Duration
	receivedAt time.Time
}

func (s *Session) expired(now time.Time) bool {
	return now.Sub(s.receivedAt) >= s.lifetime || now.Before(s.receivedAt.Add(-time.Minute))
}

// SessionCache is a client's bounded in-memory store of session tickets,
// keyed by server name (which in iroh names the server's key). It keeps the
// DefaultSessionCacheSize most recently used names, a few tickets each;
// every ticket is handed out once. Safe for concurrent use by many Conns.
type SessionCache struct {
	mu    sync.Mutex
	max   int
	lru   *list.List // of *cacheEntry, front = most recent
	names map[string]*list.Element
}

type cacheEntry struct {
	name     string
	sessions []*Session // oldest first
}

// NewSessionCache returns a cache of at most capacity server names; zero
// means DefaultSessionCacheSize.
func NewSessionCache(capacity int) *SessionCache {
	if capacity <= 0 {
		capacity = DefaultSessionCacheSize
	}
	return &SessionCache{max: capacity, lru: list.New(), names: make(map[string]*list.Element)}
}

// Put stores a session for serverName, evicting the least recently used
// name when full and the oldest ticket of the name beyond a few.
func (c *SessionCache) Put(serverName string, s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.names[serverName]; ok {
		e := el.Value.(*cacheEntry)
		e.sessions = append(e.sessions, s)
		if len(e.sessions) > ticketsPerServer {
			e.sessions = append(e.sessions[:0], e.sessions[1:]...)
		}
		c.lru.MoveToFront(el)
		return
	}
	if c.lru.Len() >= c.max {
		old := c.lru.Back()
		delete(c.names, old.Value.(*cacheEntry).name)
		c.lru.Remove(old)
	}
	c.names[serverName] = c.lru.PushFront(&cacheEntry{name: serverName, sessions: []*Session{s}})
}

// Take removes and returns the newest unexpired session for serverName, or
// nil.
func (c *SessionCache) Take(serverName string, now time.Time) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.names[serverName]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	var s *Session
	for len(e.sessions) > 0 && s == nil {
		last := e.sessions[len(e.sessions)-1]
		e.sessions = e.sessions[:len(e.sessions)-1]
		if !last.expired(now) {
			s = last
		}
	}
	if len(e.sessions) == 0 {
		delete(c.names, serverName)
		c.lru.Remove(el)
	}
	return s
}

// Len is the number of server names with tickets.
func (c *SessionCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// TicketKeys is a server's ticket protection keys and its replay table.
// Tickets are self-encrypted (AES-256-GCM) state: the server keeps nothing
// per ticket until one is redeemed. Rotate replaces the sealing key; the
// previous key still opens tickets until the next rotation. Replay policy:
// a ticket resumes at most one connection (0-RTT or not) within its
// lifetime; the table of redeemed tickets holds at most maxRedeemed
// entries, and when it is full of unexpired entries the server refuses
// resumption (a full handshake) rather than forget one. Safe for
// concurrent use by many Conns.
type TicketKeys struct {
	rand io.Reader // set in NewTicketKeys, then read-only

	mu          sync.Mutex
	current     cipher.AEAD            // seals and opens
	previous    cipher.AEAD            // opens only; nil before the first Rotate
	redeemed    map[[12]byte]time.Time // ticket nonce -> ticket expiry
	maxRedeemed int
}

// NewTicketKeys returns ticket keys with a fresh random key read from rand
// (nil means crypto/rand) and a replay table of maxRedeemed entries (zero
// means DefaultMaxRedeemed). Tickets do not survive the TicketKeys.
func NewTicketKeys(rand io.Reader, maxRedeemed int) (*TicketKeys, error) {
	tk := &TicketKeys{rand: randOrDefault(rand), redeemed: make(map[[12]byte]time.Time), maxRedeemed: maxRedeemed}
	if tk.maxRedeemed <= 0 {
		tk.maxRedeemed = DefaultMaxRedeemed
	}
	aead, err := tk.newKey()
	if err != nil {
		return nil, err
	}
	tk.current = aead
	return tk, nil
}

func (tk *TicketKeys) newKey() (cipher.AEAD, error) {
	k := make([]byte, 32)
	if _, err := io.ReadFull(tk.rand, k); err != nil {
		return nil, fmt.Errorf("tls13: ticket key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Rotate starts sealing tickets with a new key; tickets of the current key
// still open until the next Rotate, those of the previous one no longer do.
// Call it less often than TicketLifetime to keep tickets usable.
func (tk *TicketKeys) Rotate() error {
	tk.mu.Lock() // also serializes reads of tk.rand
	defer tk.mu.Unlock()
	aead, err := tk.newKey()
	if err != nil {
		return err
	}
	tk.previous, tk.current = tk.current, aead
	return nil
}

func (tk *TicketKeys) keys() (current, previous cipher.AEAD) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return tk.current, tk.previous
}

// ticketState is what a ticket carries, sealed.
type ticketState struct {
	suite     CipherSuite
	created   time.Time
	ageAdd    uint32
	lifetime  time.Duration
	earlyData bool
	psk       []byte
	alpn      string
	clientKey key.PublicKey
	appData   []byte   // Config.TicketData of the issuing connection
	id        [12]byte // the seal nonce, unique per ticket

	clientAge time.Duration // not sealed: the age the client claims when redeeming
}

const ticketVersion = 2

var ticketAAD = []byte("iroh-go tls13 ticket v2")

func (tk *TicketKeys) seal(st *ticketState, rand io.Reader) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(ticketVersion)
	b.AddUint16(uint16(st.suite))
	b.AddUint64(uint64(st.created.UnixMilli()))
	b.AddUint32(st.ageAdd)
	b.AddUint32(uint32(st.lifetime / time.Second))
	if st.earlyData {
		b.AddUint8(1)
	} else {
		b.AddUint8(0)
	}
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(st.psk) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(st.alpn)) })
	b.AddBytes(st.clientKey[:])
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(st.appData) })
	plain, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 12, 12+len(plain)+16)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, err
	}
	current, _ := tk.keys()
	return current.Seal(nonce, nonce, plain, ticketAAD), nil
}

var errBadTicket = errors.New("ticket does not decrypt")

func (tk *TicketKeys) open(ticket []byte) (*ticketState, error) {
	if len(ticket) < 12+16 {
		return nil, errBadTicket
	}
	current, previous := tk.keys()
	plain, err := current.Open(nil, ticket[:12], ticket[12:], ticketAAD)
	if err != nil && previous != nil {
		plain, err = previous.Open(nil, ticket[:12], ticket[12:], ticketAAD)
	}
	if err != nil {
		return nil, errBadTicket
	}
	s := cryptobyte.String(plain)
	st := &ticketState{}
	copy(st.id[:], ticket[:12])
	var version, early uint8
	var suite uint16
	var created uint64
	var lifetime uint32
	var psk, alpn, appData cryptobyte.String
	var ck []byte
	if !s.ReadUint8(&version) || version != ticketVersion || !s.ReadUint16(&suite) || !s.ReadUint64(&created) ||
		!s.ReadUint32(&st.ageAdd) || !s.ReadUint32(&lifetime) || !s.ReadUint8(&early) ||
		!s.ReadUint8LengthPrefixed(&psk) || !s.ReadUint8LengthPrefixed(&alpn) || !s.ReadBytes(&ck, key.Size) ||
		!s.ReadUint16LengthPrefixed(&appData) || !s.Empty() {
		return nil, errBadTicket
	}
	st.suite = CipherSuite(suite)
	if !st.suite.Known() {
		return nil, errBadTicket
	}
	st.created = time.UnixMilli(int64(created))
	st.lifetime = time.Duration(lifetime) * time.Second
	st.earlyData = early == 1
	st.psk = []byte(psk)
	st.alpn = string(alpn)
	copy(st.clientKey[:], ck)
	st.appData = []byte(appData)
	return st, nil
}

// redeem marks a ticket used; false if it was used before or the table is
// full of unexpired tickets.
func (tk *TicketKeys) redeem(st *ticketState, now time.Time) bool {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if _, used := tk.redeemed[st.id]; used {
		return false
	}
	if len(tk.redeemed) >= tk.maxRedeemed {
		for id, exp := range tk.redeemed {
			if now.After(exp) {
				delete(tk.redeemed, id)
			}
		}
		if len(tk.redeemed) >= tk.maxRedeemed {
			return false
		}
	}
	tk.redeemed[st.id] = st.created.Add(st.lifetime)
	return true
}

func u32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
