package tls13

import "testing"

func benchHandshake(b *testing.B, groups []Group, resume bool) {
	b.ReportAllocs()
	keys, err := NewTicketKeys(nil, 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	cache := NewSessionCache(0)
	for b.Loop() {
		cc, sc := clientConfig(), serverConfig()
		cc.Groups, cc.KeyShares, sc.Groups = groups, groups, groups
		if resume {
			cc.SessionCache, sc.TicketKeys = cache, keys
		}
		r := handshake(b, cc, sc, nil, 0)
		if !r.client.done || !r.server.done {
			b.Fatalf("handshake failed: %v %v", r.clientErr, r.serverErr)
		}
		if resume {
			if err := r.server.c.SendSessionTicket(); err != nil {
				b.Fatal(err)
			}
			ev := r.server.c.NextEvent()
			if err := r.client.c.HandleData(ev.Level, ev.Data); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkHandshake is a full mutual-auth handshake, both sides, in memory.
func BenchmarkHandshake(b *testing.B) {
	b.Run("X25519", func(b *testing.B) { benchHandshake(b, []Group{X25519}, false) })
	b.Run("X25519MLKEM768", func(b *testing.B) { benchHandshake(b, []Group{X25519MLKEM768}, false) })
	b.Run("P256", func(b *testing.B) { benchHandshake(b, []Group{P256}, false) })
	// After the first iteration every handshake resumes (and stores a new ticket).
	b.Run("X25519/resumed", func(b *testing.B) { benchHandshake(b, []Group{X25519}, true) })
}
