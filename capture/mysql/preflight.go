package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/internal/preflight"
)

// Target is what Preflight checks: one MySQL or MariaDB system.
type Target struct {
	System          string
	DSN             config.Secret
	Capture         capture.Config
	CheckpointTable string
}

// Preflight checks every prerequisite of capturing from t and returns one
// result per prerequisite. It only reads; it changes nothing on the server.
// It blocks for at most the context's deadline.
func Preflight(ctx context.Context, t Target) []preflight.Result {
	rec := &preflight.Recorder{Target: t.System + " (mysql)"}
	cfg, err := drv.ParseDSN(t.DSN.Reveal())
	if err != nil {
		rec.Fail("connect", "the DSN does not parse", "fix systems."+t.System+".dsn: user:password@tcp(host:port)/database")
		return rec.Results
	}
	connector, err := drv.NewConnector(cfg)
	if err != nil {
		rec.Fail("connect", err.Error(), "fix systems."+t.System+".dsn")
		return rec.Results
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		detail, fix := ConnectFailure(err, cfg.User, cfg.Addr, cfg.DBName, t.System)
		rec.Fail("connect", detail, fix)
		return rec.Results
	}
	defer conn.Close()
	c := myCheck{ctx: ctx, conn: conn, rec: rec, t: t, user: cfg.User}
	c.run()
	return rec.Results
}

// ConnectFailure explains a failed connection and names the fix.
func ConnectFailure(err error, user, addr, db, system string) (detail, fix string) {
	var myErr *drv.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1045:
			return fmt.Sprintf("access denied for user %q at %s", user, addr),
				"set the right password for " + user + " in systems." + system + ".dsn, or create the user: CREATE USER '" + user + "'@'<tandem host>' IDENTIFIED BY '...'"
		case 1049:
			return fmt.Sprintf("database %q does not exist at %s", db, addr),
				"create it (CREATE DATABASE `" + db + "`) or fix the database name in systems." + system + ".dsn"
		case 1044:
			return fmt.Sprintf("user %q may not use database %q", user, db),
				"GRANT SELECT ON `" + db + "`.* TO '" + user + "'@'<tandem host>';"
		}
		return fmt.Sprintf("connecting to %s failed: %s (error %d)", addr, myErr.Message, myErr.Number),
			"fix the server or systems." + system + ".dsn"
	}
	if strings.Contains(err.Error(), "connection refused") {
		return "nothing accepts connections at " + addr,
			"start MySQL/MariaDB, or fix the host and port in systems." + system + ".dsn"
	}
	return fmt.Sprintf("cannot connect to %s: %v", addr, err),
		"check that MySQL/MariaDB runs at " + addr + " and that systems." + system + ".dsn is right"
}

type myCheck struct {
	ctx  context.Context
	conn *sql.Conn
	rec  *preflight.Recorder
	t    Target
	user string
}

func (c *myCheck) variable(name string) (string, bool) {
	var n, v string
	err := c.conn.QueryRowContext(c.ctx, "SHOW GLOBAL VARIABLES LIKE '"+name+"'").Scan(&n, &v)
	if err != nil {
		return "", false
	}
	return v, true
}

// Flavor is "mariadb" or "mysql", as the server reports it.
func flavorOf(version string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return "mariadb"
	}
	return "mysql"
}

func (c *myCheck) run() {
	var version string
	if err := c.conn.QueryRowContext(c.ctx, "SELECT VERSION()").Scan(&version); err != nil {
		c.rec.Fail("version", err.Error(), "")
		return
	}
	flavor := flavorOf(version)
	major, minor := versionParts(version)
	if flavor == "mariadb" {
		c.rec.Check(major > 10 || (major == 10 && minor >= 5), "version", "MariaDB server "+strings.TrimSuffix(version, "-log"),
			"upgrade to MariaDB 10.5 or newer (binlog_row_metadata=FULL)")
	} else {
		c.rec.Check(major >= 8, "version", "MySQL "+version, "upgrade to MySQL 8.0 or newer (binlog_row_metadata=FULL)")
	}
	if c.t.Capture.Flavor != "auto" && c.t.Capture.Flavor != flavor {
		c.rec.Fail("flavor", "the config says "+c.t.Capture.Flavor+" but the server is "+flavor,
			"set systems."+c.t.System+".capture.flavor to auto or "+flavor)
	}

	logBin, _ := c.variable("log_bin")
	c.rec.Check(logBin == "ON", "log_bin", "log_bin is "+orUnset(logBin),
		"add log_bin=mysql-bin and server_id=<n> under [mysqld] in my.cnf, then restart the server")
	c.want("binlog_format", "ROW")
	c.want("binlog_row_image", "FULL")
	c.want("binlog_row_metadata", "FULL")
	c.serverID()
	c.gtid(flavor)
	c.privileges(flavor)
	c.tables()
}

