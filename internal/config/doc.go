// Package config holds the plumbing shared by every component's configuration:
// strict YAML decoding that remembers the line of every key, ${ENV} expansion,
// "_file" variants for secrets, the Secret type that never prints itself, and
// Problems, the list of errors that validation reports all at once.
//
// Data flows one way: the caller (only cmd/ reads files and the environment)
// hands Decode the file's bytes and an Env with lookup functions. Decode walks
// the YAML node tree against the Go struct, rejects unknown keys, expands
// variables, reads secret files, decodes, and returns the Index of key paths
// to lines. Components validate themselves and report Problems by key path;
// Index.Locate turns those paths into "file:line: path: message".
package config
