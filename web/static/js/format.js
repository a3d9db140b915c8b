// How events, times and notes read on the page.

// clockTime: "09:00:02.125" (UTC, the world's clock).
export function clockTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// longTime: "Thu 1 Jan 2026, 09:00:02".
export function longTime(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

// shortTime: "09:05".
export function shortTime(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

// duration: "4 min 30 s", "2 h 5 min".
export function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const hh = Math.floor(m / 60);
  return m % 60 ? `${hh} h ${m % 60} min` : `${hh} h`;
}

// splitNote parses "summary (RFC 5321 §4.2.2)" into its two parts.
export function splitNote(note) {
  if (!note) return { text: '', rfc: '' };
  const m = /^(.*)\s\((RFC [^()]*(?:\([^()]*\)[^()]*)*)\)$/s.exec(note);
  if (m) return { text: m[1], rfc: m[2] };
  return { text: note, rfc: '' };
}

// ends returns the source and destination of an event, as a capture list
// shows them: a wire line from the server goes server → client.
export function ends(e) {
  if (e.kind === 'wire' && e.dir === 'recv') return [e.peer || '', e.host || ''];
  if (e.kind === 'hop' && e.action === 'received') return [e.peer || '', e.host || ''];
  // An answer travels from the DNS server (peer) back to the asker.
  if (e.kind === 'dns' && (e.action === 'answer' || e.action === 'error')) return [e.peer || '', e.host || ''];
  return [e.host || '', e.peer || ''];
}

// kindLabel: the word shown in the kind column.
export function kindLabel(e) {
  switch (e.kind) {
    case 'wire': return e.dir === 'recv' ? 'reply' : 'command';
    case 'conn': return `conn ${e.action || ''}`.trim();
    case 'queue': return `queue ${e.action || ''}`.trim();
    case 'dns': return `dns ${e.action || ''}`.trim();
    case 'hop': return e.action === 'received' ? 'hop in' : 'hop';
    case 'host': return `host ${e.action || ''}`.trim();
    case 'link': return `link ${e.action || ''}`.trim();
    case 'tls': return 'tls';
    default: return e.kind;
  }
}

// summary: the one-line text of the timeline.
export function summary(e) {
  const first = (t) => (t || '').split('\n')[0];
  switch (e.kind) {
    case 'wire': {
      const lines = (e.text || '').split('\n');
      const who = e.dir === 'recv' ? 'S: ' : 'C: ';
      if (lines.length > 1) return `${who}[${lines.length} lines] ${lines[0]} …`;
      return who + e.text;
    }
    case 'conn':
      return `${e.host} → ${e.peer}:${e.port} ${e.proto || ''}${e.text ? ` — ${e.text}` : ''}`;
    case 'dns':
      return e.action === 'answer' && e.records && e.records.length
        ? `${e.text}: ${e.records.map((r) => r.split('\t').slice(-2).join(' ')).join('; ')}`
        : e.text;
    case 'deliver':
      return `into ${e.mailbox}: ${e.text}`;
    case 'queue':
      return e.next ? `${e.text} (next try ${clockTime(e.next)})` : e.text;
    default:
      return first(e.text) || `${e.host || ''} ${e.action || ''}`;
  }
}

// protoOf: the protocol an event belongs to, for the filter.
export function protoOf(e) {
  if (e.proto) return e.proto;
  if (e.kind === 'dns') return 'dns';
  return '';
}

export const PROTO_NAMES = {
  smtp: 'SMTP', lmtp: 'LMTP', pop3: 'POP3', imap: 'IMAP', dns: 'DNS', tcp: 'TCP',
};

// The mail services, as the state sends them (Go's package service: the
// one table of names, ports, protocols and roles).
let services = [];

// setServices takes the table from a state.
export function setServices(list) {
  if (Array.isArray(list) && list.length) services = list;
}

// servicesOf lists the services a role runs.
export function servicesOf(role) {
  return services.filter((s) => s.role === role);
}

// portName: "587 submission".
export function portName(port) {
  if (port === 53) return '53 DNS';
  const s = services.find((x) => x.port === port);
  if (!s) return String(port);
  // "smtp" is the MX's; "pop3s" reads POP3S; "submission" stays a word.
  let name = s.name.startsWith(s.proto) ? s.name.toUpperCase() : s.name;
  if (s.name === 'smtp') name = 'SMTP (MX)';
  return `${port} ${name}${s.implicit_tls ? ' (TLS)' : ''}`;
}

// shortMsg: a Message-ID short enough for a menu.
export function shortMsg(msg) {
  if (!msg) return '';
  const [left, right] = msg.split('@');
  return left.length > 18 ? `${left.slice(0, 17)}…@${right || ''}` : msg;
}

// narrate: an event told as one plain sentence, for the narration line:
// the simulation's own (say), else who did what, from the event's text.
export function narrate(e) {
  if (!e) return '';
  if (e.say) return e.say;
  const [from, to] = ends(e);
  const who = to ? `${from} → ${to}` : from;
  const what = summary(e);
  return who ? `${who}: ${what}` : what;
}
