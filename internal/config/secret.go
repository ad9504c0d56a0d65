package config

import "log/slog"

// Secret is a string that must never reach a log, an error or the terminal.
// Every way of printing it yields "[redacted]"; Reveal returns the value for
// the one place that needs it (a driver's connection call).
//
// In YAML, a Secret field named "password" may instead be given as
// "password_file", a path whose contents (trailing newline trimmed) are the
// value. Both may use ${ENV} expansion.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML keeps a re-encoded config from printing the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText keeps JSON and text encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
