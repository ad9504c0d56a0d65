package schema

import (
	"net/url"
	"time"

	"github.com/tandem-sync/tandem/internal/config"
)

// RegistryConfig is the schema_registry section of the config file.
type RegistryConfig struct {
	URL      string        `yaml:"url" doc:"Base URL of the Confluent-compatible API, e.g. http://127.0.0.1:58081/apis/ccompat/v7 for Apicurio."`
	Username string        `yaml:"username" doc:"HTTP basic-auth user, if the registry needs one."`
	Password config.Secret `yaml:"password" doc:"HTTP basic-auth password (secret)."`
	Timeout  time.Duration `yaml:"timeout" doc:"Timeout of one registry request."`
}

// DefaultRegistry returns the registry settings used for keys the file
// leaves out.
func DefaultRegistry() RegistryConfig {
	return RegistryConfig{Timeout: 10 * time.Second}
}

// Validate reports every problem in c at once.
func (c RegistryConfig) Validate() error {
	var ps config.Problems
	if c.URL == "" {
		ps.Add("url", "required, for example http://127.0.0.1:58081/apis/ccompat/v7")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.Add("url", "must be an http:// or https:// URL, got "+c.URL)
	}
	if c.Username == "" && !c.Password.IsZero() {
		ps.Add("username", "a password is set but no username")
	}
	if c.Timeout <= 0 {
		ps.Add("timeout", "must be positive, for example 10s")
	}
	return ps.Err()
}
