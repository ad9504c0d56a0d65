package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// TLSConfig builds the client TLS settings, or returns nil when TLS is off.
// It reads the CA and client certificate files named in the config.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.TLS.Enabled {
		return nil, nil
	}
	t := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLS.ServerName,
		InsecureSkipVerify: c.TLS.InsecureSkipVerify, //nolint:gosec // explicit opt-in, documented as tests only
	}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
		}
		t.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Mechanism builds the SASL mechanism, or returns nil when SASL is off.
func (c Config) Mechanism() (sasl.Mechanism, error) {
	switch c.SASL.Mechanism {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.SASL.Username, Password: c.SASL.Password.Reveal()}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, c.SASL.Username, c.SASL.Password.Reveal())
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, c.SASL.Username, c.SASL.Password.Reveal())
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism %q is not supported", c.SASL.Mechanism)
}

// Dialer returns a dialer with the config's TLS and SASL settings, for
// readers and admin connections.
func (c Config) Dialer() (*kafka.Dialer, error) {
	t, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      c.ClientID,
		Timeout:       10 * time.Second,
		DualStack:     true,
		TLS:           t,
		SASLMechanism: m,
	}, nil
}

// Transport returns a transport with the config's TLS and SASL settings, for
// writers and the admin client.
func (c Config) Transport() (*kafka.Transport, error) {
	t, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.Mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:    c.ClientID,
		DialTimeout: 10 * time.Second,
		TLS:         t,
		SASL:        m,
	}, nil
}

// Client returns an admin client for the configured brokers.
func (c Config) Client() (*kafka.Client, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr, Timeout: 30 * time.Second}, nil
}

// EnsureTopics creates the named topics that do not exist yet, with the
// configured partitions and replication factor, and extra topic configs
// (for example cleanup.policy=compact). Existing topics are left as they
// are. It blocks until the brokers answer or ctx ends.
func (c Config) EnsureTopics(ctx context.Context, configs map[string]string, topics ...string) error {
	client, err := c.Client()
	if err != nil {
		return err
	}
	defer closeIdle(client)
	return c.EnsureTopicsWith(ctx, client, configs, topics...)
}

// EnsureTopicsWith is EnsureTopics through client. A writer that shares
// client's transport can write to a topic it creates at once: the
// transport's metadata cache learns of the topics it creates, where it
// would otherwise see a new topic only at its next refresh.
func (c Config) EnsureTopicsWith(ctx context.Context, client *kafka.Client, configs map[string]string, topics ...string) error {
	entries := make([]kafka.ConfigEntry, 0, len(configs))
	for k, v := range configs {
		entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
	}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             t,
			NumPartitions:     c.Partitions,
			ReplicationFactor: c.ReplicationFactor,
			ConfigEntries:     entries,
		})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for _, t := range topics {
		if e := resp.Errors[t]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", t, e))
		}
	}
	return errors.Join(errs...)
}

// Brokers returns the brokers of the cluster as the metadata reports them.
func (c Config) metadata(ctx context.Context) (*kafka.MetadataResponse, error) {
	client, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer closeIdle(client)
	return client.Metadata(ctx, &kafka.MetadataRequest{})
}

// closeIdle releases what a one-off client's transport holds: its
// connections and the goroutine that refreshes its metadata cache, which a
// kafka.Transport otherwise keeps for the life of the process.
func closeIdle(client *kafka.Client) {
	if t, ok := client.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
}

func brokerAddr(b kafka.Broker) string {
	return net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
}