// want checks that a global variable has the value tandem needs.
func (c *myCheck) want(name, value string) {
	v, ok := c.variable(name)
	if !ok {
		c.rec.Fail(name, name+" does not exist on this server", "upgrade the server; tandem needs "+name+"="+value)
		return
	}
	c.rec.Check(strings.EqualFold(v, value), name, name+" is "+orUnset(v),
		fmt.Sprintf("SET GLOBAL %s = '%s'; and add %s=%s under [mysqld] in my.cnf so it survives a restart (sessions already open keep the old value)", name, value, name, value))
}

func (c *myCheck) serverID() {
	v, _ := c.variable("server_id")
	id, _ := strconv.ParseUint(v, 10, 32)
	if id == 0 {
		c.rec.Fail("server_id", "the server's server_id is 0", "set server_id=<n> under [mysqld] in my.cnf, then restart")
		return
	}
	ours := uint64(c.t.Capture.ServerID)
	if ours == id {
		c.rec.Fail("server_id", fmt.Sprintf("capture.server_id %d is the server's own server_id", ours),
			fmt.Sprintf("set systems.%s.capture.server_id to a number no server or replica uses (not %d)", c.t.System, id))
		return
	}
	rows, err := c.conn.QueryContext(c.ctx, "SHOW SLAVE HOSTS")
	if err == nil {
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if rows.Scan(ptrs...) != nil {
				break
			}
			if len(vals) > 0 && string(vals[0]) == strconv.FormatUint(ours, 10) {
				c.rec.Fail("server_id", fmt.Sprintf("a replica with server_id %d is already connected", ours),
					fmt.Sprintf("set systems.%s.capture.server_id to an unused number, or stop the other replica", c.t.System))
				return
			}
		}
	}
	c.rec.Pass("server_id", fmt.Sprintf("server %d; tandem replicates as %d", id, ours))
}

func (c *myCheck) gtid(flavor string) {
	if flavor == "mariadb" {
		strict, _ := c.variable("gtid_strict_mode")
		pos, _ := c.variable("gtid_binlog_pos")
		if strict != "ON" {
			c.rec.Warn("gtid", "MariaDB GTIDs are on (binlog position "+orUnset(pos)+") but gtid_strict_mode is "+orUnset(strict),
				"SET GLOBAL gtid_strict_mode = ON; and gtid_strict_mode=ON in my.cnf")
			return
		}
		c.rec.Pass("gtid", "MariaDB GTIDs, strict mode, at "+orUnset(pos))
		return
	}
	mode, _ := c.variable("gtid_mode")
	if mode != "ON" {
		c.rec.Warn("gtid", "gtid_mode is "+orUnset(mode)+"; tandem falls back to file:pos positions, which do not survive a failover",
			"enable GTIDs: gtid_mode=ON and enforce_gtid_consistency=ON in my.cnf")
		return
	}
	c.rec.Pass("gtid", "MySQL GTIDs on")
}

// privileges reads SHOW GRANTS for the user and looks for the replication
// privileges (MariaDB 10.5+ spells REPLICATION CLIENT as BINLOG MONITOR).
func (c *myCheck) privileges(flavor string) {
	missing, err := missingPrivileges(c.ctx, c.conn, flavor)
	if err != nil {
		c.rec.Fail("privileges", "cannot read grants: "+err.Error(), "")
		return
	}
	if len(missing) > 0 {
		c.rec.Fail("privileges", "user "+c.user+" lacks "+strings.Join(missing, " and "),
			"GRANT "+strings.Join(missing, ", ")+" ON *.* TO '"+c.user+"'@'<tandem host>';")
		return
	}
	c.rec.Pass("privileges", "replication privileges granted")
}

