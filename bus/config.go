package bus

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/tandem-sync/tandem/internal/config"
)

// Config is the Kafka section of the config file.
type Config struct {
	Brokers           []string       `yaml:"brokers" doc:"Bootstrap brokers, host:port."`
	TopicPrefix       string         `yaml:"topic_prefix" doc:"First part of every topic name: <prefix>.<system>.<aggregate>."`
	Partitions        int            `yaml:"partitions" doc:"Partitions of each topic tandem creates."`
	ReplicationFactor int            `yaml:"replication_factor" doc:"Replication factor of each topic tandem creates; at most the number of brokers."`
	ClientID          string         `yaml:"client_id" doc:"Kafka client id, shown in broker logs and quotas."`
	TLS               TLSConfig      `yaml:"tls"`
	SASL              SASLConfig     `yaml:"sasl"`
	Producer          ProducerConfig `yaml:"producer"`
}

// ProducerConfig tunes how captures write to Kafka. Writes always use
// acks=all.
type ProducerConfig struct {
	BatchSize        int           `yaml:"batch_size" doc:"Most records in one produce request to one partition."`
	BatchBytes       int           `yaml:"batch_bytes" doc:"Most bytes in one produce request to one partition."`
	Linger           time.Duration `yaml:"linger" doc:"How long a partition waits to fill a batch before sending it."`
	Compression      string        `yaml:"compression" doc:"none, gzip, snappy, lz4 or zstd."`
	MaxInFlightBytes int           `yaml:"max_in_flight_bytes" doc:"Most bytes written but not yet acknowledged by Kafka; capture waits beyond it."`
}

// TLSConfig turns on TLS to the brokers.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled" doc:"Connect to the brokers over TLS."`
	CAFile             string `yaml:"ca_file" doc:"PEM file of the CA that signed the brokers' certificates; the system pool when empty."`
	CertFile           string `yaml:"cert_file" doc:"PEM client certificate, for mutual TLS."`
	KeyFile            string `yaml:"key_file" doc:"PEM key of the client certificate."`
	ServerName         string `yaml:"server_name" doc:"Name to verify in the brokers' certificates, when it differs from the host."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" doc:"Skip certificate verification. For tests only."`
}

// SASLConfig turns on SASL authentication to the brokers.
type SASLConfig struct {
	Mechanism string        `yaml:"mechanism" doc:"Empty for none, or plain, scram-sha-256, scram-sha-512."`
	Username  string        `yaml:"username" doc:"SASL user name."`
	Password  config.Secret `yaml:"password" doc:"SASL password (secret)."`
}

// Default returns the configuration used for keys the file leaves out.
func Default() Config {
	return Config{
		TopicPrefix:       "tandem",
		Partitions:        6,
		ReplicationFactor: 1,
		ClientID:          "tandem",
		Producer: ProducerConfig{
			BatchSize:        2000,
			BatchBytes:       1 << 20,
			Linger:           5 * time.Millisecond,
			Compression:      "lz4",
			MaxInFlightBytes: 64 << 20,
		},
	}
}

var topicPartRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Validate reports every problem in c at once, with paths relative to the
// kafka section.
func (c Config) Validate() error {
	var ps config.Problems
	if len(c.Brokers) == 0 {
		ps.Add("brokers", "at least one broker is required, for example [\"127.0.0.1:9092\"]")
	}
	for i, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			ps.Add(fmt.Sprintf("brokers[%d]", i), fmt.Sprintf("%q is not host:port", b))
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			ps.Add(fmt.Sprintf("brokers[%d]", i), fmt.Sprintf("%q has no valid port", b))
		}
	}
	if !topicPartRE.MatchString(c.TopicPrefix) {
		ps.Add("topic_prefix", fmt.Sprintf("%q must be letters, digits, '.', '_' or '-'", c.TopicPrefix))
	}
	if c.Partitions < 1 {
		ps.Add("partitions", fmt.Sprintf("%d must be 1 or more", c.Partitions))
	}
	if c.ReplicationFactor < 1 {
		ps.Add("replication_factor", fmt.Sprintf("%d must be 1 or more", c.ReplicationFactor))
	}
	if !c.TLS.Enabled && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.KeyFile != "") {
		ps.Add("tls.enabled", "TLS files are set but tls.enabled is false")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		ps.Add("tls", "cert_file and key_file must be given together")
	}
	ps.Merge("producer", c.Producer.Validate())
	switch c.SASL.Mechanism {
	case "":
		if c.SASL.Username != "" || !c.SASL.Password.IsZero() {
			ps.Add("sasl.mechanism", "a SASL username or password is set but no mechanism; use plain, scram-sha-256 or scram-sha-512")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if c.SASL.Username == "" {
			ps.Add("sasl.username", "required with sasl.mechanism "+c.SASL.Mechanism)
		}
		if c.SASL.Password.IsZero() {
			ps.Add("sasl.password", "required with sasl.mechanism "+c.SASL.Mechanism+" (or sasl.password_file)")
		}
	default:
		msg, _ := config.OneOf(c.SASL.Mechanism, "plain", "scram-sha-256", "scram-sha-512")
		ps.Add("sasl.mechanism", msg)
	}
	return ps.Err()
}

// Validate reports every problem in the producer settings at once.
func (p ProducerConfig) Validate() error {
	var ps config.Problems
	if p.BatchSize < 1 {
		ps.Add("batch_size", fmt.Sprintf("%d must be 1 or more", p.BatchSize))
	}
	if p.BatchBytes < 1024 {
		ps.Add("batch_bytes", fmt.Sprintf("%d is too small; use 1024 or more", p.BatchBytes))
	}
	if p.Linger < 0 {
		ps.Add("linger", "must not be negative")
	}
	if msg, ok := config.OneOf(p.Compression, "none", "gzip", "snappy", "lz4", "zstd"); !ok {
		ps.Add("compression", msg)
	}
	if p.MaxInFlightBytes < p.BatchBytes {
		ps.Add("max_in_flight_bytes", fmt.Sprintf("%d must be at least batch_bytes (%d)", p.MaxInFlightBytes, p.BatchBytes))
	}
	return ps.Err()
}

// Topic returns the topic name of a system's aggregate, <prefix>.<system>.<name>.
func (c Config) Topic(system, name string) string {
	return c.TopicPrefix + "." + system + "." + name
}
