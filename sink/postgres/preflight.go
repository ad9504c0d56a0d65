package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/capture"
	cappg "github.com/tandem-sync/tandem/capture/postgres"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
)

// CheckTarget is what Preflight checks: the PostgreSQL system a sink
// applies to.
type CheckTarget struct {
	System string
	DSN    config.Secret
	// CheckpointTable is schema.table, or a bare name in schema public.
	CheckpointTable string
	// Connections is the sink's pool size (systems.<name>.sink.connections):
	// its transactions run under the replication origins tandem_<System>_0
	// .. tandem_<System>_<Connections-1>. Default 4.
	Connections int
	// Tables maps each table the sink reads or writes (schema.table) to the
	// privileges it needs there: SELECT, INSERT, UPDATE, DELETE.
	Tables map[string][]string
}

// checkpointPrivileges are what the sink does to its checkpoint table: it
// reads it (SELECT ... FOR UPDATE, which takes UPDATE too) and upserts it.
var checkpointPrivileges = []string{"SELECT", "INSERT", "UPDATE"}

// Preflight checks every prerequisite of a sink applying to t and returns
// one result per prerequisite: the checkpoint table, the replication
// origins and the origin states they take, and the privileges on each
// table. It only reads; it creates nothing. It blocks for at most the
// context's deadline.
func Preflight(ctx context.Context, t CheckTarget) []preflight.Result {
	rec := &preflight.Recorder{Target: t.System + " (postgres sink)"}
	opts := Options{System: t.System, Sink: t.System, DSN: t.DSN, CheckpointTable: t.CheckpointTable, MaxConns: t.Connections}
	if err := opts.Defaults("postgres", "public"); err != nil {
		rec.Fail("checkpoint table", err.Error(), "set systems."+t.System+".checkpoint_table")
		return rec.Results
	}
	cfg, err := pgx.ParseConfig(t.DSN.Reveal())
	if err != nil {
		rec.Fail("connect", "the DSN does not parse", "fix systems."+t.System+".dsn: postgres://user:password@host:port/database")
		return rec.Results
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		detail, fix := cappg.ConnectFailure(err, cfg.User, cfg.Host, cfg.Port, cfg.Database, t.System)
		rec.Fail("connect", detail, fix)
		return rec.Results
	}
	defer conn.Close(context.WithoutCancel(ctx))
	origins := make([]string, opts.MaxConns)
	for i := range origins {
		origins[i] = OriginName(opts.Sink, i)
	}
	c := &sinkCheck{ctx: ctx, conn: conn, rec: rec, system: t.System, user: cfg.User, origins: origins}
	c.checkpointTable(opts.CheckpointTable)
	c.originPrivileges()
	c.originStates()
	for _, table := range slices.Sorted(maps.Keys(t.Tables)) {
		c.table(table, t.Tables[table])
	}
	return rec.Results
}

type sinkCheck struct {
	ctx     context.Context
	conn    *pgx.Conn
	rec     *preflight.Recorder
	system  string
	user    string
	origins []string // tandem_<sink>_0 .. tandem_<sink>_<n-1>
}

// lack is what the role lacks to do its work on one table.
type lack struct {
	schemaUsage bool     // USAGE on the table's schema
	privileges  []string // table privileges, in the order asked
	sequences   []string // sequences of column defaults (ids): INSERT calls nextval
}

