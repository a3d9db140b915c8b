package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// pss prints the proportional set size of a process and every process
// under it, summed: a fair total for a server of many processes that
// share their code (Dovecot), and about the resident size for one.
func pss(pid int) error {
	total, procs := 0, 0
	for _, p := range processTree(pid) {
		kb, err := statusKB("/proc/"+strconv.Itoa(p.pid)+"/smaps_rollup", "Pss:")
		if err != nil {
			continue
		}
		total += kb
		procs++
	}
	if procs == 0 {
		return fmt.Errorf("no process %d", pid)
	}
	fmt.Printf("%.1f %d\n", float64(total)/1024, procs)
	return nil
}

// cpu prints the CPU seconds (user and system) a process and every
// process under it have used, those they waited for included: the
// difference of two readings is what a server of many processes
// (Postfix) spent between them, its short-lived ones too.
func cpu(pid int) error {
	ticks, procs := 0, 0
	for _, p := range processTree(pid) {
		ticks += p.ticks
		procs++
	}
	if procs == 0 {
		return fmt.Errorf("no process %d", pid)
	}
	// USER_HZ is 100 on every Linux this runs on.
	fmt.Printf("%.2f\n", float64(ticks)/100)
	return nil
}

type proc struct {
	pid, ppid int
	// ticks is utime+stime+cutime+cstime, in clock ticks.
	ticks int
}

// processTree lists pid and the processes under it, from /proc/*/stat.
func processTree(pid int) []proc {
	all := map[int]proc{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 15 {
			continue
		}
		p := proc{}
		p.pid, _ = strconv.Atoi(filepath.Base(filepath.Dir(path)))
		p.ppid, _ = strconv.Atoi(f[1])
		for _, t := range f[11:15] { // fields 14-17 of proc(5)
			n, _ := strconv.Atoi(t)
			p.ticks += n
		}
		all[p.pid] = p
	}
	under := func(id int) bool {
		for n := 0; id > 1 && n < 64; n++ {
			if id == pid {
				return true
			}
			id = all[id].ppid
		}
		return false
	}
	var out []proc
	for id, p := range all {
		if under(id) {
			out = append(out, p)
		}
	}
	return out
}

