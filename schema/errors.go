package schema

import "fmt"

// EncodeError is a captured value that cannot travel exactly in its
// column's Avro type: a decimal with more fractional digits than the
// column's scale or more digits than its precision, a timestamp finer than
// a microsecond, a Go value of the wrong type for the column's kind, a key
// column without a value. It is bad data (or a reader bug), not a transient
// failure: retrying the same change fails the same way.
type EncodeError struct {
	Topic  string
	Column string // the source column's name; empty when the error is not about one column
	Reason string
}

func (e *EncodeError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("encode event for topic %s: %s", e.Topic, e.Reason)
	}
	return fmt.Sprintf("encode event for topic %s, column %s: %s", e.Topic, e.Column, e.Reason)
}

// IncompatibleError is a table change that the topic's existing readers
// could not follow under BACKWARD compatibility (see "Schema evolution" in
// the package documentation). Either tandem's own check found it (Column,
// From and To are set) or the schema registry refused the new schema with
// HTTP 409 (Err holds the registry's answer).
type IncompatibleError struct {
	Topic  string
	Column string // the column whose type changed; empty when the registry refused
	From   string // the column's type before, e.g. "text (Avro string)"
	To     string // the column's type now
	Err    error  // the registry's refusal, if it was the registry that refused
}

const recoverHint = "To recover: publish the table on a new topic and re-snapshot it into there " +
	"(existing consumers keep reading the old topic), or change the column back; " +
	"only if every consumer can read the new shape, set the subject's compatibility to NONE in the registry and restart"

func (e *IncompatibleError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("topic %s: the schema registry refused the table's new schema as incompatible with the registered one (%v). %s", e.Topic, e.Err, recoverHint)
	}
	return fmt.Sprintf("topic %s: column %s changed from %s to %s, which readers of the current schema cannot follow "+
		"(allowed: adding or dropping a column, int->long->float->double, string<->bytes, a larger decimal precision at the same scale). %s",
		e.Topic, e.Column, e.From, e.To, recoverHint)
}

func (e *IncompatibleError) Unwrap() error { return e.Err }
