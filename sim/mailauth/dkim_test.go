package mailauth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

const testMsg = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>\r\n" +
	"Subject: Lunch\r\n" +
	"Date: Thu, 01 Jan 2026 09:00:00 +0000\r\n" +
	"Message-ID: <4F2A9C@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hi Bob,\r\n" +
	"\r\n" +
	"lunch at noon?  \r\n" +
	"\r\n\r\n"

var (
	keysOnce sync.Once
	rsaKey   crypto.Signer
	edKey    crypto.Signer
)

// testKeys are derived once: an RSA key takes a moment, more under wasm.
func testKeys(t testing.TB) (crypto.Signer, crypto.Signer) {
	keysOnce.Do(func() {
		k, err := RSAFromSeed([]byte("test"), 1024)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey, edKey = k, Ed25519FromSeed([]byte("test"))
	})
	if rsaKey == nil {
		t.Fatal("no RSA key")
	}
	return rsaKey, edKey
}

// keyZone publishes the keys: rsa and ed selectors of example.org.
func keyZone(t testing.TB, extra ...string) *fakeDNS {
	rk, ek := testKeys(t)
	var recs []string
	for sel, k := range map[string]crypto.Signer{"rsa": rk, "ed": ek} {
		r, err := DKIMRecord(k)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, txt(DKIMRecordName(sel, "example.org")+".", SplitTXT(r)...))
	}
	return newFakeDNS(t, append(recs, extra...)...)
}

var fixedNow = func() time.Time { return time.Date(2026, 1, 1, 9, 0, 1, 0, time.UTC) }

func verify(t testing.TB, f *fakeDNS, msg []byte) []DKIMResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return VerifyDKIM(ctx, FromExchanger(f), msg)
}

func TestDKIMSignVerify(t *testing.T) {
	rk, ek := testKeys(t)
	f := keyZone(t)
	for _, c := range []struct {
		name, sel string
		key       crypto.Signer
		now       func() time.Time
	}{
		{"rsa wall clock", "rsa", rk, nil},
		{"rsa clock", "rsa", rk, fixedNow},
		{"ed25519 wall clock", "ed", ek, nil},
		{"ed25519 clock", "ed", ek, fixedNow},
	} {
		t.Run(c.name, func(t *testing.T) {
			signed, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: c.sel, Key: c.key, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			res := verify(t, f, signed)
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			r := res[0]
			if r.Result != Pass || !r.BodyOK || r.Domain != "example.org" || r.Selector != c.sel {
				t.Fatalf("%+v\n%s", r, signed)
			}
			if !strings.Contains(r.Reason, "good signature by example.org") || !strings.Contains(r.Reason, "From, To, Subject, Date, Message-ID, MIME-Version and Content-Type") {
				t.Errorf("reason %q", r.Reason)
			}
			if got := strings.Join(r.Headers, ":"); got != "From:From:To:Subject:Date:Message-ID:MIME-Version:Content-Type" {
				t.Errorf("h= %s", got)
			}
			if r.Canon != "relaxed/relaxed" || len(r.Lookups) != 1 || r.Lookups[0].Type != "TXT" {
				t.Errorf("c=%s lookups %+v", r.Canon, r.Lookups)
			}
			if c.now != nil && !strings.Contains(string(signed), "t=1767258001;") {
				t.Errorf("t= is not the given time:\n%s", signed)
			}
			for l := range strings.SplitSeq(strings.Split(string(signed), "\r\n\r\n")[0], "\r\n") {
				if len(l) > 78 {
					t.Errorf("header line of %d characters: %q", len(l), l)
				}
			}

			// Tampering.
			for _, tc := range []struct {
				name, from, to string
				want           Result
				bodyOK         bool
				reason         string
			}{
				{"body changed", "lunch at noon?", "lunch at one?", Fail, false, "body hash does not match"},
				{"subject changed", "Subject: Lunch", "Subject: Dinner", Fail, true, "does not verify"},
				{"second From", "From: Alice", "From: Mallory <m@example.com>\r\nFrom: Alice", Fail, true, ""},
				{"unsigned field added", "Subject: Lunch", "X-Spam: no\r\nSubject: Lunch", Pass, true, ""},
				{"spaces in a field", "Subject: Lunch", "Subject:   Lunch  ", Pass, true, ""},
				{"trailing empty lines", "noon?  \r\n", "noon?\r\n\r\n\r\n\r\n", Pass, true, ""},
				{"bare LF", "Hi Bob,\r\n", "Hi Bob,\n", Pass, true, ""},
			} {
				m := strings.Replace(string(signed), tc.from, tc.to, 1)
				r := verify(t, f, []byte(m))[0]
				if r.Result != tc.want || r.BodyOK != tc.bodyOK || !strings.Contains(r.Reason, tc.reason) {
					t.Errorf("%s: %s body ok %v (%s)", tc.name, r.Result, r.BodyOK, r.Reason)
				}
			}
		})
	}
}

