package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/internal/config"
)

// originRounds bounds how often claim tries again when every free origin
// is held by another session; the waits between rounds add up to about 5s.
const originRounds = 14

// origins hands the sink's replication origins to the pool's connections:
// one each, kept until the connection closes. PostgreSQL lets one session
// at a time set an origin up, so concurrent transactions need one each.
type origins struct {
	system, sink, user string
	prefix             string   // tandem_<sink>
	names              []string // prefix_0 .. prefix_<n-1>
	free               chan int // indexes of names no connection of this pool holds, oldest release first

	mu   sync.Mutex
	held map[*pgx.Conn]int
}

// OriginName is the n-th replication origin of sink: tandem_<sink>_<n>.
// The capture drops every transaction whose origin starts with "tandem".
func OriginName(sink string, n int) string {
	return cappg.OriginPrefix + "_" + sink + "_" + strconv.Itoa(n)
}

func newOrigins(system, sink, user string, n int) *origins {
	o := &origins{
		system: system, sink: sink, user: user,
		prefix: cappg.OriginPrefix + "_" + sink,
		free:   make(chan int, n),
		held:   map[*pgx.Conn]int{},
	}
	for i := range n {
		o.names = append(o.names, OriginName(sink, i))
		o.free <- i
	}
	return o
}

// claim sets one of the origins up on c, unless c has one already.
func (o *origins) claim(ctx context.Context, c *pgx.Conn) error {
	o.mu.Lock()
	_, ok := o.held[c]
	o.mu.Unlock()
	if ok {
		return nil
	}
	var last error
	for round := range originRounds {
		if round > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(round) * 50 * time.Millisecond):
			}
		}
		idx, err := o.setUp(ctx, c)
		if err == nil {
			o.mu.Lock()
			o.held[c] = idx
			o.mu.Unlock()
			return nil
		}
		if !originInUse(err) {
			return err
		}
		last = err
	}
	return fmt.Errorf("system %s: every free replication origin of sink %s (%s_<n>) is in use by another session: is a second tandem process running sink %s? %w",
		o.system, o.sink, o.prefix, o.sink, last)
}

// setUp tries the free origins in turn and sets up the first that no
// other session holds. An origin is held elsewhere while the backend of a
// closed connection has not exited yet, or by another process running the
// same sink; those are passed over (and given back) here.
func (o *origins) setUp(ctx context.Context, c *pgx.Conn) (int, error) {
	var busy []int
	defer func() {
		for _, i := range busy {
			o.free <- i
		}
	}()
	var last error
	for {
		var idx int
		if len(busy) == 0 {
			// One is free or soon will be: this pool holds no more
			// connections than origins, and c holds none.
			select {
			case idx = <-o.free:
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		} else {
			select {
			case idx = <-o.free:
			default:
				return -1, last
			}
		}
		_, err := c.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_setup($1)", o.names[idx])
		if err == nil {
			return idx, nil
		}
		if !originInUse(err) {
			o.free <- idx
			return -1, o.explain("set up replication origin "+o.names[idx], err)
		}
		busy = append(busy, idx)
		last = err
	}
}

// release is the pool's BeforeClose: it resets the origin of c, when the
// connection can still say so, and makes it free again.
func (o *origins) release(c *pgx.Conn) {
	o.mu.Lock()
	idx, ok := o.held[c]
	delete(o.held, c)
	o.mu.Unlock()
	if !ok {
		return
	}
	if !c.IsClosed() && !c.PgConn().IsBusy() && c.PgConn().TxStatus() == 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = c.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_session_reset()")
		cancel()
	}
	// Otherwise the backend lets go of it when it exits; setUp passes
	// over it until then.
	o.free <- idx
}

// DropOrigins drops the replication origins of sink (tandem_<sink>_<n>)
// that a PostgreSQL sink no longer used leaves behind: each origin that was
// ever set up holds one of the server's max_replication_slots origin
// states until it is dropped. Call it after the sink's Target is closed
// (tests, and removing a sink); an origin a session still has set up is
// an error.
func DropOrigins(ctx context.Context, dsn config.Secret, sink string) error {
	conn, err := pgx.Connect(ctx, dsn.Reveal())
	if err != nil {
		return fmt.Errorf("drop the replication origins of sink %s: %w", sink, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	prefix := cappg.OriginPrefix + "_" + sink + "_"
	rows, err := conn.Query(ctx, "SELECT roname FROM pg_catalog.pg_replication_origin WHERE starts_with(roname, $1)", prefix)
	if err != nil {
		return fmt.Errorf("drop the replication origins of sink %s: %w", sink, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("drop the replication origins of sink %s: %w", sink, err)
	}
	for _, name := range names {
		if _, err := strconv.Atoi(name[len(prefix):]); err != nil {
			continue // another sink's: tandem_<sink>_<other>_<n>
		}
		if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_replication_origin_drop($1)", name); err != nil {
			return fmt.Errorf("drop replication origin %s: %w", name, err)
		}
	}
	return nil
}

// originInUse reports the error of an origin set up by another session.
func originInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006" // object_in_use
}

// explain wraps an error of a replication origin function with its fix.
func (o *origins) explain(action string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("system %s: %s: %w", o.system, action, err)
	}
	var fix string
	switch pgErr.Code {
	case "42501": // insufficient_privilege
		fix = fmt.Sprintf("connect as a superuser, or as one run GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), "+
			"pg_replication_origin_session_setup(text), pg_replication_origin_session_reset() TO %s; "+
			"(the REPLICATION attribute is not enough)", quoteIdent(o.user))
	case "42704": // undefined_object
		fix = "let the sink's Setup create the origins (tandem run does it at start), or create them with SELECT pg_replication_origin_create('" +
			o.prefix + "_<n>') for n from 0 to the sink's connections - 1"
	case "53400": // configuration_limit_exceeded: no free replication origin state
		fix = "each replication origin in use takes one of max_replication_slots' origin states: raise max_replication_slots " +
			"(ALTER SYSTEM SET max_replication_slots = <more>; then restart PostgreSQL), lower the sink's connections, " +
			"or drop origins no longer used with SELECT pg_replication_origin_drop(name)"
	default:
		return fmt.Errorf("system %s: %s: %w", o.system, action, err)
	}
	return fmt.Errorf("system %s: %s: %w; fix: %s", o.system, action, err, fix)
}
