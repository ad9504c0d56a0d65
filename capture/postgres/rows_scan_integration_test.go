//go:build integration

package postgres

import (
	"fmt"
	"testing"

	"github.com/tandem-sync/tandem/capture/internal/rowsource/rowsourcetest"
)

func TestIntegrationRowSourceScan(t *testing.T) {
	e := rowsOpen(t, `CREATE TABLE $T (a int4, b int4, v text, PRIMARY KEY (a, b))`,
		fmt.Sprintf(`INSERT INTO $T SELECT a, b, 'v' || a || '-' || b FROM generate_series(1, 3) a, generate_series(1, %d) b`, rowsourcetest.ScanB),
		`CREATE TABLE $T_nokey (id int4)`)
	t.Cleanup(func() { e.Exec(t, `DROP TABLE IF EXISTS $T_nokey`) })
	rowsourcetest.TestScan(t, &e.Env, e.Table+"_nokey")
}