// msgauthSignature signs msg with go-msgauth's signer, as Signature
// would: the same options and h= list.
func msgauthSignature(t *testing.T, msg []byte, o SignOptions) string {
	t.Helper()
	fields, _, _ := splitHeader(msg)
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: o.Domain, Selector: o.Selector, Identifier: o.Identity, Signer: o.Key,
		Hash: crypto.SHA256, HeaderKeys: signedKeys(fields, DefaultSignedHeaders),
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Signature()
}

// TestDKIMOwnSignerMatchesMsgauth: the signer writes the tags
// go-msgauth's signer writes, and always the same bytes.
func TestDKIMOwnSignerMatchesMsgauth(t *testing.T) {
	_, ek := testKeys(t)
	theirs := msgauthSignature(t, []byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek})
	tt, err := parseTagList(hfield{raw: theirs}.value())
	if err != nil {
		t.Fatal(err)
	}
	var ts int64
	fmt.Sscan(tt["t"], &ts)
	at := func() time.Time { return time.Unix(ts, 0) }
	ours, err := Signature([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Signature([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: at})
	if ours != again {
		t.Errorf("two signatures at the same time differ:\n%s\n%s", ours, again)
	}
	ot, err := parseTagList(hfield{raw: ours}.value())
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v", "a", "c", "d", "s", "t", "h", "bh"} {
		if stripSpace(ot[tag]) != stripSpace(tt[tag]) {
			t.Errorf("%s=: ours %q, go-msgauth's %q", tag, ot[tag], tt[tag])
		}
	}
	if len(ot) != len(tt) {
		t.Errorf("tags: ours %v, go-msgauth's %v", ot, tt)
	}
}

func TestDKIMKeyProblems(t *testing.T) {
	_, ek := testKeys(t)
	signed := func(sel string) []byte {
		m, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: sel, Key: ek, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rec, _ := DKIMRecord(ek)
	f := keyZone(t,
		txt("revoked._domainkey.example.org.", "v=DKIM1; k=ed25519; p="),
		txt("two._domainkey.example.org.", rec), txt("two._domainkey.example.org.", rec),
		txt("bad._domainkey.example.org.", "v=DKIM1; k=ed25519; p=!!!"),
		txt("rsaonly._domainkey.example.org.", strings.Replace(rec, "k=ed25519", "k=rsa", 1)),
		"loop._domainkey.example.org. IN CNAME loop2._domainkey.example.org.",
		"loop2._domainkey.example.org. IN CNAME loop._domainkey.example.org.",
	)
	f.servfail["down._domainkey.example.org."] = true
	for _, c := range []struct {
		sel    string
		want   Result
		reason string
	}{
		{"missing", PermError, "no DKIM key at missing._domainkey.example.org"},
		{"revoked", PermError, "revoked"},
		{"two", PermError, "more than one TXT record"},
		{"bad", PermError, "unusable"},
		{"rsaonly", PermError, "unusable"},
		{"down", TempError, "may work later"},
		{"loop", TempError, "CNAME loop"},
		{"ed", Pass, ""},
	} {
		r := verify(t, f, signed(c.sel))[0]
		if r.Result != c.want || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: %s (%s), want %s", c.sel, r.Result, r.Reason, c.want)
		}
	}
}

// sigMsg puts a DKIM-Signature with the given tags on top of testMsg.
func sigMsg(tags string) []byte {
	return []byte("DKIM-Signature: " + tags + "\r\n" + testMsg)
}

