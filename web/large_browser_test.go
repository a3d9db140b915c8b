//go:build browser && !js

package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// The large world (50 hosts, five domains), opened by its link: every
// host is drawn, inside the frame of its domain, and no two hosts'
// labels (name, address) overlap, nor any two cards, nor a card's counts
// its labels; the names are large enough to read. At a laptop's sizes
// and on a narrow screen; at the first size, again once mail has crossed
// the town.
func TestLargeWorldTopology(t *testing.T) {
	for i, size := range []struct {
		name string
		w, h int64
	}{{"1400x900", 1400, 900}, {"1280x720", 1280, 720}, {"narrow", 800, 900}, {"phone", 412, 915}} {
		t.Run(size.name, func(t *testing.T) {
			p := openFresh(t, baseURL+"/#w=large", size.w, size.h)
			p.waitJS("the large world drawn", `mailhopUI.model.live?.name === 'large' && document.querySelectorAll('#topology .host').length === 50`)
			p.shot("large-world-" + size.name)
			checkLargeTopology(t, p)
			// The simulation started with the linked world: it is its
			// first, no default world was built before it.
			if got := p.eval(`mailhopUI.model.live.world`); got != "1" {
				t.Errorf("the large world is world %s of the page, want 1", got)
			}
			if i > 0 {
				p.noErrors()
				return
			}
			// Mail from each domain to the next, and the mailboxes fill.
			p.eval(`(async () => {
				const to = {'ada@uni.example': 'bob@isp.example', 'bob@isp.example': 'heidi@clinic.example', 'heidi@clinic.example': 'mike@town.example',
					'mike@town.example': 'rita@shop.example', 'rita@shop.example': 'ada@uni.example'};
				for (const [from, rcpt] of Object.entries(to)) await mailhop.send({from, to: rcpt, subject: 'Across the town', body: 'Hello'});
				return true;
			})()`)
			// Shown at once ("Show all"), as they come.
			p.waitJS("five deliveries shown", `(document.getElementById('catchup').disabled || document.getElementById('catchup').click(),
				document.querySelectorAll('#topology .host .badge.mail.busy').length === 5)`)
			p.waitJS("a link drawn by the traffic", `document.querySelectorAll('#topology .link').length > 0`)
			p.shot("large-world-traffic")
			checkLargeTopology(t, p)
			if got := p.eval(`document.querySelector('[data-host="store.isp.example"]').getAttribute('aria-label')`); !strings.Contains(got, "1 in bob@isp.example's INBOX") {
				t.Errorf("store.isp.example's label: %q", got)
			}
			// A full mailbox says so on its compact card too.
			p.eval(`mailhop.fault({kind: 'mailbox-full', host: 'store.isp.example', name: 'bob@isp.example'}), true`)
			p.waitJS("store.isp.example's card says full", `document.querySelector('[data-host="store.isp.example"]').getAttribute('aria-label').includes("1 in bob@isp.example's INBOX, full")
				&& !!document.querySelector('[data-host="store.isp.example"] .badge.mail.full')`)
			if v := p.axe(); len(v) > 0 {
				t.Errorf("%d accessibility violations:\n%s", len(v), strings.Join(v, "\n"))
			}
			// The World tab folds the tables of 50 hosts and their links
			// away; opened, a host is taken down, and its card says so.
			if got := p.eval(`[...document.querySelectorAll('#panel-world details.fold')].map(d => d.open + ' ' + d.querySelector('summary').textContent).join('; ')`); !strings.HasPrefix(got, "false The 50 hosts: take one down; false The ") {
				t.Errorf("the World tab's folds: %q", got)
			}
			p.eval(`document.querySelector('#panel-world details.fold summary').click(), true`)
			p.click(`[data-key="host:mx1.isp.example"]`)
			p.waitJS("mx1.isp.example down", `!!document.querySelector('#topology .host.is-down[data-host="mx1.isp.example"]')`)
			p.shot("large-world-down")
			checkLargeTopology(t, p)
			p.noErrors()
		})
	}
}

