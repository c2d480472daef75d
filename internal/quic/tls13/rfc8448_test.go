package tls13

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"testing"
)

// The handshake traces of RFC 8448 (TLS_AES_128_GCM_SHA256, x25519). The
// certificates there are RSA, so only the key schedule, the transcript
// handling, the binder and the parsers are checked against them.
const (
	rfc8448ClientHello = "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"
	rfc8448ServerHello = "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"
	rfc8448EE          = "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"
	rfc8448Cert        = "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000"
	rfc8448CV          = "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3"
	rfc8448ServerFin   = "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"
	rfc8448ClientFin   = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"
	rfc8448Ticket      = "040000c90000001efad6aac502000000b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d3570008002a000400000400"

	// Section 4: the resumed 0-RTT ClientHello up to its binders, then the binders.
	rfc8448ResumeHelloPrefix = "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c0002400100150057000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb"
	rfc8448ResumeBinders     = "0021203add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"
	rfc8448ResumeServerHello = "0200005c03033ccfd2dec890222763472ae8136777c9d7358777bb66e91ea5122495f559ea2d00130100003400290002000000330024001d0020121761ee42c333e1b9e77b60dd57c2053cd94512ab47f115e86eff50942cea31002b00020304"
	rfc8448ResumeEE          = "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000002a0000"
	rfc8448ResumeServerFin   = "1400002048d3e0e1b3d907c6acff145e16090388c77b05c050b634ab1a88bbd0dd1a34b2"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkHex(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if hex.EncodeToString(got) != want {
		t.Errorf("%s = %x, want %s", what, got, want)
	}
}

func x25519Shared(t *testing.T, priv, peer string) []byte {
	t.Helper()
	k, err := ecdh.X25519().NewPrivateKey(unhex(t, priv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ecdhShared(k, unhex(t, peer))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRFC8448Simple follows RFC 8448 §3 (simple 1-RTT handshake).
func TestRFC8448Simple(t *testing.T) {
	h := TLS_AES_128_GCM_SHA256
	ch, err := parseClientHello(unhex(t, rfc8448ClientHello))
	if err != nil {
		t.Fatal(err)
	}
	if ch.serverName != "server" || len(ch.keyShares) != 1 || ch.keyShares[0].group != X25519 || !slicesEqual(ch.pskModes, []uint8{1}) {
		t.Errorf("client hello parsed as %+v", ch)
	}
	sh, err := parseServerHello(unhex(t, rfc8448ServerHello))
	if err != nil {
		t.Fatal(err)
	}
	if sh.suite != TLS_AES_128_GCM_SHA256 || sh.supportedVersion != versionTLS13 || sh.isHRR() {
		t.Errorf("server hello parsed as %+v", sh)
	}
	shared := x25519Shared(t, "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005", hex.EncodeToString(sh.keyShare.data))
	checkHex(t, "shared", shared, "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
	early := earlySecret(h, nil)
	checkHex(t, "early", early, "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
	hs := nextSecret(h, early, shared)
	checkHex(t, "handshake", hs, "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")

	var ts transcript
	ts.add(unhex(t, rfc8448ClientHello))
	ts.add(unhex(t, rfc8448ServerHello))
	th := ts.sum(h)
	cHS := deriveSecret(h, hs, labelClientHandshake, th)
	sHS := deriveSecret(h, hs, labelServerHandshake, th)
	checkHex(t, "c hs", cHS, "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
	checkHex(t, "s hs", sHS, "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
	master := nextSecret(h, hs, nil)
	checkHex(t, "master", master, "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")

	ts.add(unhex(t, rfc8448EE))
	ts.add(unhex(t, rfc8448Cert))
	ts.add(unhex(t, rfc8448CV))
	fin, err := parseFinished(unhex(t, rfc8448ServerFin))
	if err != nil {
		t.Fatal(err)
	}
	checkHex(t, "server finished", finishedMAC(h, sHS, ts.sum(h)), hex.EncodeToString(fin.verifyData))
	ts.add(unhex(t, rfc8448ServerFin))
	th = ts.sum(h)
	checkHex(t, "c ap", deriveSecret(h, master, labelClientApp, th), "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
	checkHex(t, "s ap", deriveSecret(h, master, labelServerApp, th), "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
	checkHex(t, "client finished", finishedMAC(h, cHS, th), rfc8448ClientFin[8:])
	ts.add(unhex(t, rfc8448ClientFin))
	resMS := deriveSecret(h, master, labelResMaster, ts.sum(h))
	checkHex(t, "res master", resMS, "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")

	nst, err := parseNewSessionTicket(unhex(t, rfc8448Ticket))
	if err != nil {
		t.Fatal(err)
	}
	if nst.lifetime != 30 || nst.ageAdd != 0xfad6aac5 || len(nst.ticket) != 178 || nst.maxEarlyData != 0x400 {
		t.Errorf("ticket parsed as lifetime %d ageAdd %x ticket %d early %d", nst.lifetime, nst.ageAdd, len(nst.ticket), nst.maxEarlyData)
	}
	checkHex(t, "psk", resumptionPSK(h, resMS, nst.nonce), "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
}

// TestRFC8448Resumed follows RFC 8448 §4 (resumed 0-RTT handshake): the
// binder, the early traffic secret and the PSK-seeded schedule.
func TestRFC8448Resumed(t *testing.T) {
	h := TLS_AES_128_GCM_SHA256
	psk := unhex(t, "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
	early := earlySecret(h, psk)
	checkHex(t, "early", early, "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
	binderKey := deriveSecret(h, early, labelResBinder, emptyHash(h))
	checkHex(t, "binder key", binderKey, "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256")

	full := append(unhex(t, rfc8448ResumeHelloPrefix), unhex(t, rfc8448ResumeBinders)...)
	ch, err := parseClientHello(full)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.pskIdentities) != 1 || !ch.earlyData || len(ch.pskBinders) != 1 {
		t.Fatalf("resumed hello parsed as %+v", ch)
	}
	var ts transcript
	truncated := full[:len(full)-ch.bindersLen()]
	if !bytes.Equal(truncated, unhex(t, rfc8448ResumeHelloPrefix)) {
		t.Fatal("bindersLen cuts the hello in the wrong place")
	}
	binder := finishedMAC(h, binderKey, ts.sumWith(h, truncated))
	checkHex(t, "binder", binder, hex.EncodeToString(ch.pskBinders[0]))

	ts.add(full)
	checkHex(t, "c e traffic", deriveSecret(h, early, labelClientEarly, ts.sum(h)), "3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62")

	sh, err := parseServerHello(unhex(t, rfc8448ResumeServerHello))
	if err != nil {
		t.Fatal(err)
	}
	if !sh.hasPSK || sh.selectedIdentity != 0 {
		t.Errorf("server hello PSK %v %d", sh.hasPSK, sh.selectedIdentity)
	}
	shared := x25519Shared(t, "bff91188283846dd6a2134ef7180ca2b0b14fb10dce707b5098c0dddc813b2df", hex.EncodeToString(sh.keyShare.data))
	checkHex(t, "shared", shared, "f44194756ff9ec9d25180635d66ea6824c6ab3bf179977be37f723570e7ccb2e")
	hs := nextSecret(h, early, shared)
	checkHex(t, "handshake", hs, "005cb112fd8eb4ccc623bb88a07c64b3ede1605363fc7d0df8c7ce4ff0fb4ae6")
	ts.add(unhex(t, rfc8448ResumeServerHello))
	th := ts.sum(h)
	checkHex(t, "c hs", deriveSecret(h, hs, labelClientHandshake, th), "2faac08f851d35fea3604fcb4de82dc62c9b164a70974d0462e27f1ab278700f")
	sHS := deriveSecret(h, hs, labelServerHandshake, th)
	checkHex(t, "s hs", sHS, "fe927ae271312e8bf0275b581c54eef020450dc4ecffaa05a1a35d27518e7803")
	master := nextSecret(h, hs, nil)
	checkHex(t, "master", master, "e2d32d4ed66dd37897a0e80c84107503ce58bf8aad4cb55a5002d77ecb890ece")
	ts.add(unhex(t, rfc8448ResumeEE))
	checkHex(t, "server finished", finishedMAC(h, sHS, ts.sum(h)), rfc8448ResumeServerFin[8:])
	ts.add(unhex(t, rfc8448ResumeServerFin))
	th = ts.sum(h)
	checkHex(t, "c ap", deriveSecret(h, master, labelClientApp, th), "2abbf2b8e381d23dbebe1dd2a7d16a8bf484cb4950d23fb7fb7fa8547062d9a1")
	checkHex(t, "s ap", deriveSecret(h, master, labelServerApp, th), "cc21f1bf8feb7dd5fa505bd9c4b468a9984d554a993dc49e6d285598fb672691")
}
