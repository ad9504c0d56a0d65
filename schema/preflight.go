package schema

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandem-sync/tandem/internal/preflight"
)

// Preflight checks that the registry answers the Confluent API at the
// configured URL with the configured credentials. It registers nothing.
func Preflight(ctx context.Context, cfg RegistryConfig) []preflight.Result {
	rec := &preflight.Recorder{Target: "schema registry"}
	r := NewRegistry(cfg)
	subjects, err := r.Subjects(ctx)
	if err != nil {
		var re *RegistryError
		switch {
		case errors.As(err, &re) && (re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden):
			rec.Fail("connect", fmt.Sprintf("%s answered %d %s", cfg.URL, re.Status, re.Message),
				"set schema_registry.username and password (or password_file) to a user allowed to read and register schemas")
		case errors.As(err, &re) && re.Status == http.StatusNotFound:
			rec.Fail("connect", cfg.URL+"/subjects is not found: the URL is not the registry's Confluent-compatible API",
				"point schema_registry.url at the Confluent API: for Apicurio it ends in /apis/ccompat/v7")
		case strings.Contains(err.Error(), "refused"):
			rec.Fail("connect", "connection refused at "+cfg.URL, "start the schema registry, or fix schema_registry.url")
		default:
			rec.Fail("connect", err.Error(), "check schema_registry.url and that the registry is up")
		}
		return rec.Results
	}
	rec.Pass("connect", fmt.Sprintf("Confluent API at %s, %d subject(s)", cfg.URL, len(subjects)))
	level, err := r.Compatibility(ctx)
	switch {
	case err != nil:
		rec.Warn("compatibility", "cannot read the global compatibility level: "+err.Error(), "")
	case level == "NONE":
		rec.Warn("compatibility", "global compatibility is NONE: an incompatible schema change would be accepted and break consumers",
			"set it to BACKWARD: PUT "+cfg.URL+"/config {\"compatibility\":\"BACKWARD\"}")
	default:
		rec.Pass("compatibility", "global compatibility "+level)
	}
	return rec.Results
}