// checkLargeTopology measures the drawn large world and reports what
// overlaps or is out of place.
func checkLargeTopology(t *testing.T, p *page) {
	t.Helper()
	raw := p.eval(`JSON.stringify((() => {
		const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
		const hosts = [...document.querySelectorAll('#topology .host')].map((g) => ({
			name: g.dataset.host,
			domain: g.dataset.domain || '',
			card: box(g.querySelector('.card')),
			labels: [...g.querySelectorAll('.host-name, .host-addr')].map(box),
			marks: [...g.querySelectorAll('.badge, .chip, .down-label')].filter((m) => getComputedStyle(m).display !== 'none').map(box),
		}));
		const frames = [...document.querySelectorAll('#topology .frame')].map((f, i) => ({
			box: box(f), label: document.querySelectorAll('#topology .frame-label')[i].textContent}));
		const name = document.querySelector('#topology .host-name');
		return {hosts, frames, panel: box(document.querySelector('#topology')),
			font: parseFloat(getComputedStyle(name).fontSize) * name.getBoundingClientRect().height / name.getBBox().height};
	})())`)
	var geo struct {
		Hosts []struct {
			Name, Domain  string
			Card          rect
			Labels, Marks []rect
		}
		Frames []struct {
			Box   rect
			Label string
		}
		Panel rect
		Font  float64
	}
	if err := json.Unmarshal([]byte(raw), &geo); err != nil {
		t.Fatal(err)
	}
	if len(geo.Hosts) != 50 {
		t.Fatalf("%d hosts drawn", len(geo.Hosts))
	}
	if len(geo.Frames) != 5 {
		t.Errorf("%d frames, want one for each domain", len(geo.Frames))
	}
	for i, a := range geo.Hosts {
		if len(a.Labels) != 2 {
			t.Errorf("%s: %d labels", a.Name, len(a.Labels))
		}
		for _, l := range a.Labels {
			if !a.Card.contains(l) {
				t.Errorf("%s: a label %+v leaves its card %+v", a.Name, l, a.Card)
			}
			for _, m := range a.Marks {
				if l.overlaps(m) {
					t.Errorf("%s: a label %+v lies under its role or a count %+v", a.Name, l, m)
				}
			}
		}
		if !geo.Panel.contains(a.Card) {
			t.Errorf("%s: the card %+v leaves the panel %+v", a.Name, a.Card, geo.Panel)
		}
		for _, b := range geo.Hosts[i+1:] {
			if a.Card.overlaps(b.Card) {
				t.Errorf("the cards of %s and %s overlap", a.Name, b.Name)
			}
			for _, la := range a.Labels {
				for _, lb := range b.Labels {
					if la.overlaps(lb) {
						t.Errorf("labels of %s and %s overlap: %+v, %+v", a.Name, b.Name, la, lb)
					}
				}
			}
		}
		// Grouped by domain: the card lies in the frame of its domain,
		// the one its name ends in (a user's machine: its user's).
		in := ""
		for _, f := range geo.Frames {
			if f.Box.contains(a.Card) {
				in = f.Label
			}
		}
		if in == "" || in != a.Domain || !strings.HasSuffix(a.Name, "."+in) && !strings.HasSuffix(a.Name, "-pc") {
			t.Errorf("%s (domain %q) is in the frame %q", a.Name, a.Domain, in)
		}
	}
	// Readable: host names at 11 px or more as shown.
	if geo.Font < 11 {
		t.Errorf("host names are shown at %.1f px", geo.Font)
	}
}

// rect is a box on the page.
type rect struct{ X, Y, W, H float64 }

func (r rect) overlaps(o rect) bool {
	return r.X < o.X+o.W && o.X < r.X+r.W && r.Y < o.Y+o.H && o.Y < r.Y+r.H
}

func (r rect) contains(o rect) bool {
	const e = 0.5
	return o.X >= r.X-e && o.Y >= r.Y-e && o.X+o.W <= r.X+r.W+e && o.Y+o.H <= r.Y+r.H+e
}
