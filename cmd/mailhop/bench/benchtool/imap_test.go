package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseImaptest(t *testing.T) {
	out := `Error: connect() failed: Connection refused
Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo 
100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 
                          30%                  5%      
 303  150  161  302  275  388   90  139  272  309  294  10/ 10
Error: user11@example.net[1622]: Keyword used without being in FLAGS: $Label4: * 1 FETCH (FLAGS ($Label4))
Error: user3@example.net[17]: Keyword used without being in FLAGS: $Label3: * 9 FETCH (FLAGS ($Label3 \Seen))
Error: Keyword '$Label5' dropped, but it still had 4 references
   1    2    3    3    4    4   12   14   18   29    1 ms/cmd avg

Totals:
Logi List Stat Sele Fetc Fet2 Stor Dele Expu Appe Logo 
100%  50%  50% 100% 100% 100%  50% 100% 100% 100% 100% 
                          30%                  5%      
1176  604  610 1175 1145 1622  388  573 1145 1186 1176 
`
	res, err := parseImaptest(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Totals || res.Counts["Logi"] != 1176 || res.Counts["Fet2"] != 1622 || len(res.Counts) != 11 {
		t.Errorf("counts %v (totals %v)", res.Counts, res.Totals)
	}
	if res.Errors != 4 || len(res.Kinds) != 3 || res.Kinds[0].Count != 2 ||
		!strings.Contains(res.Kinds[0].Example, "user11@example.net[1622]: Keyword") {
		t.Errorf("errors %d, kinds %+v", res.Errors, res.Kinds)
	}

	if _, err := parseImaptest(strings.NewReader("Totals:\nLogi Sele\n12\n")); err == nil {
		t.Error("a totals line short of a count was taken")
	}
}

func TestMbox(t *testing.T) {
	var a, b bytes.Buffer
	mboxTo(&a, 200)
	mboxTo(&b, 200)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two mboxes of the same messages differ")
	}
	s := a.String()
	if n := strings.Count(s, "\r\nFrom ") + 1; !strings.HasPrefix(s, "From ") || n != 200 {
		t.Errorf("%d messages, want 200", n)
	}
	if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Error("a line ends in a bare LF")
	}
	for _, l := range strings.Split(s, "\r\n") {
		if len(l) > 998 {
			t.Fatalf("line of %d bytes", len(l))
		}
	}
	t.Logf("%d bytes", a.Len())
	if a.Len() < 1<<20 || a.Len() > 16<<20 {
		t.Errorf("%d bytes: not the sizes meant", a.Len())
	}
}
