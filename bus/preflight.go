package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tandem-sync/tandem/internal/preflight"
)

// Preflight checks that the brokers are reachable with the configured
// security settings and that the cluster can host tandem's topics. It
// creates nothing.
func Preflight(ctx context.Context, c Config) []preflight.Result {
	rec := &preflight.Recorder{Target: "kafka"}
	d, err := c.Dialer()
	if err != nil {
		rec.Fail("connect", err.Error(), "fix the kafka.tls or kafka.sasl settings")
		return rec.Results
	}
	var reached string
	var lastErr error
	for _, b := range c.Brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		_, err = conn.ApiVersions()
		conn.Close()
		if err != nil {
			lastErr = err
			continue
		}
		reached = b
		break
	}
	if reached == "" {
		detail := fmt.Sprintf("no broker of %s answered: %v", strings.Join(c.Brokers, ", "), lastErr)
		fix := "start Kafka, or fix kafka.brokers"
		var opErr *net.OpError
		if errors.As(lastErr, &opErr) && strings.Contains(lastErr.Error(), "refused") {
			detail = "connection refused by " + strings.Join(c.Brokers, ", ")
		} else if lastErr != nil && (strings.Contains(lastErr.Error(), "SASL") || strings.Contains(lastErr.Error(), "authentication")) {
			fix = "check kafka.sasl.mechanism, username and password"
		} else if lastErr != nil && strings.Contains(lastErr.Error(), "tls") {
			fix = "check kafka.tls (is the listener TLS? is ca_file the right CA?)"
		}
		rec.Fail("connect", detail, fix)
		return rec.Results
	}
	rec.Pass("connect", "reached "+reached)
	md, err := c.metadata(ctx)
	if err != nil {
		rec.Fail("metadata", "cannot read cluster metadata: "+err.Error(), "check the broker logs and the client's permissions (Describe on the cluster)")
		return rec.Results
	}
	addrs := make([]string, len(md.Brokers))
	for i, b := range md.Brokers {
		addrs[i] = brokerAddr(b)
	}
	rec.Pass("metadata", fmt.Sprintf("%d broker(s): %s", len(md.Brokers), strings.Join(addrs, ", ")))
	rec.Check(c.ReplicationFactor <= len(md.Brokers), "replication_factor",
		fmt.Sprintf("topics are created with replication factor %d on %d broker(s)", c.ReplicationFactor, len(md.Brokers)),
		fmt.Sprintf("set kafka.replication_factor to %d or less, or add brokers", len(md.Brokers)))
	return rec.Results
}