// lacks reads what the role lacks of privs on table; pgx.ErrNoRows when
// there is no such table.
func (c *sinkCheck) lacks(table string, privs []string) (lack, error) {
	schema, name := capture.SplitTable(table)
	var l lack
	var usage bool
	err := c.conn.QueryRow(c.ctx, `
		SELECT has_schema_privilege(n.oid, 'USAGE'),
		       ARRAY(SELECT p FROM unnest($3::text[]) WITH ORDINALITY AS u(p, i)
		             WHERE NOT has_table_privilege(c.oid, p) ORDER BY i),
		       ARRAY(SELECT DISTINCT quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
		             FROM pg_attrdef ad
		             JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
		                             AND d.refclassid = 'pg_class'::regclass
		             JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
		             JOIN pg_namespace sn ON sn.oid = s.relnamespace
		             WHERE $4 AND ad.adrelid = c.oid
		               AND CASE WHEN s.relkind = 'S' -- first: has_sequence_privilege fails on a table
		                   THEN NOT has_sequence_privilege(s.oid, 'USAGE') AND NOT has_sequence_privilege(s.oid, 'UPDATE') END
		             ORDER BY 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'f')`,
		schema, name, privs, slices.Contains(privs, "INSERT")).Scan(&usage, &l.privileges, &l.sequences)
	l.schemaUsage = !usage
	return l, err
}

// report records the privilege check of table: pass, or fail with the
// GRANT statements that make it pass.
func (c *sinkCheck) report(check, table string, need []string, l lack) {
	role := quoteIdent(c.user)
	var what, fix []string
	if l.schemaUsage {
		schema, _ := capture.SplitTable(table)
		what = append(what, "USAGE on schema "+schema)
		fix = append(fix, "GRANT USAGE ON SCHEMA "+quoteIdent(schema)+" TO "+role+";")
	}
	if len(l.privileges) > 0 {
		what = append(what, strings.Join(l.privileges, ", "))
		fix = append(fix, "GRANT "+strings.Join(l.privileges, ", ")+" ON "+Dialect{}.Quote(table)+" TO "+role+";")
	}
	if len(l.sequences) > 0 {
		what = append(what, "USAGE on sequence "+strings.Join(l.sequences, ", ")+" (inserts take ids from it)")
		fix = append(fix, "GRANT USAGE ON SEQUENCE "+strings.Join(l.sequences, ", ")+" TO "+role+";")
	}
	if len(what) == 0 {
		c.rec.Pass(check, strings.Join(need, ", ")+" granted")
		return
	}
	c.rec.Fail(check, "role "+c.user+" lacks "+strings.Join(what, "; ")+" (the sink needs "+strings.Join(need, ", ")+")",
		strings.Join(fix, " "))
}

func (c *sinkCheck) table(table string, need []string) {
	check := "table " + table
	l, err := c.lacks(table, need)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		c.rec.Fail(check, "no such table", "create it, or fix the table name in the mappings under systems."+c.system+".entities (use schema.table)")
	case err != nil:
		c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
	default:
		c.report(check, table, need, l)
	}
}

// checkpointTable checks that the sink can use its checkpoint table, or
// create it (the creator owns it, and so may use it).
func (c *sinkCheck) checkpointTable(table string) {
	check := "checkpoint table " + table
	l, err := c.lacks(table, checkpointPrivileges)
	if err == nil {
		c.report(check, table, checkpointPrivileges, l)
		return
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
		return
	}
	schema, _ := capture.SplitTable(table)
	var canCreate bool
	err = c.conn.QueryRow(c.ctx, "SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace WHERE nspname = $1", schema).Scan(&canCreate)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		c.rec.Fail(check, "neither it nor its schema "+schema+" exists",
			"CREATE SCHEMA "+quoteIdent(schema)+" AUTHORIZATION "+quoteIdent(c.user)+"; or fix systems."+c.system+".checkpoint_table")
	case err != nil:
		c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
	case canCreate:
		c.rec.Pass(check, "does not exist yet; tandem run creates it (role "+c.user+" has CREATE on schema "+schema+")")
	default:
		c.rec.Fail(check, "does not exist, and role "+c.user+" may not create it (no CREATE on schema "+schema+")",
			"GRANT CREATE ON SCHEMA "+quoteIdent(schema)+" TO "+quoteIdent(c.user)+";")
	}
}

