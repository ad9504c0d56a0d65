package mysql

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/capture"
	capmysql "github.com/tandem-sync/tandem/capture/mysql"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
)

// CheckTarget is what Preflight checks: the MySQL or MariaDB system a sink
// applies to.
type CheckTarget struct {
	System string
	DSN    config.Secret
	// CheckpointTable is database.table, or a bare name in the DSN's
	// database.
	CheckpointTable string
	// Tables maps each table the sink reads or writes (database.table) to
	// the privileges it needs there: SELECT, INSERT, UPDATE, DELETE.
	Tables map[string][]string
}

// checkpointPrivileges are what the sink does to its checkpoint table: it
// reads it (SELECT ... FOR UPDATE, which takes UPDATE too on MySQL) and
// upserts it.
var checkpointPrivileges = []string{"SELECT", "INSERT", "UPDATE"}

// Preflight checks every prerequisite of a sink applying to t and returns
// one result per prerequisite: the checkpoint table, skip_replication, and
// the privileges on each table. The server checks a privilege when it
// prepares a statement, so each is checked by preparing (never running) a
// statement that needs it: SELECT/INSERT/UPDATE/DELETE ... WHERE 1 = 0, and
// the checkpoint table's CREATE TABLE. It changes nothing on the server;
// the one session variable it sets (skip_replication) dies with its
// session. It blocks for at most the context's deadline.
func Preflight(ctx context.Context, t CheckTarget) []preflight.Result {
	rec := &preflight.Recorder{Target: t.System + " (mysql sink)"}
	cfg, err := drv.ParseDSN(t.DSN.Reveal())
	if err != nil {
		rec.Fail("connect", "the DSN does not parse", "fix systems."+t.System+".dsn: user:password@tcp(host:port)/database")
		return rec.Results
	}
	opts := Options{System: t.System, CheckpointTable: t.CheckpointTable}
	if err := opts.Defaults("mysql", cfg.DBName); err != nil {
		rec.Fail("checkpoint table", err.Error(), "set systems."+t.System+".checkpoint_table")
		return rec.Results
	}
	connector, err := drv.NewConnector(cfg)
	if err != nil {
		rec.Fail("connect", err.Error(), "fix systems."+t.System+".dsn")
		return rec.Results
	}
	db := sql.OpenDB(connector)
	defer db.Close() // closes the session, and its skip_replication with it
	conn, err := db.Conn(ctx)
	var account string
	if err == nil {
		defer conn.Close()
		err = conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&account)
	}
	if err != nil {
		detail, fix := capmysql.ConnectFailure(err, cfg.User, cfg.Addr, cfg.DBName, t.System)
		rec.Fail("connect", detail, fix)
		return rec.Results
	}
	c := &sinkCheck{ctx: ctx, conn: conn, rec: rec, system: t.System, user: cfg.User, account: grantee(account)}
	c.checkpointTable(opts.CheckpointTable)
	for _, table := range slices.Sorted(maps.Keys(t.Tables)) {
		c.table(table, t.Tables[table])
	}
	c.skipReplication() // last: it changes the session
	return rec.Results
}

type sinkCheck struct {
	ctx     context.Context
	conn    *sql.Conn
	rec     *preflight.Recorder
	system  string
	user    string
	account string // 'user'@'host', as GRANT names it
}

// grantee turns CURRENT_USER() (user@host) into 'user'@'host'.
func grantee(current string) string {
	i := strings.LastIndex(current, "@")
	if i < 0 {
		return "'" + current + "'"
	}
	return "'" + current[:i] + "'@'" + current[i+1:] + "'"
}