// missingPrivileges returns the replication privileges the connection's
// user lacks, as GRANT would name them.
func missingPrivileges(ctx context.Context, conn interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, flavor string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if rows.Scan(&g) == nil {
			grants = append(grants, strings.ToUpper(g))
		}
	}
	has := func(priv string) bool {
		for _, g := range grants {
			if strings.Contains(g, " ON *.* ") && (strings.Contains(g, "ALL PRIVILEGES") || strings.Contains(g, priv)) {
				return true
			}
		}
		return false
	}
	var missing []string
	if !has("REPLICATION SLAVE") && !has("REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") && !has("SUPER") {
		if flavor == "mariadb" {
			missing = append(missing, "BINLOG MONITOR")
		} else {
			missing = append(missing, "REPLICATION CLIENT")
		}
	}
	return missing, rows.Err()
}

func (c *myCheck) tables() {
	if len(c.t.Capture.Tables) == 0 {
		c.rec.Warn("tables", "systems."+c.t.System+".capture.tables is empty, so nothing is captured",
			"list the tables to capture under systems."+c.t.System+".capture.tables")
		return
	}
	for _, qualified := range c.t.Capture.Tables {
		check := "table " + qualified
		db, table := capture.SplitTable(qualified)
		var n int
		err := c.conn.QueryRowContext(c.ctx, `SELECT COUNT(*) FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'`, db, table).Scan(&n)
		if err != nil {
			c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
			continue
		}
		if n == 0 {
			c.rec.Fail(check, "no such table (or no privilege to see it)",
				"create it, fix the name in systems."+c.t.System+".capture.tables (database.table), or GRANT SELECT ON "+quote(db)+"."+quote(table)+" TO '"+c.user+"'")
			continue
		}
		var pk int
		// STATISTICS, not TABLE_CONSTRAINTS: MariaDB hides the latter from a
		// user with only table-level SELECT, which would read as no key
		if err := c.conn.QueryRowContext(c.ctx, `SELECT COUNT(*) FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'`, db, table).Scan(&pk); err != nil {
			c.rec.Fail(check, "cannot inspect it: "+err.Error(), "")
			continue
		}
		if pk == 0 {
			c.rec.Fail(check, "no primary key: changes could not be keyed or applied idempotently",
				"ALTER TABLE "+quote(db)+"."+quote(table)+" ADD PRIMARY KEY (<key columns>);")
			continue
		}
		rows, err := c.conn.QueryContext(c.ctx, "SELECT 1 FROM "+quote(db)+"."+quote(table)+" LIMIT 0")
		if err != nil {
			c.rec.Fail(check, "user "+c.user+" may not SELECT it (needed for the snapshot)",
				"GRANT SELECT ON "+quote(db)+"."+quote(table)+" TO '"+c.user+"'@'<tandem host>';")
			continue
		}
		rows.Close()
		c.rec.Pass(check, "primary key, readable")
	}
}

func quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

func orUnset(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}

func versionParts(v string) (int, int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor
}

// ColumnLookup returns a function listing a table's columns and their
// types (information_schema DATA_TYPE), for checking a mapping against the
// live schema, and a function that closes its connection.
func ColumnLookup(ctx context.Context, dsn config.Secret) (func(table string) (map[string]string, bool, error), func(), error) {
	db, err := sql.Open("mysql", dsn.Reveal())
	if err != nil {
		return nil, nil, err
	}
	lookup := func(table string) (map[string]string, bool, error) {
		d, t := capture.SplitTable(table)
		rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, d, t)
		if err != nil {
			return nil, false, err
		}
		defer rows.Close()
		cols := map[string]string{}
		for rows.Next() {
			var n, typ string
			if err := rows.Scan(&n, &typ); err != nil {
				return nil, false, err
			}
			cols[n] = typ
		}
		return cols, len(cols) > 0, rows.Err()
	}
	return lookup, func() { db.Close() }, nil
}
