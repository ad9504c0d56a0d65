package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
)

// MinVersion is the oldest PostgreSQL tandem captures from: pgoutput protocol
// version 2 with streaming of large transactions needs 14.
const MinVersion = 140000

// Target is what Preflight checks: one PostgreSQL system.
type Target struct {
	System          string
	DSN             config.Secret
	Capture         capture.Config
	CheckpointTable string
	// Mapped lists the tables entity mappings read. With the default
	// replica identity their updates carry no old row, so every column
	// counts as changed; the check suggests REPLICA IDENTITY FULL.
	Mapped []string
}

// Preflight checks every prerequisite of capturing from t and returns one
// result per prerequisite. It only reads; it creates nothing. It blocks for
// at most the context's deadline.
func Preflight(ctx context.Context, t Target) []preflight.Result {
	rec := &preflight.Recorder{Target: t.System + " (postgres)"}
	cfg, err := pgx.ParseConfig(t.DSN.Reveal())
	if err != nil {
		rec.Fail("connect", "the DSN does not parse", "fix systems."+t.System+".dsn: postgres://user:password@host:port/database")
		return rec.Results
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, t.System)
		rec.Fail("connect", detail, fix)
		return rec.Results
	}
	defer conn.Close(context.WithoutCancel(ctx))
	p := pgCheck{ctx: ctx, conn: conn, rec: rec, t: t, user: cfg.User}
	p.run()
	return rec.Results
}

// ConnectFailure explains a failed connection and names the fix.
func ConnectFailure(err error, user, host string, port uint16, db, system string) (detail, fix string) {
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fmt.Sprintf("password authentication failed for user %q at %s", user, addr),
				"set the right password for " + user + " in systems." + system + ".dsn (or ALTER ROLE \"" + user + "\" PASSWORD '...')"
		case "28000":
			return fmt.Sprintf("the server refused user %q: %s", user, pgErr.Message),
				"allow it in pg_hba.conf: host " + db + " " + user + " <tandem's address>/32 scram-sha-256, then SELECT pg_reload_conf()"
		case "3D000":
			return fmt.Sprintf("database %q does not exist at %s", db, addr),
				"create it (CREATE DATABASE \"" + db + "\") or fix the database name in systems." + system + ".dsn"
		}
		return fmt.Sprintf("connecting to %s failed: %s (SQLSTATE %s)", addr, pgErr.Message, pgErr.Code),
			"fix the server or systems." + system + ".dsn"
	}
	msg := err.Error()
	if strings.Contains(msg, "connection refused") {
		return fmt.Sprintf("nothing accepts connections at %s", addr),
			"start PostgreSQL, or fix the host and port in systems." + system + ".dsn"
	}
	return fmt.Sprintf("cannot connect to %s: %s", addr, lastPart(msg)),
		"check that PostgreSQL runs at " + addr + " and that systems." + system + ".dsn is right"
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}

type pgCheck struct {
	ctx  context.Context
	conn *pgx.Conn
	rec  *preflight.Recorder
	t    Target
	user string
}

func (p *pgCheck) setting(name string) (string, error) {
	var v string
	err := p.conn.QueryRow(p.ctx, "SELECT setting FROM pg_settings WHERE name = $1", name).Scan(&v)
	return v, err
}

func (p *pgCheck) run() {
	var version string
	var versionNum int
	if err := p.conn.QueryRow(p.ctx, "SELECT current_setting('server_version'), current_setting('server_version_num')::int").Scan(&version, &versionNum); err != nil {
		p.rec.Fail("version", "cannot read the server version: "+err.Error(), "check that the role may run SELECT current_setting(...)")
		return
	}
	p.rec.Check(versionNum >= MinVersion, "version", "PostgreSQL "+version,
		"upgrade to PostgreSQL 14 or newer (pgoutput protocol 2 with streaming)")

	walLevel, err := p.setting("wal_level")
	if err != nil {
		p.rec.Fail("wal_level", err.Error(), "")
	} else {
		p.rec.Check(walLevel == "logical", "wal_level", "wal_level is "+walLevel,
			"run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (wal_level needs a restart)")
	}

	p.slotsAndSenders()

	var super, repl bool
	if err := p.conn.QueryRow(p.ctx, "SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user").Scan(&super, &repl); err != nil {
		p.rec.Fail("replication role", "cannot read the role: "+err.Error(), "")
	} else {
		detail := fmt.Sprintf("role %q: superuser=%t replication=%t", p.user, super, repl)
		p.rec.Check(super || repl, "replication role", detail,
			fmt.Sprintf("ALTER ROLE %s WITH REPLICATION;", quoteIdent(p.user)))
	}
	p.replicationConnection()
	owned := p.tables(super)
	p.publication(super, owned)
	p.slot()
}

