package mailauth

// Result is the outcome of one check, spelt as in an Authentication-Results
// header field (RFC 8601 §2.7). SPF uses all but Policy (RFC 7208 §2.6),
// DKIM all but SoftFail (RFC 8601 §2.7.1), DMARC None, Pass, Fail,
// TempError and PermError (RFC 7489 §11.2).
type Result string

// The results.
const (
	None      Result = "none"      // nothing to check: no record, no signature
	Neutral   Result = "neutral"   // SPF: the domain says nothing about this address
	Pass      Result = "pass"      // authenticated
	Fail      Result = "fail"      // the check ran and says no
	SoftFail  Result = "softfail"  // SPF: probably not authorised, but do not reject on it
	Policy    Result = "policy"    // DKIM: a signature this verifier does not accept (l=, too big)
	TempError Result = "temperror" // a DNS failure: the same check may work later
	PermError Result = "permerror" // a broken record or signature: it will not work later either
)
