package addrlookup

import (
	"context"
	"fmt"
	"sync"

	"github.com/iroh-go/iroh/key"
)

// Memory is a static lookup: it answers from infos added to it. It is also
// a Publisher (Publish adds the info), which makes it a loopback
// publisher/lookup pair for tests. The zero value is empty and ready to
// use.
type Memory struct {
	mu    sync.Mutex
	infos map[key.PublicKey]EndpointInfo
}

// NewMemory returns a Memory holding infos.
func NewMemory(infos ...EndpointInfo) *Memory {
	m := &Memory{}
	for _, i := range infos {
		m.Add(i)
	}
	return m
}

// Add stores info, replacing what was stored for info.ID.
func (m *Memory) Add(info EndpointInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.infos == nil {
		m.infos = map[key.PublicKey]EndpointInfo{}
	}
	m.infos[info.ID] = info
}

// Remove forgets id.
func (m *Memory) Remove(id key.PublicKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.infos, id)
}

// Resolve returns the info stored for id, or an error wrapping ErrNotFound.
func (m *Memory) Resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.infos[id]
	if !ok {
		return EndpointInfo{}, fmt.Errorf("addrlookup: memory: %s: %w", id.ShortString(), ErrNotFound)
	}
	return info, nil
}

// Publish stores info; it never fails.
func (m *Memory) Publish(ctx context.Context, info EndpointInfo) error {
	m.Add(info)
	return nil
}