func TestDKIMMalformed(t *testing.T) {
	f := keyZone(t)
	ok := "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ed; h=from:to; bh=AAAA; b=AAAA"
	cases := []struct {
		name, tags string
		want       Result
		reason     string
	}{
		{"duplicate tag", ok + "; d=example.com", PermError, "appears twice"},
		{"missing b", strings.Replace(ok, "; b=AAAA", "", 1), PermError, "b="},
		{"missing several", "v=1; a=rsa-sha256", PermError, "b=, bh=, d=, h=, s="},
		{"version 2", strings.Replace(ok, "v=1", "v=2", 1), PermError, "v=2"},
		{"From not signed", strings.Replace(ok, "h=from:to", "h=to:subject", 1), PermError, "From"},
		{"bad tag name", ok + "; 1x=y", PermError, "tag name"},
		{"not tag=value", ok + "; garbage", PermError, "not tag=value"},
		{"control byte", ok + "; z=a\x01b", PermError, "byte"},
		{"bad l=", ok + "; l=12a", PermError, "not a number"},
		{"bad base64", ok, Fail, ""},
		{"unknown algorithm", strings.Replace(ok, "ed25519-sha256", "dsa-sha256", 1), PermError, ""},
		{"sha1", strings.Replace(ok, "ed25519-sha256", "rsa-sha1", 1), PermError, "sha1"},
		{"i not in d", ok + "; i=@example.com", PermError, "not in d="},
		{"empty", "", PermError, "required"},
		{"only semicolons", ";;;", PermError, "required"},
		{"unknown canonicalization", strings.Replace(ok, "relaxed/relaxed", "loose/loose", 1), PermError, "unusable"},
		{"expired", ok + "; x=1000", PermError, "expired"},
	}
	for _, c := range cases {
		res := verify(t, f, sigMsg(c.tags))
		if len(res) != 1 {
			t.Errorf("%s: %d results", c.name, len(res))
			continue
		}
		if res[0].Result != c.want || !strings.Contains(res[0].Reason, c.reason) {
			t.Errorf("%s: %s (%s), want %s (…%s…)", c.name, res[0].Result, res[0].Reason, c.want, c.reason)
		}
	}
	// No end of header: nothing can be verified.
	res := verify(t, f, []byte("DKIM-Signature: "+ok+"\r\nFrom: a@example.org"))
	if len(res) != 1 || res[0].Result != PermError {
		t.Errorf("no end of header: %+v", res)
	}
	if res := verify(t, f, []byte(testMsg)); res != nil {
		t.Errorf("unsigned message: %+v", res)
	}
}

// TestDKIMBodyLength: l= covers part of the body; this verifier
// answers policy, and says whether that part is intact.
func TestDKIMBodyLength(t *testing.T) {
	f := keyZone(t)
	_, body, _ := splitHeader([]byte(testMsg))
	canon := canonicalBody(body, true)
	sum := sha256.Sum256(canon[:10])
	bh := base64.StdEncoding.EncodeToString(sum[:])
	tags := "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ed; h=from:to; l=10; bh=" + bh + "; b=AAAA"
	r := verify(t, f, sigMsg(tags))[0]
	if r.Result != Policy || r.BodyLength != 10 || !r.BodyChecked || !r.BodyOK || !strings.Contains(r.Reason, "first 10 bytes") {
		t.Errorf("l=10: %+v", r)
	}
	// Text appended after signing: the covered part still matches.
	r = verify(t, f, append(sigMsg(tags), "Click here: https://phish.example/\r\n"...))[0]
	if r.Result != Policy || !r.BodyOK {
		t.Errorf("appended: %+v", r)
	}
	r = verify(t, f, sigMsg(strings.Replace(tags, "l=10", "l=5", 1)))[0]
	if r.Result != Policy || r.BodyOK {
		t.Errorf("l=5 with the hash of 10: %+v", r)
	}
	r = verify(t, f, sigMsg(strings.Replace(tags, "l=10", "l=100000", 1)))[0]
	if r.Result != PermError || !strings.Contains(r.Reason, "longer than the body") {
		t.Errorf("l= past the end: %+v", r)
	}
	r = verify(t, f, sigMsg(strings.Replace(tags, "l=10", "l=99999999999999999999999999", 1)))[0]
	if r.Result != Policy {
		t.Errorf("huge l=: %+v", r)
	}
}

// TestDKIMHugeHeaderList: a signature with thousands of names in h= is
// set aside at once, and does not stop a good signature beside it.
func TestDKIMHugeHeaderList(t *testing.T) {
	_, ek := testKeys(t)
	f := keyZone(t)
	signed, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	huge := "v=1; a=ed25519-sha256; d=example.org; s=ed; bh=AAAA; b=AAAA; h=" + strings.Repeat("from:", 50000) + "to"
	msg := append([]byte("DKIM-Signature: "+huge+"\r\n"), signed...)
	// Thousands of header fields for the signature to look through.
	msg = []byte(strings.Replace(string(msg), "Subject: Lunch\r\n", strings.Repeat("X-Filler: x\r\n", 900)+"Subject: Lunch\r\n", 1))
	start := time.Now()
	res := verify(t, f, msg)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if len(res) != 2 || res[0].Result != Policy || !strings.Contains(res[0].Reason, "50001 header fields") || res[1].Result != Pass {
		t.Errorf("%+v", res)
	}
	// Too many fields in all.
	msg = []byte(strings.Replace(string(signed), "Subject: Lunch\r\n", strings.Repeat("X-Filler: x\r\n", MaxHeaderFields)+"Subject: Lunch\r\n", 1))
	if res := verify(t, f, msg); len(res) != 1 || res[0].Result != Policy {
		t.Errorf("too many fields: %+v", res)
	}
}

