package schema_test

import (
	"github.com/tandem-sync/tandem/capture/publish"
	"github.com/tandem-sync/tandem/schema"
)

// The assertion lives in an external test package so that schema never
// imports publish (publish may come to import schema).
var _ publish.Encoder = (*schema.Serializer)(nil)