// originPrivileges checks that the role may create the sink's replication
// origins (where one is missing) and set them up on its sessions.
func (c *sinkCheck) originPrivileges() {
	const check = "replication origins"
	var super bool
	var existing int
	err := c.conn.QueryRow(c.ctx, `SELECT rolsuper, (SELECT count(*) FROM pg_catalog.pg_replication_origin WHERE roname = ANY($1))
		FROM pg_roles WHERE rolname = current_user`, c.origins).Scan(&super, &existing)
	if err != nil {
		c.rec.Fail(check, "cannot read the role and its origins: "+err.Error(), "")
		return
	}
	have := fmt.Sprintf("%s (%d of %d exist)", c.span(), existing, len(c.origins))
	if super {
		c.rec.Pass(check, have+"; role "+c.user+" is a superuser, so it creates and sets them up")
		return
	}
	fns := []string{"pg_replication_origin_session_setup", "pg_replication_origin_session_reset"}
	if existing < len(c.origins) {
		fns = append([]string{"pg_replication_origin_create"}, fns...)
	}
	rows, err := c.conn.Query(c.ctx, `SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY($1) AND NOT has_function_privilege(p.oid, 'EXECUTE')
		ORDER BY array_position($1, p.proname::text), 1`, fns)
	if err != nil {
		c.rec.Fail(check, "cannot read function privileges: "+err.Error(), "")
		return
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		c.rec.Fail(check, "cannot read function privileges: "+err.Error(), "")
		return
	}
	if len(missing) == 0 {
		c.rec.Pass(check, have+"; role "+c.user+" may execute "+strings.Join(fns, ", "))
		return
	}
	c.rec.Fail(check, have+"; role "+c.user+" may not execute "+strings.Join(missing, ", ")+
		", which the sink needs to tag its transactions (the REPLICATION attribute is not enough)",
		"as a superuser run: GRANT EXECUTE ON FUNCTION "+strings.Join(missing, ", ")+" TO "+quoteIdent(c.user)+";")
}

// originStates checks that the server has a replication origin state free
// for each of the sink's origins. Each origin that was ever set up holds
// one until it is dropped; there are max_replication_slots of them (an
// array of their own, not the slots), max_active_replication_origins from
// PostgreSQL 18.
func (c *sinkCheck) originStates() {
	const check = "replication origin states"
	var limit int
	var setting string
	err := c.conn.QueryRow(c.ctx, `SELECT coalesce(current_setting('max_active_replication_origins', true), current_setting('max_replication_slots'))::int,
		CASE WHEN current_setting('max_active_replication_origins', true) IS NULL THEN 'max_replication_slots' ELSE 'max_active_replication_origins' END`).
		Scan(&limit, &setting)
	if err != nil {
		c.rec.Fail(check, "cannot read max_replication_slots: "+err.Error(), "")
		return
	}
	// The states in use are in pg_replication_origin_status, which only
	// superusers may read by default; else count the origins, each of
	// which may hold one.
	held := "held by other origins"
	var used int
	if err := c.conn.QueryRow(c.ctx, "SELECT count(*) FROM pg_catalog.pg_replication_origin_status WHERE NOT (external_id = ANY($1))", c.origins).Scan(&used); err != nil {
		held = "may be held by other origins (their count: the role may not read pg_replication_origin_status)"
		if err := c.conn.QueryRow(c.ctx, "SELECT count(*) FROM pg_catalog.pg_replication_origin WHERE NOT (roname = ANY($1))", c.origins).Scan(&used); err != nil {
			c.rec.Fail(check, "cannot read pg_replication_origin: "+err.Error(), "")
			return
		}
	}
	need := used + len(c.origins)
	c.rec.Check(need <= limit, check,
		fmt.Sprintf("%d of %d origin states (%s) %s; the sink needs %d (%s)", used, limit, setting, held, len(c.origins), c.span()),
		fmt.Sprintf("ALTER SYSTEM SET %s = %d; then restart PostgreSQL (or lower systems.%s.sink.connections, or drop origins no longer used with SELECT pg_replication_origin_drop(name))",
			setting, max(need+4, 10), c.system))
}

// span names the sink's origins in a row: tandem_<sink>_0..<n-1>.
func (c *sinkCheck) span() string {
	return c.origins[0] + ".." + strconv.Itoa(len(c.origins)-1)
}
