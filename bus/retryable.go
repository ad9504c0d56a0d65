package bus

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/segmentio/kafka-go"
)

// Retryable reports whether a Kafka error is one that passes: the broker
// unreachable or restarting, a leader moving, a timeout.
func Retryable(err error) bool {
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.BrokerNotAvailable, kafka.ReplicaNotAvailable, kafka.GroupCoordinatorNotAvailable, kafka.NotCoordinatorForGroup,
			kafka.NotController, kafka.KafkaStorageError, kafka.NotEnoughReplicas, kafka.NotEnoughReplicasAfterAppend:
			return true // a broker starting or stopping; kafka-go does not call these temporary
		}
		return ke.Temporary()
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, kafka.RequestTimedOut} {
		if errors.Is(err, e) {
			return true
		}
	}
	return strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection reset")
}
