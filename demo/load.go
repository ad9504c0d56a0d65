package demo

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/tandem-sync/tandem/deploy/fixtures"
)

// fixtureDBName is what LoadFixtures accepts as a database name: it is
// spliced into CREATE DATABASE, so only plain identifiers.
var fixtureDBName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// LoadFixtures creates the MariaDB database shopDB and the PostgreSQL
// database erpDB when they are missing and applies the fixture DDL
// (deploy/fixtures/shop.sql and erp.sql) to them. mysqlDSN and pgDSN reach
// the servers as a user that may create databases (the local stack's
// tandem); the database they name is only used to connect. Like
// deploy/local/fixtures.sh up it is idempotent: existing tables and rows
// stay. Tests pass unique names so they never touch "shop" and "erp".
func LoadFixtures(ctx context.Context, mysqlDSN, pgDSN string, shopDB, erpDB string) error {
	if err := loadShop(ctx, mysqlDSN, shopDB, false); err != nil {
		return err
	}
	return loadERP(ctx, pgDSN, erpDB, false)
}

// ResetFixtures drops the fixture tables of shopDB and erpDB (the databases
// stay, so replication slots and publications do not block it) and loads
// them again, empty; like deploy/local/fixtures.sh reset.
func ResetFixtures(ctx context.Context, mysqlDSN, pgDSN string, shopDB, erpDB string) error {
	if err := loadShop(ctx, mysqlDSN, shopDB, true); err != nil {
		return err
	}
	return loadERP(ctx, pgDSN, erpDB, true)
}

// ShopDSN is mysqlDSN pointed at database db, in the form
// github.com/go-sql-driver/mysql reads, with multi-statements off and
// parseTime on.
func ShopDSN(mysqlDSN, db string) (string, error) {
	cfg, err := mysql.ParseDSN(mysqlDSN)
	if err != nil {
		return "", fmt.Errorf("demo: MySQL DSN: %w", err)
	}
	cfg.DBName = db
	cfg.ParseTime = true
	return cfg.FormatDSN(), nil
}

// ERPDSN is pgDSN (a postgres:// URL or a keyword/value string) pointed at
// database db.
func ERPDSN(pgDSN, db string) (string, error) {
	if strings.HasPrefix(pgDSN, "postgres://") || strings.HasPrefix(pgDSN, "postgresql://") {
		u, err := url.Parse(pgDSN)
		if err != nil {
			return "", fmt.Errorf("demo: PostgreSQL DSN: %w", err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	if _, err := pgx.ParseConfig(pgDSN); err != nil {
		return "", fmt.Errorf("demo: PostgreSQL DSN: %w", err)
	}
	return pgDSN + " dbname=" + db, nil // the last dbname wins
}

func loadShop(ctx context.Context, mysqlDSN, db string, drop bool) error {
	if !fixtureDBName.MatchString(db) {
		return fmt.Errorf("demo: bad shop database name %q", db)
	}
	cfg, err := mysql.ParseDSN(mysqlDSN)
	if err != nil {
		return fmt.Errorf("demo: MySQL DSN: %w", err)
	}
	adminCfg := cfg.Clone()
	adminCfg.DBName = "" // the database may not exist yet
	admin, err := sql.Open("mysql", adminCfg.FormatDSN())
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"); err != nil {
		return fmt.Errorf("demo: create MariaDB database %s: %w", db, err)
	}
	cfg.DBName = db
	cfg.MultiStatements = true
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer conn.Close()
	if drop {
		if _, err := conn.ExecContext(ctx, fixtures.ShopDropSQL); err != nil {
			return fmt.Errorf("demo: drop the shop tables of %s: %w", db, err)
		}
	}
	if _, err := conn.ExecContext(ctx, fixtures.ShopSQL); err != nil {
		return fmt.Errorf("demo: load shop.sql into %s: %w", db, err)
	}
	return nil
}

func loadERP(ctx context.Context, pgDSN, db string, drop bool) error {
	if !fixtureDBName.MatchString(db) {
		return fmt.Errorf("demo: bad ERP database name %q", db)
	}
	// the database pgDSN names may not exist yet: create it from the
	// maintenance database
	adminDSN, err := ERPDSN(pgDSN, "postgres")
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return fmt.Errorf("demo: connect to PostgreSQL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE "`+db+`"`); err != nil {
			return fmt.Errorf("demo: create PostgreSQL database %s: %w", db, err)
		}
	}
	dsn, err := ERPDSN(pgDSN, db)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("demo: connect to PostgreSQL database %s: %w", db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// No arguments: pgx sends each file as one simple-protocol batch.
	if _, err := conn.Exec(ctx, "SET client_min_messages = warning"); err != nil {
		return err
	}
	if drop {
		if _, err := conn.Exec(ctx, fixtures.ERPDropSQL); err != nil {
			return fmt.Errorf("demo: drop the ERP tables of %s: %w", db, err)
		}
	}
	if _, err := conn.Exec(ctx, fixtures.ERPSQL); err != nil {
		return fmt.Errorf("demo: load erp.sql into %s: %w", db, err)
	}
	return nil
}