func (p *pgCheck) slotsAndSenders() {
	var maxSlots, usedSlots, maxSenders, usedSenders int
	var ours bool
	err := p.conn.QueryRow(p.ctx, `SELECT current_setting('max_replication_slots')::int,
		(SELECT count(*) FROM pg_replication_slots),
		(SELECT count(*) > 0 FROM pg_replication_slots WHERE slot_name = $1),
		current_setting('max_wal_senders')::int,
		(SELECT count(*) FROM pg_stat_replication)`, p.t.Capture.Slot).
		Scan(&maxSlots, &usedSlots, &ours, &maxSenders, &usedSenders)
	if err != nil {
		p.rec.Fail("max_replication_slots", "cannot read slot settings: "+err.Error(), "")
		return
	}
	need := usedSlots + 1
	if ours {
		need = usedSlots
	}
	p.rec.Check(maxSlots >= need && maxSlots > 0, "max_replication_slots",
		fmt.Sprintf("%d of %d in use; tandem needs one (%s)", usedSlots, maxSlots, p.t.Capture.Slot),
		fmt.Sprintf("ALTER SYSTEM SET max_replication_slots = %d; then restart PostgreSQL", max(need+4, 10)))
	p.rec.Check(maxSenders > usedSenders, "max_wal_senders",
		fmt.Sprintf("%d of %d in use; tandem needs one", usedSenders, maxSenders),
		fmt.Sprintf("ALTER SYSTEM SET max_wal_senders = %d; then restart PostgreSQL", max(usedSenders+5, 10)))
}

// replicationConnection opens a logical replication connection, which proves
// that pg_hba.conf and the role allow it.
func (p *pgCheck) replicationConnection() {
	cfg, err := pgconn.ParseConfig(p.t.DSN.Reveal())
	if err != nil {
		return
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(p.ctx, cfg)
	if err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, p.t.System)
		p.rec.Fail("replication connection", detail, fix)
		return
	}
	defer conn.Close(context.WithoutCancel(p.ctx))
	res, err := conn.Exec(p.ctx, "IDENTIFY_SYSTEM").ReadAll()
	if err != nil {
		var pgErr *pgconn.PgError
		fix := "grant the REPLICATION attribute and allow the connection in pg_hba.conf"
		if errors.As(err, &pgErr) && pgErr.Code == "53300" {
			fix = "raise max_wal_senders, or stop another replication client"
		}
		p.rec.Fail("replication connection", "IDENTIFY_SYSTEM failed: "+err.Error(), fix)
		return
	}
	detail := "IDENTIFY_SYSTEM works"
	if len(res) == 1 && len(res[0].Rows) == 1 && len(res[0].Rows[0]) >= 3 {
		detail += "; WAL at " + string(res[0].Rows[0][2])
	}
	p.rec.Pass("replication connection", detail)
}

