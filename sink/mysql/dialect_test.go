package mysql

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"testing"

	drv "github.com/go-sql-driver/mysql"

	"github.com/tandem-sync/tandem/sink"
	"github.com/tandem-sync/tandem/sink/internal/sinktest"
)

func TestDialectSQL(t *testing.T) {
	d := Dialect{}
	sinktest.CheckSQL(t, []sinktest.SQLCase{
		{"quote", d.Quote("orders"), "`orders`"},
		{"quote qualified", d.Quote("shop.wp_posts"), "`shop`.`wp_posts`"},
		{"quote backtick", d.Quote("we`ird"), "`we``ird`"},
		{"placeholder", d.Placeholder(7), "?"},
		{"json set", d.JSONSet("`attrs`", "color", "?"),
			"JSON_SET(COALESCE(`attrs`, '{}'), '$.color', ?)"},
		{"json set nested", d.JSONSet("`attrs`", "size.eu.max", "?"),
			"JSON_SET(JSON_INSERT(COALESCE(`attrs`, '{}'), '$.size', JSON_OBJECT(), '$.size.eu', JSON_OBJECT()), '$.size.eu.max', ?)"},
		{"json set odd key", d.JSONSet("`a`", `it's "x"\y`, "?"),
			`JSON_SET(COALESCE(` + "`a`" + `, '{}'), '$."it''s \\"x\\"\\\\y"', ?)`},
		{"upsert", d.Upsert("shop.stock", []string{"sku", "qty"}, 2, []string{"sku"}, []string{"qty"}),
			"INSERT INTO `shop`.`stock` (`sku`, `qty`) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE `qty` = VALUES(`qty`)"},
		{"upsert nothing to update", d.Upsert("stock", []string{"sku", "qty"}, 1, []string{"sku"}, nil),
			"INSERT INTO `stock` (`sku`, `qty`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `sku` = `sku`"},
		{"name", d.Name(), "mysql"},
	})
}

func TestClassify(t *testing.T) {
	my := func(n uint16) error { return &drv.MySQLError{Number: n, Message: "m"} }
	sinktest.CheckClassify(t, Classify, sink.Transient,
		fmt.Errorf("apply: %w", my(1213)), my(1205), // deadlock (wrapped), lock wait timeout
		my(2006), my(2013), my(1040), // server gone, connection lost, too many connections
		my(1927), my(1053), // connection killed, shutdown
		driver.ErrBadConn, drv.ErrInvalidConn, sql.ErrConnDone)
	sinktest.CheckClassify(t, Classify, sink.RowError,
		my(1062), my(1048), my(1452), my(1451), // duplicate, NULL, foreign key (child, parent)
		my(1264), my(1366), my(1292), my(1406), // out of range, incorrect value and datetime, too long
		my(3140), my(4025)) // invalid JSON, CHECK constraint
	sinktest.CheckClassify(t, Classify, sink.Fatal,
		my(1146), my(1054), // no table, unknown column
		my(1142), my(1143), my(1044), my(1045), // denied: table, column, database, login
		my(1064), sql.ErrTxDone) // syntax, a finished transaction
	sinktest.CheckClassifyCommon(t, Classify)
}