func TestDKIMManySignatures(t *testing.T) {
	rk, ek := testKeys(t)
	f := keyZone(t)
	msg := []byte(testMsg)
	var err error
	for i := range MaxSignatures + 2 {
		key, sel := ek, "ed"
		if i%2 == 1 {
			key, sel = rk, "rsa"
		}
		if msg, err = SignWith(msg, SignOptions{Domain: "example.org", Selector: sel, Key: key, Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
	}
	res := verify(t, f, msg)
	if len(res) != MaxSignatures+2 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		want := Pass
		if i >= MaxSignatures {
			want = Policy
		}
		if r.Result != want {
			t.Errorf("signature %d: %s (%s)", i, r.Result, r.Reason)
		}
	}
}

func TestDKIMRecordAndKeys(t *testing.T) {
	rk, ek := testKeys(t)
	r, err := DKIMRecord(ek.Public())
	if err != nil || !strings.HasPrefix(r, "v=DKIM1; k=ed25519; p=") || len(r) != len("v=DKIM1; k=ed25519; p=")+44 {
		t.Errorf("ed25519 record %q, %v", r, err)
	}
	r, err = DKIMRecord(rk)
	if err != nil || !strings.HasPrefix(r, "v=DKIM1; k=rsa; p=MIGfMA0G") {
		t.Errorf("rsa record %q, %v", r, err)
	}
	if _, err := DKIMRecord("not a key"); err == nil {
		t.Error("a string made a record")
	}
	if got := DKIMRecordName("sel", "example.org."); got != "sel._domainkey.example.org" {
		t.Error(got)
	}
	long := strings.Repeat("x", 600)
	if parts := SplitTXT(long); len(parts) != 3 || len(parts[0]) != 255 || strings.Join(parts, "") != long {
		t.Errorf("SplitTXT: %d parts", len(parts))
	}
	if z := ZoneTXT("sel._domainkey.example.org", `a"b`); z != `sel._domainkey.example.org. IN TXT ( "a\"b" )` {
		t.Error(z)
	}
	// Seeded keys are the same every time, and differ by seed.
	if !Ed25519FromSeed([]byte("a")).Equal(Ed25519FromSeed([]byte("a"))) || Ed25519FromSeed([]byte("a")).Equal(Ed25519FromSeed([]byte("b"))) {
		t.Error("Ed25519FromSeed is not a function of the seed")
	}
	k2, err := RSAFromSeed([]byte("test"), 1024)
	if err != nil || !k2.Equal(rk) {
		t.Errorf("RSAFromSeed differs on a second run: %v", err)
	}
	// The key of seed "test" is fixed for good: a change here changes
	// every simulated world's DNS.
	sum := sha256.Sum256(k2.N.Bytes())
	if got := fmt.Sprintf("%x", sum[:8]); got != wantRSASeedTest {
		t.Errorf("RSAFromSeed(test, 1024) modulus hash %s, want %s", got, wantRSASeedTest)
	}
	if _, err := RSAFromSeed(nil, 512); err == nil {
		t.Error("512-bit key")
	}
}

const wantRSASeedTest = "37eda91137f34dc9"

func TestKeyFiles(t *testing.T) {
	rk, ek := testKeys(t)
	dir := t.TempDir()
	for name, k := range map[string]crypto.Signer{"rsa.pem": rk, "ed.pem": ek} {
		path := dir + "/" + name
		if err := SaveKey(path, k); err != nil {
			t.Fatal(err)
		}
		if fi, err := osStat(path); err != nil || fi&0o077 != 0 {
			t.Errorf("%s: mode %o, %v", name, fi, err)
		}
		back, err := LoadKey(path)
		if err != nil {
			t.Fatal(err)
		}
		if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k) {
			t.Errorf("%s: the key read back differs", name)
		}
	}
	path := dir + "/new.pem"
	k, created, err := LoadOrCreateKey(path, KeyEd25519)
	if err != nil || !created {
		t.Fatalf("created %v, %v", created, err)
	}
	k2, created, err := LoadOrCreateKey(path, KeyEd25519)
	if err != nil || created || !k2.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k) {
		t.Errorf("second load: created %v, %v", created, err)
	}
	if _, err := ParseKey([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("a certificate parsed as a key")
	}
	if _, err := ParseKey([]byte("nothing")); err == nil {
		t.Error("no PEM parsed")
	}
	if _, err := GenerateKey("dsa", 0); err == nil {
		t.Error("dsa key")
	}
}