// tables checks each captured table, and returns whether the role owns all
// of them (needed to create a publication for them).
func (p *pgCheck) tables(super bool) bool {
	tables := p.t.Capture.Tables
	if len(tables) == 0 {
		p.rec.Warn("tables", "systems."+p.t.System+".capture.tables is empty, so nothing is captured",
			"list the tables to capture under systems."+p.t.System+".capture.tables")
		return true
	}
	allOwned := true
	for _, qualified := range tables {
		check := "table " + qualified
		schemaName, table := capture.SplitTable(qualified)
		var exists, hasPK, canSelect, owned bool
		var ident string
		err := p.conn.QueryRow(p.ctx, `
			SELECT true,
			       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
			       c.relreplident::text,
			       has_table_privilege(c.oid, 'SELECT'),
			       pg_has_role(c.relowner, 'USAGE')
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schemaName, table).
			Scan(&exists, &hasPK, &ident, &canSelect, &owned)
		if errors.Is(err, pgx.ErrNoRows) {
			p.rec.Fail(check, "no such table", "create it, or fix the name in systems."+p.t.System+".capture.tables (use schema.table)")
			allOwned = false
			continue
		}
		if err != nil {
			p.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
			allOwned = false
			continue
		}
		allOwned = allOwned && owned
		quoted := quoteIdent(schemaName) + "." + quoteIdent(table)
		switch {
		case ident == "n":
			p.rec.Fail(check, "REPLICA IDENTITY NOTHING: updates and deletes would carry no key",
				"ALTER TABLE "+quoted+" REPLICA IDENTITY DEFAULT; (with a primary key) or REPLICA IDENTITY FULL;")
			continue
		case ident == "d" && !hasPK:
			p.rec.Fail(check, "no primary key and REPLICA IDENTITY DEFAULT: updates and deletes would carry no key",
				"ALTER TABLE "+quoted+" ADD PRIMARY KEY (<key columns>); or ALTER TABLE "+quoted+" REPLICA IDENTITY FULL;")
			continue
		case !canSelect:
			p.rec.Fail(check, "role "+p.user+" may not SELECT it (needed for the snapshot)",
				"GRANT SELECT ON "+quoted+" TO "+quoteIdent(p.user)+";")
			continue
		}
		detail := map[string]string{"d": "primary key", "f": "REPLICA IDENTITY FULL", "i": "REPLICA IDENTITY USING INDEX"}[ident]
		if ident != "f" && slices.Contains(p.t.Mapped, qualified) {
			p.rec.Warn(check, detail+", readable; but an entity mapping reads it, and without REPLICA IDENTITY FULL an update carries no old row, "+
				"so every mapped column of the row counts as changed (the events are right, but conflict detection sees more changes than there were)",
				"ALTER TABLE "+quoted+" REPLICA IDENTITY FULL;")
			continue
		}
		p.rec.Pass(check, detail+", readable")
	}
	return allOwned || super
}

func (p *pgCheck) publication(super, ownsTables bool) {
	name := p.t.Capture.Publication
	check := "publication " + name
	var exists, allTables bool
	err := p.conn.QueryRow(p.ctx, "SELECT true, puballtables FROM pg_publication WHERE pubname = $1", name).Scan(&exists, &allTables)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		p.rec.Fail(check, "cannot read pg_publication: "+err.Error(), "")
		return
	}
	want := append([]string{}, p.t.Capture.Tables...)
	if !exists {
		var canCreate bool
		if err := p.conn.QueryRow(p.ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&canCreate); err != nil {
			p.rec.Fail(check, err.Error(), "")
			return
		}
		if (canCreate && ownsTables) || super {
			p.rec.Pass(check, "does not exist yet; tandem will create it for the captured tables")
			return
		}
		p.rec.Fail(check, "does not exist, and role "+p.user+" cannot create it (it needs CREATE on the database and ownership of the tables)",
			"as an owner, run: CREATE PUBLICATION "+quoteIdent(name)+" FOR TABLE "+strings.Join(quoteAll(want), ", ")+";")
		return
	}
	if allTables {
		p.rec.Pass(check, "exists, FOR ALL TABLES")
		return
	}
	rows, err := p.conn.Query(p.ctx, "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1", name)
	if err != nil {
		p.rec.Fail(check, err.Error(), "")
		return
	}
	in, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		p.rec.Fail(check, err.Error(), "")
		return
	}
	have := map[string]bool{}
	for _, t := range in {
		have[t] = true
	}
	var missing []string
	for _, t := range want {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		p.rec.Pass(check, fmt.Sprintf("exists with all %d captured tables", len(want)))
		return
	}
	if ownsTables {
		p.rec.Warn(check, "exists without "+strings.Join(missing, ", ")+"; tandem will add them",
			"ALTER PUBLICATION "+quoteIdent(name)+" ADD TABLE "+strings.Join(quoteAll(missing), ", ")+";")
		return
	}
	p.rec.Fail(check, "exists without "+strings.Join(missing, ", ")+", and role "+p.user+" cannot add them",
		"as the tables' owner, run: ALTER PUBLICATION "+quoteIdent(name)+" ADD TABLE "+strings.Join(quoteAll(missing), ", ")+";")
}

func (p *pgCheck) slot() {
	name := p.t.Capture.Slot
	check := "slot " + name
	var plugin, walStatus string
	var active bool
	err := p.conn.QueryRow(p.ctx, `SELECT coalesce(plugin, ''), coalesce(wal_status, ''), active
		FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(&plugin, &walStatus, &active)
	if errors.Is(err, pgx.ErrNoRows) {
		p.rec.Pass(check, "does not exist yet; tandem will create it and snapshot the tables")
		return
	}
	if err != nil {
		p.rec.Fail(check, "cannot read pg_replication_slots: "+err.Error(), "")
		return
	}
	switch {
	case plugin != "pgoutput":
		p.rec.Fail(check, "exists with plugin "+strconv.Quote(plugin)+", not pgoutput",
			"use another name in systems."+p.t.System+".capture.slot, or drop it: SELECT pg_drop_replication_slot('"+name+"');")
	case walStatus == "lost":
		p.rec.Fail(check, "is invalidated: the WAL it needs was removed (wal_status lost)",
			"run tandem snapshot --system "+p.t.System+" to re-create the slot and re-read the tables")
	case active:
		p.rec.Warn(check, "exists and is in use by another connection", "stop the other tandem run before starting this one")
	default:
		p.rec.Pass(check, "exists (pgoutput, wal_status "+walStatus+")")
	}
}

func quoteIdent(s string) string {
	return pgx.Identifier{s}.Sanitize()
}

func quoteAll(tables []string) []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		s, n := capture.SplitTable(t)
		out[i] = pgx.Identifier{s, n}.Sanitize()
	}
	return out
}

// ColumnLookup returns a function listing a table's columns and their
// types (information_schema data_type), for checking a mapping against the
// live schema, and a function that closes its connection.
func ColumnLookup(ctx context.Context, dsn config.Secret) (func(table string) (map[string]string, bool, error), func(), error) {
	conn, err := pgx.Connect(ctx, dsn.Reveal())
	if err != nil {
		return nil, nil, err
	}
	lookup := func(table string) (map[string]string, bool, error) {
		s, t := capture.SplitTable(table)
		rows, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = $1 AND table_name = $2`, s, t)
		if err != nil {
			return nil, false, err
		}
		cols := map[string]string{}
		for rows.Next() {
			var n, typ string
			if err := rows.Scan(&n, &typ); err != nil {
				rows.Close()
				return nil, false, err
			}
			cols[n] = typ
		}
		rows.Close()
		return cols, len(cols) > 0, rows.Err()
	}
	return lookup, func() { conn.Close(context.WithoutCancel(ctx)) }, nil
}
