package bus

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("write: %w", syscall.ECONNREFUSED), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{kafka.LeaderNotAvailable, true},
		{kafka.NotLeaderForPartition, true},
		{fmt.Errorf("create topics: %w", kafka.BrokerNotAvailable), true}, // seen while the broker restarts
		{kafka.MessageSizeTooLarge, false},
		{kafka.TopicAuthorizationFailed, false},
		{errors.New("avro: bad record"), false},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("%v: %t, want %t", c.err, got, c.want)
		}
	}
}