func TestDKIMSignOptions(t *testing.T) {
	_, ek := testKeys(t)
	f := keyZone(t)
	// From is signed even when the list forgets it.
	m, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: fixedNow, Headers: []string{"Subject"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(t, f, m)[0]; r.Result != Pass || strings.Join(r.Headers, ":") != "From:From:Subject" {
		t.Errorf("%+v", r)
	}
	m, err = SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Identity: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(t, f, m)[0]; r.Result != Pass || r.Identifier != "alice@example.org" {
		t.Errorf("i=: %+v", r)
	}
	for _, c := range []struct {
		msg string
		o   SignOptions
	}{
		{"To: bob@example.net\r\n\r\nno From\r\n", SignOptions{Domain: "example.org", Selector: "ed", Key: ek}},
		{"From: a@example.org\r\n", SignOptions{Domain: "example.org", Selector: "ed", Key: ek}},
		{testMsg, SignOptions{Selector: "ed", Key: ek}},
		{testMsg, SignOptions{Domain: "example.org", Selector: "ed"}},
	} {
		if _, err := Signature([]byte(c.msg), c.o); err == nil {
			t.Errorf("%q signed", c.msg)
		}
	}
}

// TestDKIMRSA2048: a 2048-bit key's record needs two TXT strings.
func TestDKIMRSA2048(t *testing.T) {
	key, err := RSAFromSeed([]byte("example.org 2026"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := DKIMRecord(key)
	parts := SplitTXT(rec)
	if len(parts) != 2 {
		t.Errorf("%d strings", len(parts))
	}
	f := newFakeDNS(t, txt("big._domainkey.example.org.", parts...))
	for _, now := range []func() time.Time{nil, fixedNow} {
		m, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "big", Key: key, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if r := verify(t, f, m)[0]; r.Result != Pass || r.Algorithm != "rsa-sha256" {
			t.Errorf("%+v", r)
		}
	}
}

// A key whose public half was worked out ahead of time is the very key
// derived without it, and signs what its public key verifies; a seed not
// known ahead is derived as before.
func TestKnowEd25519(t *testing.T) {
	seeds := [][]byte{[]byte("example.org"), []byte("example.net")}
	want := []ed25519.PrivateKey{Ed25519FromSeed(seeds[0]), Ed25519FromSeed(seeds[1])}
	known := Ed25519PublicKeys(seeds[:1])
	KnowEd25519(known)
	defer KnowEd25519(nil)
	for i, seed := range seeds {
		got := Ed25519FromSeed(seed)
		if !got.Equal(want[i]) {
			t.Fatalf("seed %q: %x, want %x", seed, got, want[i])
		}
		sig := ed25519.Sign(got, []byte("m"))
		if !ed25519.Verify(got.Public().(ed25519.PublicKey), []byte("m"), sig) {
			t.Errorf("seed %q: the key's signature does not verify", seed)
		}
	}
	// A wrong public half shows: the table is taken as it is.
	for s := range known {
		known[s] = [32]byte{1}
	}
	if Ed25519FromSeed(seeds[0]).Equal(want[0]) {
		t.Error("KnowEd25519's keys are not used")
	}
}

// BenchmarkDKIMSign and BenchmarkDKIMVerify: an Ed25519 DKIM signature
// of a short message and its check (the key looked up in a fake DNS), as
// each message of the chain has them. make bench-wasm runs them under
// WebAssembly, built both as Go builds by default and as the playground's
// module is (web/build.sh --gcflags).
func BenchmarkDKIMSign(b *testing.B) {
	_, ek := testKeys(b)
	for b.Loop() {
		if _, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: fixedNow}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDKIMVerify(b *testing.B) {
	_, ek := testKeys(b)
	f := keyZone(b)
	signed, err := SignWith([]byte(testMsg), SignOptions{Domain: "example.org", Selector: "ed", Key: ek, Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res := verify(b, f, signed); len(res) != 1 || res[0].Result != Pass {
			b.Fatalf("%+v", res)
		}
	}
}