// statusKB reads the kB figure of the line starting with key.
func statusKB(path, key string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// writeMbox writes n messages as an mbox with CRLF line ends (what
// imaptest appends as they are): plain and multipart, small to a few
// hundred KiB, with display names, encoded words, folded headers,
// threads, mailing-list headers, attachments. The same seed every time,
// so every server and every run gets the same messages.
func writeMbox(path string, n int) error {
	if path == "" || n <= 0 {
		return fmt.Errorf("mbox: want -out FILE and -n > 0")
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	mboxTo(w, n)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var (
	mboxNames = []string{"Alice Archer", "Bob Baker", "Chloé Dubois", "Dmitri Ivanov", "Eve Evans",
		"Fatima Al-Sayed", "Günter Müller", "Hana Sato", "Ian O'Neil", "Jörg Weiß", "Kofi Mensah", "Léa Martin"}
	mboxDomains = []string{"example.org", "example.com", "mail.example.net", "lists.example.org"}
	mboxTopics  = []string{"Quarterly report", "Lunch on Friday?", "Server migration plan", "Invoice 2024-117",
		"Build failed on main", "Photos from the trip", "Meeting notes", "Re: budget",
		"Ünïcödé in the subject: café, naïve, 日本語", "A rather long subject line that goes on and on so that it has to be folded across more than one header line"}
	mboxWords = strings.Fields(`the of and to in is that for it as was with be by on not he this are or
		his from at which but have an they you were her she there been one all we their has would when
		if so no will can more other its some what them than into only could time these two may then do
		first any my now such like our over man me even most made after also did many before must through
		mailbox server message delivery queue relay header envelope folder flag search fetch append`)
)

func mboxTo(w io.Writer, n int) {
	r := rand.New(rand.NewPCG(2024, 200))
	base := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600), time.FixedZone("", 9*3600), time.FixedZone("", 5*3600+1800)}
	for i := 1; i <= n; i++ {
		from, to := r.IntN(len(mboxNames)), r.IntN(len(mboxNames))
		date := base.Add(time.Duration(i)*97*time.Minute + time.Duration(r.IntN(3600))*time.Second).In(zones[r.IntN(len(zones))])
		var b strings.Builder
		line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
		fmt.Fprintf(w, "From %s %s\r\n", mboxAddr(from, i), date.UTC().Format("Mon Jan _2 15:04:05 2006"))
		if i%7 == 0 {
			line("Return-Path: <bounces+%d@%s>", i, mboxDomains[3])
			line("Received: from mail.example.org (mail.example.org [192.0.2.%d])", 1+i%250)
			line("\tby mx.example.net with ESMTPS id %08x", r.Uint32())
			line("\tfor <%s>; %s", mboxAddr(to, i+1), date.Format(time.RFC1123Z))
		}
		line("From: %s <%s>", mboxPhrase(mboxNames[from]), mboxAddr(from, i))
		line("To: %s <%s>", mboxPhrase(mboxNames[to]), mboxAddr(to, i+1))
		if r.IntN(3) == 0 {
			line("Cc: %s <%s>,", mboxPhrase(mboxNames[(from+1)%len(mboxNames)]), mboxAddr(from+1, i+2))
			line(" %s", mboxAddr(to+2, i+3))
		}
		subject := mboxTopics[r.IntN(len(mboxTopics))]
		if i > 1 && r.IntN(4) == 0 {
			subject = "Re: " + subject
			line("In-Reply-To: <%d.%d@example.org>", i-1, (i-1)*31)
			line("References: <%d.%d@example.org>", i-1, (i-1)*31)
		}
		line("Subject: %s", mboxSubject(subject))
		line("Date: %s", date.Format(time.RFC1123Z))
		line("Message-ID: <%d.%d@example.org>", i, i*31)
		if i%5 == 0 {
			line("List-Id: Project discussion <project.lists.example.org>")
			line("List-Unsubscribe: <mailto:project-leave@lists.example.org>")
		}
		if r.IntN(6) == 0 {
			line("X-Priority: %d", 1+r.IntN(5))
		}
		line("MIME-Version: 1.0")
		size := 300 + r.IntN(5000) // most mail is a few KiB
		switch k := r.IntN(10); {
		case k < 6:
			line("Content-Type: text/plain; charset=utf-8")
			line("Content-Transfer-Encoding: 8bit")
			line("")
			b.WriteString(mboxText(r, size))
		case k < 9:
			bd := fmt.Sprintf("=_alt_%d_%x", i, r.Uint32())
			line("Content-Type: multipart/alternative; boundary=\"%s\"", bd)
			line("")
			line("--%s", bd)
			line("Content-Type: text/plain; charset=utf-8")
			line("")
			text := mboxText(r, size*2)
			b.WriteString(text)
			line("--%s", bd)
			line("Content-Type: text/html; charset=utf-8")
			line("")
			line("<html><body><p>")
			b.WriteString(strings.ReplaceAll(text, "\r\n\r\n", "\r\n</p><p>\r\n"))
			line("</p></body></html>")
			line("--%s--", bd)
		default:
			bd := fmt.Sprintf("=_mixed_%d_%x", i, r.Uint32())
			line("Content-Type: multipart/mixed; boundary=\"%s\"", bd)
			line("")
			line("This is a multi-part message in MIME format.")
			line("--%s", bd)
			line("Content-Type: text/plain; charset=utf-8")
			line("")
			b.WriteString(mboxText(r, 400+r.IntN(1500)))
			line("--%s", bd)
			line("Content-Type: application/pdf; name=\"report-%d.pdf\"", i)
			line("Content-Disposition: attachment; filename=\"report-%d.pdf\"", i)
			line("Content-Transfer-Encoding: base64")
			line("")
			raw := make([]byte, 20000+r.IntN(180000))
			for j := range raw {
				raw[j] = byte(r.Uint32())
			}
			enc := base64.StdEncoding.EncodeToString(raw)
			for len(enc) > 76 {
				line("%s", enc[:76])
				enc = enc[76:]
			}
			line("%s", enc)
			line("--%s--", bd)
		}
		line("")
		io.WriteString(w, b.String())
	}
}

func mboxAddr(k, i int) string {
	name := strings.ToLower(strings.Fields(mboxNames[k%len(mboxNames)])[0])
	name = strings.NewReplacer("é", "e", "ö", "o", "ü", "u", "'", "").Replace(name)
	return name + "@" + mboxDomains[i%len(mboxDomains)]
}

// mboxPhrase quotes a display name, or encodes it (RFC 2047) if it is not ASCII.
func mboxPhrase(s string) string {
	for _, c := range s {
		if c > 127 {
			return "=?utf-8?q?" + mboxQ(s) + "?="
		}
	}
	if strings.ContainsAny(s, "'") {
		return `"` + s + `"`
	}
	return s
}

func mboxSubject(s string) string {
	for _, c := range s {
		if c > 127 {
			return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	if len(s) > 70 { // fold
		if i := strings.LastIndexByte(s[:70], ' '); i > 0 {
			return s[:i] + "\r\n" + s[i:]
		}
	}
	return s
}

func mboxQ(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c < 128 && c != '=' && c != '?' && c != '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}

// mboxText is about size bytes of text in paragraphs of lines under 78
// characters; no line starts with "From " (mbox would need it quoted).
func mboxText(r *rand.Rand, size int) string {
	var b strings.Builder
	n := 0
	for b.Len() < size {
		w := mboxWords[r.IntN(len(mboxWords))]
		if n == 0 && w == "from" {
			continue
		}
		if n+len(w)+1 > 72 {
			b.WriteString("\r\n")
			n = 0
			if r.IntN(6) == 0 {
				b.WriteString("\r\n")
			}
		}
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

// imaptestResult is what imaptest's stress run printed.
type imaptestResult struct {
	Counts map[string]int // its totals per command (Logi, Sele, Fetc, ...)
	Errors int            // lines starting "Error:", "Fatal:" or "Panic:"
	Kinds  []errorKind    // the errors, alike ones (numbers aside) together
	Totals bool           // the totals were found
}

type errorKind struct {
	Count   int
	Example string
}

var (
	digits       = regexp.MustCompile(`[0-9]+`)
	clientPrefix = regexp.MustCompile(`^(Error|Fatal|Panic): [^ ]*\[[0-9]+\]: `)
)

// errorKey is what alike errors share: the text without the client
// that met it, up to the response quoted, numbers aside.
func errorKey(l string) string {
	k := clientPrefix.ReplaceAllString(l, "$1: ")
	if i := strings.Index(k, ": "); i >= 0 {
		if j := strings.Index(k[i+2:], ": "); j >= 0 {
			k = k[:i+2+j]
		}
	}
	k = digits.ReplaceAllString(k, "#")
	if len(k) > 160 {
		k = k[:160]
	}
	return k
}

// parseImaptest reads imaptest's stress output: a table per second, and
// at the end "Totals:", a header of command names, percentage lines and
// one line of counts; errors on lines of their own.
func parseImaptest(r io.Reader) (imaptestResult, error) {
	res := imaptestResult{Counts: map[string]int{}}
	kinds := map[string]*errorKind{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var header []string
	inTotals := false
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), " \r")
		switch {
		case strings.HasPrefix(l, "Error:"), strings.HasPrefix(l, "Fatal:"), strings.HasPrefix(l, "Panic:"):
			res.Errors++
			key := errorKey(l)
			k := kinds[key]
			if k == nil {
				k = &errorKind{Example: l}
				kinds[key] = k
				order = append(order, key)
			}
			k.Count++
		case l == "Totals:":
			inTotals, header = true, nil
		case inTotals && header == nil:
			header = strings.Fields(l)
		case inTotals && strings.Contains(l, "%"), inTotals && strings.TrimSpace(l) == "":
		case inTotals && !res.Totals:
			f := strings.Fields(l)
			if len(f) != len(header) {
				return res, fmt.Errorf("imaptest totals: %d counts for %d commands: %q", len(f), len(header), l)
			}
			for i, h := range header {
				c, err := strconv.Atoi(f[i])
				if err != nil {
					return res, fmt.Errorf("imaptest totals: %q", l)
				}
				res.Counts[h] = c
			}
			res.Totals = true
		}
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	for _, key := range order {
		res.Kinds = append(res.Kinds, *kinds[key])
	}
	sort.SliceStable(res.Kinds, func(i, j int) bool { return res.Kinds[i].Count > res.Kinds[j].Count })
	return res, nil
}

// imaptestReport prints "LOGINS/S COMMANDS/S ERRORS", then a line per
// kind of error: its count and the first one's text.
func imaptestReport(path string, secs float64) error {
	if path == "" || secs <= 0 {
		return fmt.Errorf("imaptest: want -file FILE and -secs > 0")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parseImaptest(f)
	if err != nil {
		return err
	}
	if !res.Totals {
		return fmt.Errorf("imaptest: no totals in %s", path)
	}
	all := 0
	for _, c := range res.Counts {
		all += c
	}
	fmt.Printf("%.0f %.0f %d\n", float64(res.Counts["Logi"])/secs, float64(all)/secs, res.Errors)
	for _, k := range res.Kinds {
		fmt.Printf("%6d x %s\n", k.Count, k.Example)
	}
	return nil
}
