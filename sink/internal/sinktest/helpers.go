package sinktest

import (
	"context"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/sink"
)

// SQLCase is a piece of SQL a dialect wrote: its name, the SQL, and what
// it should be.
type SQLCase = [3]string

// CheckSQL compares each case.
func CheckSQL(t *testing.T, cases []SQLCase) {
	t.Helper()
	for _, tc := range cases {
		if tc[1] != tc[2] {
			t.Errorf("%s:\n got  %s\n want %s", tc[0], tc[1], tc[2])
		}
	}
}

// CheckClassify checks that classify puts each of errs in class want.
func CheckClassify(t *testing.T, classify func(error) sink.ErrorClass, want sink.ErrorClass, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if got := classify(err); got != want {
			t.Errorf("Classify(%v) = %v, want %v", err, got, want)
		}
	}
}

// CheckClassifyCommon checks the errors that no database sends: a lost
// network, an ended context and a plain error.
func CheckClassifyCommon(t *testing.T, classify func(error) sink.ErrorClass) {
	t.Helper()
	CheckClassify(t, classify, sink.Transient, io.ErrUnexpectedEOF, context.DeadlineExceeded,
		&net.OpError{Op: "read", Err: errors.New("connection reset by peer")})
	CheckClassify(t, classify, sink.Fatal, errors.New("boom"))
}

// CaptureConfig is the capture settings of a test's reader on tables:
// streaming from now on, without a snapshot, with a heartbeat a second.
func CaptureConfig(system string, tables []string) capture.Config {
	c := capture.Default()
	c.Tables = tables
	c.Snapshot = capture.SnapshotNever
	c.Heartbeat = time.Second
	c.SetDefaults(system)
	return c
}

// Start runs rd, built with rec as its handler, until the test ends; then
// it stops rd, reports an error of its Run, and closes it.
func Start(t *testing.T, rd capture.Reader, rec *Recorder) {
	rec.Ack = rd.Ack
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rd.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture: %v", err)
		}
		rd.Close()
	})
}

// Ready fails the test on err (New's), closes tg when the test ends, and
// runs its Setup.
func Ready[T sink.Target](t *testing.T, tg T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	if err := tg.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tg
}

// Rat parses a decimal or a fraction, for expected values.
func Rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("sinktest.Rat: " + s)
	}
	return r
}

// Time parses an RFC 3339 time, for expected values.
func Time(s string) time.Time {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return v
}