// column returns the first column of table that the user can see; "" when
// it sees none (no such table, or no privilege on it at all).
func (c *sinkCheck) column(table string) (string, error) {
	db, name := capture.SplitTable(table)
	var col string
	err := c.conn.QueryRowContext(c.ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION LIMIT 1`, db, name).Scan(&col)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return col, err
}

// denied returns the privileges of privs the user lacks on table, by
// preparing a statement that needs each. column is one of its columns (for
// UPDATE). On a table that does not exist, the server checks the privilege
// before it looks for the table, so "no such table" means granted.
func (c *sinkCheck) denied(table, column string, privs []string) ([]string, error) {
	q := Dialect{}.Quote(table)
	if column == "" {
		column = "id"
	}
	var out []string
	for _, p := range privs {
		var stmt string
		switch p {
		case "SELECT":
			stmt = "SELECT 1 FROM " + q + " WHERE 1 = 0"
		case "INSERT":
			stmt = "INSERT INTO " + q + " () VALUES ()"
		case "UPDATE":
			stmt = "UPDATE " + q + " SET " + quoteIdent(column) + " = NULL WHERE 1 = 0"
		case "DELETE":
			stmt = "DELETE FROM " + q + " WHERE 1 = 0"
		case "CREATE":
			stmt = CheckpointDDL(table)
		}
		ok, err := c.allowed(stmt)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// allowed prepares stmt and closes it unrun: false when the server denies
// a privilege it needs.
func (c *sinkCheck) allowed(stmt string) (bool, error) {
	s, err := c.conn.PrepareContext(c.ctx, stmt)
	if err == nil {
		return true, s.Close()
	}
	var myErr *drv.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1142, 1143, 1044: // table, column, database access denied
			return false, nil
		case 1146: // no such table: checked after the privilege
			return true, nil
		}
	}
	return false, err
}

// report records the privilege check of table: pass, or fail with the
// GRANT statement that makes it pass.
func (c *sinkCheck) report(check, table string, need, denied []string) {
	if len(denied) == 0 {
		c.rec.Pass(check, strings.Join(need, ", ")+" granted")
		return
	}
	c.rec.Fail(check, "user "+c.user+" lacks "+strings.Join(denied, ", ")+" (the sink needs "+strings.Join(need, ", ")+")",
		"GRANT "+strings.Join(denied, ", ")+" ON "+Dialect{}.Quote(table)+" TO "+c.account+";")
}

func (c *sinkCheck) table(table string, need []string) {
	check := "table " + table
	col, err := c.column(table)
	if err != nil {
		c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
		return
	}
	if col == "" {
		c.rec.Fail(check, "no such table (or no privilege to see it)",
			"create it, fix the table name in the mappings under systems."+c.system+".entities (database.table), or GRANT "+
				strings.Join(need, ", ")+" ON "+Dialect{}.Quote(table)+" TO "+c.account+";")
		return
	}
	denied, err := c.denied(table, col, need)
	if err != nil {
		c.rec.Fail(check, "cannot check its privileges: "+err.Error(), "")
		return
	}
	c.report(check, table, need, denied)
}

// checkpointTable checks that the sink can use its checkpoint table, or
// create it and then use it (MySQL has no owners: the creator needs the
// privileges on it as anyone else).
func (c *sinkCheck) checkpointTable(table string) {
	check := "checkpoint table " + table
	col, err := c.column(table)
	if err != nil {
		c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
		return
	}
	need := checkpointPrivileges
	if col == "" {
		need = append([]string{"CREATE"}, need...)
	}
	denied, err := c.denied(table, col, need)
	switch {
	case err != nil:
		c.rec.Fail(check, "cannot check its privileges: "+err.Error(), "")
	case col == "" && len(denied) == 0:
		c.rec.Pass(check, "does not exist yet; tandem run creates it (user "+c.user+" has "+strings.Join(need, ", ")+")")
	case col == "":
		c.rec.Fail(check, "does not exist, and user "+c.user+" lacks "+strings.Join(denied, ", ")+" to create and use it",
			"GRANT "+strings.Join(denied, ", ")+" ON "+Dialect{}.Quote(table)+" TO "+c.account+";")
	default:
		c.report(check, table, need, denied)
	}
}

// privilegeNeeded finds the privileges an access-denied message names.
var privilegeNeeded = regexp.MustCompile(`the ([A-Z ,]+) privilege`)

// skipReplication checks that the sink's sessions may set skip_replication,
// which flags their transactions in the binlog (New falls back to the
// checkpoint-first rule alone where they may not).
func (c *sinkCheck) skipReplication() {
	const check = "skip_replication"
	_, err := c.conn.ExecContext(c.ctx, "SET SESSION skip_replication = 1")
	var myErr *drv.MySQLError
	switch {
	case err == nil:
		c.rec.Pass(check, "settable: the sink's transactions are flagged in the binlog, and its checkpoint row starts each of them")
	case errors.As(err, &myErr) && myErr.Number == 1193:
		c.rec.Pass(check, "this server has none (MySQL): the checkpoint row that starts each sink transaction keeps the capture from reading it back")
	case errors.As(err, &myErr) && myErr.Number == 1227:
		fix := "grant the privilege the error names"
		if m := privilegeNeeded.FindStringSubmatch(myErr.Message); m != nil {
			names := strings.Split(m[1], ", ")
			fix = "GRANT " + strings.TrimSpace(names[len(names)-1]) + " ON *.* TO " + c.account + ";"
		}
		c.rec.Warn(check, "user "+c.user+" may not set it ("+myErr.Message+"): the sink's transactions are not flagged in the binlog; "+
			"the checkpoint row that starts each of them still keeps the capture from reading them back", fix)
	default:
		c.rec.Fail(check, "SET SESSION skip_replication = 1 failed: "+err.Error(), "")
	}
}
