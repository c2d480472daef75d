package tls13

import (
	"runtime"
	"testing"
)

// TestWorstCaseAllocation feeds a server ClientHellos near the message
// size limit built to allocate the most per byte (thousands of tiny key
// shares, ALPN names, PSK identities, extensions), and checks that the
// memory a HandleData call allocates stays proportional to its input.
func TestWorstCaseAllocation(t *testing.T) {
	const budget = 64 << 10
	// fill adds n items of per bytes each, n chosen to reach about budget.
	fill := func(per int, f func(ch *clientHello, i int)) []byte {
		ch := &clientHello{random: make([]byte, 32), compression: []byte{0}, cipherSuites: []CipherSuite{TLS_AES_128_GCM_SHA256}}
		for i := range (budget - 200) / per {
			f(ch, i)
		}
		return mustBytes(ch.marshal())
	}
	inputs := map[string][]byte{
		"key shares": fill(5, func(ch *clientHello, i int) {
			ch.keyShares = append(ch.keyShares, keyShareEntry{group: Group(i), data: []byte{1}})
		}),
		"alpn": fill(2, func(ch *clientHello, i int) { ch.alpn = append(ch.alpn, "a") }),
		"psk identities": fill(40, func(ch *clientHello, i int) {
			ch.pskIdentities = append(ch.pskIdentities, pskIdentity{identity: []byte{1}})
			ch.pskBinders = append(ch.pskBinders, make([]byte, 32))
		}),
		"unknown extensions": fill(4, func(ch *clientHello, i int) {
			ch.extra = append(ch.extra, rawExt{typ: uint16(1000 + i)})
		}),
		"groups": fill(2, func(ch *clientHello, i int) {
			ch.supportedGroups = append(ch.supportedGroups, Group(i))
		}),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if len(in) < budget/2 {
				t.Fatalf("input only %d bytes", len(in))
			}
			keys, _ := NewTicketKeys(nil, 0)
			cfg := serverConfig()
			cfg.TicketKeys = keys
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := Server(cfg).HandleData(LevelInitial, in)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes in, %d bytes allocated, err %v", len(in), alloc, err)
			if alloc > 4*uint64(len(in))+1<<20 {
				t.Errorf("allocated %d bytes for %d bytes of input", alloc, len(in))
			}
		})
	}
}

// TestMarshalAllocations: encoding a message allocates only its output.
func TestMarshalAllocations(t *testing.T) {
	c := Client(clientConfig())
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ch := c.hello
	ee := &encryptedExtensions{alpn: testALPN, transportParams: make([]byte, 100), serverCertType: 2, clientCertType: 2}
	cert := &certificateMsg{entries: [][]byte{AppendSPKI(nil, serverSecret.Public())}}
	cv := &certificateVerify{algorithm: sigEd25519, signature: make([]byte, 64)}
	nst := &newSessionTicket{lifetime: 1, nonce: make([]byte, 8), ticket: make([]byte, 150), maxEarlyData: maxEarlyDataQUIC}
	sh := &serverHello{random: make([]byte, 32), suite: TLS_AES_128_GCM_SHA256, supportedVersion: versionTLS13, keyShare: keyShareEntry{X25519, make([]byte, 32)}}
	for name, f := range map[string]func() ([]byte, error){
		"ClientHello": ch.marshal, "ServerHello": sh.marshal, "EncryptedExtensions": ee.marshal,
		"Certificate": cert.marshal, "CertificateVerify": cv.marshal, "NewSessionTicket": nst.marshal,
	} {
		if n := testing.AllocsPerRun(20, func() { f() }); n > 1 {
			t.Errorf("%s: %v allocations, want 1", name, n)
		}
	}
}

// TestHugeHandleData: megabytes in one call are refused without buffering
// them; a message split at every byte still works (TestHandshakeByteByByte).
func TestHugeHandleData(t *testing.T) {
	r := handshake(t, clientConfig(), serverConfig(), nil, 0)
	r.mustSucceed(t)
	// Many valid-looking tickets in one call, then garbage: the client
	// processes them piecewise and stops at the first bad one.
	nst := mustBytes((&newSessionTicket{lifetime: 60, nonce: []byte{1}, ticket: []byte{1}}).marshal())
	var big []byte
	for len(big) < 4<<20 {
		big = append(big, nst...)
	}
	big = append(big, 0xff, 0, 0, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := r.client.c.HandleData(LevelApplication, big)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("garbage after tickets accepted")
	}
	if cap(r.client.c.in) > 2*(DefaultMaxMessageSize+4) {
		t.Errorf("buffer grew to %d bytes", cap(r.client.c.in))
	}
	t.Logf("4 MiB in one call: %v, %d bytes allocated", err, after.TotalAlloc-before.TotalAlloc)
}
